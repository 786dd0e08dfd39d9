import { KeyTable } from './key-table.js'
import {
  LeaseNotFoundError,
  type Compare,
  type KeyValue,
  type LeaseId,
  type Op,
  type Revision,
  type TxnRequest,
  type WatchBatch,
  type WatchEvent,
} from './store.js'

/** One key change as written to a journal: a put (`v` set) or a delete (`v` absent). */
export type Mutation = Readonly<{ k: string; v?: string; l?: LeaseId }>

/**
 * One journal record: everything needed to replay a state change deterministically.
 * `r` with `m`: a committed revision and its changes; `g`: a lease granted; `x`: a lease removed
 * (its keys' deletes are in `m` of the same record).
 */
export type JournalRecord = Readonly<{
  r?: Revision
  m?: readonly Mutation[]
  g?: Readonly<{ id: LeaseId; ttlMs: number }>
  x?: LeaseId
}>

/** The whole state, as a snapshot holds it. */
export interface StateSnapshot {
  readonly revision: Revision
  readonly nextLease: number
  readonly kvs: readonly KeyValue[]
  readonly leases: readonly Readonly<{ id: LeaseId; ttlMs: number }>[]
}

/**
 * The state as of one instant, readable while the state moves on: what a journal writes as a
 * snapshot without holding commits back. Taking it costs O(leases); the keys are not copied
 * (KeyTable: the changes made after the capture are kept aside until it is released).
 */
export interface StateCapture {
  readonly revision: Revision
  readonly nextLease: number
  readonly leases: readonly Readonly<{ id: LeaseId; ttlMs: number }>[]
  /** How many keys `kvs` yields. */
  readonly keyCount: number
  /** The keys as of the capture, in no order; may be read across awaits until `release`. */
  readonly kvs: Iterable<KeyValue>
  /**
   * Ends the capture (idempotent). The changes kept aside are then folded back by
   * `KvState.fold`, a slice at a time.
   */
  release(): void
}

interface LeaseState {
  readonly ttlMs: number
  readonly keys: Set<string>
}

export interface Applied<T> {
  readonly value: T
  /** Present when the state changed: what a journal must make durable. */
  readonly record?: JournalRecord
  /** Present when the revision moved. */
  readonly batch?: WatchBatch
}

/**
 * The revisioned key-value state machine shared by every local store: applies txns, lease
 * grants and removals, and replays journal records. Synchronous and deterministic; durability,
 * watches and timers are the caller's.
 */
export class KvState {
  #revision: Revision
  #nextLease: number
  readonly #kvs = new KeyTable()
  #captured = false
  readonly #leases = new Map<LeaseId, LeaseState>()

  constructor(snapshot?: StateSnapshot) {
    this.#revision = snapshot?.revision ?? 1
    this.#nextLease = snapshot?.nextLease ?? 1
    for (const l of snapshot?.leases ?? []) this.#leases.set(l.id, { ttlMs: l.ttlMs, keys: new Set() })
    for (const kv of snapshot?.kvs ?? []) {
      this.#kvs.set(kv.key, kv)
      if (kv.lease !== null) this.#leases.get(kv.lease)?.keys.add(kv.key)
    }
  }

  get revision(): Revision {
    return this.#revision
  }

  get keyCount(): number {
    return this.#kvs.size
  }

  hasLease(id: LeaseId): boolean {
    return this.#leases.has(id)
  }

  leaseTtl(id: LeaseId): number | undefined {
    return this.#leases.get(id)?.ttlMs
  }

  /** Every key starting with `prefix`, sorted by code unit. */
  range(prefix: string): KeyValue[] {
    const out: KeyValue[] = []
    for (const kv of this.#kvs.values()) if (kv.key.startsWith(prefix)) out.push(kv)
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  get(key: string): KeyValue | undefined {
    return this.#kvs.get(key)
  }

  /** Every lease and its TTL. */
  leases(): { id: LeaseId; ttlMs: number }[] {
    return [...this.#leases].map(([id, l]) => ({ id, ttlMs: l.ttlMs }))
  }

  /** Captures the state as it is now; throws while an earlier capture is not released. */
  capture(): StateCapture {
    if (this.#captured) throw new Error('the state is already captured')
    const frozen = this.#kvs.freeze()
    this.#captured = true
    let released = false
    return {
      revision: this.#revision,
      nextLease: this.#nextLease,
      leases: this.leases(),
      keyCount: frozen.size,
      kvs: frozen.values,
      release: () => {
        if (released) return
        released = true
        this.#captured = false
        this.#kvs.thaw()
      },
    }
  }

  /**
   * Folds up to `maxKeys` of the changes kept aside during a released capture back into the
   * table; true once none is left. Reads and writes are right either way; folding bounds the
   * cost of each step.
   */
  fold(maxKeys: number): boolean {
    return this.#kvs.fold(maxKeys)
  }

  /** Throws LeaseNotFoundError (nothing applied) when a chosen put names an unknown lease. */
  txn(req: TxnRequest): Applied<{ succeeded: boolean; revision: Revision }> {
    const succeeded = req.compare.every((c) => this.#holds(c))
    const ops = succeeded ? req.success : (req.failure ?? [])
    for (const op of ops) {
      if (op.type === 'put' && op.lease !== undefined && !this.#leases.has(op.lease)) {
        throw new LeaseNotFoundError(op.lease)
      }
    }
    const rev = this.#revision + 1
    const mutations: Mutation[] = []
    const events: WatchEvent[] = []
    for (const op of ops) this.#applyOp(op, rev, mutations, events)
    if (mutations.length === 0) return { value: { succeeded, revision: this.#revision } }
    this.#revision = rev
    return {
      value: { succeeded, revision: rev },
      record: { r: rev, m: mutations },
      batch: { revision: rev, events },
    }
  }

  grantLease(ttlMs: number): Applied<LeaseId> {
    const id = String(this.#nextLease++)
    this.#leases.set(id, { ttlMs, keys: new Set() })
    return { value: id, record: { g: { id, ttlMs } } }
  }

  /** Deletes the lease and its keys in one revision; nothing when it does not exist. */
  removeLease(id: LeaseId): Applied<undefined> {
    const lease = this.#leases.get(id)
    if (lease === undefined) return { value: undefined }
    const keys = [...lease.keys].sort()
    this.#leases.delete(id)
    if (keys.length === 0) return { value: undefined, record: { x: id } }
    const rev = this.#revision + 1
    const mutations: Mutation[] = []
    const events: WatchEvent[] = []
    for (const key of keys) this.#delete(key, rev, mutations, events)
    this.#revision = rev
    return { value: undefined, record: { r: rev, m: mutations, x: id }, batch: { revision: rev, events } }
  }

  /** Replays a journal record; returns the batch it commits, if any. */
  replay(rec: JournalRecord): WatchBatch | undefined {
    if (rec.g !== undefined) {
      this.#leases.set(rec.g.id, { ttlMs: rec.g.ttlMs, keys: new Set() })
      const n = Number(rec.g.id)
      if (Number.isSafeInteger(n) && n >= this.#nextLease) this.#nextLease = n + 1
    }
    let batch: WatchBatch | undefined
    if (rec.r !== undefined && rec.m !== undefined) {
      const rev = rec.r
      const events: WatchEvent[] = []
      for (const m of rec.m) {
        if (m.v === undefined) this.#delete(m.k, rev, [], events)
        else this.#put(m.k, m.v, m.l, rev, [], events)
      }
      this.#revision = rev
      batch = { revision: rev, events }
    }
    if (rec.x !== undefined) this.#leases.delete(rec.x)
    return batch
  }

  #holds(c: Compare): boolean {
    const kv = this.#kvs.get(c.key)
    switch (c.target) {
      case 'value':
        if (kv === undefined) return false
        return c.op === '=' ? kv.value === c.value : kv.value !== c.value
      case 'lease': {
        const lease = kv?.lease ?? null
        return c.op === '=' ? lease === c.value : lease !== c.value
      }
      default: {
        const actual = kv === undefined ? 0 : kv[c.target]
        switch (c.op) {
          case '=':
            return actual === c.value
          case '!=':
            return actual !== c.value
          case '<':
            return actual < c.value
          case '>':
            return actual > c.value
        }
      }
    }
  }

  #applyOp(op: Op, rev: Revision, mutations: Mutation[], events: WatchEvent[]): void {
    switch (op.type) {
      case 'put':
        this.#put(op.key, op.value, op.lease, rev, mutations, events)
        return
      case 'delete':
        this.#delete(op.key, rev, mutations, events)
        return
      case 'deletePrefix':
        for (const kv of this.range(op.prefix)) this.#delete(kv.key, rev, mutations, events)
        return
    }
  }

  #put(
    key: string,
    value: string,
    lease: LeaseId | undefined,
    rev: Revision,
    mutations: Mutation[],
    events: WatchEvent[],
  ): void {
    const prev = this.#kvs.get(key)
    if (prev?.lease != null) this.#leases.get(prev.lease)?.keys.delete(key)
    const kv: KeyValue = {
      key,
      value,
      createRevision: prev?.createRevision ?? rev,
      modRevision: rev,
      version: (prev?.version ?? 0) + 1,
      lease: lease ?? null,
    }
    this.#kvs.set(key, kv)
    if (lease !== undefined) this.#leases.get(lease)?.keys.add(key)
    mutations.push(lease === undefined ? { k: key, v: value } : { k: key, v: value, l: lease })
    events.push({ type: 'put', kv })
  }

  #delete(key: string, rev: Revision, mutations: Mutation[], events: WatchEvent[]): void {
    const prev = this.#kvs.get(key)
    if (prev === undefined) return
    if (prev.lease !== null) this.#leases.get(prev.lease)?.keys.delete(key)
    this.#kvs.delete(key)
    mutations.push({ k: key })
    events.push({ type: 'delete', kv: { ...prev, modRevision: rev } })
  }
}
