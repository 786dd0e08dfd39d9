/**
 * What a server's API says about its leader (api/leader.ts, docs/cluster.md "Several servers"),
 * on servers sharing one store in process on a fake clock, one of them cut off from the store
 * through the store port: `X-Consul-KnownLeader` and `X-Consul-LastContact` as Consul sets them,
 * reads that need the leader and writes held for Consul's `rpc_hold_timeout` and then answered
 * 500 `No cluster leader` without reaching the store, `stale` reads answered from the view, and
 * the store's error logged once per loss of contact.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Agent } from '../../src/agent/agent.js'
import { RPC_HOLD_TIMEOUT_MS } from '../../src/api/leader.js'
import { catalogRoutes } from '../../src/api/routes/catalog.js'
import { healthRoutes } from '../../src/api/routes/health.js'
import { kvRoutes } from '../../src/api/routes/kv.js'
import { sessionRoutes } from '../../src/api/routes/session.js'
import { txnRoutes } from '../../src/api/routes/txn.js'
import { buildHttpApi } from '../../src/api/server.js'
import { SERVER_LEASE_TTL_MS } from '../../src/cluster/election.js'
import { systemClock } from '../../src/lib/clock.js'
import { silentLogger, testSettings } from '../support/agent-harness.js'
import { apiSettings, refTimerClock } from '../support/api-harness.js'
import { startServers, type ServerGroup, type ServerLog, type TestServer } from '../support/servers.js'
import { track, waitFor } from '../support/wait.js'

/** The in-process HTTP API of `server`, with its directory of servers. */
async function apiOf(t: TestContext, server: TestServer): Promise<FastifyInstance> {
  const agent = await Agent.start({
    config: testSettings({ dev: false, nodeName: server.name }),
    logger: silentLogger,
    clock: systemClock,
  })
  const app = buildHttpApi({
    agent,
    config: apiSettings(),
    logger: silentLogger,
    clock: refTimerClock,
    catalog: server.catalog,
    kv: server.catalog,
    servers: server.cluster.session,
    routes: [catalogRoutes, healthRoutes, kvRoutes, sessionRoutes, txnRoutes],
  })
  await app.ready()
  t.after(async () => {
    await app.close()
    await agent.shutdown()
  })
  return app
}

/** Advances the fake clock in steps, letting the servers' loops run between them. */
async function advance(g: ServerGroup, ms: number, step = 250): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await g.clock.advance(Math.min(step, ms - t))
    await new Promise((r) => setImmediate(r))
  }
}

function leaderMeta(res: LightMyRequestResponse): [string | undefined, number] {
  return [
    res.headers['x-consul-knownleader'] as string | undefined,
    Number(res.headers['x-consul-lastcontact']),
  ]
}

const put = (url: string, payload = ''): { method: 'PUT'; url: string; payload: string } => ({
  method: 'PUT',
  url,
  payload,
})

test('X-Consul-KnownLeader and LastContact: true and 0 on the leader and on a lone server; on a follower true and the age of its last contact; false once cut off from the store', async (t) => {
  const solo = await startServers(['solo'])
  t.after(() => solo.close())
  const alone = await apiOf(t, solo.servers[0]!)
  await advance(solo, 10_000)
  assert.deepEqual(leaderMeta(await alone.inject('/v1/kv/k')), ['true', 0], 'a lone server is its own leader')

  const g = await startServers(['s1', 's2'])
  t.after(() => g.close())
  const [s1, s2] = g.servers
  assert.ok(s1 !== undefined && s2 !== undefined)
  const a1 = await apiOf(t, s1)
  const a2 = await apiOf(t, s2)
  await waitFor(() => s1.cluster.session.isLeader && s2.cluster.session.leader() === '10.0.0.1:8300')
  const lastContacts = new Set<number>()
  for (let i = 0; i < 12; i++) {
    await advance(g, 500)
    for (const url of ['/v1/kv/k', '/v1/catalog/nodes', '/v1/session/list']) {
      assert.deepEqual(leaderMeta(await a1.inject(url)), ['true', 0], `the leader: ${url}`)
      const [known, lastContact] = leaderMeta(await a2.inject(`${url}?stale`))
      assert.equal(known, 'true', `a follower knows the leader: ${url}`)
      assert.ok(lastContact < (SERVER_LEASE_TTL_MS * 2) / 3, `last contact ${lastContact} ms ago`)
      lastContacts.add(lastContact)
    }
  }
  assert.ok(lastContacts.size > 1, 'a follower’s last contact is the age of its last keep-alive')
  const txn = await a2.inject(put('/v1/txn', JSON.stringify([{ KV: { Verb: 'get-tree', Key: 'k' } }])))
  assert.equal(txn.statusCode, 200)
  assert.equal(leaderMeta(txn)[0], 'true')

  s2.link.cut()
  await advance(g, 4_000)
  const stale = await a2.inject('/v1/kv/k?stale')
  assert.equal(stale.statusCode, 404, 'a stale read answers from the view')
  const [known, lastContact] = leaderMeta(stale)
  assert.equal(known, 'false', 'a server cut off from the store knows no leader')
  assert.ok(lastContact >= 4_000, `its last contact is as old as the cut (${lastContact} ms)`)
  assert.equal(stale.headers['x-consul-effective-consistency'], 'stale')
  assert.equal((await a2.inject('/v1/status/leader')).body, '""', 'nor does its status/leader name one')
  assert.equal((await a1.inject('/v1/status/leader')).body, '"10.0.0.1:8300"')
})

test('cut off from the store: default and consistent reads and writes wait for the hold timeout, then 500 No cluster leader without reaching the store; stale reads answer; healed, everything answers again', async (t) => {
  const log: ServerLog = []
  const g = await startServers(['s1', 's2'], { log })
  t.after(() => g.close())
  const [s1, s2] = g.servers
  assert.ok(s1 !== undefined && s2 !== undefined)
  const a2 = await apiOf(t, s2)
  await waitFor(() => s2.cluster.session.leader() === '10.0.0.1:8300')
  assert.equal((await a2.inject(put('/v1/kv/k', 'v1'))).body, 'true')

  s2.link.cut({ watchesLater: true })
  // A write sent before the server noticed: the store does not answer it. Logged once, not per request.
  for (const url of ['/v1/kv/k', '/v1/kv/j']) {
    const res = await a2.inject(put(url, 'v2'))
    assert.equal(res.statusCode, 500)
    assert.equal(res.body, 'No cluster leader')
    assert.match(String(res.headers['content-type']), /^text\/plain/)
  }
  assert.equal(log.filter((l) => l.startsWith('s2: Lost contact with the store')).length, 1)

  s2.link.cut() // its watch breaks too
  await advance(g, 4_000) // and the server knows it has lost contact
  const held = [
    { method: 'GET' as const, url: '/v1/kv/k' },
    { method: 'GET' as const, url: '/v1/kv/k?consistent' },
    { method: 'GET' as const, url: '/v1/kv/k?max_stale=1s' },
    { method: 'GET' as const, url: '/v1/health/service/consul' },
    { method: 'GET' as const, url: '/v1/session/list' },
    put('/v1/kv/k', 'v3'),
    put('/v1/catalog/register', JSON.stringify({ Node: 'n9', Address: '10.9.9.9' })),
    put('/v1/session/create', '{}'),
    put('/v1/txn', JSON.stringify([{ KV: { Verb: 'set', Key: 'k', Value: 'dDQ=' } }])),
  ].map((r) => ({ r, res: track(a2.inject(r)) }))
  await advance(g, RPC_HOLD_TIMEOUT_MS - 500)
  for (const h of held) assert.equal(h.res.settled(), false, `${h.r.method} ${h.r.url} is held`)
  const stale = await a2.inject('/v1/kv/k?stale')
  assert.equal(stale.statusCode, 200, 'a stale read answers meanwhile')
  assert.equal(stale.headers['x-consul-knownleader'], 'false')
  assert.equal(
    Buffer.from((JSON.parse(stale.body) as { Value: string }[])[0]?.Value ?? '', 'base64').toString(),
    'v1',
  )
  await advance(g, 1_000)
  for (const h of held) {
    const res = await h.res.promise
    assert.equal(res.statusCode, 500, `${h.r.method} ${h.r.url}`)
    assert.equal(res.body, 'No cluster leader', `${h.r.method} ${h.r.url}`)
  }
  assert.equal(log.filter((l) => l.startsWith('s2: Lost contact with the store')).length, 1)
  assert.equal(s1.catalog.state.node('n9'), undefined, 'a refused write reached nothing')

  // Healed while a write is held: it goes through once the server's contact is confirmed.
  const late = track(a2.inject(put('/v1/kv/k', 'v4')))
  await advance(g, 500)
  assert.equal(late.settled(), false)
  s2.link.heal()
  await advance(g, 2_500)
  const res = await late.promise
  assert.equal(res.statusCode, 200, res.body)
  assert.equal(res.body, 'true')
  const read = await a2.inject('/v1/kv/k?consistent')
  assert.equal(read.statusCode, 200)
  assert.deepEqual(leaderMeta(read)[0], 'true')
  assert.ok(log.includes('s2: Contact with the store restored'))
  // A later loss of contact is logged again.
  s2.link.cut()
  await advance(g, 4_000)
  assert.equal(log.filter((l) => l.startsWith('s2: Lost contact with the store')).length, 2)
})
