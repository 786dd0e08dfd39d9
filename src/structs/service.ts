import type { CheckRegistration } from './check.js'

export type ServiceKind =
  '' | 'connect-proxy' | 'mesh-gateway' | 'terminating-gateway' | 'ingress-gateway' | 'api-gateway'

/** Every service kind Consul knows. */
export const SERVICE_KINDS: ReadonlySet<string> = new Set<ServiceKind>([
  '',
  'connect-proxy',
  'mesh-gateway',
  'terminating-gateway',
  'ingress-gateway',
  'api-gateway',
])

export function isServiceKind(value: string): value is ServiceKind {
  return SERVICE_KINDS.has(value)
}

export type ServiceAddress = Readonly<{ address: string; port: number }>

export type Weights = Readonly<{ passing: number; warning: number }>

/** Upstream of a connect proxy; kept as given (JSON-compatible) beyond the fields vigil reads. */
export type Upstream = Readonly<Record<string, unknown>>

/** `Proxy` of a connect-proxy service. Unknown fields are preserved in `extra` for round-trips. */
export type ProxyConfig = Readonly<{
  destinationServiceName: string
  destinationServiceId: string
  localServiceAddress: string
  localServicePort: number
  mode: string
  config: Readonly<Record<string, unknown>>
  upstreams: readonly Upstream[]
  /** The other `Proxy` fields as given (`MeshGateway`, `Expose`, `TransparentProxy`, …), by Go name. */
  extra: Readonly<Record<string, unknown>>
}>

/**
 * The public record of a service on this agent (Consul's `NodeService`/`AgentService`).
 * A frozen snapshot: it never changes; re-registration replaces it whole (no field merge).
 */
export type Service = Readonly<{
  id: string
  name: string
  /** null when the registration sent none; the API renders [] */
  tags: readonly string[] | null
  address: string
  port: number
  socketPath: string
  taggedAddresses: Readonly<Record<string, ServiceAddress>>
  meta: Readonly<Record<string, string>>
  weights: Weights
  enableTagOverride: boolean
  kind: ServiceKind
  proxy: ProxyConfig | null
  connectNative: boolean
  /** Set on a sidecar registered through its parent's `Connect.SidecarService`. Never in API JSON. */
  locallyRegisteredAsSidecar: boolean
}>

/** A validated service registration with the checks it defines (IDs and names already defaulted). */
export type ServiceRegistration = Readonly<{
  service: Service
  checks: readonly CheckRegistration[]
  /** The sidecar registration spawned by `Connect.SidecarService`, if any (a later issue fills it). */
  sidecar: ServiceRegistration | null
  /**
   * `Connect.SidecarService` exactly as given (decoded and checked for unknown fields, not yet
   * defaulted); the sidecar feature builds `sidecar` from it. null when the definition had none.
   */
  sidecarService: Readonly<Record<string, unknown>> | null
  token: string
  source: 'remote' | 'local'
}>
