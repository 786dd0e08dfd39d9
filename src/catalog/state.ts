/**
 * The catalog's in-memory tables at one store revision: nodes, services, checks, the index table,
 * and the secondary indexes the reads need (services by name and by proxy destination, checks by
 * node, by service instance and by status, nodes by UUID).
 *
 * Built from a range and kept current by applying watch batches in revision order. Every record
 * is frozen when it enters; applying a batch replaces records, never mutates them, so a record a
 * reader holds never changes (DESIGN.md rule 1). The maps themselves change: read them only
 * synchronously, never across an await.
 */
import { deepFreeze } from '../lib/object.js'
import type { KeyValue, Revision, WatchBatch } from '../store/store.js'
import type { Status } from '../structs/check.js'
import { ClusterTables } from './cluster-tables.js'
import {
  CatalogKeys,
  isClusterParsedKey,
  isKvParsedKey,
  lower,
  type EncodedRow,
  type ParsedKey,
} from './keys.js'
import { KvTables } from './kv-tables.js'
import type { CatalogNode, CheckRecord, NodeRecord, ServiceRecord } from './types.js'

/** What one applied batch changed: index-table names and (lower-cased) node names. */
export interface AppliedChange {
  readonly idx: ReadonlySet<string>
  readonly nodes: ReadonlySet<string>
  /** KV keys whose entry or tombstone changed. */
  readonly kv: ReadonlySet<string>
  /** Cluster rows that changed, as `<table>/<lower-cased name>` (cluster-tables.ts). */
  readonly cluster: ReadonlySet<string>
}

/** The raw value of a row, as last read from the store; the planner compares against it. */
export interface StoredRow {
  readonly value: string
  readonly modRevision: Revision
  /** The parsed value, frozen, for the catalog's rows (nodes, services, checks): the record's. */
  readonly decoded?: unknown
  /** Whether `value` is the row's canonical JSON (keys.ts `encodeRow`): a write planned here. */
  readonly canonical?: boolean
}

/** Decoded row texts kept for the view at most (a write in flight offers a few). */
const OFFERED_MAX = 4096

function instanceKey(node: string, id: string): string {
  return `${lower(node)}\u0000${lower(id)}`
}

function sortedInsertMap<V>(map: Map<string, Map<string, V>>, outer: string): Map<string, V> {
  let inner = map.get(outer)
  if (inner === undefined) {
    inner = new Map()
    map.set(outer, inner)
  }
  return inner
}

function removeFrom<V>(map: Map<string, Map<string, V>>, outer: string, inner: string): void {
  const m = map.get(outer)
  if (m === undefined) return
  m.delete(inner)
  if (m.size === 0) map.delete(outer)
}

export class CatalogState {
  readonly keys: CatalogKeys
  /** The KV entries, tombstones, sessions and lock-delays. */
  readonly kv = new KvTables()
  /** The leader, the servers, the member list and the members' liveness keys. */
  readonly cluster = new ClusterTables()
  #revision: Revision = 0
  #kvChanged = new Set<string>()
  #clusterChanged = new Set<string>()

  readonly #nodes = new Map<string, NodeRecord>()
  readonly #nodesById = new Map<string, string>()
  /** lc node → lc service id → record */
  readonly #services = new Map<string, Map<string, ServiceRecord>>()
  /** lc node → lc check id → record */
  readonly #checks = new Map<string, Map<string, CheckRecord>>()
  /** lc service name → instance key → record */
  readonly #byName = new Map<string, Map<string, ServiceRecord>>()
  /** lc destination name → instance key → proxy record */
  readonly #proxiesByDest = new Map<string, Map<string, ServiceRecord>>()
  /** instance key → lc check id → record */
  readonly #checksByInstance = new Map<string, Map<string, CheckRecord>>()
  readonly #checksByStatus = new Map<Status, Map<string, CheckRecord>>()
  /** index-table name → revision */
  readonly #idx = new Map<string, Revision>()
  /** key → raw stored value and mod revision (catalog rows only) */
  readonly #rows = new Map<string, StoredRow>()
  /** Rows the planner encoded for a write it sent (`offerDecoded`), by key, taken when they arrive. */
  readonly #offered = new Map<string, EncodedRow>()

  constructor(prefix: string) {
    this.keys = new CatalogKeys(prefix)
  }

  /** The store revision this state reflects. */
  get revision(): Revision {
    return this.#revision
  }

  /** Replaces everything with a range's content. */
  reset(kvs: readonly KeyValue[], revision: Revision): void {
    this.#nodes.clear()
    this.#nodesById.clear()
    this.#services.clear()
    this.#checks.clear()
    this.#byName.clear()
    this.#proxiesByDest.clear()
    this.#checksByInstance.clear()
    this.#checksByStatus.clear()
    this.#idx.clear()
    this.#rows.clear()
    this.kv.clear()
    this.cluster.clear()
    for (const kv of kvs) this.#put(kv, new Set(), new Set())
    this.#revision = revision
  }

  /**
   * A row the planner is about to write, encoded by keys.ts `encodeRow` (its value equal to
   * `JSON.parse(text)`, deeply frozen): a put of `key` arriving with exactly this text takes the
   * value instead of parsing the text. Looked up by key (short) and confirmed by text.
   * Offers of writes that never arrive (a failed txn) are dropped in bulk past a bound.
   */
  offerDecoded(key: string, row: EncodedRow): void {
    if (this.#offered.size >= OFFERED_MAX) this.#offered.clear()
    this.#offered.set(key, row)
  }

  /** Applies one revision's events; returns what changed, for waking waiters. */
  apply(batch: WatchBatch): AppliedChange {
    const idx = new Set<string>()
    const nodes = new Set<string>()
    const kvChanged = (this.#kvChanged = new Set<string>())
    const clusterChanged = (this.#clusterChanged = new Set<string>())
    for (const ev of batch.events) {
      if (ev.type === 'put') this.#put(ev.kv, idx, nodes)
      else this.#delete(ev.kv.key, idx, nodes)
    }
    this.#revision = Math.max(this.#revision, batch.revision)
    return { idx, nodes, kv: kvChanged, cluster: clusterChanged }
  }

  #put(kv: KeyValue, idx: Set<string>, nodes: Set<string>): void {
    const parsed = this.keys.parse(kv.key)
    if (parsed === undefined) return
    if (parsed.table === 'idx') {
      this.#idx.set(parsed.name, kv.modRevision)
      idx.add(parsed.name)
      return
    }
    if (isClusterParsedKey(parsed)) {
      this.#rows.set(kv.key, { value: kv.value, modRevision: kv.modRevision })
      const changed = this.cluster.put(parsed, kv)
      if (changed !== undefined) this.#clusterChanged.add(changed)
      return
    }
    if (isKvParsedKey(parsed)) {
      this.#rows.set(kv.key, { value: kv.value, modRevision: kv.modRevision })
      const changed = this.kv.put(parsed, kv)
      if (changed !== undefined) this.#kvChanged.add(changed)
      return
    }
    let value: unknown
    const offered = this.#offered.get(kv.key)
    if (offered !== undefined) this.#offered.delete(kv.key)
    const canonical = offered !== undefined && offered.text === kv.value
    if (canonical) {
      value = offered.value // frozen by encodeRow
    } else {
      try {
        value = deepFreeze(JSON.parse(kv.value) as unknown)
      } catch {
        return // not a catalog row: ignored, as a key the catalog does not own
      }
    }
    const createIndex = kv.createRevision
    const modifyIndex = kv.modRevision
    this.#deleteRow(kv.key, parsed, nodes)
    this.#rows.set(kv.key, { value: kv.value, modRevision: modifyIndex, decoded: value, canonical })
    nodes.add(parsed.node)
    switch (parsed.table) {
      case 'nodes': {
        const rec: NodeRecord = Object.freeze({ node: value as CatalogNode, createIndex, modifyIndex })
        this.#nodes.set(parsed.node, rec)
        if (rec.node.id !== '') this.#nodesById.set(lower(rec.node.id), parsed.node)
        return
      }
      case 'services': {
        const v = value as Pick<ServiceRecord, 'node' | 'service'>
        const rec: ServiceRecord = Object.freeze({
          node: v.node,
          service: v.service,
          createIndex,
          modifyIndex,
        })
        sortedInsertMap(this.#services, parsed.node).set(parsed.id, rec)
        const ik = instanceKey(parsed.node, parsed.id)
        sortedInsertMap(this.#byName, lower(rec.service.name)).set(ik, rec)
        const dest = proxyDestination(rec)
        if (dest !== undefined) sortedInsertMap(this.#proxiesByDest, dest).set(ik, rec)
        return
      }
      case 'checks': {
        const v = value as Pick<CheckRecord, 'check' | 'definition'>
        const rec: CheckRecord = Object.freeze({
          check: v.check,
          definition: v.definition,
          createIndex,
          modifyIndex,
        })
        sortedInsertMap(this.#checks, parsed.node).set(parsed.id, rec)
        if (rec.check.serviceId !== '') {
          sortedInsertMap(this.#checksByInstance, instanceKey(parsed.node, rec.check.serviceId)).set(
            parsed.id,
            rec,
          )
        }
        let byStatus = this.#checksByStatus.get(rec.check.status)
        if (byStatus === undefined) {
          byStatus = new Map()
          this.#checksByStatus.set(rec.check.status, byStatus)
        }
        byStatus.set(instanceKey(parsed.node, parsed.id), rec)
        return
      }
    }
  }

  #delete(key: string, idx: Set<string>, nodes: Set<string>): void {
    const parsed = this.keys.parse(key)
    if (parsed === undefined) return
    if (parsed.table === 'idx') {
      if (this.#idx.delete(parsed.name)) idx.add(parsed.name)
      return
    }
    if (isClusterParsedKey(parsed)) {
      this.#rows.delete(key)
      const changed = this.cluster.delete(parsed)
      if (changed !== undefined) this.#clusterChanged.add(changed)
      return
    }
    if (isKvParsedKey(parsed)) {
      this.#rows.delete(key)
      const changed = this.kv.delete(parsed)
      if (changed !== undefined) this.#kvChanged.add(changed)
      return
    }
    this.#deleteRow(key, parsed, nodes)
  }

  /** Removes a catalog row (node, service, check) and its index entries, if present. */
  #deleteRow(
    key: string,
    parsed: Extract<ParsedKey, { table: 'nodes' | 'services' | 'checks' }>,
    nodes: Set<string>,
  ): void {
    if (!this.#rows.delete(key)) return
    nodes.add(parsed.node)
    switch (parsed.table) {
      case 'nodes': {
        const old = this.#nodes.get(parsed.node)
        this.#nodes.delete(parsed.node)
        if (
          old !== undefined &&
          old.node.id !== '' &&
          this.#nodesById.get(lower(old.node.id)) === parsed.node
        ) {
          this.#nodesById.delete(lower(old.node.id))
        }
        return
      }
      case 'services': {
        const old = this.#services.get(parsed.node)?.get(parsed.id)
        removeFrom(this.#services, parsed.node, parsed.id)
        if (old === undefined) return
        const ik = instanceKey(parsed.node, parsed.id)
        removeFrom(this.#byName, lower(old.service.name), ik)
        const dest = proxyDestination(old)
        if (dest !== undefined) removeFrom(this.#proxiesByDest, dest, ik)
        return
      }
      case 'checks': {
        const old = this.#checks.get(parsed.node)?.get(parsed.id)
        removeFrom(this.#checks, parsed.node, parsed.id)
        if (old === undefined) return
        if (old.check.serviceId !== '') {
          removeFrom(this.#checksByInstance, instanceKey(parsed.node, old.check.serviceId), parsed.id)
        }
        this.#checksByStatus.get(old.check.status)?.delete(instanceKey(parsed.node, parsed.id))
        return
      }
    }
  }

  // ---- reads (synchronous; results are frozen records) -------------------------------------

  /** The revision of an index-table entry, or undefined when absent. */
  idx(name: string): Revision | undefined {
    return this.#idx.get(name)
  }

  row(key: string): StoredRow | undefined {
    return this.#rows.get(key)
  }

  node(name: string): NodeRecord | undefined {
    return this.#nodes.get(lower(name))
  }

  /** The lower-cased name of the node holding a UUID, if any. */
  nodeNameById(id: string): string | undefined {
    return this.#nodesById.get(lower(id))
  }

  /** Every node, by lower-cased name. */
  nodes(): NodeRecord[] {
    return sortByKey(this.#nodes)
  }

  service(node: string, id: string): ServiceRecord | undefined {
    return this.#services.get(lower(node))?.get(lower(id))
  }

  /** The services of a node, by lower-cased ID. */
  servicesOnNode(node: string): ServiceRecord[] {
    const m = this.#services.get(lower(node))
    return m === undefined ? [] : sortByKey(m)
  }

  /** Every instance, in no particular order. */
  *allServices(): Iterable<ServiceRecord> {
    for (const m of this.#services.values()) yield* m.values()
  }

  /** Instances of a service name (case-insensitive), by node then service ID. */
  instancesOf(name: string): ServiceRecord[] {
    const m = this.#byName.get(lower(name))
    return m === undefined ? [] : sortByKey(m)
  }

  /** How many instances a service name has (case-insensitive); O(1). */
  instanceCount(name: string): number {
    return this.#byName.get(lower(name))?.size ?? 0
  }

  /** Instances of a service name, in no particular order (no sort: for counting and tests of membership). */
  instancesOfUnordered(name: string): Iterable<ServiceRecord> {
    return this.#byName.get(lower(name))?.values() ?? []
  }

  /** Connect proxies whose destination is `name`, in no particular order. */
  proxiesForUnordered(name: string): Iterable<ServiceRecord> {
    return this.#proxiesByDest.get(lower(name))?.values() ?? []
  }

  /** Connect proxies whose destination is `name`, by node then service ID. */
  proxiesFor(name: string): ServiceRecord[] {
    const m = this.#proxiesByDest.get(lower(name))
    return m === undefined ? [] : sortByKey(m)
  }

  check(node: string, id: string): CheckRecord | undefined {
    return this.#checks.get(lower(node))?.get(lower(id))
  }

  /** Every check of a node (node-level and service checks), by lower-cased check ID. */
  checksOnNode(node: string): CheckRecord[] {
    const m = this.#checks.get(lower(node))
    return m === undefined ? [] : sortByKey(m)
  }

  /** The checks bound to one service instance, by check ID. */
  checksOfInstance(node: string, serviceId: string): CheckRecord[] {
    const m = this.#checksByInstance.get(instanceKey(node, serviceId))
    return m === undefined ? [] : sortByKey(m)
  }

  /** Checks in a status (every check for `undefined`), by node then check ID. */
  checksInStatus(status: Status | undefined): CheckRecord[] {
    if (status !== undefined) {
      const m = this.#checksByStatus.get(status)
      return m === undefined ? [] : sortByKey(m)
    }
    const all = new Map<string, CheckRecord>()
    for (const [node, m] of this.#checks) for (const [id, c] of m) all.set(instanceKey(node, id), c)
    return sortByKey(all)
  }

  /** Lower-cased names of every service with at least one instance. */
  serviceNames(): string[] {
    return [...this.#byName.keys()]
  }
}

function proxyDestination(rec: ServiceRecord): string | undefined {
  const s = rec.service
  if (s.kind !== 'connect-proxy' || s.proxy === null || s.proxy.destinationServiceName === '')
    return undefined
  return lower(s.proxy.destinationServiceName)
}

function sortByKey<V>(m: ReadonlyMap<string, V>): V[] {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1])
}
