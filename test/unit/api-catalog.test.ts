import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { Agent } from '../../src/agent/agent.js'
import { Catalog } from '../../src/catalog/catalog.js'
import { catalogRoutes } from '../../src/api/routes/catalog.js'
import { healthRoutes } from '../../src/api/routes/health.js'
import { buildHttpApi, startHttpApi } from '../../src/api/server.js'
import { MemoryStore } from '../../src/store/memory.js'
import { silentLogger, testSettings } from '../support/agent-harness.js'
import { apiSettings, refTimerClock } from '../support/api-harness.js'
import { systemClock } from '../../src/lib/clock.js'
import { waitFor } from '../support/wait.js'

async function start(t: TestContext): Promise<{ app: FastifyInstance; catalog: Catalog }> {
  const agent = await Agent.start({
    config: testSettings({ dev: false }),
    logger: silentLogger,
    clock: systemClock,
  })
  const store = new MemoryStore({ clock: refTimerClock })
  const catalog = await Catalog.open({ store, prefix: 'vigil/dc1', datacenter: 'dc1', clock: refTimerClock })
  const app = buildHttpApi({
    agent,
    config: apiSettings(),
    logger: silentLogger,
    clock: refTimerClock,
    catalog,
    routes: [catalogRoutes, healthRoutes],
  })
  await app.ready()
  t.after(async () => {
    await app.close()
    await catalog.close()
    await store.close()
    await agent.shutdown()
  })
  return { app, catalog }
}

const WEB = {
  Node: 'node-a',
  Address: '10.1.0.1',
  NodeMeta: { rack: 'r1' },
  Service: { Service: 'web', Tags: ['v1'], Port: 8080 },
  Check: {
    Name: 'web alive',
    ServiceID: 'web',
    Status: 'passing',
    Definition: { HTTP: 'http://x/', Interval: '10s' },
  },
}

async function put(
  app: FastifyInstance,
  url: string,
  body: unknown,
): Promise<{ status: number; body: string }> {
  const res = await app.inject({ method: 'PUT', url, payload: JSON.stringify(body) })
  return { status: res.statusCode, body: res.body }
}

test('catalog API: register answers true and catalog/service answers Consul ServiceNode shapes with meta headers', async (t) => {
  const { app } = await start(t)
  assert.deepEqual(await put(app, '/v1/catalog/register', WEB), { status: 200, body: 'true' })
  const res = await app.inject('/v1/catalog/service/web')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'application/json')
  assert.ok(Number(res.headers['x-consul-index']) > 0)
  assert.equal(res.headers['x-consul-knownleader'], 'true')
  assert.equal(res.headers['x-consul-lastcontact'], '0')
  assert.equal(res.headers['x-consul-effective-consistency'], 'leader')
  const [sn] = res.json<Record<string, unknown>[]>()
  assert.ok(sn !== undefined)
  assert.deepEqual(Object.keys(sn), [
    'ID',
    'Node',
    'Address',
    'Datacenter',
    'TaggedAddresses',
    'NodeMeta',
    'ServiceKind',
    'ServiceID',
    'ServiceName',
    'ServiceTags',
    'ServiceAddress',
    'ServiceWeights',
    'ServiceMeta',
    'ServicePort',
    'ServiceSocketPath',
    'ServiceEnableTagOverride',
    'ServiceProxy',
    'ServiceConnect',
    'ServiceLocality',
    'CreateIndex',
    'ModifyIndex',
  ])
  assert.equal(sn['ServiceID'], 'web')
  assert.deepEqual(sn['NodeMeta'], { rack: 'r1' })
  assert.deepEqual(sn['ServiceWeights'], { Passing: 1, Warning: 1 })
  assert.deepEqual(sn['ServiceProxy'], { Mode: '', MeshGateway: {}, Expose: {} })
  assert.equal(sn['Datacenter'], 'dc1')

  const stale = await app.inject('/v1/catalog/services?stale')
  assert.equal(stale.body, '{"web":["v1"]}')
  assert.equal(stale.headers['x-consul-effective-consistency'], 'stale')
  const dcs = await app.inject('/v1/catalog/datacenters')
  assert.equal(dcs.body, '["dc1"]')
  assert.equal(dcs.headers['x-consul-index'], undefined)

  const health = await app.inject('/v1/health/service/web?passing')
  assert.equal(health.headers['x-consul-query-backend'], 'blocking-query')
  type Entry = { Node: { Node: string }; Service: Record<string, unknown>; Checks: Record<string, unknown>[] }
  const entry = health.json<Entry[]>()[0]
  assert.ok(entry !== undefined)
  assert.equal(entry.Node.Node, 'node-a')
  assert.equal(entry.Service['Port'], 8080)
  assert.equal(entry.Checks[0]!['CheckID'], 'web alive')
  assert.equal(entry.Checks[0]!['Type'], 'http')
  assert.deepEqual(entry.Checks[0]!['Definition'], { Interval: '10s', HTTP: 'http://x/' })
  assert.ok(Number(entry.Checks[0]!['CreateIndex']) > 0)

  const node = await app.inject('/v1/catalog/node/node-a')
  const body = node.json<{ Node: { Node: string }; Services: Record<string, { ID: string }> }>()
  assert.equal(body.Services['web']?.ID, 'web')
  assert.equal((await app.inject('/v1/catalog/node/nope')).body, 'null')
  assert.equal((await app.inject('/v1/catalog/node-services/nope')).body, '{"Node":null,"Services":[]}')
  assert.equal((await app.inject('/v1/health/state/any')).json<unknown[]>().length, 1)
  assert.equal((await app.inject('/v1/health/state/bogus')).body, '[]')
  assert.equal((await app.inject('/v1/health/node/node-a')).json<unknown[]>().length, 1)
  assert.equal((await app.inject('/v1/health/checks/web')).json<unknown[]>().length, 1)
  assert.deepEqual((await app.inject('/v1/catalog/nodes?node-meta=rack:r2')).json<unknown[]>(), [])
})

test('catalog API: refusals with Consul statuses and texts', async (t) => {
  const { app } = await start(t)
  assert.deepEqual(await put(app, '/v1/catalog/register', { Address: '1.2.3.4' }), {
    status: 500,
    body: 'Must provide node',
  })
  assert.deepEqual(await put(app, '/v1/catalog/register', { Node: 'a', Foo: 1 }), {
    status: 400,
    body: 'Request decode failed: json: unknown field "Foo"',
  })
  assert.deepEqual(
    await put(app, '/v1/catalog/register', {
      Node: 'a',
      Address: 'x',
      Check: { Name: 'c', ServiceID: 'nope' },
    }),
    { status: 500, body: 'failed inserting check: Missing service registration' },
  )
  assert.deepEqual(await put(app, '/v1/catalog/register', { Node: 'a', Address: 'x', Datacenter: 'dc9' }), {
    status: 500,
    body: 'No path to datacenter',
  })
  assert.deepEqual(await put(app, '/v1/catalog/deregister', { Node: 'nobody' }), {
    status: 200,
    body: 'true',
  })
  const cases: [string, number, string][] = [
    ['/v1/catalog/service/', 400, 'Missing service name'],
    ['/v1/catalog/node/', 400, 'Missing node name'],
    ['/v1/health/state/', 400, 'Missing check state'],
    ['/v1/health/service/web?passing=maybe', 400, 'Invalid value for ?passing'],
    [
      '/v1/catalog/nodes?stale&consistent',
      400,
      'Cannot specify ?stale with ?consistent, conflicting semantics.',
    ],
    ['/v1/catalog/nodes?index=x', 400, 'Invalid index'],
    ['/v1/catalog/nodes?dc=dc9', 500, 'No path to datacenter'],
  ]
  for (const [url, status, text] of cases) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, status, url)
    assert.equal(res.body, text, url)
  }
})

test('catalog API: a blocking health query answers when its service changes, with the new index', async (t) => {
  const { app } = await start(t)
  await put(app, '/v1/catalog/register', WEB)
  await put(app, '/v1/catalog/register', { Node: 'node-b', Address: '10.1.0.2', Service: { Service: 'db' } })
  const first = await app.inject('/v1/health/service/web')
  const index = Number(first.headers['x-consul-index'])
  let answered = false
  const blocked = app.inject(`/v1/health/service/web?index=${index}&wait=30s`).then((r) => {
    answered = true
    return r
  })
  // An unrelated service changes: the query keeps waiting.
  await put(app, '/v1/catalog/register', {
    Node: 'node-b',
    Address: '10.1.0.2',
    Service: { Service: 'db', Port: 5432 },
  })
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  assert.equal(answered, false)
  await put(app, '/v1/catalog/deregister', { Node: 'node-a', ServiceID: 'web' })
  const res = await blocked
  assert.ok(Number(res.headers['x-consul-index']) > index)
  assert.equal(res.body, '[]')
})

test('catalog API: re-registering an identical service 100 times leaves health/service and its index alone', async (t) => {
  const { app } = await start(t)
  await put(app, '/v1/catalog/register', WEB)
  const before = await app.inject('/v1/health/service/web')
  for (let i = 0; i < 100; i++) assert.equal((await put(app, '/v1/catalog/register', WEB)).status, 200)
  const after = await app.inject('/v1/health/service/web')
  assert.equal(after.headers['x-consul-index'], before.headers['x-consul-index'])
  assert.equal(after.body, before.body)
})

test('filter= runs on each element of the catalog and health reads, with Consul’s selectors', async (t) => {
  const { app } = await start(t)
  assert.equal((await put(app, '/v1/catalog/register', WEB)).status, 200)
  const db = {
    Node: 'node-b',
    Address: '10.1.0.2',
    NodeMeta: { rack: 'r2' },
    Service: { Service: 'web', ID: 'web-2', Tags: ['v2'], Port: 9090, Meta: { env: 'prod' } },
    Check: { Name: 'web-2 alive', ServiceID: 'web-2', Status: 'critical' },
  }
  assert.equal((await put(app, '/v1/catalog/register', db)).status, 200)
  const get = async (url: string): Promise<{ status: number; json: unknown; text: string }> => {
    const res = await app.inject({ method: 'GET', url })
    return { status: res.statusCode, json: res.statusCode === 200 ? res.json() : null, text: res.body }
  }
  const q = encodeURIComponent
  const names = (v: unknown, field: string): unknown[] =>
    (v as Record<string, unknown>[]).map((e) => e[field])

  assert.deepEqual(names((await get(`/v1/catalog/nodes?filter=${q('Meta.rack == "r2"')}`)).json, 'Node'), [
    'node-b',
  ])
  assert.deepEqual(
    names((await get(`/v1/catalog/service/web?filter=${q('ServicePort == 9090')}`)).json, 'ServiceID'),
    ['web-2'],
  )
  assert.deepEqual(
    names((await get(`/v1/catalog/service/web?filter=${q('"v1" in ServiceTags')}`)).json, 'ServiceID'),
    ['web'],
  )
  const health = (await get(`/v1/health/service/web?filter=${q('Checks.Status == critical')}`)).json as {
    Service: { ID: string }
  }[]
  assert.deepEqual(
    health.map((e) => e.Service.ID),
    ['web-2'],
  )
  const prod = (
    await get(`/v1/health/service/web?filter=${q('Service.Meta.env == prod and Node.Node == "node-b"')}`)
  ).json as unknown[]
  assert.equal(prod.length, 1)
  assert.deepEqual(
    names((await get(`/v1/health/state/any?filter=${q('Status != passing')}`)).json, 'CheckID'),
    ['web-2 alive'],
  )
  assert.deepEqual(names((await get(`/v1/health/checks/web?filter=${q('Node == "node-a"')}`)).json, 'Name'), [
    'web alive',
  ])
  const node = (await get(`/v1/catalog/node/node-b?filter=${q('Port == 1')}`)).json as { Services: object }
  assert.deepEqual(node.Services, {})
  const list = (await get(`/v1/catalog/node-services/node-b?filter=${q('Port == 9090')}`)).json as {
    Services: { ID: string }[]
  }
  assert.deepEqual(
    list.Services.map((s) => s.ID),
    ['web-2'],
  )

  // A bad expression is a 500 with go-bexpr's prefix, answered at once even with ?index (no wait).
  const bad = await get(`/v1/catalog/nodes?index=1000&wait=5m&filter=${q('Nope == 1')}`)
  assert.equal(bad.status, 500)
  assert.match(bad.text, /^Failed to create boolean expression evaluator: /)
  const unfiltered = (await get('/v1/catalog/service/web')).json as unknown[]
  assert.equal(unfiltered.length, 2, 'a filtered answer does not leak into the shared unfiltered one')
})

test('a blocking catalog read whose client goes away releases its waiter; an answered one aborts nothing', async (t) => {
  const agent = await Agent.start({
    config: testSettings({ dev: false }),
    logger: silentLogger,
    clock: systemClock,
  })
  const store = new MemoryStore({ clock: refTimerClock })
  const catalog = await Catalog.open({ store, prefix: 'vigil/dc1', datacenter: 'dc1', clock: refTimerClock })
  const api = await startHttpApi({
    agent,
    config: apiSettings(),
    logger: silentLogger,
    clock: refTimerClock,
    catalog,
    routes: [catalogRoutes, healthRoutes],
  })
  t.after(async () => {
    await api.close()
    await catalog.close()
    await store.close()
    await agent.shutdown()
  })
  const address = api.addresses[0] ?? ''
  const url = `http://${address}/v1/catalog/nodes?index=1000&wait=5m`
  const gone = new AbortController()
  const pending = fetch(url, { signal: gone.signal }).catch(() => 'aborted')
  await waitFor(() => catalog.blockingStats().waiters === 1, { what: 'the query to wait' })
  gone.abort()
  assert.equal(await pending, 'aborted')
  await waitFor(() => catalog.blockingStats().waiters === 0, { what: 'the waiter to be released' })

  // A query that is answered leaves nothing behind either.
  const answered = fetch(`http://${address}/v1/catalog/nodes?index=1&wait=5m`)
  await waitFor(() => catalog.blockingStats().waiters === 1, { what: 'the second query to wait' })
  await catalog.register({
    id: '',
    node: 'n1',
    address: '10.0.0.1',
    datacenter: '',
    taggedAddresses: {},
    nodeMeta: {},
    service: null,
    checks: [],
    skipNodeUpdate: false,
  })
  assert.equal((await answered).status, 200)
  assert.equal(catalog.blockingStats().waiters, 0)
})
