import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { SnapshotRestoreError } from '../../src/catalog/errors.js'
import { assertNoRestoreFence, restoreIntoEtcd, restoreSnapshot } from '../../src/catalog/snapshot.js'
import type { Snapshot, SnapshotEntry } from '../../src/catalog/snapshot-format.js'
import { openEtcdStore, type EtcdStore } from '../../src/store/etcd.js'
import { startEtcd, type EtcdMember } from '../support/etcd.js'

// A small --max-txn-ops so that a restore of a few dozen keys takes several txns.
const MAX_TXN_OPS = 16
let etcd: EtcdMember

before(async () => {
  etcd = await startEtcd([`--max-txn-ops=${MAX_TXN_OPS}`])
})

after(async () => {
  await etcd.stop()
})

function snapshotOf(index: number, entries: readonly SnapshotEntry[]): Snapshot {
  return {
    header: {
      format: 'vigil-snapshot',
      version: 1,
      id: `${index}-0`,
      datacenter: 'dc1',
      prefix: 'vigil/dc1/',
      index,
      time: '2026-01-01T00:00:00.000Z',
    },
    entries: [...entries].sort((a, b) => (a.key < b.key ? -1 : 1)),
  }
}

function kvEntries(n: number, index: number, tag: string): SnapshotEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `kv/${tag}/${String(i).padStart(3, '0')}`,
    value: `{"value":"${Buffer.from(`${tag}${i}`).toString('base64')}","flags":"0","session":"","lockIndex":0}`,
    createIndex: Math.max(1, index - n + i),
    modifyIndex: Math.max(1, index - n + i),
  }))
}

function open(prefix: string): Promise<EtcdStore> {
  return openEtcdStore({ endpoints: [etcd.endpoint], prefix })
}

test('an offline etcd restore writes every key in bounded txns, all above the snapshot index', async (t) => {
  const prefix = '/t1/dc1/'
  const snap = snapshotOf(5_000, [
    ...kvEntries(40, 5_000, 'a'),
    { key: 'sessions/s1', value: '{"id":"s1","ttl":"10s"}', createIndex: 9, modifyIndex: 9 },
    { key: 'session-ttl/s1', value: '', createIndex: 9, modifyIndex: 9, leaseTtlMs: 20_000 },
  ])
  const done = await restoreIntoEtcd(snap, { endpoints: [etcd.endpoint], prefix })
  assert.equal(done.keys, snap.entries.length)
  assert.ok(done.firstRevision > snap.header.index, `${done.firstRevision} > ${snap.header.index}`)
  assert.ok(done.lastRevision - done.firstRevision >= 2, 'several txns (at most --max-txn-ops puts each)')

  const store = await open(prefix)
  t.after(() => store.close())
  const { kvs } = await store.range(prefix)
  const byKey = new Map(kvs.map((kv) => [kv.key.slice(prefix.length), kv]))
  for (const e of snap.entries) assert.equal(byKey.get(e.key)?.value, e.value, e.key)
  for (const name of ['nodes', 'services', 'checks', 'kvs', 'tombstones', 'sessions'])
    assert.ok(byKey.has(`idx/${name}`), `table entry idx/${name}`)
  assert.ok(!byKey.has('meta/restore'), 'the fence is gone')
  for (const kv of kvs) assert.ok(kv.createRevision > snap.header.index && kv.modRevision > snap.header.index)
  const ttl = byKey.get('session-ttl/s1')
  assert.ok(ttl?.lease != null && (await store.keepAlive(ttl.lease)), 'the TTL key is on a live lease')
  await assertNoRestoreFence(store, prefix)
})

test('a restore that fails half-way leaves a fence servers refuse; the next restore replaces it', async (t) => {
  const prefix = '/t2/dc1/'
  // etcd refuses a request over 1.5 MiB: the batch holding this value fails after earlier ones committed.
  const huge = { key: 'kv/zz/huge', value: 'x'.repeat(2 * 1024 * 1024), createIndex: 50, modifyIndex: 50 }
  const bad = snapshotOf(100, [...kvEntries(40, 100, 'old'), huge])
  await assert.rejects(restoreIntoEtcd(bad, { endpoints: [etcd.endpoint], prefix }))

  const store = await open(prefix)
  t.after(() => store.close())
  const partial = await store.range(prefix)
  assert.ok(partial.kvs.length > 1, 'some batches were written')
  await assert.rejects(assertNoRestoreFence(store, prefix), (err: unknown) => {
    assert.ok(err instanceof SnapshotRestoreError)
    assert.match(err.message, /holds an unfinished snapshot restore .*refusing to start/)
    return true
  })
  await assert.rejects(
    restoreSnapshot(store, prefix, snapshotOf(1, [])),
    /offline snapshot restore is in progress/,
  )

  const good = snapshotOf(100, kvEntries(5, 100, 'new'))
  await restoreIntoEtcd(good, { endpoints: [etcd.endpoint], prefix })
  const { kvs } = await store.range(`${prefix}kv/`)
  assert.deepEqual(
    kvs.map((kv) => kv.key.slice(prefix.length)),
    good.entries.map((e) => e.key),
    'nothing of the failed restore is left',
  )
  await assertNoRestoreFence(store, prefix)
})

test('an offline etcd restore into a prefix that holds a catalog is refused and changes nothing', async (t) => {
  const prefix = '/t3/dc1/'
  const store = await open(prefix)
  t.after(() => store.close())
  await store.txn({ compare: [], success: [{ type: 'put', key: `${prefix}nodes/live`, value: '{}' }] })
  const before = await store.range(prefix)
  await assert.rejects(
    restoreIntoEtcd(snapshotOf(1, kvEntries(3, 3, 'a')), { endpoints: [etcd.endpoint], prefix }),
    /etcd prefix \/t3\/dc1\/ already holds 1 keys; restore into an empty prefix/,
  )
  assert.deepEqual((await store.range(prefix)).kvs, before.kvs)
})

test('an online restore too large for one etcd txn is refused whole; a small one is one revision', async (t) => {
  const prefix = '/t4/dc1/'
  const store = await open(prefix)
  t.after(() => store.close())
  for (let i = 0; i < 3; i++)
    await store.txn({ compare: [], success: [{ type: 'put', key: `${prefix}kv/mine/${i}`, value: '{}' }] })
  const before = await store.range(prefix)
  await assert.rejects(
    restoreSnapshot(store, prefix, snapshotOf(1, kvEntries(30, 30, 'a'))),
    (err: unknown) => {
      assert.ok(err instanceof SnapshotRestoreError)
      assert.match(err.message, /too large for one transaction of this store: .*nothing was restored/)
      return true
    },
  )
  assert.deepEqual((await store.range(prefix)).kvs, before.kvs)

  const small = snapshotOf(1, kvEntries(1, 1, 'b'))
  const rev = await restoreSnapshot(store, prefix, small)
  const { kvs } = await store.range(prefix)
  assert.deepEqual(
    kvs.filter((kv) => kv.key.startsWith(`${prefix}kv/`)).map((kv) => kv.key.slice(prefix.length)),
    small.entries.map((e) => e.key),
  )
  for (const kv of kvs) assert.equal(kv.modRevision, rev, 'every row at the restore revision')
})
