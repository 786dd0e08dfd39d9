import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Agent } from '../../src/agent/agent.js'
import { BadRequestError } from '../../src/lib/errors.js'
import { drainMicrotasks, FakeClock } from '../support/fake-clock.js'
import { normalizeServiceDefinition } from '../../src/structs/normalize.js'
import { startTestAgent } from '../support/agent-harness.js'

async function register(agent: Agent, body: unknown, replace = false): Promise<void> {
  await agent.registerService(normalizeServiceDefinition(body, agent.normalizeContext('api')), {
    replaceExistingChecks: replace,
  })
}

const worked = {
  ID: 'web-1',
  Name: 'web',
  Port: 8080,
  Tags: ['v1'],
  Check: { TTL: '1h' },
  Connect: { SidecarService: {} },
}

test('sidecar_service registers the proxy with Consul’s derived fields and default checks (worked example)', async (t) => {
  const agent = await startTestAgent({ clock: new FakeClock() })
  t.after(() => agent.shutdown())
  await register(agent, worked)
  const proxy = agent.state.service('web-1-sidecar-proxy')?.service
  assert.ok(proxy)
  assert.equal(proxy.kind, 'connect-proxy')
  assert.equal(proxy.name, 'web-sidecar-proxy')
  assert.equal(proxy.port, 21000)
  assert.deepEqual(proxy.tags, ['v1'])
  assert.equal(proxy.locallyRegisteredAsSidecar, true)
  assert.deepEqual(
    [
      proxy.proxy?.destinationServiceName,
      proxy.proxy?.destinationServiceId,
      proxy.proxy?.localServiceAddress,
      proxy.proxy?.localServicePort,
    ],
    ['web', 'web-1', '127.0.0.1', 8080],
  )
  const listening = agent.state.check('service:web-1-sidecar-proxy:1')
  assert.equal(listening!.check.name, 'Connect Sidecar Listening')
  assert.equal(listening!.definition.tcp, '127.0.0.1:21000')
  assert.equal(listening!.definition.intervalMs, 10_000)
  const aliasing = agent.state.check('service:web-1-sidecar-proxy:2')
  assert.equal(aliasing!.check.name, 'Connect Sidecar Aliasing web-1')
  assert.equal(aliasing!.definition.aliasService, 'web-1')
  assert.equal(aliasing!.check.serviceName, 'web-sidecar-proxy')
  assert.deepEqual(aliasing!.check.serviceTags, ['v1'])
})

test('the sidecar alias follows its parent, and deregistering the parent removes all five records', async (t) => {
  const agent = await startTestAgent({ clock: new FakeClock() })
  t.after(() => agent.shutdown())
  await register(agent, worked)
  await drainMicrotasks()
  const alias = (): { status: string; output: string } | undefined =>
    agent.state.check('service:web-1-sidecar-proxy:2')?.check
  assert.equal(alias()?.status, 'critical')
  assert.equal(alias()?.output, 'Aliased check "Service \'web\' check" failing: ')
  await agent.updateTtl('service:web-1', 'passing', 'ok')
  await drainMicrotasks()
  assert.deepEqual(alias(), { ...alias(), status: 'passing', output: 'All checks passing.' })
  await agent.deregisterService('web-1')
  assert.equal(agent.state.serviceCount(), 0)
  assert.equal(agent.state.checkCount(), 0)
  assert.equal(agent.checks.size, 0)
})

test('re-registering the parent keeps the sidecar’s port, statuses and is idempotent', async (t) => {
  const agent = await startTestAgent({ clock: new FakeClock() })
  t.after(() => agent.shutdown())
  await register(agent, { Name: 'other', Port: 1, Connect: { SidecarService: {} } })
  await register(agent, worked)
  assert.equal(
    agent.state.service('web-1-sidecar-proxy')?.service.port,
    21001,
    'lowest free port in the range',
  )
  await agent.updateTtl('service:web-1', 'passing', 'ok')
  await drainMicrotasks()
  const before = agent.state.services().length
  await register(agent, worked)
  await drainMicrotasks()
  assert.equal(agent.state.services().length, before)
  assert.equal(agent.state.service('web-1-sidecar-proxy')?.service.port, 21001)
  assert.equal(agent.state.check('service:web-1-sidecar-proxy:2')?.check.status, 'passing')
})

test('a sidecar registered on its own is not removed with the parent', async (t) => {
  const agent = await startTestAgent({ clock: new FakeClock() })
  t.after(() => agent.shutdown())
  await register(agent, { ID: 'web-1', Name: 'web', Port: 8080 })
  await register(agent, {
    ID: 'web-1-sidecar-proxy',
    Name: 'web-sidecar-proxy',
    Kind: 'connect-proxy',
    Port: 21000,
    Proxy: { DestinationServiceName: 'web' },
  })
  await agent.deregisterService('web-1')
  assert.ok(agent.state.service('web-1-sidecar-proxy'))
})

test('sidecar validation and port exhaustion are 400s that change nothing', async (t) => {
  const agent = await startTestAgent({
    clock: new FakeClock(),
    settings: { ports: { serfLan: 8301, server: 8300, sidecarMinPort: 21000, sidecarMaxPort: 21000 } },
  })
  t.after(() => agent.shutdown())
  await assert.rejects(
    register(agent, { Name: 'a', Connect: { SidecarService: { ID: 'x' } } }),
    (err: unknown) => err instanceof BadRequestError && /cannot specify an ID/.test(err.message),
  )
  await register(agent, { Name: 'a', Port: 1, Connect: { SidecarService: {} } })
  await assert.rejects(
    register(agent, { Name: 'b', Port: 2, Connect: { SidecarService: {} } }),
    (err: unknown) =>
      err instanceof BadRequestError &&
      err.message ===
        'Invalid SidecarService: no port provided for sidecar_service and none left in the configured range [21000, 21000]',
  )
  assert.equal(agent.state.service('b'), undefined, 'the parent is not registered either')
})
