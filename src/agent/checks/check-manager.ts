import type { Clock } from '../../lib/clock.js'
import { KeyedQueue } from '../../lib/keyed-queue.js'
import type { CheckDefinition } from '../../structs/check.js'
import type { RunnerFactory } from './factory.js'
import { effectiveOutputLimit } from './output.js'
import type { CheckStatePort } from './ports.js'
import {
  noYield,
  type ManagedRunner,
  type RunnerContext,
  type RunnerLogger,
  type YieldPoint,
} from './runner.js'

export interface CheckManagerOptions {
  /** Local state as the manager and its runners see it (LocalState, or a wrapper of it in tests). */
  readonly state: CheckStatePort
  readonly clock: Clock
  readonly random: () => number
  readonly logger: RunnerLogger
  readonly factory: RunnerFactory
  /** Agent-wide output limit (`check_output_max_size`). */
  readonly outputMaxSize: number
  readonly yieldPoint?: YieldPoint
  /** `alias_reconcile_interval`, handed to alias runners. */
  readonly aliasReconcileMs: number
}

interface Live {
  readonly runner: ManagedRunner
  readonly generation: number
}

/**
 * Owns one runner per check ID (STYLE.md practice 4). Work is serialized per check ID; replacing
 * a runner fences the old one (its generation is already superseded in LocalState), awaits its
 * `stop()`, and only then starts the successor — so at most one live runner exists per ID and a
 * stopped runner can never write.
 */
export class CheckManager {
  readonly #opts: CheckManagerOptions
  readonly #runners = new Map<string, Live>()
  readonly #queue = new KeyedQueue()
  readonly #yield: YieldPoint
  #closed = false

  constructor(opts: CheckManagerOptions) {
    this.#opts = opts
    this.#yield = opts.yieldPoint ?? noYield
  }

  /** Live runners (started and not stopped). */
  get size(): number {
    return this.#runners.size
  }

  /** The live runner of a check and the generation it writes with. */
  runner(checkId: string): Live | undefined {
    return this.#runners.get(checkId)
  }

  /**
   * Starts the runner for registration `generation` of `checkId`, after stopping (and awaiting)
   * any previous runner. Does nothing if the check was removed or re-registered meanwhile —
   * the later call owns the ID then. The check must already be in LocalState (it is stored
   * before its runner starts, seed-race.md §7).
   */
  replace(
    checkId: string,
    definition: CheckDefinition,
    generation: number,
    resume?: RunnerContext['resume'],
  ): Promise<void> {
    return this.#queue.run(checkId, async () => {
      await this.#stopCurrent(checkId)
      await this.#yield(`manager.replace.stopped:${checkId}`)
      const current = this.#opts.state.check(checkId)
      if (this.#closed || current === undefined || current.generation !== generation) return
      await this.#yield(`registry.beforeStart:${checkId}`)
      const { state, clock, random, logger, factory, outputMaxSize, aliasReconcileMs } = this.#opts
      const runner = factory({
        checkId,
        definition,
        sink: state.sinkFor(checkId, generation),
        clock,
        random,
        logger,
        outputMaxSize: effectiveOutputLimit(definition.outputMaxSize, outputMaxSize),
        yieldPoint: this.#yield,
        local: state,
        aliasReconcileMs,
        ...(resume !== undefined ? { resume } : {}),
      })
      if (runner === null) return
      this.#runners.set(checkId, { runner, generation })
      runner.start()
    })
  }

  /** Stops and awaits the runner of `checkId`, if any. */
  remove(checkId: string): Promise<void> {
    return this.#queue.run(checkId, () => this.#stopCurrent(checkId))
  }

  /** Stops every runner and refuses new ones; resolves when all are stopped. Idempotent. */
  async stopAll(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#runners.keys()].map((id) => this.remove(id)))
  }

  async #stopCurrent(checkId: string): Promise<void> {
    const live = this.#runners.get(checkId)
    if (live === undefined) return
    this.#runners.delete(checkId)
    await live.runner.stop()
  }
}
