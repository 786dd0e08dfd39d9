/**
 * Waiting in tests without fixed sleeps: wait for a condition, bounded, and fail loudly (not hang)
 * when it does not come.
 */

export interface WaitOptions {
  /** Give up after this long; default 5 s. */
  readonly timeoutMs?: number
  /** Look again this often; default 5 ms. */
  readonly intervalMs?: number
  /** Named in the timeout error. */
  readonly what?: string
}

/** Polls `condition` until it holds; rejects after `timeoutMs`. The condition may be async. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  opts: WaitOptions = {},
): Promise<void> {
  const { timeoutMs = 5_000, intervalMs = 5, what = 'condition' } = opts
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Resolves like `p`, or fails after `ms` so a leak shows as a failure, not a hang. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not within ${ms}ms`)), ms)
  })
  try {
    return await Promise.race([p, limit])
  } finally {
    clearTimeout(timer)
  }
}

export interface Tracked<T> {
  /** The tracked promise itself: await it for the result. */
  readonly promise: Promise<T>
  /** True once `promise` resolved or rejected. */
  settled(): boolean
}

/**
 * Watches `p` settle, so a test can assert a request is still pending (e.g. a blocking query
 * before the change that wakes it). The result and any rejection stay with `promise`.
 */
export function track<T>(p: Promise<T>): Tracked<T> {
  let done = false
  p.then(
    () => (done = true),
    () => (done = true),
  )
  return { promise: p, settled: () => done }
}

/** Lets timers due now, I/O callbacks and every queued promise job run (a few event-loop turns). */
export async function settleEventLoop(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
