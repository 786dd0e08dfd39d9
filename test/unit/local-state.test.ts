import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Change } from '../../src/agent/checks/ports.js'
import { LocalState } from '../../src/agent/local/local-state.js'
import { FakeClock } from '../support/fake-clock.js'
import { checkRegistration, serviceRecord } from '../support/records.js'

function newState(): { state: LocalState; clock: FakeClock; changes: Change[] } {
  const clock = new FakeClock()
  const state = new LocalState({ nodeName: 'node1', clock })
  const changes: Change[] = []
  state.subscribe((c) => changes.push(c))
  return { state, clock, changes }
}

test('local state hands out frozen snapshots that never change after a write', () => {
  const { state } = newState()
  const [entry] = state.apply({ checks: [checkRegistration({ id: 'c1' })] })
  assert.ok(entry)
  const before = state.check('c1')
  assert.ok(Object.isFrozen(before) && Object.isFrozen(before?.check))
  state.updateCheck('c1', entry.generation, 'passing', 'ok')
  assert.equal(before?.check.status, 'critical', 'the old snapshot is untouched')
  assert.equal(state.check('c1')?.check.status, 'passing')
  const list = state.checks()
  assert.ok(Object.isFrozen(list))
  state.apply({ removeCheckIds: ['c1'] })
  assert.equal(list.length, 1, 'a listed snapshot keeps its length after a removal')
})

test('local state rejects writes from an older generation when a check is re-registered', () => {
  const { state } = newState()
  const [first] = state.apply({ checks: [checkRegistration({ id: 'c1' })] })
  const [second] = state.apply({ checks: [checkRegistration({ id: 'c1' })] })
  assert.ok(first && second && second.generation > first.generation)
  assert.equal(state.updateCheck('c1', first.generation, 'passing', 'old'), 'stale')
  assert.equal(state.updateCheck('c1', second.generation, 'passing', 'new'), 'applied')
  assert.equal(state.check('c1')?.check.output, 'new')
  assert.equal(state.stats.rejectedStaleWrites, 1)
  state.apply({ removeCheckIds: ['c1'] })
  assert.equal(state.updateCheck('c1', second.generation, 'critical', 'late'), 'missing')
})

test('local state keeps status and output when a check is re-registered', () => {
  const { state } = newState()
  const [first] = state.apply({ checks: [checkRegistration({ id: 'c1', status: 'critical' })] })
  assert.ok(first)
  state.updateCheck('c1', first.generation, 'warning', 'slow')
  state.apply({ checks: [checkRegistration({ id: 'c1', status: 'passing' })] })
  assert.equal(state.check('c1')?.check.status, 'warning')
  assert.equal(state.check('c1')?.check.output, 'slow')
})

test('local state notifies after the change is visible, and an identical write wakes nobody', () => {
  const { state, changes } = newState()
  const seen: string[] = []
  state.subscribe((c) => {
    if (c.kind === 'check') seen.push(state.check(c.checkId)?.check.status ?? 'gone')
  })
  const [e] = state.apply({ checks: [checkRegistration({ id: 'c1' })] })
  assert.ok(e)
  state.updateCheck('c1', e.generation, 'passing', 'ok')
  const count = changes.length
  assert.equal(state.updateCheck('c1', e.generation, 'passing', 'ok'), 'unchanged')
  assert.equal(changes.length, count)
  assert.deepEqual(seen, ['critical', 'passing'])
})

test('local state unsubscribes only the caller', () => {
  const { state } = newState()
  const a: Change[] = []
  const b: Change[] = []
  const offA = state.subscribe((c) => a.push(c))
  state.subscribe((c) => b.push(c))
  offA()
  offA()
  state.apply({ service: { service: serviceRecord('web'), token: '', source: 'remote' } })
  assert.equal(a.length, 0)
  assert.equal(b.length, 1)
})

test('local state tracks critical time and the last status change', async () => {
  const { state, clock } = newState()
  const [e] = state.apply({ checks: [checkRegistration({ id: 'c1', status: 'passing' })] })
  assert.ok(e)
  assert.equal(state.check('c1')?.criticalSinceMs, null)
  await clock.advance(1000)
  state.updateCheck('c1', e.generation, 'critical', 'down')
  const since = state.check('c1')?.criticalSinceMs
  assert.equal(since, clock.now())
  await clock.advance(1000)
  state.updateCheck('c1', e.generation, 'critical', 'still down')
  assert.equal(state.check('c1')?.criticalSinceMs, since, 'critical time is kept while critical')
  state.updateCheck('c1', e.generation, 'passing', 'up')
  assert.equal(state.check('c1')?.criticalSinceMs, null)
  assert.equal(state.check('c1')?.statusChangedMs, clock.now())
})

test('local state aggregates a service with node checks, maintenance first', () => {
  const { state } = newState()
  state.apply({
    service: { service: serviceRecord('web'), token: '', source: 'remote' },
    checks: [
      checkRegistration({ id: 'svc', serviceId: 'web', status: 'passing' }),
      checkRegistration({ id: 'node', status: 'warning' }),
      checkRegistration({ id: 'other', serviceId: 'db', status: 'critical' }),
    ],
  })
  assert.equal(state.serviceHealth('web').status, 'warning')
  state.apply({ checks: [checkRegistration({ id: '_node_maintenance', status: 'critical' })] })
  assert.equal(state.serviceHealth('web').status, 'maintenance')
})

test('local state stores no output at all under discard_check_output', () => {
  const state = new LocalState({ nodeName: 'node1', clock: new FakeClock(), discardOutput: true })
  const [e] = state.apply({
    checks: [checkRegistration({ id: 'c1' })],
    initialStatus: new Map([['c1', { status: 'passing' as const, output: 'restored text' }]]),
  })
  assert.ok(e)
  assert.equal(state.check('c1')?.check.output, '')
  assert.equal(state.updateCheck('c1', e.generation, 'critical', 'connection refused'), 'applied')
  assert.deepEqual([state.check('c1')?.check.status, state.check('c1')?.check.output], ['critical', ''])
})
