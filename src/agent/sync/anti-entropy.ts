/**
 * Anti-entropy (agent-state.md §11, servers.md §6): keeps the catalog's copy of this node equal
 * to the agent's local state. A full sync reads the node back from the catalog (so drift made
 * behind the agent's back is corrected) and pushes the difference; between full syncs every local
 * change triggers a partial sync that pushes the difference against what the catalog was last
 * seen or made to hold. Output-only check changes wait up to `check_update_interval`.
 *
 * Concurrency contract: one loop does every sync, so syncs never overlap. It reads a frozen
 * snapshot of local state, then talks to the catalog without holding anything: registrations
 * and check results go on meanwhile, and a change made during a sync triggers another pass.
 * `stop()` resolves once the loop has exited; no catalog call starts after that.
 */
import type { Clock } from '../../lib/clock.js'
import { errorMessage } from '../../lib/errors.js'
import { Trigger } from '../../lib/trigger.js'
import type { HealthCheck } from '../../structs/check.js'
import type { Service } from '../../structs/service.js'
import type { CatalogSyncPort, NodeInfo, RemoteNodeState } from './catalog-port.js'
import { emptyEqualPairs, planSync, type LocalNodeState, type PendingReason, type SyncPlan } from './plan.js'

/** The sync loop's states and its transitions (STYLE.md practice 11): a pure table. */
export type SyncState = 'full' | 'idle' | 'partial' | 'retry' | 'done'
export type SyncEvent = 'ok' | 'failed' | 'changes' | 'fullDue' | 'retryDue' | 'shutdown'

export const SYNC_TRANSITIONS = {
  full: { ok: 'idle', failed: 'retry', shutdown: 'done' },
  idle: { changes: 'partial', fullDue: 'full', shutdown: 'done' },
  partial: { ok: 'idle', failed: 'retry', shutdown: 'done' },
  retry: { retryDue: 'full', shutdown: 'done' },
  done: {},
} as const satisfies Record<SyncState, Partial<Record<SyncEvent, SyncState>>>

/** The next state, or undefined when `event` cannot happen in `state`. */
export function nextSyncState(state: SyncState, event: SyncEvent): SyncState | undefined {
  const row: Partial<Record<SyncEvent, SyncState>> = SYNC_TRANSITIONS[state]
  return row[event]
}

/** `ae_interval` (not settable in Consul) and the retry base after a failed sync. */
export const AE_INTERVAL_MS = 60_000
export const RETRY_BASE_MS = 15_000

/** Consul's scale factor: 1 up to 128 nodes, then +1 per doubling (agent/ae/ae.go). */
export function syncScale(nodes: number): number {
  if (nodes <= 128) return 1
  return Math.ceil(Math.log2(nodes) - 7) + 1
}

/** What local state anti-entropy reads: frozen snapshots and a change subscription. */
export interface SyncSource {
  services(): readonly Readonly<{ service: Service; token: string }>[]
  checks(): readonly Readonly<{ check: HealthCheck; token: string }>[]
  subscribe(fn: () => void): () => void
}

export interface SyncLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface AntiEntropyOptions {
  readonly source: SyncSource
  readonly catalog: CatalogSyncPort
  /** This node's catalog fields, read at every sync (they may change on reload). */
  readonly node: () => NodeInfo
  readonly clock: Clock
  readonly random: () => number
  readonly logger: SyncLogger
  /** `check_update_interval` in ms; 0 syncs output changes at once. */
  readonly checkUpdateIntervalMs: number
  /** LAN members, for the scale of the full-sync period. */
  readonly memberCount: () => number
}

/** What `vigil sync status` shows (beyond Consul: hashicorp/consul#6119). */
export type SyncStatus = Readonly<{
  state: SyncState
  /** Epoch ms of the last successful full sync, or null. */
  lastFullSyncMs: number | null
  /** Epoch ms of the last successful sync of any kind, or null. */
  lastSyncMs: number | null
  /** The last failure's text, cleared by the next success. */
  lastError: string | null
  lastErrorMs: number | null
  /** When the next full sync (or retry) is due. */
  nextFullSyncMs: number | null
  /** Every entry that is not in sync (`node`, `service:<id>`, `check:<id>`) and why. */
  pending: ReadonlyMap<string, PendingReason | 'node'>
  /** Output-only check changes held back by check_update_interval, until when. */
  deferred: ReadonlyMap<string, number>
}>

interface SettleWaiter {
  readonly target: number
  readonly resolve: () => void
}

export class AntiEntropy {
  readonly #opts: AntiEntropyOptions
  readonly #trigger = new Trigger()
  readonly #abort = new AbortController()
  #loop: Promise<void> | undefined
  #stopped: Promise<void> | undefined
  #unsubscribe: (() => void) | undefined
  /** What the catalog is believed to hold for this node: read by full syncs, updated by pushes. */
  #remote: RemoteNodeState = { node: null, services: [], checks: [] }
  #deferredUntil = new Map<string, number>()
  /** Records found equal to the catalog's copy, so each pass compares only what changed. */
  readonly #equal = emptyEqualPairs()
  #state: SyncState = 'full'
  #lastFullSyncMs: number | null = null
  #lastSyncMs: number | null = null
  #lastError: string | null = null
  #lastErrorMs: number | null = null
  #nextFullMs: number | null = null
  #lastPlan: SyncPlan | null = null
  #passesStarted = 0
  #passesDone = 0
  #waiters: SettleWaiter[] = []

  constructor(opts: AntiEntropyOptions) {
    this.#opts = opts
  }

  /** Starts the loop with a full sync. Idempotent. */
  start(): void {
    if (this.#loop !== undefined) return
    this.#unsubscribe = this.#opts.source.subscribe(() => {
      this.#trigger.notify()
    })
    this.#loop = this.#run(this.#abort.signal).catch((err: unknown) => {
      if (!this.#abort.signal.aborted)
        this.#opts.logger.warn({ error: errorMessage(err) }, 'Anti-entropy stopped')
    })
  }

  /** Idempotent. Resolves once the loop has exited; no catalog call starts afterwards. */
  stop(): Promise<void> {
    return (this.#stopped ??= (async () => {
      this.#unsubscribe?.()
      this.#abort.abort(new Error('anti-entropy stopped'))
      await this.#loop
      this.#state = 'done'
      for (const w of this.#waiters.splice(0)) w.resolve()
    })())
  }

  /** Asks for a full sync soon (a server came up, a token changed). */
  requestFullSync(): void {
    this.#nextFullMs = this.#opts.clock.now()
    this.#trigger.notify()
  }

  /**
   * Resolves once a sync pass that started after this call has finished (pushed or failed), at
   * once while the loop waits to retry or has stopped: what the registration handlers await so
   * that one sync was tried before they answer (agent-state.md §7).
   */
  settled(): Promise<void> {
    if (this.#loop === undefined || this.#state === 'done' || this.#state === 'retry')
      return Promise.resolve()
    const target = this.#passesStarted + 1
    this.#trigger.notify()
    return new Promise((resolve) => {
      this.#waiters.push({ target, resolve })
    })
  }

  status(): SyncStatus {
    const plan = this.#planNow()
    const pending = new Map<string, PendingReason | 'node'>(plan.pending)
    if (plan.node) pending.set('node', 'node')
    return {
      state: this.#state,
      lastFullSyncMs: this.#lastFullSyncMs,
      lastSyncMs: this.#lastSyncMs,
      lastError: this.#lastError,
      lastErrorMs: this.#lastErrorMs,
      nextFullSyncMs: this.#nextFullMs,
      pending,
      deferred: plan.deferred,
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { clock, random } = this.#opts
    while (!signal.aborted) {
      let event: SyncEvent
      switch (this.#state) {
        case 'full':
        case 'partial': {
          const full = this.#state === 'full'
          this.#passesStarted++
          event = (await this.#sync(full, signal)) ? 'ok' : 'failed'
          if (isAborted(signal)) return
          const scale = syncScale(this.#opts.memberCount())
          const now = clock.now()
          if (event === 'failed') this.#nextFullMs = now + RETRY_BASE_MS + random() * scale * RETRY_BASE_MS
          else if (full) this.#nextFullMs = now + AE_INTERVAL_MS + random() * scale * AE_INTERVAL_MS
          this.#state = nextSyncState(this.#state, event) ?? this.#state
          this.#pass()
          continue
        }
        case 'idle':
        case 'retry': {
          const now = clock.now()
          let wakeAt = this.#nextFullMs ?? now
          if (this.#state === 'idle')
            for (const due of this.#lastPlan?.deferred.values() ?? []) wakeAt = Math.min(wakeAt, due)
          if (wakeAt > now) await this.#trigger.wait(clock, { maxMs: wakeAt - now, signal })
          const fullDue = clock.now() >= (this.#nextFullMs ?? 0)
          if (this.#state === 'retry') {
            if (!fullDue) continue
            event = 'retryDue'
          } else {
            // Woken by a change or by an output deferral coming due: push the difference.
            event = fullDue ? 'fullDue' : 'changes'
          }
          break
        }
        case 'done':
          return
      }
      this.#state = nextSyncState(this.#state, event) ?? this.#state
    }
  }

  /** A pass finished: wakes the `settled()` callers it satisfies, and all of them on a retry. */
  #pass(): void {
    this.#passesDone = this.#passesStarted
    const retrying = this.#state === 'retry'
    const still: SettleWaiter[] = []
    for (const w of this.#waiters) {
      if (retrying || w.target <= this.#passesDone) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }

  #local(): LocalNodeState {
    const { source } = this.#opts
    return { node: this.#opts.node(), services: source.services(), checks: source.checks() }
  }

  #planNow(): SyncPlan {
    return planSync(this.#local(), this.#remote, {
      equal: this.#equal,
      checkUpdateIntervalMs: this.#opts.checkUpdateIntervalMs,
      nowMs: this.#opts.clock.now(),
      deferredUntil: this.#deferredUntil,
      random: this.#opts.random,
    })
  }

  /** One pass; true when everything planned was pushed. Never throws. */
  async #sync(full: boolean, signal: AbortSignal): Promise<boolean> {
    const { catalog, logger, clock } = this.#opts
    const nodeName = this.#opts.node().node
    try {
      if (full) {
        this.#remote = await catalog.readNode(nodeName)
        if (signal.aborted) return false
      }
      const plan = this.#planNow()
      this.#lastPlan = plan
      this.#deferredUntil = new Map(plan.deferred)
      const failures: string[] = []
      const attempt = async (what: string, call: () => Promise<void>): Promise<void> => {
        if (signal.aborted) return
        try {
          await call()
        } catch (err) {
          failures.push(`${what}: ${errorMessage(err)}`)
        }
      }
      const local = this.#local()
      if (plan.node || plan.services.length > 0 || plan.checks.length > 0) {
        // The node goes first, alone when nothing else is pending, else with the first write.
        if (plan.node && plan.services.length === 0 && plan.checks.length === 0) {
          await attempt('node', async () => {
            await catalog.register({ node: local.node, service: null, checks: [], token: '' })
            this.#remote = { ...this.#remote, node: local.node }
          })
        }
      }
      for (const s of plan.services) {
        await attempt(`service ${s.service.id}`, async () => {
          await catalog.register({ node: local.node, service: s.service, checks: s.checks, token: s.token })
          this.#remember({ node: local.node, service: s.service, checks: s.checks })
        })
      }
      for (const c of plan.checks) {
        await attempt(`check ${c.check.checkId}`, async () => {
          await catalog.register({ node: local.node, service: null, checks: [c.check], token: c.token })
          this.#remember({ node: local.node, service: null, checks: [c.check] })
        })
      }
      for (const id of plan.deleteServices) {
        await attempt(`deregister service ${id}`, async () => {
          await catalog.deregisterService(nodeName, id)
          this.#remote = {
            ...this.#remote,
            services: this.#remote.services.filter((s) => s.id !== id),
            checks: this.#remote.checks.filter((c) => c.serviceId !== id),
          }
        })
      }
      for (const id of plan.deleteChecks) {
        await attempt(`deregister check ${id}`, async () => {
          await catalog.deregisterCheck(nodeName, id)
          this.#remote = { ...this.#remote, checks: this.#remote.checks.filter((c) => c.checkId !== id) }
        })
      }
      if (signal.aborted) return false
      if (failures.length > 0) {
        this.#fail(failures.join('; '))
        return false
      }
      const now = clock.now()
      this.#lastSyncMs = now
      this.#lastError = null
      // Harnesses wait for this line after the first full sync (cli.md §6), as for Consul's.
      if (plan.node || (full && this.#lastFullSyncMs === null)) logger.info({}, 'Synced node info')
      if (full) this.#lastFullSyncMs = now
      for (const s of plan.services) logger.debug({ service: s.service.id }, 'Synced service')
      for (const c of plan.checks) logger.debug({ check: c.check.checkId }, 'Synced check')
      return true
    } catch (err) {
      if (!signal.aborted) this.#fail(errorMessage(err))
      return false
    }
  }

  #fail(message: string): void {
    this.#lastError = message
    this.#lastErrorMs = this.#opts.clock.now()
    this.#opts.logger.warn({ error: message }, 'Syncing with the catalog failed; retrying')
  }

  /** Records a successful registration in the believed remote state. */
  #remember(reg: { node: NodeInfo; service: Service | null; checks: readonly HealthCheck[] }): void {
    const services =
      reg.service === null
        ? this.#remote.services
        : [...this.#remote.services.filter((s) => s.id !== reg.service?.id), reg.service]
    const ids = new Set(reg.checks.map((c) => c.checkId))
    const checks = [...this.#remote.checks.filter((c) => !ids.has(c.checkId)), ...reg.checks]
    this.#remote = { node: reg.node, services, checks }
  }
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
