/**
 * What the HTTP API may do with the KV store, sessions and transactions. `Catalog` implements it
 * in process (a server, `-dev`); a client agent would implement it over HTTP to a server.
 */
import type { BlockingOptions, QueryResult } from './blocking.js'
import type { KvQuery } from './kv-queries.js'
import type {
  KvDeleteRequest,
  KvPutRequest,
  KvWriteResult,
  SessionCreateRequest,
  SessionRecord,
  TxnOp,
  TxnResult,
} from './kv-types.js'
import type { CatalogQuery } from './queries.js'
import type { WriteResult } from './types.js'

export interface KvPort {
  /** Known datacenters, nearest first. */
  datacenters(): readonly string[]
  /** Throws `KvRequestError` with Consul's status and text for what Consul refuses. */
  kvPut(req: KvPutRequest): Promise<KvWriteResult>
  kvDelete(req: KvDeleteRequest): Promise<KvWriteResult>
  kvRead<T>(query: KvQuery<T>): QueryResult<T>
  kvBlock<T>(query: KvQuery<T>, opts: BlockingOptions): Promise<QueryResult<T>>
  txn(ops: readonly TxnOp[]): Promise<TxnResult>
  sessionCreate(req: SessionCreateRequest): Promise<Readonly<{ id: string; index: number }>>
  sessionDestroy(id: string): Promise<WriteResult>
  /** Null when the session is unknown or expired. */
  sessionRenew(id: string): Promise<SessionRecord | null>
  /** Session reads (`sessionInfoQuery`, …). */
  read<T>(query: CatalogQuery<T>): QueryResult<T>
  block<T>(query: CatalogQuery<T>, opts: BlockingOptions): Promise<QueryResult<T>>
  /** As `CatalogPort.fresh`: a `consistent` read waits for it. */
  fresh?(maxMs: number): Promise<void>
}
