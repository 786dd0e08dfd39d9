import { randomUUID } from 'node:crypto'
import { systemClock, type Clock } from '../lib/clock.js'
import type { CheckRegistration, Status } from '../structs/check.js'
import type { NormalizeContext } from '../structs/normalize.js'
import type { ServiceRegistration } from '../structs/service.js'
import type { AgentLogger, AgentSettings } from './agent-settings.js'
import { CheckManager } from './checks/check-manager.js'
import { createRunner, type RunnerFactory } from './checks/factory.js'
import type { CheckStatePort } from './checks/ports.js'
import { noYield, type YieldPoint } from './checks/runner.js'
import { LifecycleLocks, type AgentCore } from './core.js'
import { LocalState } from './local/local-state.js'
import { setNodeMaintenance, setServiceMaintenance } from './maintenance.js'
import { AgentStore } from './persistence/agent-store.js'
import type { FsPort } from './persistence/fs-port.js'
import type { AgentCommands, AgentPort, AgentReadModel } from './ports.js'
import { Reaper, reapCriticalServices } from './reaper.js'
import { deregisterCheck, deregisterService, registerCheck, registerService } from './registration.js'
import { reload } from './reload.js'
import { restore } from './restore.js'
import { updateTtl } from './ttl.js'

export type { AgentLogger, AgentSettings, ConfigDefinition } from './agent-settings.js'
export { VIGIL_VERSION } from './agent-settings.js'

export interface AgentOptions {
  readonly config: AgentSettings
  readonly logger: AgentLogger
  readonly clock?: Clock
  readonly random?: () => number
  readonly yieldPoint?: YieldPoint
  readonly runnerFactory?: RunnerFactory
  /** File-system port for the data dir (tests inject faults). */
  readonly fs?: FsPort
  /** Local state as the check manager and its runners see it; default: the LocalState itself. */
  readonly checkState?: (state: LocalState) => CheckStatePort
  /**
   * A catalog is reachable and `runnerFactory` runs alias checks that read it (`AliasNode`);
   * without it they are refused at registration.
   */
  readonly remoteAliases?: boolean
}

/**
 * The agent: wires local state, the check manager and persistence, and offers the lifecycle
 * operations. Each operation lives in its module (registration, ttl, maintenance, reload,
 * restore, reaper), a function of the AgentCore this class builds.
 *
 * Concurrency contract: every change runs under the agent's locks (core.ts LifecycleLocks):
 * registrations, deregistrations, maintenance and TTL updates hold the keys of the services and
 * checks they touch, so operations on different objects run concurrently (their file writes share
 * fsyncs) and operations on one object run in call order; restore and reload hold everything.
 * Runner results do not lock and are fenced by generation in LocalState instead.
 */
export class Agent implements AgentPort, AgentCommands {
  readonly config: AgentSettings
  readonly state: LocalState
  readonly checks: CheckManager
  readonly nodeId: string
  readonly startedAtMs: number
  readonly #log: AgentLogger
  readonly #clock: Clock
  readonly #locks = new LifecycleLocks()
  readonly #store: AgentStore | null
  #core: AgentCore | undefined
  readonly #remoteAliases: boolean
  #shutdown: Promise<void> | undefined
  #reaper: Reaper | undefined

  private constructor(opts: AgentOptions, store: AgentStore | null, nodeId: string) {
    this.config = opts.config
    this.#clock = opts.clock ?? systemClock
    this.#remoteAliases = opts.remoteAliases === true
    this.#log = opts.logger.child({ module: 'agent' })
    this.#store = store
    this.nodeId = nodeId
    this.startedAtMs = this.#clock.now()
    const stateLog = opts.logger.child({ module: 'agent.local' })
    this.state = new LocalState({
      nodeName: opts.config.nodeName,
      clock: this.#clock,
      discardOutput: opts.config.discardCheckOutput,
      onStaleWrite: (checkId, generation, current) => {
        stateLog.debug(
          { checkId, generation, current: current ?? 'none' },
          'Rejected a write from a stale check runner',
        )
      },
    })
    this.checks = new CheckManager({
      state: opts.checkState?.(this.state) ?? this.state,
      clock: this.#clock,
      random: opts.random ?? Math.random,
      logger: opts.logger.child({ module: 'agent.checks' }),
      factory: opts.runnerFactory ?? createRunner,
      outputMaxSize: opts.config.checkOutputMaxSize,
      aliasReconcileMs: opts.config.aliasReconcileIntervalMs,
      yieldPoint: opts.yieldPoint ?? noYield,
    })
  }

  /**
   * Creates the agent: takes the data-dir lock, then registers config-file services and checks
   * and restores persisted ones (agent-state.md §12) — all before it returns, so the HTTP API
   * opens on restored state.
   */
  static async start(opts: AgentOptions): Promise<Agent> {
    const { config } = opts
    const persistent = !config.dev && config.dataDir !== ''
    const store = persistent
      ? await AgentStore.open(config.dataDir, {
          logger: opts.logger.child({ module: 'agent.persistence' }),
          ...(opts.fs !== undefined ? { fs: opts.fs } : {}),
        })
      : null
    let agent: Agent | undefined
    try {
      const nodeId = store !== null ? await store.nodeId(config.nodeId) : config.nodeId || randomUUID()
      agent = new Agent(opts, store, nodeId)
      await restore(agent.#ctx())
    } catch (err) {
      if (agent !== undefined) await agent.shutdown()
      else await store?.close()
      throw err
    }
    agent.#reaper = new Reaper(agent.#ctx(), () => agent.reapCriticalServices())
    agent.#reaper.start()
    agent.#log.info(
      {
        node: config.nodeName,
        datacenter: config.datacenter,
        services: agent.state.serviceCount(),
        checks: agent.state.checkCount(),
      },
      'Agent started',
    )
    return agent
  }

  /** The read side of local state, for the API (ports.ts). */
  get read(): AgentReadModel {
    return this.state
  }

  /** The commands the API may give (ports.ts). */
  get commands(): AgentCommands {
    return this
  }

  runnerCount(): number {
    return this.checks.size
  }

  /** True when registrations are kept in a data dir. */
  get persistent(): boolean {
    return this.#store !== null
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

  /** See registration.ts. */
  registerService(reg: ServiceRegistration, opts: { replaceExistingChecks: boolean }): Promise<void> {
    return registerService(this.#ctx(), reg, opts)
  }

  /** See registration.ts. Unknown → UnknownServiceError. */
  deregisterService(serviceId: string): Promise<void> {
    return deregisterService(this.#ctx(), serviceId)
  }

  /** See registration.ts. */
  registerCheck(reg: CheckRegistration): Promise<void> {
    return registerCheck(this.#ctx(), reg)
  }

  /** See registration.ts. Unknown → UnknownCheckError. */
  deregisterCheck(checkId: string): Promise<void> {
    return deregisterCheck(this.#ctx(), checkId)
  }

  /** See ttl.ts. */
  updateTtl(checkId: string, status: Status, output: string): Promise<void> {
    return updateTtl(this.#ctx(), checkId, status, output)
  }

  /** See maintenance.ts. */
  setNodeMaintenance(enable: boolean, reason: string, token: string): Promise<void> {
    return setNodeMaintenance(this.#ctx(), enable, reason, token)
  }

  /** See maintenance.ts. */
  setServiceMaintenance(serviceId: string, enable: boolean, reason: string, token: string): Promise<void> {
    return setServiceMaintenance(this.#ctx(), serviceId, enable, reason, token)
  }

  /** See reaper.ts. */
  reapCriticalServices(): Promise<void> {
    return reapCriticalServices(this.#ctx())
  }

  /** See reload.ts. */
  reload(next: Pick<AgentSettings, 'services' | 'checks'>): Promise<void> {
    return reload(this.#ctx(), next)
  }

  /**
   * Idempotent. Refuses new work at once (ShuttingDownError), waits for the work already running
   * (registrations, TTL updates and their file writes), stops every runner and awaits them, and
   * only then releases the data dir: nothing writes to it after this resolves.
   */
  shutdown(): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#log.info({}, 'Requesting shutdown')
      this.#reaper?.stop()
      await this.#locks.close(async () => {
        await this.checks.stopAll()
        await this.#store?.close()
      })
      this.#log.info({}, 'Shutdown complete')
    })())
  }

  get isShuttingDown(): boolean {
    return this.#shutdown !== undefined
  }

  #ctx(): AgentCore {
    return (this.#core ??= {
      config: this.config,
      state: this.state,
      checks: this.checks,
      store: this.#store,
      log: this.#log,
      clock: this.#clock,
      locks: this.#locks,
      remoteAliases: this.#remoteAliases,
      normalizeContext: (origin) => this.normalizeContext(origin),
    })
  }
}
