/**
 * The KV and session tables of the catalog view: KV entries and tombstones in key order (prefix
 * scans), sessions with their secondary indexes (by node, by watched check, keys held), session
 * TTL leases, lock-delays. Kept current by `CatalogState` from the same watch as the catalog
 * tables; records are frozen and replaced, never mutated.
 *
 * Stored values (JSON):
 *   kv/<key>           {value: base64 | null, flags: "<uint64>", session, lockIndex}
 *   tomb/<key>         {at: epoch ms of the delete}
 *   sessions/<id>      SessionRecord without its indexes
 *   session-ttl/<id>   "" on the session's lease
 *   lockdelay/<key>    {until: epoch ms}
 */
import type { KeyValue, LeaseId } from '../store/store.js'
import { deepFreeze } from '../lib/object.js'
import { lower, type KvParsedKey } from './keys.js'
import { TOMBSTONE_BIN_MS, TOMBSTONE_TTL_MS, type KvEntry, type SessionRecord } from './kv-types.js'

/** The stored form of a KV entry (no indexes: those are the key's revisions). */
export type StoredKvEntry = Readonly<{
  value: string | null
  flags: string
  session: string
  lockIndex: number
  /**
   * CreateIndex when it is not the key's createRevision (a key deleted and re-created in one
   * transaction is one put of an existing key): 0 means "the revision of this version".
   */
  created?: number
}>
export type StoredSession = Omit<SessionRecord, 'createIndex' | 'modifyIndex'>

export type Tombstone = Readonly<{ index: number; at: number }>

/** When a tombstone written at `at` is reaped: the end of its 30 s bin plus 15 minutes. */
export function tombstoneReapAt(at: number): number {
  return (Math.floor(at / TOMBSTONE_BIN_MS) + 1) * TOMBSTONE_BIN_MS + TOMBSTONE_TTL_MS
}

/** A sorted set of strings (code-unit order) with prefix scans. */
class SortedKeys {
  readonly #keys: string[] = []

  #lowerBound(s: string): number {
    let lo = 0
    let hi = this.#keys.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.#keys[mid] ?? '') < s) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  add(s: string): void {
    const i = this.#lowerBound(s)
    if (this.#keys[i] !== s) this.#keys.splice(i, 0, s)
  }

  delete(s: string): void {
    const i = this.#lowerBound(s)
    if (this.#keys[i] === s) this.#keys.splice(i, 1)
  }

  clear(): void {
    this.#keys.length = 0
  }

  *withPrefix(prefix: string): Iterable<string> {
    for (let i = this.#lowerBound(prefix); i < this.#keys.length; i++) {
      const k = this.#keys[i] ?? ''
      if (!k.startsWith(prefix)) return
      yield k
    }
  }
}

function addTo<K>(map: Map<K, Set<string>>, outer: K, inner: string): void {
  let set = map.get(outer)
  if (set === undefined) {
    set = new Set()
    map.set(outer, set)
  }
  set.add(inner)
}

function removeFrom<K>(map: Map<K, Set<string>>, outer: K, inner: string): void {
  const set = map.get(outer)
  if (set === undefined) return
  set.delete(inner)
  if (set.size === 0) map.delete(outer)
}

function checkRef(node: string, checkId: string): string {
  return `${lower(node)}\u0000${lower(checkId)}`
}

/** Every check a session watches: node checks, the deprecated `Checks`, service checks. */
export function watchedChecks(s: StoredSession): string[] {
  const ids = new Set<string>([
    ...s.nodeChecks,
    ...(s.checks ?? []),
    ...(s.serviceChecks ?? []).map((c) => c.id),
  ])
  return [...ids]
}

export function parseFlags(text: string): bigint {
  try {
    return BigInt(text)
  } catch {
    return 0n
  }
}

export class KvTables {
  readonly #entries = new Map<string, KvEntry>()
  readonly #entryKeys = new SortedKeys()
  readonly #tombs = new Map<string, Tombstone>()
  readonly #tombKeys = new SortedKeys()
  /** reap time → tombstones of that bin (a few dozen bins at most) */
  readonly #tombBins = new Map<number, Set<string>>()
  readonly #sessions = new Map<string, SessionRecord>()
  /** lc node → session IDs */
  readonly #byNode = new Map<string, Set<string>>()
  /** lc node \0 lc check ID → session IDs */
  readonly #byCheck = new Map<string, Set<string>>()
  /** session ID → keys it holds */
  readonly #held = new Map<string, Set<string>>()
  readonly #ttlLeases = new Map<string, LeaseId | null>()
  /** Sessions with a TTL whose TTL key is gone: the leader invalidates them. */
  readonly #expired = new Set<string>()
  readonly #lockDelays = new Map<string, number>()

  clear(): void {
    this.#entries.clear()
    this.#entryKeys.clear()
    this.#tombs.clear()
    this.#tombKeys.clear()
    this.#tombBins.clear()
    this.#sessions.clear()
    this.#byNode.clear()
    this.#byCheck.clear()
    this.#held.clear()
    this.#ttlLeases.clear()
    this.#expired.clear()
    this.#lockDelays.clear()
  }

  /** Applies a put; returns the KV key whose reads changed (entries and tombstones), if any. */
  put(parsed: KvParsedKey, kv: KeyValue): string | undefined {
    if (parsed.table === 'session-ttl') {
      this.#ttlLeases.set(parsed.key, kv.lease)
      this.#expired.delete(parsed.key)
      return undefined
    }
    let value: unknown
    try {
      value = JSON.parse(kv.value) as unknown
    } catch {
      return undefined // not a row of ours: ignored
    }
    if (value === null || typeof value !== 'object') return undefined
    switch (parsed.table) {
      case 'kv': {
        const v = value as StoredKvEntry
        this.delete(parsed)
        const entry: KvEntry = Object.freeze({
          key: parsed.key,
          value: v.value,
          flags: parseFlags(v.flags),
          session: v.session,
          lockIndex: v.lockIndex,
          createIndex:
            v.created === undefined ? kv.createRevision : v.created === 0 ? kv.modRevision : v.created,
          modifyIndex: kv.modRevision,
        })
        this.#entries.set(parsed.key, entry)
        this.#entryKeys.add(parsed.key)
        if (entry.session !== '') addTo(this.#held, entry.session, parsed.key)
        return parsed.key
      }
      case 'tomb': {
        const at = (value as { at?: unknown }).at
        this.delete(parsed)
        const t = Object.freeze({ index: kv.modRevision, at: typeof at === 'number' ? at : 0 })
        this.#tombs.set(parsed.key, t)
        this.#tombKeys.add(parsed.key)
        addTo(this.#tombBins, tombstoneReapAt(t.at), parsed.key)
        return parsed.key
      }
      case 'lockdelay': {
        const until = (value as { until?: unknown }).until
        this.#lockDelays.set(parsed.key, typeof until === 'number' ? until : 0)
        return undefined
      }
      case 'sessions': {
        this.delete(parsed)
        const v = deepFreeze(value as StoredSession)
        const rec: SessionRecord = Object.freeze({
          ...v,
          createIndex: kv.createRevision,
          modifyIndex: kv.modRevision,
        })
        this.#sessions.set(parsed.key, rec)
        addTo(this.#byNode, lower(rec.node), rec.id)
        for (const c of watchedChecks(rec)) addTo(this.#byCheck, checkRef(rec.node, c), rec.id)
        if (rec.ttl !== '' && !this.#ttlLeases.has(rec.id)) this.#expired.add(rec.id)
        return undefined
      }
    }
  }

  /** Applies a delete; returns the KV key whose reads changed, if any. */
  delete(parsed: KvParsedKey): string | undefined {
    switch (parsed.table) {
      case 'session-ttl':
        this.#ttlLeases.delete(parsed.key)
        if ((this.#sessions.get(parsed.key)?.ttl ?? '') !== '') this.#expired.add(parsed.key)
        return undefined
      case 'kv': {
        const old = this.#entries.get(parsed.key)
        if (old === undefined) return undefined
        this.#entries.delete(parsed.key)
        this.#entryKeys.delete(parsed.key)
        if (old.session !== '') removeFrom(this.#held, old.session, parsed.key)
        return parsed.key
      }
      case 'tomb': {
        const old = this.#tombs.get(parsed.key)
        if (old === undefined) return undefined
        this.#tombs.delete(parsed.key)
        this.#tombKeys.delete(parsed.key)
        removeFrom(this.#tombBins, tombstoneReapAt(old.at), parsed.key)
        return parsed.key
      }
      case 'lockdelay':
        this.#lockDelays.delete(parsed.key)
        return undefined
      case 'sessions': {
        const old = this.#sessions.get(parsed.key)
        if (old === undefined) return undefined
        this.#sessions.delete(parsed.key)
        this.#expired.delete(parsed.key)
        removeFrom(this.#byNode, lower(old.node), old.id)
        for (const c of watchedChecks(old)) removeFrom(this.#byCheck, checkRef(old.node, c), old.id)
        return undefined
      }
    }
  }

  // ---- reads (synchronous) ----------------------------------------------------------------

  entry(key: string): KvEntry | undefined {
    return this.#entries.get(key)
  }

  /** Entries with the prefix, in key order. */
  *entries(prefix: string): Iterable<KvEntry> {
    for (const k of this.#entryKeys.withPrefix(prefix)) {
      const e = this.#entries.get(k)
      if (e !== undefined) yield e
    }
  }

  tombstone(key: string): Tombstone | undefined {
    return this.#tombs.get(key)
  }

  /** Tombstones with the prefix, in key order. */
  *tombstones(prefix: string): Iterable<readonly [string, Tombstone]> {
    for (const k of this.#tombKeys.withPrefix(prefix)) {
      const t = this.#tombs.get(k)
      if (t !== undefined) yield [k, t]
    }
  }

  session(id: string): SessionRecord | undefined {
    return this.#sessions.get(id)
  }

  /** How many sessions exist. */
  get sessionCount(): number {
    return this.#sessions.size
  }

  /** Every session, by ID. */
  sessions(): SessionRecord[] {
    return [...this.#sessions.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  sessionIdsOnNode(node: string): string[] {
    return [...(this.#byNode.get(lower(node)) ?? [])].sort()
  }

  sessionIdsOnCheck(node: string, checkId: string): string[] {
    return [...(this.#byCheck.get(checkRef(node, checkId)) ?? [])].sort()
  }

  /** Keys whose `Session` is this session, in key order. */
  heldBy(session: string): string[] {
    return [...(this.#held.get(session) ?? [])].sort()
  }

  /** The lease of a session's TTL key: undefined when the key is absent. */
  ttlLease(session: string): LeaseId | null | undefined {
    return this.#ttlLeases.get(session)
  }

  /** Sessions whose TTL ran out (their TTL key is gone) and that still exist. */
  expiredSessions(): string[] {
    return [...this.#expired].sort()
  }

  /** When the lock-delay on a key ends (epoch ms), if one was written. */
  lockDelayUntil(key: string): number | undefined {
    return this.#lockDelays.get(key)
  }

  *lockDelays(): Iterable<readonly [string, number]> {
    yield* this.#lockDelays
  }

  /** The earliest time a tombstone is due to be reaped. */
  nextTombstoneReap(): number | undefined {
    let next: number | undefined
    for (const at of this.#tombBins.keys()) if (next === undefined || at < next) next = at
    return next
  }

  /** Keys of the tombstones due at `now`. */
  *tombstonesDue(now: number): Iterable<string> {
    for (const [at, keys] of [...this.#tombBins]) if (at <= now) yield* [...keys]
  }
}
