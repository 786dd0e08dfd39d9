/**
 * Heartbeat answers carry only the member-list changes since the client's version when the client
 * takes them (docs/cluster.md "Member list"): the client's list, with the changes applied, is the
 * server's list; a client whose version the server's log cannot reach, or an older client, gets
 * the whole list.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Member } from '../../src/agent/member.js'
import { applyMemberChanges } from '../../src/cluster/client.js'
import { MemberChangeLog } from '../../src/cluster/membership.js'
import { decodeHeartbeatReply, type HeartbeatReply } from '../../src/cluster/wire.js'
import { member, nodeInfo } from '../support/cluster.js'
import { startServers, type TestServer } from '../support/servers.js'
import { waitFor } from '../support/wait.js'

/** A client's view: what it last got from one server. */
interface ClientView {
  epoch: string
  version: number
  members: readonly Member[] | null
}

function heartbeat(s: TestServer, name: string, view: ClientView, delta = true, tags = ''): HeartbeatReply {
  const base = member(name)
  const self = tags === '' ? base : { ...base, tags: { ...base.tags, team: tags } }
  const reply = decodeHeartbeatReply(
    JSON.parse(
      s.cluster.membership.heartbeatJson({
        member: self,
        node: nodeInfo(name),
        knownEpoch: view.epoch,
        knownVersion: view.version,
        eventSeq: -1,
        delta,
      }),
    ),
  )
  if (reply.members !== null) view.members = reply.members
  else if (reply.version !== view.version && view.members !== null)
    view.members = applyMemberChanges(view.members, reply.changed, reply.removed)
  view.epoch = reply.epoch
  view.version = reply.version
  return reply
}

const shown = (list: readonly Member[] | null): string[] =>
  (list ?? []).map((m) => `${m.name}:${m.status}:${m.tags['team'] ?? ''}`).sort()

test('member change log: names after a version; unknown before its floor; bounded, the floor follows', () => {
  const log = new MemberChangeLog(10, 4)
  assert.deepEqual([...(log.since(10) ?? [])], [])
  assert.equal(log.since(9), undefined, 'before the floor nothing is known')
  log.record(11, 'a')
  log.record(12, 'b')
  log.record(12, 'c')
  assert.deepEqual([...(log.since(11) ?? [])].sort(), ['b', 'c'])
  log.record(13, 'a')
  log.record(14, 'd') // five entries: the oldest three go, the floor moves to 12
  assert.equal(log.since(11), undefined)
  assert.deepEqual([...(log.since(12) ?? [])].sort(), ['a', 'd'])
  log.reset(20)
  assert.equal(log.since(14), undefined)
  assert.deepEqual([...(log.since(20) ?? [])], [])
})

test('a heartbeat answer carries the members that changed since the client’s version, not the list', async (t) => {
  const g = await startServers(['s1'])
  t.after(() => g.close())
  const [s1] = g.servers
  assert.ok(s1 !== undefined)
  const others = ['c2', 'c3', 'c4', 'c5']
  for (const name of others) heartbeat(s1, name, { epoch: '', version: -1, members: null })
  const view: ClientView = { epoch: '', version: -1, members: null }
  await waitFor(
    () => {
      heartbeat(s1, 'c1', view)
      return shown(view.members).length === 6
    },
    { what: 'six members' },
  )

  // One member changes its tags: the next answer names it alone.
  heartbeat(s1, 'c3', { epoch: '', version: -1, members: null }, true, 'db')
  await waitFor(() => s1.cluster.membership.members().some((m) => m.tags['team'] === 'db'))
  const reply = heartbeat(s1, 'c1', view)
  assert.equal(reply.members, null)
  assert.deepEqual(
    reply.changed.map((m) => m.name),
    ['c3'],
  )
  assert.deepEqual(reply.removed, [])
  assert.deepEqual(shown(view.members), shown(s1.cluster.membership.members()))

  // A pruned member: named as removed.
  await s1.cluster.membership.forceLeave('c4', true)
  const gone = heartbeat(s1, 'c1', view)
  assert.deepEqual(gone.removed, ['c4'])
  assert.deepEqual(shown(view.members), shown(s1.cluster.membership.members()))

  // A client that does not take changes gets the whole list; so does one from another epoch.
  const old: ClientView = { epoch: view.epoch, version: view.version - 1, members: view.members }
  assert.equal(heartbeat(s1, 'c1', old, false).members?.length, 5)
  const other: ClientView = { epoch: 'another', version: view.version, members: view.members }
  assert.equal(heartbeat(s1, 'c1', other).members?.length, 5)
})

test('model: clients heartbeating at random moments with changes applied always end with the server’s list', async () => {
  type Step =
    | { kind: 'join'; name: string }
    | { kind: 'tag'; name: string; tag: string }
    | { kind: 'prune'; name: string }
    | { kind: 'beat'; client: number }
  const name = fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5', 'm6')
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('join' as const), name }),
    fc.record({ kind: fc.constant('tag' as const), name, tag: fc.constantFrom('a', 'b', 'c') }),
    fc.record({ kind: fc.constant('prune' as const), name }),
    fc.record({ kind: fc.constant('beat' as const), client: fc.integer({ min: 0, max: 2 }) }),
  )
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
      const g = await startServers(['s1'])
      try {
        const [s1] = g.servers
        assert.ok(s1 !== undefined)
        const m = s1.cluster.membership
        const clients: ClientView[] = [0, 1, 2].map(() => ({ epoch: '', version: -1, members: null }))
        const settle = (): Promise<void> => new Promise((r) => setImmediate(r))
        for (const st of steps) {
          if (st.kind === 'join') heartbeat(s1, st.name, { epoch: '', version: -1, members: null })
          else if (st.kind === 'tag')
            heartbeat(s1, st.name, { epoch: '', version: -1, members: null }, true, st.tag)
          else if (st.kind === 'prune') {
            if (m.members().some((x) => x.name === st.name))
              await m.forceLeave(st.name, true).catch(() => undefined)
          } else {
            const c = clients[st.client]
            if (c !== undefined) heartbeat(s1, `client-${st.client}`, c)
          }
          await settle()
        }
        // Let every write land (the membership loop writes after a heartbeat), then each client
        // heartbeats once more, and again once its own record is written: its list is the server's.
        const quiet = async (): Promise<void> => {
          await new Promise((r) => setTimeout(r, 10))
          await waitFor(async () => (await g.store.revision()) === s1.catalog.state.revision)
        }
        await quiet()
        for (const [i, c] of clients.entries()) heartbeat(s1, `client-${i}`, c)
        await quiet()
        for (const [i, c] of clients.entries()) {
          if (c.members === null) continue
          heartbeat(s1, `client-${i}`, c)
          assert.deepEqual(shown(c.members), shown(m.members()), `client ${i}`)
        }
      } finally {
        await g.close()
      }
    }),
    { numRuns: 40 },
  )
})
