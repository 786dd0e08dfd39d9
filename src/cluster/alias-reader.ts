/**
 * The catalog reads of remote alias checks (agent/checks/remote-alias-check.ts): in process on a
 * server, over the cluster RPC `catalog/node-health` on a client agent.
 */
import type { AliasTargetReader, NodeHealth } from '../agent/checks/remote-alias-check.js'
import type { CatalogPort } from '../catalog/port.js'
import { nodeChecksQuery, nodeServicesQuery } from '../catalog/queries.js'
import type { ClusterClient } from './client.js'
import { decodeNodeHealth } from './wire.js'

/** A blocking read of the node's checks, then its services as they are at that moment. */
export function catalogAliasReader(catalog: CatalogPort): AliasTargetReader {
  return {
    async nodeHealth(node, opts): Promise<NodeHealth> {
      const checks = await catalog.block(nodeChecksQuery(node), opts)
      const services = catalog.read(nodeServicesQuery(node)).value
      return Object.freeze({
        index: checks.index,
        checks: Object.freeze(checks.value.map((c) => c.check)),
        serviceIds: Object.freeze(services?.services.map((s) => s.service.id) ?? []),
      })
    },
  }
}

/** The same through a server; the request may wait the blocking time plus jitter there. */
export function remoteAliasReader(client: ClusterClient): AliasTargetReader {
  return {
    async nodeHealth(node, opts): Promise<NodeHealth> {
      const reply = await client.rpc(
        'POST',
        '/catalog/node-health',
        { name: node, index: opts.index, waitMs: opts.waitMs },
        { signal: opts.signal, timeoutMs: opts.waitMs + opts.waitMs / 16 + 10_000 },
      )
      return decodeNodeHealth(reply)
    },
  }
}
