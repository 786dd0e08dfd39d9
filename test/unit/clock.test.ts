import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_TIMEOUT_MS, systemClock } from '../../src/lib/clock.js'

interface Armed {
  readonly delay: number
  readonly fire: () => void
  cleared: boolean
}

/** Replaces the global setTimeout/clearTimeout for the test with a recorder fired by hand. */
function recordTimeouts(t: { after(fn: () => void): void }): Armed[] {
  const armed: Armed[] = []
  const realSet = globalThis.setTimeout
  const realClear = globalThis.clearTimeout
  const fakeSet = (fn: () => void, delay: number): object => {
    const entry: Armed = { delay, fire: fn, cleared: false }
    armed.push(entry)
    return { unref: () => undefined, entry }
  }
  const fakeClear = (handle: { entry?: Armed } | undefined): void => {
    if (handle?.entry !== undefined) handle.entry.cleared = true
  }
  globalThis.setTimeout = fakeSet as unknown as typeof setTimeout
  globalThis.clearTimeout = fakeClear as unknown as typeof clearTimeout
  t.after(() => {
    globalThis.setTimeout = realSet
    globalThis.clearTimeout = realClear
  })
  return armed
}

test('systemClock never asks Node for a delay it would cut to 1 ms: long waits are chained', (t) => {
  const armed = recordTimeouts(t)
  let fired = 0
  const ms = 2 * MAX_TIMEOUT_MS + 5
  systemClock.setTimer(ms, () => fired++)
  for (let step = 0; step < 3; step++) {
    const entry = armed[step]
    assert.ok(entry !== undefined, `step ${step} armed`)
    assert.ok(entry.delay <= MAX_TIMEOUT_MS, `step ${step} delay ${entry.delay}`)
    assert.equal(fired, 0)
    entry.fire()
  }
  assert.deepEqual(
    armed.map((a) => a.delay),
    [MAX_TIMEOUT_MS, MAX_TIMEOUT_MS, 5],
  )
  assert.equal(fired, 1)
})

test('systemClock cancels a chained timer between steps', (t) => {
  const armed = recordTimeouts(t)
  let fired = 0
  const timer = systemClock.setTimer(MAX_TIMEOUT_MS + 1, () => fired++)
  armed[0]?.fire()
  timer.cancel()
  assert.equal(armed.length, 2)
  assert.equal(armed[1]?.cleared, true)
  assert.equal(fired, 0)
  systemClock.setTimer(-5, () => fired++)
  assert.equal(armed[2]?.delay, 0)
})
