/**
 * The catalog of a server: Consul's catalog state machine written once above the store port
 * (spec/servers.md §2–§4).
 *
 * - The view: `CatalogState` built from `range(prefix)` at revision R, then kept current by ONE
 *   `watch(prefix, R + 1)` whose batches are applied in revision order. A cancelled watch is
 *   followed by a full resync (range, rebuild, wake every waiter, watch again).
 * - Writes: planned against the view (planner.ts), sent as one txn comparing the modRevision of
 *   every key read; on a failed compare, wait for the view to catch up and plan again (bounded).
 *   A write resolves only once the view has applied its revision, so a read after it sees it.
 *   A write that changes nothing sends its compares alone: no op, no revision, no wake-up, and
 *   no write lost to a view that lagged another server's. A refusal is confirmed the same way.
 * - Reads: synchronous evaluations over the view; blocking reads share evaluations (blocking.ts).
 *
 * Concurrency contract: every method may be called concurrently; results are frozen snapshots
 * that never change (DESIGN.md rule 1), current as of the revision they carry.
 */
import type { Clock, Timer } from '../lib/clock.js'
import type { Revision, Store, Watch, WatchBatch } from '../store/store.js'
import {
  BlockingQueries,
  evaluate,
  type BlockingOptions,
  type BlockingStats,
  type QueryResult,
} from './blocking.js'
import { CatalogClosedError, CatalogConflictError, CatalogRequestError } from './errors.js'
import { planDeregister, planRegister, type Plan } from './planner.js'
import type { CatalogPort } from './port.js'
import type { CatalogQuery } from './queries.js'
import { idxWakeKey, nodeWakeKey } from './reader.js'
import { CatalogState } from './state.js'
import type { DeregisterRequest, RegisterRequest, WriteResult } from './types.js'

export interface CatalogOptions {
  readonly store: Store
  /** Key prefix of this datacenter's catalog in the store, e.g. `vigil/dc1`. */
  readonly prefix: string
  /** The datacenter a registration gets when it names none; `/catalog/datacenters`. */
  readonly datacenter: string
  readonly clock: Clock
  /** Uniform in [0, 1): blocking-query jitter. */
  readonly random?: () => number
  /** Plans sent before a write gives up on conflicts (default 16). */
  readonly maxAttempts?: number
  /** Longest wait for the view to reach a failed txn's revision before re-planning (default 1 s). */
  readonly catchUpMs?: number
  /** Called with errors the catalog recovers from by itself (resync failures). */
  readonly onError?: (err: unknown) => void
}

interface RevisionWaiter {
  readonly revision: Revision
  readonly resolve: () => void
}

export class Catalog implements CatalogPort {
  readonly datacenter: string
  readonly #store: Store
  readonly #prefix: string
  readonly #clock: Clock
  readonly #state: CatalogState
  readonly #blocking: BlockingQueries
  readonly #maxAttempts: number
  readonly #catchUpMs: number
  readonly #onError: (err: unknown) => void
  #watch: Watch | undefined
  #revisionWaiters: RevisionWaiter[] = []
  #closed = false
  #closing: Promise<void> | undefined
  #resyncing: Promise<void> | undefined
  #resyncs = 0

  private constructor(opts: CatalogOptions) {
    this.datacenter = opts.datacenter
    this.#store = opts.store
    this.#prefix = opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`
    this.#clock = opts.clock
    this.#state = new CatalogState(this.#prefix)
    this.#blocking = new BlockingQueries(this.#state, opts.clock, opts.random ?? Math.random)
    this.#maxAttempts = opts.maxAttempts ?? 16
    this.#catchUpMs = opts.catchUpMs ?? 1000
    this.#onError = opts.onError ?? (() => undefined)
  }

  /** Loads the view from the store and starts following it. */
  static async open(opts: CatalogOptions): Promise<Catalog> {
    const catalog = new Catalog(opts)
    await catalog.#load()
    return catalog
  }

  /** The store revision the view reflects. */
  get revision(): Revision {
    return this.#state.revision
  }

  /** How many full resyncs the view made after a cancelled watch. */
  get resyncs(): number {
    return this.#resyncs
  }

  /** The in-memory tables. Read synchronously only; for tests and diagnostics. */
  get state(): CatalogState {
    return this.#state
  }

  blockingStats(): BlockingStats {
    return this.#blocking.stats()
  }

  /** `/v1/catalog/datacenters`: this datacenter only (no WAN federation). */
  datacenters(): readonly string[] {
    return Object.freeze([this.datacenter])
  }

  // ---- writes -------------------------------------------------------------------------------

  /** `PUT /v1/catalog/register`. Throws `CatalogRequestError` with Consul's text when refused. */
  register(req: RegisterRequest): Promise<WriteResult> {
    return this.#write(() => planRegister(this.#state, req, { datacenter: this.datacenter }))
  }

  /** `PUT /v1/catalog/deregister`. Unknown targets change nothing. */
  deregister(req: DeregisterRequest): Promise<WriteResult> {
    return this.#write(() => planDeregister(this.#state, req))
  }

  async #write(plan: () => Plan): Promise<WriteResult> {
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (this.#closed) throw new CatalogClosedError()
      await this.#resyncing
      let p: Plan
      try {
        p = plan()
      } catch (err) {
        if (!(err instanceof CatalogRequestError)) throw err
        // A refusal read from a view behind the store may be stale: confirm it at the store's
        // revision before answering it.
        const current = await this.#store.revision()
        if (current <= this.#state.revision) throw err
        await this.#reach(current, this.#catchUpMs)
        continue
      }
      // No ops: a txn of compares alone confirms the no-op without moving the revision.
      const res = await this.#store.txn({ compare: p.compares, success: p.ops })
      if (res.succeeded) {
        if (p.ops.length === 0) return { index: Math.max(1, this.#state.revision), changed: false }
        await this.#reach(res.revision, Number.POSITIVE_INFINITY)
        return { index: res.revision, changed: true }
      }
      await this.#reach(res.revision, this.#catchUpMs)
    }
    throw new CatalogConflictError(this.#maxAttempts)
  }

  /** Resolves once the view has applied `revision`, after `maxMs`, or when closed. */
  #reach(revision: Revision, maxMs: number): Promise<void> {
    if (this.#state.revision >= revision || this.#closed) return Promise.resolve()
    return new Promise((resolve) => {
      let timer: Timer | undefined
      const waiter: RevisionWaiter = {
        revision,
        resolve: () => {
          timer?.cancel()
          resolve()
        },
      }
      this.#revisionWaiters.push(waiter)
      if (Number.isFinite(maxMs)) {
        timer = this.#clock.setTimer(maxMs, () => {
          this.#revisionWaiters = this.#revisionWaiters.filter((w) => w !== waiter)
          resolve()
        })
      }
    })
  }

  #releaseRevisionWaiters(): void {
    const rev = this.#state.revision
    if (this.#revisionWaiters.length === 0) return
    const due = this.#revisionWaiters.filter((w) => w.revision <= rev || this.#closed)
    if (due.length === 0) return
    this.#revisionWaiters = this.#revisionWaiters.filter((w) => !due.includes(w))
    for (const w of due) w.resolve()
  }

  // ---- reads --------------------------------------------------------------------------------

  /** Evaluates a query now. */
  read<T>(query: CatalogQuery<T>): QueryResult<T> {
    if (this.#closed) throw new CatalogClosedError()
    return this.#blocking.current(query)
  }

  /** A blocking read (http-api.md §6): answers when the index passes `opts.index`, or at the deadline. */
  async block<T>(query: CatalogQuery<T>, opts: BlockingOptions): Promise<QueryResult<T>> {
    if (this.#closed) throw new CatalogClosedError()
    await this.#resyncing
    return this.#blocking.run(query, opts)
  }

  /** Evaluates without sharing (for tests comparing against an oracle). */
  evaluate<T>(query: CatalogQuery<T>): QueryResult<T> {
    return evaluate(this.#state, query).result
  }

  // ---- the view -----------------------------------------------------------------------------

  async #load(): Promise<void> {
    const { kvs, revision } = await this.#store.range(this.#prefix)
    this.#state.reset(kvs, revision)
    this.#watch = this.#store.watch(this.#prefix, revision + 1, {
      onBatch: (batch) => {
        this.#apply(batch)
      },
      onCancel: (reason) => {
        this.#onError(reason)
        this.#resync()
      },
    })
  }

  #apply(batch: WatchBatch): void {
    if (this.#closed || batch.revision <= this.#state.revision) return
    const change = this.#state.apply(batch)
    const keys: string[] = []
    for (const name of change.idx) keys.push(idxWakeKey(name))
    for (const node of change.nodes) keys.push(nodeWakeKey(node))
    this.#blocking.wake(keys)
    this.#releaseRevisionWaiters()
  }

  #resync(): void {
    if (this.#closed || this.#resyncing !== undefined) return
    this.#resyncs++
    this.#resyncing = (async () => {
      for (;;) {
        if (this.#closed) return
        try {
          await this.#watch?.close()
          await this.#load()
          this.#blocking.wakeAll()
          this.#releaseRevisionWaiters()
          return
        } catch (err) {
          this.#onError(err)
          await this.#clock.sleep(1000)
        }
      }
    })().finally(() => {
      this.#resyncing = undefined
    })
  }

  /** Idempotent. Stops following the store; blocked reads answer with what they have. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      this.#closed = true
      this.#blocking.releaseAll()
      this.#releaseRevisionWaiters()
      await this.#watch?.close()
    })())
  }
}
