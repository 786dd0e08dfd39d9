import { randomUUID } from 'node:crypto'
import { systemClock, type Clock } from '../lib/clock.js'
import {
  BadRequestError,
  MaintenanceServiceMissingError,
  MissingServiceForCheckError,
  NotTtlCheckError,
  ShuttingDownError,
  UnknownCheckError,
  UnknownServiceError,
} from '../lib/errors.js'
import { Mutex } from '../lib/keyed-queue.js'
import {
  EMPTY_DEFINITION,
  NODE_MAINTENANCE_CHECK_ID,
  serviceMaintenanceCheckId,
  type CheckRegistration,
  type HealthCheck,
  type Status,
} from '../structs/check.js'
import {
  normalizeCheckDefinition,
  normalizeServiceDefinition,
  type NormalizeContext,
} from '../structs/normalize.js'
import type { ServiceRegistration } from '../structs/service.js'
import { CheckManager } from './checks/check-manager.js'
import { createRunner, unsupportedCheckType, type RunnerFactory } from './checks/factory.js'
import { truncateHead } from './checks/output.js'
import { noYield, type RunnerLogger, type YieldPoint } from './checks/runner.js'
import { TtlRunner } from './checks/ttl-check.js'
import { LocalState } from './local/local-state.js'

/** The logger the agent needs; pino loggers satisfy it. */
export interface AgentLogger extends RunnerLogger {
  child(bindings: Record<string, unknown>): AgentLogger
}

/** The part of the agent configuration the agent core reads (AgentConfig satisfies it). */
export interface AgentSettings {
  readonly nodeName: string
  readonly nodeId: string
  readonly datacenter: string
  readonly server: boolean
  readonly bootstrap: boolean
  readonly dev: boolean
  readonly enableScriptChecks: boolean
  readonly enableLocalScriptChecks: boolean
  readonly checkOutputMaxSize: number
  readonly discardCheckOutput: boolean
  readonly nodeMeta: Readonly<Record<string, string>>
  readonly bindAddr: string
  readonly advertiseAddr: string
  readonly ports: Readonly<{ serfLan: number; server: number }>
  /** Raw service definitions from config files, normalized at start. */
  readonly services: readonly ConfigDefinition[]
  /** Raw check definitions from config files, normalized at start. */
  readonly checks: readonly ConfigDefinition[]
}

/** A definition from a config file, with the file it came from for error messages. */
export type ConfigDefinition = Readonly<{ source: string; definition: unknown }>

export interface AgentOptions {
  readonly config: AgentSettings
  readonly logger: AgentLogger
  readonly clock?: Clock
  readonly random?: () => number
  readonly yieldPoint?: YieldPoint
  readonly runnerFactory?: RunnerFactory
}

export const VIGIL_VERSION = '1.22.0'

const NODE_MAINTENANCE_DEFAULT_REASON =
  'Maintenance mode is enabled for this node, but no reason was provided. This is a default message.'
const SERVICE_MAINTENANCE_DEFAULT_REASON =
  'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.'

/**
 * The agent: wires local state, the check manager and (later) persistence and anti-entropy.
 *
 * Concurrency contract: lifecycle operations (register, deregister, maintenance, shutdown) are
 * serialized by one agent-wide mutex, as Consul's agent lock; status writes (TTL updates,
 * runner results) do not take it and are fenced by generation in LocalState instead.
 */
export class Agent {
  readonly config: AgentSettings
  readonly state: LocalState
  readonly checks: CheckManager
  readonly nodeId: string
  readonly startedAtMs: number
  readonly #log: AgentLogger
  readonly #clock: Clock
  readonly #lock = new Mutex()
  #shutdown: Promise<void> | undefined

  private constructor(opts: AgentOptions) {
    this.config = opts.config
    this.#clock = opts.clock ?? systemClock
    this.#log = opts.logger.child({ module: 'agent' })
    this.nodeId = opts.config.nodeId !== '' ? opts.config.nodeId : randomUUID()
    this.startedAtMs = this.#clock.now()
    const stateLog = opts.logger.child({ module: 'agent.local' })
    this.state = new LocalState({
      nodeName: opts.config.nodeName,
      clock: this.#clock,
      onStaleWrite: (checkId, generation, current) => {
        stateLog.debug(
          { checkId, generation, current: current ?? 'none' },
          'Rejected a write from a stale check runner',
        )
      },
    })
    this.checks = new CheckManager({
      state: this.state,
      clock: this.#clock,
      random: opts.random ?? Math.random,
      logger: opts.logger.child({ module: 'agent.checks' }),
      factory: opts.runnerFactory ?? createRunner,
      outputMaxSize: opts.config.checkOutputMaxSize,
      yieldPoint: opts.yieldPoint ?? noYield,
    })
  }

  /** Creates the agent and registers the services and checks of its config files. */
  static async start(opts: AgentOptions): Promise<Agent> {
    const agent = new Agent(opts)
    await agent.#loadConfigDefinitions()
    agent.#log.info({ node: opts.config.nodeName, datacenter: opts.config.datacenter }, 'Agent started')
    return agent
  }

  /** The normalizer context for a request from `origin`. */
  normalizeContext(origin: 'api' | 'config'): NormalizeContext {
    const warn = (message: string): void => {
      this.#log.warn({}, message)
    }
    return {
      nodeName: this.config.nodeName,
      origin,
      enableScriptChecks: this.config.enableScriptChecks,
      enableLocalScriptChecks: this.config.enableLocalScriptChecks,
      warn,
    }
  }

  // ---- services ------------------------------------------------------------------------------

  /**
   * Registers (or replaces) a service and its checks (agent-state.md §7, in vigil's order):
   * every record, with carried-over status, is stored before any runner starts; old runners are
   * stopped and awaited before their successors start; the registration path writes no status
   * after that. With `replaceExistingChecks`, this service's checks absent from the request go.
   */
  registerService(reg: ServiceRegistration, opts: { replaceExistingChecks: boolean }): Promise<void> {
    return this.#exclusive(async () => {
      if (reg.sidecarService !== null) {
        throw new BadRequestError('Connect.SidecarService is not supported by this vigil version yet')
      }
      for (const c of reg.checks) this.#assertRunnable(c)
      const { service } = reg
      const newIds = new Set(reg.checks.map((c) => c.check.checkId))
      const removeCheckIds = opts.replaceExistingChecks
        ? this.state
            .checksOfService(service.id)
            .map((e) => e.check.checkId)
            .filter((id) => !newIds.has(id))
        : []
      const entries = this.state.apply({
        service: { service, token: reg.token, source: reg.source },
        checks: reg.checks,
        removeCheckIds,
      })
      for (const id of removeCheckIds) await this.checks.remove(id)
      for (const e of entries) await this.checks.replace(e.check.checkId, e.definition, e.generation)
      this.#log.info({ service: service.id }, 'Synced service')
    })
  }

  /** Removes a service, its checks (runners stopped and awaited). Unknown → UnknownServiceError. */
  deregisterService(serviceId: string): Promise<void> {
    return this.#exclusive(async () => {
      if (this.state.service(serviceId) === undefined) throw new UnknownServiceError(serviceId)
      const checkIds = this.state.checksOfService(serviceId).map((e) => e.check.checkId)
      this.state.apply({ removeCheckIds: checkIds })
      this.state.removeService(serviceId)
      for (const id of checkIds) await this.checks.remove(id)
      this.#log.info({ service: serviceId }, 'Deregistered service')
    })
  }

  // ---- checks --------------------------------------------------------------------------------

  /** Registers (or replaces) a standalone check; its service, if named, must exist. */
  registerCheck(reg: CheckRegistration): Promise<void> {
    return this.#exclusive(async () => {
      this.#assertRunnable(reg)
      const withService = this.#attachService(reg)
      const [entry] = this.state.apply({ checks: [withService] })
      if (entry !== undefined)
        await this.checks.replace(entry.check.checkId, entry.definition, entry.generation)
      this.#log.info({ check: reg.check.checkId }, 'Synced check')
    })
  }

  /** Removes a check and awaits its runner's stop. Unknown → UnknownCheckError. */
  deregisterCheck(checkId: string): Promise<void> {
    return this.#exclusive(async () => {
      if (this.state.check(checkId) === undefined) throw new UnknownCheckError(checkId)
      this.state.apply({ removeCheckIds: [checkId] })
      await this.checks.remove(checkId)
      this.#log.info({ check: checkId }, 'Deregistered check')
    })
  }

  /**
   * pass/warn/fail/update of a TTL check (checks.md §5): writes status and (truncated) output
   * for the check's current registration, then restarts the TTL of that registration's runner.
   */
  updateTtl(checkId: string, status: Status, output: string): void {
    const entry = this.state.check(checkId)
    if (entry === undefined) throw new UnknownCheckError(checkId)
    if (entry.definition.type !== 'ttl') throw new NotTtlCheckError(checkId)
    const limit =
      entry.definition.outputMaxSize > 0
        ? Math.min(entry.definition.outputMaxSize, this.config.checkOutputMaxSize)
        : this.config.checkOutputMaxSize
    const stored = this.config.discardCheckOutput ? '' : truncateHead(output, limit)
    this.state.updateCheck(checkId, entry.generation, status, stored)
    const live = this.checks.runner(checkId)
    if (live !== undefined && live.generation === entry.generation && live.runner instanceof TtlRunner) {
      live.runner.rearm(stored)
    }
  }

  // ---- maintenance ---------------------------------------------------------------------------

  /** Node maintenance (agent-state.md §6): enabling twice keeps the first reason. */
  setNodeMaintenance(enable: boolean, reason: string, token: string): Promise<void> {
    return this.#exclusive(() => {
      const existing = this.state.check(NODE_MAINTENANCE_CHECK_ID)
      if (!enable) {
        if (existing === undefined) return
        this.state.apply({ removeCheckIds: [NODE_MAINTENANCE_CHECK_ID] })
        this.#log.info({}, 'Node left maintenance mode')
        return
      }
      if (existing !== undefined) return
      this.state.apply({
        checks: [
          this.#maintenanceCheck(
            NODE_MAINTENANCE_CHECK_ID,
            'Node Maintenance Mode',
            reason || NODE_MAINTENANCE_DEFAULT_REASON,
            token,
            null,
          ),
        ],
      })
      this.#log.info({}, 'Node entered maintenance mode')
    })
  }

  /** Service maintenance (agent-state.md §6). Unknown service → 404 `No service registered…`. */
  setServiceMaintenance(serviceId: string, enable: boolean, reason: string, token: string): Promise<void> {
    return this.#exclusive(() => {
      const svc = this.state.service(serviceId)
      if (svc === undefined) throw new MaintenanceServiceMissingError(serviceId)
      const checkId = serviceMaintenanceCheckId(serviceId)
      const existing = this.state.check(checkId)
      if (!enable) {
        if (existing === undefined) return
        this.state.apply({ removeCheckIds: [checkId] })
        this.#log.info({ service: serviceId }, 'Service left maintenance mode')
        return
      }
      if (existing !== undefined) return
      this.state.apply({
        checks: [
          this.#maintenanceCheck(
            checkId,
            'Service Maintenance Mode',
            reason || SERVICE_MAINTENANCE_DEFAULT_REASON,
            token,
            svc.service,
          ),
        ],
      })
      this.#log.info({ service: serviceId }, 'Service entered maintenance mode')
    })
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Idempotent. Refuses new lifecycle work, then stops every runner and awaits them. */
  shutdown(): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#log.info({}, 'Requesting shutdown')
      await this.#lock.run(async () => {
        await this.checks.stopAll()
      })
      this.#log.info({}, 'Shutdown complete')
    })())
  }

  get isShuttingDown(): boolean {
    return this.#shutdown !== undefined
  }

  // ---- internals -----------------------------------------------------------------------------

  #exclusive<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.#shutdown !== undefined) return Promise.reject(new ShuttingDownError())
    return this.#lock.run(async () => {
      if (this.#shutdown !== undefined) throw new ShuttingDownError()
      return task()
    })
  }

  /** Refuses definitions whose runner cannot be built, before anything changes. */
  #assertRunnable(reg: CheckRegistration): void {
    const refusal = unsupportedCheckType(reg.definition.type)
    if (refusal !== undefined) throw new BadRequestError(`Invalid check: ${refusal}`)
  }

  #attachService(reg: CheckRegistration): CheckRegistration {
    const serviceId = reg.check.serviceId
    if (serviceId === '') return reg
    const svc = this.state.service(serviceId)
    if (svc === undefined) throw new MissingServiceForCheckError(serviceId)
    return Object.freeze({
      ...reg,
      check: Object.freeze({
        ...reg.check,
        serviceName: svc.service.name,
        serviceTags: svc.service.tags ?? Object.freeze([]),
      }),
    })
  }

  #maintenanceCheck(
    checkId: string,
    name: string,
    notes: string,
    token: string,
    service: { id: string; name: string; tags: readonly string[] | null } | null,
  ): CheckRegistration {
    const check: HealthCheck = Object.freeze({
      node: this.config.nodeName,
      checkId,
      name,
      status: 'critical',
      notes,
      output: '',
      serviceId: service?.id ?? '',
      serviceName: service?.name ?? '',
      serviceTags: service?.tags ?? Object.freeze([]),
      type: 'maintenance',
      interval: '',
      timeout: '',
      exposedPort: 0,
    })
    return Object.freeze({
      check,
      definition: Object.freeze({ ...EMPTY_DEFINITION, type: 'maintenance' as const }),
      token,
      source: 'local' as const,
    })
  }

  async #loadConfigDefinitions(): Promise<void> {
    const ctx = this.normalizeContext('config')
    for (const def of this.config.services) {
      const reg = normalizeServiceDefinition(def.definition, ctx)
      await this.registerService(reg, { replaceExistingChecks: false })
    }
    for (const def of this.config.checks) {
      const reg = normalizeCheckDefinition(def.definition, ctx)
      await this.registerCheck(reg)
    }
  }
}
