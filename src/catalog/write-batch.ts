/**
 * Group commit of catalog writes (catalog.ts): while one store txn is in flight, the writes that
 * arrive are queued, and the next txn carries every queued write that does not touch what another
 * in it touches — their compares and ops together, the index-table entries they all put written
 * once. With 64 concurrent registrations on etcd this turns 64 txns of 8 puts into one txn of a
 * few hundred ops, each shared index entry put once.
 *
 * Each write is planned (or its plan confirmed) when its txn is formed, after the view has
 * applied the previous txn: a write that waited is not sent with compares that txn made stale
 * (a write comparing a busy index entry would otherwise lose to every batch before it). The
 * writes of one txn are planned against the same view, each on its own (planner.ts); sharing a
 * txn is safe when no write reads or writes a key another one writes (the only keys two writes
 * may both write are index-table entries put with the empty value, which every write puts the
 * same way). A batch whose compares fail (another server wrote) is not retried as a whole: each
 * write is sent alone, and its own retry loop proceeds as before.
 *
 * Concurrency contract: one txn in flight at a time; `prepare` runs synchronously when the txn
 * is formed; an exception it throws rejects that write alone.
 */
import { TxnTooLargeError, type Compare, type Op, type Store, type TxnResult } from '../store/store.js'

/** Writes one txn carries at most. */
const MAX_WRITES = 64
/** Ops (compares + success) one txn carries at most, below etcd's probed limit when it has one. */
const MAX_OPS = 1_024

/** A write ready to send. */
export interface Prepared {
  readonly compare: readonly Compare[]
  readonly ops: readonly Op[]
}

interface Waiting {
  readonly prepare: () => Prepared
  readonly resolve: (r: Readonly<{ prepared: Prepared; res: TxnResult }>) => void
  readonly reject: (err: unknown) => void
}

interface Entry extends Prepared {
  readonly waiting: Waiting
}

/** An index-table entry put with the empty value: what every write puts the same way. */
function isIdxPut(op: Op, idxPrefix: string): boolean {
  return op.type === 'put' && op.value === '' && op.lease === undefined && op.key.startsWith(idxPrefix)
}

/**
 * What the writes of one batch read (their compares' keys) and write, for the conflict test. Two
 * writes may share a txn when neither writes a key the other reads or writes, neither reads an
 * index-table entry the other puts, and neither deletes a prefix. Each of these is a test of
 * disjointness between one write's keys and another's, so testing a write against the union of
 * the batch's keys is the same as testing it against each write of the batch, in time
 * proportional to its own size.
 */
class Footprints {
  readonly #reads = new Set<string>()
  /** Keys written, except index-table entries put with the empty value. */
  readonly #writes = new Set<string>()
  /** Index-table entries put with the empty value (every write puts them the same way). */
  readonly #idxPuts = new Set<string>()
  #prefixDelete = false
  #empty = true

  constructor(readonly idxPrefix: string) {}

  /** Whether `e` can join the writes added so far. */
  compatible(e: Prepared): boolean {
    if (this.#empty) return true
    if (this.#prefixDelete) return false
    for (const c of e.compare) {
      if (this.#writes.has(c.key) || this.#idxPuts.has(c.key)) return false
    }
    for (const op of e.ops) {
      if (op.type === 'deletePrefix') return false
      const key = op.key
      if (isIdxPut(op, this.idxPrefix)) {
        if (this.#reads.has(key) || this.#writes.has(key)) return false
      } else if (this.#writes.has(key) || this.#reads.has(key) || this.#idxPuts.has(key)) {
        return false
      }
    }
    return true
  }

  add(e: Prepared): void {
    this.#empty = false
    for (const c of e.compare) this.#reads.add(c.key)
    for (const op of e.ops) {
      if (op.type === 'deletePrefix') {
        this.#prefixDelete = true
        continue
      }
      const key = op.key
      if (isIdxPut(op, this.idxPrefix)) this.#idxPuts.add(key)
      else this.#writes.add(key)
    }
  }
}

/** Whether two compares are the same test: two writes' identical compares are sent once. */
function sameCompare(a: Compare, b: Compare): boolean {
  return a.key === b.key && a.target === b.target && a.op === b.op && String(a.value) === String(b.value)
}

export interface WriteBatcherOptions {
  readonly store: Store
  /** The index table's key prefix (`<root>idx/`). */
  readonly idxPrefix: string
  /** Resolves once the view has applied `revision` (or gave up waiting). */
  readonly reach: (revision: number) => Promise<void>
}

export class WriteBatcher {
  readonly #store: Store
  readonly #idxPrefix: string
  readonly #reach: (revision: number) => Promise<void>
  readonly #maxOps: number
  #queue: Waiting[] = []
  #flushing = false
  #lastRevision = 0

  constructor(opts: WriteBatcherOptions) {
    this.#store = opts.store
    this.#idxPrefix = opts.idxPrefix
    this.#reach = opts.reach
    const limit = (opts.store as { readonly maxTxnOps?: unknown }).maxTxnOps
    this.#maxOps = typeof limit === 'number' && limit > 0 ? Math.min(MAX_OPS, limit) : MAX_OPS
  }

  /**
   * Sends a write, alone or with others: `prepare` gives its compares and ops when its txn is
   * formed. Resolves with what was sent and the result of the txn that carried it.
   */
  submit<P extends Prepared>(prepare: () => P): Promise<Readonly<{ prepared: P; res: TxnResult }>> {
    return new Promise((resolve, reject) => {
      this.#queue.push({
        prepare,
        resolve: resolve as Waiting['resolve'],
        reject,
      })
      if (!this.#flushing) void this.#flush()
    })
  }

  async #flush(): Promise<void> {
    this.#flushing = true
    try {
      while (this.#queue.length > 0) {
        // Plan against a view that has the previous txn.
        await this.#reach(this.#lastRevision)
        const batch = this.#take()
        if (batch.length > 0) await this.#send(batch)
      }
    } finally {
      this.#flushing = false
    }
  }

  /** The next batch: queued writes in order, leaving (for the next one) those that conflict. */
  #take(): Entry[] {
    const batch: Entry[] = []
    const prints = new Footprints(this.#idxPrefix)
    const rest: Waiting[] = []
    let ops = 0
    for (const w of this.#queue) {
      if (batch.length >= MAX_WRITES) {
        rest.push(w)
        continue
      }
      let e: Entry
      try {
        e = { ...w.prepare(), waiting: w }
      } catch (err) {
        w.reject(err)
        continue
      }
      const size = e.compare.length + e.ops.length
      const fits = batch.length === 0 || (ops + size <= this.#maxOps && prints.compatible(e))
      if (fits) {
        batch.push(e)
        prints.add(e)
        ops += size
      } else rest.push(w)
    }
    this.#queue = rest
    return batch
  }

  async #send(batch: readonly Entry[]): Promise<void> {
    const [only] = batch
    if (batch.length === 1 && only !== undefined) {
      await this.#alone(only)
      return
    }
    const compare: Compare[] = []
    /** key → the first compare sent on it; `others`: compares on a key that differ from its first (rare). */
    const compared = new Map<string, Compare>()
    const others: Compare[] = []
    const success: Op[] = []
    const put = new Set<string>()
    for (const e of batch) {
      for (const c of e.compare) {
        const first = compared.get(c.key)
        if (first === undefined) compared.set(c.key, c)
        else if (sameCompare(first, c) || others.some((o) => sameCompare(o, c))) continue
        else others.push(c)
        compare.push(c)
      }
      for (const op of e.ops) {
        if (op.type === 'put' && isIdxPut(op, this.#idxPrefix)) {
          if (put.has(op.key)) continue
          put.add(op.key)
        }
        success.push(op)
      }
    }
    let res: TxnResult
    try {
      res = await this.#store.txn({ compare, success })
    } catch (err) {
      if (!(err instanceof TxnTooLargeError)) {
        for (const e of batch) e.waiting.reject(err)
        return
      }
      res = { succeeded: false, revision: 0 }
    }
    if (res.succeeded) {
      this.#lastRevision = Math.max(this.#lastRevision, res.revision)
      for (const e of batch) e.waiting.resolve({ prepared: e, res })
      return
    }
    // Some write's plan was stale (or the batch too large): each goes alone, as it would have.
    for (const e of batch) await this.#alone(e)
  }

  async #alone(e: Entry): Promise<void> {
    try {
      const res = await this.#store.txn({ compare: e.compare, success: e.ops })
      if (res.succeeded) this.#lastRevision = Math.max(this.#lastRevision, res.revision)
      e.waiting.resolve({ prepared: e, res })
    } catch (err) {
      e.waiting.reject(err)
    }
  }
}
