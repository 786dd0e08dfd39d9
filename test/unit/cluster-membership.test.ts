import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClusterClient, heartbeatDelayMs } from '../../src/cluster/client.js'
import { MemberTable, type MemberChange } from '../../src/cluster/member-table.js'
import type { ClusterResponse, ClusterTransport, Endpoint } from '../../src/cluster/transport.js'
import { parseJoinAddress } from '../../src/cluster/transport.js'
import {
  decodeHeartbeat,
  decodeHeartbeatReply,
  decodeRegister,
  type HeartbeatReply,
} from '../../src/cluster/wire.js'
import { nodeChecksQuery, nodeServicesQuery } from '../../src/catalog/queries.js'
import { JoinError, NoServersError, UnknownMemberError } from '../../src/lib/errors.js'
import { startServers } from '../support/servers.js'
import { member, nodeInfo } from '../support/cluster.js'
import { FakeClock } from '../support/fake-clock.js'
import { waitFor } from '../support/wait.js'

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined }

function table(clock: FakeClock, changes: MemberChange[] = []): MemberTable {
  return new MemberTable({
    clock,
    livenessTimeoutMs: 10_000,
    reconnectTimeoutMs: 72 * 3_600_000,
    leftRetentionMs: 24 * 3_600_000,
    onChange: (c) => changes.push(c),
  })
}

const status = (t: MemberTable, name: string): string | undefined => t.get(name)?.member.status

test('member table: alive until the liveness timeout passes without a heartbeat, then failed; a heartbeat revives it', async () => {
  const clock = new FakeClock()
  const changes: MemberChange[] = []
  const t = table(clock, changes)
  assert.equal(t.heartbeat(member('c1'), nodeInfo('c1')), null)
  await clock.advance(9_000)
  t.heartbeat(member('c1'), nodeInfo('c1'))
  await clock.advance(9_999)
  assert.equal(status(t, 'c1'), 'alive', 'each heartbeat renews the deadline')
  await clock.advance(1)
  assert.equal(status(t, 'c1'), 'failed')
  assert.equal(t.heartbeat(member('c1'), nodeInfo('c1')), 'failed')
  assert.equal(status(t, 'c1'), 'alive')
  assert.deepEqual(
    changes.map((c) => [c.name, c.previous, c.status]),
    [
      ['c1', null, 'alive'],
      ['c1', 'alive', 'failed'],
      ['c1', 'failed', 'alive'],
    ],
  )
  t.close()
  assert.equal(clock.pendingTimers(), 0)
})

test('member table: a failed member is reaped after reconnect_timeout, a left one after the retention', async () => {
  const clock = new FakeClock()
  const changes: MemberChange[] = []
  const t = table(clock, changes)
  t.heartbeat(member('dead'), nodeInfo('dead'))
  t.heartbeat(member('gone'), nodeInfo('gone'))
  assert.equal(t.leave('gone'), true)
  assert.equal(t.leave('nobody'), false)
  assert.equal(status(t, 'gone'), 'left', 'a graceful leave is immediate')
  await clock.advance(10_000)
  assert.equal(status(t, 'dead'), 'failed')
  await clock.advance(24 * 3_600_000)
  assert.equal(t.get('gone'), undefined, 'left members go after the retention')
  assert.equal(status(t, 'dead'), 'failed')
  await clock.advance(48 * 3_600_000)
  assert.equal(t.get('dead'), undefined, 'failed members are reaped after reconnect_timeout')
  assert.deepEqual(
    changes.filter((c) => c.status === null).map((c) => [c.name, c.previous]),
    [
      ['gone', 'left'],
      ['dead', 'failed'],
    ],
  )
  t.close()
})

test('member table: force-leave makes a member left, prune drops it, an unknown name is an error', () => {
  const clock = new FakeClock()
  const t = table(clock)
  t.heartbeat(member('a'), nodeInfo('a'))
  t.heartbeat(member('b'), nodeInfo('b'))
  t.forceLeave('a', false)
  assert.equal(status(t, 'a'), 'left')
  t.forceLeave('B', true)
  assert.equal(t.get('b'), undefined)
  assert.throws(
    () => t.forceLeave('zz', false),
    (err) => {
      assert.ok(err instanceof UnknownMemberError)
      assert.equal(err.message, "agent: No node found with name 'zz'")
      return true
    },
  )
  t.close()
})

test('membership keeps each member serfHealth in the catalog: passing, critical when failed, node gone when left', async (t) => {
  const group = await startServers(['server'])
  t.after(() => group.close())
  const { clock } = group
  const [server] = group.servers
  assert.ok(server !== undefined)
  const { catalog } = server
  const m = server.cluster.membership
  const serf = (): string | undefined =>
    catalog.read(nodeChecksQuery('c1')).value.find((c) => c.check.checkId === 'serfHealth')?.check.status
  const beat = (knownEpoch: string, knownVersion: number): HeartbeatReply =>
    decodeHeartbeatReply(
      JSON.parse(
        m.heartbeatJson({
          member: member('c1'),
          node: nodeInfo('c1'),
          knownEpoch,
          knownVersion,
          eventSeq: -1,
        }),
      ),
    )
  beat('', -1)
  await waitFor(() => serf() === 'passing', { what: 'serfHealth passing' })
  const reply = beat('', -1)
  assert.deepEqual(
    reply.members?.map((x) => [x.name, x.status]),
    [
      ['server', 'alive'],
      ['c1', 'alive'],
    ],
  )
  const again = beat('server-epoch', reply.version)
  assert.equal(again.members, null, 'an unchanged list is not sent again')
  assert.equal(again.version, reply.version)
  for (let i = 0; i < 11 && serf() !== 'critical'; i++) await clock.advance(1_000)
  await waitFor(() => serf() === 'critical', { what: 'serfHealth critical' })
  assert.equal(catalog.read(nodeChecksQuery('c1')).value[0]?.check.output, 'Agent not live or unreachable')
  const failed = beat('server-epoch', reply.version)
  assert.ok(failed.version > reply.version, 'failing moved the version')
  assert.deepEqual(
    failed.members?.map((x) => [x.name, x.status]),
    [
      ['server', 'alive'],
      ['c1', 'failed'],
    ],
  )
  await waitFor(() => serf() === 'passing', { what: 'serfHealth passing again' })
  assert.equal(await m.leave('c1'), true)
  await waitFor(() => catalog.read(nodeServicesQuery('c1')).value === null, { what: 'node deregistered' })
  assert.equal(await m.leave('nobody'), false)
})

test('heartbeat delay: 1–2 s at the default timeout, backing off up to half the timeout (≤ 5 s) on failures', () => {
  assert.equal(heartbeatDelayMs(10_000, 0, 0), 1_000)
  assert.equal(heartbeatDelayMs(10_000, 0, 0.999), 1_999)
  assert.equal(heartbeatDelayMs(2_000, 0, 0), 200)
  const fails = [1, 2, 3, 4, 10].map((n) => heartbeatDelayMs(10_000, n, 1))
  assert.deepEqual(fails, [2_000, 4_000, 5_000, 5_000, 5_000])
  assert.equal(heartbeatDelayMs(10_000, 3, 0), 2_500, 'jitter spreads over the upper half')
  assert.equal(heartbeatDelayMs(60_000, 30, 1), 5_000)
})

/** A fake network: each endpoint is a function from request to response, or absent (refused). */
class FakeNetwork implements ClusterTransport {
  readonly sent: { to: string; target: string }[] = []
  readonly hosts = new Map<string, (target: string, body: string) => ClusterResponse>()

  send(to: Endpoint, req: { method: string; target: string; body?: string }): Promise<ClusterResponse> {
    const key = `${to.addr}:${to.port}`
    this.sent.push({ to: key, target: req.target })
    const host = this.hosts.get(key)
    if (host === undefined) return Promise.reject(new Error(`connect ECONNREFUSED ${key}`))
    return Promise.resolve(host(req.target, req.body ?? ''))
  }
}

const json = (value: unknown): ClusterResponse => ({ status: 200, headers: {}, body: JSON.stringify(value) })

test('heartbeat client: joins, heartbeats on its interval, backs off while the server is down, resyncs when it restarts', async (t) => {
  const clock = new FakeClock()
  const net = new FakeNetwork()
  let epoch = 'boot-1'
  let beats = 0
  const server = { name: 's1', addr: '10.0.0.1', port: 8300 }
  net.hosts.set('10.0.0.1:8301', () =>
    json({ name: 's1', datacenter: 'dc1', server: true, servers: [server] }),
  )
  const serverHost = (target: string, body: string): ClusterResponse => {
    assert.equal(target, '/v1/internal/cluster/heartbeat')
    const hb = decodeHeartbeat(body)
    beats++
    return json({ epoch, version: 1, members: [member('s1', true), { ...hb.member }], servers: [server] })
  }
  net.hosts.set('10.0.0.1:8300', serverHost)
  let resyncs = 0
  const client = new ClusterClient({
    transport: net,
    clock,
    random: () => 0,
    logger: silent,
    self: () => member('c1'),
    node: () => nodeInfo('c1'),
    defaultJoinPort: 8301,
    livenessTimeoutMs: 10_000,
    onServerChange: () => resyncs++,
  })
  t.after(() => client.close())
  assert.deepEqual(
    client.members().map((m) => m.name),
    ['c1'],
    'alone before joining',
  )
  await assert.rejects(client.rpc('POST', '/catalog/read', { name: 'c1' }), NoServersError)
  client.start()
  await assert.rejects(client.join(['10.0.0.9']), (err) => {
    assert.ok(err instanceof JoinError)
    assert.match(err.message, /^1 error occurred:\n\t\* Failed to join 10\.0\.0\.9:8301: .*ECONNREFUSED/)
    return true
  })
  assert.equal(await client.join(['10.0.0.1']), 1)
  await waitFor(() => resyncs === 1, { what: 'first heartbeat right after the join' })
  assert.equal(beats, 1, 'reaching a server asks for a full sync')
  assert.deepEqual(
    client.members().map((m) => m.name),
    ['c1', 's1'],
  )
  await clock.advance(1_000)
  assert.equal(beats, 2)

  // The server goes away: heartbeats back off (2 s, 4 s, 5 s, 5 s with random() = 0 → half).
  net.hosts.delete('10.0.0.1:8300')
  const before = net.sent.length
  await clock.advance(1_000)
  assert.equal(client.health().failures, 1)
  await clock.advance(999)
  assert.equal(net.sent.length, before + 1, 'no attempt before the backoff')
  await clock.advance(1)
  assert.equal(client.health().failures, 2)
  await clock.advance(2_000)
  assert.equal(client.health().failures, 3)
  assert.match(client.health().lastError ?? '', /ECONNREFUSED/)

  // It comes back restarted: the next heartbeat succeeds and the new epoch asks for a resync.
  epoch = 'boot-2'
  net.hosts.set('10.0.0.1:8300', serverHost)
  await clock.advance(2_500)
  assert.equal(client.health().failures, 0)
  assert.equal(resyncs, 2)
  await client.close()
  assert.equal(clock.pendingTimers(), 0, 'a closed client leaves no timer behind')
})

test('retry join gives up after retry_max attempts, spaced by retry_interval', async (t) => {
  const clock = new FakeClock()
  const net = new FakeNetwork()
  const client = new ClusterClient({
    transport: net,
    clock,
    random: () => 0,
    logger: silent,
    self: () => member('c1'),
    node: () => nodeInfo('c1'),
    defaultJoinPort: 8301,
    livenessTimeoutMs: 10_000,
  })
  t.after(() => client.close())
  const outcome = client.retryJoin(['10.0.0.1:9301'], { intervalMs: 30_000, max: 3 })
  await clock.advance(29_999)
  assert.equal(net.sent.length, 1)
  await clock.advance(1)
  assert.equal(net.sent.length, 2)
  await clock.advance(30_000)
  assert.equal(await outcome, false)
  assert.deepEqual(
    net.sent.map((s) => s.to),
    ['10.0.0.1:9301', '10.0.0.1:9301', '10.0.0.1:9301'],
  )
})

test('join addresses: ADDR[:port], bracketed IPv6, bare IPv6; bad ones refused', () => {
  assert.deepEqual(parseJoinAddress('127.0.0.1', 8301), { addr: '127.0.0.1', port: 8301 })
  assert.deepEqual(parseJoinAddress('127.0.0.1:9000', 8301), { addr: '127.0.0.1', port: 9000 })
  assert.deepEqual(parseJoinAddress('[::1]:9000', 8301), { addr: '::1', port: 9000 })
  assert.deepEqual(parseJoinAddress('::1', 8301), { addr: '::1', port: 8301 })
  assert.equal(parseJoinAddress('host:port', 8301), undefined)
  assert.equal(parseJoinAddress('', 8301), undefined)
  assert.equal(parseJoinAddress('a:70000', 8301), undefined)
})

test('cluster messages are checked and projected: wrong types refused, unknown keys dropped', () => {
  assert.throws(
    () => decodeHeartbeat('{"member": {"name": 1}}'),
    /Request decode failed: heartbeat\.member\.name: expected string/,
  )
  assert.throws(() => decodeHeartbeat('nope'), /Request decode failed/)
  const reg = decodeRegister(
    JSON.stringify({
      node: { ...nodeInfo('c1'), evil: 'x' },
      service: null,
      checks: [],
      token: '',
      extra: 1,
    }),
  )
  assert.equal('evil' in reg.node, false)
  assert.equal('extra' in reg, false)
  assert.ok(Object.isFrozen(reg.node))
})
