import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js'

/**
 * kill -9 of a server at random moments while catalog registrations and deregistrations of
 * external nodes are in flight. After every restart: each acknowledged registration is there,
 * each acknowledged deregistration stays gone, and no index a client saw goes backwards (an
 * index is never reused after a crash). Writes to one node are sequential, so at most one per
 * node is in flight when the server dies: the node shows its last acknowledged state or the one
 * in flight.
 */

const KILLS = Number(process.env['VIGIL_CATALOG_CRASH_KILLS'] ?? 12)
const WORKERS = 8
const NODES_PER_WORKER = 4

interface Track {
  acked: boolean
  inFlight: boolean | null
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

/** Sends a catalog write; the status, or 0 when the connection died with the server. */
async function write(
  agent: AgentProcess,
  path: string,
  body: unknown,
): Promise<{ status: number; index: number; body: string }> {
  try {
    const res = await fetch(`${agent.url}${path}`, {
      method: 'PUT',
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    })
    return { status: res.status, index: 0, body: await res.text() }
  } catch {
    return { status: 0, index: 0, body: '' }
  }
}

async function nodesIndex(agent: AgentProcess): Promise<{ names: Set<string>; index: number }> {
  const res = await fetch(`${agent.url}/v1/catalog/nodes`, { signal: AbortSignal.timeout(5_000) })
  const body = (await res.json()) as { Node: string }[]
  return { names: new Set(body.map((n) => n.Node)), index: Number(res.headers.get('x-consul-index')) }
}

async function worker(
  agent: AgentProcess,
  nodes: readonly string[],
  tracks: Map<string, Track>,
  rnd: () => number,
  seen: { maxIndex: number; acks: number },
  stop: { now: boolean },
): Promise<void> {
  while (!stop.now) {
    const node = nodes[Math.floor(rnd() * nodes.length)]!
    const track = tracks.get(node)!
    const register = !track.acked || rnd() < 0.3
    track.inFlight = register
    const { status, body } = register
      ? await write(agent, '/v1/catalog/register', {
          Node: node,
          Address: '192.0.2.7',
          Service: { Service: 'crash', ID: `svc-${node}`, Port: 1 + Math.floor(rnd() * 60_000) },
          Check: { Name: `alive-${node}`, ServiceID: `svc-${node}`, Status: 'passing' },
        })
      : await write(agent, '/v1/catalog/deregister', { Node: node })
    if (status === 0) return // the server died; this write's fate is unknown
    assert.equal(status, 200, body)
    track.acked = register
    track.inFlight = null
    seen.acks++
    if (rnd() < 0.2) {
      const { index } = await nodesIndex(agent).catch(() => ({ index: 0 }))
      seen.maxIndex = Math.max(seen.maxIndex, index)
    }
  }
}

test('catalog writes survive kill -9 of a durable server and indexes never go backwards', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-catalog-crash-'))
  t.after(() => rm(dataDir, { recursive: true, force: true }))
  const args = ['-server', '-bootstrap']
  const tracks = new Map<string, Track>()
  const byWorker = Array.from({ length: WORKERS }, (_, w) =>
    Array.from({ length: NODES_PER_WORKER }, (_, i) => `crash-${w}-${i}`),
  )
  for (const n of byWorker.flat()) tracks.set(n, { acked: false, inFlight: null })
  const rnd = random(0x5eed)
  const seen = { maxIndex: 0, acks: 0 }

  for (let round = 0; round < KILLS; round++) {
    const agent = await startAgentProcess({ t, dataDir, args })
    // Everything acknowledged before is there; an in-flight write may or may not have landed.
    const { names, index } = await nodesIndex(agent)
    assert.ok(index >= seen.maxIndex, `round ${round}: index ${index} went below ${seen.maxIndex}`)
    seen.maxIndex = index
    for (const [node, track] of tracks) {
      const present = names.has(node)
      const allowed = track.inFlight === null ? [track.acked] : [track.acked, track.inFlight]
      assert.ok(allowed.includes(present), `round ${round}: ${node} present=${present}, acked=${track.acked}`)
      track.acked = present
      track.inFlight = null
    }
    const stop = { now: false }
    const running = byWorker.map((nodes) => worker(agent, nodes, tracks, rnd, seen, stop))
    await new Promise((resolve) => setTimeout(resolve, 80 + Math.floor(rnd() * 300)))
    await agent.kill()
    stop.now = true
    await Promise.all(running)
  }
  const final = await startAgentProcess({ t, dataDir, args })
  const { names } = await nodesIndex(final)
  assert.ok(
    [...tracks.values()].some((tr) => tr.acked),
    'the test registered something',
  )
  for (const [node, track] of tracks) {
    if (track.inFlight === null) assert.equal(names.has(node), track.acked, node)
  }
  await final.kill()
})
