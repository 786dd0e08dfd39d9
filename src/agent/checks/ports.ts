import type { Status } from '../../structs/check.js'
import type { CheckEntry, ServiceEntry } from '../local/local-state.js'

/**
 * The ports through which the check manager and its runners reach local state (STYLE.md
 * practice 2: consumers own narrow interfaces). LocalState implements every one of them; tests
 * wrap them to record, delay or drop what passes through.
 */

/** Outcome of a runner's write. */
export type WriteResult = 'applied' | 'unchanged' | 'stale' | 'missing'

/**
 * All a runner may do to the world: report a result for its own check. The sink is bound to one
 * registration; a write tagged with a superseded registration is rejected ('stale').
 */
export interface CheckSink {
  report(status: Status, output: string): WriteResult
}

/**
 * What changed. A notification only means "look again" (DESIGN.md rule 2): receivers re-read
 * the current state; the fields only let them skip changes that cannot concern them.
 */
export type Change =
  | Readonly<{ kind: 'service'; serviceId: string }>
  | Readonly<{ kind: 'check'; checkId: string; serviceId: string; statusChanged: boolean }>

/** Runs synchronously after the change is visible; must only record "look again". */
export type Listener = (change: Change) => void

export interface SubscribeOptions {
  /** Deliver only changes of these services ('' = node-level checks); default: every change. */
  readonly serviceIds?: readonly string[]
}

/**
 * What a runner that reads other checks (alias) may see of local state: frozen snapshots and a
 * subscription to changes.
 */
export interface LocalView {
  check(id: string): CheckEntry | undefined
  service(id: string): ServiceEntry | undefined
  checksOfService(serviceId: string): readonly CheckEntry[]
  /** Returns the function that removes this subscription, and only this one. */
  subscribe(fn: Listener, opts?: SubscribeOptions): () => void
}

/**
 * What the check manager needs of local state: the current registration of a check (to start a
 * runner only for it), a sink bound to that registration, and the view it hands alias runners.
 */
export interface CheckStatePort extends LocalView {
  /** The sink a runner of `checkId`, registered as `generation`, writes through. */
  sinkFor(checkId: string, generation: number): CheckSink
}
