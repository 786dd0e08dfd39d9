import type { Clock } from '../lib/clock.js'
import { Trigger } from '../lib/trigger.js'

/** Hash-based blocking defaults (http-api.md §6): 5 minutes, at most 10, plus jitter. */
export const DEFAULT_HASH_WAIT_MS = 5 * 60_000
export const MAX_HASH_WAIT_MS = 10 * 60_000

export type HashResult<T> = Readonly<{ hash: string; value: T }>

export interface HashQueryOptions<T> {
  /** The hash the client already has; '' answers at once. */
  readonly hash: string
  /** Requested wait; 0 or less means the default, above the maximum is clamped. */
  readonly waitMs: number
  readonly clock: Clock
  /** Uniform in [0, 1), for the jitter of up to wait/16. */
  readonly random: () => number
  /** Aborting answers at once with the current result (server closing, client gone). */
  readonly signal: AbortSignal
  /** Registers a "look again" callback for changes the result may depend on; returns its removal. */
  readonly watch: (onChange: () => void) => () => void
  /** Reads the current state; may throw (e.g. not found), which ends the query. */
  readonly compute: () => HashResult<T>
}

/**
 * Consul's `LocalBlockingQuery`: while the computed hash equals the client's, wait for a change
 * notification (level-triggered: every notification means "recompute"), the deadline, or the
 * signal. Subscribes before the first read, so no change between read and wait is missed.
 */
export async function hashBlockingQuery<T>(opts: HashQueryOptions<T>): Promise<HashResult<T>> {
  if (opts.hash === '') return opts.compute()
  const base = Math.min(opts.waitMs > 0 ? opts.waitMs : DEFAULT_HASH_WAIT_MS, MAX_HASH_WAIT_MS)
  const deadline = opts.clock.now() + base + (opts.random() * base) / 16
  const trigger = new Trigger()
  const unwatch = opts.watch(() => {
    trigger.notify()
  })
  try {
    for (;;) {
      const result = opts.compute()
      const remainingMs = deadline - opts.clock.now()
      if (result.hash !== opts.hash || remainingMs <= 0 || opts.signal.aborted) return result
      const woke = await trigger
        .wait(opts.clock, { maxMs: remainingMs, signal: opts.signal })
        .catch(() => 'aborted' as const)
      if (woke !== 'notified') return result
    }
  } finally {
    unwatch()
  }
}
