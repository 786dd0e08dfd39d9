import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { LatencySketch } from '../../src/api/latency-sketch.js'

/** The exact nearest-rank quantile. */
function exact(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] ?? Number.NaN
}

test('latency sketch: every quantile within 2.2% of the exact one; count and sum exact', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 1e-4, max: 600_000, noNaN: true }), { minLength: 1, maxLength: 500 }),
      fc.constantFrom(0, 0.5, 0.9, 0.99, 1),
      (values, q) => {
        const sketch = new LatencySketch()
        for (const v of values) sketch.observe(v)
        const want = exact(values, q)
        const got = sketch.quantile(q)
        assert.ok(Math.abs(got - want) <= want * 0.022, `q=${q}: ${got} for ${want}`)
        assert.equal(sketch.count, values.length)
        assert.ok(Math.abs(sketch.sum - values.reduce((a, b) => a + b, 0)) < 1e-6 * sketch.sum + 1e-9)
      },
    ),
    { numRuns: 500 },
  )
})

test('latency sketch: nothing recorded is NaN; zero and negative durations count as 0', () => {
  const sketch = new LatencySketch()
  assert.ok(Number.isNaN(sketch.quantile(0.5)))
  sketch.observe(0)
  sketch.observe(-3)
  sketch.observe(5)
  assert.equal(sketch.quantile(0.5), 0)
  assert.equal(sketch.quantile(1), 5)
  assert.equal(sketch.sum, 5)
})
