import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { canonicalJson } from '../../src/catalog/keys.js'

/** The definition canonicalJson must keep: keys sorted at every level, undefined members left out. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null)
  if (Array.isArray(value)) return `[${value.map((v: unknown) => reference(v)).join(',')}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`).join(',')}}`
}

/** The same members inserted in reverse order, at every level. */
function reversed(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(reversed)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value).reverse()) {
    Object.defineProperty(out, k, {
      value: reversed(v),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}

const values = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, undefined, true, false, 0, -0, 1.5, -7, 2 ** 60, Number.NaN),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.constantFrom('a', 'b', 'c', 'id', 'Id', 'ID', '__proto__', '10', '2', 'é', ''),
      tie('value'),
      {
        maxKeys: 6,
      },
    ),
  ),
})).value

test('canonicalJson encodes as the sorted-keys definition, whatever the insertion order', () => {
  fc.assert(
    fc.property(values, (v) => {
      const text = canonicalJson(v)
      assert.equal(text, reference(v))
      assert.equal(canonicalJson(reversed(v)), text)
    }),
    { numRuns: 2000 },
  )
})

test('canonicalJson is stable through a JSON round trip (a stored row compares equal to its encoding)', () => {
  fc.assert(
    fc.property(values, (v) => {
      const text = canonicalJson(v)
      assert.equal(canonicalJson(JSON.parse(text)), text)
    }),
    { numRuns: 2000 },
  )
})

test('canonicalJson tells apart objects whose keys share the first one and the count', () => {
  // Sorted key lists are remembered by first key and count: every key must still be compared.
  assert.equal(canonicalJson({ a: 1, c: 2, b: 3 }), '{"a":1,"b":3,"c":2}')
  assert.equal(canonicalJson({ a: 1, d: 2, b: 3 }), '{"a":1,"b":3,"d":2}')
  assert.equal(canonicalJson({ a: 1, c: 2, b: 3 }), '{"a":1,"b":3,"c":2}')
  assert.equal(canonicalJson({ a: 1, b: 3, c: 2 }), '{"a":1,"b":3,"c":2}')
  assert.equal(canonicalJson({ a: 1, b: undefined, c: 2 }), '{"a":1,"c":2}')
  assert.equal(canonicalJson({}), '{}')
  assert.equal(canonicalJson([undefined, null]), '[null,null]')
})
