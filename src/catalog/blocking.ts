/**
 * Blocking queries at scale (servers.md §4, http-api.md §6). Waiting queries with the same key
 * share one `SharedQuery`: one evaluation per change, one result object per index (a renderer
 * can cache its body per result object). Shared queries are registered under the wake keys their
 * last evaluation read, and only a change to one of those keys re-evaluates them. A woken query
 * answers the waiters whose index it has moved past; the others stay armed.
 */
import type { Clock, Timer } from '../lib/clock.js'
import type { CatalogQuery } from './queries.js'
import { QueryReader } from './reader.js'
import type { CatalogState } from './state.js'

/** Consul's `default_query_time` and `max_query_time`. */
export const DEFAULT_WAIT_MS = 5 * 60_000
export const MAX_WAIT_MS = 10 * 60_000

/** Non-blocking results kept per query key at the view's current revision. */
const MAX_RECENT = 256

/**
 * One answer. Frozen; the same object is handed to every query sharing the evaluation, so it may
 * key a cache of its rendered body.
 */
export type QueryResult<T> = Readonly<{
  /** X-Consul-Index: max of the index entries read, ≥ 1. */
  index: number
  value: T
  /** The view revision the result was evaluated at. */
  revision: number
}>

export interface BlockingOptions {
  /** The client's `index`; absent or 0 answers at once. */
  readonly index?: number
  /** The client's `wait`; ≤ 0 → 5 min, above 10 min clamped; plus up to wait/16 of jitter. */
  readonly waitMs?: number
  /** Aborting answers at once with the current result. */
  readonly signal?: AbortSignal
}

interface Waiter {
  readonly minIndex: number
  readonly resolve: () => void
}

class SharedQuery {
  result: QueryResult<unknown>
  deps: ReadonlySet<string>
  readonly waiters = new Set<Waiter>()

  constructor(
    readonly query: CatalogQuery<unknown>,
    first: { result: QueryResult<unknown>; deps: ReadonlySet<string> },
  ) {
    this.result = first.result
    this.deps = first.deps
  }
}

export function evaluate<T>(
  state: CatalogState,
  query: CatalogQuery<T>,
): { result: QueryResult<T>; deps: ReadonlySet<string> } {
  const reader = new QueryReader(state)
  const value = query.evaluate(reader)
  return {
    result: Object.freeze({ index: reader.index, value, revision: state.revision }),
    deps: reader.deps,
  }
}

/** Counters for tests and metrics. */
export interface BlockingStats {
  /** Evaluations made for waiting queries (wake-ups and first evaluations). */
  readonly evaluations: number
  /** Shared queries currently armed. */
  readonly armed: number
  /** Waiters currently blocked. */
  readonly waiters: number
}

export class BlockingQueries {
  readonly #state: CatalogState
  readonly #clock: Clock
  readonly #random: () => number
  readonly #shared = new Map<string, SharedQuery>()
  readonly #byDep = new Map<string, Set<SharedQuery>>()
  /** Shared queries whose dependencies changed since their last evaluation. */
  readonly #due = new Set<SharedQuery>()
  /**
   * Results of reads with no shared query, by key, all at `#recentRevision`: repeated reads of an
   * unchanged view answer the same result object (whose rendered body the API keeps).
   */
  readonly #recent = new Map<string, QueryResult<unknown>>()
  #recentRevision = -1
  #flushScheduled = false
  #evaluations = 0
  #waiters = 0

  constructor(state: CatalogState, clock: Clock, random: () => number) {
    this.#state = state
    this.#clock = clock
    this.#random = random
  }

  stats(): BlockingStats {
    return { evaluations: this.#evaluations, armed: this.#shared.size, waiters: this.#waiters }
  }

  /** The current result: a waiting query's shared one if armed (refreshed if due), else fresh. */
  current<T>(query: CatalogQuery<T>): QueryResult<T> {
    const shared = this.#shared.get(query.key)
    if (shared === undefined) return this.#recentResult(query)
    this.#refreshIfDue(shared)
    return shared.result as QueryResult<T>
  }

  #recentResult<T>(query: CatalogQuery<T>): QueryResult<T> {
    const revision = this.#state.revision
    if (revision !== this.#recentRevision) {
      this.#recent.clear()
      this.#recentRevision = revision
    }
    const hit = this.#recent.get(query.key)
    if (hit !== undefined) return hit as QueryResult<T>
    const result = evaluate(this.#state, query).result
    if (this.#recent.size >= MAX_RECENT) {
      const oldest = this.#recent.keys().next()
      if (oldest.done !== true) this.#recent.delete(oldest.value)
    }
    this.#recent.set(query.key, result)
    return result
  }

  /**
   * Answers once the result's index exceeds `opts.index`, or at the deadline, or on abort. Not an
   * async function: a waiting query holds its promise, its waiter and its timer, nothing more.
   */
  run<T>(query: CatalogQuery<T>, opts: BlockingOptions): Promise<QueryResult<T>> {
    const minIndex = opts.index ?? 0
    if (minIndex <= 0 || opts.signal?.aborted === true) return Promise.resolve(this.current(query))
    let shared = this.#shared.get(query.key)
    if (shared !== undefined) this.#refreshIfDue(shared)
    if (shared === undefined) {
      this.#evaluations++
      const first = evaluate<unknown>(this.#state, query)
      if (first.result.index > minIndex) return Promise.resolve(first.result as QueryResult<T>)
      shared = new SharedQuery(query, first)
      this.#arm(shared)
    } else if (shared.result.index > minIndex) {
      return Promise.resolve(shared.result as QueryResult<T>)
    }
    const base = Math.min((opts.waitMs ?? 0) > 0 ? (opts.waitMs ?? 0) : DEFAULT_WAIT_MS, MAX_WAIT_MS)
    const waitMs = base + (this.#random() * base) / 16
    const target = shared
    return new Promise<QueryResult<T>>((resolve) => {
      const onAbort = (): void => {
        waiter.resolve()
      }
      const waiter: Waiter = {
        minIndex,
        resolve: () => {
          if (!target.waiters.delete(waiter)) return
          this.#waiters--
          timer.cancel()
          opts.signal?.removeEventListener('abort', onAbort)
          if (target.waiters.size === 0) this.#disarm(target)
          resolve(target.result as QueryResult<T>)
        },
      }
      target.waiters.add(waiter)
      this.#waiters++
      const timer: Timer = this.#clock.setTimer(waitMs, waiter.resolve)
      opts.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Marks the shared queries that read any of `keys` for re-evaluation, and answers those whose
   * index moved once the current burst of changes is applied (in the next turn of the event loop):
   * a burst of batches costs each query one evaluation. A read of a marked query re-evaluates it at once.
   */
  wake(keys: Iterable<string>): void {
    for (const k of keys) for (const s of this.#byDep.get(k) ?? []) this.#due.add(s)
    this.#scheduleFlush()
  }

  /** After a resync nothing is known about what changed: every shared query re-evaluates. */
  wakeAll(): void {
    this.#recent.clear()
    for (const s of this.#shared.values()) this.#due.add(s)
    this.#scheduleFlush()
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#due.size === 0) return
    this.#flushScheduled = true
    // A macrotask, not a microtask: the write that made the change answers its client first (its
    // continuation is a microtask), and a burst of batches applied meanwhile costs one evaluation.
    setImmediate(() => {
      this.#flushScheduled = false
      const due = [...this.#due]
      this.#due.clear()
      for (const s of due) this.#refresh(s)
    })
  }

  #refreshIfDue(s: SharedQuery): void {
    if (this.#due.delete(s)) this.#refresh(s)
  }

  /** Answers every waiter with its current result (closing). */
  releaseAll(): void {
    for (const s of [...this.#shared.values()]) for (const w of [...s.waiters]) w.resolve()
  }

  #refresh(s: SharedQuery): void {
    if (this.#shared.get(s.query.key) !== s) return
    this.#evaluations++
    const next = evaluate(this.#state, s.query)
    this.#unindex(s)
    s.result = next.result
    s.deps = next.deps
    this.#index(s)
    for (const w of [...s.waiters]) if (next.result.index > w.minIndex) w.resolve()
  }

  #arm(s: SharedQuery): void {
    this.#shared.set(s.query.key, s)
    this.#index(s)
  }

  #disarm(s: SharedQuery): void {
    if (this.#shared.get(s.query.key) !== s) return
    this.#shared.delete(s.query.key)
    this.#due.delete(s)
    this.#unindex(s)
  }

  #index(s: SharedQuery): void {
    for (const d of s.deps) {
      let set = this.#byDep.get(d)
      if (set === undefined) {
        set = new Set()
        this.#byDep.set(d, set)
      }
      set.add(s)
    }
  }

  #unindex(s: SharedQuery): void {
    for (const d of s.deps) {
      const set = this.#byDep.get(d)
      set?.delete(s)
      if (set?.size === 0) this.#byDep.delete(d)
    }
  }
}
