import type { Clock } from '../../lib/clock.js'
import {
  aggregateStatus,
  type AggregateStatus,
  type CheckDefinition,
  type CheckRegistration,
  type HealthCheck,
  type Source,
  type Status,
} from '../../structs/check.js'
import type { Service } from '../../structs/service.js'
import type {
  Change,
  CheckSink,
  CheckStatePort,
  Listener,
  SubscribeOptions,
  WriteResult,
} from '../checks/ports.js'

/** A registered check with its bookkeeping. Frozen: an update installs a new entry. */
export type CheckEntry = Readonly<{
  check: HealthCheck
  definition: CheckDefinition
  /** The registration that made this entry; writes tagged with another generation are rejected. */
  generation: number
  token: string
  source: Source
  /** When the check last went non-critical → critical (epoch ms), null otherwise. In memory only. */
  criticalSinceMs: number | null
  /** When the status last changed (or the check was registered), epoch ms. */
  statusChangedMs: number
}>

/** A registered service with its bookkeeping. Frozen. */
export type ServiceEntry = Readonly<{
  service: Service
  token: string
  source: Source
}>

/** Counters exposed for tests, metrics and explain. */
export interface LocalStateStats {
  readonly rejectedStaleWrites: number
  readonly appliedWrites: number
}

export interface LocalStateOptions {
  readonly nodeName: string
  readonly clock: Clock
  /** Called for every write rejected by generation fencing (debug logging). */
  readonly onStaleWrite?: (checkId: string, generation: number, current: number | undefined) => void
  /** `discard_check_output`: every stored output is "" (agent-state.md §9). */
  readonly discardOutput?: boolean
}

/**
 * The node's local state: services and checks registered on this agent.
 *
 * Concurrency contract (DESIGN.md rules 1 and 3): every method is synchronous, so each call is
 * atomic with respect to other callers. Readers get frozen entries that never change; a write
 * installs a new entry (copy-on-write). Listeners run after the change is visible, synchronously,
 * and must only record "look again" (never call back into a mutation).
 */
export class LocalState implements CheckStatePort {
  readonly nodeName: string
  readonly #clock: Clock
  readonly #services = new Map<string, ServiceEntry>()
  readonly #checks = new Map<string, CheckEntry>()
  /** serviceId ('' = node-level) → IDs of its checks, so per-service reads do not scan every check. */
  readonly #byService = new Map<string, Set<string>>()
  readonly #listeners = new Set<{ fn: Listener }>()
  /** Subscriptions interested in one service's changes ('' = node-level checks). */
  readonly #byServiceListeners = new Map<string, Set<{ fn: Listener }>>()
  readonly #discardOutput: boolean
  readonly #onStaleWrite: LocalStateOptions['onStaleWrite']
  #nextGeneration = 1
  #version = 0
  #rejected = 0
  #applied = 0

  constructor(opts: LocalStateOptions) {
    this.nodeName = opts.nodeName
    this.#clock = opts.clock
    this.#onStaleWrite = opts.onStaleWrite
    this.#discardOutput = opts.discardOutput ?? false
  }

  // ---- reads -------------------------------------------------------------------------------

  service(id: string): ServiceEntry | undefined {
    return this.#services.get(id)
  }

  check(id: string): CheckEntry | undefined {
    return this.#checks.get(id)
  }

  /** A snapshot list of every service entry, in insertion order. */
  services(): readonly ServiceEntry[] {
    return Object.freeze([...this.#services.values()])
  }

  /** A snapshot list of every check entry, in insertion order. */
  checks(): readonly CheckEntry[] {
    return Object.freeze([...this.#checks.values()])
  }

  serviceCount(): number {
    return this.#services.size
  }

  checkCount(): number {
    return this.#checks.size
  }

  /** The service's own checks ('' = node-level checks), in registration order. */
  checksOfService(serviceId: string): readonly CheckEntry[] {
    const out: CheckEntry[] = []
    for (const id of this.#byService.get(serviceId) ?? []) {
      const e = this.#checks.get(id)
      if (e !== undefined) out.push(e)
    }
    return Object.freeze(out)
  }

  /** Node-level checks (no ServiceID). */
  nodeChecks(): readonly CheckEntry[] {
    return this.checksOfService('')
  }

  /** The agent's aggregate for a service: its checks plus all node-level checks (agent-state.md §4). */
  serviceHealth(serviceId: string): { status: AggregateStatus; checks: readonly HealthCheck[] } {
    const checks: HealthCheck[] = this.checksOfService(serviceId).map((e) => e.check)
    if (serviceId !== '') for (const e of this.checksOfService('')) checks.push(e.check)
    return { status: aggregateStatus(checks), checks }
  }

  /**
   * Increases with every committed change (never decreases): a reader that saw version v and
   * sees v again knows nothing changed in between, so whole responses can be reused.
   */
  get version(): number {
    return this.#version
  }

  get stats(): LocalStateStats {
    return { rejectedStaleWrites: this.#rejected, appliedWrites: this.#applied }
  }

  // ---- subscriptions -------------------------------------------------------------------------

  /**
   * Subscribes to every committed change. Returns the one function that removes *this*
   * subscription (owners unsubscribe themselves; nothing is removed by key).
   */
  subscribe(fn: Listener, opts: SubscribeOptions = {}): () => void {
    const token = { fn }
    const { serviceIds } = opts
    if (serviceIds === undefined) {
      this.#listeners.add(token)
      return () => {
        this.#listeners.delete(token)
      }
    }
    for (const id of serviceIds) {
      let set = this.#byServiceListeners.get(id)
      if (set === undefined) this.#byServiceListeners.set(id, (set = new Set()))
      set.add(token)
    }
    return () => {
      for (const id of serviceIds) {
        const set = this.#byServiceListeners.get(id)
        set?.delete(token)
        if (set?.size === 0) this.#byServiceListeners.delete(id)
      }
    }
  }

  subscriberCount(): number {
    const byService = new Set([...this.#byServiceListeners.values()].flatMap((set) => [...set]))
    return this.#listeners.size + byService.size
  }

  #notify(changes: readonly Change[]): void {
    if (changes.length === 0) return
    this.#version++
    const global = [...this.#listeners]
    for (const c of changes) {
      for (const l of global) l.fn(c)
      const interested = this.#byServiceListeners.get(c.serviceId)
      if (interested !== undefined) for (const l of [...interested]) l.fn(c)
    }
  }

  // ---- mutations -----------------------------------------------------------------------------

  /**
   * Applies one registration atomically: the service (replacing any previous record whole),
   * checks to add or replace, and checks to remove. A re-registered check keeps its current
   * status and output (agent-state.md §7) unless `initialStatus` says otherwise, and gets a new
   * generation, which fences every write of the previous registration. Returns the new entries.
   */
  apply(batch: {
    readonly service?: { readonly service: Service; readonly token: string; readonly source: Source }
    readonly checks?: readonly CheckRegistration[]
    readonly removeCheckIds?: readonly string[]
    /** Status/output to start from, for checks that do not exist yet (e.g. restored TTL state). */
    readonly initialStatus?: ReadonlyMap<string, { status: Status; output: string }>
  }): readonly CheckEntry[] {
    const changes: Change[] = []
    const now = this.#clock.now()
    if (batch.service !== undefined) {
      const { service, token, source } = batch.service
      this.#services.set(service.id, Object.freeze({ service, token, source }))
      changes.push(Object.freeze({ kind: 'service' as const, serviceId: service.id }))
    }
    const added: CheckEntry[] = []
    for (const reg of batch.checks ?? []) {
      const prev = this.#checks.get(reg.check.checkId)
      const start = batch.initialStatus?.get(reg.check.checkId)
      const status = prev?.check.status ?? start?.status ?? reg.check.status
      const output = this.#discardOutput ? '' : (prev?.check.output ?? start?.output ?? reg.check.output)
      const check = Object.freeze({ ...reg.check, status, output })
      const entry: CheckEntry = Object.freeze({
        check,
        definition: reg.definition,
        generation: this.#nextGeneration++,
        token: reg.token,
        source: reg.source,
        criticalSinceMs: prev?.criticalSinceMs ?? null,
        statusChangedMs: prev !== undefined && prev.check.status === status ? prev.statusChangedMs : now,
      })
      if (prev !== undefined) this.#unindex(prev)
      this.#checks.set(check.checkId, entry)
      this.#index(entry)
      added.push(entry)
      changes.push(
        Object.freeze({
          kind: 'check' as const,
          checkId: check.checkId,
          serviceId: check.serviceId,
          statusChanged: true,
        }),
      )
      if (prev !== undefined && prev.check.serviceId !== check.serviceId) {
        changes.push(
          Object.freeze({
            kind: 'check' as const,
            checkId: check.checkId,
            serviceId: prev.check.serviceId,
            statusChanged: true,
          }),
        )
      }
    }
    for (const id of batch.removeCheckIds ?? []) {
      const prev = this.#checks.get(id)
      if (prev === undefined) continue
      this.#checks.delete(id)
      this.#unindex(prev)
      changes.push(
        Object.freeze({
          kind: 'check' as const,
          checkId: id,
          serviceId: prev.check.serviceId,
          statusChanged: true,
        }),
      )
    }
    this.#notify(changes)
    return Object.freeze(added)
  }

  #index(entry: CheckEntry): void {
    const key = entry.check.serviceId
    let ids = this.#byService.get(key)
    if (ids === undefined) this.#byService.set(key, (ids = new Set()))
    ids.add(entry.check.checkId)
  }

  #unindex(entry: CheckEntry): void {
    const key = entry.check.serviceId
    const ids = this.#byService.get(key)
    ids?.delete(entry.check.checkId)
    if (ids?.size === 0) this.#byService.delete(key)
  }

  /** Removes a service record (its checks are removed by the caller through `apply`). */
  removeService(id: string): boolean {
    if (!this.#services.delete(id)) return false
    this.#notify([Object.freeze({ kind: 'service' as const, serviceId: id })])
    return true
  }

  /**
   * A runner's write, fenced by generation (DESIGN.md rule 3): applied only if the check still
   * exists and was last registered with `generation`. An identical status and output changes
   * nothing and wakes nobody (it still maintains the critical time).
   */
  updateCheck(checkId: string, generation: number, status: Status, given: string): WriteResult {
    const output = this.#discardOutput ? '' : given
    const prev = this.#checks.get(checkId)
    if (prev === undefined) {
      this.#rejected++
      this.#onStaleWrite?.(checkId, generation, undefined)
      return 'missing'
    }
    if (prev.generation !== generation) {
      this.#rejected++
      this.#onStaleWrite?.(checkId, generation, prev.generation)
      return 'stale'
    }
    const now = this.#clock.now()
    const criticalSinceMs = status === 'critical' ? (prev.criticalSinceMs ?? now) : null
    if (prev.check.status === status && prev.check.output === output) {
      if (criticalSinceMs !== prev.criticalSinceMs) {
        this.#checks.set(checkId, Object.freeze({ ...prev, criticalSinceMs }))
      }
      return 'unchanged'
    }
    const statusChanged = prev.check.status !== status
    const entry: CheckEntry = Object.freeze({
      ...prev,
      check: Object.freeze({ ...prev.check, status, output }),
      criticalSinceMs,
      statusChangedMs: statusChanged ? now : prev.statusChangedMs,
    })
    this.#checks.set(checkId, entry)
    this.#applied++
    this.#notify([
      Object.freeze({ kind: 'check' as const, checkId, serviceId: prev.check.serviceId, statusChanged }),
    ])
    return 'applied'
  }

  /** The sink a runner of `checkId`, registered as `generation`, writes through. */
  sinkFor(checkId: string, generation: number): CheckSink {
    return { report: (status, output) => this.updateCheck(checkId, generation, status, output) }
  }
}
