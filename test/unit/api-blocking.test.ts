import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_HASH_WAIT_MS, MAX_HASH_WAIT_MS, hashBlockingQuery } from '../../src/api/blocking.js'
import { FakeClock, drainMicrotasks } from '../support/fake-clock.js'
import { track } from '../support/wait.js'

/** A value with a hash, a change feed and a count of reads. */
function source(initial: string) {
  let value = initial
  let reads = 0
  const listeners = new Set<() => void>()
  return {
    set(next: string) {
      value = next
      for (const l of listeners) l()
    },
    poke() {
      for (const l of listeners) l()
    },
    watch(onChange: () => void) {
      listeners.add(onChange)
      return () => listeners.delete(onChange)
    },
    compute: () => {
      reads++
      return { hash: value, value }
    },
    get reads() {
      return reads
    },
    get watchers() {
      return listeners.size
    },
  }
}

function query(
  clock: FakeClock,
  s: ReturnType<typeof source>,
  opts: { hash: string; waitMs: number; random?: number },
) {
  const abort = new AbortController()
  let settled: string | undefined
  const done = hashBlockingQuery({
    hash: opts.hash,
    waitMs: opts.waitMs,
    clock,
    random: () => opts.random ?? 0,
    signal: abort.signal,
    watch: (fn) => s.watch(fn),
    compute: s.compute,
  }).then((r) => (settled = r.value))
  return { abort, done, settled: () => settled }
}

test('hash query answers at once without a hash or with a different one', async () => {
  const clock = new FakeClock()
  const s = source('a')
  assert.equal(await query(clock, s, { hash: '', waitMs: 0 }).done, 'a')
  assert.equal(await query(clock, s, { hash: 'old', waitMs: 0 }).done, 'a')
  assert.equal(clock.pendingTimers(), 0)
  assert.equal(s.watchers, 0)
})

test('hash query blocks while the hash is unchanged and recomputes on every notification', async () => {
  const clock = new FakeClock()
  const s = source('a')
  const q = query(clock, s, { hash: 'a', waitMs: 10_000 })
  await drainMicrotasks()
  assert.equal(q.settled(), undefined)
  s.poke()
  await drainMicrotasks()
  assert.equal(q.settled(), undefined)
  assert.equal(s.reads, 2)
  s.set('b')
  await drainMicrotasks()
  assert.equal(q.settled(), 'b')
  assert.equal(s.watchers, 0)
  assert.equal(clock.pendingTimers(), 0)
})

test('hash query returns the unchanged result at the deadline, wait plus jitter', async () => {
  const clock = new FakeClock()
  const s = source('a')
  const q = query(clock, s, { hash: 'a', waitMs: 16_000, random: 0.5 })
  await drainMicrotasks()
  await clock.advance(16_499)
  assert.equal(q.settled(), undefined)
  await clock.advance(1)
  assert.equal(await q.done, 'a')
})

test('hash query defaults a zero wait to 5 minutes and clamps to 10 minutes', async () => {
  for (const [waitMs, expected] of [
    [0, DEFAULT_HASH_WAIT_MS],
    [60 * 60_000, MAX_HASH_WAIT_MS],
  ] as const) {
    const clock = new FakeClock()
    const q = query(clock, source('a'), { hash: 'a', waitMs })
    await drainMicrotasks()
    await clock.advance(expected - 1)
    assert.equal(q.settled(), undefined)
    await clock.advance(1)
    assert.equal(await q.done, 'a')
  }
})

test('hash query answers at once when aborted (server closing, client gone)', async () => {
  const clock = new FakeClock()
  const s = source('a')
  const q = query(clock, s, { hash: 'a', waitMs: 60_000 })
  await drainMicrotasks()
  assert.equal(q.settled(), undefined)
  q.abort.abort()
  await drainMicrotasks()
  assert.equal(q.settled(), 'a')
  assert.equal(s.watchers, 0)
  assert.equal(clock.pendingTimers(), 0)
})

test('hash query ends with the error compute throws, and unsubscribes', async () => {
  const clock = new FakeClock()
  let present = true
  const listeners = new Set<() => void>()
  const done = track(
    hashBlockingQuery({
      hash: 'a',
      waitMs: 60_000,
      clock,
      random: () => 0,
      signal: new AbortController().signal,
      watch: (fn) => {
        listeners.add(fn)
        return () => listeners.delete(fn)
      },
      compute: () => {
        if (!present) throw new Error('gone')
        return { hash: 'a', value: 'a' }
      },
    }),
  )
  await drainMicrotasks()
  assert.equal(done.settled(), false)
  present = false
  for (const l of listeners) l()
  await drainMicrotasks()
  assert.equal(done.settled(), true)
  await assert.rejects(done.promise, /gone/)
  assert.equal(listeners.size, 0)
})
