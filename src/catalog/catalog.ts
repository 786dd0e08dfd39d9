/**
 * The catalog of a server: Consul's catalog state machine written once above the store port
 * (spec/servers.md §2–§4).
 *
 * - The view: `CatalogState` built from `range(prefix)` at revision R, then kept current by ONE
 *   `watch(prefix, R + 1)` whose batches are applied in revision order. A cancelled watch is
 *   followed by a full resync (range, rebuild, wake every waiter, watch again).
 * - Writes: planned against the view (planner.ts), sent as one txn comparing the modRevision of
 *   every key read (concurrent registrations share txns: write-batch.ts); on a failed compare,
 *   wait for the view to catch up and plan again (bounded).
 *   A write resolves only once the view has applied its revision, so a read after it sees it.
 *   A write that changes nothing sends its compares alone: no op, no revision, no wake-up, and
 *   no write lost to a view that lagged another server's. A refusal is confirmed the same way.
 * - Reads: synchronous evaluations over the view; blocking reads share evaluations (blocking.ts).
 *
 * Concurrency contract: every method may be called concurrently; results are frozen snapshots
 * that never change (DESIGN.md rule 1), current as of the revision they carry.
 */
import { randomUUID } from 'node:crypto'
import type { Clock, Timer } from '../lib/clock.js'
import {
  StoreUnavailableError,
  type Compare,
  type LeaseId,
  type Revision,
  type Store,
  type TxnRequest,
  type TxnResult as StoreTxnResult,
  type Watch,
  type WatchBatch,
} from '../store/store.js'
import {
  BlockingQueries,
  evaluate,
  type BlockingOptions,
  type BlockingStats,
  type QueryResult,
} from './blocking.js'
import {
  CatalogClosedError,
  CatalogConflictError,
  CatalogRequestError,
  KvRequestError,
  NotLeaderError,
} from './errors.js'
import { planKvDelete, planKvPut, type KvContext, type PlannedWrite } from './kv-planner.js'
import { kvPrefixWakeKey, kvWakeKey, type KvQuery } from './kv-queries.js'
import {
  KV_MAX_VALUE_SIZE,
  SESSION_TTL_MIN_MS,
  type KvDeleteRequest,
  type KvPutRequest,
  type KvWriteResult,
  type SessionCreateRequest,
  type SessionRecord,
  type TxnOp,
  type TxnResult,
} from './kv-types.js'
import { Draft, planDeregister, planRegister, type Plan } from './planner.js'
import { PrefixSet } from './prefix-set.js'
import {
  invalidateForCatalogWrites,
  invalidateSession,
  normalizeSession,
  planReap,
  planSessionCreate,
} from './session-planner.js'
import { planTxn } from './txn.js'
import type { KvPort } from './kv-port.js'
import type { CatalogPort } from './port.js'
import type { CatalogQuery } from './queries.js'
import { idxWakeKey, nodeWakeKey } from './reader.js'
import { CatalogState } from './state.js'
import { WriteBatcher, type Prepared as BatchEntry } from './write-batch.js'
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
  /** Consul's `limits.kv_max_value_size` (default 512 KiB). */
  readonly kvMaxValueSize?: number
  /** Consul's `session_ttl_min` (default 10 s). */
  readonly sessionTtlMinMs?: number
  /** New session IDs (default: random UUIDs). */
  readonly newSessionId?: () => string
}

/**
 * A leader's fence (servers.md §3): a compare on the leader key that every leader-task write
 * carries, so a deposed leader's write fails in the store; `holds` tells, from the view, whether
 * a failed write failed because of it.
 */
export interface Fence {
  readonly compare: Compare
  holds(state: CatalogState): boolean
}

/** Listens to changes of the cluster tables: the `<table>/<name>` rows changed; null after a resync (anything may have). */
export type ClusterListener = (changed: ReadonlySet<string> | null) => void

/** A planned catalog write as the batcher sends it. */
type Prepared = BatchEntry & { readonly plan: Plan }

/** A write's answer with what the catalog did: `index` as in `WriteResult`. */
export type Committed<R> = Readonly<{ index: number; changed: boolean; result: R }>

interface RevisionWaiter {
  readonly revision: Revision
  readonly resolve: () => void
}

/** A fresh read waiting on the store's revision, and when it gives up. */
interface RevisionDeadline {
  readonly deadline: number
  readonly fail: () => void
}

export class Catalog implements CatalogPort, KvPort {
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
  readonly #kvMaxValueSize: number
  readonly #sessionTtlMinMs: number
  readonly #newSessionId: () => string
  /** Prefixes blocking KV reads wait on. */
  readonly #kvPrefixes = new PrefixSet()
  readonly #listeners = new Set<() => void>()
  /** Concurrent catalog registrations and deregistrations share store txns (write-batch.ts). */
  readonly #batcher: WriteBatcher
  readonly #clusterListeners = new Set<ClusterListener>()
  /** Reads of the store's revision for fresh reads (`fresh`): one request in flight, one queued. */
  #revisionRead: Promise<Revision> | undefined
  #revisionQueued: Promise<Revision> | undefined
  /** Fresh reads waiting on the store's revision, and the one watchdog timer for their deadlines. */
  readonly #revisionDeadlines = new Set<RevisionDeadline>()
  #watchdog: Timer | undefined
  #watchdogAt: number | undefined

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
    this.#kvMaxValueSize = opts.kvMaxValueSize ?? KV_MAX_VALUE_SIZE
    this.#sessionTtlMinMs = opts.sessionTtlMinMs ?? SESSION_TTL_MIN_MS
    this.#newSessionId = opts.newSessionId ?? randomUUID
    this.#batcher = new WriteBatcher({
      store: opts.store,
      idxPrefix: this.#state.keys.idx(''),
      reach: (revision) => this.#reach(revision, this.#catchUpMs),
    })
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

  /**
   * `PUT /v1/catalog/register`. Throws `CatalogRequestError` with Consul's text when refused;
   * with a fence, `NotLeaderError` once this server no longer leads.
   */
  register(req: RegisterRequest, fence?: Fence): Promise<WriteResult> {
    return this.#write(
      () => planRegister(this.#state, req, { datacenter: this.datacenter, beforePlan: this.#invalidateHook }),
      fence,
    )
  }

  /** `PUT /v1/catalog/deregister`. Unknown targets change nothing. */
  deregister(req: DeregisterRequest, fence?: Fence): Promise<WriteResult> {
    return this.#write(() => planDeregister(this.#state, req, { beforePlan: this.#invalidateHook }), fence)
  }

  /**
   * A write of the cluster tables (election, membership): the request as given, with the fence's
   * compare when there is one. Resolves once the view has applied it (when it changed anything).
   */
  async commitRaw(req: TxnRequest, fence?: Fence): Promise<StoreTxnResult> {
    if (this.#closed) throw new CatalogClosedError()
    await this.#resyncing
    const compare = fence === undefined ? req.compare : [...req.compare, fence.compare]
    const res = await this.#store.txn({ ...req, compare })
    const changes = res.succeeded ? req.success.length > 0 : (req.failure?.length ?? 0) > 0
    await this.#reach(res.revision, changes ? Number.POSITIVE_INFINITY : this.#catchUpMs)
    if (!res.succeeded && fence !== undefined && !fence.holds(this.#state)) throw new NotLeaderError()
    return res
  }

  /**
   * Resolves once the view has reached the store's current revision (reads in the default and
   * `consistent` modes: api/leader.ts `beFresh`), or once `maxMs` have passed since the call;
   * rejects with StoreUnavailableError when the store does not tell its revision within `maxMs`.
   * Concurrent callers share requests: one in flight, and one queued behind it for callers that
   * arrived after it left (their read must see writes acknowledged before they came).
   */
  async fresh(maxMs: number): Promise<void> {
    if (this.#closed) throw new CatalogClosedError()
    const started = this.#clock.now()
    const revision = await this.#within(this.#currentRevision(), started + maxMs, maxMs)
    await this.#reach(revision, Math.max(0, maxMs - (this.#clock.now() - started)))
  }

  /**
   * `read`, or StoreUnavailableError once `deadline` passes. One watchdog timer serves every fresh
   * read (a timer per read cost more than the rest of a read from a store in process); it fires
   * at the earliest deadline pending, and is left to lapse when nothing is.
   */
  #within(read: Promise<Revision>, deadline: number, maxMs: number): Promise<Revision> {
    return new Promise((resolve, reject) => {
      const wait: RevisionDeadline = {
        deadline,
        fail: () => {
          reject(new StoreUnavailableError(`the store did not tell its revision within ${maxMs} ms`))
        },
      }
      this.#revisionDeadlines.add(wait)
      if (this.#watchdogAt === undefined || deadline < this.#watchdogAt) this.#armWatchdog(deadline)
      read.then(
        (revision) => {
          this.#revisionDeadlines.delete(wait)
          resolve(revision)
        },
        (err: unknown) => {
          this.#revisionDeadlines.delete(wait)
          reject(err instanceof Error ? err : new Error(String(err)))
        },
      )
    })
  }

  #armWatchdog(at: number): void {
    this.#watchdog?.cancel()
    this.#watchdogAt = at
    this.#watchdog = this.#clock.setTimer(Math.max(0, at - this.#clock.now()), () => {
      this.#watchdog = undefined
      this.#watchdogAt = undefined
      const now = this.#clock.now()
      let next: number | undefined
      for (const wait of [...this.#revisionDeadlines]) {
        if (wait.deadline <= now) {
          this.#revisionDeadlines.delete(wait)
          wait.fail()
        } else if (next === undefined || wait.deadline < next) next = wait.deadline
      }
      if (next !== undefined) this.#armWatchdog(next)
    })
  }

  #currentRevision(): Promise<Revision> {
    if (this.#revisionRead === undefined) {
      const read = this.#store.revision().finally(() => {
        this.#revisionRead = undefined
      })
      this.#revisionRead = read
      return read
    }
    return (this.#revisionQueued ??= this.#revisionRead
      .catch(() => undefined)
      .then(() => {
        this.#revisionQueued = undefined
        return this.#currentRevision()
      }))
  }

  /** Sessions watching a check turned critical or removed, or on a removed node, go in the same txn. */
  readonly #invalidateHook = (d: Draft): void => {
    invalidateForCatalogWrites(d, this.#clock.now())
  }

  async #write(plan: () => Plan, fence?: Fence): Promise<WriteResult> {
    const fenced = (p: Plan): Prepared => ({
      plan: p,
      compare: fence === undefined ? p.compares : [...p.compares, fence.compare],
      ops: p.ops,
    })
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (this.#closed) throw new CatalogClosedError()
      await this.#resyncing
      let sent: Readonly<{ prepared: Prepared; res: StoreTxnResult }>
      const seen = this.#state.revision
      try {
        const first = fenced(plan())
        if (first.ops.length === 0) {
          // No ops: a txn of compares alone confirms the no-op without moving the revision.
          sent = { prepared: first, res: await this.#store.txn({ compare: first.compare, success: [] }) }
        } else {
          // Planned again when its txn is formed if what it read changed meanwhile (write-batch.ts):
          // a plan is a function of the rows it read, which its compares name.
          const at = this.#state.revision
          sent = await this.#batcher.submit(() =>
            this.#state.revision === at || this.#holds(first.compare) ? first : fenced(plan()),
          )
        }
      } catch (err) {
        if (!(err instanceof CatalogRequestError)) throw err
        // A refusal read from a view behind the store may be stale: confirm it at the store's
        // revision before answering it.
        if (!(await this.#movedSince(seen))) throw err
        continue
      }
      const { prepared, res } = sent
      if (res.succeeded) {
        if (prepared.ops.length === 0) return { index: Math.max(1, this.#state.revision), changed: false }
        await this.#reach(res.revision, Number.POSITIVE_INFINITY)
        return { index: res.revision, changed: true }
      }
      await this.#reach(res.revision, this.#catchUpMs)
      if (fence !== undefined && !fence.holds(this.#state)) throw new NotLeaderError()
    }
    throw new CatalogConflictError(this.#maxAttempts)
  }

  /**
   * Whether the store has moved past `seen`, the view's revision when something was read from it
   * (what the view did not show may have been written through another server a moment ago); if
   * so the view is brought up to the store's revision first (at most `catchUpMs`). The view may
   * have moved on meanwhile: what was read at `seen` is what counts.
   */
  async #movedSince(seen: Revision): Promise<boolean> {
    const current = await this.#store.revision()
    if (current <= seen) return false
    await this.#reach(current, this.#catchUpMs)
    return true
  }

  /** Whether every modRevision compare still holds against the view (other compares are left to the store). */
  #holds(compare: readonly Compare[]): boolean {
    const idx = this.#state.keys.idx('')
    for (const c of compare) {
      if (c.target !== 'modRevision') continue
      const now = c.key.startsWith(idx)
        ? (this.#state.idx(c.key.slice(idx.length)) ?? 0)
        : (this.#state.row(c.key)?.modRevision ?? 0)
      if (now !== c.value) return false
    }
    return true
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
  block<T>(query: CatalogQuery<T>, opts: BlockingOptions): Promise<QueryResult<T>> {
    if (this.#closed) return Promise.reject(new CatalogClosedError())
    // No async frame of its own: a waiting query holds as little as it can (thousands wait).
    const resyncing = this.#resyncing
    if (resyncing === undefined) return this.#blocking.run(query, opts)
    return resyncing.then(() => this.#blocking.run(query, opts))
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
    for (const key of change.kv) {
      keys.push(kvWakeKey(key))
      for (const p of this.#kvPrefixes.under(key)) keys.push(kvPrefixWakeKey(p))
    }
    this.#blocking.wake(keys)
    this.#releaseRevisionWaiters()
    if (change.cluster.size > 0) this.#notifyCluster(change.cluster)
    this.#notify()
  }

  #notifyCluster(changed: ReadonlySet<string> | null): void {
    for (const l of this.#clusterListeners) {
      try {
        l(changed)
      } catch (err) {
        this.#onError(err)
      }
    }
  }

  #notify(): void {
    for (const l of this.#listeners) {
      try {
        l()
      } catch (err) {
        this.#onError(err)
      }
    }
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
          this.#notifyCluster(null)
          this.#notify()
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

  // ---- KV, sessions, txn --------------------------------------------------------------------

  #kvContext(): KvContext {
    return { now: this.#clock.now(), maxValueSize: this.#kvMaxValueSize }
  }

  /** `PUT /v1/kv/<key>` (set, cas, acquire, release): `ok` is Consul's `true`/`false` body. */
  async kvPut(req: KvPutRequest): Promise<KvWriteResult> {
    const c = await this.#commit(() => planKvPut(new Draft(this.#state), req, this.#kvContext()))
    return { ok: c.result, index: c.index }
  }

  /** `DELETE /v1/kv/<key>` (plain, recurse, cas). */
  async kvDelete(req: KvDeleteRequest): Promise<KvWriteResult> {
    const c = await this.#commit(() => planKvDelete(new Draft(this.#state), req, this.#kvContext()))
    return { ok: c.result, index: c.index }
  }

  /** `PUT /v1/txn`: all or nothing; a failed transaction lists every failing operation. */
  async txn(ops: readonly TxnOp[]): Promise<TxnResult> {
    const c = await this.#commit(() =>
      planTxn(new Draft(this.#state, { beforePlan: this.#invalidateHook }), ops, this.#kvContext(), {
        datacenter: this.datacenter,
      }),
    )
    return c.result
  }

  /** A KV or session read evaluated now (not shared: a missing key reports the current table index). */
  kvRead<T>(query: KvQuery<T>): QueryResult<T> {
    if (this.#closed) throw new CatalogClosedError()
    return evaluate(this.#state, query).result
  }

  /** A blocking KV read: woken only by changes to its key, or under its prefix. */
  async kvBlock<T>(query: KvQuery<T>, opts: BlockingOptions): Promise<QueryResult<T>> {
    if (this.#closed) throw new CatalogClosedError()
    await this.#resyncing
    if ((opts.index ?? 0) <= 0) return this.kvRead(query)
    const prefix = query.prefix
    if (prefix !== undefined) this.#kvPrefixes.add(prefix)
    try {
      return await this.#blocking.run(query, opts)
    } finally {
      if (prefix !== undefined) this.#kvPrefixes.delete(prefix)
    }
  }

  /**
   * `PUT /v1/session/create`: validates with Consul's rules and texts, then creates the session;
   * with a TTL, on a store lease of 2 × TTL that `sessionRenew` keeps alive.
   */
  async sessionCreate(req: SessionCreateRequest): Promise<Readonly<{ id: string; index: number }>> {
    const normalized = normalizeSession(req, this.#sessionTtlMinMs)
    const id = this.#newSessionId()
    let lease: LeaseId | undefined
    if (normalized.ttlMs > 0) lease = await this.#store.grantLease(2 * normalized.ttlMs)
    try {
      const c = await this.#commit(() => planSessionCreate(new Draft(this.#state), id, normalized, lease))
      return { id: c.result, index: c.index }
    } catch (err) {
      if (lease !== undefined) await this.#store.revokeLease(lease).catch(() => undefined)
      throw err
    }
  }

  /** `PUT /v1/session/destroy/<id>`: invalidates (releases or deletes its keys, lock-delays); unknown IDs are fine. */
  async sessionDestroy(id: string): Promise<WriteResult> {
    // As of the plan that commits: a view behind the store may not show the session yet.
    let lease: LeaseId | null | undefined
    const c = await this.#commit(() => {
      lease = this.#state.kv.ttlLease(id)
      const d = new Draft(this.#state)
      invalidateSession(d, id, this.#clock.now())
      const p = d.plan()
      return { plan: p, reads: p.ops.length === 0 ? d.reads() : [], result: () => undefined }
    })
    if (lease != null) await this.#store.revokeLease(lease).catch(() => undefined)
    return { index: c.index, changed: c.changed }
  }

  /** `PUT /v1/session/renew/<id>`: restarts the TTL (2 × TTL from now); null when the session is unknown or expired. */
  async sessionRenew(id: string): Promise<SessionRecord | null> {
    if (this.#closed) throw new CatalogClosedError()
    // As of the store's revision: the session may have been created or destroyed a moment ago
    // through another server (a session without TTL is renewed from the view alone).
    await this.#movedSince(this.#state.revision)
    const s = this.#state.kv.session(id)
    if (s === undefined) return null
    if (s.ttl === '') return s
    const lease = this.#state.kv.ttlLease(id)
    if (lease == null) return null
    return (await this.#store.keepAlive(lease)) ? s : null
  }

  /** Leader task: invalidates a session whose TTL key expired, if it is still expired. */
  async invalidateExpiredSession(id: string, fence?: Fence): Promise<boolean> {
    const c = await this.#commit(() => {
      const d = new Draft(this.#state)
      let done = false
      const s = this.#state.kv.session(id)
      if (s !== undefined && s.ttl !== '' && this.#state.kv.ttlLease(id) === undefined) {
        d.read(d.keys.sessionTtl(id)) // still absent when the txn commits
        done = invalidateSession(d, id, this.#clock.now())
      }
      const p = d.plan()
      return { plan: p, reads: p.ops.length === 0 ? d.reads() : [], result: () => done }
    }, fence)
    return c.result
  }

  /** Leader task: deletes tombstones past their 15 minutes and ended lock-delays; returns how many. */
  async reap(fence?: Fence): Promise<number> {
    let total = 0
    for (;;) {
      const c = await this.#commit(() => planReap(new Draft(this.#state), this.#clock.now(), 100), fence)
      total += c.result.reaped
      if (!c.result.more || c.result.reaped === 0) return total
    }
  }

  /** Calls `listener` after each change to the cluster tables (and after a resync); returns the unsubscribe. */
  onClusterChange(listener: ClusterListener): () => void {
    this.#clusterListeners.add(listener)
    return () => this.#clusterListeners.delete(listener)
  }

  /** Calls `listener` after every change the view applies (and after a resync); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Sends a planned write: its ops with the compares of everything it read; a plan that writes
   * nothing still sends its reads as compares, so a `false` (or a no-op) is decided on current data.
   */
  async #commit<R>(make: () => PlannedWrite<R>, fence?: Fence): Promise<Committed<R>> {
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (this.#closed) throw new CatalogClosedError()
      await this.#resyncing
      let w: PlannedWrite<R>
      const seen = this.#state.revision
      try {
        w = make()
      } catch (err) {
        if (!(err instanceof CatalogRequestError) && !(err instanceof KvRequestError)) throw err
        // A refusal read from a view behind the store may be stale: confirm it at the store's revision.
        if (!(await this.#movedSince(seen))) throw err
        continue
      }
      const writes = w.plan.ops.length > 0
      const planned = writes ? w.plan.compares : w.reads
      if (!writes && planned.length === 0) {
        const index = Math.max(1, this.#state.revision)
        return { index, changed: false, result: w.result(index) }
      }
      const compare = fence === undefined ? planned : [...planned, fence.compare]
      const res = await this.#store.txn({ compare, success: writes ? w.plan.ops : [] })
      if (res.succeeded) {
        if (!writes) {
          // The reads held at the store's revision, which the view may not have reached yet.
          const index = Math.max(1, res.revision, this.#state.revision)
          return { index, changed: false, result: w.result(index) }
        }
        await this.#reach(res.revision, Number.POSITIVE_INFINITY)
        return { index: res.revision, changed: true, result: w.result(res.revision) }
      }
      await this.#reach(res.revision, this.#catchUpMs)
      if (fence !== undefined && !fence.holds(this.#state)) throw new NotLeaderError()
    }
    throw new CatalogConflictError(this.#maxAttempts)
  }

  /** Idempotent. Stops following the store; blocked reads answer with what they have. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      this.#closed = true
      this.#watchdog?.cancel()
      this.#blocking.releaseAll()
      this.#releaseRevisionWaiters()
      await this.#watch?.close()
    })())
  }
}
