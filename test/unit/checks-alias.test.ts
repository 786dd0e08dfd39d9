import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Agent } from '../../src/agent/agent.js'
import { createRunner } from '../../src/agent/checks/factory.js'
import { LocalState } from '../../src/agent/local/local-state.js'
import { checkRegistration, serviceRegistration, startTestAgent } from '../support/agent-harness.js'
import { drainMicrotasks, FakeClock } from '../support/fake-clock.js'
import { Gates } from '../support/gates.js'
import { contextWithSink, RecordingSink } from '../support/runner-context.js'

/**
 * Alias wake-ups that must come from notifications alone (DESIGN.md rule 2): every test here
 * leaves the fake clock where it was, so the reconcile timer cannot be what makes it pass.
 */

const U = 'service:web'
const A = 'service:web-sidecar-proxy:2'

const webRegistration = serviceRegistration('web', [
  checkRegistration({ id: U, serviceId: 'web', definition: { type: 'ttl', ttlMs: 3_600_000, tcp: '' } }),
])
const sidecarRegistration = serviceRegistration('web-sidecar-proxy', [
  checkRegistration({
    id: A,
    serviceId: 'web-sidecar-proxy',
    definition: { type: 'alias', aliasService: 'web', intervalMs: 0, tcp: '' },
  }),
])

function status(agent: Agent, id: string): string | undefined {
  return agent.state.check(id)?.check.status
}

/** web (U passing) and its sidecar alias A, settled, with the clock never advanced. */
async function aliasedWeb(clock: FakeClock, gates?: Gates): Promise<Agent> {
  const agent = await startTestAgent({
    clock,
    ...(gates !== undefined ? { yieldPoint: gates.yieldPoint } : {}),
  })
  await agent.registerService(webRegistration, { replaceExistingChecks: false })
  await agent.updateTtl(U, 'passing', 'ok')
  if (gates === undefined) {
    await agent.registerService(sidecarRegistration, { replaceExistingChecks: false })
    await drainMicrotasks()
    assert.equal(status(agent, A), 'passing')
  }
  return agent
}

test('alias: node maintenance wakes the alias at once, without a clock advance', async () => {
  const clock = new FakeClock()
  const start = clock.now()
  const agent = await aliasedWeb(clock)
  await agent.setNodeMaintenance(true, 'upgrade', '')
  await drainMicrotasks()
  assert.equal(status(agent, '_node_maintenance'), 'critical')
  assert.equal(status(agent, A), 'critical', 'a node-level change concerns every alias')
  await agent.setNodeMaintenance(false, '', '')
  await drainMicrotasks()
  assert.equal(status(agent, A), 'passing', 'and so does its removal')
  assert.equal(clock.now(), start, 'no timer fired')
  await agent.shutdown()
})

test('alias: a node-level check turning critical wakes the alias, without a clock advance', async () => {
  const clock = new FakeClock()
  const start = clock.now()
  const agent = await aliasedWeb(clock)
  await agent.registerCheck(
    checkRegistration({
      id: 'node-ttl',
      status: 'passing',
      definition: { type: 'ttl', ttlMs: 3_600_000, tcp: '' },
    }),
  )
  await drainMicrotasks()
  assert.equal(status(agent, A), 'passing')
  await agent.updateTtl('node-ttl', 'critical', 'disk full')
  await drainMicrotasks()
  assert.equal(status(agent, A), 'critical')
  await agent.updateTtl('node-ttl', 'warning', 'disk nearly full')
  await drainMicrotasks()
  assert.equal(status(agent, A), 'warning')
  assert.equal(clock.now(), start, 'no timer fired')
  await agent.shutdown()
})

test('alias: a flip between its first read and its first write is seen (subscribe, then read)', async () => {
  // The alias subscribes before its first read. Holding it after that read (U = critical, not
  // yet written) and flipping U there, the flip's notification wakes it again. A runner that
  // read first and subscribed only later would miss the flip and keep `critical` until the
  // reconcile, which this test never lets fire.
  const clock = new FakeClock()
  const start = clock.now()
  const gates = new Gates()
  const agent = await aliasedWeb(clock, gates)
  await agent.updateTtl(U, 'critical', 'down')
  const firstWrite = `alias.beforeWrite:${A}`
  gates.hold(firstWrite)
  await agent.registerService(sidecarRegistration, { replaceExistingChecks: false })
  await gates.arrival(firstWrite)
  await agent.updateTtl(U, 'passing', 'up again')
  gates.release(firstWrite)
  await drainMicrotasks()
  assert.equal(status(agent, U), 'passing')
  assert.equal(status(agent, A), 'passing', 'the alias ends equal to its target')
  assert.equal(clock.now(), start, 'no timer fired')
  await agent.shutdown()
})

test('alias: the reconcile interval is required, never defaulted by the runner', () => {
  const state = new LocalState({ nodeName: 'node1', clock: new FakeClock() })
  const ctx = contextWithSink(new RecordingSink(), { type: 'alias', aliasService: 'web' })
  assert.throws(() => createRunner({ ...ctx, local: state }), /reconcile interval/)
  const runner = createRunner({ ...ctx, local: state, aliasReconcileMs: 1_000 })
  assert.ok(runner !== null)
})
