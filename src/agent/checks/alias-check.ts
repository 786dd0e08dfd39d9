import { Trigger } from '../../lib/trigger.js'
import type { Status } from '../../structs/check.js'
import type { CheckEntry } from '../local/local-state.js'
import type { Change, LocalView } from './ports.js'
import { Runner, type RunnerContext } from './runner.js'

/** The result of evaluating an alias, with the evidence `explain` shows. */
export interface AliasEvaluation {
  readonly status: Status
  readonly output: string
  /** The check that decided a non-passing status, if any. */
  readonly decidedBy: CheckEntry | null
  /** The checks that were considered (target's own, then node-level), excluding the alias itself. */
  readonly considered: readonly CheckEntry[]
  /** Check IDs forming a cycle through this alias, if one was found. */
  readonly cycle: readonly string[] | null
}

/**
 * The status of an alias check in node-local mode (checks.md §12.2): the aggregate of the target
 * service's checks and the node's checks. vigil excludes the alias check itself (Consul counts a
 * node-level alias in its own aggregate and locks itself critical), and reports a cycle of
 * aliases as critical instead of letting it hold itself in place.
 */
export function evaluateAlias(
  view: LocalView,
  aliasCheckId: string,
  targetServiceId: string,
): AliasEvaluation {
  const considered = [...view.checksOfService(targetServiceId), ...view.checksOfService('')].filter(
    (e) => e.check.checkId !== aliasCheckId,
  )
  // Only an alias among the checks it depends on can lead back to this one.
  const cycle = considered.some((e) => e.definition.type === 'alias') ? findCycle(view, aliasCheckId) : null
  if (cycle !== null) {
    return {
      status: 'critical',
      output: `Alias cycle detected: ${cycle.join(' -> ')}; an alias check cannot depend on itself`,
      decidedBy: null,
      considered,
      cycle,
    }
  }
  let status: Status = 'passing'
  let output = 'No checks found.'
  let decidedBy: CheckEntry | null = null
  let found = false
  for (const entry of considered) {
    const c = entry.check
    if (c.serviceId === targetServiceId) found = true
    if (c.status === 'critical' || c.status === 'warning') {
      status = c.status
      output = `Aliased check "${c.name}" failing: ${c.output}`
      decidedBy = entry
      if (c.status === 'critical') break
    } else if (status === 'passing') {
      output = 'All checks passing.'
    }
  }
  if (!found && view.service(targetServiceId) === undefined) {
    return {
      status: 'critical',
      output: `Service ${targetServiceId} could not be found on node `,
      decidedBy: null,
      considered,
      cycle: null,
    }
  }
  return { status, output, decidedBy, considered, cycle: null }
}

/**
 * A path of alias checks from `start` back to itself, following each alias to the alias checks
 * among its target's checks and the node's checks; null when there is none.
 */
function findCycle(view: LocalView, start: string): string[] | null {
  const visited = new Set<string>()
  const walk = (checkId: string, path: string[]): string[] | null => {
    const entry = view.check(checkId)
    if (entry?.definition.type !== 'alias') return null
    const deps = [...view.checksOfService(entry.definition.aliasService), ...view.checksOfService('')]
    for (const dep of deps) {
      const id = dep.check.checkId
      if (id === checkId || dep.definition.type !== 'alias') continue
      if (id === start) return [...path, id]
      if (visited.has(id)) continue
      visited.add(id)
      const found = walk(id, [...path, id])
      if (found !== null) return found
    }
    return null
  }
  return walk(start, [start])
}

/**
 * A local alias check runner (checks.md §12.3, DESIGN.md rule 2): subscribes first, evaluates at
 * once, then re-evaluates on every change that can move the aggregate — a check of the target
 * added, removed or updated, a node-level check, the target service added or removed — and at
 * least every `reconcileMs` even if every notification were lost. A notification only means
 * "look again": each evaluation reads the current snapshot.
 */
export class AliasRunner extends Runner {
  readonly #view: LocalView
  readonly #reconcileMs: number

  constructor(ctx: RunnerContext & { readonly local: LocalView; readonly aliasReconcileMs: number }) {
    super(ctx)
    this.#view = ctx.local
    this.#reconcileMs = ctx.aliasReconcileMs
  }

  protected async run(signal: AbortSignal): Promise<void> {
    const { clock, yieldPoint, checkId } = this.ctx
    const target = this.ctx.definition.aliasService
    const woken = new Trigger()
    const unsubscribe = this.#view.subscribe(
      (change: Change) => {
        if (concerns(change, target)) woken.notify()
      },
      { serviceIds: [target, ''] },
    )
    const onStop = (): void => {
      woken.notify()
    }
    signal.addEventListener('abort', onStop, { once: true })
    try {
      for (;;) {
        await yieldPoint(`alias.woken:${checkId}`)
        if (signal.aborted) return
        const result = evaluateAlias(this.#view, checkId, target)
        await yieldPoint(`alias.beforeWrite:${checkId}`)
        // Refused once stopping: asked to stop while this evaluation was in flight, it writes nothing.
        this.report(result.status, result.output)
        // Stop wakes the loop through the trigger (one listener per runner, not one per wait:
        // with a thousand aliases on one target, per-wait listeners dominated the cost).
        await woken.wait(clock, { maxMs: this.#reconcileMs })
        if (this.stopping) return
      }
    } finally {
      signal.removeEventListener('abort', onStop)
      await yieldPoint(`alias.beforeExit:${checkId}`)
      unsubscribe()
    }
  }
}

/** Changes that can move an alias's aggregate: the target service and its checks, node checks. */
function concerns(change: Change, target: string): boolean {
  if (change.kind === 'service') return change.serviceId === target
  return change.serviceId === target || change.serviceId === ''
}
