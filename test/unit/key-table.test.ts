import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { KeyTable } from '../../src/store/key-table.js'
import type { KeyValue } from '../../src/store/store.js'

function kv(key: string, value: string): KeyValue {
  return { key, value, createRevision: 1, modRevision: 1, version: 1, lease: null }
}

function sorted(values: Iterable<KeyValue>): string[] {
  return [...values].map((v) => `${v.key}=${v.value}`).sort()
}

type Step =
  | { readonly op: 'set'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'freeze' }
  | { readonly op: 'thaw' }
  | { readonly op: 'fold'; readonly max: number }
  /** Reads the next few values of the frozen iterable, as a snapshot writer does between awaits. */
  | { readonly op: 'read'; readonly n: number }

const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.string({ maxLength: 2 }) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('freeze' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('thaw' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('fold' as const), max: fc.nat({ max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('read' as const), n: fc.nat({ max: 3 }) }) },
)

test('key table reads like a Map and a freeze yields the values as of the freeze, whatever changes after it', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const table = new KeyTable()
      const model = new Map<string, KeyValue>()
      let frozen: { expected: string[]; read: KeyValue[]; it: Iterator<KeyValue> } | undefined
      const finishRead = (): void => {
        if (frozen === undefined) return
        for (let r = frozen.it.next(); r.done !== true; r = frozen.it.next()) frozen.read.push(r.value)
        assert.deepEqual(sorted(frozen.read), frozen.expected)
        frozen = undefined
      }
      for (const s of steps) {
        switch (s.op) {
          case 'set': {
            const value = kv(s.key, s.value)
            table.set(s.key, value)
            model.set(s.key, value)
            break
          }
          case 'delete':
            table.delete(s.key)
            model.delete(s.key)
            break
          case 'freeze':
            if (frozen !== undefined) {
              assert.throws(() => table.freeze())
              break
            }
            {
              const f = table.freeze()
              assert.equal(f.size, model.size)
              frozen = { expected: sorted(model.values()), read: [], it: f.values[Symbol.iterator]() }
            }
            break
          case 'thaw':
            // The capture is read to the end before it is released (the journal's order).
            finishRead()
            table.thaw()
            break
          case 'fold':
            table.fold(s.max)
            break
          case 'read':
            if (frozen === undefined) break
            for (let i = 0; i < s.n; i++) {
              const r = frozen.it.next()
              if (r.done === true) break
              frozen.read.push(r.value)
            }
            break
        }
        assert.equal(table.size, model.size)
        for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) assert.equal(table.get(k), model.get(k))
        assert.deepEqual(sorted(table.values()), sorted(model.values()))
      }
      finishRead()
      table.thaw()
      assert.equal(table.fold(Infinity), true)
      assert.deepEqual(sorted(table.values()), sorted(model.values()))
    }),
    { numRuns: 2000 },
  )
})
