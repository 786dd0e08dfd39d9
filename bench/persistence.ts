/**
 * Persistence benchmarks: how fast an agent with a large data dir opens its API after a
 * restart, and what durable registrations cost against in-memory ones.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { AgentStore } from '../src/agent/persistence/agent-store.js'
import { normalizeServiceDefinition } from '../src/structs/normalize.js'
import { silentLogger } from '../test/support/agent-harness.js'
import { inParallel, median, put, startVigil } from './lib.js'

/**
 * Fills a data dir with `services` services of two TTL checks each through the real AgentStore
 * (what the agent itself writes), then measures from spawning `vigil agent -data-dir` to its
 * HTTP API answering. Returns the median of `rounds` restarts.
 */
export async function restartWithDataDir(
  services: number,
  rounds: number,
): Promise<{ readyMs: number; checks: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-restart-'))
  try {
    const store = await AgentStore.open(dir, { logger: silentLogger })
    const ctx = {
      nodeName: 'bench',
      origin: 'api' as const,
      enableScriptChecks: false,
      enableLocalScriptChecks: false,
    }
    const ids = Array.from({ length: services }, (_, i) => i)
    await inParallel(ids, 32, async (i) => {
      const reg = normalizeServiceDefinition(
        { Name: `svc-${i}`, Port: 1000 + (i % 50_000), Checks: [{ TTL: '1h' }, { TTL: '2h' }] },
        ctx,
      )
      await store.apply([
        ...reg.checks.map((entry) => ({ op: 'saveCheck' as const, entry })),
        { op: 'saveService', entry: { service: reg.service, token: '', source: 'remote' } },
      ])
    })
    await store.close()
    const times: number[] = []
    let checks = 0
    for (let r = 0; r < rounds; r++) {
      const vigil = await startVigil([], { dataDir: dir })
      times.push(vigil.readyMs)
      const res = await fetch(`${vigil.url}/v1/agent/checks`)
      checks = Object.keys((await res.json()) as object).length
      await vigil.stop()
    }
    return { readyMs: median(times), checks }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Service registrations per second (one TTL check each) over HTTP, 16 in flight. */
/**
 * Where the agent keeps its registrations: `memory` is `-dev` (no data dir; a dev agent is also a
 * server, so each registration is synced to its catalog before it answers), `disk` a client
 * agent's data dir on the benchmark's disk, `tmpfs` the same agent with its data dir in
 * /dev/shm, where an fsync costs nothing: disk against tmpfs is the price of durability alone.
 */
export type RegistrationTarget = 'memory' | 'disk' | 'tmpfs'

export async function registrationRate(count: number, target: RegistrationTarget): Promise<number> {
  const dir =
    target === 'memory'
      ? undefined
      : await mkdtemp(join(target === 'tmpfs' ? '/dev/shm' : tmpdir(), 'vigil-bench-reg-'))
  const vigil = await startVigil([], dir !== undefined ? { dataDir: dir } : {})
  try {
    const ids = Array.from({ length: count }, (_, i) => i)
    const started = performance.now()
    await inParallel(ids, 16, (i) =>
      put(`${vigil.url}/v1/agent/service/register`, { Name: `svc-${i}`, Port: 80, Check: { TTL: '1h' } }),
    )
    return count / ((performance.now() - started) / 1000)
  } finally {
    await vigil.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
}
