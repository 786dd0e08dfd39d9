import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KeyedQueue } from '../../src/lib/keyed-queue.js'

test('keyed queue runs tasks of one key in order and other keys independently', async () => {
  const q = new KeyedQueue()
  const log: string[] = []
  let releaseA: () => void = () => {}
  const a1 = q.run(
    'a',
    () =>
      new Promise<void>(
        (r) =>
          (releaseA = () => {
            log.push('a1')
            r()
          }),
      ),
  )
  const a2 = q.run('a', () => Promise.resolve(void log.push('a2')))
  const b1 = q.run('b', () => Promise.resolve(void log.push('b1')))
  await b1
  assert.deepEqual(log, ['b1'])
  releaseA()
  await Promise.all([a1, a2])
  assert.deepEqual(log, ['b1', 'a1', 'a2'])
  assert.equal(q.size, 0)
})

test('keyed queue keeps going after a failing task', async () => {
  const q = new KeyedQueue()
  await assert.rejects(q.run('a', () => Promise.reject(new Error('boom'))))
  assert.equal(await q.run('a', () => Promise.resolve(7)), 7)
})
