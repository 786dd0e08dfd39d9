import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { noYield, type Runner, type RunnerContext, type RunnerLogger } from '../../src/agent/checks/runner.js'
import type { CheckSink, WriteResult } from '../../src/agent/checks/ports.js'
import { systemClock, type Clock } from '../../src/lib/clock.js'
import { EMPTY_DEFINITION, type CheckDefinition, type Status } from '../../src/structs/check.js'
import { waitFor } from './wait.js'

export interface Write {
  readonly status: Status
  readonly output: string
}

/** A CheckSink that records every write and lets a test wait for the next ones. */
export class RecordingSink implements CheckSink {
  readonly writes: Write[] = []
  #waiters: (() => void)[] = []

  report(status: Status, output: string): WriteResult {
    this.writes.push({ status, output })
    for (const wake of this.#waiters.splice(0)) wake()
    return 'applied'
  }

  /** Resolves once `n` writes arrived in total; rejects after `ms`. */
  async waitFor(n: number, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms
    while (this.writes.length < n) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`expected ${n} writes, got ${this.writes.length}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }
}

/** A CheckSink that records every write with its time on `clock`, in ms after `originMs`. */
export class TimedSink implements CheckSink {
  readonly writes: TimedWrite[] = []

  constructor(
    private readonly clock: Clock,
    private readonly originMs: number,
  ) {}

  report(status: Status, output: string): WriteResult {
    this.writes.push({ status, output, atMs: this.clock.now() - this.originMs })
    return 'applied'
  }

  statuses(): Status[] {
    return this.writes.map((w) => w.status)
  }
}

export interface TimedWrite extends Write {
  readonly atMs: number
}

export const silentRunnerLogger: RunnerLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
}

export interface RunnerContextOptions {
  readonly checkId?: string
  readonly clock?: Clock
  readonly outputMaxSize?: number
  readonly random?: () => number
  readonly resume?: RunnerContext['resume']
}

/**
 * A RunnerContext writing to `sink`: real clock unless given, first probe at once (`random` = 0
 * unless given), a 60s interval unless `definition` sets one, and a silent logger.
 */
export function contextWithSink(
  sink: CheckSink,
  definition: Partial<CheckDefinition>,
  opts: RunnerContextOptions = {},
): RunnerContext {
  return {
    checkId: opts.checkId ?? 'check-under-test',
    definition: Object.freeze({ ...EMPTY_DEFINITION, intervalMs: 60_000, ...definition }),
    sink,
    clock: opts.clock ?? systemClock,
    random: opts.random ?? (() => 0),
    logger: silentRunnerLogger,
    outputMaxSize: opts.outputMaxSize ?? 4096,
    yieldPoint: noYield,
    ...(opts.resume === undefined ? {} : { resume: opts.resume }),
  }
}

/** A RunnerContext for one runner under test (see `contextWithSink`) and its RecordingSink. */
export function runnerContext(
  definition: Partial<CheckDefinition>,
  opts: RunnerContextOptions = {},
): { ctx: RunnerContext; sink: RecordingSink } {
  const sink = new RecordingSink()
  return { ctx: contextWithSink(sink, definition, opts), sink }
}

/** Starts `runner`, waits for its first write, stops it, and returns that write (the only one). */
export async function firstWrite(
  t: TestContext,
  made: { runner: Runner; sink: RecordingSink },
): Promise<Write> {
  const { runner, sink } = made
  t.after(() => runner.stop())
  runner.start()
  await sink.waitFor(1)
  await runner.stop()
  assert.equal(sink.writes.length, 1)
  return sink.writes[0]!
}

/** Polls `predicate` until it holds; rejects after `ms` (see `waitFor`). */
export async function eventually(predicate: () => boolean, ms = 3_000, what = 'condition'): Promise<void> {
  await waitFor(predicate, { timeoutMs: ms, what })
}

export { within } from './wait.js'
