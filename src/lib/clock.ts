/** A pending timer. `cancel()` is idempotent and safe after the timer fired. */
export interface Timer {
  cancel(): void
}

/**
 * Everything in vigil that waits takes a Clock (DESIGN.md rule 4), so tests can drive time.
 * Implementations call `fn` at most once per `setTimer`, never synchronously from `setTimer`.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
  setTimer(ms: number, fn: () => void): Timer
  /** Resolves after `ms`; rejects with `signal.reason` as soon as the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

/**
 * The longest delay Node's `setTimeout` honours; above it Node fires after 1 ms. Longer waits (a
 * check interval of `600h` is a valid Go duration) are chained in steps of at most this.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1

/** Node's timers; timers are unref'd so a pending probe never keeps the process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    let handle: NodeJS.Timeout
    const arm = (remaining: number): void => {
      const step = Math.min(remaining, MAX_TIMEOUT_MS)
      handle = setTimeout(() => {
        if (remaining > step) arm(remaining - step)
        else fn()
      }, step)
      handle.unref()
    }
    arm(Math.max(0, ms))
    return { cancel: () => clearTimeout(handle) }
  },
  sleep: (ms, signal) => sleepOn(systemClock, ms, signal),
}

/** `sleep` in terms of `setTimer`, shared by every Clock. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error)
      return
    }
    const onAbort = (): void => {
      timer.cancel()
      reject(signal?.reason as Error)
    }
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    })
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * An AbortSignal that aborts after `ms` on `clock` or when `parent` aborts, whichever is first.
 * Call `dispose()` when the guarded operation ends so the timer does not linger.
 */
export function timeoutSignal(
  clock: Clock,
  ms: number,
  parent?: AbortSignal,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const timer = clock.setTimer(ms, () => controller.abort(new TimeoutError(ms)))
  const onParent = (): void => controller.abort(parent?.reason)
  if (parent?.aborted === true) controller.abort(parent.reason)
  else parent?.addEventListener('abort', onParent, { once: true })
  return {
    signal: controller.signal,
    dispose() {
      timer.cancel()
      parent?.removeEventListener('abort', onParent)
    },
  }
}

/** The reason of a signal aborted by `timeoutSignal`. */
export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timeout after ${ms}ms`)
    this.name = 'TimeoutError'
  }
}
