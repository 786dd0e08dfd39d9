/**
 * High availability with real processes (docs/cluster.md "Several servers"): three etcd members
 * and three vigil servers on them (127.0.0.41–43, Consul's default ports), a client agent on
 * 127.0.0.44 joined to them, and the `consul` npm client on top. Under a steady load of catalog
 * registrations, KV writes, lock contention and blocking queries spread over the servers, the
 * test SIGKILLs the leading vigil server, then an etcd follower, then the etcd leader. After each
 * fault: service within seconds, exactly one leader, no acknowledged write lost, no index going
 * backwards for any client, never two lock holders, every blocking query answered.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import Consul from 'consul'
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js'
import { startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster.js'

const HOSTS = ['127.0.0.41', '127.0.0.42', '127.0.0.43']
const CLIENT_HOST = '127.0.0.44'
/** Service after a fault: a write through a live server answered within this. */
const SERVICE_MS = 15_000

type Json = Record<string, unknown>

interface Server {
  readonly name: string
  readonly host: string
  readonly dir: string
  agent: AgentProcess | undefined
}

async function request(
  url: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<{ status: number; body: string; index: number }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 5_000) })
  const body = await res.text()
  return { status: res.status, body, index: Number(res.headers.get('x-consul-index') ?? 0) }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

test(
  'HA: SIGKILL a vigil server, an etcd member, the etcd leader under load — no acknowledged write lost, indexes never go back, one lock holder',
  { timeout: 240_000 },
  async (t) => {
    const etcd: EtcdCluster = await startEtcdCluster()
    t.after(() => etcd.stop())
    const endpoints = etcd.endpoints.join(',')
    const servers: Server[] = HOSTS.map((host, i) => ({
      name: `server${i + 1}`,
      host,
      dir: mkdtempSync(join(tmpdir(), `vigil-ha-s${i + 1}-`)),
      agent: undefined,
    }))
    const clientDir = mkdtempSync(join(tmpdir(), 'vigil-ha-c-'))
    t.after(() => {
      for (const d of [...servers.map((s) => s.dir), clientDir]) rmSync(d, { recursive: true, force: true })
    })
    const startServer = async (s: Server): Promise<void> => {
      s.agent = await startAgentProcess({
        t,
        host: s.host,
        dataDir: s.dir,
        args: [
          '-server',
          '-node',
          s.name,
          '-store',
          'etcd',
          '-etcd-endpoints',
          endpoints,
          '-etcd-prefix',
          '/vigil-ha/dc1',
          '-log-level',
          'info',
        ],
      })
    }
    for (const s of servers) await startServer(s)
    const client = await startAgentProcess({
      t,
      host: CLIENT_HOST,
      dataDir: clientDir,
      args: ['-node', 'client1', ...HOSTS.flatMap((h) => ['-retry-join', h])],
    })
    const live = (): Server[] => servers.filter((s) => s.agent !== undefined)
    const url = (s: Server): string => `http://${s.host}:8500`

    /** The leader every live server reports, once they agree and it is one of them. */
    const agreedLeader = async (withinMs: number): Promise<string> => {
      const deadline = Date.now() + withinMs
      for (;;) {
        const answers = await Promise.all(
          live().map(async (s) => (await request(`${url(s)}/v1/status/leader`)).body),
        )
        const first = answers[0]
        const alive = live().map((s) => JSON.stringify(`${s.host}:8300`))
        if (first !== undefined && alive.includes(first) && answers.every((a) => a === first))
          return JSON.parse(first) as string
        if (Date.now() > deadline) throw new Error(`no agreed leader: ${answers.join(' ')}`)
        await sleep(200)
      }
    }
    const leader0 = await agreedLeader(15_000)
    const peers = JSON.parse((await request(`${url(servers[0]!)}/v1/status/peers`)).body) as string[]
    assert.deepEqual(peers, HOSTS.map((h) => `${h}:8300`).sort())
    // The client agent is a member on every server, with serfHealth passing.
    const deadline = Date.now() + 15_000
    for (;;) {
      const members = JSON.parse((await request(`${url(servers[1]!)}/v1/agent/members`)).body) as Json[]
      const health = JSON.parse((await request(`${url(servers[2]!)}/v1/health/node/client1`)).body) as Json[]
      if (
        members.length === 4 &&
        health.some((c) => c['CheckID'] === 'serfHealth' && c['Status'] === 'passing')
      )
        break
      assert.ok(Date.now() < deadline, `members: ${members.length}`)
      await sleep(200)
    }

    // ---- load ------------------------------------------------------------------------------
    let stop = false
    const ackedNodes = new Set<string>()
    const ackedKv = new Map<string, string>()
    const errors: string[] = []
    let rr = 0
    /** Sends through the next live server, trying each once; undefined when none answered. */
    const through = async (
      path: string,
      init: RequestInit,
    ): Promise<{ status: number; body: string; index: number } | undefined> => {
      const ss = live()
      for (let i = 0; i < ss.length; i++) {
        const s = ss[(rr++ + i) % ss.length]!
        try {
          return await request(`${url(s)}${path}`, init)
        } catch {
          // next server
        }
      }
      return undefined
    }
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const node = `load-${w}-${i}`
        const res = await through('/v1/catalog/register', {
          method: 'PUT',
          body: JSON.stringify({
            Node: node,
            Address: '10.1.0.1',
            Service: { Service: 'load', Port: 80 + w },
          }),
        })
        if (res?.status === 200) ackedNodes.add(node)
        else if (res !== undefined && res.status !== 500) errors.push(`register ${res.status} ${res.body}`)
        const key = `ha/${w}`
        const value = `${i}`
        const kv = await through(`/v1/kv/${key}`, { method: 'PUT', body: value })
        if (kv?.status === 200 && kv.body === 'true') ackedKv.set(key, value)
        await sleep(20)
      }
    }
    /** Reads through each server in turn: the index a client sees never goes back. */
    const indexViolations: string[] = []
    const reader = async (): Promise<void> => {
      let last = 0
      while (!stop) {
        const res = await through('/v1/catalog/nodes', { method: 'GET' })
        if (res?.status === 200) {
          if (res.index < last) indexViolations.push(`${res.index} after ${last}`)
          last = Math.max(last, res.index)
        }
        await sleep(50)
      }
    }
    /** Blocking queries on each live server: each answers within wait + slack, its index never back. */
    const blockingProblems: string[] = []
    let blockingAnswers = 0
    const blocker = async (host: string): Promise<void> => {
      let index = 1
      while (!stop) {
        const started = Date.now()
        try {
          const res = await request(`http://${host}:8500/v1/health/service/load?index=${index}&wait=3s`, {
            timeoutMs: 10_000,
          })
          if (res.status === 200) {
            blockingAnswers++
            if (res.index < index) blockingProblems.push(`${host}: index ${res.index} after ${index}`)
            index = Math.max(index, res.index)
          }
        } catch (err) {
          // A killed server refuses; anything else (a hang past 10 s) is a problem.
          const message = err instanceof Error ? err.message : String(err)
          if (Date.now() - started >= 9_000) blockingProblems.push(`${host}: hung (${message})`)
          await sleep(500)
        }
      }
    }
    /** Lockers through the consul npm client on different servers: their holds never overlap. */
    const holds: { who: number; from: number; to: number }[] = []
    const locker = async (who: number, host: string): Promise<void> => {
      const consul = new Consul({ host, port: 8500 })
      while (!stop) {
        try {
          const session = await consul.session.create({ ttl: '10s', lockdelay: '0s' })
          const got = await consul.kv.set({ key: 'ha/lock', value: String(who), acquire: session.ID })
          if (got) {
            const from = Date.now()
            await sleep(100)
            const to = Date.now()
            await consul.kv.set({ key: 'ha/lock', value: '', release: session.ID })
            holds.push({ who, from, to })
          }
          await consul.session.destroy(session.ID)
        } catch {
          await sleep(300)
        }
        await sleep(30)
      }
    }
    const load = [
      writer(1),
      writer(2),
      reader(),
      ...HOSTS.map((h) => blocker(h)),
      locker(1, HOSTS[0]!),
      locker(2, HOSTS[1]!),
      locker(3, HOSTS[2]!),
    ]

    /** A registration through any live server succeeds; returns how long it took. */
    const serviceBack = async (what: string): Promise<number> => {
      const started = Date.now()
      for (;;) {
        const res = await through('/v1/catalog/register', {
          method: 'PUT',
          body: JSON.stringify({ Node: `probe-${what}`, Address: '10.1.0.2' }),
        }).catch(() => undefined)
        if (res?.status === 200) return Date.now() - started
        assert.ok(Date.now() - started < SERVICE_MS, `no service ${SERVICE_MS} ms after ${what}`)
        await sleep(100)
      }
    }

    try {
      await sleep(3_000)
      // 1. SIGKILL the leading vigil server.
      const victim = servers.find((s) => `${s.host}:8300` === leader0)
      assert.ok(victim?.agent !== undefined, `leader ${leader0} is one of ours`)
      await victim.agent.kill()
      victim.agent = undefined
      const back1 = await serviceBack('server-kill')
      const leader1 = await agreedLeader(15_000)
      assert.notEqual(leader1, leader0, 'another server leads')
      t.diagnostic(`vigil leader killed: service back in ${back1} ms; new leader ${leader1}`)
      await sleep(3_000)

      // 2. SIGKILL an etcd follower.
      const etcdLeader = await etcd.leader()
      const follower = etcd.members.find((m) => m !== etcdLeader && m.running)
      assert.ok(follower !== undefined)
      await follower.kill()
      t.diagnostic(`etcd follower killed: service back in ${await serviceBack('etcd-follower')} ms`)
      await sleep(3_000)
      await follower.restart()
      await sleep(2_000)

      // 3. SIGKILL the etcd leader.
      const etcdLeader2 = await etcd.leader()
      await etcdLeader2.kill()
      t.diagnostic(`etcd leader killed: service back in ${await serviceBack('etcd-leader')} ms`)
      await sleep(4_000)
      const leader2 = await agreedLeader(15_000)
      t.diagnostic(`vigil leader after the etcd faults: ${leader2}`)
    } finally {
      stop = true
      await Promise.all(load)
    }

    // ---- verdicts ----------------------------------------------------------------------------
    assert.deepEqual(errors, [], 'no request refused for a reason other than a fault')
    const reader0 = live()[0]!
    const nodes = JSON.parse((await request(`${url(reader0)}/v1/catalog/nodes?consistent`)).body) as Json[]
    const present = new Set(nodes.map((n) => n['Node'] as string))
    const lost = [...ackedNodes].filter((n) => !present.has(n))
    assert.deepEqual(lost, [], `every acknowledged registration is there (${ackedNodes.size} acknowledged)`)
    for (const [key, value] of ackedKv) {
      const r = await request(`${url(reader0)}/v1/kv/${key}?raw&consistent`)
      assert.equal(r.status, 200, `${key}: ${r.body}`)
      assert.ok(
        Number(r.body) >= Number(value),
        `${key}: ${r.body} is at least the last acknowledged ${value}`,
      )
    }
    assert.deepEqual(indexViolations, [], 'no index went backwards for the reading client')
    assert.deepEqual(blockingProblems, [], 'every blocking query answered, never going back')
    assert.ok(blockingAnswers > 10, `blocking queries answered (${blockingAnswers})`)
    const sorted = [...holds].sort((a, b) => a.from - b.from)
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!
      const cur = sorted[i]!
      assert.ok(cur.from >= prev.to, `holds of ${prev.who} and ${cur.who} overlap`)
    }
    assert.ok(holds.length > 5, `the lock changed hands (${holds.length} holds)`)
    // The client agent fails over: still a passing member after its server may have died.
    const health = JSON.parse((await request(`${url(reader0)}/v1/health/node/client1`)).body) as Json[]
    assert.ok(health.some((c) => c['CheckID'] === 'serfHealth' && c['Status'] === 'passing'))
    t.diagnostic(
      `${ackedNodes.size} registrations and ${ackedKv.size} KV keys acknowledged; ${holds.length} lock holds; ${blockingAnswers} blocking answers`,
    )
    // The client agent's member list, from its heartbeats: every server and itself.
    const seen = JSON.parse((await request(`${client.url}/v1/agent/members`)).body) as Json[]
    assert.deepEqual(seen.map((m) => m['Name']).sort(), ['client1', 'server1', 'server2', 'server3'])
  },
)
