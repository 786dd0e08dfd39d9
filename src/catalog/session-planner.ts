/**
 * Consul's session rules (consul `agent/consul/session_endpoint.go` Apply, `state/session.go`
 * sessionCreateTxn and deleteSessionTxn, `agent/session_endpoint.go` defaults) as planner
 * operations: create, and invalidation — one write that deletes the session, releases or deletes
 * (per Behavior) every key it holds and starts their lock-delays. Invalidation runs in the same
 * txn as what caused it: a destroy, the TTL's expiry (leader.ts), a watched check turning
 * critical or deregistered, or the node deregistered (`invalidateForCatalogWrites`, run by the
 * catalog planner's hook).
 */
import { formatGoDurationNs, parseGoDurationNs } from '../lib/duration.js'
import type { LeaseId } from '../store/store.js'
import { KvRequestError } from './errors.js'
import { IDX_KVS, IDX_SESSIONS } from './keys.js'
import { kvDelete, kvReleaseHeld, readEntry, readSession, planned, type PlannedWrite } from './kv-planner.js'
import type { StoredSession } from './kv-tables.js'
import { watchedChecks } from './kv-tables.js'
import {
  DEFAULT_LOCK_DELAY_NS,
  MAX_LOCK_DELAY_MS,
  SERF_HEALTH,
  SESSION_TTL_MAX_MS,
  type SessionBehavior,
  type SessionCreateRequest,
} from './kv-types.js'
import type { Draft } from './planner.js'
import type { CatalogState } from './state.js'
import type { CheckRecord } from './types.js'

/** Consul's `lockDelayMinThreshold`: a LockDelay below 1000 (ns) is a number of seconds. */
const LOCK_DELAY_MIN_THRESHOLD = 1000

/** A create request with Consul's defaults applied and validated; `ttlMs` 0 means no TTL. */
export type NormalizedSession = Readonly<{ session: Omit<StoredSession, 'id'>; ttlMs: number }>

/** Applies Consul's defaults and validation, in Consul's order, with its texts (500). */
export function normalizeSession(req: SessionCreateRequest, sessionTtlMinMs: number): NormalizedSession {
  if (req.node === '') throw new KvRequestError(500, 'Must provide Node')
  let behavior: SessionBehavior
  switch (req.behavior ?? '') {
    case '':
    case 'release':
      behavior = 'release'
      break
    case 'delete':
      behavior = 'delete'
      break
    default:
      throw new KvRequestError(500, `Invalid Behavior setting '${req.behavior ?? ''}'`)
  }
  const ttl = req.ttl ?? ''
  let ttlMs = 0
  if (ttl !== '') {
    let ns: number
    try {
      ns = parseGoDurationNs(ttl)
    } catch (err) {
      throw new KvRequestError(
        500,
        `Session TTL '${ttl}' invalid: ${err instanceof Error ? err.message : String(err)}`,
      )
    }
    if (ns !== 0 && (ns < sessionTtlMinMs * 1e6 || ns > SESSION_TTL_MAX_MS * 1e6)) {
      throw new KvRequestError(
        500,
        `Invalid Session TTL '${ns}', must be between [${formatGoDurationNs(sessionTtlMinMs * 1e6)}=${formatGoDurationNs(SESSION_TTL_MAX_MS * 1e6)}]`,
      )
    }
    ttlMs = ns / 1e6
  }
  let lockDelayNs = req.lockDelayNs ?? DEFAULT_LOCK_DELAY_NS
  if (lockDelayNs < LOCK_DELAY_MIN_THRESHOLD) lockDelayNs *= 1e9
  // `Checks` (deprecated) defaults to serfHealth; cleared, it clears NodeChecks too.
  let nodeChecks = req.nodeChecks ?? [SERF_HEALTH]
  let checks: readonly string[] | null = req.checks ?? null
  if (checks !== null && checks.length === 0) nodeChecks = []
  if (checks !== null && (checks.length === 0 || (checks.length === 1 && checks[0] === SERF_HEALTH)))
    checks = null
  const serviceChecks =
    req.serviceChecks !== undefined && req.serviceChecks !== null && req.serviceChecks.length > 0
      ? req.serviceChecks
      : null
  return {
    session: {
      name: req.name ?? '',
      node: req.node,
      lockDelayNs,
      behavior,
      ttl,
      nodeChecks: [...nodeChecks],
      serviceChecks:
        serviceChecks === null ? null : serviceChecks.map((c) => ({ id: c.id, namespace: c.namespace })),
      checks: checks === null ? null : [...checks],
    },
    ttlMs,
  }
}

/**
 * Creates a session: its node must exist, every watched check must exist and not be critical.
 * With a TTL, `session-ttl/<id>` is put on `lease` in the same txn (the lease's expiry is the
 * session's expiry).
 */
export function planSessionCreate(
  d: Draft,
  id: string,
  s: NormalizedSession,
  lease: LeaseId | undefined,
): PlannedWrite<string> {
  const node = d.getNode(d.keys.node(s.session.node))
  if (node === undefined) throw new KvRequestError(500, 'Missing node registration')
  const stored: StoredSession = { id, ...s.session, node: node.node }
  for (const checkId of watchedChecks(stored)) {
    const c = d.getCheck(d.keys.check(stored.node, checkId))
    if (c === undefined) throw new KvRequestError(500, `Missing check '${checkId}' registration`)
    if (c.check.status === 'critical')
      throw new KvRequestError(500, `Check '${checkId}' is in critical state`)
  }
  d.put(d.keys.session(id), stored)
  d.touchIdx(IDX_SESSIONS)
  const w = planned(d, () => id)
  if (lease === undefined) return w
  return {
    ...w,
    plan: {
      compares: w.plan.compares,
      ops: [...w.plan.ops, { type: 'put', key: d.keys.sessionTtl(id), value: '', lease }],
    },
  }
}

/** The lock-delay a session's invalidation starts, in ms (Consul caps it at 60 s). */
export function effectiveLockDelayMs(s: Pick<StoredSession, 'lockDelayNs'>): number {
  return Math.min(s.lockDelayNs / 1e6, MAX_LOCK_DELAY_MS)
}

/**
 * Invalidates a session inside the draft: deletes it (and its TTL key), releases or deletes every
 * key it holds, starts a lock-delay on each. Returns false when the session does not exist.
 */
export function invalidateSession(d: Draft, id: string, now: number): boolean {
  const s = readSession(d, id)
  if (s === undefined) return false
  d.readIdx(IDX_KVS) // the held keys are enumerated from the view
  d.delete(d.keys.session(id))
  d.delete(d.keys.sessionTtl(id))
  d.touchIdx(IDX_SESSIONS)
  const delayMs = effectiveLockDelayMs(s)
  for (const key of d.state.kv.heldBy(id)) {
    if (readEntry(d, key)?.session !== id) continue
    if (s.behavior === 'delete') kvDelete(d, key, now)
    else kvReleaseHeld(d, key, id)
    if (delayMs > 0) d.put(d.keys.lockDelay(key), { until: now + delayMs })
  }
  return true
}

/**
 * The catalog planner's hook: sessions watching a check the draft turns critical or deletes, and
 * sessions of a node the draft deletes, are invalidated in the same txn. Such a write also
 * compares the sessions table's index: a session created through another server that this view
 * does not show yet fails the txn, which is planned again once the view has it. (So the hook
 * cannot return early when the view shows no session: it reads each row's decoded status, and
 * looks up watchers only for the rows that turn critical.)
 */
export function invalidateForCatalogWrites(d: Draft, now: number): void {
  let doomed: Set<string> | undefined
  for (const [key, v] of d.pendingWrites()) {
    const p = d.keys.parse(key)
    if (p?.table === 'checks') {
      if (v !== null && !isCritical(v.value)) continue
      // Already critical in the view (which this write's compare on the check confirms): no
      // session can have been created watching it since.
      const before = d.state.row(key)
      if (before !== undefined && isCritical(before.decoded ?? JSON.parse(before.value))) continue
      d.readIdx(IDX_SESSIONS)
      for (const id of d.state.kv.sessionIdsOnCheck(p.node, p.id)) (doomed ??= new Set()).add(id)
    } else if (p?.table === 'nodes' && v === null) {
      d.readIdx(IDX_SESSIONS)
      for (const id of d.state.kv.sessionIdsOnNode(p.node)) (doomed ??= new Set()).add(id)
    }
  }
  for (const id of doomed ?? []) invalidateSession(d, id, now)
}

function isCritical(check: unknown): boolean {
  return (check as Pick<CheckRecord, 'check'>).check.status === 'critical'
}

/** The earliest time a tombstone or lock-delay is due to be reaped, if any. */
export function nextReapAt(state: CatalogState): number | undefined {
  let next = state.kv.nextTombstoneReap()
  for (const [, until] of state.kv.lockDelays()) if (next === undefined || until < next) next = until
  return next
}

/** Deletes up to `max` due tombstones and ended lock-delays; `more` says whether some are left. */
export function planReap(
  d: Draft,
  now: number,
  max: number,
): PlannedWrite<{ reaped: number; more: boolean }> {
  let reaped = 0
  let more = false
  for (const key of d.state.kv.tombstonesDue(now)) {
    if (reaped >= max) {
      more = true
      break
    }
    d.delete(d.keys.tomb(key))
    reaped++
  }
  for (const [key, until] of d.state.kv.lockDelays()) {
    if (until > now) continue
    if (reaped >= max) {
      more = true
      break
    }
    d.delete(d.keys.lockDelay(key))
    reaped++
  }
  return planned(d, () => ({ reaped, more }))
}
