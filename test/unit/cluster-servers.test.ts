/**
 * Several servers on one store (docs/cluster.md "Several servers"), in process on a fake clock:
 * one leader at a time, takeover after the leader's lease expires, a deposed leader's writes
 * refused by its fence, one member list whichever server a member heartbeats to, and no flap of
 * `serfHealth` when a member moves between servers.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { UserEvent } from '../../src/agent/events.js'
import { NotLeaderError } from '../../src/catalog/errors.js'
import { nodeChecksQuery } from '../../src/catalog/queries.js'
import { SERVER_LEASE_TTL_MS } from '../../src/cluster/election.js'
import { reg } from '../support/catalog.js'
import { member, nodeInfo } from '../support/cluster.js'
import { startServers, type ServerGroup, type TestServer } from '../support/servers.js'
import { waitFor } from '../support/wait.js'

function leaders(g: ServerGroup): string[] {
  return g.servers.filter((s) => !s.link.isCut && s.cluster.session.isLeader).map((s) => s.name)
}

function beat(s: TestServer, name: string): void {
  s.cluster.membership.heartbeatJson({
    member: member(name),
    node: nodeInfo(name),
    knownEpoch: '',
    knownVersion: -1,
    eventSeq: -1,
  })
}

function serf(s: TestServer, node: string): string | undefined {
  return s.catalog.read(nodeChecksQuery(node)).value.find((c) => c.check.checkId === 'serfHealth')?.check
    .status
}

/** Advances the fake clock in steps, letting the loops run between them. */
async function advance(g: ServerGroup, ms: number, step = 500, each?: () => void): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    each?.()
    await g.clock.advance(Math.min(step, ms - t))
    await new Promise((r) => setImmediate(r))
  }
}

test('three servers on one store: exactly one leader; every server reports it; peers are the three', async (t) => {
  const g = await startServers(['s1', 's2', 's3'])
  t.after(() => g.close())
  await waitFor(() => g.servers.every((s) => s.cluster.session.leader() === '10.0.0.1:8300'))
  assert.deepEqual(leaders(g), ['s1'], 'the first server elected itself; the others follow')
  for (const s of g.servers) {
    assert.deepEqual(s.cluster.session.peers(), ['10.0.0.1:8300', '10.0.0.2:8300', '10.0.0.3:8300'])
  }
  await advance(g, 30_000)
  assert.deepEqual(leaders(g), ['s1'], 'leadership is stable while the leader keeps its lease')
})

test('the leader cut off from the store: another server leads within the lease TTL; the deposed leader’s fenced write is refused', async (t) => {
  const g = await startServers(['s1', 's2', 's3'])
  t.after(() => g.close())
  const [s1, s2, s3] = g.servers
  assert.ok(s1 !== undefined && s2 !== undefined && s3 !== undefined)
  await waitFor(() => s1.cluster.session.isLeader)
  // The fence s1 leads with, as its leader tasks carry it.
  const fence = s1.cluster.session.fence
  assert.ok(fence !== null)
  s1.link.cut()
  let tookOver = -1
  for (let ms = 0; ms <= 3 * SERVER_LEASE_TTL_MS && tookOver < 0; ms += 250) {
    await advance(g, 250, 250)
    const believers = g.servers.filter((s) => s.cluster.session.isLeader).map((s) => s.name)
    assert.ok(believers.length <= 1, `never two servers acting as leader (${believers.join(', ')})`)
    if (leaders(g).length === 1) tookOver = ms + 250
  }
  assert.ok(tookOver > 0, 'a new leader was elected')
  assert.ok(tookOver <= SERVER_LEASE_TTL_MS + 1_000, `takeover after ${tookOver} ms`)
  const [leader] = leaders(g)
  assert.ok(leader === 's2' || leader === 's3')
  assert.equal(s1.cluster.session.isLeader, false, 's1 stepped down while cut off')

  // The link heals: s1's view catches up; a write it sends with its old fence is refused whole.
  s1.link.heal()
  await advance(g, 2_000)
  await waitFor(() => s1.cluster.session.leader().startsWith('10.0.0.'))
  await assert.rejects(s1.catalog.register(reg('ghost'), fence), NotLeaderError)
  assert.equal(s2.catalog.state.node('ghost'), undefined, 'nothing of the refused write was applied')
  // Without the fence the same write goes through: the fence is what stops a deposed leader.
  await s1.catalog.register(reg('ghost'))
  await waitFor(() => s2.catalog.state.node('ghost') !== undefined)
  assert.equal(leaders(g).length, 1, 'still exactly one leader')
})

test('a closed leader hands over at once: its row and leader key are deleted, another server leads', async (t) => {
  const g = await startServers(['s1', 's2'])
  t.after(() => g.close())
  const [s1, s2] = g.servers
  assert.ok(s1 !== undefined && s2 !== undefined)
  await waitFor(() => s1.cluster.session.isLeader)
  await s1.close()
  await waitFor(() => s2.cluster.session.isLeader, { what: 's2 leads without waiting for a lease to expire' })
  assert.deepEqual(s2.cluster.session.peers(), ['10.0.0.2:8300'])
})

test('one member list on every server; a member moving between servers never flaps; a dead member fails, then is reaped', async (t) => {
  const g = await startServers(['s1', 's2'], { reconnectTimeoutMs: 120_000 })
  t.after(() => g.close())
  const [s1, s2] = g.servers
  assert.ok(s1 !== undefined && s2 !== undefined)
  const history: (string | undefined)[] = [undefined]
  const record = (): void => {
    const now = serf(s1, 'c1')
    if (history.at(-1) !== now) history.push(now)
  }
  s1.catalog.onChange(record)

  beat(s2, 'c1') // c1 heartbeats to the follower
  await waitFor(() => serf(s1, 'c1') === 'passing')
  const names = (s: TestServer): string[] =>
    s.cluster.membership.members().map((m) => `${m.name}:${m.status}`)
  await waitFor(() => names(s1).length === 3 && names(s2).length === 3)
  assert.deepEqual(names(s1).slice(1).sort(), ['c1:alive', 's2:alive'])
  assert.deepEqual(names(s2).slice(1).sort(), ['c1:alive', 's1:alive'])

  // c1 moves to s1 and keeps heartbeating there; s2 times it out locally after 10 s.
  await advance(g, 30_000, 500, () => {
    beat(s1, 'c1')
  })
  assert.deepEqual(history, [undefined, 'passing'], 'serfHealth never went critical')

  // c1 dies: critical within the liveness timeout (and a sweep), then reaped after reconnect_timeout.
  let failedAfter = -1
  for (let ms = 0; ms <= 20_000 && failedAfter < 0; ms += 500) {
    await advance(g, 500)
    if (serf(s1, 'c1') === 'critical') failedAfter = ms + 500
  }
  assert.ok(failedAfter > 0 && failedAfter <= 12_000, `failed after ${failedAfter} ms`)
  await waitFor(() => names(s2).includes('c1:failed'))
  await advance(g, 121_000, 5_000)
  await waitFor(() => s1.catalog.state.node('c1') === undefined, { what: 'reaped and deregistered' })
  assert.ok(!names(s1).some((n) => n.startsWith('c1:')))
})

test('the leader dies: its members fail over to another server without flapping; its own node turns critical', async (t) => {
  const g = await startServers(['s1', 's2'])
  t.after(() => g.close())
  const [s1, s2] = g.servers
  assert.ok(s1 !== undefined && s2 !== undefined)
  beat(s1, 'c1')
  await waitFor(() => serf(s2, 'c1') === 'passing')
  const history: (string | undefined)[] = [serf(s2, 'c1')]
  s2.catalog.onChange(() => {
    const now = serf(s2, 'c1')
    if (history.at(-1) !== now) history.push(now)
  })
  s1.link.cut() // s1 is gone; c1 heartbeats to s2 from now on (a client fails over at once)
  await advance(g, 20_000, 500, () => {
    beat(s2, 'c1')
  })
  assert.ok(s2.cluster.session.isLeader)
  assert.deepEqual(history, ['passing'], 'c1 stayed passing throughout')
  await waitFor(() => serf(s2, 's1') === 'critical', { what: 'the dead server is marked failed' })
})

test('a user event fired on any server reaches every server once, in one order', async (t) => {
  const g = await startServers(['s1', 's2', 's3'])
  t.after(() => g.close())
  const [s1, s2, s3] = g.servers
  assert.ok(s1 !== undefined && s2 !== undefined && s3 !== undefined)
  const event = (n: number): UserEvent =>
    Object.freeze({
      id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      name: `deploy-${n}`,
      payload: null,
      nodeFilter: '',
      serviceFilter: '',
      tagFilter: '',
      version: 1,
      ltime: 0,
    })
  const fire = async (s: TestServer, n: number): Promise<void> => {
    const sink = s.cluster.eventSink
    assert.ok(sink !== null)
    await sink.deliver(event(n))
  }
  await Promise.all([fire(s1, 1), fire(s2, 2), fire(s3, 3), fire(s1, 4)])
  const names = (s: TestServer): string[] => s.delivered.map((e) => e.name)
  await waitFor(() => g.servers.every((s) => s.delivered.length === 4), {
    what: 'every event on every server',
  })
  assert.deepEqual(names(s2), names(s1), 'one order')
  assert.deepEqual(names(s3), names(s1), 'one order')
  assert.deepEqual([...names(s1)].sort(), ['deploy-1', 'deploy-2', 'deploy-3', 'deploy-4'])
  // A resync shows the stored events again: nothing is delivered twice.
  s2.link.cut()
  s2.link.heal()
  await advance(g, 2_000)
  await waitFor(() => s2.catalog.resyncs > 0)
  assert.equal(s2.delivered.length, 4)
  // A server started later does not replay what was fired before it.
  const s4 = await g.start('s4')
  await fire(s4, 5)
  await waitFor(() => g.servers.every((s) => s.delivered.at(-1)?.name === 'deploy-5'))
  assert.deepEqual(names(s4), ['deploy-5'])
})

test('steady heartbeats write nothing: the store moves only when a member joins, changes or moves', async (t) => {
  const g = await startServers(['s1', 's2'])
  t.after(() => g.close())
  const [s1, s2] = g.servers
  assert.ok(s1 !== undefined && s2 !== undefined)
  beat(s1, 'c1')
  await waitFor(() => serf(s1, 'c1') === 'passing')
  const before = await g.store.revision()
  for (let i = 0; i < 20; i++) {
    beat(s1, 'c1')
    await advance(g, 1_000, 1_000)
  }
  assert.equal(await g.store.revision(), before, '20 heartbeats over 20 s: no write')
  beat(s2, 'c1') // it moves: one write puts its liveness key on s2's lease
  await waitFor(() => s1.catalog.state.cluster.get('alive', 'c1')?.lease === s2.cluster.session.lease)
})
