import type {
  CatalogSyncPort,
  NodeInfo,
  RemoteNodeState,
  SyncRegistration,
} from '../../src/agent/sync/catalog-port.js'
import type { HealthCheck } from '../../src/structs/check.js'
import type { Service } from '../../src/structs/service.js'

/**
 * One node's slice of a catalog behind the anti-entropy port, for unit tests of the sync loop:
 * it keeps what was written, counts the calls, can be edited "behind the agent's back", and
 * can be made to fail (a fault injector) or to hold a call until released.
 */
export class NodeCatalog implements CatalogSyncPort {
  node: NodeInfo | null = null
  readonly services = new Map<string, Service>()
  readonly checks = new Map<string, HealthCheck>()
  readonly calls: string[] = []
  /** When set, every call rejects with this error. */
  failWith: Error | null = null
  /** When set, calls wait for this promise before they act. */
  gate: Promise<void> | null = null

  async #enter(call: string): Promise<void> {
    this.calls.push(call)
    if (this.gate !== null) await this.gate
    if (this.failWith !== null) throw this.failWith
  }

  async readNode(): Promise<RemoteNodeState> {
    await this.#enter('read')
    return { node: this.node, services: [...this.services.values()], checks: [...this.checks.values()] }
  }

  async register(reg: SyncRegistration): Promise<void> {
    await this.#enter(`register ${reg.service?.id ?? '-'} [${reg.checks.map((c) => c.checkId).join(',')}]`)
    this.node = reg.node
    if (reg.service !== null) this.services.set(reg.service.id, reg.service)
    for (const c of reg.checks) this.checks.set(c.checkId, c)
  }

  async deregisterService(_node: string, serviceId: string): Promise<void> {
    await this.#enter(`deregister service ${serviceId}`)
    this.services.delete(serviceId)
    for (const [id, c] of this.checks) if (c.serviceId === serviceId) this.checks.delete(id)
  }

  async deregisterCheck(_node: string, checkId: string): Promise<void> {
    await this.#enter(`deregister check ${checkId}`)
    this.checks.delete(checkId)
  }

  /** The calls made since the last take, and forgets them. */
  take(): string[] {
    return this.calls.splice(0)
  }
}
