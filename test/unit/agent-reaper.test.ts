import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FakeClock } from '../support/fake-clock.js'
import { normalizeServiceDefinition } from '../../src/structs/normalize.js'
import { startTestAgent } from '../support/agent-harness.js'

test('a service whose check stays critical past deregister_critical_service_after is reaped', async (t) => {
  const clock = new FakeClock()
  const agent = await startTestAgent({ clock })
  t.after(() => agent.shutdown())
  const ctx = agent.normalizeContext('api')
  await agent.registerService(
    normalizeServiceDefinition(
      { Name: 'web', Check: { TTL: '1h', DeregisterCriticalServiceAfter: '90s' } },
      ctx,
    ),
    { replaceExistingChecks: false },
  )
  await agent.registerService(
    normalizeServiceDefinition(
      { Name: 'db', Check: { TTL: '10s', DeregisterCriticalServiceAfter: '30s' } },
      ctx,
    ),
    { replaceExistingChecks: false },
  )
  await agent.updateTtl('service:db', 'passing', '')
  // web was registered critical and nobody updated it: no critical time yet, nothing to reap.
  await clock.advance(5 * 60_000)
  assert.ok(agent.state.service('web'), 'a check that never reported critical has no critical time')
  // db's TTL lapsed 10 s after its pass: critical since then; its 30 s limit is raised to 1 minute.
  assert.equal(agent.state.service('db'), undefined)
  // web: a fail starts its critical time; reaped between 90 s and 90 s + one 30 s pass.
  await agent.updateTtl('service:web', 'critical', 'down')
  await clock.advance(90_000)
  assert.ok(agent.state.service('web'))
  await clock.advance(30_000)
  assert.equal(agent.state.service('web'), undefined)
  assert.equal(agent.state.checkCount(), 0)
  assert.equal(agent.checks.size, 0)
})
