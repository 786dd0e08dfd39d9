import assert from 'node:assert/strict'
import { test } from 'node:test'
import { put, startApiHarness, type ApiHarness } from '../support/api-harness.js'

type Json = Record<string, unknown>

async function withTtlService(h: ApiHarness, id: string, status = 'passing'): Promise<void> {
  const res = await h.inject(
    put('/v1/agent/service/register', {
      ID: id,
      Name: 'web',
      Check: { CheckID: `${id}-ttl`, TTL: '1m', Status: status },
    }),
  )
  assert.equal(res.statusCode, 200, res.body)
}

test('health by id maps passing/warning/critical to 200/429/503 with X-Consul-Reason', async (t) => {
  const h = await startApiHarness(t)
  await withTtlService(h, 'web1')
  for (const [verb, status, code] of [
    ['pass', 'passing', 200],
    ['warn', 'warning', 429],
    ['fail', 'critical', 503],
  ] as const) {
    await h.inject(put(`/v1/agent/check/${verb}/web1-ttl`))
    const res = await h.inject('/v1/agent/health/service/id/web1')
    assert.equal(res.statusCode, code)
    assert.equal(res.headers['x-consul-reason'], status)
    assert.equal(res.headers['content-type'], 'application/json')
    const body = res.json<Json>()
    assert.equal(body['AggregatedStatus'], status)
    assert.equal((body['Service'] as Json)['ID'], 'web1')
    const text = await h.inject('/v1/agent/health/service/id/web1?format=text')
    assert.equal(text.statusCode, code)
    assert.equal(text.body, status)
    assert.equal(text.headers['content-type'], 'text/plain')
    const accept = await h.inject({
      url: '/v1/agent/health/service/id/web1',
      headers: { accept: 'text/plain' },
    })
    assert.equal(accept.body, status)
  }
})

test('health includes node checks, and maintenance wins over everything', async (t) => {
  const h = await startApiHarness(t)
  await withTtlService(h, 'web1')
  await h.inject(put('/v1/agent/check/register', { Name: 'node-ttl', TTL: '1m', Status: 'warning' }))
  const warned = await h.inject('/v1/agent/health/service/id/web1')
  assert.equal(warned.statusCode, 429)
  const ids = (warned.json<Json>()['Checks'] as Json[]).map((c) => c['CheckID']).sort()
  assert.deepEqual(ids, ['node-ttl', 'web1-ttl'])
  await h.inject(put('/v1/agent/maintenance?enable=true'))
  const maint = await h.inject('/v1/agent/health/service/id/web1?format=text')
  assert.equal(maint.statusCode, 503)
  assert.equal(maint.body, 'maintenance')
  assert.equal(maint.headers['x-consul-reason'], 'maintenance')
})

test('health by id of an unknown service: 404, JSON placeholder or text', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject('/v1/agent/health/service/id/nope')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, '{"AggregatedStatus":"critical","Service":null,"Checks":null}')
  assert.equal(res.headers['x-consul-reason'], 'ServiceId nope not found')
  const text = await h.inject('/v1/agent/health/service/id/nope?format=text')
  assert.equal(text.statusCode, 404)
  assert.equal(text.body, 'ServiceId nope not found')
})

test('health by name aggregates instances with the worst code, [] and 404 when none', async (t) => {
  const h = await startApiHarness(t)
  const none = await h.inject('/v1/agent/health/service/name/web')
  assert.equal(none.statusCode, 404)
  assert.equal(none.body, '[]')
  assert.equal(none.headers['x-consul-reason'], 'ServiceName web Not Found')
  const noneText = await h.inject('/v1/agent/health/service/name/web?format=text')
  assert.equal(noneText.body, 'ServiceName web Not Found')

  await withTtlService(h, 'web1', 'passing')
  await withTtlService(h, 'web2', 'warning')
  const res = await h.inject('/v1/agent/health/service/name/web')
  assert.equal(res.statusCode, 429)
  assert.equal(res.headers['x-consul-reason'], 'warning')
  const list = res.json<Json[]>()
  assert.deepEqual(
    list.map((e) => [(e['Service'] as Json)['ID'], e['AggregatedStatus']]),
    [
      ['web1', 'passing'],
      ['web2', 'warning'],
    ],
  )
  await h.inject(put('/v1/agent/check/fail/web1-ttl'))
  assert.equal((await h.inject('/v1/agent/health/service/name/web')).statusCode, 503)
})

test('health with an empty id or name is 400', async (t) => {
  const h = await startApiHarness(t)
  const id = await h.inject('/v1/agent/health/service/id/')
  assert.equal(id.statusCode, 400)
  assert.equal(id.body, 'Missing serviceID')
  const name = await h.inject('/v1/agent/health/service/name/')
  assert.equal(name.statusCode, 400)
  assert.equal(name.body, 'Missing service Name')
})

test('health checks carry a Definition with duration strings, "0s" when unset', async (t) => {
  const h = await startApiHarness(t)
  await withTtlService(h, 'web1')
  const body = (await h.inject('/v1/agent/health/service/id/web1')).json<Json>()
  const [check] = body['Checks'] as Json[]
  assert.deepEqual(Object.keys(check ?? {}), [
    'Node',
    'CheckID',
    'Name',
    'Status',
    'Notes',
    'Output',
    'ServiceID',
    'ServiceName',
    'ServiceTags',
    'Type',
    'ExposedPort',
    'Definition',
    'CreateIndex',
    'ModifyIndex',
  ])
  const def = check?.['Definition'] as Json
  assert.equal(def['Interval'], '0s')
  assert.equal(def['Timeout'], '0s')
  assert.equal(def['DeregisterCriticalServiceAfter'], '0s')
  assert.equal(def['HTTP'], '')
  assert.equal(def['Header'], null)
})
