import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import { SnapshotInvalidError, SnapshotRestoreError } from '../../src/catalog/errors.js'
import { kvGetQuery, kvListQuery } from '../../src/catalog/kv-queries.js'
import { embeddedState, restoreSnapshot, takeSnapshot } from '../../src/catalog/snapshot.js'
import { decodeSnapshot, encodeSnapshot, type Snapshot } from '../../src/catalog/snapshot-format.js'
import { Catalog } from '../../src/catalog/catalog.js'
import { formatInspect } from '../../src/cli/snapshot-command.js'
import { createEmbeddedStore, openEmbeddedStore, StoreOpenError } from '../../src/store/embedded.js'
import { MemoryStore } from '../../src/store/memory.js'
import type { WatchBatch } from '../../src/store/store.js'
import { openCatalog, PREFIX, settle } from '../support/catalog.js'
import { FakeClock } from '../support/fake-clock.js'
import { put, registerNode } from '../support/kv.js'

const NOW = () => Date.UTC(2026, 0, 2, 3, 4, 5)

function sample(): Snapshot {
  return {
    header: {
      format: 'vigil-snapshot',
      version: 1,
      id: '42-1767322945000',
      datacenter: 'dc1',
      prefix: 'vigil/dc1/',
      index: 42,
      time: '2026-01-02T03:04:05.000Z',
    },
    entries: [
      { key: 'idx/kvs', value: '', createIndex: 3, modifyIndex: 40 },
      { key: 'kv/a/b', value: '{"value":"aGk="}', createIndex: 3, modifyIndex: 40 },
      { key: 'kv/ü/\n', value: 'line\nbreak "quoted"', createIndex: 41, modifyIndex: 42 },
      { key: 'session-ttl/s1', value: '', createIndex: 7, modifyIndex: 7, leaseTtlMs: 20_000 },
    ],
  }
}

/** Re-compresses an altered uncompressed body (gzip's own CRC stays valid: only the digest can tell). */
function alter(bytes: Buffer, edit: (text: string) => string): Buffer {
  return gzipSync(Buffer.from(edit(gunzipSync(bytes).toString('utf8')), 'utf8'))
}

async function refused(bytes: Buffer, message: RegExp): Promise<void> {
  await assert.rejects(decodeSnapshot(bytes), (err: unknown) => {
    assert.ok(err instanceof SnapshotInvalidError, String(err))
    assert.equal(err.statusCode, 500)
    assert.match(err.message, message)
    return true
  })
}

test('snapshot format round-trips the header and every entry, odd keys and values included', async () => {
  const snap = sample()
  const bytes = await encodeSnapshot(snap)
  assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b], 'a gzip stream')
  assert.deepEqual(await decodeSnapshot(bytes), snap)
  const empty = { ...snap, entries: [] }
  assert.deepEqual(await decodeSnapshot(await encodeSnapshot(empty)), empty)
})

test('snapshot decode refuses a body that is not gzip, is truncated, or is empty', async () => {
  const bytes = await encodeSnapshot(sample())
  await refused(Buffer.from('not a snapshot'), /^failed to decompress snapshot: gzip: invalid header$/)
  await refused(Buffer.alloc(0), /^failed to decompress snapshot: EOF$/)
  for (const cut of [bytes.length - 1, bytes.length - 8, Math.floor(bytes.length / 2), 12]) {
    await refused(bytes.subarray(0, cut), /^failed to decompress snapshot: /)
  }
  // Cut inside the uncompressed stream, then validly re-compressed: the end record is missing.
  await refused(
    alter(bytes, (t) => t.slice(0, t.lastIndexOf('{"end"'))),
    /failed to read snapshot file: the snapshot is truncated/,
  )
})

test('snapshot decode refuses a flipped byte, an altered value, a dropped entry and a wrong count', async () => {
  const bytes = await encodeSnapshot(sample())
  const flipped = Buffer.from(bytes)
  const at = Math.floor(flipped.length / 2)
  flipped[at] = (flipped[at] ?? 0) ^ 0xff
  await assert.rejects(decodeSnapshot(flipped), SnapshotInvalidError)
  await refused(
    alter(bytes, (t) => t.replace('aGk=', 'aGl=')),
    /failed to read snapshot file: failed checking integrity of snapshot: SHA-256 mismatch/,
  )
  await refused(
    alter(bytes, (t) => t.replace(/\{"k":"kv\/a\/b"[^\n]*\n/, '')),
    /SHA-256 mismatch/,
  )
  await refused(
    alter(bytes, (t) => t.replace('"keys":4', '"keys":5')),
    /SHA-256 mismatch|end record says 5/,
  )
})

test('snapshot decode refuses a Consul snapshot, another format and a newer version', async () => {
  // A Consul snapshot is a gzip'd tar whose first member is meta.json.
  const tar = Buffer.alloc(1024)
  tar.write('meta.json', 0)
  await refused(gzipSync(tar), /this is a Consul snapshot; vigil restores only snapshots taken by vigil/)
  const bytes = await encodeSnapshot(sample())
  await refused(
    alter(bytes, (t) => t.replace('"version":1', '"version":2')),
    /unsupported snapshot version 2/,
  )
  await refused(gzipSync(Buffer.from('{"format":"other"}\n')), /not a vigil snapshot/)
})

test('takeSnapshot reads the catalog at one revision; a session TTL key carries 2 × the TTL', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  await registerNode(h.catalog, 'n1')
  await put(h.catalog, 'app/config', 'v1')
  await h.catalog.sessionCreate({ node: 'n1', ttl: '15s', name: 'locker' })
  const snap = await takeSnapshot(h.store, { prefix: PREFIX, datacenter: 'dc1', now: NOW })
  assert.equal(snap.header.index, await h.store.revision())
  assert.equal(snap.header.prefix, 'vigil/dc1/')
  assert.equal(snap.header.time, '2026-01-02T03:04:05.000Z')
  const keys = snap.entries.map((e) => e.key)
  assert.deepEqual(keys, [...keys].sort(), 'sorted by key')
  assert.ok(keys.includes('nodes/n1') && keys.includes('kv/app/config') && keys.includes('idx/kvs'))
  const ttl = snap.entries.filter((e) => e.key.startsWith('session-ttl/'))
  assert.equal(ttl.length, 1)
  assert.equal(ttl[0]?.leaseTtlMs, 30_000)
  for (const e of snap.entries) assert.ok(e.modifyIndex <= snap.header.index)
})

test('an online restore replaces the catalog in one revision above every index seen before', async (t) => {
  const src = await openCatalog()
  t.after(() => src.close())
  await registerNode(src.catalog, 'n1')
  await put(src.catalog, 'app/config', 'v1')
  await src.catalog.sessionCreate({ node: 'n1', ttl: '15s' })
  const snap = await decodeSnapshot(
    await encodeSnapshot(await takeSnapshot(src.store, { prefix: PREFIX, datacenter: 'dc1', now: NOW })),
  )

  const dst = await openCatalog()
  t.after(() => dst.close())
  await registerNode(dst.catalog, 'other')
  for (let i = 0; i < snap.header.index + 3; i++) await put(dst.catalog, `other/${i}`, String(i))
  const seenKv = dst.catalog.kvRead(kvListQuery('')).index
  const batches: WatchBatch[] = []
  const watch = dst.store.watch(PREFIX, (await dst.store.revision()) + 1, {
    onBatch: (b) => batches.push(b),
    onCancel: () => undefined,
  })
  t.after(() => watch.close())

  const revision = await restoreSnapshot(dst.store, PREFIX, snap)
  await settle()
  assert.equal(batches.length, 1, 'one revision: readers see the old catalog or the new one')
  assert.equal(batches[0]?.revision, revision)
  assert.ok(revision > snap.header.index && revision > seenKv)
  assert.equal(dst.catalog.kvRead(kvGetQuery('app/config')).value?.modifyIndex, revision)
  assert.equal(dst.catalog.kvRead(kvGetQuery('other/0')).value, null, 'the old catalog is gone')
  assert.ok(dst.catalog.kvRead(kvListQuery('other/')).index >= seenKv, 'a KV list index never goes back')
  const { kvs } = await dst.store.range(`${PREFIX}/session-ttl/`)
  assert.equal(kvs.length, 1)
  assert.notEqual(kvs[0]?.lease, null, 'the session TTL key is on a fresh lease')
})

test('an online restore into a store below the snapshot index is refused and changes nothing', async (t) => {
  const src = await openCatalog()
  t.after(() => src.close())
  for (let i = 0; i < 5; i++) await put(src.catalog, `k${i}`, 'x')
  const snap = await takeSnapshot(src.store, { prefix: PREFIX, datacenter: 'dc1', now: NOW })
  const dst = await openCatalog()
  t.after(() => dst.close())
  await put(dst.catalog, 'mine', 'y')
  const before = await dst.store.range('')
  await assert.rejects(restoreSnapshot(dst.store, PREFIX, snap), (err: unknown) => {
    assert.ok(err instanceof SnapshotRestoreError)
    assert.match(
      err.message,
      /snapshot index \d+ is above this server's index \d+: restoring it here would move indexes backwards/,
    )
    return true
  })
  assert.deepEqual(await dst.store.range(''), before)
})

test('an embedded data dir restored offline keeps every row index and serves the same catalog', async (t) => {
  const src = await openCatalog()
  t.after(() => src.close())
  await registerNode(src.catalog, 'n1')
  await put(src.catalog, 'app/config', 'v1')
  await src.catalog.sessionCreate({ node: 'n1', ttl: '15s' })
  const snap = await takeSnapshot(src.store, { prefix: PREFIX, datacenter: 'dc1', now: NOW })
  const dir = await mkdtemp(join(tmpdir(), 'vigil-snapshot-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const storeDir = join(dir, 'catalog')
  await createEmbeddedStore(storeDir, embeddedState(snap, PREFIX))
  await assert.rejects(createEmbeddedStore(storeDir, embeddedState(snap, PREFIX)), (err: unknown) => {
    assert.ok(err instanceof StoreOpenError)
    assert.match(err.message, /already holds a catalog \(snap-1\); restore into an empty data dir/)
    return true
  })

  const clock = new FakeClock()
  const store = await openEmbeddedStore(storeDir, { clock })
  const catalog = await Catalog.open({ store, prefix: PREFIX, datacenter: 'dc1', clock, random: () => 0 })
  t.after(async () => {
    await catalog.close()
    await store.close()
  })
  assert.equal(await store.revision(), snap.header.index + 1)
  const a = src.catalog.kvRead(kvGetQuery('app/config'))
  const b = catalog.kvRead(kvGetQuery('app/config'))
  assert.deepEqual(b.value, a.value, 'same entry, same CreateIndex and ModifyIndex')
  assert.equal(b.index, a.index)
  const leased = (await store.range(`${PREFIX}/session-ttl/`)).kvs
  assert.equal(leased.length, 1)
  assert.ok(leased[0]?.lease !== null && (await store.keepAlive(leased[0]?.lease ?? '')), 'a live lease')
  const w = await put(catalog, 'after', 'z')
  assert.ok(w.index > snap.header.index, 'the next write is above the snapshot index')
})

test('snapshot inspect prints Consul-shaped columns with the row counts per table', () => {
  const out = formatInspect(sample(), 321)
  const lines = out.split('\n')
  assert.equal(lines[0], ' ID              42-1767322945000')
  assert.equal(lines[1], ' Size            321')
  assert.equal(lines[2], ' Index           42')
  assert.equal(lines[5], ' Version         1')
  assert.equal(lines[6], '')
  assert.match(lines[7] ?? '', /^ Type {6,}Count {6,}Size {6,}$/)
  assert.ok(lines.some((l) => /^ KVS +2 +\d+B +$/.test(l)))
  assert.match(lines.at(-1) ?? '', /^ Total +\d+B +$/)
})

test('a memory store is a valid snapshot target: restore of an empty snapshot moves every table index', async (t) => {
  const clock = new FakeClock()
  const store = new MemoryStore({ clock })
  t.after(() => store.close())
  const empty = sample()
  const snap: Snapshot = { header: { ...empty.header, index: 1 }, entries: [] }
  const rev = await restoreSnapshot(store, PREFIX, snap)
  const { kvs } = await store.range(`${PREFIX}/idx/`)
  assert.deepEqual(
    kvs.map((kv) => [kv.key.slice(`${PREFIX}/idx/`.length), kv.modRevision]),
    ['checks', 'kvs', 'nodes', 'services', 'sessions', 'tombstones'].map((n) => [n, rev]),
  )
})
