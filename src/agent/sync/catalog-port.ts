/**
 * What anti-entropy needs of the catalog (agent-state.md §11, servers.md §6). The consumer owns
 * this interface: on a server (and in `-dev`) the catalog in process implements it; on a client
 * agent, a server reached over the network does. Records are vigil's own frozen structs; the
 * implementation translates to and from its storage or wire format.
 */
import type { HealthCheck } from '../../structs/check.js'
import type { Service } from '../../structs/service.js'

/** The node fields an agent owns in the catalog. */
export type NodeInfo = Readonly<{
  id: string
  node: string
  address: string
  datacenter: string
  taggedAddresses: Readonly<Record<string, string>>
  meta: Readonly<Record<string, string>>
}>

/** The catalog's view of one node. `node` is null when the node is not registered. */
export type RemoteNodeState = Readonly<{
  node: NodeInfo | null
  services: readonly Service[]
  checks: readonly HealthCheck[]
}>

/** One catalog registration: the node, optionally one service, and checks (Consul's RegisterRequest). */
export type SyncRegistration = Readonly<{
  node: NodeInfo
  service: Service | null
  checks: readonly HealthCheck[]
  /** The token of the entry being synced ('' = the agent's). */
  token: string
}>

export interface CatalogSyncPort {
  /** This node as the catalog holds it; stale reads are fine. */
  readNode(node: string): Promise<RemoteNodeState>
  register(reg: SyncRegistration): Promise<void>
  deregisterService(node: string, serviceId: string): Promise<void>
  deregisterCheck(node: string, checkId: string): Promise<void>
}
