/**
 * Alias propagation latency: from an aliased check's status change to the alias check's change.
 * In process (the real Agent, LocalState and AliasRunner on the system clock) and over HTTP
 * (a TTL pass to the alias reading passing, against `vigil agent -dev`).
 */
import { performance } from 'node:perf_hooks'
import { Agent } from '../src/agent/agent.js'
import { normalizeServiceDefinition } from '../src/structs/normalize.js'
import { silentLogger, testSettings } from '../test/support/agent-harness.js'
import { put, startVigil } from './lib.js'

const WARMUP_FLIPS = 20

export interface Percentiles {
  readonly p50Ms: number
  readonly p99Ms: number
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  return { p50Ms: at(0.5), p99Ms: at(0.99) }
}

/** In process: `aliases` alias checks on one target; latency until the last of them changed. */
export async function aliasLatencyInProcess(aliases: number, flips: number): Promise<Percentiles> {
  const agent = await Agent.start({
    logger: silentLogger,
    config: testSettings({ nodeName: 'bench', nodeId: '' }),
  })
  try {
    const api = agent.normalizeContext('api')
    await agent.registerService(normalizeServiceDefinition({ Name: 'web', Check: { TTL: '1h' } }, api), {
      replaceExistingChecks: false,
    })
    for (let i = 0; i < aliases; i++) {
      await agent.registerService(
        normalizeServiceDefinition(
          { Name: `proxy-${i}`, Check: { Name: 'alias', AliasService: 'web' } },
          api,
        ),
        { replaceExistingChecks: false },
      )
    }
    await new Promise((r) => setTimeout(r, 50))
    const samples: number[] = []
    for (let f = 0; f < flips + WARMUP_FLIPS; f++) {
      const status = f % 2 === 0 ? 'passing' : 'critical'
      let pending = aliases
      let done: () => void = () => {}
      const finished = new Promise<void>((r) => (done = r))
      const off = agent.state.subscribe((c) => {
        if (c.kind === 'check' && c.serviceId.startsWith('proxy-') && c.statusChanged) {
          if (agent.state.check(c.checkId)?.check.status === status && --pending === 0) done()
        }
      })
      const start = performance.now()
      await agent.updateTtl('service:web', status, '')
      await finished
      samples.push(performance.now() - start)
      off()
    }
    // The first flips run before the JIT has compiled the path; they are warm-up, not measured.
    return percentiles(samples.slice(WARMUP_FLIPS))
  } finally {
    await agent.shutdown()
  }
}

/** Over HTTP: PUT check/pass (or fail) on the target, then poll until the alias shows it. */
export async function aliasLatencyHttp(flips: number): Promise<Percentiles> {
  const vigil = await startVigil()
  try {
    await put(`${vigil.url}/v1/agent/service/register`, { Name: 'web', Check: { TTL: '1h' } })
    await put(`${vigil.url}/v1/agent/service/register`, {
      Name: 'proxy',
      Check: { Name: 'alias', AliasService: 'web' },
    })
    const samples: number[] = []
    const url = `${vigil.url}/v1/agent/checks?filter=${encodeURIComponent('CheckID == "service:proxy"')}`
    for (let f = 0; f < flips; f++) {
      const pass = f % 2 === 0
      const start = performance.now()
      await put(`${vigil.url}/v1/agent/check/${pass ? 'pass' : 'fail'}/service:web`)
      for (;;) {
        const checks = (await (await fetch(url)).json()) as Record<string, { Status: string }>
        if (checks['service:proxy']?.Status === (pass ? 'passing' : 'critical')) break
      }
      samples.push(performance.now() - start)
    }
    return percentiles(samples)
  } finally {
    await vigil.stop()
  }
}
