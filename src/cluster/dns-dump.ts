/**
 * The cluster RPC `catalog/dns-dump`: everything the DNS interface reads (every node, every
 * service instance with the statuses of its checks), as one blocking read on a server. A client
 * agent keeps its DNS mirror (dns-mirror.ts) current by long-polling it.
 *
 * Server side: one shared evaluation per catalog change (the catalog's blocking queries share a
 * result object per index), and one encoding per result object, so N clients woken at one index
 * cost one evaluation and one `JSON.stringify`. The answer's `index` is the catalog's
 * X-Consul-Index of the nodes, services and checks tables; a client asks again with it.
 */
import type { CatalogPort } from '../catalog/port.js'
import { IDX_CHECKS, IDX_NODES, IDX_SERVICES, lower } from '../catalog/keys.js'
import type { CatalogQuery } from '../catalog/queries.js'
import type { CheckRecord } from '../catalog/types.js'
import type { DnsCheckStatus } from '../dns/catalog-port.js'
import { DecodeError } from '../lib/errors.js'
import type { ClusterClient } from './client.js'

export type DnsDumpNode = Readonly<{
  name: string
  address: string
  datacenter: string
  taggedAddresses: Readonly<Record<string, string>>
  meta: Readonly<Record<string, string>>
  /** Statuses of the node-level checks (no service ID). */
  checks: readonly DnsCheckStatus[]
}>

export type DnsDumpInstance = Readonly<{
  /** The node's name, as in `nodes`. */
  node: string
  id: string
  name: string
  tags: readonly string[]
  address: string
  port: number
  taggedAddresses: Readonly<Record<string, string>>
  kind: string
  weights: Readonly<{ passing: number; warning: number }>
  /** A connect proxy's destination service name; "" otherwise. */
  proxyDestination: string
  connectNative: boolean
  /** Statuses of the instance's own checks. */
  checks: readonly DnsCheckStatus[]
}>

export type DnsDump = Readonly<{
  index: number
  /** By lower-cased node name. */
  nodes: readonly DnsDumpNode[]
  /** By lower-cased node name, then lower-cased service ID. */
  instances: readonly DnsDumpInstance[]
}>

export type DnsDumpRequest = Readonly<{ index: number; waitMs: number }>

function statuses(checks: readonly CheckRecord[]): DnsCheckStatus[] {
  return checks.map((c) => c.check.status)
}

/** Every node and instance with their check statuses. Wakes on any node, service or check change. */
export const dnsDumpQuery: CatalogQuery<Omit<DnsDump, 'index'>> = {
  key: 'internal/dns-dump',
  evaluate(r) {
    r.table(IDX_NODES, IDX_SERVICES, IDX_CHECKS)
    const nodes: DnsDumpNode[] = []
    const instances: DnsDumpInstance[] = []
    for (const { node: n } of r.state.nodes()) {
      const checks = r.state.checksOnNode(n.node)
      nodes.push({
        name: n.node,
        address: n.address,
        datacenter: n.datacenter,
        taggedAddresses: n.taggedAddresses,
        meta: n.meta,
        checks: statuses(checks.filter((c) => c.check.serviceId === '')),
      })
      for (const { service: s } of r.state.servicesOnNode(n.node)) {
        const own = checks.filter((c) => c.check.serviceId !== '' && lower(c.check.serviceId) === lower(s.id))
        instances.push({
          node: n.node,
          id: s.id,
          name: s.name,
          tags: s.tags ?? [],
          address: s.address,
          port: s.port,
          taggedAddresses: Object.fromEntries(
            Object.entries(s.taggedAddresses).map(([k, v]) => [k, v.address]),
          ),
          kind: s.kind,
          weights: s.weights,
          proxyDestination:
            s.kind === 'connect-proxy' && s.proxy !== null ? s.proxy.destinationServiceName : '',
          connectNative: s.connectNative,
          checks: statuses(own),
        })
      }
    }
    return Object.freeze({ nodes: Object.freeze(nodes), instances: Object.freeze(instances) })
  },
}

/** The server side: a blocking dump, encoded once per catalog result. */
export interface DnsDumpSource {
  /** The dump as JSON text, once the index passes `index` or at the deadline (or on abort). */
  dump(req: DnsDumpRequest, signal?: AbortSignal): Promise<string>
}

export function catalogDnsDump(catalog: CatalogPort): DnsDumpSource {
  const encoded = new WeakMap<object, string>()
  return {
    async dump(req, signal) {
      // A client ahead of this catalog (a server restarted on a new store) is answered at once,
      // so it follows the index backwards instead of waiting out its blocking time.
      const now = catalog.read(dnsDumpQuery)
      const result =
        req.index > 0 && req.index <= now.index
          ? await catalog.block(dnsDumpQuery, {
              index: req.index,
              waitMs: req.waitMs,
              ...(signal === undefined ? {} : { signal }),
            })
          : now
      let text = encoded.get(result)
      if (text === undefined) {
        text = JSON.stringify({ index: Math.max(1, result.index), ...result.value })
        encoded.set(result, text)
      }
      return text
    },
  }
}

/** The client side: the same dump from a server; the request may wait `waitMs` plus jitter there. */
export type DnsDumpReader = (req: DnsDumpRequest, signal: AbortSignal) => Promise<DnsDump>

export function remoteDnsDump(client: ClusterClient): DnsDumpReader {
  return async (req, signal) =>
    decodeDnsDump(
      await client.rpc('POST', '/catalog/dns-dump', req, {
        signal,
        timeoutMs: req.waitMs + req.waitMs / 16 + 10_000,
      }),
    )
}

// ---- decoding (what a server sends is bounded before the mirror holds it) ----------------------

const MAX_STRING = 64 * 1024
const MAX_MAP_KEYS = 1024
const MAX_TAGS = 1024
const MAX_CHECKS = 4096
/** Far above any catalog vigil serves; a bound, not a capacity. */
const MAX_ENTRIES = 1_000_000
const STATUSES: ReadonlySet<string> = new Set(['passing', 'warning', 'critical', 'maintenance'])

function fail(path: string, what: string): never {
  throw new DecodeError(`${path}: ${what}`)
}

/** A JSON object, read through the keys `K` it is expected to hold. */
function obj<K extends string>(v: unknown, path: string): Readonly<Partial<Record<K, unknown>>> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'expected an object')
  return v as Partial<Record<K, unknown>>
}

function text(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, 'expected a string')
  if (v.length > MAX_STRING) fail(path, 'string too long')
  return v
}

function num(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'expected a finite number')
  return v
}

function list<T>(v: unknown, max: number, path: string, item: (x: unknown, p: string) => T): T[] {
  if (!Array.isArray(v)) fail(path, 'expected an array')
  if (v.length > max) fail(path, 'too many items')
  return v.map((x: unknown, i) => item(x, `${path}[${i}]`))
}

function stringMap(v: unknown, path: string): Record<string, string> {
  const entries = Object.entries(obj<string>(v, path))
  if (entries.length > MAX_MAP_KEYS) fail(path, 'too many keys')
  const out: Record<string, string> = {}
  for (const [k, x] of entries) {
    if (k === '__proto__' || k.length > MAX_STRING) fail(path, 'invalid key')
    out[k] = text(x, `${path}.${k}`)
  }
  return out
}

function checkStatuses(v: unknown, path: string): DnsCheckStatus[] {
  return list(v, MAX_CHECKS, path, (x, p) => {
    const s = text(x, p)
    if (!STATUSES.has(s)) fail(p, 'unknown status')
    return s as DnsCheckStatus
  })
}

export function decodeDnsDump(value: unknown): DnsDump {
  const v = obj<'index' | 'nodes' | 'instances'>(value, 'dump')
  const index = num(v.index, 'dump.index')
  const nodes = list(v.nodes, MAX_ENTRIES, 'dump.nodes', (x, p): DnsDumpNode => {
    const n = obj<'name' | 'address' | 'datacenter' | 'taggedAddresses' | 'meta' | 'checks'>(x, p)
    return {
      name: text(n.name, `${p}.name`),
      address: text(n.address, `${p}.address`),
      datacenter: text(n.datacenter, `${p}.datacenter`),
      taggedAddresses: stringMap(n.taggedAddresses, `${p}.taggedAddresses`),
      meta: stringMap(n.meta, `${p}.meta`),
      checks: checkStatuses(n.checks, `${p}.checks`),
    }
  })
  const instances = list(v.instances, MAX_ENTRIES, 'dump.instances', (x, p): DnsDumpInstance => {
    const s = obj<keyof DnsDumpInstance>(x, p)
    const w = obj<'passing' | 'warning'>(s.weights, `${p}.weights`)
    if (typeof s.connectNative !== 'boolean') fail(`${p}.connectNative`, 'expected a boolean')
    return {
      node: text(s.node, `${p}.node`),
      id: text(s.id, `${p}.id`),
      name: text(s.name, `${p}.name`),
      tags: list(s.tags, MAX_TAGS, `${p}.tags`, text),
      address: text(s.address, `${p}.address`),
      port: num(s.port, `${p}.port`),
      taggedAddresses: stringMap(s.taggedAddresses, `${p}.taggedAddresses`),
      kind: text(s.kind, `${p}.kind`),
      weights: {
        passing: num(w.passing, `${p}.weights.passing`),
        warning: num(w.warning, `${p}.weights.warning`),
      },
      proxyDestination: text(s.proxyDestination, `${p}.proxyDestination`),
      connectNative: s.connectNative,
      checks: checkStatuses(s.checks, `${p}.checks`),
    }
  })
  return { index, nodes, instances }
}

export function decodeDnsDumpRequest(body: string): DnsDumpRequest {
  let parsed: unknown
  try {
    parsed = JSON.parse(body) as unknown
  } catch (err) {
    throw new DecodeError(err instanceof Error ? err.message : String(err))
  }
  const v = obj<'index' | 'waitMs'>(parsed, 'request')
  const index = num(v.index, 'request.index')
  const waitMs = num(v.waitMs, 'request.waitMs')
  if (index < 0 || waitMs < 0) fail('request', 'negative index or wait')
  return { index, waitMs }
}
