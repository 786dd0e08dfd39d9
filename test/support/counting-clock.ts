import { sleepOn, systemClock, type Clock, type Timer } from '../../src/lib/clock.js'

/**
 * Another clock's time and timers (the system clock unless given), counting the timers still
 * pending: after a runner stops, zero pending timers means no probe can start any more, which a
 * test can assert at once instead of sleeping to see whether one does.
 */
export class CountingClock implements Clock {
  #pending = 0

  constructor(private readonly base: Clock = systemClock) {}

  now(): number {
    return this.base.now()
  }

  setTimer(ms: number, fn: () => void): Timer {
    let state: 'pending' | 'fired' | 'cancelled' = 'pending'
    this.#pending++
    const timer = this.base.setTimer(ms, () => {
      if (state !== 'pending') return
      state = 'fired'
      this.#pending--
      fn()
    })
    return {
      cancel: () => {
        if (state !== 'pending') return
        state = 'cancelled'
        this.#pending--
        timer.cancel()
      },
    }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }

  /** Timers set and neither fired nor cancelled. */
  pendingTimers(): number {
    return this.#pending
  }
}
