import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Thresholds, type ProbeResult } from '../../src/agent/checks/runner.js'
import type { Status } from '../../src/structs/check.js'

const pass: ProbeResult = { status: 'passing', output: 'ok' }
const warn: ProbeResult = { status: 'warning', output: 'meh' }
const crit: ProbeResult = { status: 'critical', output: 'down' }

/** Feeds results in order; returns what was reported for each (null = nothing written). */
function feed(t: Thresholds, results: readonly ProbeResult[]): (string | null)[] {
  return results.map((r) => {
    const out = t.observe(r)
    return out === null ? null : `${out.status}:${out.output}`
  })
}

const P = 'passing:ok'
const W = 'warning:meh'
const C = 'critical:down'
const CW = 'warning:down'

test('thresholds report every result when all thresholds are 0', () => {
  const t = new Thresholds(0, 0, 0)
  assert.deepEqual(feed(t, [pass, crit, crit, warn, pass, crit]), [P, C, C, W, P, C])
})

test('thresholds report the first passing result after a start whatever success_before_passing', () => {
  assert.deepEqual(feed(new Thresholds(3, 0, 0), [pass]), [P])
})

test('thresholds report the first critical result after a start whatever failures_before_critical', () => {
  assert.deepEqual(feed(new Thresholds(0, 3, 3), [crit]), [C])
  assert.deepEqual(feed(new Thresholds(0, 1, 5), [crit]), [C])
})

test('thresholds hold passing back until success_before_passing consecutive successes', () => {
  const t = new Thresholds(3, 0, 0)
  assert.deepEqual(feed(t, [crit, pass, pass, pass, pass]), [C, null, null, P, P])
})

test('thresholds count warning results as successes', () => {
  const t = new Thresholds(2, 0, 0)
  assert.deepEqual(feed(t, [crit, warn, pass]), [C, null, P])
  assert.deepEqual(feed(new Thresholds(2, 0, 0), [crit, pass, warn]), [C, null, W])
})

test('thresholds hold critical back until failures_before_critical consecutive failures', () => {
  const t = new Thresholds(0, 3, 3)
  assert.deepEqual(feed(t, [pass, crit, crit, crit, crit]), [P, null, null, C, C])
})

test('thresholds report warning with the critical output from failures_before_warning on', () => {
  const t = new Thresholds(0, 1, 3)
  assert.deepEqual(feed(t, [pass, crit, crit, crit, crit]), [P, CW, CW, C, C])
  const u = new Thresholds(0, 2, 4)
  assert.deepEqual(feed(u, [pass, crit, crit, crit, crit]), [P, null, CW, CW, C])
})

test('thresholds reset the failure count on a success and the success count on a failure', () => {
  const t = new Thresholds(2, 2, 2)
  assert.deepEqual(
    feed(t, [pass, crit, pass, crit, pass, pass, crit, crit]),
    // first pass reported; crit 1 held; pass resets fail and is success 1 (held);
    // crit 1 held again; two passes reach 2; two crits reach 2.
    [P, null, null, null, null, P, null, C],
  )
})

test('thresholds let results marked bypassThresholds through without touching the counters', () => {
  const t = new Thresholds(0, 3, 3)
  const timeout: ProbeResult = { status: 'critical', output: 'Timed out', bypassThresholds: true }
  assert.deepEqual(feed(t, [pass, timeout, crit, crit, crit]), [P, 'critical:Timed out', null, null, C])
})

test('thresholds counters start fresh in a new instance (re-registration)', () => {
  const first = new Thresholds(0, 3, 3)
  assert.deepEqual(feed(first, [pass, crit, crit]), [P, null, null])
  const second = new Thresholds(0, 3, 3)
  const statuses: (Status | undefined)[] = [second.observe(crit)?.status]
  assert.deepEqual(statuses, ['critical'])
})
