import type { Clock, Timer } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import { KvState, type Applied, type JournalRecord } from './kv-state.js'
import {
  StoreClosedError,
  StoreCompactedError,
  StoreUnavailableError,
  type LeaseId,
  type RangeResult,
  type Revision,
  type Store,
  type TxnRequest,
  type TxnResult,
  type Watch,
  type WatchBatch,
  type WatchHandlers,
} from './store.js'

/**
 * Where a store makes its changes durable. `commit` receives the records of one group of
 * operations, in order, and resolves once all of them are durable; `state` is the state after
 * them, and does not change until the commit resolves (a journal may capture it then). Commits
 * come one at a time. A rejection means "maybe written": the store stops accepting writes.
 */
export interface Journal {
  commit(records: readonly JournalRecord[], state: KvState): Promise<void>
  close(): Promise<void>
}

export interface MemoryStoreOptions {
  readonly clock: Clock
  /** Durability behind the store; none for a store that lives in memory only (`-dev`). */
  readonly journal?: Journal
  /** The state to start from (a store reopened from disk). */
  readonly state?: KvState
  /** Committed batches replayed into `state` that watches may still start from. */
  readonly history?: readonly WatchBatch[]
  /** How many recent revisions a watch can start from (default 10,000). */
  readonly historyRevisions?: number
}

type Work =
  | { readonly kind: 'txn'; readonly req: TxnRequest; settle: Settle<TxnResult> }
  | { readonly kind: 'grant'; readonly ttlMs: number; settle: Settle<LeaseId> }
  | { readonly kind: 'revoke'; readonly lease: LeaseId; settle: Settle<undefined> }

interface Settle<T> {
  resolve(value: T): void
  reject(err: unknown): void
}

class WatchStream implements Watch {
  readonly #queue: WatchBatch[] = []
  #scheduled = false
  #closed = false

  constructor(
    readonly prefix: string,
    readonly fromRevision: Revision,
    readonly handlers: WatchHandlers,
    readonly onClose: (w: WatchStream) => void,
  ) {}

  /** Queues the part of `batch` under this watch's prefix. */
  offer(batch: WatchBatch): void {
    if (this.#closed || batch.revision < this.fromRevision) return
    const events =
      this.prefix === '' ? batch.events : batch.events.filter((e) => e.kv.key.startsWith(this.prefix))
    if (events.length === 0) return
    this.#queue.push(events === batch.events ? batch : { revision: batch.revision, events })
    this.#schedule()
  }

  cancel(reason: Error): void {
    if (this.#closed) return
    this.#closed = true
    this.onClose(this)
    queueMicrotask(() => {
      this.handlers.onCancel(reason)
    })
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.onClose(this)
    }
    return Promise.resolve()
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      while (!this.#closed) {
        const next = this.#queue.shift()
        if (next === undefined) break
        try {
          this.handlers.onBatch(next)
        } catch (err) {
          this.cancel(err instanceof Error ? err : new Error(String(err)))
        }
      }
      this.#queue.length = 0
    })
  }
}

/**
 * The store port over KvState. Operations go through one queue: each group of queued writes is
 * applied in order, handed to the journal as one commit, and only once that is durable are the
 * callers answered and the watches fed — so readers and watchers never see a change that could
 * be lost. Without a journal every write is applied and published at once (`-dev`).
 *
 * Leases expire on the injected clock; keep-alives are not journaled (after a restart every lease
 * gets its full TTL again, which only lengthens it, as etcd does on a leader change).
 */
export class MemoryStore implements Store {
  readonly #clock: Clock
  readonly #journal: Journal | undefined
  readonly #state: KvState
  readonly #historyRevisions: number
  readonly #history: WatchBatch[]
  /** The oldest revision a watch may start from. */
  #historyStart: Revision
  readonly #watches = new Set<WatchStream>()
  readonly #deadlines = new Map<LeaseId, { at: number; timer: Timer }>()
  #queue: Work[] = []
  /** Reads waiting for the in-flight commit to become durable. */
  #readers: (() => void)[] = []
  /** True while the queue is being drained; `#running` settles when it stops. */
  #active = false
  #running: Promise<void> = Promise.resolve()
  #published: Revision
  #failed: StoreUnavailableError | undefined
  #closing = false
  #closed: Promise<void> | undefined

  constructor(opts: MemoryStoreOptions) {
    this.#clock = opts.clock
    this.#journal = opts.journal
    this.#state = opts.state ?? new KvState()
    this.#historyRevisions = Math.max(1, opts.historyRevisions ?? 10_000)
    this.#published = this.#state.revision
    this.#history = [...(opts.history ?? [])].slice(-this.#historyRevisions)
    // Revision 1 is the empty initial state: nothing before it can be missed.
    this.#historyStart = this.#history[0]?.revision ?? (this.#published === 1 ? 1 : this.#published + 1)
    for (const { id, ttlMs } of this.#state.leases()) this.#arm(id, ttlMs)
  }

  revision(): Promise<Revision> {
    return this.#closing ? Promise.reject(new StoreClosedError()) : Promise.resolve(this.#published)
  }

  range(prefix: string): Promise<RangeResult> {
    if (this.#closing) return Promise.reject(new StoreClosedError())
    if (this.#failed !== undefined) return Promise.reject(this.#unavailable())
    const read = (): RangeResult => ({ kvs: this.#state.range(prefix), revision: this.#state.revision })
    if (!this.#active) return Promise.resolve(read())
    return new Promise((resolve, reject) => {
      this.#readers.push(() => {
        if (this.#failed !== undefined) reject(this.#unavailable())
        else resolve(read())
      })
    })
  }

  txn(req: TxnRequest): Promise<TxnResult> {
    return this.#submit<TxnResult>((settle) => ({ kind: 'txn', req, settle }))
  }

  watch(prefix: string, fromRevision: Revision, handlers: WatchHandlers): Watch {
    const stream = new WatchStream(prefix, fromRevision, handlers, (w) => this.#watches.delete(w))
    if (this.#closing) {
      stream.cancel(new StoreClosedError())
      return stream
    }
    if (fromRevision < this.#historyStart && fromRevision <= this.#published) {
      stream.cancel(new StoreCompactedError(fromRevision, this.#historyStart))
      return stream
    }
    for (const batch of this.#history.slice(this.#firstAtOrAfter(fromRevision))) stream.offer(batch)
    this.#watches.add(stream)
    return stream
  }

  grantLease(ttlMs: number): Promise<LeaseId> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0)
      return Promise.reject(new RangeError(`invalid lease TTL ${ttlMs} ms`))
    return this.#submit<LeaseId>((settle) => ({ kind: 'grant', ttlMs: Math.ceil(ttlMs), settle }))
  }

  keepAlive(lease: LeaseId): Promise<boolean> {
    if (this.#closing) return Promise.reject(new StoreClosedError())
    const deadline = this.#deadlines.get(lease)
    const ttl = this.#state.leaseTtl(lease)
    if (deadline === undefined || ttl === undefined || deadline.at <= this.#clock.now())
      return Promise.resolve(false)
    deadline.at = this.#clock.now() + ttl
    return Promise.resolve(true)
  }

  revokeLease(lease: LeaseId): Promise<void> {
    return this.#submit<undefined>((settle) => ({ kind: 'revoke', lease, settle }))
  }

  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#closing = true
      while (this.#active) await this.#running
      for (const d of this.#deadlines.values()) d.timer.cancel()
      this.#deadlines.clear()
      for (const w of [...this.#watches]) w.cancel(new StoreClosedError())
      await this.#journal?.close()
    })())
  }

  // ---- internals -----------------------------------------------------------------------------

  #submit<T>(make: (settle: Settle<T>) => Work): Promise<T> {
    if (this.#closing) return Promise.reject(new StoreClosedError())
    if (this.#failed !== undefined) return Promise.reject(this.#unavailable())
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(make({ resolve, reject }))
      if (!this.#active) this.#running = this.#run()
    })
  }

  /** Drains the queue group by group; one journal commit per group. */
  async #run(): Promise<void> {
    this.#active = true
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue
        this.#queue = []
        const records: JournalRecord[] = []
        const batches: WatchBatch[] = []
        const answers: (() => void)[] = []
        for (const work of group) {
          try {
            const applied = this.#apply(work)
            if (applied.record !== undefined) records.push(applied.record)
            if (applied.batch !== undefined) batches.push(applied.batch)
            answers.push(() => work.settle.resolve(applied.value as never))
          } catch (err) {
            answers.push(() => work.settle.reject(err))
          }
        }
        if (records.length > 0 && this.#journal !== undefined) {
          try {
            await this.#journal.commit(records, this.#state)
          } catch (err) {
            this.#fail(err, group)
            return
          }
        }
        for (const b of batches) this.#publish(b)
        for (const answer of answers) answer()
        this.#serveReaders()
      }
    } finally {
      this.#active = false
      this.#serveReaders()
    }
  }

  #apply(work: Work): Applied<unknown> {
    switch (work.kind) {
      case 'txn':
        return this.#state.txn(work.req)
      case 'grant': {
        const applied = this.#state.grantLease(work.ttlMs)
        this.#arm(applied.value, work.ttlMs)
        return applied
      }
      case 'revoke': {
        const d = this.#deadlines.get(work.lease)
        d?.timer.cancel()
        this.#deadlines.delete(work.lease)
        return this.#state.removeLease(work.lease)
      }
    }
  }

  #publish(batch: WatchBatch): void {
    this.#published = batch.revision
    this.#history.push(batch)
    const excess = this.#history.length - this.#historyRevisions
    if (excess >= Math.max(1, this.#historyRevisions >> 4)) {
      this.#history.splice(0, excess)
      this.#historyStart = this.#history[0]?.revision ?? batch.revision + 1
    }
    for (const w of this.#watches) w.offer(batch)
  }

  #serveReaders(): void {
    const readers = this.#readers
    this.#readers = []
    for (const r of readers) r()
  }

  #fail(err: unknown, group: readonly Work[]): void {
    this.#failed = new StoreUnavailableError(
      `store write failed, the store is unavailable until reopened: ${errorMessage(err)}`,
      { cause: err },
    )
    const pending = [...group, ...this.#queue]
    this.#queue = []
    for (const work of pending) work.settle.reject(this.#failed)
    for (const w of [...this.#watches]) w.cancel(this.#failed)
  }

  #unavailable(): StoreUnavailableError {
    return this.#failed ?? new StoreUnavailableError('store unavailable')
  }

  #firstAtOrAfter(rev: Revision): number {
    let lo = 0
    let hi = this.#history.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.#history[mid]?.revision ?? rev) < rev) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Starts the expiry timer of a lease; a keep-alive only moves its deadline. */
  #arm(lease: LeaseId, ttlMs: number): void {
    const entry: { at: number; timer: Timer } = { at: this.#clock.now() + ttlMs, timer: { cancel: () => {} } }
    const check = (): void => {
      if (this.#deadlines.get(lease) !== entry) return
      const left = entry.at - this.#clock.now()
      if (left > 0) {
        entry.timer = this.#clock.setTimer(left, check)
        return
      }
      this.#deadlines.delete(lease)
      if (this.#closing || this.#failed !== undefined) return
      this.revokeLease(lease).catch(() => undefined)
    }
    entry.timer = this.#clock.setTimer(ttlMs, check)
    this.#deadlines.set(lease, entry)
  }
}
