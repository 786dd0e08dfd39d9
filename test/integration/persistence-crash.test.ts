import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js'

/**
 * kill -9 at random moments while registrations, TTL passes and deregistrations are in flight.
 * After every restart each acknowledged operation is reflected, and nothing deregistered returns.
 * Operations on one service are sequential, so at most one is in flight when the agent dies: the
 * service may show the state after its last acknowledged operation or after the one in flight.
 */

const KILLS = Number(process.env['VIGIL_CRASH_KILLS'] ?? 50)
const WORKERS = 6
const IDS_PER_WORKER = 4

type Known = { registered: boolean; status: 'passing' | 'warning' | 'critical' | 'initial' }

interface Track {
  acked: Known
  inFlight: Known | null
}

function random(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

async function put(url: string, body?: unknown): Promise<number> {
  const res = await fetch(url, {
    method: 'PUT',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(5_000),
  })
  await res.arrayBuffer()
  return res.status
}

async function worker(
  agent: AgentProcess,
  ids: readonly string[],
  tracks: Map<string, Track>,
  rnd: () => number,
  stop: { now: boolean },
): Promise<void> {
  while (!stop.now) {
    const id = ids[Math.floor(rnd() * ids.length)]!
    const track = tracks.get(id)!
    const current = track.acked
    let next: Known
    let call: () => Promise<number>
    if (!current.registered || rnd() < 0.15) {
      if (current.registered && rnd() < 0.5) {
        next = { registered: false, status: 'initial' }
        call = () => put(`${agent.url}/v1/agent/service/deregister/${id}`)
      } else {
        next = { registered: true, status: current.registered ? current.status : 'initial' }
        call = () =>
          put(`${agent.url}/v1/agent/service/register`, { Name: id, Port: 80, Check: { TTL: '1h' } })
      }
    } else {
      const status = (['passing', 'warning', 'critical'] as const)[Math.floor(rnd() * 3)]!
      const verb = status === 'passing' ? 'pass' : status === 'warning' ? 'warn' : 'fail'
      next = { registered: true, status }
      call = () => put(`${agent.url}/v1/agent/check/${verb}/service:${id}?note=${status}`)
    }
    track.inFlight = next
    let code: number
    try {
      code = await call()
    } catch {
      return // the agent died under this request: its outcome is unknown
    }
    assert.equal(code, 200, `${id}: unexpected status ${code}`)
    track.acked = next
    track.inFlight = null
  }
}

function allowed(track: Track): Known[] {
  return track.inFlight === null ? [track.acked] : [track.acked, track.inFlight]
}

test(`persistence: ${KILLS} SIGKILLs under concurrent load lose no acknowledged operation`, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-crash-'))
  t.after(() => rm(dataDir, { recursive: true, force: true }))
  const rnd = random(Number(process.env['VIGIL_CRASH_SEED'] ?? 20261125))
  const tracks = new Map<string, Track>()
  const ids = Array.from({ length: WORKERS * IDS_PER_WORKER }, (_, i) => `svc-${i}`)
  for (const id of ids) tracks.set(id, { acked: { registered: false, status: 'initial' }, inFlight: null })

  let agent = await startAgentProcess({ dataDir, t })
  for (let round = 0; round < KILLS; round++) {
    const stop = { now: false }
    const load = Array.from({ length: WORKERS }, (_, w) =>
      worker(agent, ids.slice(w * IDS_PER_WORKER, (w + 1) * IDS_PER_WORKER), tracks, rnd, stop),
    )
    await new Promise((r) => setTimeout(r, 20 + Math.floor(rnd() * 150)))
    await agent.kill()
    stop.now = true
    await Promise.all(load)

    agent = await startAgentProcess({ dataDir, t })
    const services = (await (await fetch(`${agent.url}/v1/agent/services`)).json()) as Record<string, unknown>
    const checks = (await (await fetch(`${agent.url}/v1/agent/checks`)).json()) as Record<
      string,
      { Status: string }
    >
    for (const id of ids) {
      const track = tracks.get(id)!
      const present = id in services
      const status = checks[`service:${id}`]?.Status
      const options = allowed(track)
      // A restarted TTL check shows its last acknowledged status; one never updated starts critical.
      const ok = options.some(
        (k) =>
          k.registered === present &&
          (!present || status === (k.status === 'initial' ? 'critical' : k.status)),
      )
      assert.ok(
        ok,
        `round ${round}: ${id} is ${present ? `registered (${status ?? 'no check'})` : 'absent'}, allowed ${JSON.stringify(options)}`,
      )
      // Settle the model on what the agent now shows.
      track.acked = {
        registered: present,
        status: present ? ((status ?? 'initial') as Known['status']) : 'initial',
      }
      track.inFlight = null
    }
  }
  await agent.stop()
})
