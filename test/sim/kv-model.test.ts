/**
 * Model-based property test of the KV store and sessions: random sequences of sets, CAS, acquires,
 * releases, deletes (plain, CAS, recursive), transactions, session creates, destroys and renewals,
 * a watched check flipping between passing and critical, and clock advances that expire TTL
 * sessions. After every step the KV entries (values, flags, holders, LockIndex,
 * Create/ModifyIndex), the key and prefix read indexes, the store revision and the session set
 * equal an independent oracle written from Consul's rules (kv-session-txn.md §2–§5); every
 * write's answer (true/false, error text) too.
 *
 * The same properties run on the memory store with a fake clock and on a real etcd member: one
 * suite for every store (servers.md §2). On etcd there are two servers (catalogs, each with its
 * own etcd client and watch), one of them watching late; each op goes through either, as soon as
 * the one before answered, so a server's view may not have the other's write yet: its answers
 * must still be the oracle's (test/unit/catalog-lagging-view.test.ts pins what this found). Time
 * is real there, so what needs the fake clock stays on memory: clock advances (TTL expiry) and
 * short lock delays. On etcd lock delays are 0 or 15 s: a run takes well under 15 s, so a delay
 * holds for the rest of the run, as the oracle (whose clock stands still) says. Each etcd run has
 * a prefix of its own on one member and deletes it at the end, so no lease of a finished run
 * expires into a later run's revisions.
 *
 * Runs: VIGIL_SIM_RUNS (default 300) on memory, VIGIL_SIM_ETCD_RUNS (default 100) on etcd. Replay
 * a failure with VIGIL_SIM_SEED and VIGIL_SIM_PATH (and --test-name-pattern for its property).
 * Expired sessions are invalidated by the test after each advance (the leader's task, called
 * directly so the oracle knows when).
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import fc from 'fast-check'
import { Catalog, type CatalogOptions } from '../../src/catalog/catalog.js'
import { KvRequestError } from '../../src/catalog/errors.js'
import { kvGetQuery, kvListQuery } from '../../src/catalog/kv-queries.js'
import type { SessionBehavior } from '../../src/catalog/kv-types.js'
import { systemClock } from '../../src/lib/clock.js'
import { openEtcdStore, type EtcdStore } from '../../src/store/etcd.js'
import type { Status } from '../../src/structs/check.js'
import { openCatalog } from '../support/catalog.js'
import { VIGIL_ETCD_FLAGS } from '../support/etcd-cluster.js'
import { startEtcd, type EtcdMember } from '../support/etcd.js'
import { b64, bytes, registerNode } from '../support/kv.js'
import { laggingStore } from '../support/lagging-store.js'

const KEYS = ['a', 'a/b', 'a/c', 'b'] as const
const PREFIXES = ['', 'a', 'a/', 'b', 'c'] as const
const VALUES = ['', 'x', 'y'] as const

type SessionRef = number // index into the sessions created so far; out of range = unknown session
type CasRef = 'zero' | 'current' | 'stale'

type Op =
  | { op: 'set'; key: string; value: string; flags: bigint }
  | { op: 'cas'; key: string; value: string; at: CasRef }
  | { op: 'acquire'; key: string; value: string; session: SessionRef }
  | { op: 'release'; key: string; value: string; session: SessionRef }
  | { op: 'delete'; key: string }
  | { op: 'deleteCas'; key: string; at: CasRef }
  | { op: 'deleteTree'; prefix: string }
  | { op: 'create'; behavior: SessionBehavior; lockDelayMs: number; ttl: boolean; watchApp: boolean }
  | { op: 'destroy'; session: SessionRef }
  | { op: 'renew'; session: SessionRef }
  | { op: 'app'; status: Status }
  | { op: 'advance'; ms: number }
  | { op: 'txn'; ops: TxnStep[] }

type TxnStep = {
  verb: 'set' | 'cas' | 'lock' | 'unlock' | 'get' | 'check-index' | 'delete' | 'delete-cas'
  key: string
  value: string
  at: CasRef
  session: SessionRef
}

const key = fc.constantFrom(...KEYS)
const value = fc.constantFrom(...VALUES)
const sessionRef = fc.nat({ max: 5 })
const casRef = fc.constantFrom<CasRef>('zero', 'current', 'stale')

const txnStep: fc.Arbitrary<TxnStep> = fc.record({
  verb: fc.constantFrom<TxnStep['verb']>(
    'set',
    'cas',
    'lock',
    'unlock',
    'get',
    'check-index',
    'delete',
    'delete-cas',
  ),
  key: fc.constantFrom('a', 'b'),
  value,
  at: casRef,
  session: sessionRef,
})

/**
 * The operations of a run. With `realTime` (a store whose clock is not ours) no clock advances,
 * and lock delays that outlast any run.
 */
function opArb(realTime: boolean): fc.Arbitrary<Op> {
  const clockOnly: fc.WeightedArbitrary<Op>[] = [
    {
      arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(500, 4_000, 12_000) }),
      weight: 3,
    },
  ]
  return fc.oneof(...everywhere(realTime ? [0, 15_000] : [0, 1_000, 15_000]), ...(realTime ? [] : clockOnly))
}

function everywhere(lockDelaysMs: readonly number[]): fc.WeightedArbitrary<Op>[] {
  return [
    {
      arbitrary: fc.record({
        op: fc.constant('txn' as const),
        ops: fc.array(txnStep, { minLength: 1, maxLength: 4 }),
      }),
      weight: 3,
    },
    {
      arbitrary: fc.record({ op: fc.constant('set' as const), key, value, flags: fc.constantFrom(0n, 7n) }),
      weight: 4,
    },
    { arbitrary: fc.record({ op: fc.constant('cas' as const), key, value, at: casRef }), weight: 2 },
    {
      arbitrary: fc.record({ op: fc.constant('acquire' as const), key, value, session: sessionRef }),
      weight: 4,
    },
    {
      arbitrary: fc.record({ op: fc.constant('release' as const), key, value, session: sessionRef }),
      weight: 2,
    },
    { arbitrary: fc.record({ op: fc.constant('delete' as const), key }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('deleteCas' as const), key, at: casRef }), weight: 1 },
    {
      arbitrary: fc.record({ op: fc.constant('deleteTree' as const), prefix: fc.constantFrom(...PREFIXES) }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        op: fc.constant('create' as const),
        behavior: fc.constantFrom<SessionBehavior>('release', 'delete'),
        lockDelayMs: fc.constantFrom(...lockDelaysMs),
        ttl: fc.boolean(),
        watchApp: fc.boolean(),
      }),
      weight: 3,
    },
    { arbitrary: fc.record({ op: fc.constant('destroy' as const), session: sessionRef }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('renew' as const), session: sessionRef }), weight: 2 },
    {
      arbitrary: fc.record({
        op: fc.constant('app' as const),
        status: fc.constantFrom<Status>('passing', 'critical'),
      }),
      weight: 1,
    },
  ]
}

// ---- the oracle ------------------------------------------------------------------------------

interface MEntry {
  value: string | null
  flags: bigint
  session: string
  lockIndex: number
  createIndex: number
  modifyIndex: number
}

interface MSession {
  behavior: SessionBehavior
  lockDelayMs: number
  ttlMs: number
  deadline: number
  leaseGone: boolean
  watchApp: boolean
}

type Answer = boolean | string | null

const TTL_MS = 10_000

class Oracle {
  rev: number
  now: number
  kvTable = 0
  readonly kv = new Map<string, MEntry>()
  readonly tombs = new Map<string, number>()
  readonly sessions = new Map<string, MSession>()
  readonly lockDelay = new Map<string, number>()
  app: Status = 'passing'
  created = 0

  constructor(rev: number, now: number) {
    this.rev = rev
    this.now = now
  }

  write(): number {
    return ++this.rev
  }

  #store(k: string, v: Omit<MEntry, 'createIndex' | 'modifyIndex'>): void {
    const e = this.kv.get(k)
    if (
      e &&
      e.value === v.value &&
      e.flags === v.flags &&
      e.session === v.session &&
      e.lockIndex === v.lockIndex
    )
      return
    const i = this.write()
    this.kv.set(k, { ...v, createIndex: e?.createIndex ?? i, modifyIndex: i })
    this.kvTable = i
  }

  set(k: string, value: string, flags: bigint): Answer {
    const e = this.kv.get(k)
    this.#store(k, {
      value: value === '' ? null : b64(value),
      flags,
      session: e?.session ?? '',
      lockIndex: e?.lockIndex ?? 0,
    })
    return true
  }

  casIndex(k: string, at: CasRef): number {
    if (at === 'zero') return 0
    const m = this.kv.get(k)?.modifyIndex ?? 0
    return at === 'current' ? m : m + 1000
  }

  cas(k: string, value: string, index: number): Answer {
    const e = this.kv.get(k)
    if (index === 0 ? e !== undefined : e?.modifyIndex !== index) return false
    return this.set(k, value, 0n)
  }

  acquire(k: string, value: string, s: string): Answer {
    if ((this.lockDelay.get(k) ?? 0) > this.now) return false
    if (!this.sessions.has(s)) return `invalid session "${s}"`
    const e = this.kv.get(k)
    if (e !== undefined && e.session !== '' && e.session !== s) return false
    const lockIndex = e === undefined ? 1 : e.session === s ? e.lockIndex : e.lockIndex + 1
    this.#store(k, { value: value === '' ? null : b64(value), flags: 0n, session: s, lockIndex })
    return true
  }

  release(k: string, value: string, s: string): Answer {
    const e = this.kv.get(k)
    if (e?.session !== s) return false
    this.#store(k, {
      value: value === '' ? null : b64(value),
      flags: 0n,
      session: '',
      lockIndex: e.lockIndex,
    })
    return true
  }

  delete(k: string, i?: number): void {
    if (!this.kv.has(k)) return
    const idx = i ?? this.write()
    this.kv.delete(k)
    this.tombs.set(k, idx)
    this.kvTable = idx
  }

  deleteCas(k: string, index: number): Answer {
    const e = this.kv.get(k)
    if (e === undefined) return true
    if (e.modifyIndex !== index) return false
    this.delete(k)
    return true
  }

  deleteTree(p: string): void {
    const keys = [...this.kv.keys()].filter((k) => k.startsWith(p))
    if (keys.length === 0) return
    const i = this.write()
    for (const k of keys) this.kv.delete(k)
    this.tombs.set(p, i)
    this.kvTable = i
  }

  create(o: Extract<Op, { op: 'create' }>): Answer {
    const id = `s${String(++this.created).padStart(3, '0')}` // the catalog draws an ID before checking
    if (o.watchApp && this.app === 'critical') return "Check 'app' is in critical state"
    this.write()
    this.sessions.set(id, {
      behavior: o.behavior,
      lockDelayMs: o.lockDelayMs,
      ttlMs: o.ttl ? TTL_MS : 0,
      deadline: this.now + 2 * TTL_MS,
      leaseGone: false,
      watchApp: o.watchApp,
    })
    return id
  }

  /** Invalidates inside write `i`. */
  invalidate(id: string, i: number): void {
    const s = this.sessions.get(id)
    if (s === undefined) return
    this.sessions.delete(id)
    for (const [k, e] of [...this.kv].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (e.session !== id) continue
      if (s.behavior === 'delete') this.delete(k, i)
      else {
        this.kv.set(k, { ...e, session: '', modifyIndex: i })
        this.kvTable = i
      }
      if (s.lockDelayMs > 0) this.lockDelay.set(k, this.now + Math.min(s.lockDelayMs, 60_000))
    }
  }

  destroy(id: string): void {
    if (this.sessions.has(id)) this.invalidate(id, this.write())
  }

  renew(id: string): Answer {
    const s = this.sessions.get(id)
    if (s === undefined) return null
    if (s.ttlMs === 0) return id
    if (s.leaseGone || this.now >= s.deadline) return null
    s.deadline = this.now + 2 * s.ttlMs
    return id
  }

  setApp(status: Status): void {
    if (status === this.app) return
    const i = this.write()
    this.app = status
    if (status !== 'critical') return
    for (const [id, s] of [...this.sessions]) if (s.watchApp) this.invalidate(id, i)
  }

  /** Moves time; leases that ran out delete their TTL keys, one write each. Returns the expired sessions. */
  advance(ms: number): string[] {
    this.now += ms
    for (const s of this.sessions.values()) {
      if (s.ttlMs > 0 && !s.leaseGone && s.deadline <= this.now) {
        s.leaseGone = true
        this.write()
      }
    }
    return [...this.sessions]
      .filter(([, s]) => s.leaseGone)
      .map(([id]) => id)
      .sort()
  }

  /**
   * A transaction: every step at index `rev + 1` on a copy, each seeing the ones before it;
   * any error discards the copy. Returns the error texts (empty: committed).
   */
  txn(
    steps: readonly TxnStep[],
    sessionOf: (ref: SessionRef) => string,
    indexOf: (k: string, at: CasRef) => number,
  ): string[] {
    const i = this.rev + 1
    const kv = new Map([...this.kv].map(([k, e]) => [k, { ...e }]))
    const tombs = new Map(this.tombs)
    let kvTable = this.kvTable
    const flag = { changed: false }
    const errors: string[] = []
    const store = (k: string, v: Omit<MEntry, 'createIndex' | 'modifyIndex'>): void => {
      const e = kv.get(k)
      if (
        e &&
        e.value === v.value &&
        e.flags === v.flags &&
        e.session === v.session &&
        e.lockIndex === v.lockIndex
      )
        return
      kv.set(k, { ...v, createIndex: e?.createIndex ?? i, modifyIndex: i })
      kvTable = i
      flag.changed = true
    }
    const val = (s: string): string | null => (s === '' ? null : b64(s))
    steps.forEach((st, n) => {
      const e = kv.get(st.key)
      const q = JSON.stringify(st.key)
      const fail = (what: string): void => {
        errors.push(`${n}: ${what}`)
      }
      switch (st.verb) {
        case 'set':
          store(st.key, {
            value: val(st.value),
            flags: 0n,
            session: e?.session ?? '',
            lockIndex: e?.lockIndex ?? 0,
          })
          return
        case 'cas': {
          const idx = indexOf(st.key, st.at)
          if (idx === 0 ? e !== undefined : e?.modifyIndex !== idx) {
            fail(`failed to set key ${q}, index is stale`)
            return
          }
          store(st.key, {
            value: val(st.value),
            flags: 0n,
            session: e?.session ?? '',
            lockIndex: e?.lockIndex ?? 0,
          })
          return
        }
        case 'lock': {
          const s = sessionOf(st.session)
          if ((this.lockDelay.get(st.key) ?? 0) > this.now) {
            fail(`failed to lock key ${q} due to lock delay`)
            return
          }
          if (!this.sessions.has(s)) {
            fail(`invalid session "${s}"`)
            return
          }
          if (e !== undefined && e.session !== '' && e.session !== s) {
            fail(`failed to lock key ${q}, lock is already held`)
            return
          }
          const lockIndex = e === undefined ? 1 : e.session === s ? e.lockIndex : e.lockIndex + 1
          store(st.key, { value: val(st.value), flags: 0n, session: s, lockIndex })
          return
        }
        case 'unlock': {
          const s = sessionOf(st.session)
          if (e?.session !== s) {
            fail(`failed to unlock key ${q}, lock isn't held, or is held by another session`)
            return
          }
          store(st.key, { value: val(st.value), flags: 0n, session: '', lockIndex: e.lockIndex })
          return
        }
        case 'get':
          if (e === undefined) fail(`key ${q} doesn't exist`)
          return
        case 'check-index': {
          const idx = indexOf(st.key, st.at)
          if (e === undefined) {
            fail(`failed to check index, key ${q} doesn't exist`)
            return
          }
          if (e.modifyIndex !== idx) {
            fail(`failed index check for key ${q}, current modify index ${e.modifyIndex} != ${idx}`)
            return
          }
          return
        }
        case 'delete':
          if (e === undefined) return
          kv.delete(st.key)
          tombs.set(st.key, i)
          kvTable = i
          flag.changed = true
          return
        case 'delete-cas': {
          const idx = indexOf(st.key, st.at)
          if (e === undefined) return
          if (e.modifyIndex !== idx) {
            fail(`failed to delete key ${q}, index is stale`)
            return
          }
          kv.delete(st.key)
          tombs.set(st.key, i)
          kvTable = i
          flag.changed = true
          return
        }
      }
    })
    if (errors.length > 0 || !flag.changed) return errors
    this.rev = i
    this.kv.clear()
    for (const [k, e] of kv) this.kv.set(k, e)
    this.tombs.clear()
    for (const [k, t] of tombs) this.tombs.set(k, t)
    this.kvTable = kvTable
    return errors
  }

  getIndex(k: string): number {
    return this.kv.get(k)?.modifyIndex ?? Math.max(1, this.kvTable)
  }

  listIndex(p: string): number {
    if (p === '') return Math.max(1, this.kvTable)
    let l = 0
    for (const [k, e] of this.kv) if (k.startsWith(p)) l = Math.max(l, e.modifyIndex)
    for (const [k, i] of this.tombs) if (k.startsWith(p)) l = Math.max(l, i)
    return l !== 0 ? l : Math.max(1, this.kvTable)
  }
}

// ---- running a step on both ------------------------------------------------------------------

function sessionId(o: Oracle, ref: SessionRef): string {
  return ref < o.created ? `s${String(ref + 1).padStart(3, '0')}` : 'bogus'
}

async function answer(p: Promise<{ ok: boolean }>): Promise<Answer> {
  try {
    return (await p).ok
  } catch (err) {
    if (err instanceof KvRequestError) return err.message
    throw err
  }
}

async function registerApp(c: Catalog, status: Status): Promise<void> {
  await registerNode(c, 'n1', 'passing', [['app', status]])
}

/** Where a run happens: servers (catalogs) on a fresh store or prefix, and their clock. */
interface Bed {
  readonly catalogs: readonly [Catalog, ...Catalog[]]
  now(): number
  /** Moves the fake clock; absent where time is real (etcd). */
  readonly advance?: (ms: number) => Promise<void>
  /** Resolves once every catalog's view has the store's revision. */
  settle(): Promise<void>
  close(): Promise<void>
}

/** One op through catalog `c` of the bed, and what the oracle answers. */
async function step(h: Bed, c: Catalog, o: Oracle, op: Op): Promise<[Answer, Answer]> {
  switch (op.op) {
    case 'set':
      return [
        await answer(
          c.kvPut({ key: op.key, value: bytes(op.value), flags: op.flags, mode: { kind: 'set' } }),
        ),
        o.set(op.key, op.value, op.flags),
      ]
    case 'cas': {
      const index = o.casIndex(op.key, op.at)
      const actual = await answer(
        c.kvPut({ key: op.key, value: bytes(op.value), flags: 0n, mode: { kind: 'cas', index } }),
      )
      return [actual, o.cas(op.key, op.value, index)]
    }
    case 'acquire': {
      const s = sessionId(o, op.session)
      const actual = await answer(
        c.kvPut({ key: op.key, value: bytes(op.value), flags: 0n, mode: { kind: 'acquire', session: s } }),
      )
      return [actual, o.acquire(op.key, op.value, s)]
    }
    case 'release': {
      const s = sessionId(o, op.session)
      const actual = await answer(
        c.kvPut({ key: op.key, value: bytes(op.value), flags: 0n, mode: { kind: 'release', session: s } }),
      )
      return [actual, o.release(op.key, op.value, s)]
    }
    case 'delete':
      await c.kvDelete({ key: op.key })
      o.delete(op.key)
      return [true, true]
    case 'deleteCas': {
      const index = o.casIndex(op.key, op.at)
      return [await answer(c.kvDelete({ key: op.key, cas: index })), o.deleteCas(op.key, index)]
    }
    case 'deleteTree':
      await c.kvDelete({ key: op.prefix, recurse: true })
      o.deleteTree(op.prefix)
      return [true, true]
    case 'create': {
      let actual: Answer
      try {
        actual = (
          await c.sessionCreate({
            node: 'n1',
            behavior: op.behavior,
            lockDelayNs: op.lockDelayMs * 1e6,
            ttl: op.ttl ? '10s' : '',
            nodeChecks: op.watchApp ? ['serfHealth', 'app'] : ['serfHealth'],
          })
        ).id
      } catch (err) {
        if (!(err instanceof KvRequestError)) throw err
        actual = err.message
      }
      return [actual, o.create(op)]
    }
    case 'destroy': {
      const s = sessionId(o, op.session)
      await c.sessionDestroy(s)
      o.destroy(s)
      return [true, true]
    }
    case 'renew': {
      const s = sessionId(o, op.session)
      return [(await c.sessionRenew(s))?.id ?? null, o.renew(s)]
    }
    case 'app':
      await registerApp(c, op.status)
      o.setApp(op.status)
      return [true, true]
    case 'txn': {
      const indexes = new Map<string, number>()
      const indexOf = (k: string, at: CasRef): number => {
        const id = `${k} ${at}`
        if (!indexes.has(id)) indexes.set(id, o.casIndex(k, at))
        return indexes.get(id) ?? 0
      }
      // Resolve every CAS index against the state before the transaction, for both sides.
      for (const st of op.ops) indexOf(st.key, st.at)
      const r = await c.txn(
        op.ops.map((st) => ({
          kv: {
            verb: st.verb,
            key: st.key,
            value: bytes(st.value),
            flags: 0n,
            index: indexOf(st.key, st.at),
            session: sessionId(o, st.session),
          },
        })),
      )
      const actual = r.ok ? [] : r.errors.map((e) => `${e.opIndex}: ${e.what}`)
      return [actual.join(' | '), o.txn(op.ops, (ref) => sessionId(o, ref), indexOf).join(' | ')]
    }
    case 'advance': {
      assert.ok(h.advance !== undefined, 'clock advances need the fake clock')
      await h.advance(op.ms)
      const expired = o.advance(op.ms)
      assert.deepEqual(c.state.kv.expiredSessions(), expired, 'expired sessions')
      for (const id of expired) {
        assert.equal(await c.invalidateExpiredSession(id), true)
        o.invalidate(id, o.write())
      }
      return [true, true]
    }
  }
}

function compare(c: Catalog, o: Oracle, trace: string): void {
  const actual = [...c.state.kv.entries('')].map((e) => ({ ...e }))
  const expected = [...o.kv].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, e]) => ({ key: k, ...e }))
  assert.deepEqual(actual, expected, `entries after ${trace}`)
  assert.equal(c.revision, o.rev, `revision after ${trace}`)
  for (const k of KEYS)
    assert.equal(c.kvRead(kvGetQuery(k)).index, o.getIndex(k), `index of ${k} after ${trace}`)
  for (const p of PREFIXES)
    assert.equal(c.kvRead(kvListQuery(p)).index, o.listIndex(p), `index of list ${p} after ${trace}`)
  assert.deepEqual(
    c.state.kv.sessions().map((s) => s.id),
    [...o.sessions.keys()].sort(),
    `sessions after ${trace}`,
  )
}

const seed = process.env['VIGIL_SIM_SEED']
const path = process.env['VIGIL_SIM_PATH']

/**
 * An op, the server (index into the bed's catalogs) it is sent through, and whether every
 * server's view is let catch up and compared with the oracle after it.
 */
type Sent = readonly [Op, number, boolean]

/**
 * One run: the ops in order on a fresh bed, each through its server as soon as the one before
 * answered — unless that one settled, the server's view may not have it yet, and the answer
 * must be the same. Each answer, and after each settled op (and the last) every server's state,
 * against the oracle.
 */
async function scenario(bed: Bed, ops: readonly Sent[]): Promise<void> {
  try {
    const [first] = bed.catalogs
    await registerApp(first, 'passing')
    await bed.settle()
    const o = new Oracle(first.revision, bed.now())
    const done: string[] = []
    for (const [n, [op, via, settle]] of ops.entries()) {
      const c = bed.catalogs[via % bed.catalogs.length] ?? first
      const text = JSON.stringify(op, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
      done.push(bed.catalogs.length > 1 ? `${text} via ${via % bed.catalogs.length}` : text)
      const [actual, expected] = await step(bed, c, o, op)
      assert.deepEqual(actual, expected, `answer of ${done.join(' ; ')}`)
      if (!settle && n < ops.length - 1) continue
      await bed.settle()
      for (const [i, each] of bed.catalogs.entries()) compare(each, o, `${done.join(' ; ')} (server ${i})`)
    }
  } finally {
    await bed.close()
  }
}

/** Session IDs the oracle can predict: s001, s002, … in creation order. */
function sessionIds(): Pick<CatalogOptions, 'newSessionId'> {
  let n = 0
  return { newSessionId: () => `s${String(++n).padStart(3, '0')}` }
}

async function memoryBed(): Promise<Bed> {
  const h = await openCatalog(sessionIds())
  return {
    catalogs: [h.catalog],
    now: () => h.clock.now(),
    advance: (ms) => h.clock.advance(ms),
    settle: () => Promise.resolve(),
    close: () => h.close(),
  }
}

const runs = Number(process.env['VIGIL_SIM_RUNS'] ?? 300)

test(`KV, CAS, locks and sessions match the oracle of Consul rules (${runs} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb(false), { minLength: 1, maxLength: 40 }), async (ops) => {
      await scenario(
        await memoryBed(),
        ops.map((op) => [op, 0, true] as const),
      )
    }),
    {
      numRuns: runs,
      includeErrorInReport: true,
      ...(seed !== undefined ? { seed: Number(seed) } : {}),
      ...(path !== undefined ? { path } : {}),
    },
  )
})

// ---- the same properties on etcd --------------------------------------------------------------

/**
 * One etcd member for the file and two servers' stores on it (two clients, two watch streams);
 * each run two catalogs on a prefix of its own, ops sent through either. The second server's
 * watch delivers up to `MAX_LAG_MS` late, as a slow stream would: an op sent through it right
 * after a write through the first may find its view behind the store, and its view may catch up
 * while it waits on the store.
 */
const MAX_LAG_MS = 4

let etcd: { member: EtcdMember; stores: readonly [EtcdStore, EtcdStore] } | undefined
let beds = 0

async function etcdBed(): Promise<Bed> {
  if (etcd === undefined) {
    const member = await startEtcd(VIGIL_ETCD_FLAGS)
    const open = (): Promise<EtcdStore> =>
      openEtcdStore({ endpoints: [member.endpoint], prefix: '/vigil-kv-model/' })
    etcd = { member, stores: [await open(), await open()] }
  }
  const { stores } = etcd
  const prefix = `/vigil-kv-model/${++beds}/`
  const ids = sessionIds() // one sequence for both servers: the oracle numbers sessions in order
  const [a, b] = await Promise.all(
    [stores[0], laggingStore(stores[1], MAX_LAG_MS)].map((store) =>
      Catalog.open({ store, prefix, datacenter: 'dc1', clock: systemClock, random: () => 0, ...ids }),
    ),
  )
  assert.ok(a !== undefined && b !== undefined)
  return {
    catalogs: [a, b],
    now: () => systemClock.now(),
    settle: async () => {
      const revision = await stores[0].revision()
      for (let i = 0; i < 2_500 && (a.revision < revision || b.revision < revision); i++) {
        await new Promise((r) => setTimeout(r, 2))
      }
    },
    close: async () => {
      await Promise.all([a.close(), b.close()])
      // The run's keys go, so the leases they hung on (sessions, lock delays, tombstones) expire
      // later with nothing to delete: no revision of a later run moves.
      await stores[0].txn({ compare: [], success: [{ type: 'deletePrefix', prefix }] })
    },
  }
}

after(async () => {
  await Promise.all(etcd?.stores.map((s) => s.close()) ?? [])
  await etcd?.member.stop()
})

const etcdRuns = Number(process.env['VIGIL_SIM_ETCD_RUNS'] ?? 100)

test(`KV, CAS, locks, sessions and txns through two servers on etcd match the oracle of Consul rules (${etcdRuns} runs)`, async () => {
  await fc.assert(
    // Longer runs than on memory (any length up to 40, not mostly short ones): fewer runs, each
    // deeper into the state space, for the cost of an etcd round trip per write.
    fc.asyncProperty(
      fc.array(fc.tuple(opArb(true), fc.nat({ max: 1 }), fc.boolean()), {
        minLength: 1,
        maxLength: 40,
        size: 'max',
      }),
      async (ops) => {
        await scenario(await etcdBed(), ops)
      },
    ),
    {
      numRuns: etcdRuns,
      includeErrorInReport: true,
      ...(seed !== undefined ? { seed: Number(seed) } : {}),
      ...(path !== undefined ? { path } : {}),
    },
  )
})
