/**
 * The seed's datacenter restart with real processes (the clusters issue's acceptance test): one
 * server and two client agents with data dirs, each on its own loopback address (127.0.0.11–13,
 * apart from cluster.test.ts's 127.0.0.1–3 so the two files can run side by side) with Consul's
 * default ports; on each client an application (a TTL check the test flips) and its sidecar (whose
 * alias check mirrors the application), and on node2 a watcher whose alias check follows node3's
 * application across nodes. Each round: SIGKILL all three, restart them in random order while the
 * applications re-register and their health flips; then the catalog must converge to each
 * agent's local state and every alias to its target within a few seconds — every round.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js'

const ROUNDS = Number(process.env['VIGIL_RESTART_ROUNDS'] ?? 20)
/** "Within a few seconds" of the last restart and flip. */
const CONVERGE_MS = 10_000
const SEED = Number(process.env['VIGIL_RESTART_SEED'] ?? Date.now() % 1_000_000)

type Status = 'passing' | 'critical' | 'warning'
type Json = Record<string, unknown>

/** A small seeded generator (mulberry32), so a failing order can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Node {
  readonly name: string
  readonly host: string
  readonly dir: string
  readonly server: boolean
  agent: AgentProcess | undefined
  /** The application's status as last set (clients). */
  app: Status
}

async function put(agent: AgentProcess, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${agent.url}${path}`, {
    method: 'PUT',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  assert.equal(res.status, 200, `${path}: ${await res.text()}`)
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
  assert.equal(res.status, 200, `${url}: ${res.status}`)
  return await res.json()
}

const appId = (n: Node): string => `web-${n.name}`
const sidecarAlias = (n: Node): string => `service:web-${n.name}-sidecar-proxy:2`

/** The application registers itself and its sidecar (and, on node2, the watcher of node3's app). */
async function registerApps(n: Node, others: readonly Node[]): Promise<void> {
  const agent = n.agent
  if (agent === undefined) return
  await put(agent, '/v1/agent/service/register', {
    ID: appId(n),
    Name: 'web',
    Port: 8080,
    Check: { CheckID: `app-${n.name}`, Name: 'app', TTL: '30m' },
    Connect: { SidecarService: {} },
  })
  const target = others.find((o) => o.name === 'node3')
  if (n.name === 'node2' && target !== undefined) {
    await put(agent, '/v1/agent/service/register', {
      ID: 'watcher',
      Name: 'watcher',
      Check: { CheckID: 'watch-node3', Name: 'node3 web', AliasNode: 'node3', AliasService: appId(target) },
    })
  }
}

async function flip(n: Node, status: Status): Promise<void> {
  if (n.agent === undefined) return
  const verb = status === 'passing' ? 'pass' : status === 'warning' ? 'warn' : 'fail'
  await put(n.agent, `/v1/agent/check/${verb}/app-${n.name}`)
  n.app = status
}

/** What does not hold yet; [] once the cluster converged. */
async function divergence(server: Node, clients: readonly Node[]): Promise<string[]> {
  const problems: string[] = []
  if (server.agent === undefined) return ['server down']
  for (const n of clients) {
    if (n.agent === undefined) {
      problems.push(`${n.name} down`)
      continue
    }
    const local = (await getJson(`${n.agent.url}/v1/agent/checks`)) as Record<string, Json>
    const localServices = Object.keys((await getJson(`${n.agent.url}/v1/agent/services`)) as Json).sort()
    const remote = (await getJson(`${server.agent.url}/v1/health/node/${n.name}`)) as Json[]
    const node = (await getJson(`${server.agent.url}/v1/catalog/node/${n.name}`)) as Json | null
    const remoteServices = Object.keys((node?.['Services'] as Json | undefined) ?? {}).sort()
    const want = Object.fromEntries(Object.entries(local).map(([id, c]) => [id, c['Status']]))
    const have = Object.fromEntries(
      remote.filter((c) => c['CheckID'] !== 'serfHealth').map((c) => [String(c['CheckID']), c['Status']]),
    )
    if (JSON.stringify(sorted(want)) !== JSON.stringify(sorted(have)))
      problems.push(
        `${n.name}: catalog checks ${JSON.stringify(sorted(have))} ≠ local ${JSON.stringify(sorted(want))}`,
      )
    if (JSON.stringify(localServices) !== JSON.stringify(remoteServices))
      problems.push(
        `${n.name}: catalog services ${remoteServices.join(',')} ≠ local ${localServices.join(',')}`,
      )
    const serf = remote.find((c) => c['CheckID'] === 'serfHealth')?.['Status']
    if (serf !== 'passing') problems.push(`${n.name}: serfHealth ${String(serf)}`)
    if (local[`app-${n.name}`]?.['Status'] !== n.app)
      problems.push(`${n.name}: app ${String(local[`app-${n.name}`]?.['Status'])} ≠ set ${n.app}`)
    const alias = local[sidecarAlias(n)]?.['Status']
    if (alias !== n.app) problems.push(`${n.name}: sidecar alias ${String(alias)} ≠ app ${n.app}`)
    if (n.name === 'node2') {
      const target = clients.find((c) => c.name === 'node3')
      const watch = local['watch-node3']?.['Status']
      if (target !== undefined && watch !== target.app)
        problems.push(`node2: remote alias ${String(watch)} ≠ node3's app ${target.app}`)
    }
  }
  return problems
}

function sorted(o: Record<string, unknown>): [string, unknown][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

test(`datacenter restart: ${ROUNDS} rounds of SIGKILL and restart in random order converge every time`, async (t) => {
  const random = seeded(SEED)
  t.diagnostic(`seed ${SEED} (VIGIL_RESTART_SEED replays it)`)
  const root = mkdtempSync(join(tmpdir(), 'vigil-restart-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  const node = (name: string, host: string, server: boolean): Node => ({
    name,
    host,
    dir: join(root, name),
    server,
    agent: undefined,
    app: 'critical',
  })
  const server = node('node1', '127.0.0.11', true)
  const clients = [node('node2', '127.0.0.12', false), node('node3', '127.0.0.13', false)]
  const all = [server, ...clients]
  const common = ['-datacenter', 'dc1', '-log-level', 'warn', '-hcl', 'member_liveness_timeout = "3s"']
  const start = async (n: Node): Promise<void> => {
    n.agent = await startAgentProcess({
      t,
      host: n.host,
      dataDir: n.dir,
      args: [
        '-node',
        n.name,
        ...common,
        ...(n.server ? ['-server', '-bootstrap'] : ['-retry-join', '127.0.0.11', '-retry-interval', '200ms']),
      ],
    })
  }
  t.after(async () => {
    for (const n of all) await n.agent?.kill()
  })
  for (const n of all) await start(n)

  const convergence: number[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    await Promise.all(all.map(async (n) => n.agent?.kill()))
    for (const n of all) n.agent = undefined
    const order = [...all].sort(() => random() - 0.5)
    for (const n of order) {
      await start(n)
      if (!n.server) {
        await registerApps(n, clients)
        await flip(n, random() < 0.5 ? 'passing' : 'critical')
      }
      // Flips on the clients already up, while the others are still restarting.
      for (const c of clients)
        if (c.agent !== undefined && random() < 0.5) await flip(c, random() < 0.5 ? 'passing' : 'critical')
    }
    const began = Date.now()
    let problems: string[]
    for (;;) {
      problems = await divergence(server, clients).catch((err: unknown) => [String(err)])
      if (problems.length === 0 || Date.now() - began > CONVERGE_MS) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.deepEqual(
      problems,
      [],
      `round ${round} (order ${order.map((n) => n.name).join(' ')}, seed ${SEED})`,
    )
    convergence.push(Date.now() - began)
  }
  convergence.sort((a, b) => a - b)
  t.diagnostic(
    `converged in ${ROUNDS} rounds: median ${convergence[Math.floor(ROUNDS / 2)]} ms, max ${convergence.at(-1)} ms`,
  )
})
