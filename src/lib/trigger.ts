import type { Clock } from './clock.js'

/**
 * A coalescing "look again" signal (DESIGN.md rule 2). `notify()` never blocks and carries no
 * payload; any number of notifications before the next `wait` collapse into one pending token.
 * Concurrency contract: one waiter at a time (the owner's loop).
 */
export class Trigger {
  #pending = false
  #wake: (() => void) | undefined

  notify(): void {
    this.#pending = true
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  /** True when a notification is pending (consumed by the next `wait`). */
  get pending(): boolean {
    return this.#pending
  }

  /**
   * Resolves 'notified' when a token is (or becomes) pending, 'timeout' after `maxMs`, and
   * rejects with `signal.reason` when the signal aborts. Consumes the token.
   */
  wait(clock: Clock, opts: { maxMs: number; signal?: AbortSignal }): Promise<'notified' | 'timeout'> {
    const { signal } = opts
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error)
    if (this.#pending) {
      this.#pending = false
      return Promise.resolve('notified')
    }
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        timer.cancel()
        signal?.removeEventListener('abort', onAbort)
        this.#wake = undefined
      }
      const onAbort = (): void => {
        finish()
        reject(signal?.reason as Error)
      }
      const timer = clock.setTimer(opts.maxMs, () => {
        finish()
        resolve('timeout')
      })
      this.#wake = () => {
        finish()
        this.#pending = false
        resolve('notified')
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
