/**
 * The etcd store (DESIGN.md "Storage", spec/servers.md §3–§4, docs/store.md): the store port on
 * an etcd 3.4+ cluster through the etcd3 client's raw gRPC calls.
 *
 * - Keys are etcd keys verbatim. `<prefix>meta/epoch` holds `{"indexOffset": N}`: every revision
 *   the store exposes is etcd's plus N, so a store moved from the embedded store keeps its
 *   revisions increasing. The epoch key is hidden from ranges and watches and refused in ops.
 * - txn: compares and ops map one to one onto an etcd txn; ops are folded per key first (etcd
 *   refuses two writes to one key, or a put inside a deleted range, in one txn): the last op on a
 *   key wins, a put after a deletePrefix is carved out of the deleted range. A txn larger than
 *   etcd's `--max-txn-ops` (probed at open) is refused with TxnTooLargeError.
 * - watch: one etcd watch stream per call. The last revision delivered is tracked; a broken
 *   stream is re-watched from it + 1 (never the client's own resume, which can skip events); a
 *   compaction or a cancel by etcd ends the watch through `onCancel`.
 * - Leases are etcd leases (TTL in whole seconds, at least 2).
 */
import { readFileSync } from 'node:fs'
import { Etcd3, EtcdLeaseInvalidError, type IOptions } from 'etcd3'
import type {
  ICompare,
  IDeleteRangeRequest,
  IEvent,
  IKeyValue,
  IRequestOp,
  ITxnRequest,
  IWatchRequest,
  IWatchResponse,
  IDuplexStream,
} from 'etcd3'
import { errorMessage } from '../lib/errors.js'
import {
  LeaseNotFoundError,
  StoreClosedError,
  StoreCompactedError,
  StoreUnavailableError,
  TxnTooLargeError,
  type Compare,
  type KeyValue,
  type LeaseId,
  type Op,
  type RangeResult,
  type Revision,
  type Store,
  type TxnRequest,
  type TxnResult,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from './store.js'

/** How to reach etcd. */
export interface EtcdConnection {
  /** Client URLs, e.g. `http://10.0.0.1:2379`; all `https:` or all `http:`. */
  readonly endpoints: readonly string[]
  /** PEM files for TLS; the CA alone verifies the server, cert and key authenticate vigil. */
  readonly caFile?: string
  readonly certFile?: string
  readonly keyFile?: string
}

export interface EtcdStoreOptions extends EtcdConnection {
  /** Where the store's metadata lives: `<prefix>meta/epoch`. Ends with `/`. */
  readonly prefix: string
  /**
   * The last revision exposed by a previous store (a move from the embedded store): on an etcd
   * without an epoch key the offset is chosen so that every exposed revision is above it.
   */
  readonly minRevision?: Revision
  /** Deadline of each request (default 15 s); a txn past it is StoreUnavailableError. */
  readonly requestTimeoutMs?: number
  /** How long a broken watch keeps re-watching before it is cancelled (default 30 s). */
  readonly watchRetryMs?: number
  /** Largest op count probed at open (default 8,192). */
  readonly maxTxnOpsProbe?: number
}

/** etcd cannot be used: unreachable, too old, or its metadata is not ours. */
export class EtcdStoreOpenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'EtcdStoreOpenError'
  }
}

/**
 * The call never reached a member: no connection could be made to the one the client picked, or
 * the client's circuit breaker for it was open.
 */
function unsent(err: unknown): boolean {
  return /No connection established|ECONNREFUSED|circuit breaker is open/.test(errorMessage(err))
}

/** The member the call went to was unreachable (gRPC UNAVAILABLE), whether or not it was sent. */
function unavailable(err: unknown): boolean {
  return unsent(err) || /UNAVAILABLE|Connection dropped|ECONNRESET/.test(errorMessage(err))
}

/** The oldest etcd this store runs on (watch fragments, txn semantics). */
const MIN_VERSION: readonly [number, number] = [3, 4]
/** etcd 3.4's smallest lease TTL, in seconds. */
const MIN_LEASE_TTL_S = 2
const RANGE_PAGE = 5_000

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>

/**
 * A fault policy that runs the call once: the client's default global policy retries a failed
 * call up to three times, which would run a txn twice when its first answer was lost.
 */
const ONCE = {
  execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
    Promise.resolve(fn({ signal: new AbortController().signal })),
  onSuccess: () => ({ dispose: () => undefined }),
  onFailure: () => ({ dispose: () => undefined }),
  // The policy interface declares a type-only virtual property; `execute` is all the client calls.
} as unknown as Policy

const enc = (s: string): Buffer => Buffer.from(s, 'utf8')

/** The end of the etcd range holding every key that starts with `prefix` ("\0": to the end). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0xff) < 0xff) {
      end[i] = (end[i] ?? 0) + 1
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0])
}

function keyRange(prefix: string): { key: Buffer; range_end: Buffer } {
  if (prefix === '') return { key: Buffer.from([0]), range_end: Buffer.from([0]) }
  const key = enc(prefix)
  return { key, range_end: prefixEnd(key) }
}

const byCodeUnit = (a: KeyValue, b: KeyValue): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

function parseVersion(v: string): [number, number] {
  const [maj, min] = v.split('.').map((p) => Number.parseInt(p, 10))
  return [maj ?? 0, min ?? 0]
}

/** Errors after which the request surely did not run (refused by validation). */
function refused(err: unknown): boolean {
  const msg = errorMessage(err)
  return (
    err instanceof EtcdLeaseInvalidError ||
    /etcdserver: (too many operations|duplicate key|request is too large|key is not provided|permission denied)/.test(
      msg,
    ) ||
    /InvalidArgument|INVALID_ARGUMENT/.test(msg)
  )
}

interface Folded {
  readonly ops: IRequestOp[]
}

interface DeletedRange {
  readonly prefix: string
  readonly excluded: Set<string>
}

/** The etcd client wrapped as the store port; open it with `openEtcdStore`. */
export class EtcdStore implements Store {
  readonly #client: Etcd3
  readonly #epochKey: string
  readonly #offset: number
  readonly #maxTxnOps: number
  readonly #timeoutMs: number
  readonly #watchRetryMs: number
  /** How many members the client knows: a call that cannot have taken effect is tried on each. */
  readonly #endpoints: number
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #watches = new Set<EtcdWatch>()
  #closing = false
  #closed: Promise<void> | undefined

  /** Use `openEtcdStore`. */
  constructor(
    client: Etcd3,
    opts: {
      epochKey: string
      offset: number
      maxTxnOps: number
      timeoutMs: number
      watchRetryMs: number
      endpoints: number
    },
  ) {
    this.#client = client
    this.#epochKey = opts.epochKey
    this.#offset = opts.offset
    this.#maxTxnOps = opts.maxTxnOps
    this.#timeoutMs = opts.timeoutMs
    this.#watchRetryMs = opts.watchRetryMs
    this.#endpoints = Math.max(1, opts.endpoints)
  }

  /** Added to every etcd revision this store exposes. */
  get indexOffset(): number {
    return this.#offset
  }

  /** The most ops (and compares) one txn may carry on this etcd. */
  get maxTxnOps(): number {
    return this.#maxTxnOps
  }

  revision(): Promise<Revision> {
    return this.#track(async () => {
      try {
        const res = await this.#failover('read', () =>
          this.#client.kv.range({ key: enc(this.#epochKey), count_only: true }, this.#call()),
        )
        return Number(res.header.revision) + this.#offset
      } catch (err) {
        throw this.#unavailable(err)
      }
    })
  }

  range(prefix: string): Promise<RangeResult> {
    return this.#track(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.#rangeOnce(prefix)
        } catch (err) {
          // A page read at a revision compacted meanwhile: read again at the newest.
          if (attempt < 3 && /compacted/.test(errorMessage(err))) continue
          throw this.#unavailable(err)
        }
      }
    })
  }

  async #rangeOnce(prefix: string): Promise<RangeResult> {
    const { key, range_end } = keyRange(prefix)
    const out: KeyValue[] = []
    let from = key
    let revision = 0
    for (;;) {
      const res = await this.#failover('read', () =>
        this.#client.kv.range(
          { key: from, range_end, limit: RANGE_PAGE, ...(revision > 0 ? { revision } : {}) },
          this.#call(),
        ),
      )
      if (revision === 0) revision = Number(res.header.revision)
      for (const kv of res.kvs) {
        const k = kv.key.toString('utf8')
        if (k !== this.#epochKey) out.push(this.#kv(kv))
      }
      const last = res.kvs.at(-1)
      if (!res.more || last === undefined) break
      from = Buffer.concat([last.key, Buffer.from([0])])
    }
    return { kvs: out.sort(byCodeUnit), revision: revision + this.#offset }
  }

  txn(req: TxnRequest): Promise<TxnResult> {
    return this.#track(async () => {
      const compare = this.#compares(req.compare)
      const success = this.#fold(req.success).ops
      const failure = this.#fold(req.failure ?? []).ops
      const count = Math.max(compare.length, success.length, failure.length)
      if (count > this.#maxTxnOps) {
        throw new TxnTooLargeError(
          `txn needs ${count} etcd operations, etcd allows ${this.#maxTxnOps} (raise etcd's --max-txn-ops)`,
        )
      }
      const request: ITxnRequest = { compare, success, failure }
      try {
        const res = await this.#failover('write', () => this.#client.kv.txn(request, this.#call()))
        return { succeeded: res.succeeded, revision: Number(res.header.revision) + this.#offset }
      } catch (err) {
        throw this.#txnError(err, req)
      }
    })
  }

  watch(prefix: string, fromRevision: Revision, handlers: WatchHandlers): Watch {
    const w = new EtcdWatch(this.#client, prefix, fromRevision, handlers, {
      offset: this.#offset,
      hidden: this.#epochKey,
      retryMs: this.#watchRetryMs,
      onClose: (x) => this.#watches.delete(x),
      kv: (kv) => this.#kv(kv),
    })
    if (this.#closing) {
      w.cancel(new StoreClosedError())
      return w
    }
    this.#watches.add(w)
    w.start()
    return w
  }

  grantLease(ttlMs: number): Promise<LeaseId> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0)
      return Promise.reject(new RangeError(`invalid lease TTL ${ttlMs} ms`))
    return this.#track(async () => {
      const ttl = Math.max(MIN_LEASE_TTL_S, Math.ceil(ttlMs / 1000))
      let res: Awaited<ReturnType<Etcd3['leaseClient']['leaseGrant']>>
      try {
        res = await this.#failover('write', () =>
          this.#client.leaseClient.leaseGrant({ TTL: ttl }, this.#call()),
        )
      } catch (err) {
        throw this.#unavailable(err)
      }
      if (res.error !== '') throw new StoreUnavailableError(`etcd refused a lease: ${res.error}`)
      return res.ID
    })
  }

  keepAlive(lease: LeaseId): Promise<boolean> {
    return this.#track(async () => {
      let stream: Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>
      try {
        stream = await this.#client.leaseClient.leaseKeepAlive(this.#call())
      } catch (err) {
        throw this.#unavailable(err)
      }
      try {
        return await new Promise<boolean>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new StoreUnavailableError('etcd lease keep-alive timed out')),
            this.#timeoutMs,
          )
          stream.on('data', (res) => {
            clearTimeout(timer)
            resolve(Number(res.TTL) > 0)
          })
          stream.on('error', (err) => {
            clearTimeout(timer)
            reject(new StoreUnavailableError(`etcd lease keep-alive failed: ${errorMessage(err)}`))
          })
          stream.on('end', () => {
            clearTimeout(timer)
            reject(new StoreUnavailableError('etcd lease keep-alive stream ended'))
          })
          stream.write({ ID: lease })
        })
      } finally {
        stream.cancel()
      }
    })
  }

  revokeLease(lease: LeaseId): Promise<void> {
    return this.#track(async () => {
      try {
        await this.#client.leaseClient.leaseRevoke({ ID: lease }, this.#call())
      } catch (err) {
        if (err instanceof EtcdLeaseInvalidError) return
        throw this.#unavailable(err)
      }
    })
  }

  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#closing = true
      while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
      await Promise.all([...this.#watches].map((w) => w.close()))
      this.#client.close()
    })())
  }

  // ---- internals -----------------------------------------------------------------------------

  #call(): { deadline: number } {
    return { deadline: Date.now() + this.#timeoutMs }
  }

  /**
   * Sends a call again when it cannot have taken effect: a write only when no connection to the
   * member the client picked could be made, a read whenever the member was unavailable. The client
   * picks members at random and stops picking one after three failures in a row (its circuit
   * breaker), so a dead member may be picked again a few times: up to three tries per endpoint,
   * a little apart (under 2 s in all).
   */
  async #failover<T>(kind: 'read' | 'write', fn: () => Promise<T>): Promise<T> {
    const tries = 3 * this.#endpoints + 1
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        const again = kind === 'read' ? unavailable(err) : unsent(err)
        if (!again || attempt >= tries || this.#closing) throw err
        await new Promise((r) => setTimeout(r, Math.min(200, 10 * attempt)))
      }
    }
  }

  #track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new StoreClosedError())
    const p = fn()
    this.#inflight.add(p)
    const done = (): void => void this.#inflight.delete(p)
    p.then(done, done)
    return p
  }

  #kv(kv: IKeyValue): KeyValue {
    return {
      key: kv.key.toString('utf8'),
      value: kv.value.toString('utf8'),
      createRevision: Number(kv.create_revision) + this.#offset,
      modRevision: Number(kv.mod_revision) + this.#offset,
      version: Number(kv.version),
      lease: kv.lease === '0' || kv.lease === '' ? null : kv.lease,
    }
  }

  #compares(compares: readonly Compare[]): ICompare[] {
    const out: ICompare[] = []
    const seen = new Set<string>()
    for (const c of compares) {
      const id = JSON.stringify([c.key, c.target, c.op, c.value])
      if (seen.has(id)) continue
      seen.add(id)
      out.push(this.#compare(c))
    }
    return out
  }

  #compare(c: Compare): ICompare {
    const key = enc(c.key)
    const result = { '=': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const
    switch (c.target) {
      case 'value':
        return { key, target: 'Value', result: result[c.op], value: enc(c.value) }
      case 'lease':
        return { key, target: 'Lease', result: result[c.op], lease: c.value ?? '0' }
      case 'version':
        return { key, target: 'Version', result: result[c.op], version: c.value }
      case 'createRevision':
      case 'modRevision': {
        const [op, value] = this.#etcdRevision(c.op, c.value)
        return c.target === 'createRevision'
          ? { key, target: 'Create', result: result[op], create_revision: value }
          : { key, target: 'Mod', result: result[op], mod_revision: value }
      }
    }
  }

  /**
   * An exposed revision in a compare, as etcd's. Revisions in (0, offset] predate etcd: no key
   * has one (live keys are above the offset, absent ones 0), so the compare is rewritten to the
   * answer it must give.
   */
  #etcdRevision(op: '=' | '!=' | '<' | '>', v: number): ['=' | '!=' | '<' | '>', number] {
    if (v <= 0) return [op, v]
    if (v > this.#offset) return [op, v - this.#offset]
    switch (op) {
      case '=':
        return ['<', 0] // never
      case '!=':
        return ['>', -1] // always
      case '<':
        return ['<', 1] // only absent keys
      case '>':
        return ['>', 0] // only live keys
    }
  }

  /** The ops as etcd accepts them: at most one write per key, no put inside a deleted range. */
  #fold(ops: readonly Op[]): Folded {
    const puts = new Map<string, { value: string; lease: LeaseId | undefined }>()
    const dels = new Set<string>()
    const ranges: DeletedRange[] = []
    for (const op of ops) {
      switch (op.type) {
        case 'put':
          this.#refuseEpoch(op.key)
          puts.set(op.key, { value: op.value, lease: op.lease })
          dels.delete(op.key)
          for (const r of ranges) if (op.key.startsWith(r.prefix)) r.excluded.add(op.key)
          break
        case 'delete':
          this.#refuseEpoch(op.key)
          puts.delete(op.key)
          dels.add(op.key)
          for (const r of ranges) r.excluded.delete(op.key)
          break
        case 'deletePrefix': {
          for (const k of [...puts.keys()]) if (k.startsWith(op.prefix)) puts.delete(k)
          for (const k of [...dels]) if (k.startsWith(op.prefix)) dels.delete(k)
          const excluded = new Set<string>()
          // The epoch key is the store's own: a deleted range goes around it.
          if (this.#epochKey.startsWith(op.prefix)) excluded.add(this.#epochKey)
          ranges.push({ prefix: op.prefix, excluded })
          break
        }
      }
    }
    const out: IRequestOp[] = []
    for (const [k, p] of puts) {
      out.push({
        request_put: {
          key: enc(k),
          value: enc(p.value),
          ...(p.lease !== undefined ? { lease: p.lease } : {}),
        },
      })
    }
    for (const k of dels) out.push({ request_delete_range: { key: enc(k) } })
    for (const r of ranges) for (const d of splitRange(r)) out.push({ request_delete_range: d })
    return { ops: out }
  }

  #refuseEpoch(key: string): void {
    if (key === this.#epochKey) throw new RangeError(`key ${key} is reserved for the store's metadata`)
  }

  #txnError(err: unknown, req: TxnRequest): Error {
    if (err instanceof EtcdLeaseInvalidError) {
      const lease = [...req.success, ...(req.failure ?? [])].find(
        (o): o is Extract<Op, { type: 'put' }> => o.type === 'put' && o.lease !== undefined,
      )?.lease
      return new LeaseNotFoundError(lease ?? '')
    }
    const msg = errorMessage(err)
    if (/too many operations|request is too large/.test(msg)) {
      return new TxnTooLargeError(`etcd refused the txn: ${msg}`, { cause: err })
    }
    if (refused(err)) return err instanceof Error ? err : new Error(msg)
    return this.#unavailable(err)
  }

  /** A failed call as the port reports it: StoreUnavailableError unless it is one of ours already. */
  #unavailable(err: unknown): Error {
    if (
      err instanceof StoreUnavailableError ||
      err instanceof StoreClosedError ||
      err instanceof StoreCompactedError ||
      err instanceof LeaseNotFoundError ||
      err instanceof TxnTooLargeError
    )
      return err
    return new StoreUnavailableError(`etcd request failed: ${errorMessage(err)}`, { cause: err })
  }
}

/** A deleted prefix minus the keys put after it: etcd delete ranges in byte order. */
function splitRange(r: DeletedRange): IDeleteRangeRequest[] {
  const { key, range_end } = keyRange(r.prefix)
  const cuts = [...r.excluded].map(enc).sort((a, b) => Buffer.compare(a, b))
  const out: IDeleteRangeRequest[] = []
  let start = key
  for (const cut of cuts) {
    if (Buffer.compare(cut, start) > 0) out.push({ key: start, range_end: cut })
    start = Buffer.concat([cut, Buffer.from([0])])
  }
  out.push({ key: start, range_end })
  return out
}

interface WatchOptions {
  readonly offset: number
  readonly hidden: string
  readonly retryMs: number
  readonly onClose: (w: EtcdWatch) => void
  readonly kv: (kv: IKeyValue) => KeyValue
}

/** One etcd watch stream, re-created from the last delivered revision + 1 when it breaks. */
class EtcdWatch implements Watch {
  /** The last etcd revision delivered (or skipped as empty). */
  #last: number
  #stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined
  #fragments: IEvent[] = []
  #closed = false
  #brokenSince: number | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #backoffMs = 50

  constructor(
    readonly client: Etcd3,
    readonly prefix: string,
    readonly fromRevision: Revision,
    readonly handlers: WatchHandlers,
    readonly opts: WatchOptions,
  ) {
    this.#last = Math.max(0, fromRevision - opts.offset - 1)
  }

  start(): void {
    void this.#connect()
  }

  cancel(reason: Error): void {
    if (this.#closed) return
    this.#stop()
    queueMicrotask(() => this.handlers.onCancel(reason))
  }

  close(): Promise<void> {
    if (!this.#closed) this.#stop()
    return Promise.resolve()
  }

  #stop(): void {
    this.#closed = true
    clearTimeout(this.#retryTimer)
    this.#stream?.cancel()
    this.#stream = undefined
    this.opts.onClose(this)
  }

  async #connect(): Promise<void> {
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>
    try {
      stream = await this.client.watchClient.watch()
    } catch (err) {
      this.#broken(err)
      return
    }
    if (this.#closed) {
      stream.cancel()
      return
    }
    this.#stream = stream
    this.#fragments = []
    stream.on('data', (res) => {
      if (this.#stream === stream) this.#onResponse(res)
    })
    stream.on('error', (err) => {
      if (this.#stream === stream) this.#broken(err)
    })
    stream.on('end', () => {
      if (this.#stream === stream) this.#broken(new Error('watch stream ended'))
    })
    stream.write({
      create_request: {
        ...keyRange(this.prefix),
        start_revision: this.#last + 1,
        prev_kv: true,
        fragment: true,
      },
    })
  }

  #broken(err: unknown): void {
    if (this.#closed) return
    this.#stream?.cancel()
    this.#stream = undefined
    const now = Date.now()
    this.#brokenSince ??= now
    if (now - this.#brokenSince > this.opts.retryMs) {
      this.cancel(new StoreUnavailableError(`etcd watch lost: ${errorMessage(err)}`, { cause: err }))
      return
    }
    this.#retryTimer = setTimeout(() => void this.#connect(), this.#backoffMs)
    this.#backoffMs = Math.min(this.#backoffMs * 2, 1_000)
  }

  #onResponse(res: IWatchResponse): void {
    if (this.#closed) return
    if (res.created) {
      this.#brokenSince = undefined
      this.#backoffMs = 50
    }
    const compacted = Number(res.compact_revision)
    if (compacted > 0) {
      this.cancel(new StoreCompactedError(this.#last + 1 + this.opts.offset, compacted + this.opts.offset))
      return
    }
    if (res.canceled) {
      this.cancel(new StoreUnavailableError(`etcd cancelled the watch: ${res.cancel_reason || 'no reason'}`))
      return
    }
    if (res.events.length === 0) return
    this.#fragments.push(...res.events)
    if (res.fragment) return
    const events = this.#fragments
    this.#fragments = []
    let batch: { revision: number; events: WatchEvent[] } | undefined
    const flush = (): boolean => {
      if (batch === undefined) return true
      const b = batch
      batch = undefined
      this.#last = b.revision - this.opts.offset
      if (b.events.length === 0) return true
      try {
        this.handlers.onBatch(b)
      } catch (err) {
        this.cancel(err instanceof Error ? err : new Error(String(err)))
        return false
      }
      return !this.#closed
    }
    for (const ev of events) {
      const rev = Number(ev.kv.mod_revision)
      if (rev <= this.#last) continue
      const exposed = rev + this.opts.offset
      if (batch !== undefined && batch.revision !== exposed && !flush()) return
      batch ??= { revision: exposed, events: [] }
      const key = ev.kv.key.toString('utf8')
      if (key === this.opts.hidden) continue
      batch.events.push(this.#event(ev, exposed))
    }
    flush()
  }

  #event(ev: IEvent, revision: number): WatchEvent {
    if (ev.type === 'Put') return { type: 'put', kv: this.opts.kv(ev.kv) }
    const prev = ev.prev_kv as IKeyValue | null | undefined
    const base =
      prev !== null && prev !== undefined && prev.key.length > 0
        ? this.opts.kv(prev)
        : { key: ev.kv.key.toString('utf8'), value: '', createRevision: 0, version: 0, lease: null }
    return { type: 'delete', kv: { ...base, modRevision: revision } }
  }
}

/** Reads a PEM file named in the configuration, with the setting in the error. */
function pem(path: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new EtcdStoreOpenError(`Cannot read the etcd ${what} ${path}: ${errorMessage(err)}`, { cause: err })
  }
}

/** An etcd3 client for `conn`: no client-side retries, keep-alives on, no message size cap. */
export function etcdClient(conn: EtcdConnection): Etcd3 {
  if (conn.endpoints.length === 0) throw new EtcdStoreOpenError('No etcd endpoints given (-etcd-endpoints)')
  const tls = conn.caFile !== undefined && conn.caFile !== ''
  if (!tls && ((conn.certFile ?? '') !== '' || (conn.keyFile ?? '') !== ''))
    throw new EtcdStoreOpenError('An etcd client certificate needs a CA file too (-etcd-ca-file)')
  return new Etcd3({
    hosts: [...conn.endpoints],
    ...(tls
      ? {
          credentials: {
            rootCertificate: pem(conn.caFile ?? '', 'CA file'),
            ...((conn.keyFile ?? '') !== '' ? { privateKey: pem(conn.keyFile ?? '', 'key file') } : {}),
            ...((conn.certFile ?? '') !== ''
              ? { certChain: pem(conn.certFile ?? '', 'certificate file') }
              : {}),
          },
        }
      : {}),
    grpcOptions: {
      'grpc.max_receive_message_length': -1,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    },
    faultHandling: { global: ONCE },
  })
}

/**
 * Connects to etcd, checks its version, probes its txn size limit and reads (or creates) the
 * epoch key. Throws EtcdStoreOpenError with the reason when etcd cannot be used.
 */
export async function openEtcdStore(opts: EtcdStoreOptions): Promise<EtcdStore> {
  const prefix = opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`
  const timeoutMs = opts.requestTimeoutMs ?? 15_000
  const client = etcdClient(opts)
  const call = (): { deadline: number } => ({ deadline: Date.now() + timeoutMs })
  try {
    let version: string
    try {
      version = (await client.maintenance.status(call())).version
    } catch (err) {
      throw new EtcdStoreOpenError(`Cannot reach etcd at ${opts.endpoints.join(',')}: ${errorMessage(err)}`, {
        cause: err,
      })
    }
    const [maj, min] = parseVersion(version)
    if (maj < MIN_VERSION[0] || (maj === MIN_VERSION[0] && min < MIN_VERSION[1])) {
      throw new EtcdStoreOpenError(
        `etcd at ${opts.endpoints.join(',')} is version ${version}; vigil needs etcd ${MIN_VERSION.join('.')} or newer`,
      )
    }
    const epochKey = `${prefix}meta/epoch`
    const maxTxnOps = await probeMaxTxnOps(client, epochKey, opts.maxTxnOpsProbe ?? 8_192, call)
    const offset = await readEpoch(client, epochKey, opts.minRevision ?? 0, call)
    return new EtcdStore(client, {
      epochKey,
      offset,
      maxTxnOps,
      timeoutMs,
      watchRetryMs: opts.watchRetryMs ?? 30_000,
      endpoints: opts.endpoints.length,
    })
  } catch (err) {
    client.close()
    throw err
  }
}

/** The largest compare count etcd accepts in one txn (its `--max-txn-ops`), up to `cap`. */
async function probeMaxTxnOps(
  client: Etcd3,
  key: string,
  cap: number,
  call: () => { deadline: number },
): Promise<number> {
  const accepts = async (n: number): Promise<boolean> => {
    const compare: ICompare[] = Array.from({ length: n }, () => ({
      key: enc(key),
      target: 'Version',
      result: 'Greater',
      version: -1,
    }))
    try {
      await client.kv.txn({ compare }, call())
      return true
    } catch (err) {
      if (/too many operations/.test(errorMessage(err))) return false
      throw new EtcdStoreOpenError(`etcd refused a read-only txn: ${errorMessage(err)}`, { cause: err })
    }
  }
  let lo = 0 // accepted
  let hi = cap + 1 // refused (or past the cap)
  if (await accepts(128)) lo = 128
  else hi = 128
  if (hi > cap && (await accepts(cap))) return cap
  if (hi > cap) hi = cap
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (await accepts(mid)) lo = mid
    else hi = mid
  }
  if (lo < 1) throw new EtcdStoreOpenError('etcd accepts no txn op (--max-txn-ops)')
  return lo
}

/** The epoch's index offset, creating the epoch key on an etcd that has none. */
async function readEpoch(
  client: Etcd3,
  key: string,
  minRevision: number,
  call: () => { deadline: number },
): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const res = await client.kv.range({ key: enc(key) }, call())
    const kv = res.kvs[0]
    const current = Number(res.header.revision)
    if (kv !== undefined) {
      const offset = parseEpoch(kv.value.toString('utf8'), key)
      if (current + offset < minRevision) {
        throw new EtcdStoreOpenError(
          `etcd's revision ${current + offset} (offset ${offset} from ${key}) is below the last revision ` +
            `${minRevision} of the previous store: move to an etcd prefix without data`,
        )
      }
      return offset
    }
    const offset = Math.max(0, minRevision - current)
    const created = await client.kv.txn(
      {
        compare: [{ key: enc(key), target: 'Version', result: 'Equal', version: 0 }],
        success: [{ request_put: { key: enc(key), value: enc(JSON.stringify({ indexOffset: offset })) } }],
      },
      call(),
    )
    if (created.succeeded) return offset
  }
  throw new EtcdStoreOpenError(`Cannot create the epoch key ${key}`)
}

function parseEpoch(text: string, key: string): number {
  try {
    const v = JSON.parse(text) as { indexOffset?: unknown }
    if (typeof v.indexOffset === 'number' && Number.isSafeInteger(v.indexOffset) && v.indexOffset >= 0)
      return v.indexOffset
  } catch {
    // reported below
  }
  throw new EtcdStoreOpenError(`The epoch key ${key} holds ${JSON.stringify(text)}, not {"indexOffset": N}`)
}
