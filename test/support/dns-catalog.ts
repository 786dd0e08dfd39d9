/**
 * An in-memory implementation of the DNS catalog port (src/dns/catalog-port.ts): the port's test
 * double. Every write moves the index, as the catalog's would; reads count themselves so tests
 * can show answers are computed once per index.
 */
import type {
  DnsCatalog,
  DnsCheckStatus,
  DnsInstance,
  DnsNode,
  DnsService,
} from '../../src/dns/catalog-port.js'

export interface InstanceInput {
  readonly node: string
  readonly address?: string
  readonly nodeMeta?: Record<string, string>
  readonly nodeTagged?: Record<string, string>
  readonly id?: string
  readonly service: string
  readonly tags?: readonly string[]
  readonly serviceAddress?: string
  readonly port?: number
  readonly kind?: string
  /** For `connect-proxy`: the service it fronts; for `ingress-gateway`: services it exposes. */
  readonly destination?: string
  readonly exposes?: readonly string[]
  readonly connectNative?: boolean
  readonly checks?: readonly DnsCheckStatus[]
  readonly weights?: { passing: number; warning: number }
}

interface Stored {
  readonly instance: DnsInstance
  readonly destination: string
  readonly exposes: readonly string[]
  readonly connectNative: boolean
}

export class MemoryDnsCatalog implements DnsCatalog {
  readonly datacenter: string
  #index = 1
  readonly #nodes = new Map<string, DnsNode>()
  #instances: Stored[] = []
  reads = 0

  constructor(datacenter = 'dc1') {
    this.datacenter = datacenter
  }

  index(): number {
    return this.#index
  }

  addNode(
    name: string,
    address: string,
    meta: Record<string, string> = {},
    tagged: Record<string, string> = {},
  ): void {
    this.#nodes.set(
      name.toLowerCase(),
      Object.freeze({
        name,
        address,
        datacenter: this.datacenter,
        meta: { ...meta },
        taggedAddresses: { ...tagged },
      }),
    )
    this.#index++
  }

  add(input: InstanceInput): void {
    if (!this.#nodes.has(input.node.toLowerCase())) {
      this.addNode(input.node, input.address ?? '127.0.0.1', input.nodeMeta, input.nodeTagged)
    }
    const node = this.#nodes.get(input.node.toLowerCase()) as DnsNode
    const service: DnsService = Object.freeze({
      id: input.id ?? input.service,
      name: input.service,
      tags: [...(input.tags ?? [])],
      address: input.serviceAddress ?? '',
      port: input.port ?? 0,
      taggedAddresses: {},
      kind: input.kind ?? '',
      ...(input.weights ? { weights: input.weights } : {}),
    })
    this.#instances.push({
      instance: Object.freeze({ node, service, checks: (input.checks ?? []).map((status) => ({ status })) }),
      destination: input.destination ?? '',
      exposes: input.exposes ?? [],
      connectNative: input.connectNative ?? false,
    })
    this.#index++
  }

  /** Sets the status of every check of the instances of `service` (by id when given). */
  setChecks(service: string, checks: readonly DnsCheckStatus[], id?: string): void {
    this.#instances = this.#instances.map((s) =>
      s.instance.service.name === service && (id === undefined || s.instance.service.id === id)
        ? { ...s, instance: { ...s.instance, checks: checks.map((status) => ({ status })) } }
        : s,
    )
    this.#index++
  }

  serviceInstances(name: string): readonly DnsInstance[] {
    this.reads++
    const n = name.toLowerCase()
    return this.#instances.filter((s) => s.instance.service.name.toLowerCase() === n).map((s) => s.instance)
  }

  connectInstances(name: string): readonly DnsInstance[] {
    this.reads++
    const n = name.toLowerCase()
    return this.#instances
      .filter(
        (s) =>
          (s.instance.service.kind === 'connect-proxy' && s.destination.toLowerCase() === n) ||
          (s.connectNative && s.instance.service.name.toLowerCase() === n),
      )
      .map((s) => s.instance)
  }

  ingressGateways(name: string): readonly DnsInstance[] {
    this.reads++
    const n = name.toLowerCase()
    return this.#instances
      .filter(
        (s) => s.instance.service.kind === 'ingress-gateway' && s.exposes.some((e) => e.toLowerCase() === n),
      )
      .map((s) => s.instance)
  }

  node(name: string): DnsNode | undefined {
    this.reads++
    return this.#nodes.get(name.toLowerCase())
  }
}
