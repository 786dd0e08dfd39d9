import assert from 'node:assert/strict'
import { test } from 'node:test'
import { drainMicrotasks } from '../support/fake-clock.js'
import { KeyedLocks, KeyedQueue } from '../../src/lib/keyed-queue.js'

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

test('keyed locks order tasks sharing a key, run disjoint ones concurrently, and runAll waits for all', async () => {
  const locks = new KeyedLocks()
  const log: string[] = []
  const gate = (name: string): { task: () => Promise<void>; open: () => void } => {
    let open: () => void = () => {}
    const opened = new Promise<void>((r) => (open = r))
    return {
      task: async () => {
        log.push(`${name}+`)
        await opened
        log.push(`${name}-`)
      },
      open,
    }
  }
  const a = gate('a')
  const b = gate('b')
  const pa = locks.run(['x', 'y'], a.task)
  const pb = locks.run(['z'], b.task)
  const pc = locks.run(['y', 'z'], () => Promise.resolve(void log.push('c')))
  const pall = locks.runAll(() => Promise.resolve(void log.push('all')))
  const pd = locks.run(['w'], () => Promise.resolve(void log.push('d')))
  await drainMicrotasks()
  assert.deepEqual(log, ['a+', 'b+'], 'c waits for a and b; d waits for runAll')
  b.open()
  await drainMicrotasks()
  assert.deepEqual(log, ['a+', 'b+', 'b-'])
  a.open()
  await Promise.all([pa, pb, pc, pall, pd])
  assert.deepEqual(log, ['a+', 'b+', 'b-', 'a-', 'c', 'all', 'd'])
  await drainMicrotasks()
  assert.equal(locks.size, 0)
  await assert.rejects(locks.run(['x'], () => Promise.reject(new Error('boom'))))
  assert.equal(await locks.run(['x'], () => Promise.resolve(7)), 7, 'a failure releases its keys')
})
