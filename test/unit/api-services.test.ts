import assert from 'node:assert/strict'
import { test } from 'node:test'
import { put, startApiHarness, startBlocked } from '../support/api-harness.js'
import { within } from '../support/wait.js'

type Json = Record<string, unknown>

const web = {
  ID: 'web1',
  Name: 'web',
  Tags: ['v1'],
  Port: 8080,
  Address: '10.0.0.5',
  Meta: { version: '1', env: 'prod' },
  Check: { TTL: '30s' },
}

test('service/register then services lists the AgentService shape', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject(put('/v1/agent/service/register', web))
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, '')
  const raw = (await h.inject('/v1/agent/services')).body
  assert.equal(
    raw,
    '{"web1":{"ID":"web1","Service":"web","Tags":["v1"],"Meta":{"env":"prod","version":"1"},"Port":8080,' +
      '"Address":"10.0.0.5","TaggedAddresses":{"lan_ipv4":{"Address":"10.0.0.5","Port":8080},' +
      '"wan_ipv4":{"Address":"10.0.0.5","Port":8080}},"Weights":{"Passing":1,"Warning":1},' +
      '"EnableTagOverride":false,"Datacenter":"dc1"}}',
  )
})

test('services returns {} when empty, never null; Tags and Meta never null', async (t) => {
  const h = await startApiHarness(t)
  assert.equal((await h.inject('/v1/agent/services')).body, '{}')
  await h.inject(put('/v1/agent/service/register', { Name: 'bare' }))
  const svc = (await h.getJson<Record<string, Json>>('/v1/agent/services'))['bare']!
  assert.deepEqual(svc['Tags'], [])
  assert.deepEqual(svc['Meta'], {})
  assert.equal(svc['Port'], 0)
})

test('services ?filter selects on AgentService fields', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  await h.inject(put('/v1/agent/service/register', { Name: 'db', Tags: ['primary'], Meta: { env: 'dev' } }))
  const byTag = await h.getJson<Json>(`/v1/agent/services?filter=${encodeURIComponent('primary in Tags')}`)
  assert.deepEqual(Object.keys(byTag), ['db'])
  const byMeta = await h.getJson<Json>(
    `/v1/agent/services?filter=${encodeURIComponent('Meta.env == "prod"')}`,
  )
  assert.deepEqual(Object.keys(byMeta), ['web1'])
  const bad = await h.inject(`/v1/agent/services?filter=${encodeURIComponent('Service ==')}`)
  assert.equal(bad.statusCode, 500)
  assert.match(bad.body, /^Failed to create boolean expression evaluator/)
})

test('service/:id answers the service with ContentHash, in body and header', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  const res = await h.inject('/v1/agent/service/web1')
  assert.equal(res.statusCode, 200)
  const body = res.json<Json>()
  const hash = res.headers['x-consul-contenthash']
  assert.equal(typeof hash, 'string')
  assert.match(String(hash), /^[0-9a-f]+$/)
  assert.equal(body['ContentHash'], hash)
  assert.deepEqual(Object.keys(body).slice(-3), ['EnableTagOverride', 'ContentHash', 'Datacenter'])
  assert.equal(res.headers['x-consul-index'], undefined)
})

test('service/:id of an unknown service is 404 with Consul text', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject('/v1/agent/service/nope')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, 'unknown service ID: nope')
})

test('service/:id takes the rest of the decoded path as the ID, slashes included', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', { ID: 'batman/pg0', Name: 'pg' }))
  assert.equal((await h.getJson<Json>('/v1/agent/service/batman%2Fpg0'))['ID'], 'batman/pg0')
  assert.equal((await h.getJson<Json>('/v1/agent/service/batman/pg0'))['ID'], 'batman/pg0')
  const res = await h.inject(put('/v1/agent/service/deregister/batman/pg0'))
  assert.equal(res.statusCode, 200)
  assert.equal(h.agent.state.serviceCount(), 0)
})

test('service/:id with a stale hash answers at once; with the current hash it blocks until a change', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  const first = await h.inject('/v1/agent/service/web1')
  const hash = String(first.headers['x-consul-contenthash'])
  const stale = await h.inject('/v1/agent/service/web1?hash=stale&wait=10s')
  assert.equal(stale.headers['x-consul-contenthash'], hash)

  const blocked = await startBlocked(h.agent, () => h.inject(`/v1/agent/service/web1?hash=${hash}&wait=10s`))
  await h.inject(put('/v1/agent/service/register', { ...web, Port: 9090 }))
  // Well before the 10s wait: the change woke it.
  const changed = await within(blocked.response, 5_000, 'the answer to the change')
  assert.notEqual(changed.headers['x-consul-contenthash'], hash)
  assert.equal(changed.json<Json>()['Port'], 9090)
})

test('service/:id with the current hash returns the same result after wait', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  const hash = String((await h.inject('/v1/agent/service/web1')).headers['x-consul-contenthash'])
  const started = Date.now()
  const res = await h.inject(`/v1/agent/service/web1?hash=${hash}&wait=100ms`)
  const elapsed = Date.now() - started
  assert.ok(elapsed >= 95 && elapsed < 2_000, `elapsed ${elapsed}`)
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['x-consul-contenthash'], hash)
})

test('service/:id blocking ends with 404 when the service is deregistered', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  const hash = String((await h.inject('/v1/agent/service/web1')).headers['x-consul-contenthash'])
  const blocked = await startBlocked(h.agent, () => h.inject(`/v1/agent/service/web1?hash=${hash}&wait=10s`))
  await h.inject(put('/v1/agent/service/deregister/web1'))
  const res = await within(blocked.response, 5_000, 'the answer to the deregistration')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, 'unknown service ID: web1')
})

test('service/:id refuses bad wait and index values', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  for (const q of ['wait=10', 'wait=abc', 'wait=5x']) {
    const res = await h.inject(`/v1/agent/service/web1?hash=x&${q}`)
    assert.equal(res.statusCode, 400, q)
    assert.equal(res.body, 'Invalid wait time')
  }
  const res = await h.inject('/v1/agent/service/web1?index=-1')
  assert.equal(res.statusCode, 400)
  assert.equal(res.body, 'Invalid index')
  assert.equal((await h.inject('/v1/agent/service/web1?wait=9.994812s&hash=')).statusCode, 200)
})

test('register refuses invalid bodies with Consul texts and changes nothing', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  const before = await h.snapshot()
  const cases: [string, number, string | RegExp][] = [
    ['', 400, 'Request decode failed: EOF'],
    ['{"Name":', 400, 'Request decode failed: unexpected EOF'],
    ['{"Name": "x",}', 400, /^Request decode failed: invalid character/],
    ['{"Name":"x","Foo":1}', 400, 'Request decode failed: json: unknown field "Foo"'],
    ['{"Name":"x","Port":"80"}', 400, /^Request decode failed: json: cannot unmarshal string/],
    ['{"Name":"x","Check":{"TTL":"abc"}}', 400, 'Request decode failed: time: invalid duration "abc"'],
    ['{"Name":"x","Check":{"TTL":"10s","HTTP":"http://x","Interval":"10s"}}', 400, /^Invalid check: /],
    [
      '{"Name":"x","Check":{"Interval":"10s","TTL":"10s"}}',
      400,
      'Invalid check: Interval and TTL cannot both be specified',
    ],
    [
      '{"Name":"x","Check":{"HTTP":"http://127.0.0.1/"}}',
      400,
      'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks',
    ],
    [
      '{"Name":"x","Check":{"TTL":"10s","Status":"bogus"}}',
      400,
      "Status for checks must 'passing', 'warning', 'critical'",
    ],
    ['{"Port":80}', 400, 'Missing service name'],
    ['{"Name":"x","Address":"0.0.0.0"}', 400, 'Invalid service address'],
    [
      '{"Name":"x","Check":{"Args":["/bin/true"],"Interval":"10s"}}',
      500,
      /^Scripts are disabled on this agent/,
    ],
    [
      '{"ID":"web1","Name":"web","Check":{"Script":"x","Interval":"10s"}}',
      400,
      'Request decode failed: json: unknown field "Script"',
    ],
  ]
  for (const [body, status, text] of cases) {
    const res = await h.inject(put('/v1/agent/service/register', body))
    assert.equal(res.statusCode, status, body)
    if (typeof text === 'string') assert.equal(res.body, text, body)
    else assert.match(res.body, text, body)
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  }
  assert.equal(await h.snapshot(), before)
})

test('register accepts lower-case and snake_case keys as Go does', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject(
    put('/v1/agent/service/register', { name: 'web', enable_tag_override: true, port: 1 }),
  )
  assert.equal(res.statusCode, 200, res.body)
  const svc = await h.getJson<Json>('/v1/agent/service/web')
  assert.equal(svc['EnableTagOverride'], true)
})

test('replace-existing-checks is true only when empty or exactly true', async (t) => {
  const h = await startApiHarness(t)
  const twoChecks = {
    Name: 'web',
    Checks: [
      { CheckID: 'a', TTL: '30s' },
      { CheckID: 'b', TTL: '30s' },
    ],
  }
  const oneCheck = { Name: 'web', Checks: [{ CheckID: 'a', TTL: '30s' }] }
  const ids = async (): Promise<string[]> => Object.keys(await h.getJson<Json>('/v1/agent/checks')).sort()
  for (const [query, kept] of [
    ['?replace-existing-checks=1', ['a', 'b']],
    ['?replace-existing-checks=false', ['a', 'b']],
    ['', ['a', 'b']],
    ['?replace-existing-checks', ['a']],
    ['?replace-existing-checks=true', ['a']],
  ] as const) {
    await h.inject(put('/v1/agent/service/register', twoChecks))
    assert.equal((await h.inject(put(`/v1/agent/service/register${query}`, oneCheck))).statusCode, 200)
    assert.deepEqual(await ids(), kept, query)
  }
})

test('re-registration keeps a re-sent check status', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  await h.inject(put('/v1/agent/check/pass/service:web1?note=ok'))
  await h.inject(put('/v1/agent/service/register', web))
  const checks = await h.getJson<Record<string, Json>>('/v1/agent/checks')
  assert.equal(checks['service:web1']!['Status'], 'passing')
  assert.equal(checks['service:web1']!['Output'], 'ok')
})

test('deregister removes the service and its checks; unknown is 404', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  assert.equal((await h.inject(put('/v1/agent/service/deregister/web1'))).statusCode, 200)
  assert.equal((await h.inject('/v1/agent/services')).body, '{}')
  assert.equal((await h.inject('/v1/agent/checks')).body, '{}')
  const again = await h.inject(put('/v1/agent/service/deregister/web1'))
  assert.equal(again.statusCode, 404)
  assert.equal(
    again.body,
    'Unknown service ID "web1". Ensure that the service ID is passed, not the service name.',
  )
})

test('service maintenance adds and removes the maintenance check', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  assert.equal(
    (await h.inject(put('/v1/agent/service/maintenance/web1?enable=true&reason=deploy'))).statusCode,
    200,
  )
  const check = (await h.getJson<Record<string, Json>>('/v1/agent/checks'))['_service_maintenance:web1']!
  assert.equal(check['Name'], 'Service Maintenance Mode')
  assert.equal(check['Notes'], 'deploy')
  assert.equal(check['Status'], 'critical')
  assert.equal(check['Type'], 'maintenance')
  assert.equal(check['ServiceID'], 'web1')
  assert.equal(check['ServiceName'], 'web')
  assert.deepEqual(check['Definition'], {})
  assert.equal((await h.inject(put('/v1/agent/service/maintenance/web1?enable=false'))).statusCode, 200)
  assert.equal((await h.getJson<Json>('/v1/agent/checks'))['_service_maintenance:web1'], undefined)
})

test('service maintenance errors: missing id, missing or bad enable, unknown service', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', web))
  const before = await h.snapshot()
  for (const [url, status, text] of [
    ['/v1/agent/service/maintenance/?enable=true', 400, 'Missing service ID'],
    ['/v1/agent/service/maintenance/web1', 400, 'Missing value for enable'],
    ['/v1/agent/service/maintenance/web1?enable=yes', 400, 'Invalid value for enable: "yes"'],
    ['/v1/agent/service/maintenance/nope?enable=true', 404, 'No service registered with ID "nope"'],
    ['/v1/agent/service/maintenance/nope?enable=false', 404, 'No service registered with ID "nope"'],
  ] as const) {
    const res = await h.inject(put(url))
    assert.equal(res.statusCode, status, url)
    assert.equal(res.body, text, url)
  }
  assert.equal(await h.snapshot(), before)
})
