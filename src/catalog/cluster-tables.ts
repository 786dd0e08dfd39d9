/**
 * The cluster tables of the catalog view: who leads, which servers are up, the datacenter's
 * member list and each member's liveness key (keys.ts). The catalog only keeps these rows and
 * their revisions; their meaning (election, membership) lives in src/cluster, which decodes the
 * values. Kept current by `CatalogState` from the same watch as every other table, so every
 * server sees one member list and one leader, at the view's revision.
 */
import { deepFreeze } from '../lib/object.js'
import type { KeyValue, LeaseId, Revision } from '../store/store.js'
import type { ClusterParsedKey } from './keys.js'

/** One row: its decoded JSON value (frozen) and the store's metadata. */
export type ClusterRow = Readonly<{
  /** The key's lower-cased name ('' for the leader key). */
  name: string
  value: unknown
  lease: LeaseId | null
  createRevision: Revision
  modRevision: Revision
}>

export type ClusterTable = 'servers' | 'members' | 'alive' | 'events'

export class ClusterTables {
  #leader: ClusterRow | undefined
  readonly #tables: Record<ClusterTable, Map<string, ClusterRow>> = {
    servers: new Map(),
    members: new Map(),
    alive: new Map(),
    events: new Map(),
  }

  clear(): void {
    this.#leader = undefined
    for (const t of Object.values(this.#tables)) t.clear()
  }

  /** The leader key's row, when a server holds it. */
  leader(): ClusterRow | undefined {
    return this.#leader
  }

  get(table: ClusterTable, name: string): ClusterRow | undefined {
    return this.#tables[table].get(name.toLowerCase())
  }

  /** Every row of a table, by name. */
  rows(table: ClusterTable): readonly ClusterRow[] {
    return [...this.#tables[table].values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** Stores a row; returns `<table>/<name>` of what changed (`leader/` for the leader key). */
  put(parsed: ClusterParsedKey, kv: KeyValue): string | undefined {
    let value: unknown
    try {
      value = deepFreeze(JSON.parse(kv.value) as unknown)
    } catch {
      return undefined // not a row of ours: ignored, as a key the catalog does not own
    }
    const row: ClusterRow = Object.freeze({
      name: parsed.name,
      value,
      lease: kv.lease,
      createRevision: kv.createRevision,
      modRevision: kv.modRevision,
    })
    if (parsed.table === 'leader') this.#leader = row
    else this.#tables[parsed.table].set(parsed.name, row)
    return `${parsed.table}/${parsed.name}`
  }

  /** Removes a row; returns `<table>/<name>` when it existed. */
  delete(parsed: ClusterParsedKey): string | undefined {
    if (parsed.table === 'leader') {
      if (this.#leader === undefined) return undefined
      this.#leader = undefined
    } else if (!this.#tables[parsed.table].delete(parsed.name)) return undefined
    return `${parsed.table}/${parsed.name}`
  }
}
