import { Trigger } from '../../lib/trigger.js'
import { Runner, type RunnerContext } from './runner.js'

/** Longest single timer wait; an expired TTL check idles in waits of this length until updated. */
const IDLE_MS = 2 ** 31 - 1

/**
 * A TTL check (checks.md §5): passive; the API writes status through LocalState and then calls
 * `rearm` on the runner of that registration, which restarts the full TTL. When the TTL lapses
 * without an update the check turns critical with `TTL expired…`; it does not re-arm until the
 * next update.
 */
export class TtlRunner extends Runner {
  readonly #rearmed = new Trigger()
  #lastOutput: string

  constructor(ctx: RunnerContext) {
    super(ctx)
    this.#lastOutput = ctx.resume?.lastOutput ?? ''
  }

  /** Restarts the full TTL and remembers the output given with the update. */
  rearm(output: string): void {
    this.#lastOutput = output
    this.#rearmed.notify()
  }

  protected async run(signal: AbortSignal): Promise<void> {
    const { clock, definition } = this.ctx
    let expired = false
    // A check restored with valid state expires when that state would have (not a full TTL later).
    let nextMs = this.ctx.resume?.ttlRemainingMs ?? definition.ttlMs
    for (;;) {
      const woke = await this.#rearmed.wait(clock, { maxMs: expired ? IDLE_MS : nextMs, signal })
      nextMs = definition.ttlMs
      if (signal.aborted) return
      if (woke === 'notified') {
        expired = false
        continue
      }
      if (expired) continue
      expired = true
      const output =
        this.#lastOutput === ''
          ? 'TTL expired'
          : `TTL expired (last output before timeout follows): ${this.#lastOutput}`
      this.ctx.logger.warn({ checkId: this.ctx.checkId }, 'Check missed TTL, is now critical')
      this.report('critical', output)
    }
  }
}
