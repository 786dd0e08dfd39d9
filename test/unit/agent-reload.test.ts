import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ConfigDefinition } from '../../src/agent/agent.js'
import { ConfigError } from '../../src/lib/errors.js'
import { drainMicrotasks, FakeClock } from '../support/fake-clock.js'
import { normalizeServiceDefinition } from '../../src/structs/normalize.js'
import { startTestAgent } from '../support/agent-harness.js'

const def = (definition: unknown): ConfigDefinition => ({ source: 'test.hcl', definition })

test('reload applies added, changed and removed config definitions and leaves API registrations alone', async (t) => {
  const clock = new FakeClock()
  const agent = await startTestAgent({
    clock,
    settings: {
      services: [def({ name: 'web', port: 80, check: { ttl: '1h' } }), def({ name: 'old', port: 1 })],
      checks: [def({ name: 'disk', ttl: '1h' })],
    },
  })
  t.after(() => agent.shutdown())
  await agent.registerService(
    normalizeServiceDefinition({ Name: 'api-svc', Port: 9 }, agent.normalizeContext('api')),
    {
      replaceExistingChecks: false,
    },
  )
  await agent.updateTtl('service:web', 'passing', 'ok')
  await agent.updateTtl('disk', 'warning', 'full-ish')
  const webGeneration = agent.state.check('service:web')?.generation
  const diskGeneration = agent.state.check('disk')?.generation

  await agent.reload({
    services: [def({ name: 'web', port: 8080, check: { ttl: '1h' } }), def({ name: 'new', port: 2 })],
    checks: [def({ name: 'disk', ttl: '1h' }), def({ name: 'mem', ttl: '1h' })],
  })
  await drainMicrotasks()
  assert.equal(agent.state.service('web')?.service.port, 8080, 'changed service applied')
  assert.ok(agent.state.service('new'), 'added service registered')
  assert.equal(agent.state.service('old'), undefined, 'removed service gone')
  assert.ok(agent.state.service('api-svc'), 'API registration untouched')
  assert.ok(agent.state.check('mem'))
  assert.equal(agent.state.check('disk')?.generation, diskGeneration, 'unchanged check keeps its runner')
  assert.equal(agent.state.check('disk')?.check.status, 'warning', 'and its status')
  assert.equal(
    agent.state.check('service:web')?.generation,
    webGeneration,
    'unchanged embedded check keeps its runner',
  )
  assert.equal(agent.state.check('service:web')?.check.status, 'passing')
  assert.equal(agent.checks.size, agent.state.checkCount())
})

test('reload with an invalid definition changes nothing and names the file', async (t) => {
  const agent = await startTestAgent({
    clock: new FakeClock(),
    settings: { services: [def({ name: 'web' })] },
  })
  t.after(() => agent.shutdown())
  await assert.rejects(
    agent.reload({ services: [def({ port: 1 })], checks: [] }),
    (err: unknown) => err instanceof ConfigError && err.message === 'test.hcl: Service name missing',
  )
  assert.ok(agent.state.service('web'))
})
