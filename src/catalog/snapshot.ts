/**
 * Taking and restoring a datacenter's catalog (docs/snapshot.md, Consul's `/v1/snapshot`).
 *
 * - `takeSnapshot`: one `range` of the catalog prefix, so every row is read at one revision; that
 *   revision is the snapshot's index (the highest index any client can have seen).
 * - `restoreSnapshot` (online, `PUT /v1/snapshot`): one store txn that deletes the prefix and puts
 *   every row, so readers and watchers see the old catalog or the new one, never a mix; a txn the
 *   store refuses (too large for etcd) changes nothing. Every restored row, and every table entry
 *   of the index table, is written at that txn's revision, which must be above the snapshot's
 *   index: a store still below it is refused (restore offline instead).
 * - `restoreIntoEtcd` (offline, `vigil snapshot restore -store etcd`): into an empty etcd prefix
 *   opened with `minRevision` above the snapshot's index, in bounded txns behind a fence key
 *   (`<prefix>meta/restore`): a server refuses to open a prefix holding it, and a second restore
 *   clears what an interrupted one left.
 * - The embedded store is restored offline by `createEmbeddedStore` (one atomic file), keeping
 *   every row's indexes as they were.
 */
import { parseGoDurationMs } from '../lib/duration.js'
import { openEtcdStore, type EtcdStore, type EtcdStoreOptions } from '../store/etcd.js'
import type { StateSnapshot } from '../store/kv-state.js'
import {
  TxnTooLargeError,
  type KeyValue,
  type LeaseId,
  type Op,
  type Revision,
  type Store,
} from '../store/store.js'
import { SnapshotRestoreError } from './errors.js'
import { IDX_CHECKS, IDX_KVS, IDX_NODES, IDX_SERVICES, IDX_SESSIONS, IDX_TOMBSTONES } from './keys.js'
import {
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  decodeSnapshot,
  encodeSnapshot,
  type Snapshot,
  type SnapshotEntry,
} from './snapshot-format.js'

/** Store metadata under the prefix (`meta/epoch`, `meta/restore`): never part of a snapshot. */
const META = 'meta/'
/** The fence an offline restore holds while it writes in several txns. */
export const RESTORE_FENCE = 'meta/restore'

/**
 * The index-table entries every restore writes (at the restore's revision), present in the
 * snapshot or not: a query whose entry is absent falls back to them, so no index a client has
 * seen from the store before the restore can be above what it reads after.
 */
const TABLE_ENTRIES = [IDX_NODES, IDX_SERVICES, IDX_CHECKS, IDX_KVS, IDX_TOMBSTONES, IDX_SESSIONS]

/** The prefix with its trailing slash, as CatalogKeys uses it. */
function rootOf(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`
}

/** What `/v1/snapshot` needs of a server. */
export interface SnapshotPort {
  /** The datacenter's catalog at one revision, encoded; `index` is that revision. */
  save(): Promise<Readonly<{ bytes: Buffer; index: number }>>
  /** Verifies and restores a snapshot file's bytes; resolves with the restore's revision. */
  restore(bytes: Buffer): Promise<Revision>
}

/** The snapshot port of a server's store. */
export function snapshotPort(
  opts: Readonly<{ store: Store; prefix: string; datacenter: string; now: () => number }>,
): SnapshotPort {
  return {
    save: async () => {
      const snap = await takeSnapshot(opts.store, opts)
      return { bytes: await encodeSnapshot(snap), index: snap.header.index }
    },
    restore: async (bytes) => restoreSnapshot(opts.store, opts.prefix, await decodeSnapshot(bytes)),
  }
}

/**
 * Reads the catalog under `prefix` at one revision. A key on a lease (a session's TTL key) carries
 * the lease's TTL — twice its session's TTL — so a restore can put it on a fresh lease; any other
 * leased key is left out (the catalog writes none).
 */
export async function takeSnapshot(
  store: Store,
  opts: Readonly<{ prefix: string; datacenter: string; now: () => number }>,
): Promise<Snapshot> {
  const prefix = rootOf(opts.prefix)
  const { kvs, revision } = await store.range(prefix)
  const byKey = new Map<string, KeyValue>()
  for (const kv of kvs) byKey.set(kv.key.slice(prefix.length), kv)
  const entries: SnapshotEntry[] = []
  for (const [key, kv] of byKey) {
    if (key.startsWith(META)) continue
    const entry = { key, value: kv.value, createIndex: kv.createRevision, modifyIndex: kv.modRevision }
    if (kv.lease === null) {
      entries.push(entry)
      continue
    }
    const ttlMs = sessionLeaseTtlMs(key, byKey)
    if (ttlMs !== undefined) entries.push({ ...entry, leaseTtlMs: ttlMs })
  }
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const now = opts.now()
  return {
    header: {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      id: `${revision}-${now}`,
      datacenter: opts.datacenter,
      prefix,
      index: revision,
      time: new Date(now).toISOString(),
    },
    entries,
  }
}

/** `session-ttl/<id>` lives on a lease of 2 × its session's TTL (catalog.ts sessionCreate). */
function sessionLeaseTtlMs(key: string, byKey: ReadonlyMap<string, KeyValue>): number | undefined {
  if (!key.startsWith('session-ttl/')) return undefined
  const session = byKey.get(`sessions/${key.slice('session-ttl/'.length)}`)
  if (session === undefined) return undefined
  try {
    const { ttl } = JSON.parse(session.value) as { ttl?: unknown }
    if (typeof ttl !== 'string' || ttl === '') return undefined
    const ms = parseGoDurationMs(ttl)
    return ms > 0 ? 2 * ms : undefined
  } catch {
    return undefined
  }
}

/** The puts of a restore: every entry, then every table entry of the index table it lacks. */
function restoreOps(
  prefix: string,
  snap: Snapshot,
  leases: ReadonlyMap<string, LeaseId>,
): Extract<Op, { type: 'put' }>[] {
  const ops: Extract<Op, { type: 'put' }>[] = []
  const present = new Set<string>()
  for (const e of snap.entries) {
    present.add(e.key)
    const lease = leases.get(e.key)
    ops.push(
      lease === undefined
        ? { type: 'put', key: prefix + e.key, value: e.value }
        : { type: 'put', key: prefix + e.key, value: e.value, lease },
    )
  }
  for (const name of TABLE_ENTRIES) {
    if (!present.has(`idx/${name}`)) ops.push({ type: 'put', key: `${prefix}idx/${name}`, value: '' })
  }
  return ops
}

async function grantLeases(store: Store, entries: readonly SnapshotEntry[]): Promise<Map<string, LeaseId>> {
  const leases = new Map<string, LeaseId>()
  try {
    for (const e of entries)
      if (e.leaseTtlMs !== undefined) leases.set(e.key, await store.grantLease(e.leaseTtlMs))
  } catch (err) {
    await revokeAll(store, leases.values())
    throw err
  }
  return leases
}

async function revokeAll(store: Store, leases: Iterable<LeaseId>): Promise<void> {
  for (const lease of new Set(leases)) await store.revokeLease(lease).catch(() => undefined)
}

/**
 * Replaces the catalog under `prefix` with the snapshot's, in one txn (see the file comment).
 * Throws SnapshotRestoreError, changing nothing, when the store's revision is below the
 * snapshot's index or the store refuses a txn that large.
 */
export async function restoreSnapshot(
  store: Store,
  catalogPrefix: string,
  snap: Snapshot,
): Promise<Revision> {
  const prefix = rootOf(catalogPrefix)
  const before = await store.range(prefix)
  if (before.revision < snap.header.index) {
    throw new SnapshotRestoreError(
      `snapshot index ${snap.header.index} is above this server's index ${before.revision}: restoring it here ` +
        'would move indexes backwards; restore it offline into an empty data dir or etcd prefix ' +
        '(vigil snapshot restore -data-dir DIR | -store etcd …) and start the server on that',
    )
  }
  if (before.kvs.some((kv) => kv.key === prefix + RESTORE_FENCE)) {
    throw new SnapshotRestoreError('an offline snapshot restore is in progress on this store')
  }
  const leases = await grantLeases(store, snap.entries)
  const ops: Op[] = [{ type: 'deletePrefix', prefix }, ...restoreOps(prefix, snap, leases)]
  let revision: Revision
  try {
    revision = (await store.txn({ compare: [], success: ops })).revision
  } catch (err) {
    await revokeAll(store, leases.values())
    if (err instanceof TxnTooLargeError) {
      throw new SnapshotRestoreError(
        `snapshot of ${snap.entries.length} keys is too large for one transaction of this store: ${err.message}; ` +
          'nothing was restored (restore it offline into an empty etcd prefix with vigil snapshot restore -store etcd)',
        { cause: err },
      )
    }
    throw err
  }
  // The replaced sessions' leases hold no key any more; let them go now rather than at expiry.
  await revokeAll(
    store,
    before.kvs.flatMap((kv) => (kv.lease === null ? [] : [kv.lease])),
  )
  return revision
}

/** Refuses a prefix that an offline restore is still writing (or left half-written). */
export async function assertNoRestoreFence(store: Store, catalogPrefix: string): Promise<void> {
  const prefix = rootOf(catalogPrefix)
  const { kvs } = await store.range(prefix + RESTORE_FENCE)
  const fence = kvs.find((kv) => kv.key === prefix + RESTORE_FENCE)
  if (fence !== undefined) {
    throw new SnapshotRestoreError(
      `The catalog at ${prefix} holds an unfinished snapshot restore (${fence.value}); ` +
        'refusing to start: run vigil snapshot restore into it again, or delete the prefix',
    )
  }
}

/** Where an offline restore went, for its report. */
export interface OfflineRestore {
  readonly keys: number
  /** The lowest and highest revision the restored rows were written at. */
  readonly firstRevision: Revision
  readonly lastRevision: Revision
}

/** At most this many bytes of keys and values per txn (etcd takes 1.5 MiB per request). */
const BATCH_BYTES = 1024 * 1024

/**
 * Restores into an etcd prefix that holds no catalog (or only what an interrupted restore into it
 * left). The store is opened with `minRevision` = index + 1, so every row's CreateIndex and
 * ModifyIndex is above the snapshot's index. Rows go in txns of at most `--max-txn-ops` puts and
 * 1 MiB, each comparing the fence key, which the first txn creates and the last one deletes.
 */
export async function restoreIntoEtcd(
  snap: Snapshot,
  opts: Omit<EtcdStoreOptions, 'minRevision'>,
): Promise<OfflineRestore> {
  const prefix = rootOf(opts.prefix)
  const store: EtcdStore = await openEtcdStore({ ...opts, prefix, minRevision: snap.header.index + 1 })
  try {
    const existing = await store.range(prefix)
    if (existing.kvs.length > 0) {
      if (!existing.kvs.some((kv) => kv.key === prefix + RESTORE_FENCE)) {
        throw new SnapshotRestoreError(
          `etcd prefix ${prefix} already holds ${existing.kvs.length} keys; restore into an empty prefix ` +
            '(stop the servers using it and delete the prefix first)',
        )
      }
      // An interrupted restore: nothing in it was ever served (servers refuse the fence).
      await store.txn({ compare: [], success: [{ type: 'deletePrefix', prefix }] })
      await revokeAll(
        store,
        existing.kvs.flatMap((kv) => (kv.lease === null ? [] : [kv.lease])),
      )
    }
    const fenceKey = prefix + RESTORE_FENCE
    const fenceValue = JSON.stringify({ snapshot: snap.header.id, started: new Date().toISOString() })
    const fenced = await store.txn({
      compare: [{ key: fenceKey, target: 'version', op: '=', value: 0 }],
      success: [{ type: 'put', key: fenceKey, value: fenceValue }],
    })
    if (!fenced.succeeded) throw new SnapshotRestoreError(`another restore into ${prefix} started meanwhile`)
    const leases = await grantLeases(store, snap.entries)
    const ops = restoreOps(prefix, snap, leases)
    const guard = [{ key: fenceKey, target: 'value', op: '=', value: fenceValue }] as const
    const maxOps = Math.max(1, store.maxTxnOps)
    let first = 0
    let last = 0
    for (let i = 0; i < ops.length;) {
      const batch: Op[] = []
      let bytes = 0
      while (i < ops.length && batch.length < maxOps) {
        const op = ops[i]
        if (op === undefined) break
        const size = op.key.length + op.value.length
        if (batch.length > 0 && bytes + size > BATCH_BYTES) break
        batch.push(op)
        bytes += size
        i++
      }
      const res = await store.txn({ compare: guard, success: batch })
      if (!res.succeeded) throw new SnapshotRestoreError(`the restore fence at ${fenceKey} was taken away`)
      if (first === 0) first = res.revision
      last = res.revision
    }
    const done = await store.txn({ compare: guard, success: [{ type: 'delete', key: fenceKey }] })
    if (!done.succeeded) throw new SnapshotRestoreError(`the restore fence at ${fenceKey} was taken away`)
    return { keys: snap.entries.length, firstRevision: first, lastRevision: last }
  } finally {
    await store.close()
  }
}

/**
 * The embedded store's state for a snapshot: every row keeps its CreateIndex and ModifyIndex,
 * the store's revision is the snapshot's index + 1 (the restore itself), table entries of the
 * index table it lacks are written at that revision, and leased keys get fresh leases.
 */
export function embeddedState(snap: Snapshot, catalogPrefix: string): StateSnapshot {
  const prefix = rootOf(catalogPrefix)
  const revision = snap.header.index + 1
  const leases: { id: LeaseId; ttlMs: number }[] = []
  const kvs: KeyValue[] = []
  for (const e of snap.entries) {
    let lease: LeaseId | null = null
    if (e.leaseTtlMs !== undefined) {
      lease = String(leases.length + 1)
      leases.push({ id: lease, ttlMs: e.leaseTtlMs })
    }
    kvs.push({
      key: prefix + e.key,
      value: e.value,
      createRevision: e.createIndex,
      modRevision: e.modifyIndex,
      version: 1,
      lease,
    })
  }
  const present = new Set(snap.entries.map((e) => e.key))
  for (const name of TABLE_ENTRIES) {
    if (present.has(`idx/${name}`)) continue
    kvs.push({
      key: `${prefix}idx/${name}`,
      value: '',
      createRevision: revision,
      modRevision: revision,
      version: 1,
      lease: null,
    })
  }
  return { revision, nextLease: leases.length + 1, kvs, leases }
}
