import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  IntervalRunner,
  ProbeTimeoutError,
  type ProbeResult,
  type RunnerContext,
} from '../../src/agent/checks/runner.js'
import { FakeClock } from '../support/fake-clock.js'
import { RunnerStoppedError } from '../../src/lib/errors.js'
import type { CheckDefinition } from '../../src/structs/check.js'
import { contextWithSink, TimedSink } from '../support/runner-context.js'

const T0 = 1_700_000_000_000

type ProbeFn = (signal: AbortSignal, clock: FakeClock) => Promise<ProbeResult>

/** An IntervalRunner whose probe is supplied by the test, recording each probe's start and end. */
class ScriptedRunner extends IntervalRunner {
  readonly starts: number[] = []
  readonly ends: number[] = []
  readonly abortReasons: unknown[] = []
  running = 0
  maxRunning = 0

  constructor(
    ctx: RunnerContext,
    private readonly fn: ProbeFn,
    private readonly fakeClock: FakeClock,
  ) {
    super(ctx)
  }

  protected async probe(signal: AbortSignal): Promise<ProbeResult> {
    this.starts.push(this.fakeClock.now() - T0)
    this.running++
    this.maxRunning = Math.max(this.maxRunning, this.running)
    signal.addEventListener('abort', () => this.abortReasons.push(signal.reason), { once: true })
    try {
      return await this.fn(signal, this.fakeClock)
    } finally {
      this.running--
      this.ends.push(this.fakeClock.now() - T0)
    }
  }
}

function setup(
  def: Partial<CheckDefinition>,
  fn: ProbeFn,
  random = 0,
): { clock: FakeClock; sink: TimedSink; runner: ScriptedRunner } {
  const clock = new FakeClock(T0)
  const sink = new TimedSink(clock, T0)
  const ctx = contextWithSink(
    sink,
    { type: 'http', intervalMs: 10_000, ...def },
    { checkId: 'web', clock, random: () => random },
  )
  return { clock, sink, runner: new ScriptedRunner(ctx, fn, clock) }
}

const passing: ProbeFn = () => Promise.resolve({ status: 'passing', output: 'ok' })

/** A probe that takes `ms` of clock time (abortable). */
const taking =
  (ms: number, result: ProbeResult = { status: 'passing', output: 'ok' }): ProbeFn =>
  async (signal, clock) => {
    await clock.sleep(ms, signal)
    return result
  }

/** A probe that only ends when its signal aborts, rejecting with the reason (a well-behaved hang). */
const hanging: ProbeFn = (signal) =>
  new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
  )

test('interval runner starts the first probe after random * interval', async (t) => {
  const { clock, runner } = setup({ intervalMs: 10_000 }, passing, 0.25)
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(2_499)
  assert.deepEqual(runner.starts, [])
  await clock.advance(1)
  assert.deepEqual(runner.starts, [2_500])
})

test('interval runner starts the first probe at once when random returns 0', async (t) => {
  const { clock, runner } = setup({ intervalMs: 10_000 }, passing, 0)
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(0)
  assert.deepEqual(runner.starts, [0])
})

test('interval runner keeps the first delay below the interval when random is just under 1', async (t) => {
  const { clock, runner } = setup({ intervalMs: 10_000 }, passing, 0.99999)
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(9_999)
  assert.deepEqual(runner.starts, [9_999])
})

test('interval runner schedules the next probe interval after the previous one finished', async (t) => {
  const { clock, sink, runner } = setup({ intervalMs: 10_000, timeoutMs: 5_000 }, taking(3_000), 0.5)
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(40_000)
  assert.deepEqual(runner.starts, [5_000, 18_000, 31_000])
  assert.deepEqual(runner.ends, [8_000, 21_000, 34_000])
  assert.deepEqual(
    sink.writes.map((w) => w.atMs),
    [8_000, 21_000, 34_000],
  )
  assert.equal(runner.maxRunning, 1)
})

test('interval runner never overlaps probes when a probe outlasts the interval', async (t) => {
  const { clock, runner } = setup({ intervalMs: 1_000, timeoutMs: 60_000 }, taking(4_000), 0)
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(19_999)
  assert.equal(runner.maxRunning, 1)
  assert.deepEqual(runner.starts, [0, 5_000, 10_000, 15_000])
})

test('interval runner aborts a hanging probe at the timeout and reports critical', async (t) => {
  const { clock, sink, runner } = setup({ intervalMs: 10_000, timeoutMs: 2_000 }, hanging, 0)
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(1_999)
  assert.deepEqual(sink.writes, [])
  await clock.advance(1)
  assert.equal(runner.abortReasons.length, 1)
  assert.ok(runner.abortReasons[0] instanceof ProbeTimeoutError)
  assert.deepEqual(sink.writes, [{ status: 'critical', output: 'timeout after 2000ms', atMs: 2_000 }])
  await clock.advance(12_000)
  assert.deepEqual(runner.starts, [0, 12_000])
  assert.equal(sink.writes.length, 2)
})

test('interval runner applies the 10 s default timeout when the definition has none', async (t) => {
  const { clock, sink, runner } = setup({ intervalMs: 60_000, timeoutMs: 0 }, hanging, 0)
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(9_999)
  assert.deepEqual(sink.writes, [])
  await clock.advance(1)
  assert.deepEqual(sink.statuses(), ['critical'])
})

test('interval runner reports critical with the message when the probe throws', async (t) => {
  const { clock, sink, runner } = setup({}, () => Promise.reject(new Error('boom')), 0)
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(0)
  assert.deepEqual(
    sink.writes.map((w) => [w.status, w.output]),
    [['critical', 'boom']],
  )
})

test('interval runner applies thresholds to probe results', async (t) => {
  const results: ProbeResult[] = [
    { status: 'passing', output: 'a' },
    { status: 'critical', output: 'b' },
    { status: 'critical', output: 'c' },
    { status: 'critical', output: 'd' },
  ]
  const { clock, sink, runner } = setup(
    { intervalMs: 1_000, failuresBeforeWarning: 2, failuresBeforeCritical: 3 },
    () => Promise.resolve(results.shift() ?? { status: 'passing', output: 'z' }),
    0,
  )
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(3_000)
  assert.deepEqual(
    sink.writes.map((w) => [w.status, w.output]),
    [
      ['passing', 'a'],
      ['warning', 'c'],
      ['critical', 'd'],
    ],
  )
})

test('interval runner stop while waiting leaves no timer and writes nothing more', async () => {
  const { clock, sink, runner } = setup({ intervalMs: 10_000 }, passing, 0)
  runner.start()
  await clock.advance(0)
  assert.equal(sink.writes.length, 1)
  assert.equal(clock.pendingTimers(), 1)
  await runner.stop()
  assert.equal(clock.pendingTimers(), 0)
  await clock.advance(100_000)
  assert.equal(sink.writes.length, 1)
  assert.deepEqual(runner.starts, [0])
})

test('interval runner stop before the first probe leaves no timer and never probes', async () => {
  const { clock, sink, runner } = setup({ intervalMs: 10_000 }, passing, 0.5)
  runner.start()
  await clock.advance(1_000)
  await runner.stop()
  assert.equal(clock.pendingTimers(), 0)
  await clock.advance(100_000)
  assert.deepEqual(runner.starts, [])
  assert.deepEqual(sink.writes, [])
})

test('interval runner stop during an in-flight probe aborts it with RunnerStoppedError and writes nothing', async () => {
  const { clock, sink, runner } = setup({ intervalMs: 10_000, timeoutMs: 5_000 }, hanging, 0)
  runner.start()
  await clock.advance(1_000)
  assert.equal(runner.running, 1)
  await runner.stop()
  assert.equal(runner.running, 0)
  assert.equal(runner.abortReasons.length, 1)
  assert.ok(runner.abortReasons[0] instanceof RunnerStoppedError)
  assert.equal(clock.pendingTimers(), 0)
  await clock.advance(100_000)
  assert.deepEqual(sink.writes, [])
})

test('interval runner drops the result of a probe that resolves instead of rejecting at stop', async () => {
  const resolvesOnAbort: ProbeFn = (signal) =>
    new Promise((resolve) =>
      signal.addEventListener('abort', () => resolve({ status: 'passing', output: 'late' }), { once: true }),
    )
  const { clock, sink, runner } = setup({ intervalMs: 10_000 }, resolvesOnAbort, 0)
  runner.start()
  await clock.advance(0)
  await runner.stop()
  assert.equal(clock.pendingTimers(), 0)
  await clock.advance(100_000)
  assert.deepEqual(sink.writes, [])
})

test('interval runner stop resolves only after the in-flight probe settled', async () => {
  let release: () => void = () => undefined
  const slowToClean: ProbeFn = (signal) =>
    new Promise((_, reject) =>
      signal.addEventListener(
        'abort',
        () => {
          release = () => reject(signal.reason as Error)
        },
        { once: true },
      ),
    )
  const { clock, runner } = setup({ intervalMs: 10_000 }, slowToClean, 0)
  runner.start()
  await clock.advance(0)
  let stopped = false
  const stopping = runner.stop().then(() => {
    stopped = true
  })
  await clock.advance(0)
  assert.equal(stopped, false)
  assert.equal(runner.running, 1)
  release()
  await stopping
  assert.equal(stopped, true)
  assert.equal(runner.running, 0)
  assert.equal(clock.pendingTimers(), 0)
})

test('interval runner stop is idempotent and start after stop does nothing', async () => {
  const { clock, sink, runner } = setup({}, passing, 0)
  runner.start()
  await Promise.all([runner.stop(), runner.stop()])
  await runner.stop()
  runner.start()
  await clock.advance(100_000)
  assert.deepEqual(sink.writes, [])
  assert.equal(clock.pendingTimers(), 0)
})
