/**
 * The catalog and health reads (spec/http-api.md §10–§11), each with Consul's index rule. A query
 * is a pure function of the state; `key` names it so identical queries share one evaluation
 * while they wait (servers.md §4). Results are frozen arrays of frozen records, in Consul's order.
 *
 * `filter=` is not applied here: it runs on the wire shape, after the shared evaluation, so every
 * filter over one query shares its evaluation too.
 */
import type { Status } from '../structs/check.js'
import { IDX_CHECKS, IDX_NODES, IDX_SERVICES, lower } from './keys.js'
import type { QueryReader } from './reader.js'
import type { CheckRecord, NodeRecord, ServiceRecord } from './types.js'

export interface CatalogQuery<T> {
  /** Equal keys ⇔ equal results at every state. */
  readonly key: string
  evaluate(r: QueryReader): T
}

/** `node-meta` pairs: a node matches when it has every pair. */
export type NodeMetaFilter = readonly (readonly [string, string])[]

export type ServiceNode = Readonly<{ node: NodeRecord; service: ServiceRecord }>
export type CheckServiceNode = Readonly<{
  node: NodeRecord
  service: ServiceRecord
  checks: readonly CheckRecord[]
}>
export type NodeServices = Readonly<{ node: NodeRecord; services: readonly ServiceRecord[] }>

function metaKey(meta: NodeMetaFilter): string {
  return JSON.stringify([...meta].map(([k, v]) => `${k}:${v}`).sort())
}

function matchesMeta(node: NodeRecord, meta: NodeMetaFilter): boolean {
  for (const [k, v] of meta) if (!Object.hasOwn(node.node.meta, k) || node.node.meta[k] !== v) return false
  return true
}

/** Every tag asked for is on the instance (case-insensitive, as Consul's serviceTagFilter). */
function hasTags(rec: ServiceRecord, tags: readonly string[]): boolean {
  if (tags.length === 0) return true
  const have = new Set((rec.service.tags ?? []).map(lower))
  return tags.every((t) => have.has(lower(t)))
}

function frozen<T>(items: T[]): readonly T[] {
  return Object.freeze(items)
}

/** `GET /v1/catalog/nodes`: index = the nodes table. */
export function nodesQuery(opts: { nodeMeta?: NodeMetaFilter } = {}): CatalogQuery<readonly NodeRecord[]> {
  const meta = opts.nodeMeta ?? []
  return {
    key: `catalog/nodes ${metaKey(meta)}`,
    evaluate(r) {
      r.table(IDX_NODES)
      return frozen(r.state.nodes().filter((n) => matchesMeta(n, meta)))
    },
  }
}

/**
 * `GET /v1/catalog/services`: name → de-duplicated, sorted union of tags, by exact name. Index =
 * the services table (and the nodes table with a node-meta filter).
 */
export function servicesQuery(
  opts: { nodeMeta?: NodeMetaFilter } = {},
): CatalogQuery<ReadonlyMap<string, readonly string[]>> {
  const meta = opts.nodeMeta ?? []
  return {
    key: `catalog/services ${metaKey(meta)}`,
    evaluate(r) {
      r.table(IDX_SERVICES)
      if (meta.length > 0) r.table(IDX_NODES)
      const tags = new Map<string, Set<string>>()
      for (const s of r.state.allServices()) {
        if (meta.length > 0) {
          const node = r.state.node(s.node)
          if (node === undefined || !matchesMeta(node, meta)) continue
        }
        let set = tags.get(s.service.name)
        if (set === undefined) {
          set = new Set()
          tags.set(s.service.name, set)
        }
        for (const t of s.service.tags ?? []) set.add(t)
      }
      const out = new Map<string, readonly string[]>()
      for (const name of [...tags.keys()].sort()) out.set(name, frozen([...(tags.get(name) ?? [])].sort()))
      return out
    },
  }
}

interface InstanceOptions {
  readonly tags?: readonly string[]
  readonly nodeMeta?: NodeMetaFilter
  /** Proxies for the name and its connect-native instances, instead of its instances. */
  readonly connect?: boolean
}

function instanceKey(kind: string, name: string, opts: InstanceOptions): string {
  const tags = [...(opts.tags ?? [])].map(lower).sort()
  return `${kind} ${opts.connect === true ? 'connect' : 'service'} ${JSON.stringify(lower(name))} ${JSON.stringify(tags)} ${metaKey(opts.nodeMeta ?? [])}`
}

/** The instances a service or connect query reads, with their index dependencies recorded. */
function readInstances(r: QueryReader, name: string, opts: InstanceOptions): ServiceNode[] {
  r.service(name)
  let records: ServiceRecord[]
  if (opts.connect === true) {
    r.connect(name)
    records = [
      ...r.state.proxiesFor(name),
      ...r.state.instancesOf(name).filter((s) => s.service.connectNative),
    ]
    records.sort(compareInstances)
    for (const p of records) r.service(p.service.name)
  } else {
    records = r.state.instancesOf(name)
  }
  const meta = opts.nodeMeta ?? []
  const out: ServiceNode[] = []
  for (const s of records) {
    const node = r.state.node(s.node)
    if (node === undefined) continue
    if (!hasTags(s, opts.tags ?? []) || !matchesMeta(node, meta)) continue
    out.push(Object.freeze({ node, service: s }))
  }
  return out
}

function compareInstances(a: ServiceRecord, b: ServiceRecord): number {
  const ka = `${lower(a.node)}\u0000${lower(a.service.id)}`
  const kb = `${lower(b.node)}\u0000${lower(b.service.id)}`
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/**
 * `GET /v1/catalog/service/:name` (and `/catalog/connect/:name` with `connect`): instances by
 * node then service ID. Index = the name's index (plus, for connect, the connect entry and each
 * proxy's name).
 */
export function serviceNodesQuery(
  name: string,
  opts: InstanceOptions = {},
): CatalogQuery<readonly ServiceNode[]> {
  return {
    key: instanceKey('catalog', name, opts),
    evaluate: (r) => frozen(readInstances(r, name, opts)),
  }
}

/**
 * `GET /v1/catalog/node/:node` and `/catalog/node-services/:node`: the node and its services by
 * ID, or null. Index = max(nodes, services) tables, as Consul; wakes only on this node's rows.
 */
export function nodeServicesQuery(node: string): CatalogQuery<NodeServices | null> {
  return {
    key: `catalog/node ${JSON.stringify(lower(node))}`,
    evaluate(r) {
      r.tableIndexOnly(IDX_NODES, IDX_SERVICES)
      r.node(node)
      const rec = r.state.node(node)
      if (rec === undefined) return null
      return Object.freeze({ node: rec, services: frozen(r.state.servicesOnNode(node)) })
    },
  }
}

/** `GET /v1/health/node/:node`: the node's checks by check ID. Index = the checks table. */
export function nodeChecksQuery(node: string): CatalogQuery<readonly CheckRecord[]> {
  return {
    key: `health/node ${JSON.stringify(lower(node))}`,
    evaluate(r) {
      r.tableIndexOnly(IDX_CHECKS)
      r.node(node)
      return frozen(r.state.checksOnNode(node))
    },
  }
}

/** `GET /v1/health/checks/:service`: the checks of every instance, by node then check ID. */
export function serviceChecksQuery(
  name: string,
  opts: { nodeMeta?: NodeMetaFilter } = {},
): CatalogQuery<readonly CheckRecord[]> {
  const meta = opts.nodeMeta ?? []
  return {
    key: `health/checks ${JSON.stringify(lower(name))} ${metaKey(meta)}`,
    evaluate(r) {
      r.service(name)
      if (meta.length > 0) r.table(IDX_NODES)
      const out: CheckRecord[] = []
      for (const s of r.state.instancesOf(name)) {
        if (meta.length > 0) {
          const node = r.state.node(s.node)
          if (node === undefined || !matchesMeta(node, meta)) continue
        }
        out.push(...r.state.checksOfInstance(s.node, s.service.id))
      }
      out.sort(compareChecks)
      return frozen(out)
    },
  }
}

function compareChecks(a: CheckRecord, b: CheckRecord): number {
  const ka = `${lower(a.check.node)}\u0000${lower(a.check.checkId)}`
  const kb = `${lower(b.check.node)}\u0000${lower(b.check.checkId)}`
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/**
 * `GET /v1/health/service/:service` (and `/health/connect/:service` with `connect`): each instance
 * with its node and the node's checks that are node-level or the instance's, by check ID.
 * `passing` drops instances with any non-passing check. Index = as the catalog query.
 */
export function serviceHealthQuery(
  name: string,
  opts: InstanceOptions & { passing?: boolean } = {},
): CatalogQuery<readonly CheckServiceNode[]> {
  const passing = opts.passing === true
  return {
    key: `${instanceKey('health', name, opts)} ${passing ? 'passing' : 'all'}`,
    evaluate(r) {
      const out: CheckServiceNode[] = []
      for (const { node, service } of readInstances(r, name, opts)) {
        const checks = r.state
          .checksOnNode(service.node)
          .filter((c) => c.check.serviceId === '' || lower(c.check.serviceId) === lower(service.service.id))
        if (passing && checks.some((c) => c.check.status !== 'passing')) continue
        out.push(Object.freeze({ node, service, checks: frozen(checks) }))
      }
      return frozen(out)
    },
  }
}

/**
 * `GET /v1/health/state/:state`: checks in a status (`any`: all), by node then check ID. Index =
 * the checks table (with a node-meta filter, also nodes and services, as Consul).
 */
export function checksInStateQuery(
  state: Status | 'any',
  opts: { nodeMeta?: NodeMetaFilter } = {},
): CatalogQuery<readonly CheckRecord[]> {
  const meta = opts.nodeMeta ?? []
  return {
    key: `health/state ${state} ${metaKey(meta)}`,
    evaluate(r) {
      r.table(IDX_CHECKS)
      if (meta.length > 0) r.table(IDX_NODES, IDX_SERVICES)
      const checks = r.state.checksInStatus(state === 'any' ? undefined : state)
      if (meta.length === 0) return frozen(checks)
      return frozen(
        checks.filter((c) => {
          const node = r.state.node(c.check.node)
          return node !== undefined && matchesMeta(node, meta)
        }),
      )
    },
  }
}
