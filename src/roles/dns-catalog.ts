/**
 * The DNS interface's catalog port, served by a catalog in the same process (a server, `-dev`).
 * Reads are synchronous evaluations of the catalog's view; `index()` is the view's revision, so
 * the resolver prepares each name's answer once per catalog change.
 */
import type { Catalog } from '../catalog/catalog.js'
import { nodeServicesQuery, serviceHealthQuery, type CheckServiceNode } from '../catalog/queries.js'
import type { CatalogNode } from '../catalog/types.js'
import type { DnsCatalog, DnsInstance, DnsNode } from '../dns/catalog-port.js'

function dnsNode(n: CatalogNode): DnsNode {
  return {
    name: n.node,
    address: n.address,
    datacenter: n.datacenter,
    taggedAddresses: n.taggedAddresses,
    meta: n.meta,
  }
}

function dnsInstance(e: CheckServiceNode): DnsInstance {
  const s = e.service.service
  return {
    node: dnsNode(e.node.node),
    service: {
      id: s.id,
      name: s.name,
      tags: s.tags ?? [],
      address: s.address,
      port: s.port,
      taggedAddresses: Object.fromEntries(Object.entries(s.taggedAddresses).map(([k, v]) => [k, v.address])),
      kind: s.kind,
      weights: s.weights,
    },
    checks: e.checks.map((c) => ({ status: c.check.status })),
  }
}

export function localDnsCatalog(catalog: Catalog): DnsCatalog {
  return {
    index: () => catalog.revision,
    serviceInstances: (name) => catalog.read(serviceHealthQuery(name)).value.map(dnsInstance),
    connectInstances: (name) =>
      catalog.read(serviceHealthQuery(name, { connect: true })).value.map(dnsInstance),
    // The catalog keeps no ingress-gateway configuration entries yet: no gateway exposes a name.
    ingressGateways: () => [],
    node: (name) => {
      const found = catalog.read(nodeServicesQuery(name)).value
      return found === null ? undefined : dnsNode(found.node.node)
    },
  }
}
