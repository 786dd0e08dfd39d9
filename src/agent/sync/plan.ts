/**
 * What anti-entropy has to push, derived from two snapshots: the agent's local state and what
 * the catalog is believed to hold (agent-state.md §11). Pure and synchronous: no "in sync" flag
 * is stored anywhere, so nothing can drift from the state it describes (DESIGN.md rule 2, level
 * not edge); every pass recomputes the whole difference.
 */
import { isDeepStrictEqual } from 'node:util'
import type { HealthCheck } from '../../structs/check.js'
import type { Service } from '../../structs/service.js'
import type { NodeInfo, RemoteNodeState } from './catalog-port.js'

/** Catalog entries of a node that the agent never owns (agent-state.md §11). */
export const SERVER_SERVICE_ID = 'consul'
export const SERF_HEALTH_CHECK_ID = 'serfHealth'

/** A local service or check as anti-entropy reads it. */
export type LocalService = Readonly<{ service: Service; token: string }>
export type LocalCheck = Readonly<{ check: HealthCheck; token: string }>

export type LocalNodeState = Readonly<{
  node: NodeInfo
  services: readonly LocalService[]
  checks: readonly LocalCheck[]
}>

/** Why an entry is pending. */
export type PendingReason = 'missing' | 'differs' | 'output' | 'remote-only'

export type SyncPlan = Readonly<{
  node: boolean
  /** Services to register, each with its own pending checks piggy-backed. */
  services: readonly Readonly<{ service: Service; token: string; checks: readonly HealthCheck[] }>[]
  /** Pending checks whose service is in sync (or node-level). */
  checks: readonly LocalCheck[]
  deleteServices: readonly string[]
  /** Remote checks to remove whose service is not being removed anyway. */
  deleteChecks: readonly string[]
  /** Checks whose only difference is their output, with when that output becomes due. */
  deferred: ReadonlyMap<string, number>
  /** Every pending entry (`service:<id>` / `check:<id>`) and why. */
  pending: ReadonlyMap<string, PendingReason>
}>

/**
 * Pairs of records already found equal: id → [local record, remote record]. Records are frozen
 * and replaced whole on change (DESIGN.md rule 1), so the same two objects are still equal and a
 * pass compares only what changed since the last one. The planner refreshes it on every pass.
 */
export interface EqualPairs {
  services: Map<string, readonly [object, object]>
  checks: Map<string, readonly [object, object]>
}

export function emptyEqualPairs(): EqualPairs {
  return { services: new Map(), checks: new Map() }
}

export interface PlanOptions {
  /** check_update_interval in ms; 0 pushes output changes at once. */
  readonly checkUpdateIntervalMs: number
  readonly nowMs: number
  /** When each output-only difference was first deferred until (carried between passes). */
  readonly deferredUntil: ReadonlyMap<string, number>
  /** Uniform in [0, 1). */
  readonly random: () => number
  /** Equal pairs carried between passes (see EqualPairs); absent: every record is compared. */
  readonly equal?: EqualPairs
}

/** True when `local` and `remote` were found equal before, or are equal now (then remembered). */
function known(
  pairs: Map<string, readonly [object, object]> | undefined,
  next: Map<string, readonly [object, object]>,
  id: string,
  local: object,
  remote: object,
  equal: () => boolean,
): boolean {
  const seen = pairs?.get(id)
  if ((seen !== undefined && seen[0] === local && seen[1] === remote) || equal()) {
    next.set(id, [local, remote])
    return true
  }
  return false
}

/** The service as the catalog stores it: tags never null, no agent-only fields. */
export function catalogService(s: Service): Service {
  if (s.tags !== null && !s.locallyRegisteredAsSidecar) return s
  return Object.freeze({ ...s, tags: s.tags ?? Object.freeze([]), locallyRegisteredAsSidecar: false })
}

/** The check as the catalog stores it, on `node`. */
export function catalogCheck(c: HealthCheck, node: string): HealthCheck {
  if (c.node === node) return c
  return Object.freeze({ ...c, node })
}

function sameNode(a: NodeInfo, b: NodeInfo): boolean {
  return (
    a.id === b.id &&
    a.address === b.address &&
    isDeepStrictEqual(a.taggedAddresses, b.taggedAddresses) &&
    isDeepStrictEqual(a.meta, b.meta)
  )
}

/** Field-by-field, as Consul's `HealthCheck.IsSame` plus the runner fields vigil syncs. */
function checkFields(c: HealthCheck, withOutput: boolean): unknown {
  return [
    c.node,
    c.checkId,
    c.name,
    c.status,
    c.notes,
    withOutput ? c.output : '',
    c.serviceId,
    c.serviceName,
    c.serviceTags,
    c.type,
    c.interval,
    c.timeout,
  ]
}

/** Computes what to push so that the catalog equals `local` for this node. */
export function planSync(local: LocalNodeState, remote: RemoteNodeState, opts: PlanOptions): SyncPlan {
  const nodeName = local.node.node
  const pending = new Map<string, PendingReason>()
  const remoteServices = new Map(remote.services.map((s) => [s.id, s]))
  const remoteChecks = new Map(remote.checks.map((c) => [c.checkId, c]))
  const localServiceIds = new Set(local.services.map((s) => s.service.id))
  const localCheckIds = new Set(local.checks.map((c) => c.check.checkId))

  const equalChecks = new Map<string, readonly [object, object]>()
  const equalServices = new Map<string, readonly [object, object]>()
  const deferred = new Map<string, number>()
  const pendingChecks: LocalCheck[] = []
  for (const { check, token } of local.checks) {
    const want = catalogCheck(check, nodeName)
    const have = remoteChecks.get(check.checkId)
    if (have === undefined) {
      pending.set(`check:${check.checkId}`, 'missing')
      pendingChecks.push({ check: want, token })
      continue
    }
    const same = (): boolean => isDeepStrictEqual(checkFields(want, true), checkFields(have, true))
    if (known(opts.equal?.checks, equalChecks, check.checkId, check, have, same)) continue
    const outputOnly = isDeepStrictEqual(checkFields(want, false), checkFields(have, false))
    if (outputOnly && opts.checkUpdateIntervalMs > 0) {
      const interval = opts.checkUpdateIntervalMs
      const due =
        opts.deferredUntil.get(check.checkId) ?? opts.nowMs + interval / 2 + opts.random() * interval
      if (due > opts.nowMs) {
        deferred.set(check.checkId, due)
        pending.set(`check:${check.checkId}`, 'output')
        continue
      }
    }
    pending.set(`check:${check.checkId}`, 'differs')
    pendingChecks.push({ check: want, token })
  }

  const services: { service: Service; token: string; checks: HealthCheck[] }[] = []
  for (const { service, token } of local.services) {
    const want = catalogService(service)
    const have = remoteServices.get(service.id)
    if (
      have !== undefined &&
      known(opts.equal?.services, equalServices, service.id, service, have, () =>
        isDeepStrictEqual(want, catalogService(have)),
      )
    )
      continue
    pending.set(`service:${service.id}`, have === undefined ? 'missing' : 'differs')
    services.push({ service: want, token, checks: [] })
  }
  if (opts.equal !== undefined) {
    opts.equal.checks = equalChecks
    opts.equal.services = equalServices
  }
  const registering = new Map(services.map((s) => [s.service.id, s]))
  const checks: LocalCheck[] = []
  for (const c of pendingChecks) {
    const owner = registering.get(c.check.serviceId)
    if (owner !== undefined && owner.token === c.token) owner.checks.push(c.check)
    else checks.push(c)
  }

  const deleteServices: string[] = []
  for (const id of remoteServices.keys()) {
    if (id === SERVER_SERVICE_ID || localServiceIds.has(id)) continue
    pending.set(`service:${id}`, 'remote-only')
    deleteServices.push(id)
  }
  const gone = new Set(deleteServices)
  const deleteChecks: string[] = []
  for (const [id, c] of remoteChecks) {
    if (id === SERF_HEALTH_CHECK_ID || localCheckIds.has(id)) continue
    pending.set(`check:${id}`, 'remote-only')
    if (!gone.has(c.serviceId)) deleteChecks.push(id)
  }

  return {
    node: remote.node === null || !sameNode(local.node, remote.node),
    services,
    checks,
    deleteServices,
    deleteChecks,
    deferred,
    pending,
  }
}
