import type { Scheduler } from 'fast-check'
import { sleepOn, type Clock, type Timer } from '../../src/lib/clock.js'

/**
 * A Clock whose timers fire when fast-check's scheduler releases them, in any order the
 * scheduler picks: it over-approximates real timing, so every interleaving of timers,
 * probe completions and lifecycle operations can be explored and replayed.
 */
export class SchedulerClock implements Clock {
  #now = 1_700_000_000_000
  #live = 0

  constructor(private readonly s: Scheduler) {}

  now(): number {
    return this.#now
  }

  setTimer(ms: number, fn: () => void): Timer {
    let state: 'pending' | 'fired' | 'cancelled' = 'pending'
    this.#live++
    void this.s.schedule(Promise.resolve(), `timer(${ms}ms)`).then(() => {
      if (state !== 'pending') return
      state = 'fired'
      this.#live--
      this.#now += Math.max(0, Math.min(ms, 60_000))
      fn()
    })
    return {
      cancel: () => {
        if (state !== 'pending') return
        state = 'cancelled'
        this.#live--
      },
    }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }

  /** Timers set and neither fired nor cancelled. */
  get liveTimers(): number {
    return this.#live
  }
}
