/**
 * The catalog's leader tasks: what exactly one server runs (servers.md §3). Each is level-driven
 * from the view, so a restart or a new leader simply re-arms from stored state:
 * - a session whose TTL key is gone (its lease of 2 × TTL expired) is invalidated — one write
 *   that deletes it, releases or deletes its keys and starts their lock-delays;
 * - tombstones are reaped 15 minutes after the end of their 30-second bin, and ended lock-delays
 *   are deleted, at the earliest due time (one timer).
 * Only the elected leader runs them (cluster/election.ts), and every write carries its fence: a
 * deposed leader's pass fails with `NotLeaderError` and writes nothing.
 */
import type { Clock, Timer } from '../lib/clock.js'
import type { Catalog, Fence } from './catalog.js'
import { NotLeaderError } from './errors.js'
import { nextReapAt } from './session-planner.js'

export interface LeaderTasksOptions {
  readonly catalog: Catalog
  readonly clock: Clock
  /** The leader's fence, carried by every write. */
  readonly fence: Fence
  /** Errors the tasks recover from by retrying (default: ignored). */
  readonly onError?: (err: unknown) => void
  /** Delay before retrying after a failed pass (default 1 s). */
  readonly retryMs?: number
}

export class LeaderTasks {
  readonly #catalog: Catalog
  readonly #clock: Clock
  readonly #fence: Fence
  readonly #onError: (err: unknown) => void
  readonly #retryMs: number
  #unsubscribe: (() => void) | undefined
  #timer: Timer | undefined
  #timerAt: number | undefined
  #running: Promise<void> | undefined
  #again = false
  #stopped = false

  constructor(opts: LeaderTasksOptions) {
    this.#catalog = opts.catalog
    this.#clock = opts.clock
    this.#fence = opts.fence
    this.#onError = opts.onError ?? (() => undefined)
    this.#retryMs = opts.retryMs ?? 1000
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** When the next timed pass is due (epoch ms), or undefined when nothing is due. */
  get nextPassAt(): number | undefined {
    return this.#timerAt
  }

  /** Starts following the view and runs a first pass at once. */
  start(): void {
    if (this.#unsubscribe !== undefined || this.#stopped) return
    this.#unsubscribe = this.#catalog.onChange(() => {
      this.#kick()
    })
    this.#kick()
  }

  /** Idempotent. Resolves once no task is running and no timer is left. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe?.()
    this.#timer?.cancel()
    this.#timer = undefined
    await this.#running
  }

  /** Runs a pass now, or again right after the one in progress. */
  #kick(): void {
    if (this.#stopped) return
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined
    })
  }

  async #loop(): Promise<void> {
    for (;;) {
      this.#again = false
      try {
        await this.#pass()
      } catch (err) {
        // Deposed: the election stops these tasks; nothing was written.
        if (err instanceof NotLeaderError) return
        this.#onError(err)
        this.#arm(this.#clock.now() + this.#retryMs)
        return
      }
      if (!this.#rerun()) return
    }
  }

  /** Whether a change arrived during the pass that just ended. */
  #rerun(): boolean {
    return this.#again && !this.#stopped
  }

  async #pass(): Promise<void> {
    const state = this.#catalog.state
    for (const id of state.kv.expiredSessions()) {
      if (this.stopped) return
      await this.#catalog.invalidateExpiredSession(id, this.#fence)
    }
    const due = nextReapAt(state)
    if (due !== undefined && due <= this.#clock.now() && !this.stopped) await this.#catalog.reap(this.#fence)
    const next = nextReapAt(state)
    if (next !== undefined) this.#arm(next)
  }

  /** One timer, at the earliest due time asked for. */
  #arm(at: number): void {
    if (this.#stopped) return
    if (this.#timer !== undefined && this.#timerAt !== undefined && this.#timerAt <= at) return
    this.#timer?.cancel()
    this.#timerAt = at
    this.#timer = this.#clock.setTimer(Math.max(0, at - this.#clock.now()), () => {
      this.#timer = undefined
      this.#timerAt = undefined
      this.#kick()
    })
  }
}
