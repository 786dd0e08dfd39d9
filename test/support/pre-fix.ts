import type { RunnerFactory } from '../../src/agent/checks/factory.js'
import type { Change, CheckSink, CheckStatePort, LocalView } from '../../src/agent/checks/ports.js'
import type { ManagedRunner, RunnerContext, YieldPoint } from '../../src/agent/checks/runner.js'

/**
 * Consul 1.5.0's rules (seed-race.md §3), rebuilt around the real code by wrapping the ports it
 * is given, so a test can take one of vigil's rules away and show that a schedule then fails.
 * src/ has one behaviour; every pre-fix variant lives here.
 *
 * - awaited stop (rule 3)         → `stopWithoutAwait`, a runner wrapper (via the runner factory)
 * - generation fencing (rule 3)   → `withoutFencing`, a wrapper of the check-state port
 * - unsubscribe by identity       → `KeyedSubscriptions`, a wrapper of each alias's view
 * - reconcile timer (rule 2)      → `NO_RECONCILE_MS` as `alias_reconcile_interval`
 * - fault injection (rule 2)      → `droppingNotifications`, a wrapper of the check-state port
 *
 * Immutable snapshots (rule 1) have no variant: LocalState hands out frozen records, and no
 * wrapper outside it can make it edit them in place.
 */

/** An `alias_reconcile_interval` beyond any test's horizon (the longest timer, ~24.8 days). */
export const NO_RECONCILE_MS = 2 ** 31 - 1

/** A port that forwards every call to `port`; the base of the wrappers below. */
export function forwarding(port: CheckStatePort): CheckStatePort {
  return {
    check: (id) => port.check(id),
    service: (id) => port.service(id),
    checksOfService: (serviceId) => port.checksOfService(serviceId),
    subscribe: (fn, opts) => port.subscribe(fn, opts),
    sinkFor: (checkId, generation) => port.sinkFor(checkId, generation),
  }
}

/** A fault injector: the notifications `drop` returns true for never reach the runners. */
export function droppingNotifications(
  port: CheckStatePort,
  drop: (change: Change) => boolean,
): CheckStatePort {
  return {
    ...forwarding(port),
    subscribe: (fn, opts) =>
      port.subscribe((change) => {
        if (!drop(change)) fn(change)
      }, opts),
  }
}

/**
 * Without generation fencing: a runner's write lands on whatever registration of its check is
 * current, as in Consul, which had no generations.
 */
export function withoutFencing(port: CheckStatePort): CheckStatePort {
  return {
    ...forwarding(port),
    sinkFor: (checkId, generation) => ({
      report: (status, output) =>
        port.sinkFor(checkId, port.check(checkId)?.generation ?? generation).report(status, output),
    }),
  }
}

/**
 * Consul 1.5.0's alias subscription table: one slot per (target service, alias check ID). A new
 * subscription takes the slot (its previous holder silently hears nothing more); unsubscribing
 * empties the slot by key, whoever holds it by then.
 */
export class KeyedSubscriptions {
  readonly #slots = new Map<string, () => void>()

  /** `view` as the alias runner of `checkId` sees it through the table. */
  viewFor(view: LocalView, checkId: string): LocalView {
    return {
      check: (id) => view.check(id),
      service: (id) => view.service(id),
      checksOfService: (serviceId) => view.checksOfService(serviceId),
      subscribe: (fn, opts) => {
        const key = `${opts?.serviceIds?.[0] ?? ''}\u0000${checkId}`
        this.#slots.get(key)?.()
        this.#slots.set(key, view.subscribe(fn, opts))
        return () => {
          this.#slots.get(key)?.()
          this.#slots.delete(key)
        }
      },
    }
  }
}

/**
 * Consul 1.5.0's stop: `stop()` only signals and resolves at once. An evaluation in flight (the
 * runner passed a yield point and has not written yet) still writes; the runner hears the stop
 * after that write, or at its next yield point. Built with `make` from a context whose sink and
 * yield point observe the runner.
 */
export function stopWithoutAwait(ctx: RunnerContext, make: RunnerFactory): ManagedRunner | null {
  let inFlight = false
  let requested = false
  let inner: ManagedRunner | null = null
  let delivered = false
  const deliver = (): void => {
    if (!requested || delivered || inner === null) return
    delivered = true
    void inner.stop()
  }
  const yieldPoint: YieldPoint = (label) => {
    if (requested) deliver()
    else inFlight = true
    return ctx.yieldPoint(label)
  }
  const sink: CheckSink = {
    report: (status, output) => {
      const result = ctx.sink.report(status, output)
      inFlight = false
      deliver()
      return result
    },
  }
  const made = make({ ...ctx, yieldPoint, sink })
  if (made === null) return null
  inner = made
  return {
    start: () => {
      made.start()
    },
    stop: () => {
      requested = true
      if (!inFlight) deliver()
      return Promise.resolve()
    },
  }
}

/** Consul 1.5.0 behaviours a run puts in place of vigil's rules (absent: vigil's rule holds). */
export interface PreFixRules {
  /** Instead of the awaited stop (rule 3): `stopWithoutAwait` around alias runners. */
  readonly stopReturnsAtOnce?: boolean
  /** Instead of generation fencing (rule 3): `withoutFencing`. */
  readonly unfencedWrites?: boolean
  /** Instead of unsubscribing by identity: `KeyedSubscriptions`. */
  readonly keyedSubscriptions?: boolean
}

/**
 * The runner factory (around `base`) and check-state wrapper that put `rules` in place. Only
 * alias runners are wrapped (the agent finds a TTL runner by its type to re-arm it).
 */
export function preFix(
  rules: PreFixRules,
  base: RunnerFactory,
): { runnerFactory: RunnerFactory; checkState: (port: CheckStatePort) => CheckStatePort } {
  const table = new KeyedSubscriptions()
  const runnerFactory: RunnerFactory = (ctx) => {
    if (ctx.definition.type !== 'alias') return base(ctx)
    const local =
      rules.keyedSubscriptions === true && ctx.local !== undefined
        ? table.viewFor(ctx.local, ctx.checkId)
        : ctx.local
    const wrapped: RunnerContext = { ...ctx, ...(local !== undefined ? { local } : {}) }
    return rules.stopReturnsAtOnce === true ? stopWithoutAwait(wrapped, base) : base(wrapped)
  }
  const checkState = (port: CheckStatePort): CheckStatePort =>
    rules.unfencedWrites === true ? withoutFencing(port) : port
  return { runnerFactory, checkState }
}
