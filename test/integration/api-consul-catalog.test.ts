import assert from 'node:assert/strict'
import { test } from 'node:test'
import Consul from 'consul'
import { startAgentProcess } from '../support/agent-process.js'
import { waitFor } from '../support/wait.js'

type Json = Record<string, unknown>

/** A real `vigil agent -dev` (a server with its catalog) and the `consul` client users run. */
async function devAgent(t: { after(fn: () => Promise<void> | void): void }): Promise<Consul> {
  return (await devAgentWithUrl(t)).consul
}

async function devAgentWithUrl(t: {
  after(fn: () => Promise<void> | void): void
}): Promise<{ consul: Consul; url: string }> {
  const agent = await startAgentProcess({ t })
  return { consul: new Consul({ host: '127.0.0.1', port: agent.port }), url: agent.url }
}

test('consul client: status, datacenters and the server node in a dev agent', async (t) => {
  const consul = await devAgent(t)
  // The test harness gives every agent a free server port; a lone server is its own leader.
  const leader = await consul.status.leader()
  assert.match(leader, /^127\.0\.0\.1:\d+$/)
  assert.deepEqual(await consul.status.peers(), [leader])
  assert.deepEqual(await consul.catalog.datacenters(), ['dc1'])
  const nodes = (await consul.catalog.node.list()) as Json[]
  assert.equal(nodes.length, 1)
  const services = (await consul.catalog.service.list()) as Record<string, string[]>
  assert.deepEqual(services, { consul: [] })
  const checks = (await consul.health.node(String(nodes[0]?.['Node']))) as unknown as Json[]
  assert.deepEqual(
    checks.map((c) => [c['CheckID'], c['Status'], c['Output']]),
    [['serfHealth', 'passing', 'Agent alive and reachable']],
  )
})

test('consul client: an agent registration is in the catalog when the call returns, and health follows the check', async (t) => {
  const consul = await devAgent(t)
  await consul.agent.service.register({
    name: 'web',
    id: 'web-1',
    port: 8080,
    tags: ['v1'],
    check: { name: 'web ttl', ttl: '30s', timeout: '' },
  })
  const instances = (await consul.catalog.service.nodes('web')) as Json[]
  assert.deepEqual(
    instances.map((i) => [i['ServiceID'], i['ServicePort'], i['ServiceTags']]),
    [['web-1', 8080, ['v1']]],
  )
  assert.deepEqual(await consul.health.service({ service: 'web', passing: true }), [])

  await consul.agent.check.pass({ id: 'service:web-1', note: 'fine' })
  let healthy: Json[] = []
  await waitFor(async () => {
    healthy = (await consul.health.service({ service: 'web', passing: true })) as Json[]
    return healthy.length === 1
  })
  const entry = healthy[0] as { Service: Json; Checks: Json[] }
  assert.equal(entry.Service['ID'], 'web-1')
  assert.deepEqual(
    entry.Checks.map((c) => [c['CheckID'], c['Status']]),
    [
      ['serfHealth', 'passing'],
      ['service:web-1', 'passing'],
    ],
  )
  const critical = (await consul.health.state({ state: 'critical' })) as unknown as Json[]
  assert.deepEqual(critical, [])

  await consul.agent.service.deregister('web-1')
  assert.deepEqual(await consul.catalog.service.nodes('web'), [])
})

test('consul client: catalog register and deregister of an external node', async (t) => {
  const { consul, url } = await devAgentWithUrl(t)
  await consul.catalog.register({
    node: 'ext-db',
    address: '192.0.2.10',
    service: { service: 'db', port: 5432, tags: ['primary'] },
    check: { name: 'db alive', status: 'passing', serviceid: 'db' },
  })
  const node = (await consul.catalog.node.services('ext-db')) as {
    Node: Json
    Services: Record<string, Json>
  }
  assert.equal(node.Node['Address'], '192.0.2.10')
  assert.deepEqual(Object.keys(node.Services), ['db'])
  const checks = (await consul.health.checks('db')) as unknown as Json[]
  assert.deepEqual(
    checks.map((c) => [c['Node'], c['Name'], c['Status']]),
    [['ext-db', 'db alive', 'passing']],
  )
  const services = (await consul.catalog.service.list()) as Record<string, string[]>
  assert.deepEqual(services['db'], ['primary'])

  await consul.catalog.deregister({ node: 'ext-db' })
  // An unknown node is a 200 with `null` (the client hands that back as undefined).
  assert.equal(await consul.catalog.node.services('ext-db'), undefined)
  const raw = await fetch(`${url}/v1/catalog/node/ext-db`)
  assert.equal(raw.status, 200)
  assert.equal(await raw.text(), 'null\n', '-dev answers pretty JSON, as Consul')
  assert.deepEqual(await consul.health.checks('db'), [])
})

test('a catalog register without a node is refused with Consul’s text and changes nothing', async (t) => {
  // The consul client refuses this itself; users of other clients (curl, Go) reach the server.
  const { consul, url } = await devAgentWithUrl(t)
  const before = (await consul.catalog.node.list()) as Json[]
  const res = await fetch(`${url}/v1/catalog/register`, {
    method: 'PUT',
    body: JSON.stringify({ Address: '192.0.2.1', Service: { Service: 'x' } }),
  })
  assert.equal(res.status, 500)
  assert.equal(await res.text(), 'Must provide node')
  assert.deepEqual(await consul.catalog.node.list(), before)
  assert.deepEqual(await consul.catalog.service.list(), { consul: [] })
})

test('consul client: a watch on a service sees each change of its health', async (t) => {
  const consul = await devAgent(t)
  await consul.agent.service.register({ name: 'api', check: { name: 'api ttl', ttl: '30s', timeout: '' } })
  const seen: number[] = []
  const watch = consul.watch({
    method: consul.health.service.bind(consul.health),
    options: { service: 'api', passing: 'true' },
  })
  t.after(() => {
    watch.end()
  })
  watch.on('change', (data: unknown[]) => seen.push(data.length))
  watch.on('error', () => undefined)
  await waitFor(() => seen.length >= 1)
  assert.deepEqual(seen, [0])
  await consul.agent.check.pass({ id: 'service:api' })
  await waitFor(() => seen.at(-1) === 1)
  await consul.agent.check.fail({ id: 'service:api' })
  await waitFor(() => seen.length === 3)
  assert.deepEqual(seen, [0, 1, 0])
})
