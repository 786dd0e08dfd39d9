/**
 * The catalog port of anti-entropy on a client agent: the same port a server serves in process
 * (roles/local-catalog.ts), over the cluster RPCs to a server. While no server is known every
 * call fails with `No known Consul servers`, and the sync loop retries with backoff; local
 * state is never blocked by it.
 */
import type { CatalogSyncPort, RemoteNodeState, SyncRegistration } from '../agent/sync/catalog-port.js'
import type { ClusterClient } from './client.js'
import { decodeRemoteNode } from './wire.js'

export function remoteCatalogPort(client: ClusterClient): CatalogSyncPort {
  return {
    async readNode(node: string): Promise<RemoteNodeState> {
      return decodeRemoteNode(await client.rpc('POST', '/catalog/read', { name: node }))
    },
    async register(reg: SyncRegistration): Promise<void> {
      await client.rpc('POST', '/catalog/register', reg)
    },
    async deregisterService(node: string, serviceId: string): Promise<void> {
      await client.rpc('POST', '/catalog/deregister', { node, serviceId, checkId: '' })
    },
    async deregisterCheck(node: string, checkId: string): Promise<void> {
      await client.rpc('POST', '/catalog/deregister', { node, serviceId: '', checkId })
    },
  }
}
