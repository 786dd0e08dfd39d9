import assert from 'node:assert/strict'
import { test } from 'node:test'
import { errorMessage } from '../../src/lib/errors.js'
import { deepFreeze, setOwn } from '../../src/lib/object.js'
import { isGoPrintRune, isGoPrintText } from '../../src/lib/unicode.js'

test('setOwn makes an own enumerable property even for __proto__', () => {
  const o: Record<string, unknown> = {}
  setOwn(o, '__proto__', { polluted: true })
  setOwn(o, 'a', 1)
  assert.deepEqual(Object.keys(o), ['__proto__', 'a'])
  assert.equal(Object.getPrototypeOf(o), Object.prototype)
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
})

test('deepFreeze freezes every reachable object in place, iteratively', () => {
  const value = { a: { b: [1, { c: 2 }] }, d: 'x' }
  assert.equal(deepFreeze(value), value)
  assert.ok(Object.isFrozen(value) && Object.isFrozen(value.a) && Object.isFrozen(value.a.b))
  assert.ok(Object.isFrozen(value.a.b[1]))
  let deep: unknown[] = []
  const root = deep
  for (let i = 0; i < 100_000; i++) {
    const next: unknown[] = []
    deep.push(next)
    deep = next
  }
  deepFreeze(root)
  assert.ok(Object.isFrozen(deep))
  assert.equal(deepFreeze('text'), 'text')
  assert.equal(deepFreeze(null), null)
})

test('errorMessage shows an Error by its message and anything else as a string', () => {
  assert.equal(errorMessage(new TypeError('bad')), 'bad')
  assert.equal(errorMessage('plain'), 'plain')
  assert.equal(errorMessage(42), '42')
})

test('isGoPrintRune and isGoPrintText follow Go unicode.IsPrint', () => {
  for (const ch of ['a', 'é', '€', '1', ' ', '日', '\u0301']) assert.ok(isGoPrintRune(ch), JSON.stringify(ch))
  for (const ch of ['\n', '\t', '\u00a0', '\u2028', '\u200b', '\x7f'])
    assert.ok(!isGoPrintRune(ch), JSON.stringify(ch))
  assert.ok(isGoPrintText(''))
  assert.ok(isGoPrintText('/v1/kv/café ok'))
  assert.ok(!isGoPrintText('/v1/a\tb'))
})
