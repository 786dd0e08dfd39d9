import { formatGoDurationMs } from '../lib/duration.js'
import { UnknownCheckError } from '../lib/errors.js'
import type { CheckType, Status } from '../structs/check.js'
import { evaluateAlias } from './checks/alias-check.js'
import { isRemoteAlias } from './checks/remote-alias-check.js'
import type { CheckEntry } from './local/local-state.js'
import type { LocalView } from './checks/ports.js'

/** Why a check has its status: its own state and, for an alias, the chain down to the deciding checks. */
export interface CheckExplanation {
  readonly checkId: string
  readonly name: string
  readonly type: CheckType
  readonly serviceId: string
  readonly status: Status
  readonly output: string
  /** When the status last changed (epoch ms). */
  readonly statusChangedMs: number
  /** One sentence: what decides this check's status. */
  readonly reason: string
  readonly alias: AliasExplanation | null
  /** For an alias that reads the catalog (another node): what it mirrors there. */
  readonly remote: Readonly<{ node: string; serviceId: string }> | null
}

export interface AliasExplanation {
  readonly targetServiceId: string
  readonly targetExists: boolean
  /** What evaluating the alias now gives; differs from the stored status only until the runner writes. */
  readonly evaluatedStatus: Status
  readonly evaluatedOutput: string
  readonly decidedBy: string | null
  readonly cycle: readonly string[] | null
  /** The checks the alias aggregates: the target's own, then node-level ones. */
  readonly checks: readonly CheckExplanation[]
}

const MAX_DEPTH = 8

/** Explains `checkId` from the current snapshot of local state. Unknown → UnknownCheckError. */
export function explainCheck(view: LocalView, checkId: string): CheckExplanation {
  const entry = view.check(checkId)
  if (entry === undefined) throw new UnknownCheckError(checkId)
  return explainEntry(view, entry, 0, new Set([checkId]))
}

function explainEntry(
  view: LocalView,
  entry: CheckEntry,
  depth: number,
  path: ReadonlySet<string>,
): CheckExplanation {
  const { check, definition } = entry
  if (definition.type !== 'alias') return explainLeaf(entry)
  if (isRemoteAlias(definition, check.node)) {
    const node = definition.aliasNode
    const svc = definition.aliasService
    return {
      ...summary(entry),
      reason:
        svc === ''
          ? `mirrors the node-level checks of node "${node}" in the catalog`
          : `mirrors service "${svc}" on node "${node}" (and that node's node-level checks) in the catalog`,
      alias: null,
      remote: { node, serviceId: svc },
    }
  }
  const target = definition.aliasService
  const result = evaluateAlias(view, check.checkId, target)
  const children =
    depth >= MAX_DEPTH
      ? []
      : result.considered.map((dep) =>
          path.has(dep.check.checkId)
            ? { ...explainLeaf(dep), reason: 'part of an alias cycle (not expanded again)' }
            : explainEntry(view, dep, depth + 1, new Set([...path, dep.check.checkId])),
        )
  const decidedBy = result.decidedBy?.check.checkId ?? null
  const reason =
    result.cycle !== null
      ? `critical because the aliases form a cycle: ${result.cycle.join(' -> ')}`
      : view.service(target) === undefined && !result.considered.some((c) => c.check.serviceId === target)
        ? `critical because service "${target}" is not registered on this agent`
        : decidedBy !== null
          ? `mirrors service "${target}": ${result.status} because check "${decidedBy}" is ${result.status}`
          : `mirrors service "${target}": every check it depends on is passing`
  return {
    ...summary(entry),
    reason,
    remote: null,
    alias: {
      targetServiceId: target,
      targetExists: view.service(target) !== undefined,
      evaluatedStatus: result.status,
      evaluatedOutput: result.output,
      decidedBy,
      cycle: result.cycle,
      checks: children,
    },
  }
}

function explainLeaf(entry: CheckEntry): CheckExplanation {
  return { ...summary(entry), reason: reasonFor(entry), alias: null, remote: null }
}

function summary(entry: CheckEntry): Omit<CheckExplanation, 'reason' | 'alias' | 'remote'> {
  const { check } = entry
  return {
    checkId: check.checkId,
    name: check.name,
    type: check.type,
    serviceId: check.serviceId,
    status: check.status,
    output: check.output,
    statusChangedMs: entry.statusChangedMs,
  }
}

function reasonFor(entry: CheckEntry): string {
  const { check, definition } = entry
  switch (definition.type) {
    case 'ttl':
      return `set by the last TTL update (pass/warn/fail) or TTL expiry; TTL ${formatGoDurationMs(definition.ttlMs)}`
    case 'maintenance':
      return `maintenance mode: ${check.notes}`
    case '':
      return 'has no runner; set only by registration'
    default:
      return `result of the last ${definition.type} probe (every ${check.interval})`
  }
}

/** What this agent knows of the target of another agent's remote alias (cluster.md). */
export interface TargetExplanation {
  /** False when `serviceId` names a service not registered here (the alias is then critical). */
  readonly serviceFound: boolean
  /** The service's checks (when a service is named), then this node's node-level checks. */
  readonly checks: readonly CheckExplanation[]
}

/**
 * Explains what a remote alias of this node mirrors: `serviceId`'s checks ('' for a node alias)
 * and the node-level checks, each with its own chain. Checks the catalog adds (`serfHealth`) are
 * not local state and not included.
 */
export function explainTarget(view: LocalView, serviceId: string): TargetExplanation {
  const entries = serviceId === '' ? [] : [...view.checksOfService(serviceId)]
  entries.push(...view.checksOfService(''))
  return {
    serviceFound: serviceId === '' || view.service(serviceId) !== undefined,
    checks: entries.map((e) => explainEntry(view, e, 0, new Set([e.check.checkId]))),
  }
}
