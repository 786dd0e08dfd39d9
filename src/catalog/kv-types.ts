/**
 * The KV store's and the session table's records and write requests (Consul's `DirEntry`,
 * `Session`, `TxnOp`). Plain, frozen, camelCase: wire JSON (PascalCase, base64) belongs to api/.
 */

import type {
  CatalogCheckInput,
  CatalogNode,
  CheckRecord,
  NodeRecord,
  Service,
  ServiceRecord,
} from './types.js'

/** Consul's `limits.kv_max_value_size`. */
export const KV_MAX_VALUE_SIZE = 524_288
/** Consul's `/v1/txn` operation limit. */
export const TXN_MAX_OPS = 128
/** Consul's default `session_ttl_min`. */
export const SESSION_TTL_MIN_MS = 10_000
/** Consul's `SessionTTLMax`. */
export const SESSION_TTL_MAX_MS = 24 * 3_600_000
/** Consul's `MaxLockDelay`: a longer LockDelay is stored but only this long is enforced. */
export const MAX_LOCK_DELAY_MS = 60_000
/** Consul's default LockDelay. */
export const DEFAULT_LOCK_DELAY_NS = 15e9
/** Tombstones live this long (Consul's `tombstone_ttl`), reaped in bins of `TOMBSTONE_BIN_MS`. */
export const TOMBSTONE_TTL_MS = 15 * 60_000
export const TOMBSTONE_BIN_MS = 30_000
/** The check every session watches unless told otherwise. */
export const SERF_HEALTH = 'serfHealth'

/** One KV entry (Consul's `DirEntry`). */
export type KvEntry = Readonly<{
  key: string
  /** Base64 of the value bytes; null when the value is empty. */
  value: string | null
  /** A uint64. */
  flags: bigint
  /** The lock holder's session ID, '' when unlocked. */
  session: string
  lockIndex: number
  createIndex: number
  modifyIndex: number
}>

export type SessionBehavior = 'release' | 'delete'

export type ServiceCheckRef = Readonly<{ id: string; namespace: string }>

/** One session (Consul's `structs.Session`). Never modified after creation. */
export type SessionRecord = Readonly<{
  id: string
  name: string
  node: string
  /** Nanoseconds, as given (only up to `MAX_LOCK_DELAY_MS` is enforced). */
  lockDelayNs: number
  behavior: SessionBehavior
  /** The TTL as the client wrote it, '' for none. */
  ttl: string
  nodeChecks: readonly string[]
  serviceChecks: readonly ServiceCheckRef[] | null
  /** The deprecated `Checks`, only when it is not the default. */
  checks: readonly string[] | null
  createIndex: number
  modifyIndex: number
}>

/**
 * `PUT /v1/session/create` after decoding: `undefined` is "not in the body". Durations are
 * already decoded by api/ (a number in `lockDelayNs`, the TTL kept as the client's string).
 */
export type SessionCreateRequest = Readonly<{
  name?: string
  /** Defaults to the agent's node (api/ fills it). */
  node: string
  lockDelayNs?: number
  behavior?: string
  ttl?: string
  nodeChecks?: readonly string[] | null
  serviceChecks?: readonly ServiceCheckRef[] | null
  checks?: readonly string[] | null
}>

export type KvPutMode =
  | Readonly<{ kind: 'set' }>
  /** `cas=0`: create only; `cas=N`: only when the entry's ModifyIndex is N. */
  | Readonly<{ kind: 'cas'; index: number }>
  | Readonly<{ kind: 'acquire'; session: string }>
  | Readonly<{ kind: 'release'; session: string }>

export type KvPutRequest = Readonly<{
  key: string
  /** Empty or null stores "no value". */
  value: Uint8Array | null
  flags: bigint
  mode: KvPutMode
}>

export type KvDeleteRequest = Readonly<{
  key: string
  /** Delete every key with `key` as prefix. */
  recurse?: boolean
  /** Delete only when the entry's ModifyIndex is this (a missing key counts as success). */
  cas?: number
}>

/** A KV write's answer: `ok` is the body Consul sends (`true`/`false`). */
export type KvWriteResult = Readonly<{ ok: boolean; index: number }>

export type TxnKvVerb =
  | 'set'
  | 'cas'
  | 'lock'
  | 'unlock'
  | 'get'
  | 'get-or-empty'
  | 'get-tree'
  | 'check-index'
  | 'check-session'
  | 'check-not-exists'
  | 'delete'
  | 'delete-tree'
  | 'delete-cas'

/** One `/v1/txn` operation after decoding; `verb` is the client's text (unknown verbs are refused per op). */
export type TxnOp =
  | Readonly<{
      kv: Readonly<{
        verb: string
        key: string
        value: Uint8Array | null
        flags: bigint
        index: number
        session: string
      }>
    }>
  | Readonly<{ node: Readonly<{ verb: string; node: CatalogNode; modifyIndex: number }> }>
  | Readonly<{ service: Readonly<{ verb: string; node: string; service: Service; modifyIndex: number }> }>
  | Readonly<{
      check: Readonly<{ verb: string; check: CatalogCheckInput; modifyIndex: number }>
    }>

/** One result of a successful transaction (KV results carry a value only for the get verbs). */
export type TxnResultItem =
  | Readonly<{ kv: KvEntry }>
  | Readonly<{ node: NodeRecord }>
  | Readonly<{ service: ServiceRecord }>
  | Readonly<{ check: CheckRecord }>

export type TxnError = Readonly<{ opIndex: number; what: string }>

export type TxnResult =
  | Readonly<{ ok: true; index: number; results: readonly TxnResultItem[] }>
  | Readonly<{ ok: false; index: number; errors: readonly TxnError[] }>
