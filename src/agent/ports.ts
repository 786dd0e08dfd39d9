/**
 * The agent as the HTTP API (and later the DNS interface and the cluster code) sees it: a read
 * model and a commands interface (DESIGN.md "Seams"). A route cannot reach local state's writers,
 * the check manager or the data dir, so it cannot write around the agent's lock or persistence.
 */
import type { AggregateStatus, CheckRegistration, HealthCheck, Status } from '../structs/check.js'
import type { NormalizeContext } from '../structs/normalize.js'
import type { ServiceRegistration } from '../structs/service.js'
import type { AgentSettings } from './agent-settings.js'
import type { Listener, SubscribeOptions } from './checks/ports.js'
import type { CheckEntry, LocalStateStats, ServiceEntry } from './local/local-state.js'

/**
 * What the agent's local state lets a reader see. Every entry is a frozen snapshot: it never
 * changes, but is stale after the next await. Re-read; don't cache past `version`.
 */
export interface AgentReadModel {
  /** Moves on every change; equal versions mean equal contents. */
  readonly version: number
  readonly stats: LocalStateStats
  service(id: string): ServiceEntry | undefined
  check(id: string): CheckEntry | undefined
  services(): readonly ServiceEntry[]
  checks(): readonly CheckEntry[]
  checksOfService(serviceId: string): readonly CheckEntry[]
  nodeChecks(): readonly CheckEntry[]
  serviceCount(): number
  checkCount(): number
  /** The service's checks plus the node's, and their aggregate (agent-state.md §10). */
  serviceHealth(serviceId: string): { status: AggregateStatus; checks: readonly HealthCheck[] }
  /** Calls `fn` synchronously after each change; the listener must only record "look again". */
  subscribe(fn: Listener, opts?: SubscribeOptions): () => void
}

/**
 * Everything a client may ask the agent to change. Each method validates before it changes
 * anything, and resolves once the change is applied (and, with a data dir, durable).
 */
export interface AgentCommands {
  /** The normalizer context for a definition from `origin`. */
  normalizeContext(origin: 'api' | 'config'): NormalizeContext
  registerService(reg: ServiceRegistration, opts: { replaceExistingChecks: boolean }): Promise<void>
  deregisterService(serviceId: string): Promise<void>
  registerCheck(reg: CheckRegistration): Promise<void>
  deregisterCheck(checkId: string): Promise<void>
  updateTtl(checkId: string, status: Status, output: string): Promise<void>
  setNodeMaintenance(enable: boolean, reason: string, token: string): Promise<void>
  setServiceMaintenance(serviceId: string, enable: boolean, reason: string, token: string): Promise<void>
}

/** The agent as its API sees it. */
export interface AgentPort {
  readonly config: AgentSettings
  readonly nodeId: string
  readonly startedAtMs: number
  readonly read: AgentReadModel
  readonly commands: AgentCommands
  /** Check runners currently running. */
  runnerCount(): number
}
