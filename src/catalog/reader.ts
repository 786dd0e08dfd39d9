/**
 * What a query may read: the state, plus the index entries it depends on. Every index a query
 * reads is also what it waits on: the reader records a wake key for each (`idx:<name>` for an
 * index-table entry, `node:<name>` for one node's rows), and the query's `X-Consul-Index` is the
 * max of the entries it read, never below 1 (servers.md §1).
 */
import {
  IDX_CHECKS,
  IDX_NODES,
  IDX_SERVICE_EXTINCTION,
  IDX_SERVICES,
  connectIdxName,
  lower,
  serviceIdxName,
} from './keys.js'
import type { CatalogState } from './state.js'

export function idxWakeKey(name: string): string {
  return `idx:${name}`
}

export function nodeWakeKey(node: string): string {
  return `node:${lower(node)}`
}

export class QueryReader {
  readonly state: CatalogState
  readonly deps = new Set<string>()
  #index = 1

  constructor(state: CatalogState) {
    this.state = state
  }

  /** The result's index so far (at least 1). */
  get index(): number {
    return this.#index
  }

  #entry(name: string): number | undefined {
    this.deps.add(idxWakeKey(name))
    const rev = this.state.idx(name)
    if (rev !== undefined) this.#index = Math.max(this.#index, rev)
    return rev
  }

  /** Raises the result's index without waiting on anything (an index read outside the deps). */
  atLeast(index: number): void {
    this.#index = Math.max(this.#index, index)
  }

  /** Wake when this key changes (any wake key the catalog sends). */
  wakeOn(key: string): void {
    this.deps.add(key)
  }

  /** A table's index entry (`nodes`, `services`, `checks`); the query wakes when it moves. */
  table(...names: string[]): void {
    for (const n of names) this.#entry(n)
  }

  /**
   * A table's index entry counted in the result's index without waking on it: for queries that
   * wake on a finer key (`node`) which moves whenever their answer can change.
   */
  tableIndexOnly(...names: string[]): void {
    for (const n of names) {
      const rev = this.state.idx(n)
      if (rev !== undefined) this.#index = Math.max(this.#index, rev)
    }
  }

  /**
   * A service name's index (Consul's maxIndexForService): its `service.<name>` entry; for a name
   * without instances, the extinction index, else the catalog tables.
   */
  service(name: string): void {
    this.#named(serviceIdxName(name))
  }

  /** The index of a name's connect side (proxies to it, connect-native instances of it). */
  connect(name: string): void {
    this.#named(connectIdxName(name))
  }

  #named(entry: string): void {
    if (this.#entry(entry) !== undefined) return
    if (this.#entry(IDX_SERVICE_EXTINCTION) !== undefined) return
    this.table(IDX_NODES, IDX_SERVICES, IDX_CHECKS)
  }

  /** Wake when any row of this node changes. */
  node(name: string): void {
    this.deps.add(nodeWakeKey(name))
  }
}
