/**
 * The catalog port of anti-entropy, served by a catalog in the same process (a server, `-dev`).
 * A client agent gets the same port over the network instead; the sync loop cannot tell.
 */
import type {
  CatalogSyncPort,
  NodeInfo,
  RemoteNodeState,
  SyncRegistration,
} from '../agent/sync/catalog-port.js'
import type { Catalog } from '../catalog/catalog.js'
import { nodeChecksQuery, nodeServicesQuery } from '../catalog/queries.js'
import { nodeRegistration, type CatalogCheckInput } from '../catalog/types.js'
import { parseGoDurationMs } from '../lib/duration.js'
import { EMPTY_DEFINITION, type HealthCheck } from '../structs/check.js'

/** A synced check as a catalog registration carries it: its runner fields, no probe details. */
function checkInput(c: HealthCheck): CatalogCheckInput {
  const definition = Object.freeze({
    ...EMPTY_DEFINITION,
    type: c.type,
    intervalMs: c.interval === '' ? 0 : parseGoDurationMs(c.interval),
    timeoutMs: c.timeout === '' ? 0 : parseGoDurationMs(c.timeout),
  })
  return Object.freeze({
    node: c.node,
    checkId: c.checkId,
    name: c.name,
    status: c.status,
    notes: c.notes,
    output: c.output,
    serviceId: c.serviceId,
    definition,
  })
}

export function localCatalogPort(catalog: Catalog): CatalogSyncPort {
  return {
    readNode(node: string): Promise<RemoteNodeState> {
      const found = catalog.read(nodeServicesQuery(node)).value
      const checks = catalog.read(nodeChecksQuery(node)).value
      const info: NodeInfo | null = found === null ? null : found.node.node
      return Promise.resolve({
        node: info,
        services: found?.services.map((s) => s.service) ?? [],
        checks: checks.map((c) => c.check),
      })
    },
    async register(reg: SyncRegistration): Promise<void> {
      await catalog.register(nodeRegistration(reg.node, reg.service, reg.checks.map(checkInput)))
    },
    async deregisterService(node: string, serviceId: string): Promise<void> {
      await catalog.deregister({ node, serviceId, checkId: '' })
    },
    async deregisterCheck(node: string, checkId: string): Promise<void> {
      await catalog.deregister({ node, serviceId: '', checkId })
    },
  }
}
