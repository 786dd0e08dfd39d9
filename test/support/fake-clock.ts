import { sleepOn, type Clock, type Timer } from '../../src/lib/clock.js'

interface Pending {
  readonly at: number
  readonly seq: number
  readonly fn: () => void
  cancelled: boolean
}

/** Lets every queued promise job, and jobs those jobs queue, run to completion. */
export async function drainMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * A Clock for tests: time moves only through `advance`. Between timers it drains pending
 * promise jobs, so a timer set after an `await` inside a fired callback is still seen
 * (node's `mock.timers.tick` misses those).
 */
export class FakeClock implements Clock {
  #now: number
  #seq = 0
  #timers: Pending[] = []

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs
  }

  now(): number {
    return this.#now
  }

  setTimer(ms: number, fn: () => void): Timer {
    const entry: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false }
    this.#timers.push(entry)
    return {
      cancel: () => {
        entry.cancelled = true
        this.#timers = this.#timers.filter((t) => t !== entry)
      },
    }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }

  /** Number of timers still pending: lets tests assert nothing outlives its owner. */
  pendingTimers(): number {
    return this.#timers.length
  }

  /** The time of the earliest pending timer, or undefined. */
  nextDeadline(): number | undefined {
    return this.#timers.reduce<number | undefined>(
      (min, t) => (min === undefined || t.at < min ? t.at : min),
      undefined,
    )
  }

  /** Moves time forward by `ms`, firing due timers in order and draining promise jobs around each. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    await drainMicrotasks()
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (due === undefined) break
      this.#timers = this.#timers.filter((t) => t !== due)
      this.#now = Math.max(this.#now, due.at)
      if (!due.cancelled) due.fn()
      await drainMicrotasks()
    }
    this.#now = target
    await drainMicrotasks()
  }
}
