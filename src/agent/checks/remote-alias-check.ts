/**
 * Alias checks of another node (checks.md §12; Consul's `CheckAlias.runQuery`): the status of
 * `AliasNode`'s node-level checks, plus `AliasService`'s checks when one is named, read from the
 * catalog with index-based blocking queries. The same four rules as local aliases (DESIGN.md):
 * every answer is re-evaluated from the whole check list (level, not edge); each blocking read
 * waits at most the reconcile interval, so the status is re-derived at least that often even if
 * a wake-up were lost; `stop()` aborts the read in flight and `report()` refuses writes once
 * stopping, so a stopped runner cannot write.
 */
import { errorMessage } from '../../lib/errors.js'
import type { CheckDefinition, HealthCheck, Status } from '../../structs/check.js'
import { Runner, type RunnerContext } from './runner.js'

/** A node's checks and services as the catalog holds them, at an index. */
export type NodeHealth = Readonly<{
  index: number
  checks: readonly HealthCheck[]
  serviceIds: readonly string[]
}>

/** The catalog reads a remote alias needs (a server's catalog in process, or over the network). */
export interface AliasTargetReader {
  /**
   * The node's checks and service IDs. With `index` > 0, answers once the catalog's index for the
   * node's checks passes it, or after `waitMs`; rejects when `signal` aborts.
   */
  nodeHealth(
    node: string,
    opts: Readonly<{ index: number; waitMs: number; signal: AbortSignal }>,
  ): Promise<NodeHealth>
}

export type RemoteAliasEvaluation = Readonly<{ status: Status; output: string }>

/**
 * Consul's `processChecks`: node-level checks, and the target service's checks when a service is
 * named; critical wins, then warning. A named service with neither checks nor a registration on
 * the node is critical.
 */
export function evaluateRemoteAlias(
  health: Pick<NodeHealth, 'checks' | 'serviceIds'>,
  aliasNode: string,
  aliasService: string,
): RemoteAliasEvaluation {
  let status: Status = 'passing'
  let output = 'No checks found.'
  let serviceFound = false
  for (const c of health.checks) {
    const serviceMatch = aliasService !== '' && c.serviceId === aliasService
    if (c.serviceId !== '' && !serviceMatch) continue
    if (serviceMatch) serviceFound = true
    if (c.status === 'critical' || c.status === 'warning') {
      status = c.status
      output = `Aliased check "${c.name}" failing: ${c.output}`
      if (c.status === 'critical') break
    } else if (status === 'passing') {
      output = 'All checks passing.'
    }
  }
  if (aliasService !== '' && !serviceFound && !health.serviceIds.includes(aliasService)) {
    return { status: 'critical', output: `Service ${aliasService} could not be found on node ${aliasNode}` }
  }
  return { status, output }
}

/**
 * Whether an alias definition reads the catalog: an `AliasNode` other than this node, or a node
 * alias (no `AliasService`) of this node (Consul runs every `AliasNode` alias against the
 * catalog; vigil keeps an alias of a service on this node local).
 */
export function isRemoteAlias(
  def: Pick<CheckDefinition, 'type' | 'aliasNode' | 'aliasService'>,
  nodeName: string,
): boolean {
  return (
    def.type === 'alias' && def.aliasNode !== '' && (def.aliasNode !== nodeName || def.aliasService === '')
  )
}

/** After this many failed reads in a row the alias turns critical (Consul: the second). */
const FAILURES_BEFORE_CRITICAL = 2
const MAX_RETRY_MS = 5_000

export class RemoteAliasRunner extends Runner {
  readonly #reader: AliasTargetReader
  readonly #reconcileMs: number

  constructor(
    ctx: RunnerContext & { readonly reader: AliasTargetReader; readonly aliasReconcileMs: number },
  ) {
    super(ctx)
    this.#reader = ctx.reader
    this.#reconcileMs = ctx.aliasReconcileMs
  }

  protected async run(signal: AbortSignal): Promise<void> {
    const { clock, yieldPoint, checkId, definition } = this.ctx
    const node = definition.aliasNode
    const service = definition.aliasService
    let index = 0
    let failures = 0
    while (!signal.aborted) {
      let health: NodeHealth
      try {
        health = await this.#reader.nodeHealth(node, { index, waitMs: this.#reconcileMs, signal })
      } catch (err) {
        if (isAborted(signal)) return
        failures++
        if (failures >= FAILURES_BEFORE_CRITICAL) {
          this.report('critical', `Failure checking aliased node or service: ${errorMessage(err)}`)
        }
        const backoff = Math.min(MAX_RETRY_MS, this.#reconcileMs, 250 * 2 ** Math.min(failures, 10))
        try {
          await clock.sleep(backoff, signal)
        } catch {
          return
        }
        continue
      }
      failures = 0
      // An index that went backwards (a catalog restarted) starts over from 0.
      index = health.index < index ? 0 : health.index
      await yieldPoint(`alias.beforeWrite:${checkId}`)
      const result = evaluateRemoteAlias(health, node, service)
      this.report(result.status, result.output)
    }
  }
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
