import assert from 'node:assert/strict'
import { test } from 'node:test'
import { put, startApiHarness } from '../support/api-harness.js'

type Json = Record<string, unknown>

const UNKNOWN_CHECK = (id: string): string =>
  `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`

test('check/register then checks lists the HealthCheck shape', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject(put('/v1/agent/check/register', { Name: 'mem', TTL: '15s', Notes: 'n' }))
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, '')
  const raw = (await h.inject('/v1/agent/checks')).body
  assert.equal(
    raw,
    '{"mem":{"Node":"node1","CheckID":"mem","Name":"mem","Status":"critical","Notes":"n","Output":"",' +
      '"ServiceID":"","ServiceName":"","ServiceTags":[],"Type":"ttl","Interval":"","Timeout":"",' +
      '"ExposedPort":0,"Definition":{"TTL":15000000000},"CreateIndex":0,"ModifyIndex":0}}',
  )
})

test('checks lists {} when empty and supports ?filter', async (t) => {
  const h = await startApiHarness(t)
  assert.equal((await h.inject('/v1/agent/checks')).body, '{}')
  await h.inject(put('/v1/agent/check/register', { Name: 'a', TTL: '15s', Status: 'passing' }))
  await h.inject(put('/v1/agent/check/register', { Name: 'b', TTL: '15s' }))
  const passing = await h.getJson<Json>(`/v1/agent/checks?filter=${encodeURIComponent('Status == passing')}`)
  assert.deepEqual(Object.keys(passing), ['a'])
  const bad = await h.inject(`/v1/agent/checks?filter=${encodeURIComponent('Status ===')}`)
  assert.equal(bad.statusCode, 500)
  assert.match(bad.body, /^Failed to create boolean expression evaluator/)
})

test('a check registered for a service carries its name and tags', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', { ID: 'web1', Name: 'web', Tags: ['a'] }))
  const res = await h.inject(put('/v1/agent/check/register', { Name: 'c', TTL: '1m', ServiceID: 'web1' }))
  assert.equal(res.statusCode, 200, res.body)
  const c = (await h.getJson<Record<string, Json>>('/v1/agent/checks'))['c']!
  assert.equal(c['ServiceName'], 'web')
  assert.deepEqual(c['ServiceTags'], ['a'])
})

test('check/register refuses invalid bodies with Consul texts and changes nothing', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/check/register', { Name: 'keep', TTL: '15s' }))
  const before = await h.snapshot()
  const cases: [string, number, string | RegExp][] = [
    ['', 400, 'Request decode failed: EOF'],
    ['[1,', 400, 'Request decode failed: unexpected EOF'],
    ['{"Name":"x","TTL":"1s","Bogus":true}', 400, 'Request decode failed: json: unknown field "Bogus"'],
    ['{"Name":"x","TTL":"0s"}', 400, 'Invalid check: TTL must be > 0 for TTL checks'],
    ['{"Name":"x"}', 400, 'Invalid check: TTL must be > 0 for TTL checks'],
    [
      '{"Name":"x","TTL":"1s","Interval":"1s"}',
      400,
      'Invalid check: Interval and TTL cannot both be specified',
    ],
    ['{"Name":"x","TTL":"forever"}', 400, 'Request decode failed: time: invalid duration "forever"'],
    ['{"Name":"x","Notes":5,"TTL":"1s"}', 400, /^Request decode failed: json: cannot unmarshal number/],
    ['{"TTL":"1s"}', 400, 'Missing check name'],
    ['{"Name":"x","TTL":"1s","Status":"ok"}', 400, 'Bad check status'],
    ['{"Name":"x","TTL":"1s","ServiceID":"nope"}', 404, 'ServiceID "nope" does not exist'],
    ['{"Name":"x","Args":["/bin/true"],"Interval":"1s"}', 500, /^Scripts are disabled on this agent/],
  ]
  for (const [body, status, text] of cases) {
    const res = await h.inject(put('/v1/agent/check/register', body))
    assert.equal(res.statusCode, status, body)
    if (typeof text === 'string') assert.equal(res.body, text, body)
    else assert.match(res.body, text, body)
  }
  assert.equal(await h.snapshot(), before)
})

test('pass, warn and fail set status and note; GET on them is 405', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/check/register', { Name: 'ttl', TTL: '1m' }))
  const status = async (): Promise<Json | undefined> =>
    (await h.getJson<Record<string, Json>>('/v1/agent/checks'))['ttl']
  for (const [verb, expected] of [
    ['pass', 'passing'],
    ['warn', 'warning'],
    ['fail', 'critical'],
  ] as const) {
    const res = await h.inject(put(`/v1/agent/check/${verb}/ttl?note=${verb}%20note`))
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, '')
    assert.equal((await status())?.['Status'], expected)
    assert.equal((await status())?.['Output'], `${verb} note`)
    const get = await h.inject(`/v1/agent/check/${verb}/ttl`)
    assert.equal(get.statusCode, 405)
    assert.equal(get.body, 'method GET not allowed')
  }
  await h.inject(put('/v1/agent/check/pass/ttl'))
  assert.equal((await status())?.['Output'], '')
})

test('pass/warn/fail/update on unknown or non-TTL checks answer Consul errors', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', { ID: 'web1', Name: 'web' }))
  await h.inject(put('/v1/agent/service/maintenance/web1?enable=true'))
  const before = await h.snapshot()
  for (const verb of ['pass', 'warn', 'fail']) {
    const res = await h.inject(put(`/v1/agent/check/${verb}/nope`))
    assert.equal(res.statusCode, 404)
    assert.equal(res.body, UNKNOWN_CHECK('nope'))
  }
  const update = await h.inject(put('/v1/agent/check/update/nope', { Status: 'passing' }))
  assert.equal(update.statusCode, 404)
  assert.equal(update.body, UNKNOWN_CHECK('nope'))
  const notTtl = await h.inject(put('/v1/agent/check/pass/_service_maintenance:web1'))
  assert.equal(notTtl.statusCode, 500)
  assert.equal(notTtl.body, 'CheckID "_service_maintenance:web1" does not have associated TTL')
  assert.equal(await h.snapshot(), before)
})

test('check/update sets status and output from the body and validates it first', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/check/register', { Name: 'ttl', TTL: '1m' }))
  const ok = await h.inject(put('/v1/agent/check/update/ttl', { Status: 'warning', Output: 'slow' }))
  assert.equal(ok.statusCode, 200)
  const c = (await h.getJson<Record<string, Json>>('/v1/agent/checks'))['ttl']!
  assert.equal(c['Status'], 'warning')
  assert.equal(c['Output'], 'slow')
  const before = await h.snapshot()
  for (const [body, text] of [
    ['{"Status":"ok"}', "Invalid check status: 'ok'"],
    ['{}', "Invalid check status: ''"],
    ['{"Status":"passing","Extra":1}', 'Request decode failed: json: unknown field "Extra"'],
    ['nope', "Request decode failed: invalid character 'o' in literal null (expecting 'u')"],
  ] as const) {
    const res = await h.inject(put('/v1/agent/check/update/ttl', body))
    assert.equal(res.statusCode, 400, body)
    assert.equal(res.body, text, body)
  }
  const unknownBad = await h.inject(put('/v1/agent/check/update/nope', { Status: 'bogus' }))
  assert.equal(unknownBad.statusCode, 400)
  assert.equal(await h.snapshot(), before)
})

test('check/deregister removes the check; unknown is 404', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/check/register', { Name: 'ttl', TTL: '1m' }))
  assert.equal((await h.inject(put('/v1/agent/check/deregister/ttl'))).statusCode, 200)
  assert.equal((await h.inject('/v1/agent/checks')).body, '{}')
  const again = await h.inject(put('/v1/agent/check/deregister/ttl'))
  assert.equal(again.statusCode, 404)
  assert.equal(again.body, UNKNOWN_CHECK('ttl'))
})

test('an HTTP check definition lists its non-empty fields, durations as strings', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject(
    put('/v1/agent/check/register', {
      Name: 'web',
      HTTP: 'http://127.0.0.1:1/health',
      Interval: '1m30s',
      Timeout: '5s',
      Header: { 'X-B': ['2'], 'X-A': ['1'] },
    }),
  )
  assert.equal(res.statusCode, 200, res.body)
  const raw = (await h.inject('/v1/agent/checks')).body
  assert.match(raw, /"Type":"http","Interval":"1m30s","Timeout":"5s"/)
  assert.match(
    raw,
    /"Definition":\{"Interval":"1m30s","Timeout":"5s","HTTP":"http:\/\/127.0.0.1:1\/health","Header":\{"X-A":\["1"\],"X-B":\["2"\]\}/,
  )
})
