/**
 * The rules of DESIGN.md that make checks correct, as switches. Production always runs with
 * every rule on (`RULES`). The switches exist so the test suite can run the real code with one
 * rule removed and show that a test then fails — each rule is load-bearing (seed-race.md §3, §5).
 */
export interface LifecycleRules {
  /** Rule 3: a replaced runner is stopped and awaited before its successor starts, and writes nothing once stopping. */
  readonly stopAwaits: boolean
  /** Rule 3: local state rejects writes tagged with an older registration generation. */
  readonly fencing: boolean
  /** Rule 2: alias checks also re-derive their status on a timer, not only on notifications. */
  readonly reconcile: boolean
  /** Subscriptions are removed by their owner only (off: one slot per key, deleted by key, as Consul). */
  readonly unsubscribeByIdentity: boolean
  /** Rule 1: readers get frozen snapshots; writers build new records (off: records edited in place). */
  readonly cowSnapshots: boolean
}

export const RULES: LifecycleRules = Object.freeze({
  stopAwaits: true,
  fencing: true,
  reconcile: true,
  unsubscribeByIdentity: true,
  cowSnapshots: true,
})
