/**
 * Consul's KV rules (consul `agent/consul/state/kvs.go` kvsSetTxn, kvsSetCASTxn, kvsLockTxn,
 * kvsUnlockTxn, kvsDeleteTxn, kvsDeleteCASTxn, kvsDeleteTreeTxn; `kvs_endpoint.go` kvsPreApply
 * for the lock-delay) as operations on a planner `Draft`. Several operations on one draft fold
 * into one write per key (etcd refuses two writes to a key in one txn), and each operation sees
 * the ones before it, as in one Raft apply.
 *
 * Indexes: a key the draft writes gets the commit's revision, unknown while planning; it is
 * `PENDING` in what an operation returns and resolved by `resolveEntry` once committed.
 */
import type { Compare } from '../store/store.js'
import { KvRequestError } from './errors.js'
import { IDX_KVS, IDX_TOMBSTONES } from './keys.js'
import { parseFlags, type StoredKvEntry, type StoredSession } from './kv-tables.js'
import type { KvDeleteRequest, KvEntry, KvPutRequest } from './kv-types.js'
import type { Draft, Plan } from './planner.js'

/** The index of a row the draft writes: the commit's revision. */
export const PENDING = -1

/** A write planned against the view: what to send, and its answer once committed at a revision. */
export interface PlannedWrite<R> {
  readonly plan: Plan
  /** Compares that must still hold for the answer to be true when the plan writes nothing. */
  readonly reads: readonly Compare[]
  result(revision: number): R
}

export interface KvContext {
  /** The leader's wall clock (lock-delays, tombstone times). */
  readonly now: number
  readonly maxValueSize: number
}

/** Go's `%q` for the texts Consul formats. */
export function q(s: string): string {
  return JSON.stringify(s)
}

function encodeValue(value: Uint8Array | null): string | null {
  return value === null || value.length === 0 ? null : Buffer.from(value).toString('base64')
}

/** A KV entry as the draft leaves it; indexes of written rows are `PENDING`. */
export function readEntry(d: Draft, key: string): KvEntry | undefined {
  const stored = d.value(d.keys.kv(key)) as StoredKvEntry | undefined
  if (stored === undefined) return undefined
  const base = d.state.kv.entry(key)
  const recreated = d.written(d.keys.kv(key)) && stored.created !== undefined
  return {
    key,
    value: stored.value,
    flags: parseFlags(stored.flags),
    session: stored.session,
    lockIndex: stored.lockIndex,
    createIndex: recreated ? stored.created || PENDING : (base?.createIndex ?? PENDING),
    modifyIndex: d.written(d.keys.kv(key)) ? PENDING : (base?.modifyIndex ?? PENDING),
  }
}

/** The entry with `PENDING` indexes replaced by the commit's revision. */
export function resolveEntry(e: KvEntry, revision: number, withValue: boolean): KvEntry {
  return Object.freeze({
    ...e,
    value: withValue ? e.value : null,
    createIndex: e.createIndex === PENDING ? revision : e.createIndex,
    modifyIndex: e.modifyIndex === PENDING ? revision : e.modifyIndex,
  })
}

/**
 * Writes an entry unless nothing visible changes (value, flags, holder, LockIndex). CreateIndex is
 * carried explicitly where the key's createRevision will not give it (see `StoredKvEntry.created`).
 */
function write(d: Draft, key: string, next: Omit<StoredKvEntry, 'created'>): void {
  const cur = readEntry(d, key)
  if (
    cur !== undefined &&
    cur.value === next.value &&
    cur.flags.toString() === next.flags &&
    cur.session === next.session &&
    cur.lockIndex === next.lockIndex
  ) {
    return
  }
  const rowKey = d.keys.kv(key)
  const stored = d.value(rowKey) as StoredKvEntry | undefined
  let created: number | undefined
  if (stored === undefined) created = d.state.kv.entry(key) !== undefined ? 0 : undefined
  else if (d.written(rowKey)) created = stored.created
  else created = stored.created === undefined ? undefined : cur?.createIndex
  // Always put: a value written back to its stored text within a txn still moved (Consul: index i).
  if (d.put(rowKey, created === undefined ? next : { ...next, created }, true)) d.touchIdx(IDX_KVS)
}

function tombstone(d: Draft, key: string, now: number): void {
  d.put(d.keys.tomb(key), { at: now }, true)
  d.touchIdx(IDX_TOMBSTONES)
}

/** A session as the draft leaves it. */
export function readSession(d: Draft, id: string): StoredSession | undefined {
  return d.value(d.keys.session(id)) as StoredSession | undefined
}

export function checkValueSize(key: string, value: Uint8Array | null, max: number, forTxn: boolean): void {
  const n = value?.length ?? 0
  if (n <= max) return
  throw new KvRequestError(
    413,
    forTxn
      ? `Value for key ${q(key)} is too large (${n} > ${max} bytes)`
      : `Request body(${n} bytes) too large, max size: ${max} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.`,
  )
}

/** `set`: creates or replaces value and flags; a lock holder is kept. */
export function kvSet(d: Draft, key: string, value: Uint8Array | null, flags: bigint): void {
  const cur = readEntry(d, key)
  write(d, key, {
    value: encodeValue(value),
    flags: flags.toString(),
    session: cur?.session ?? '',
    lockIndex: cur?.lockIndex ?? 0,
  })
}

/** `cas`: index 0 creates only; otherwise only when the entry's ModifyIndex is `index`. */
export function kvCas(
  d: Draft,
  key: string,
  value: Uint8Array | null,
  flags: bigint,
  index: number,
): boolean {
  const cur = readEntry(d, key)
  if (index === 0 ? cur !== undefined : cur?.modifyIndex !== index) return false
  kvSet(d, key, value, flags)
  return true
}

export type LockOutcome = 'ok' | 'held' | 'lock-delay'

/**
 * `acquire`: refused during a lock-delay (whatever the session), then `missing session` /
 * `invalid session` (thrown, 500), then refused when another session holds the key. A new holder
 * increments LockIndex; the holder re-acquiring keeps it.
 */
export function kvLock(
  d: Draft,
  key: string,
  value: Uint8Array | null,
  flags: bigint,
  session: string,
  now: number,
): LockOutcome {
  const delay = d.value(d.keys.lockDelay(key)) as { until?: number } | undefined
  if (delay?.until !== undefined && delay.until > now) return 'lock-delay'
  if (session === '') throw new KvRequestError(500, 'missing session')
  if (readSession(d, session) === undefined) throw new KvRequestError(500, `invalid session ${q(session)}`)
  const cur = readEntry(d, key)
  let lockIndex: number
  if (cur === undefined) lockIndex = 1
  else if (cur.session === session) lockIndex = cur.lockIndex
  else if (cur.session !== '') return 'held'
  else lockIndex = cur.lockIndex + 1
  write(d, key, { value: encodeValue(value), flags: flags.toString(), session, lockIndex })
  return 'ok'
}

/** `release`: only by the holder; clears the holder, keeps LockIndex, writes value and flags. */
export function kvUnlock(
  d: Draft,
  key: string,
  value: Uint8Array | null,
  flags: bigint,
  session: string,
): boolean {
  if (session === '') throw new KvRequestError(500, 'missing session')
  const cur = readEntry(d, key)
  if (cur?.session !== session) return false
  write(d, key, { value: encodeValue(value), flags: flags.toString(), session: '', lockIndex: cur.lockIndex })
  return true
}

/** Deletes a key (a missing key is fine) and leaves its tombstone. */
export function kvDelete(d: Draft, key: string, now: number): void {
  if (readEntry(d, key) === undefined) return
  d.delete(d.keys.kv(key))
  d.touchIdx(IDX_KVS)
  tombstone(d, key, now)
}

/** `delete-cas`: only when ModifyIndex is `index`; a missing key counts as success. */
export function kvDeleteCas(d: Draft, key: string, index: number, now: number): boolean {
  const cur = readEntry(d, key)
  if (cur === undefined) return true
  if (cur.modifyIndex !== index) return false
  kvDelete(d, key, now)
  return true
}

/** The keys under a prefix as the draft leaves them, in key order (compares the kvs index). */
export function keysUnder(d: Draft, prefix: string): string[] {
  d.readIdx(IDX_KVS) // enumerated: a key created concurrently under the prefix fails the txn
  const keys = new Set<string>()
  for (const e of d.state.kv.entries(prefix)) keys.add(e.key)
  const rowPrefix = d.keys.kv(prefix)
  const root = d.keys.kv('')
  for (const [k, v] of d.pendingWrites())
    if (v !== null && k.startsWith(rowPrefix)) keys.add(k.slice(root.length))
  return [...keys].filter((k) => readEntry(d, k) !== undefined).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

/** Deletes every key under the prefix; one tombstone for the prefix when something was deleted. */
export function kvDeleteTree(d: Draft, prefix: string, now: number): void {
  const keys = keysUnder(d, prefix)
  if (keys.length === 0) return
  for (const k of keys) d.delete(d.keys.kv(k))
  d.touchIdx(IDX_KVS)
  tombstone(d, prefix, now)
}

export function planned<R>(d: Draft, result: (revision: number) => R): PlannedWrite<R> {
  const plan = d.plan()
  return { plan, reads: plan.ops.length === 0 ? d.reads() : [], result }
}

/** `PUT /v1/kv/<key>` in any of its modes; `ok` is the body Consul answers. */
export function planKvPut(d: Draft, req: KvPutRequest, ctx: KvContext): PlannedWrite<boolean> {
  if (req.key === '') throw new KvRequestError(400, 'Missing key name')
  checkValueSize(req.key, req.value, ctx.maxValueSize, false)
  let ok: boolean
  switch (req.mode.kind) {
    case 'set':
      kvSet(d, req.key, req.value, req.flags)
      ok = true
      break
    case 'cas':
      ok = kvCas(d, req.key, req.value, req.flags, req.mode.index)
      break
    case 'acquire':
      ok = kvLock(d, req.key, req.value, req.flags, req.mode.session, ctx.now) === 'ok'
      break
    case 'release':
      ok = kvUnlock(d, req.key, req.value, req.flags, req.mode.session)
      break
  }
  return planned(d, () => ok)
}

/** `DELETE /v1/kv/<key>` (plain, `recurse`, `cas`; api/ refuses `recurse` with `cas`). */
export function planKvDelete(d: Draft, req: KvDeleteRequest, ctx: KvContext): PlannedWrite<boolean> {
  if (req.recurse === true) {
    kvDeleteTree(d, req.key, ctx.now)
    return planned(d, () => true)
  }
  if (req.key === '') throw new KvRequestError(400, 'Missing key name')
  if (req.cas !== undefined) {
    const ok = kvDeleteCas(d, req.key, req.cas, ctx.now)
    return planned(d, () => ok)
  }
  kvDelete(d, req.key, ctx.now)
  return planned(d, () => true)
}

/** Clears the holder of a key the invalidated `session` holds; value, flags and LockIndex stay. */
export function kvReleaseHeld(d: Draft, key: string, session: string): boolean {
  const cur = readEntry(d, key)
  if (cur?.session !== session) return false
  write(d, key, { value: cur.value, flags: cur.flags.toString(), session: '', lockIndex: cur.lockIndex })
  return true
}
