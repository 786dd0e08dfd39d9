import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RunnerContext } from '../../src/agent/checks/runner.js'
import { TtlRunner } from '../../src/agent/checks/ttl-check.js'
import { FakeClock } from '../support/fake-clock.js'
import { contextWithSink, TimedSink } from '../support/runner-context.js'

const T0 = 1_700_000_000_000

function setup(
  ttlMs: number,
  resume?: RunnerContext['resume'],
): { clock: FakeClock; sink: TimedSink; ttl: TtlRunner } {
  const clock = new FakeClock(T0)
  const sink = new TimedSink(clock, T0)
  const ctx = contextWithSink(sink, { type: 'ttl', ttlMs }, { checkId: 'web-ttl', clock, resume })
  return { clock, sink, ttl: new TtlRunner(ctx) }
}

test('ttl runner turns critical with "TTL expired" when the ttl lapses without an update', async (t) => {
  const { clock, sink, ttl } = setup(10_000)
  t.after(() => ttl.stop())
  ttl.start()
  await clock.advance(9_999)
  assert.deepEqual(sink.writes, [])
  await clock.advance(1)
  assert.deepEqual(sink.writes, [{ status: 'critical', output: 'TTL expired', atMs: 10_000 }])
})

test('ttl runner quotes the last output given with an update when it expires', async (t) => {
  const { clock, sink, ttl } = setup(10_000)
  t.after(() => ttl.stop())
  ttl.start()
  await clock.advance(1_000)
  ttl.rearm('all good')
  await clock.advance(10_000)
  assert.deepEqual(sink.writes, [
    {
      status: 'critical',
      output: 'TTL expired (last output before timeout follows): all good',
      atMs: 11_000,
    },
  ])
})

test('ttl runner says only "TTL expired" when the last update had empty output', async (t) => {
  const { clock, sink, ttl } = setup(10_000)
  t.after(() => ttl.stop())
  ttl.start()
  ttl.rearm('first')
  await clock.advance(1_000)
  ttl.rearm('')
  await clock.advance(10_000)
  assert.deepEqual(
    sink.writes.map((w) => w.output),
    ['TTL expired'],
  )
})

test('ttl runner restarts the full ttl at every rearm', async (t) => {
  const { clock, sink, ttl } = setup(10_000)
  t.after(() => ttl.stop())
  ttl.start()
  await clock.advance(8_000)
  ttl.rearm('a')
  await clock.advance(9_999)
  assert.deepEqual(sink.writes, [])
  ttl.rearm('b')
  await clock.advance(9_999)
  assert.deepEqual(sink.writes, [])
  await clock.advance(1)
  assert.deepEqual(sink.writes, [
    { status: 'critical', output: 'TTL expired (last output before timeout follows): b', atMs: 27_999 },
  ])
})

test('ttl runner does not re-arm after expiry until the next rearm', async (t) => {
  const { clock, sink, ttl } = setup(10_000)
  t.after(() => ttl.stop())
  ttl.start()
  await clock.advance(10_000)
  assert.equal(sink.writes.length, 1)
  await clock.advance(1_000_000)
  assert.equal(sink.writes.length, 1)
  ttl.rearm('back')
  await clock.advance(9_999)
  assert.equal(sink.writes.length, 1)
  await clock.advance(1)
  assert.deepEqual(sink.writes[1], {
    status: 'critical',
    output: 'TTL expired (last output before timeout follows): back',
    atMs: 1_020_000,
  })
})

test('ttl runner resumed from saved state expires after the remaining ttl, quoting the saved output', async (t) => {
  const { clock, sink, ttl } = setup(10_000, { ttlRemainingMs: 3_000, lastOutput: 'restored' })
  t.after(() => ttl.stop())
  ttl.start()
  await clock.advance(2_999)
  assert.deepEqual(sink.writes, [])
  await clock.advance(1)
  assert.deepEqual(sink.writes, [
    { status: 'critical', output: 'TTL expired (last output before timeout follows): restored', atMs: 3_000 },
  ])
})

test('ttl runner resumed from saved state uses the full ttl after a rearm', async (t) => {
  const { clock, sink, ttl } = setup(10_000, { ttlRemainingMs: 3_000, lastOutput: 'restored' })
  t.after(() => ttl.stop())
  ttl.start()
  await clock.advance(1_000)
  ttl.rearm('fresh')
  await clock.advance(9_999)
  assert.equal(sink.writes.length, 0)
  await clock.advance(1)
  assert.deepEqual(
    sink.writes.map((w) => w.output),
    ['TTL expired (last output before timeout follows): fresh'],
  )
})

test('ttl runner stop leaves no timer and nothing expires afterwards', async () => {
  const { clock, sink, ttl } = setup(10_000)
  ttl.start()
  await clock.advance(5_000)
  assert.equal(clock.pendingTimers(), 1)
  await ttl.stop()
  assert.equal(clock.pendingTimers(), 0)
  await clock.advance(100_000)
  assert.deepEqual(sink.writes, [])
})

test('ttl runner stop after expiry leaves no idle timer behind', async () => {
  const { clock, sink, ttl } = setup(10_000)
  ttl.start()
  await clock.advance(10_000)
  assert.equal(sink.writes.length, 1)
  await ttl.stop()
  assert.equal(clock.pendingTimers(), 0)
  ttl.rearm('too late')
  await clock.advance(100_000)
  assert.equal(sink.writes.length, 1)
})

test('ttl runner stop called while a rearm is pending writes nothing', async () => {
  const { clock, sink, ttl } = setup(10_000)
  ttl.start()
  await clock.advance(9_000)
  ttl.rearm('x')
  const stopping = ttl.stop()
  await clock.advance(20_000)
  await stopping
  assert.equal(clock.pendingTimers(), 0)
  assert.deepEqual(sink.writes, [])
})
