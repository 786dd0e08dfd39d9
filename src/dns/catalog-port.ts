/**
 * What the DNS interface reads from the catalog: the consumer-owned port (STYLE.md §2). The
 * shapes follow the catalog's `/v1/health/service/:name` and `/v1/catalog/node/:node` reads
 * (http-api.md §10, §11, §14), reduced to the fields DNS answers from.
 *
 * Reads are synchronous and return frozen snapshots: an implementation answers from its current
 * view (the in-process catalog on a server or in `-dev`; a cache kept current by blocking
 * queries on a client agent). `index()` is the change signal: the resolver keeps every answer it
 * computed until `index()` moves, so the catalog is read once per index and name, not per query.
 */

export type DnsCheckStatus = 'passing' | 'warning' | 'critical' | 'maintenance'

export interface DnsNode {
  readonly name: string
  /** An IPv4 or IPv6 address, or a host name (answered as a CNAME). */
  readonly address: string
  readonly datacenter: string
  /** `lan`, `lan_ipv4`, `lan_ipv6`, `wan`, … */
  readonly taggedAddresses: Readonly<Record<string, string>>
  readonly meta: Readonly<Record<string, string>>
}

export interface DnsService {
  readonly id: string
  readonly name: string
  readonly tags: readonly string[]
  /** "" when the instance uses its node's address. */
  readonly address: string
  readonly port: number
  readonly taggedAddresses: Readonly<Record<string, string>>
  /** "" for a typical service; `connect-proxy`, `ingress-gateway`, … */
  readonly kind: string
  /** SRV weights by aggregated health; absent means 1 and 1. */
  readonly weights?: Readonly<{ passing: number; warning: number }>
}

export interface DnsInstance {
  readonly node: DnsNode
  readonly service: DnsService
  /** The node's node-level checks and the instance's own checks. */
  readonly checks: readonly Readonly<{ status: DnsCheckStatus }>[]
}

export interface DnsCatalog {
  /** Moves (any direction) whenever a read below may answer differently. Cheap: called per query. */
  index(): number
  /** Every instance of `name` (exact, case-sensitive as the catalog stores it), health not applied. */
  serviceInstances(name: string): readonly DnsInstance[]
  /** Connect-capable instances for `name`: its sidecar proxies and its connect-native instances. */
  connectInstances(name: string): readonly DnsInstance[]
  /** The ingress gateways that expose `name`. */
  ingressGateways(name: string): readonly DnsInstance[]
  /** The node called `name`, or undefined. */
  node(name: string): DnsNode | undefined
}
