import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatGoDurationMs, parseGoDurationMs, parseGoDurationNs } from '../../src/lib/duration.js'

test('durations parse like Go time.ParseDuration', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['10s', 10_000],
    ['1.5m', 90_000],
    ['300000ms', 300_000],
    ['9.994812s', 9994.812],
    ['1h2m3s', 3_723_000],
    ['-2s', -2000],
    ['1us', 0.001],
    ['1µs', 0.001],
  ]
  for (const [input, ms] of cases) assert.equal(parseGoDurationMs(input), ms, input)
  assert.equal(parseGoDurationNs('15ns'), 15)
})

test('durations reject what Go rejects', () => {
  for (const bad of ['', '10', 'x', '1d', '.s', '1.2.3s', 's', '-', '10 s']) {
    assert.throws(
      () => parseGoDurationMs(bad),
      { message: `time: invalid duration ${JSON.stringify(bad)}` },
      bad,
    )
  }
})

test('durations format like Go Duration.String', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [10_000, '10s'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
    [1500, '1.5s'],
    [100, '100ms'],
    [0.5, '500µs'],
    [-2000, '-2s'],
  ]
  for (const [ms, s] of cases) assert.equal(formatGoDurationMs(ms), s, s)
})
