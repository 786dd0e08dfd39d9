import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import { systemClock, type Clock, type Timer } from '../lib/clock.js'
import {
  BadRequestError,
  ConfigError,
  MaintenanceServiceMissingError,
  MissingServiceForCheckError,
  NotTtlCheckError,
  ShuttingDownError,
  UnknownCheckError,
  UnknownServiceError,
  errorMessage,
} from '../lib/errors.js'
import { KeyedQueue, Mutex } from '../lib/keyed-queue.js'
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
import type { CheckStatePort } from './checks/ports.js'
import { effectiveOutputLimit, truncateHead } from './checks/output.js'
import { noYield, type YieldPoint } from './checks/runner.js'
import { TtlRunner } from './checks/ttl-check.js'
import { LocalState, type CheckEntry, type ServiceEntry } from './local/local-state.js'
import { deriveSidecar, sidecarIdFor } from './sidecar.js'
import { AgentStore, type LoadedState } from './persistence/agent-store.js'
import type { FsPort } from './persistence/fs-port.js'
import type { AgentLogger, AgentSettings, ConfigDefinition } from './agent-settings.js'
import type { AgentCommands, AgentPort, AgentReadModel } from './ports.js'

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
}

/** `check_reap_interval` and `check_deregister_interval_min` (agent-state.md §8, not settable). */
const REAP_INTERVAL_MS = 30_000
const MIN_REAP_AFTER_MS = 60_000

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
export class Agent implements AgentPort, AgentCommands {
  readonly config: AgentSettings
  readonly state: LocalState
  readonly checks: CheckManager
  readonly nodeId: string
  readonly startedAtMs: number
  readonly #log: AgentLogger
  readonly #clock: Clock
  readonly #lock = new Mutex()
  readonly #ttlQueue = new KeyedQueue()
  readonly #store: AgentStore | null
  #shutdown: Promise<void> | undefined
  #reaper: Timer | undefined

  private constructor(opts: AgentOptions, store: AgentStore | null, nodeId: string) {
    this.config = opts.config
    this.#clock = opts.clock ?? systemClock
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
      await agent.#restore()
    } catch (err) {
      if (agent !== undefined) await agent.shutdown()
      else await store?.close()
      throw err
    }
    agent.#scheduleReaper()
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

  // ---- services ------------------------------------------------------------------------------

  /**
   * Registers (or replaces) a service and its checks (agent-state.md §7, in vigil's order):
   * every record, with carried-over status, is stored before any runner starts; old runners are
   * stopped and awaited before their successors start; the registration path writes no status
   * after that. With `replaceExistingChecks`, this service's checks absent from the request go.
   */
  registerService(reg: ServiceRegistration, opts: { replaceExistingChecks: boolean }): Promise<void> {
    return this.#exclusive(() => this.#registerService(reg, { ...opts, persist: reg.source === 'remote' }))
  }

  async #registerService(
    reg: ServiceRegistration,
    opts: { replaceExistingChecks: boolean; persist: boolean; keepUnchanged?: boolean },
  ): Promise<void> {
    // The parent and its sidecar (sidecar.md §6) are validated together, persisted together, and
    // only then applied: a failure leaves both as they were.
    const regs = [reg]
    if (reg.sidecarService !== null) {
      const ctx = this.normalizeContext(reg.source === 'remote' ? 'api' : 'config')
      regs.push(deriveSidecar(reg, reg.sidecarService, ctx, this.state.services(), this.config.ports))
    }
    for (const r of regs) for (const c of r.checks) this.#assertRunnable(c)
    const plans = regs.map((r) => {
      const newIds = new Set(r.checks.map((c) => c.check.checkId))
      const removeCheckIds = opts.replaceExistingChecks
        ? this.state
            .checksOfService(r.service.id)
            .map((e) => e.check.checkId)
            .filter((id) => !newIds.has(id))
        : []
      return { reg: r, newIds: [...newIds], removeCheckIds }
    })
    if (opts.persist) {
      await this.#persistOrRollback(
        plans.map((pl) => pl.reg.service.id),
        plans.flatMap((pl) => [...pl.newIds, ...pl.removeCheckIds]),
        async (store) => {
          // Checks first, service last: a crash in between leaves check files without their
          // service, which restore discards, never a service torn from its checks.
          for (const { reg: r } of plans) for (const c of r.checks) await store.saveCheck(c)
          for (const { reg: r } of plans) {
            await store.saveService({ service: r.service, token: r.token, source: r.source })
          }
          for (const { removeCheckIds } of plans) for (const id of removeCheckIds) await store.deleteCheck(id)
        },
      )
    }
    const started: CheckEntry[] = []
    for (const { reg: r, removeCheckIds } of plans) {
      // On reload, a check whose definition did not change keeps its runner (and its status).
      const checks = opts.keepUnchanged === true ? r.checks.filter((c) => !this.#unchanged(c)) : r.checks
      const entries = this.state.apply({
        service: { service: r.service, token: r.token, source: r.source },
        checks,
        removeCheckIds,
      })
      started.push(...entries)
    }
    for (const { removeCheckIds } of plans) for (const id of removeCheckIds) await this.checks.remove(id)
    for (const e of started) await this.checks.replace(e.check.checkId, e.definition, e.generation)
    for (const { reg: r } of plans) this.#log.info({ service: r.service.id }, 'Synced service')
  }

  /**
   * Removes a service, its checks (runners stopped and awaited) and the sidecar that was created
   * through its `Connect.SidecarService`. Unknown → UnknownServiceError.
   */
  deregisterService(serviceId: string): Promise<void> {
    return this.#exclusive(async () => {
      if (this.state.service(serviceId) === undefined) throw new UnknownServiceError(serviceId)
      const sidecar = this.state.service(sidecarIdFor(serviceId))
      const serviceIds =
        sidecar?.service.locallyRegisteredAsSidecar === true ? [serviceId, sidecar.service.id] : [serviceId]
      const checkIds = serviceIds.flatMap((id) => this.state.checksOfService(id).map((e) => e.check.checkId))
      // Service files go first: a crash before their checks' files are gone leaves orphans that
      // restore discards, never a resurrected service.
      await this.#persistOrRollback(serviceIds, checkIds, async (store) => {
        for (const id of serviceIds) await store.deleteService(id)
        for (const id of checkIds) await store.deleteCheck(id)
      })
      await this.#unregisterServices(serviceIds)
      for (const id of serviceIds) this.#log.info({ service: id }, 'Deregistered service')
    })
  }

  // ---- checks --------------------------------------------------------------------------------

  /** Registers (or replaces) a standalone check; its service, if named, must exist. */
  registerCheck(reg: CheckRegistration): Promise<void> {
    return this.#exclusive(() => this.#registerCheck(reg, { persist: reg.source === 'remote' }))
  }

  async #registerCheck(
    reg: CheckRegistration,
    opts: { persist: boolean; initial?: { status: Status; output: string }; resume?: RunnerResume },
  ): Promise<void> {
    this.#assertRunnable(reg)
    const withService = this.#attachService(reg)
    const checkId = reg.check.checkId
    if (opts.persist) {
      await this.#persistOrRollback([], [checkId], (store) => store.saveCheck(withService))
    }
    const [entry] = this.state.apply({
      checks: [withService],
      ...(opts.initial !== undefined ? { initialStatus: new Map([[checkId, opts.initial]]) } : {}),
    })
    if (entry !== undefined) {
      await this.checks.replace(entry.check.checkId, entry.definition, entry.generation, opts.resume)
    }
    this.#log.info({ check: checkId }, 'Synced check')
  }

  /** Removes a check and awaits its runner's stop. Unknown → UnknownCheckError. */
  deregisterCheck(checkId: string): Promise<void> {
    return this.#exclusive(async () => {
      if (this.state.check(checkId) === undefined) throw new UnknownCheckError(checkId)
      await this.#deleteCheck(checkId)
      this.#log.info({ check: checkId }, 'Deregistered check')
    })
  }

  /**
   * pass/warn/fail/update of a TTL check (checks.md §5): writes status and (truncated) output
   * for the check's current registration, then restarts the TTL of that registration's runner.
   * With a data dir the state is written to disk first (agent-state.md §12); updates of one
   * check are serialized so disk and memory agree on the last one.
   */
  async updateTtl(checkId: string, status: Status, output: string): Promise<void> {
    const store = this.#store
    if (store === null) {
      this.#applyTtl(this.#ttlEntry(checkId), status, output)
      return
    }
    this.#ttlEntry(checkId) // refuse unknown and non-TTL checks before queueing
    await this.#ttlQueue.run(checkId, async () => {
      const entry = this.#ttlEntry(checkId)
      await store.saveTtlState({
        checkId,
        status,
        output: this.#ttlOutput(entry, output),
        expiresMs: this.#clock.now() + entry.definition.ttlMs,
      })
      // Re-read: the check may have been re-registered while the file was written.
      this.#applyTtl(this.#ttlEntry(checkId), status, output)
    })
  }

  #ttlEntry(checkId: string): CheckEntry {
    const entry = this.state.check(checkId)
    if (entry === undefined) throw new UnknownCheckError(checkId)
    if (entry.definition.type !== 'ttl') throw new NotTtlCheckError(checkId)
    return entry
  }

  #ttlOutput(entry: CheckEntry, output: string): string {
    // LocalState blanks every stored output under discard_check_output; this keeps it off disk too.
    if (this.config.discardCheckOutput) return ''
    return truncateHead(
      output,
      effectiveOutputLimit(entry.definition.outputMaxSize, this.config.checkOutputMaxSize),
    )
  }

  #applyTtl(entry: CheckEntry, status: Status, output: string): void {
    const checkId = entry.check.checkId
    const stored = this.#ttlOutput(entry, output)
    this.state.updateCheck(checkId, entry.generation, status, stored)
    const live = this.checks.runner(checkId)
    if (live !== undefined && live.generation === entry.generation && live.runner instanceof TtlRunner) {
      live.runner.rearm(stored)
    }
  }

  // ---- maintenance ---------------------------------------------------------------------------

  /** Node maintenance (agent-state.md §6): enabling twice keeps the first reason. */
  setNodeMaintenance(enable: boolean, reason: string, token: string): Promise<void> {
    return this.#exclusive(async () => {
      const existing = this.state.check(NODE_MAINTENANCE_CHECK_ID)
      if (!enable) {
        if (existing === undefined) return
        await this.#deleteCheck(NODE_MAINTENANCE_CHECK_ID)
        this.#log.info({}, 'Node left maintenance mode')
        return
      }
      if (existing !== undefined) return
      await this.#registerCheck(
        this.#maintenanceCheck(
          NODE_MAINTENANCE_CHECK_ID,
          'Node Maintenance Mode',
          reason || NODE_MAINTENANCE_DEFAULT_REASON,
          token,
          null,
        ),
        { persist: true },
      )
      this.#log.info({}, 'Node entered maintenance mode')
    })
  }

  /** Service maintenance (agent-state.md §6). Unknown service → 404 `No service registered…`. */
  setServiceMaintenance(serviceId: string, enable: boolean, reason: string, token: string): Promise<void> {
    return this.#exclusive(async () => {
      const svc = this.state.service(serviceId)
      if (svc === undefined) throw new MaintenanceServiceMissingError(serviceId)
      const checkId = serviceMaintenanceCheckId(serviceId)
      const existing = this.state.check(checkId)
      if (!enable) {
        if (existing === undefined) return
        await this.#deleteCheck(checkId)
        this.#log.info({ service: serviceId }, 'Service left maintenance mode')
        return
      }
      if (existing !== undefined) return
      await this.#registerCheck(
        this.#maintenanceCheck(
          checkId,
          'Service Maintenance Mode',
          reason || SERVICE_MAINTENANCE_DEFAULT_REASON,
          token,
          svc.service,
        ),
        { persist: true },
      )
      this.#log.info({ service: serviceId }, 'Service entered maintenance mode')
    })
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Idempotent. Refuses new lifecycle work, then stops every runner and awaits them. */
  shutdown(): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#log.info({}, 'Requesting shutdown')
      this.#reaper?.cancel()
      await this.#lock.run(async () => {
        await this.checks.stopAll()
        await this.#store?.close()
      })
      this.#log.info({}, 'Shutdown complete')
    })())
  }

  /**
   * `deregister_critical_service_after` (agent-state.md §8): every 30 s, a service with a check
   * critical for longer than that check's limit (at least 1 minute) is deregistered like any
   * other, once per pass. Node-level checks never reap anything.
   */
  async reapCriticalServices(): Promise<void> {
    const now = this.#clock.now()
    const doomed = new Set<string>()
    for (const entry of this.state.checks()) {
      const limitMs = entry.definition.deregisterCriticalServiceAfterMs
      const since = entry.criticalSinceMs
      if (limitMs <= 0 || since === null || entry.check.serviceId === '') continue
      if (now - since > Math.max(limitMs, MIN_REAP_AFTER_MS)) doomed.add(entry.check.serviceId)
    }
    for (const serviceId of doomed) {
      if (this.state.service(serviceId) === undefined) continue
      this.#log.info({ service: serviceId }, 'Check critical for too long, deregistering service')
      await this.deregisterService(serviceId).catch((err: unknown) => {
        this.#log.error(
          { service: serviceId, err: errorMessage(err) },
          'Failed to deregister a reaped service',
        )
      })
    }
  }

  #scheduleReaper(): void {
    if (this.#shutdown !== undefined) return
    this.#reaper = this.#clock.setTimer(REAP_INTERVAL_MS, () => {
      void this.reapCriticalServices().finally(() => {
        this.#scheduleReaper()
      })
    })
  }

  get isShuttingDown(): boolean {
    return this.#shutdown !== undefined
  }

  /**
   * Applies changed config-file definitions (agent-state.md §13, cli.md §4): services and checks
   * added, changed or removed in the config are registered or removed; API registrations are not
   * touched; a check whose definition did not change keeps its runner, thresholds and status.
   * Invalid definitions fail the whole reload with a ConfigError and change nothing.
   */
  async reload(next: Pick<AgentSettings, 'services' | 'checks'>): Promise<void> {
    const { services, checks } = this.#normalizeConfig(next)
    await this.#exclusive(async () => {
      const wantedServices = new Set(services.map((r) => r.service.id))
      for (const r of services) if (r.sidecarService !== null) wantedServices.add(sidecarIdFor(r.service.id))
      const wantedChecks = new Set([
        ...checks.map((c) => c.check.checkId),
        ...services.flatMap((r) => r.checks.map((c) => c.check.checkId)),
      ])
      for (const entry of this.state.services()) {
        if (entry.source !== 'local' || wantedServices.has(entry.service.id)) continue
        // Config-file services have no files: only memory and runners change.
        await this.#unregisterServices([entry.service.id])
        this.#log.info({ service: entry.service.id }, 'Removed service no longer in the configuration')
      }
      for (const entry of this.state.checks()) {
        const id = entry.check.checkId
        if (entry.source !== 'local' || entry.definition.type === 'maintenance' || wantedChecks.has(id))
          continue
        if (!this.#isSidecarDefaultCheck(entry)) {
          await this.#unregisterCheck(id)
          this.#log.info({ check: id }, 'Removed check no longer in the configuration')
        }
      }
      for (const reg of services)
        await this.#registerService(reg, {
          replaceExistingChecks: false,
          persist: false,
          keepUnchanged: true,
        })
      for (const reg of checks) {
        if (!this.#unchanged(reg)) await this.#registerCheck(reg, { persist: false })
      }
      this.#log.info({ services: services.length, checks: checks.length }, 'Configuration reloaded')
    })
  }

  /** Checks a config sidecar got by default are named by the sidecar's ID, not by the config. */
  #isSidecarDefaultCheck(entry: CheckEntry): boolean {
    return this.state.service(entry.check.serviceId)?.service.locallyRegisteredAsSidecar === true
  }

  /** True when `reg` equals the registered check in everything but status and output. */
  #unchanged(reg: CheckRegistration): boolean {
    const cur = this.state.check(reg.check.checkId)
    if (cur === undefined) return false
    const attached =
      reg.check.serviceId !== '' && reg.check.serviceName === '' ? this.#attachService(reg) : reg
    return (
      isDeepStrictEqual(cur.definition, attached.definition) &&
      cur.token === attached.token &&
      cur.source === attached.source &&
      isDeepStrictEqual(
        { ...cur.check, status: '', output: '' },
        { ...attached.check, status: '', output: '' },
      )
    )
  }

  #normalizeConfig(config: Pick<AgentSettings, 'services' | 'checks'>): {
    services: ServiceRegistration[]
    checks: CheckRegistration[]
  } {
    const ctx = this.normalizeContext('config')
    const problems: string[] = []
    const normalizeAll = <T>(defs: readonly ConfigDefinition[], fn: (d: unknown) => T): T[] =>
      defs.flatMap((d) => {
        try {
          return [fn(d.definition)]
        } catch (err) {
          problems.push(`${d.source}: ${errorMessage(err)}`)
          return []
        }
      })
    const services = normalizeAll(config.services, (d) => normalizeServiceDefinition(d, ctx))
    const checks = normalizeAll(config.checks, (d) => normalizeCheckDefinition(d, ctx))
    if (problems.length > 0) throw new ConfigError(problems)
    return { services, checks }
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Deregistration of one check: its files first, then memory, then its runner (awaited). */
  async #deleteCheck(checkId: string): Promise<void> {
    await this.#persistOrRollback([], [checkId], (store) => store.deleteCheck(checkId))
    await this.#unregisterCheck(checkId)
  }

  /** Removes a check from memory and stops its runner; no files are touched. */
  async #unregisterCheck(checkId: string): Promise<void> {
    this.state.apply({ removeCheckIds: [checkId] })
    await this.checks.remove(checkId)
  }

  /** Removes services and all their checks from memory and stops the runners; no files are touched. */
  async #unregisterServices(serviceIds: readonly string[]): Promise<void> {
    const checkIds = serviceIds.flatMap((id) => this.state.checksOfService(id).map((e) => e.check.checkId))
    this.state.apply({ removeCheckIds: checkIds })
    for (const id of serviceIds) this.state.removeService(id)
    for (const id of checkIds) await this.checks.remove(id)
  }

  #exclusive<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.#shutdown !== undefined) return Promise.reject(new ShuttingDownError())
    return this.#lock.run(async () => {
      if (this.#shutdown !== undefined) throw new ShuttingDownError()
      return task()
    })
  }

  /** Refuses definitions whose runner cannot be built, before anything changes. */
  #assertRunnable(reg: CheckRegistration): void {
    const def = reg.definition
    const refusal = unsupportedCheckType(def.type)
    if (refusal !== undefined) throw new BadRequestError(`Invalid check: ${refusal}`)
    if (
      def.type === 'alias' &&
      (def.aliasService === '' || (def.aliasNode !== '' && def.aliasNode !== this.config.nodeName))
    ) {
      throw new BadRequestError(
        'Invalid check: alias checks of another node (AliasNode) need a catalog, which this agent does not have yet; alias a service registered on this agent',
      )
    }
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

  /**
   * Persists with `write`; if it fails, puts the files of the named services and checks back as
   * they were (from memory) so disk and memory still agree, then rethrows. No-op in memory mode.
   */
  async #persistOrRollback(
    serviceIds: readonly string[],
    checkIds: readonly string[],
    write: (store: AgentStore) => Promise<void>,
  ): Promise<void> {
    const store = this.#store
    if (store === null) return
    const services = serviceIds.map((id) => [id, this.state.service(id)] as const)
    const checks = checkIds.map((id) => [id, this.state.check(id)] as const)
    try {
      await write(store)
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, 'Persisting failed; nothing was changed')
      await this.#restoreFiles(store, services, checks).catch((restoreErr: unknown) => {
        this.#log.error(
          { err: errorMessage(restoreErr) },
          'Could not restore the previous files after a failed write',
        )
      })
      throw err
    }
  }

  async #restoreFiles(
    store: AgentStore,
    services: readonly (readonly [string, ServiceEntry | undefined])[],
    checks: readonly (readonly [string, CheckEntry | undefined])[],
  ): Promise<void> {
    for (const [id, prev] of services) {
      if (prev !== undefined && prev.source === 'remote') await store.saveService(prev)
      else await store.deleteService(id)
    }
    for (const [id, prev] of checks) {
      if (prev !== undefined && isPersisted(prev)) await store.saveCheck(prev)
      else await store.deleteCheck(id)
    }
  }

  /**
   * Start-up registration (agent-state.md §12): config-file services, then persisted services
   * (a config service with the same ID wins and the file is deleted), then config-file checks,
   * then persisted checks (forced critical, unless a TTL check's saved state is still valid,
   * which is restored together with the remaining TTL).
   */
  async #restore(): Promise<void> {
    const { services: configServices, checks: configChecks } = this.#normalizeConfig(this.config)

    const store = this.#store
    const loaded: LoadedState =
      store !== null ? await store.load() : { services: [], checks: [], ttlStates: new Map() }
    await this.#exclusive(async () => {
      for (const reg of configServices)
        await this.#registerService(reg, { replaceExistingChecks: false, persist: false })
      for (const p of loaded.services) {
        if (this.state.service(p.service.id) !== undefined) {
          await store?.deleteService(p.service.id)
          continue
        }
        this.state.apply({ service: p })
      }
      for (const reg of configChecks) await this.#registerCheck(reg, { persist: false })
      const now = this.#clock.now()
      const restoredTtl = new Set<string>()
      for (const p of loaded.checks) {
        const id = p.check.checkId
        const serviceId = p.check.serviceId
        if (
          this.state.check(id) !== undefined ||
          (serviceId !== '' && this.state.service(serviceId) === undefined)
        ) {
          await store?.deleteCheck(id)
          continue
        }
        if (p.definition.type === 'script' && !this.config.enableScriptChecks && p.source === 'remote') {
          this.#log.error({ check: id }, 'Not restoring a script check: enable_script_checks is off')
          continue
        }
        const ttl = p.definition.type === 'ttl' ? loaded.ttlStates.get(id) : undefined
        const valid = ttl !== undefined && ttl.expiresMs > now
        if (ttl !== undefined && !valid) await store?.deleteTtlState(id)
        if (valid) restoredTtl.add(id)
        const reg: CheckRegistration = {
          check: p.check,
          definition: p.definition,
          token: p.token,
          source: p.source,
        }
        await this.#registerCheck(reg, {
          persist: false,
          initial: valid ? { status: ttl.status, output: ttl.output } : { status: 'critical', output: '' },
          ...(valid ? { resume: { ttlRemainingMs: ttl.expiresMs - now, lastOutput: ttl.output } } : {}),
        })
      }
      for (const id of loaded.ttlStates.keys()) {
        if (!restoredTtl.has(id) && this.state.check(id)?.definition.type !== 'ttl')
          await store?.deleteTtlState(id)
      }
    })
  }
}

type RunnerResume = NonNullable<Parameters<CheckManager['replace']>[3]>

/** Checks that live in the data dir: API registrations and maintenance checks. */
function isPersisted(entry: CheckEntry): boolean {
  return entry.source === 'remote' || entry.definition.type === 'maintenance'
}
