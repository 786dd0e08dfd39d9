import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KvRequestError } from '../../src/catalog/errors.js'
import { kvGetQuery, kvKeysQuery, kvListQuery } from '../../src/catalog/kv-queries.js'
import { TOMBSTONE_TTL_MS, type KvEntry, type TxnResultItem } from '../../src/catalog/kv-types.js'
import { electedLeaderTasks } from '../support/leader.js'
import { Catalog } from '../../src/catalog/catalog.js'
import { KvState } from '../../src/store/kv-state.js'
import { MemoryStore } from '../../src/store/memory.js'
import type { Status } from '../../src/structs/check.js'
import type { CatalogCheckInput } from '../../src/catalog/types.js'
import { PREFIX, chk, openCatalog, settle, svc } from '../support/catalog.js'
import { FakeClock } from '../support/fake-clock.js'
import { b64, bytes, kvOp, put, registerNode, session } from '../support/kv.js'

function kvOf(item: TxnResultItem): KvEntry {
  assert.ok('kv' in item)
  return item.kv
}

async function rejectsWith(p: Promise<unknown>, status: number, text: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KvRequestError, String(err))
    assert.equal(err.message, text)
    assert.equal(err.statusCode, status)
    return true
  })
}

test('set creates with Create = Modify = index, LockIndex 0; an identical set changes nothing', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  const w = await put(c, 'a/b', 'v1', { kind: 'set' }, 42n)
  assert.equal(w.ok, true)
  const e = c.kvRead(kvGetQuery('a/b'))
  assert.equal(e.index, w.index)
  assert.deepEqual(e.value, {
    key: 'a/b',
    value: b64('v1'),
    flags: 42n,
    session: '',
    lockIndex: 0,
    createIndex: w.index,
    modifyIndex: w.index,
  })
  const again = await put(c, 'a/b', 'v1', { kind: 'set' }, 42n)
  assert.equal(again.ok, true)
  assert.equal(c.kvRead(kvGetQuery('a/b')).value?.modifyIndex, w.index, 'identical set: ModifyIndex stays')
  assert.equal(c.revision, w.index, 'identical set: no store write')
  const changed = await put(c, 'a/b', 'v2')
  assert.ok(changed.index > w.index)
  const e2 = c.kvRead(kvGetQuery('a/b')).value
  assert.equal(e2?.createIndex, w.index)
  assert.equal(e2.modifyIndex, changed.index)
  assert.equal(e2.flags, 0n, 'omitting flags stores 0')
  await put(c, 'empty', '')
  assert.equal(c.kvRead(kvGetQuery('empty')).value?.value, null, 'an empty body stores no value')
  const big = 2n ** 64n - 1n
  await put(c, 'big', 'x', { kind: 'set' }, big)
  assert.equal(c.kvRead(kvGetQuery('big')).value?.flags, big, 'flags are a uint64')
})

test('a missing key answers the kvs/tombstones table index, never 0', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  const r0 = c.kvRead(kvGetQuery('nope'))
  assert.equal(r0.value, null)
  assert.equal(r0.index, 1)
  const w = await put(c, 'x', '1')
  assert.equal(c.kvRead(kvGetQuery('nope')).index, w.index)
  const d = await c.kvDelete({ key: 'x' })
  assert.ok(d.index > w.index)
  const r = c.kvRead(kvGetQuery('x'))
  assert.equal(r.value, null)
  assert.equal(r.index, d.index, 'a deleted key reports its tombstone, larger than its last ModifyIndex')
})

test('cas=0 creates only; cas=N updates only at ModifyIndex N', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  assert.equal((await put(c, 'k', 'a', { kind: 'cas', index: 0 })).ok, true)
  assert.equal((await put(c, 'k', 'b', { kind: 'cas', index: 0 })).ok, false)
  const idx = c.kvRead(kvGetQuery('k')).value?.modifyIndex ?? 0
  assert.equal((await put(c, 'k', 'b', { kind: 'cas', index: idx + 100 })).ok, false)
  assert.equal((await put(c, 'missing', 'b', { kind: 'cas', index: 5 })).ok, false, 'cas=N on a missing key')
  assert.equal((await put(c, 'k', 'b', { kind: 'cas', index: idx })).ok, true)
  assert.equal(c.kvRead(kvGetQuery('k')).value?.value, b64('b'))
})

test('acquire and release: LockIndex, holders, plain sets keep the lock, session errors', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await registerNode(c, 'n1')
  const s1 = await session(c)
  const s2 = await session(c)
  assert.equal((await put(c, 'lock', 'me', { kind: 'acquire', session: s1 })).ok, true)
  let e = c.kvRead(kvGetQuery('lock')).value
  assert.equal(e?.lockIndex, 1)
  assert.equal(e.session, s1)
  assert.equal(
    (await put(c, 'lock', 'me2', { kind: 'acquire', session: s1 })).ok,
    true,
    'the holder re-acquires',
  )
  e = c.kvRead(kvGetQuery('lock')).value
  assert.equal(e?.lockIndex, 1, 're-acquiring keeps LockIndex')
  assert.equal(e.value, b64('me2'))
  assert.equal((await put(c, 'lock', 'you', { kind: 'acquire', session: s2 })).ok, false, 'held by another')
  assert.equal(
    (await put(c, 'lock', 'x', { kind: 'release', session: s2 })).ok,
    false,
    'released by a non-holder',
  )
  await put(c, 'lock', 'plain')
  assert.equal(c.kvRead(kvGetQuery('lock')).value?.session, s1, 'a plain set keeps the holder')
  assert.equal((await put(c, 'lock', '', { kind: 'release', session: s1 })).ok, true)
  e = c.kvRead(kvGetQuery('lock')).value
  assert.equal(e?.session, '')
  assert.equal(e.lockIndex, 1, 'release keeps LockIndex')
  assert.equal(e.value, null, 'release with an empty body empties the value')
  assert.equal((await put(c, 'lock', 'you', { kind: 'acquire', session: s2 })).ok, true)
  assert.equal(c.kvRead(kvGetQuery('lock')).value?.lockIndex, 2, 'a new holder increments LockIndex')
  assert.equal(
    (await put(c, 'nokey', 'x', { kind: 'release', session: s1 })).ok,
    false,
    'release of a missing key',
  )
  await rejectsWith(put(c, 'k', 'v', { kind: 'acquire', session: 'bogus' }), 500, 'invalid session "bogus"')
  await rejectsWith(put(c, 'k', 'v', { kind: 'acquire', session: '' }), 500, 'missing session')
})

test('values above kv_max_value_size are refused with Consul text (413)', async (t) => {
  const h = await openCatalog({ kvMaxValueSize: 8 })
  t.after(() => h.close())
  await rejectsWith(
    put(h.catalog, 'k', '123456789'),
    413,
    'Request body(9 bytes) too large, max size: 8 bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.',
  )
  assert.equal((await put(h.catalog, 'k', '12345678')).ok, true)
  await rejectsWith(put(h.catalog, '', 'x'), 400, 'Missing key name')
})

test('delete, delete-cas, recursive delete and their tombstones', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await put(c, 'a/1', '1')
  const w2 = await put(c, 'a/2', '2')
  await put(c, 'b/1', '1')
  assert.equal((await c.kvDelete({ key: 'nope' })).ok, true, 'a missing key is fine')
  assert.equal((await c.kvDelete({ key: 'nope', cas: 3 })).ok, true, 'delete-cas of a missing key succeeds')
  assert.equal((await c.kvDelete({ key: 'a/2', cas: w2.index + 1 })).ok, false)
  const d = await c.kvDelete({ key: 'a/2', cas: w2.index })
  assert.equal(d.ok, true)
  assert.equal(c.kvRead(kvGetQuery('a/2')).value, null)
  const list = c.kvRead(kvListQuery('a/'))
  assert.deepEqual(
    list.value.map((e) => e.key),
    ['a/1'],
  )
  assert.equal(list.index, d.index, 'the list answers its tombstone')
  const tree = await c.kvDelete({ key: 'a/', recurse: true })
  assert.equal(c.kvRead(kvListQuery('a/')).value.length, 0)
  assert.equal(c.kvRead(kvListQuery('a/')).index, tree.index, 'one tombstone for the deleted prefix')
  assert.ok(c.state.kv.tombstone('a/') !== undefined)
  assert.equal(
    c.state.kv.tombstone('a/1'),
    undefined,
    'a recursive delete leaves one tombstone, for the prefix',
  )
  const all = await c.kvDelete({ key: '', recurse: true })
  assert.equal(c.kvRead(kvListQuery('')).value.length, 0)
  assert.equal(c.kvRead(kvListQuery('')).index, all.index)
  await rejectsWith(c.kvDelete({ key: '' }), 400, 'Missing key name')
})

test('keys with and without a separator; list indexes', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  for (const k of ['a/x/1', 'a/x/2', 'a/y/1', 'a/z', 'b']) await put(c, k, k)
  assert.deepEqual(c.kvRead(kvKeysQuery('a')).value, ['a/x/1', 'a/x/2', 'a/y/1', 'a/z'])
  assert.deepEqual(c.kvRead(kvKeysQuery('a/', '/')).value, ['a/x/', 'a/y/', 'a/z'])
  assert.deepEqual(c.kvRead(kvKeysQuery('', '/')).value, ['a/', 'b'])
  const last = c.kvRead(kvGetQuery('a/z')).value?.modifyIndex
  assert.equal(c.kvRead(kvKeysQuery('a/')).index, last)
  const tail = await put(c, 'b', 'changed')
  assert.equal(c.kvRead(kvListQuery('a/')).index, last, 'a write outside the prefix does not move it')
  assert.equal(c.kvRead(kvListQuery('zzz')).index, tail.index, 'nothing under the prefix: the table index')
  assert.equal(c.kvRead(kvListQuery('')).index, tail.index)
})

test('pitfall 4: a blocking list sees a larger index after its top key is deleted', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await put(c, 'svc/a', '1')
  const top = await put(c, 'svc/b', '2')
  const before = c.kvRead(kvListQuery('svc/'))
  assert.equal(before.index, top.index)
  let answered = false
  const blocked = c.kvBlock(kvListQuery('svc/'), { index: before.index, waitMs: 60_000 }).then((r) => {
    answered = true
    return r
  })
  await put(c, 'other', 'x')
  await settle()
  assert.equal(answered, false, 'a write outside the prefix does not answer the list')
  const d = await c.kvDelete({ key: 'svc/b' })
  const r = await blocked
  assert.ok(r.index > top.index, `index ${r.index} after the delete is above ${top.index}`)
  assert.equal(r.index, d.index)
  assert.deepEqual(
    r.value.map((e) => e.key),
    ['svc/a'],
  )
})

test('a blocking key read wakes only for its key; a missing key blocks until it appears', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await put(c, 'other', '0')
  const miss = c.kvRead(kvGetQuery('k'))
  let answered = false
  const blocked = c.kvBlock(kvGetQuery('k'), { index: miss.index, waitMs: 60_000 }).then((r) => {
    answered = true
    return r
  })
  await settle()
  const evals = c.blockingStats().evaluations
  await put(c, 'other', '1')
  await put(c, 'k2', '1')
  await put(c, 'k/sub', '1')
  await settle()
  assert.equal(answered, false)
  assert.equal(c.blockingStats().evaluations, evals, 'writes to other keys evaluate nothing')
  const w = await put(c, 'k', 'here')
  const r = await blocked
  assert.equal(r.index, w.index)
  assert.equal(r.value?.value, b64('here'))
})

test('blocking prefix reads: one evaluation per change under the prefix, shared by identical waiters', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  const base = await put(c, 'p/a', '1')
  const waits = Array.from({ length: 50 }, () =>
    c.kvBlock(kvListQuery('p/'), { index: base.index, waitMs: 60_000 }),
  )
  const other = c.kvBlock(kvListQuery('q/'), { index: base.index, waitMs: 60_000 })
  await settle()
  const evals = c.blockingStats().evaluations
  await put(c, 'p/b', '2')
  const results = await Promise.all(waits)
  assert.equal(c.blockingStats().evaluations - evals, 1, 'one evaluation for 50 waiters; q/ not evaluated')
  assert.ok(
    results.every((r) => r === results[0]),
    'one shared result object',
  )
  await put(c, 'q/x', '1')
  assert.deepEqual(
    (await other).value.map((e) => e.key),
    ['q/x'],
  )
})

test('session create: defaults, Consul validation texts, checks', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await rejectsWith(c.sessionCreate({ node: 'n1' }), 500, 'Missing node registration')
  await registerNode(c, 'n1', 'passing', [
    ['disk', 'critical'],
    ['mem', 'warning'],
  ])
  const id = await session(c)
  const s = c.state.kv.session(id)
  assert.equal(s?.lockDelayNs, 15e9)
  assert.equal(s.behavior, 'release')
  assert.equal(s.ttl, '')
  assert.deepEqual(s.nodeChecks, ['serfHealth'])
  assert.equal(s.serviceChecks, null)
  assert.equal(s.checks, null)
  assert.equal(s.createIndex, s.modifyIndex)
  await rejectsWith(c.sessionCreate({ node: 'n1', behavior: 'nope' }), 500, "Invalid Behavior setting 'nope'")
  await rejectsWith(
    c.sessionCreate({ node: 'n1', ttl: '5s' }),
    500,
    "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]",
  )
  await rejectsWith(
    c.sessionCreate({ node: 'n1', ttl: '25h' }),
    500,
    "Invalid Session TTL '90000000000000', must be between [10s=24h0m0s]",
  )
  await rejectsWith(
    c.sessionCreate({ node: 'n1', ttl: 'soon' }),
    500,
    `Session TTL 'soon' invalid: time: invalid duration "soon"`,
  )
  await rejectsWith(
    c.sessionCreate({ node: 'n1', nodeChecks: ['nope'] }),
    500,
    "Missing check 'nope' registration",
  )
  await rejectsWith(
    c.sessionCreate({ node: 'n1', nodeChecks: ['disk'] }),
    500,
    "Check 'disk' is in critical state",
  )
  await rejectsWith(
    c.sessionCreate({ node: 'n1', serviceChecks: [{ id: 'disk', namespace: '' }] }),
    500,
    "Check 'disk' is in critical state",
  )
  const warn = await session(c, { nodeChecks: ['serfHealth', 'mem'] })
  assert.deepEqual(c.state.kv.session(warn)?.nodeChecks, ['serfHealth', 'mem'], 'warning does not refuse')
  const none = await session(c, { checks: [], lockDelayNs: 1e6, behavior: 'delete', ttl: '10s', name: 'pg' })
  const ns = c.state.kv.session(none)
  assert.deepEqual(ns?.nodeChecks, [], 'Checks: [] means no checks at all')
  assert.equal(ns.lockDelayNs, 1e6, '0.001s stays 1 ms')
  assert.equal(ns.ttl, '10s')
  assert.equal(ns.behavior, 'delete')
  const secs = await session(c, { lockDelayNs: 20 })
  assert.equal(c.state.kv.session(secs)?.lockDelayNs, 20e9, 'below 1000 ns: seconds')
  const zero = await session(c, { ttl: '0s' })
  assert.equal(c.state.kv.ttlLease(zero), undefined, 'TTL 0: no expiry')
  const extra = await session(c, { checks: ['serfHealth', 'mem'] })
  assert.deepEqual(c.state.kv.session(extra)?.checks, ['serfHealth', 'mem'])
  const dflt = await session(c, { checks: ['serfHealth'] })
  assert.equal(c.state.kv.session(dflt)?.checks, null, '["serfHealth"] alone is the default')
})

test('destroy releases held keys and starts a lock-delay; acquire refused during it, allowed after', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await registerNode(c, 'n1')
  const s1 = await session(c, { lockDelayNs: 5e9 })
  const s2 = await session(c)
  await put(c, 'leader', 'pg0', { kind: 'acquire', session: s1 })
  await put(c, 'plain', 'x', { kind: 'release', session: s1 })
  const d = await c.sessionDestroy(s1)
  const e = c.kvRead(kvGetQuery('leader')).value
  assert.equal(e?.session, '')
  assert.equal(e.value, b64('pg0'), 'release keeps the value')
  assert.equal(e.lockIndex, 1)
  assert.equal(e.modifyIndex, d.index, 'released in the destroy write')
  assert.equal(c.state.kv.session(s1), undefined)
  assert.equal((await put(c, 'leader', 'pg1', { kind: 'acquire', session: s2 })).ok, false, 'lock-delay')
  assert.equal((await put(c, 'leader', 'pg1')).ok, true, 'plain sets are not delayed')
  await h.clock.advance(4_999)
  assert.equal((await put(c, 'leader', 'pg1', { kind: 'acquire', session: s2 })).ok, false, 'still delayed')
  await h.clock.advance(2)
  assert.equal((await put(c, 'leader', 'pg1', { kind: 'acquire', session: s2 })).ok, true, 'allowed after')
  await rejectsWith(put(c, 'leader', 'x', { kind: 'acquire', session: s1 }), 500, `invalid session "${s1}"`)
  assert.deepEqual(
    (await c.sessionDestroy('unknown')).changed,
    false,
    'destroying an unknown session is fine',
  )
  assert.equal(await c.sessionRenew(s1), null)
})

test('an explicit release starts no lock-delay; a lock-delay is capped at 60 s', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await registerNode(c, 'n1')
  const s1 = await session(c, { lockDelayNs: 600e9 })
  const s2 = await session(c)
  await put(c, 'k', 'v', { kind: 'acquire', session: s1 })
  await put(c, 'k', 'v', { kind: 'release', session: s1 })
  assert.equal((await put(c, 'k', 'v', { kind: 'acquire', session: s2 })).ok, true)
  await put(c, 'k', 'v', { kind: 'release', session: s2 })
  await put(c, 'k', 'v', { kind: 'acquire', session: s1 })
  await c.sessionDestroy(s1)
  await h.clock.advance(59_999)
  assert.equal((await put(c, 'k', 'v', { kind: 'acquire', session: s2 })).ok, false)
  await h.clock.advance(2)
  assert.equal((await put(c, 'k', 'v', { kind: 'acquire', session: s2 })).ok, true, 'the delay ends at 60 s')
})

test('pitfall 7: TTL expiry after 2 × TTL releases (or deletes) locks; renew restarts the timer', async (t) => {
  const h = await openCatalog()
  const leader = await electedLeaderTasks(h.catalog, h.store, h.clock)
  t.after(async () => {
    await leader.stop()
    await h.close()
  })
  const c = h.catalog
  await registerNode(c, 'n1')
  const rel = await session(c, { ttl: '10s', lockDelayNs: 1e6 })
  const del = await session(c, { ttl: '10s', behavior: 'delete', checks: [] })
  await put(c, 'service/pg/leader', 'pg0', { kind: 'acquire', session: rel })
  await put(c, 'service/pg/members/pg0', 'm', { kind: 'acquire', session: del })
  await h.clock.advance(15_000)
  assert.ok((await c.sessionRenew(rel)) !== null, 'renewed at 15 s: expires at 35 s')
  await h.clock.advance(5_001)
  await settle()
  assert.equal(c.state.kv.session(del), undefined, 'the unrenewed session expired at 2 × TTL')
  assert.equal(c.kvRead(kvGetQuery('service/pg/members/pg0')).value, null, 'behavior delete deletes its key')
  assert.ok(c.state.kv.session(rel) !== undefined)
  await h.clock.advance(14_998)
  await settle()
  assert.ok(c.state.kv.session(rel) !== undefined, 'not before 2 × TTL after the renewal')
  await h.clock.advance(3)
  await settle()
  assert.equal(c.state.kv.session(rel), undefined)
  const e = c.kvRead(kvGetQuery('service/pg/leader')).value
  assert.equal(e?.session, '')
  assert.equal(e.value, b64('pg0'))
  assert.equal(await c.sessionRenew(rel), null, 'renew after expiry: not found')
})

test('pitfall 7: a linked check turning critical invalidates its sessions in the same write', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await registerNode(c, 'n1', 'passing', [['app', 'passing']])
  const s = await session(c, { nodeChecks: ['serfHealth', 'app'] })
  const other = await session(c, { checks: [] })
  await put(c, 'leader', 'x', { kind: 'acquire', session: s })
  await put(c, 'other', 'x', { kind: 'acquire', session: other })
  await registerNode(c, 'n1', 'passing', [['app', 'warning']])
  assert.ok(c.state.kv.session(s) !== undefined, 'warning does not invalidate')
  const w = await registerNode(c, 'n1', 'passing', [['app', 'critical']])
  assert.equal(c.state.kv.session(s), undefined)
  const e = c.kvRead(kvGetQuery('leader')).value
  assert.equal(e?.session, '')
  assert.equal(e.modifyIndex, w, 'released at the check update index: one write')
  assert.equal(c.kvRead(kvGetQuery('other')).value?.session, other, 'a session without checks stays')
  const s3 = await session(c, { checks: [], nodeChecks: ['serfHealth'] })
  assert.equal(c.state.kv.session(s3)?.nodeChecks.length, 0)
  const s4 = await session(c)
  await c.deregister({ node: 'n1', serviceId: '', checkId: 'serfHealth' })
  assert.equal(c.state.kv.session(s4), undefined, 'a deregistered watched check invalidates')
  await c.deregister({ node: 'n1', serviceId: '', checkId: '' })
  assert.equal(c.state.kv.session(other), undefined, 'a deregistered node invalidates all its sessions')
  assert.equal(c.kvRead(kvGetQuery('other')).value?.session, '')
})

test('pitfall 6: set + get + cas on one key in one txn gives Consul result; 128 deletes commit at one index', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  const w = await put(c, 'k', 'old')
  const r = await c.txn([
    kvOp('set', 'k', { value: bytes('new') }),
    kvOp('get', 'k'),
    kvOp('cas', 'k', { value: bytes('cas'), index: w.index }),
  ])
  assert.equal(r.ok, false, 'the set moved ModifyIndex: the cas is stale')
  assert.ok(!r.ok)
  assert.deepEqual(r.errors, [{ opIndex: 2, what: 'failed to set key "k", index is stale' }])
  assert.equal(c.kvRead(kvGetQuery('k')).value?.value, b64('old'), 'nothing applied')
  const ok = await c.txn([
    kvOp('set', 'k', { value: bytes('old') }),
    kvOp('cas', 'k', { value: bytes('cas'), index: w.index }),
    kvOp('get', 'k'),
    kvOp('set', 'n', { value: bytes('1') }),
  ])
  assert.equal(ok.ok, true, 'an identical set leaves ModifyIndex: the cas holds')
  assert.ok(ok.ok)
  assert.deepEqual(
    ok.results.map((x) => [kvOf(x).key, kvOf(x).value, kvOf(x).modifyIndex, kvOf(x).createIndex]),
    [
      ['k', null, w.index, w.index],
      ['k', null, ok.index, w.index],
      ['k', b64('cas'), ok.index, w.index],
      ['n', null, ok.index, ok.index],
    ],
  )
  const keys = Array.from({ length: 128 }, (_, i) => `bulk/${String(i).padStart(3, '0')}`)
  const created = await c.txn(keys.map((k) => kvOp('set', k, { value: bytes(k) })))
  assert.ok(created.ok)
  assert.ok(
    created.results.every((x) => kvOf(x).modifyIndex === created.index),
    'one index for 128 writes',
  )
  const deleted = await c.txn(keys.map((k) => kvOp('delete', k)))
  assert.ok(deleted.ok)
  assert.deepEqual(deleted.results, [])
  assert.equal(c.kvRead(kvListQuery('bulk/')).value.length, 0)
  assert.equal(c.kvRead(kvListQuery('bulk/')).index, deleted.index)
  await rejectsWith(
    c.txn([...keys, 'one-more'].map((k) => kvOp('get', k))),
    413,
    'Transaction contains too many operations (129 > 128)',
  )
})

test('txn verbs, their error texts, and all errors listed with nothing applied', async (t) => {
  const h = await openCatalog({ kvMaxValueSize: 4 })
  t.after(() => h.close())
  const c = h.catalog
  await registerNode(c, 'n1')
  const s = await session(c)
  const w = await put(c, 'held', 'v', { kind: 'acquire', session: s })
  const fail = await c.txn([
    kvOp('set', 'new', { value: bytes('x') }),
    kvOp('get', 'absent'),
    kvOp('check-index', 'held', { index: w.index + 1 }),
    kvOp('check-index', 'absent', { index: 1 }),
    kvOp('check-session', 'held', { session: 'other' }),
    kvOp('check-session', 'absent', { session: s }),
    kvOp('check-not-exists', 'held'),
    kvOp('lock', 'held', { session: 'nope' }),
    kvOp('unlock', 'held', { session: 'other' }),
    kvOp('delete-cas', 'held', { index: w.index + 1 }),
    kvOp('bogus', 'x'),
    kvOp('lock', 'free', { session: '' }),
  ])
  assert.ok(!fail.ok)
  assert.deepEqual(fail.errors, [
    { opIndex: 1, what: 'key "absent" doesn\'t exist' },
    {
      opIndex: 2,
      what: `failed index check for key "held", current modify index ${w.index} != ${w.index + 1}`,
    },
    { opIndex: 3, what: 'failed to check index, key "absent" doesn\'t exist' },
    { opIndex: 4, what: `failed session check for key "held", current session "${s}" != "other"` },
    { opIndex: 5, what: 'failed to check session, key "absent" doesn\'t exist' },
    { opIndex: 6, what: 'key "held" exists' },
    { opIndex: 7, what: 'invalid session "nope"' },
    { opIndex: 8, what: 'failed to unlock key "held", lock isn\'t held, or is held by another session' },
    { opIndex: 9, what: 'failed to delete key "held", index is stale' },
    { opIndex: 10, what: 'unknown KV verb "bogus"' },
    { opIndex: 11, what: 'missing session' },
  ])
  assert.equal(c.kvRead(kvGetQuery('new')).value, null, 'nothing applied')
  const s2 = await session(c)
  const held = await c.txn([kvOp('lock', 'held', { session: s2 })])
  assert.ok(!held.ok)
  assert.deepEqual(held.errors, [{ opIndex: 0, what: 'failed to lock key "held", lock is already held' }])
  await rejectsWith(
    c.txn([kvOp('set', 'big', { value: bytes('12345') })]),
    413,
    'Value for key "big" is too large (5 > 4 bytes)',
  )
  const good = await c.txn([
    kvOp('check-index', 'held', { index: w.index }),
    kvOp('check-session', 'held', { session: s }),
    kvOp('check-not-exists', 'absent'),
    kvOp('get-or-empty', 'absent'),
    kvOp('set', 't/a', { value: bytes('a') }),
    kvOp('set', 't/b', { value: bytes('b') }),
    kvOp('get-tree', 't/'),
    kvOp('delete-tree', 't/'),
    kvOp('unlock', 'held', { session: s, value: bytes('u') }),
  ])
  assert.ok(good.ok)
  assert.deepEqual(
    good.results.map((x) => [kvOf(x).key, kvOf(x).value]),
    [
      ['held', null],
      ['held', null],
      ['absent', null],
      ['t/a', null],
      ['t/b', null],
      ['t/a', b64('a')],
      ['t/b', b64('b')],
      ['held', null],
    ],
  )
  assert.equal(c.kvRead(kvListQuery('t/')).value.length, 0)
  assert.equal(c.kvRead(kvGetQuery('held')).value?.session, '')
  const ro = await c.txn([])
  assert.ok(ro.ok)
  assert.deepEqual(ro.results, [])
  const lockDelayed = await session(c, { lockDelayNs: 10e9 })
  await put(c, 'ld', 'x', { kind: 'acquire', session: lockDelayed })
  await c.sessionDestroy(lockDelayed)
  const delayed = await c.txn([kvOp('lock', 'ld', { session: s2 })])
  assert.ok(!delayed.ok)
  assert.deepEqual(delayed.errors, [{ opIndex: 0, what: 'failed to lock key "ld" due to lock delay' }])
})

test('tombstones are reaped 15 minutes after their 30 s bin; lock-delays after they end', async (t) => {
  const h = await openCatalog()
  const leader = await electedLeaderTasks(h.catalog, h.store, h.clock)
  t.after(async () => {
    await leader.stop()
    await h.close()
  })
  const c = h.catalog
  await put(c, 'p/a', '1')
  await put(c, 'p/b', '1')
  const d = await c.kvDelete({ key: 'p/b' })
  assert.equal(c.kvRead(kvListQuery('p/')).index, d.index)
  const binEnd = (Math.floor(h.clock.now() / 30_000) + 1) * 30_000
  await h.clock.advance(binEnd + TOMBSTONE_TTL_MS - h.clock.now() - 1)
  await settle()
  assert.ok(c.state.kv.tombstone('p/b') !== undefined, 'kept until its bin is 15 minutes old')
  await h.clock.advance(2)
  await settle()
  assert.equal(c.state.kv.tombstone('p/b'), undefined, 'reaped')
  const a = c.kvRead(kvGetQuery('p/a')).value?.modifyIndex
  assert.equal(c.kvRead(kvListQuery('p/')).index, a, 'after reaping the prefix index may drop')
  await registerNode(c, 'n1')
  const s = await session(c, { lockDelayNs: 3e9 })
  await put(c, 'l', 'x', { kind: 'acquire', session: s })
  await c.sessionDestroy(s)
  assert.ok(c.state.kv.lockDelayUntil('l') !== undefined)
  await h.clock.advance(3_001)
  await settle()
  assert.equal(c.state.kv.lockDelayUntil('l'), undefined, 'an ended lock-delay is deleted')
  assert.equal(leader.tasks.nextPassAt, undefined, 'no reaper timer left when nothing is due')
})

test('a new leader invalidates a session whose TTL expired while no leader ran', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await registerNode(c, 'n1')
  const s = await session(c, { ttl: '10s' })
  await put(c, 'k', 'v', { kind: 'acquire', session: s })
  await h.clock.advance(20_001)
  await settle()
  assert.ok(c.state.kv.session(s) !== undefined, 'no leader: the session stays (its TTL key is gone)')
  assert.deepEqual(c.state.kv.expiredSessions(), [s])
  assert.equal(await c.sessionRenew(s), null, 'an expired session cannot be renewed')
  const leader = await electedLeaderTasks(c, h.store, h.clock)
  t.after(() => leader.stop())
  await settle()
  assert.equal(c.state.kv.session(s), undefined)
  assert.equal(c.kvRead(kvGetQuery('k')).value?.session, '')
})

function hc(node: string, checkId: string, status: Status): CatalogCheckInput {
  return chk(checkId, { node, checkId, status })
}

test('txn node, service and check verbs: set, get, cas, delete-cas, texts; a critical check set invalidates in the txn', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  const node = {
    id: '',
    node: 'n2',
    address: '10.0.0.2',
    datacenter: '',
    taggedAddresses: {},
    meta: { r: 'a' },
  }
  const r = await c.txn([
    { node: { verb: 'set', node, modifyIndex: 0 } },
    { service: { verb: 'set', node: 'n2', service: svc('web', { port: 80 }), modifyIndex: 0 } },
    {
      check: {
        verb: 'set',
        check: hc('n2', 'serfHealth', 'passing'),
        modifyIndex: 0,
      },
    },
    { node: { verb: 'get', node: { ...node, node: 'N2' }, modifyIndex: 0 } },
    kvOp('set', 'k', { value: bytes('v') }),
  ])
  assert.ok(r.ok, r.ok ? '' : r.errors.map((e) => e.what).join('; '))
  assert.equal(r.results.length, 5)
  const first = r.results[0]
  assert.ok(first !== undefined && 'node' in first)
  assert.equal(first.node.node.datacenter, 'dc1')
  assert.equal(first.node.createIndex, r.index)
  assert.equal(c.state.node('n2')?.modifyIndex, r.index, 'node, service, check and KV in one write')
  assert.equal(c.state.service('n2', 'web')?.modifyIndex, r.index)
  const fails = await c.txn([
    { node: { verb: 'get', node: { ...node, node: 'nope' }, modifyIndex: 0 } },
    { node: { verb: 'cas', node, modifyIndex: r.index + 1 } },
    { node: { verb: 'delete-cas', node, modifyIndex: r.index + 1 } },
    { service: { verb: 'get', node: 'n2', service: svc('db'), modifyIndex: 0 } },
    { service: { verb: 'cas', node: 'n2', service: svc('web'), modifyIndex: 0 } },
    {
      check: {
        verb: 'get',
        check: hc('n2', 'nope', 'passing'),
        modifyIndex: 0,
      },
    },
    {
      check: {
        verb: 'delete-cas',
        check: hc('n2', 'serfHealth', 'passing'),
        modifyIndex: 1,
      },
    },
    { node: { verb: 'bogus', node, modifyIndex: 0 } },
    { service: { verb: 'set', node: 'nope', service: svc('x'), modifyIndex: 0 } },
  ])
  assert.ok(!fails.ok)
  assert.deepEqual(fails.errors, [
    { opIndex: 0, what: 'node "nope" doesn\'t exist' },
    { opIndex: 1, what: 'failed to set node "n2", index is stale' },
    { opIndex: 2, what: 'failed to delete node "n2", index is stale' },
    { opIndex: 3, what: 'service "db" on node "n2" doesn\'t exist' },
    { opIndex: 4, what: 'failed to set service "web" on node "n2", index is stale' },
    { opIndex: 5, what: 'check "nope" on node "n2" doesn\'t exist' },
    { opIndex: 6, what: 'failed to delete check "serfHealth" on node "n2", index is stale' },
    { opIndex: 7, what: 'unknown Node verb "bogus"' },
    { opIndex: 8, what: 'failed inserting service: Missing node registration' },
  ])
  const s = await c.sessionCreate({ node: 'n2' })
  await put(c, 'lock', 'x', { kind: 'acquire', session: s.id })
  const crit = await c.txn([
    {
      check: {
        verb: 'set',
        check: hc('n2', 'serfHealth', 'critical'),
        modifyIndex: 0,
      },
    },
  ])
  assert.ok(crit.ok)
  assert.equal(c.state.kv.session(s.id), undefined, 'a txn check set to critical invalidates its sessions')
  assert.equal(c.kvRead(kvGetQuery('lock')).value?.modifyIndex, crit.index)
  const del = await c.txn([{ node: { verb: 'delete-cas', node, modifyIndex: r.index } }])
  assert.ok(del.ok)
  assert.equal(c.state.node('n2'), undefined)
  assert.equal(c.state.service('n2', 'web'), undefined)
})

test('after a store restart every TTL session gets a fresh full timer (re-armed from stored state)', async (t) => {
  const clock = new FakeClock()
  const state = new KvState()
  const store1 = new MemoryStore({ clock, state })
  const c1 = await Catalog.open({ store: store1, prefix: PREFIX, datacenter: 'dc1', clock, random: () => 0 })
  await registerNode(c1, 'n1')
  const s = await session(c1, { ttl: '10s' })
  await put(c1, 'k', 'v', { kind: 'acquire', session: s })
  await clock.advance(15_000)
  await c1.close()
  await store1.close()
  // Reopened from the same state: leases are re-armed with their full 2 × TTL from now.
  const store2 = new MemoryStore({ clock, state })
  const c2 = await Catalog.open({ store: store2, prefix: PREFIX, datacenter: 'dc1', clock, random: () => 0 })
  const leader = await electedLeaderTasks(c2, store2, clock)
  t.after(async () => {
    await leader.stop()
    await c2.close()
    await store2.close()
  })
  await clock.advance(19_999)
  await settle()
  assert.ok(c2.state.kv.session(s) !== undefined, 'still alive 19.999 s after the restart')
  await clock.advance(2)
  await settle()
  assert.equal(c2.state.kv.session(s), undefined, 'expired 2 × TTL after the restart')
  assert.equal(c2.kvRead(kvGetQuery('k')).value?.session, '')
})

test('pitfall 7: two leaders invalidating one expired session release its keys once, in one write', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const other = await Catalog.open({
    store: h.store,
    prefix: PREFIX,
    datacenter: 'dc1',
    clock: h.clock,
    random: () => 0,
  })
  t.after(() => other.close())
  const c = h.catalog
  await registerNode(c, 'n1')
  const s = await session(c, { ttl: '10s' })
  await put(c, 'a', '1', { kind: 'acquire', session: s })
  await put(c, 'b', '2', { kind: 'acquire', session: s })
  await h.clock.advance(20_001)
  await settle()
  const before = c.revision
  const [x, y] = await Promise.all([c.invalidateExpiredSession(s), other.invalidateExpiredSession(s)])
  assert.deepEqual([x, y].sort(), [false, true], 'exactly one invalidation wins')
  assert.equal(c.revision, before + 1, 'one write')
  const a = c.kvRead(kvGetQuery('a')).value
  const b = c.kvRead(kvGetQuery('b')).value
  assert.equal(a?.modifyIndex, before + 1)
  assert.equal(b?.modifyIndex, before + 1, 'both keys released in the same write')
  assert.equal(a.session, '')
})

test('the reaper deletes every due tombstone, in batches', async (t) => {
  const h = await openCatalog()
  const leader = await electedLeaderTasks(h.catalog, h.store, h.clock)
  t.after(async () => {
    await leader.stop()
    await h.close()
  })
  const c = h.catalog
  const keys = Array.from({ length: 250 }, (_, i) => `r/${i}`)
  for (let i = 0; i < keys.length; i += 100) {
    const batch = keys.slice(i, i + 100)
    await c.txn(batch.map((k) => kvOp('set', k, { value: bytes('v') })))
    await c.txn(batch.map((k) => kvOp('delete', k)))
  }
  assert.equal([...c.state.kv.tombstones('r/')].length, 250)
  await h.clock.advance(TOMBSTONE_TTL_MS + 30_001)
  await settle()
  assert.equal([...c.state.kv.tombstones('r/')].length, 0)
})

test('a key deleted and re-created in one txn gets the txn index as CreateIndex, kept by later writes', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  const w = await put(c, 'k', 'v1')
  const r = await c.txn([kvOp('delete', 'k'), kvOp('set', 'k', { value: bytes('v2') }), kvOp('get', 'k')])
  assert.ok(r.ok)
  assert.ok(r.index > w.index)
  assert.equal(kvOf(r.results[1]!).createIndex, r.index)
  let e = c.kvRead(kvGetQuery('k')).value
  assert.equal(e?.createIndex, r.index)
  assert.equal(e.modifyIndex, r.index)
  const again = await put(c, 'k', 'v2')
  assert.equal(c.revision, r.index, 'an identical set changes nothing')
  assert.equal(again.ok, true)
  const w3 = await put(c, 'k', 'v3')
  e = c.kvRead(kvGetQuery('k')).value
  assert.equal(e?.createIndex, r.index, 'CreateIndex kept by a later write')
  assert.equal(e.modifyIndex, w3.index)
  const w4 = await put(c, 'k', 'v4')
  assert.equal(c.kvRead(kvGetQuery('k')).value?.createIndex, r.index)
  assert.equal(c.kvRead(kvGetQuery('k')).value?.modifyIndex, w4.index)
})

test('a value changed and written back within one txn still moves ModifyIndex to the txn index', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await put(c, 'a', 'x')
  const r = await c.txn([kvOp('set', 'a', { value: bytes('y') }), kvOp('set', 'a', { value: bytes('x') })])
  assert.ok(r.ok)
  assert.equal(c.revision, r.index, 'one write')
  assert.equal(c.kvRead(kvGetQuery('a')).value?.modifyIndex, r.index)
  assert.deepEqual(
    r.results.map((x) => kvOf(x).modifyIndex),
    [r.index, r.index],
  )
})
