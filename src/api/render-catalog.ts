/**
 * Catalog records as Consul's catalog and health endpoints return them (http-api.md §14):
 * `Node`, `ServiceNode`, `NodeService`, `HealthCheck` with their raft indexes.
 */
import type { CheckServiceNode, NodeServices, ServiceNode } from '../catalog/queries.js'
import type { CheckRecord, NodeRecord, ServiceRecord } from '../catalog/types.js'
import type { ProxyConfig, Service } from '../structs/service.js'
import { goMap } from './json.js'
import { renderHealthCheck } from './render-check.js'
import type { WireObject } from './render-service.js'

export function renderNode(rec: NodeRecord): WireObject {
  const n = rec.node
  return {
    ID: n.id,
    Node: n.node,
    Address: n.address,
    Datacenter: n.datacenter,
    TaggedAddresses: goMap(n.taggedAddresses),
    Meta: goMap(n.meta),
    CreateIndex: rec.createIndex,
    ModifyIndex: rec.modifyIndex,
  }
}

function taggedAddresses(s: Service): WireObject | undefined {
  const entries = Object.entries(s.taggedAddresses)
  if (entries.length === 0) return undefined
  return goMap(entries.map(([k, v]) => [k, { Address: v.address, Port: v.port }] as const))
}

/** Consul's `ConnectProxyConfig` JSON: `Mode`, `MeshGateway` and `Expose` always, the rest when set. */
function renderProxy(proxy: ProxyConfig | null): WireObject {
  const out: WireObject = {}
  const extra = proxy?.extra ?? {}
  if (proxy !== null) {
    if (proxy.destinationServiceName !== '') out['DestinationServiceName'] = proxy.destinationServiceName
    if (proxy.destinationServiceId !== '') out['DestinationServiceID'] = proxy.destinationServiceId
    if (proxy.localServiceAddress !== '') out['LocalServiceAddress'] = proxy.localServiceAddress
    if (proxy.localServicePort !== 0) out['LocalServicePort'] = proxy.localServicePort
    if (typeof extra['LocalServiceSocketPath'] === 'string' && extra['LocalServiceSocketPath'] !== '') {
      out['LocalServiceSocketPath'] = extra['LocalServiceSocketPath']
    }
  }
  out['Mode'] = proxy?.mode ?? ''
  if (proxy !== null) {
    if (Object.keys(proxy.config).length > 0) out['Config'] = proxy.config
    if (proxy.upstreams.length > 0) out['Upstreams'] = proxy.upstreams
  }
  out['MeshGateway'] = extra['MeshGateway'] ?? {}
  out['Expose'] = extra['Expose'] ?? {}
  for (const name of ['TransparentProxy', 'AccessLogs', 'EnvoyExtensions', 'MutualTLSMode']) {
    if (extra[name] !== undefined) out[name] = extra[name]
  }
  return out
}

function renderConnect(s: Service): WireObject {
  return s.connectNative ? { Native: true } : {}
}

/** `NodeService` (catalog/node, health/service `Service`). */
export function renderNodeService(rec: ServiceRecord): WireObject {
  const s = rec.service
  const out: WireObject = {}
  if (s.kind !== '') out['Kind'] = s.kind
  out['ID'] = s.id
  out['Service'] = s.name
  out['Tags'] = [...(s.tags ?? [])]
  out['Address'] = s.address
  const tagged = taggedAddresses(s)
  if (tagged !== undefined) out['TaggedAddresses'] = tagged
  out['Meta'] = goMap(s.meta)
  if (s.port !== 0) out['Port'] = s.port
  if (s.socketPath !== '') out['SocketPath'] = s.socketPath
  out['Weights'] = { Passing: s.weights.passing, Warning: s.weights.warning }
  out['EnableTagOverride'] = s.enableTagOverride
  out['Proxy'] = renderProxy(s.proxy)
  out['Connect'] = renderConnect(s)
  out['PeerName'] = ''
  out['CreateIndex'] = rec.createIndex
  out['ModifyIndex'] = rec.modifyIndex
  return out
}

/** `ServiceNode` (catalog/service): the node's fields, then the service's with `Service` prefixes. */
export function renderServiceNode(e: ServiceNode): WireObject {
  const n = e.node.node
  const s = e.service.service
  const out: WireObject = {
    ID: n.id,
    Node: n.node,
    Address: n.address,
    Datacenter: n.datacenter,
    TaggedAddresses: goMap(n.taggedAddresses),
    NodeMeta: goMap(n.meta),
    ServiceKind: s.kind,
    ServiceID: s.id,
    ServiceName: s.name,
    ServiceTags: [...(s.tags ?? [])],
    ServiceAddress: s.address,
  }
  const tagged = taggedAddresses(s)
  if (tagged !== undefined) out['ServiceTaggedAddresses'] = tagged
  Object.assign(out, {
    ServiceWeights: { Passing: s.weights.passing, Warning: s.weights.warning },
    ServiceMeta: goMap(s.meta),
    ServicePort: s.port,
    ServiceSocketPath: s.socketPath,
    ServiceEnableTagOverride: s.enableTagOverride,
    ServiceProxy: renderProxy(s.proxy),
    ServiceConnect: renderConnect(s),
    ServiceLocality: null,
    CreateIndex: e.service.createIndex,
    ModifyIndex: e.service.modifyIndex,
  })
  return out
}

export function renderCatalogCheck(rec: CheckRecord): WireObject {
  return { ...renderHealthCheck(rec), CreateIndex: rec.createIndex, ModifyIndex: rec.modifyIndex }
}

/** `/v1/catalog/node/:node`: `{Node, Services: {id: NodeService}}`, or null. */
export function renderNodeServicesMap(v: NodeServices | null): unknown {
  if (v === null) return null
  return {
    Node: renderNode(v.node),
    Services: goMap(v.services.map((s) => [s.service.id, renderNodeService(s)] as const)),
  }
}

/** `/v1/catalog/node-services/:node`: `{Node, Services: [NodeService]}`; unknown node → `{Node: null, Services: []}`. */
export function renderNodeServicesList(v: NodeServices | null): unknown {
  if (v === null) return { Node: null, Services: [] }
  return { Node: renderNode(v.node), Services: v.services.map(renderNodeService) }
}

/** One `/v1/health/service` entry. */
export function renderCheckServiceNode(e: CheckServiceNode): WireObject {
  return {
    Node: renderNode(e.node),
    Service: renderNodeService(e.service),
    Checks: e.checks.map(renderCatalogCheck),
  }
}
