/**
 * What the HTTP API (and, later, anti-entropy and remote alias checks) may do with a catalog.
 * `Catalog` implements it in process (a server, `-dev`); a client agent implements it over HTTP
 * to a server (DESIGN.md "Seams").
 */
import type { BlockingOptions, QueryResult } from './blocking.js'
import type { CatalogQuery } from './queries.js'
import type { DeregisterRequest, RegisterRequest, WriteResult } from './types.js'

export interface CatalogPort {
  /** The datacenter registrations default to. */
  readonly datacenter: string
  /** Known datacenters, nearest first. */
  datacenters(): readonly string[]
  /** Throws `CatalogRequestError` (500, Consul's text) for what Consul refuses. */
  register(req: RegisterRequest): Promise<WriteResult>
  deregister(req: DeregisterRequest): Promise<WriteResult>
  /** The current answer of a query (a frozen snapshot). */
  read<T>(query: CatalogQuery<T>): QueryResult<T>
  /** A blocking read: answers once the index passes `opts.index`, at the deadline, or on abort. */
  block<T>(query: CatalogQuery<T>, opts: BlockingOptions): Promise<QueryResult<T>>
  /**
   * Resolves once reads see every write acknowledged before the call, by any server (a
   * `consistent` read), or after `maxMs`; rejects with StoreUnavailableError when the store does
   * not answer within `maxMs`. Absent: reads are always current.
   */
  fresh?(maxMs: number): Promise<void>
}
