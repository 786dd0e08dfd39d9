/**
 * The store port (DESIGN.md "Storage", spec/servers.md §2): an etcd-shaped, revisioned key-value
 * store under the catalog. Consul's semantics (index table, no-op writes, tombstones, sessions)
 * live above it, in src/catalog, written once; every store (embedded on local disk, etcd) passes
 * one conformance suite written against this file.
 *
 * Contract, shared by every implementation:
 * - The store has one revision counter. Every successful txn that changes at least one key
 *   commits atomically at the next revision; all its ops share that revision. A txn whose ops
 *   change nothing (or whose compares fail) does not move the revision.
 * - Revisions are never 0 and never reused, across restarts and crashes.
 * - A txn resolves only once it is durable; a rejected promise means it may or may not have
 *   committed only for `StoreUnavailableError` (the caller re-reads), never for other errors.
 * - A txn that fails its compares runs `failure`; it moves the revision only if those ops change
 *   something.
 * - `watch` delivers every committed change after `fromRevision`, in revision order, each
 *   revision's events together in one batch, with no gaps; when it cannot (compaction, lost
 *   connection past recovery) it calls `onCancel` and delivers nothing more.
 * - Values are strings (UTF-8 JSON above this port); keys are strings compared by code unit.
 * - Several ops on one key in one txn apply in order: the last decides its value. A key deleted
 *   and put again in one txn may keep its createRevision and version (etcd folds the two into
 *   one put); callers that need a fresh creation carry it themselves.
 * - A store may bound the size of one txn (etcd's `--max-txn-ops`): a larger one is refused with
 *   `TxnTooLargeError` and does not commit.
 */

/** A committed revision: a positive integer, strictly increasing. */
export type Revision = number

/** A lease: keys attached to it are deleted when it expires or is revoked. */
export type LeaseId = string

export interface KeyValue {
  readonly key: string
  readonly value: string
  /** Revision of the txn that created the key (since its last deletion). */
  readonly createRevision: Revision
  /** Revision of the txn that last changed it. */
  readonly modRevision: Revision
  /** 1 at creation, +1 per change; 0 is never seen on a live key. */
  readonly version: number
  /** The lease the key is attached to, or null. */
  readonly lease: LeaseId | null
}

/**
 * A compare of one key's current state. An absent key has createRevision, modRevision and
 * version 0, lease null and no value (a `value` compare against an absent key fails, for `=` and `!=`).
 */
export type Compare =
  | Readonly<{
      key: string
      target: 'version' | 'createRevision' | 'modRevision'
      op: '=' | '!=' | '<' | '>'
      value: number
    }>
  | Readonly<{ key: string; target: 'value'; op: '=' | '!='; value: string }>
  | Readonly<{ key: string; target: 'lease'; op: '=' | '!='; value: LeaseId | null }>

export type Op =
  /** Creates or replaces. A put of an identical value and lease is still a change (etcd). */
  | Readonly<{ type: 'put'; key: string; value: string; lease?: LeaseId }>
  /** Deletes one key; a no-op when absent. */
  | Readonly<{ type: 'delete'; key: string }>
  /** Deletes every key starting with `prefix`. */
  | Readonly<{ type: 'deletePrefix'; prefix: string }>

export interface TxnRequest {
  readonly compare: readonly Compare[]
  readonly success: readonly Op[]
  readonly failure?: readonly Op[]
}

export interface TxnResult {
  /** True when every compare held and `success` ran. */
  readonly succeeded: boolean
  /** The revision the txn committed at, or the current revision when it changed nothing. */
  readonly revision: Revision
}

export interface RangeResult {
  readonly kvs: readonly KeyValue[]
  /** The store's revision the range was read at. */
  readonly revision: Revision
}

export type WatchEvent =
  | Readonly<{ type: 'put'; kv: KeyValue }>
  /** `kv` holds the key, its last value, and the deleting txn's revision as modRevision. */
  | Readonly<{ type: 'delete'; kv: KeyValue }>

/** One committed revision's events. */
export interface WatchBatch {
  readonly revision: Revision
  readonly events: readonly WatchEvent[]
}

export interface WatchHandlers {
  onBatch(batch: WatchBatch): void
  /** The watch ended and cannot resume from the last batch: resync with a range. */
  onCancel(reason: Error): void
}

export interface Watch {
  /** Idempotent; no handler is called after it resolves. */
  close(): Promise<void>
}

export interface Store {
  /** The current revision (at least 1 on a fresh store). */
  revision(): Promise<Revision>
  /** Every key starting with `prefix`, sorted by key, read at one revision. */
  range(prefix: string): Promise<RangeResult>
  /** Atomic compare-and-swap over many keys. Resolves once durable. */
  txn(req: TxnRequest): Promise<TxnResult>
  /** Every change under `prefix` with revision ≥ `fromRevision`, in order (see the contract). */
  watch(prefix: string, fromRevision: Revision, handlers: WatchHandlers): Watch
  /** Grants a lease that expires `ttlMs` after its last keep-alive (stores may round up). */
  grantLease(ttlMs: number): Promise<LeaseId>
  /** Extends the lease; false when it no longer exists. */
  keepAlive(lease: LeaseId): Promise<boolean>
  /** Deletes the lease and its keys in one revision; a no-op when it no longer exists. */
  revokeLease(lease: LeaseId): Promise<void>
  /** Idempotent. Waits for in-flight txns to finish (durable or failed), then releases files and sockets. */
  close(): Promise<void>
}

/**
 * The store cannot say whether the operation happened (disk or connection failure): re-read
 * before deciding. The embedded store, after a write failure, stays unavailable until reopened;
 * the etcd store tries again with the next request.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'StoreUnavailableError'
  }
}

/** The store is closed (or closing): the operation did not happen. */
export class StoreClosedError extends Error {
  constructor() {
    super('store closed')
    this.name = 'StoreClosedError'
  }
}

/** A watch asked for revisions the store no longer keeps: resync with a range. */
export class StoreCompactedError extends Error {
  constructor(
    readonly fromRevision: Revision,
    /** The oldest revision a watch can start from. */
    readonly oldestRevision: Revision,
  ) {
    super(`watch from revision ${fromRevision}: history before revision ${oldestRevision} is compacted`)
    this.name = 'StoreCompactedError'
  }
}

/** A put names a lease that does not exist (expired or revoked): the txn did not commit. */
export class LeaseNotFoundError extends Error {
  constructor(readonly lease: LeaseId) {
    super(`lease ${lease} not found`)
    this.name = 'LeaseNotFoundError'
  }
}

/** The txn exceeds the store's limits (op count, request size): it did not commit. */
export class TxnTooLargeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TxnTooLargeError'
  }
}
