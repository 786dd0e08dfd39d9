import { createHash } from 'node:crypto'
import type { ProxyConfig, Service } from '../structs/service.js'
import { encodeJson, goMap } from './json.js'

/** A wire object: PascalCase fields in Go's declaration order. */
export type WireObject = Record<string, unknown>

const GATEWAY_KINDS = new Set(['mesh-gateway', 'terminating-gateway', 'ingress-gateway', 'api-gateway'])

/**
 * A service as the agent endpoints return it (Consul's `api.AgentService`, http-api.md §14):
 * `Tags` and `Meta` never null, `Kind`/`SocketPath`/`TaggedAddresses` omitted when empty,
 * `Proxy` only for proxies and gateways, `Connect` only for connect-native services.
 */
export function renderAgentService(service: Service, datacenter: string): WireObject {
  const out: WireObject = {}
  if (service.kind !== '') out['Kind'] = service.kind
  out['ID'] = service.id
  out['Service'] = service.name
  out['Tags'] = [...(service.tags ?? [])]
  out['Meta'] = goMap(service.meta)
  out['Port'] = service.port
  out['Address'] = service.address
  if (service.socketPath !== '') out['SocketPath'] = service.socketPath
  const tagged = Object.entries(service.taggedAddresses)
  if (tagged.length > 0) {
    out['TaggedAddresses'] = goMap(tagged.map(([k, v]) => [k, { Address: v.address, Port: v.port }] as const))
  }
  out['Weights'] = {
    Passing: service.weights.passing > 0 ? service.weights.passing : 1,
    Warning: service.weights.warning,
  }
  out['EnableTagOverride'] = service.enableTagOverride
  if (service.kind === 'connect-proxy' || GATEWAY_KINDS.has(service.kind)) {
    out['Proxy'] = renderProxy(service.proxy)
  }
  if (service.connectNative) out['Connect'] = { Native: true }
  out['Datacenter'] = datacenter
  return out
}

/**
 * The same, with `ContentHash` (an opaque hex digest of everything else) placed where Go puts
 * it; the hash changes whenever anything in the rendered service changes.
 */
export function renderAgentServiceWithHash(
  service: Service,
  datacenter: string,
): { hash: string; body: WireObject } {
  const plain = renderAgentService(service, datacenter)
  const digest = createHash('sha256').update(encodeJson(plain, false)).digest('hex').slice(0, 16)
  const hash = BigInt(`0x${digest}`).toString(16)
  const body: WireObject = {}
  for (const [k, v] of Object.entries(plain)) {
    body[k] = v
    if (k === 'EnableTagOverride') body['ContentHash'] = hash
  }
  return { hash, body }
}

function renderProxy(proxy: ProxyConfig | null): WireObject {
  const out: WireObject = {}
  if (proxy !== null) {
    if (proxy.destinationServiceName !== '') out['DestinationServiceName'] = proxy.destinationServiceName
    if (proxy.destinationServiceId !== '') out['DestinationServiceID'] = proxy.destinationServiceId
    if (proxy.localServiceAddress !== '') out['LocalServiceAddress'] = proxy.localServiceAddress
    if (proxy.localServicePort !== 0) out['LocalServicePort'] = proxy.localServicePort
    if (proxy.mode !== '') out['Mode'] = proxy.mode
    if (Object.keys(proxy.config).length > 0) out['Config'] = deepGoMap(proxy.config)
    if (proxy.upstreams.length > 0) out['Upstreams'] = proxy.upstreams
  }
  out['MeshGateway'] = {}
  out['Expose'] = {}
  return out
}

/** A free-form JSON value (Go `map[string]interface{}`): every object in it is a map. */
function deepGoMap(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepGoMap)
  if (value !== null && typeof value === 'object') {
    return goMap(Object.entries(value).map(([k, v]) => [k, deepGoMap(v)] as const))
  }
  return value
}
