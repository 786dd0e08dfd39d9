import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { canonicalJson, encodeRow } from '../../src/catalog/keys.js'
import { deepFreeze } from '../../src/lib/object.js'

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

/** Every object reachable from `v` is frozen. */
function deeplyFrozen(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true
  return Object.isFrozen(v) && Object.values(v).every(deeplyFrozen)
}

/** The members of `v` in the order JavaScript lists them, at every level. */
function listed(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) return v.map(listed)
  return Object.entries(v).map(([k, m]) => [k, listed(m)])
}

test('encodeRow: the canonical text, and the value JSON.parse gives for it, deeply frozen', () => {
  fc.assert(
    fc.property(values, fc.boolean(), (v, freeze) => {
      const input: unknown = freeze ? deepFreeze(reversed(v)) : v
      const { text, value } = encodeRow(input)
      assert.equal(text, reference(v))
      const parsed: unknown = JSON.parse(text)
      assert.deepEqual(value, parsed)
      assert.deepEqual(listed(value), listed(parsed)) // the same key order, too
      assert.ok(deeplyFrozen(value))
      assert.equal(encodeRow(input).text, text)
      assert.equal(encodeRow(value).text, text)
    }),
    { numRuns: 3000 },
  )
})

test('encodeRow keeps frozen canonical objects as they are, and copies the others', () => {
  const tags = Object.freeze(['a', 'b'])
  const inner = Object.freeze({ a: 1, b: tags })
  const row = Object.freeze({ x: inner, y: 'y' })
  assert.equal(encodeRow(row).value, row)
  // Keys out of order, or not frozen: a sorted copy; the unchanged frozen members are shared.
  const unsorted = Object.freeze({ y: 'y', x: inner })
  const copy = encodeRow(unsorted).value as typeof row
  assert.notEqual(copy, unsorted)
  assert.equal(copy.x, inner)
  assert.deepEqual(Object.keys(copy), ['x', 'y'])
  // A deeply frozen object that is not canonical is copied once.
  assert.equal(encodeRow(unsorted).value, copy)
  const open = { a: 1, b: [1, 2] }
  assert.notEqual(encodeRow(open).value, open)
  // Undefined members, -0 and non-finite numbers are not canonical: they are dropped or turned.
  assert.deepEqual(encodeRow(Object.freeze({ a: undefined, b: -0, c: Number.NaN })).value, { b: 0, c: null })
  assert.equal(encodeRow(Object.freeze({ a: undefined, b: -0 })).text, '{"b":0}')
})

test('encodeRow never keeps the copy of an object whose members may still change', () => {
  const list = ['a']
  const shell = Object.freeze({ z: 1, a: list })
  assert.equal(encodeRow(shell).text, '{"a":["a"],"z":1}')
  list.push('b')
  assert.equal(encodeRow(shell).text, '{"a":["a","b"],"z":1}')
})

test('encodeRow writes array-index keys in canonical (code-unit) order', () => {
  const { text, value } = encodeRow(Object.freeze({ b: 1, 10: 'x', 9: 'y', a: 2 }))
  assert.equal(text, '{"10":"x","9":"y","a":2,"b":1}')
  assert.equal(canonicalJson(value), text)
  assert.equal(encodeRow({ ['__proto__']: 1 }).text, '{"__proto__":1}')
})
