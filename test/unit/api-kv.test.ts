import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { Agent } from '../../src/agent/agent.js'
import { Catalog } from '../../src/catalog/catalog.js'
import { kvRoutes } from '../../src/api/routes/kv.js'
import { sessionRoutes } from '../../src/api/routes/session.js'
import { txnRoutes } from '../../src/api/routes/txn.js'
import { buildHttpApi } from '../../src/api/server.js'
import { systemClock } from '../../src/lib/clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import { silentLogger, testSettings } from '../support/agent-harness.js'
import { apiSettings, refTimerClock } from '../support/api-harness.js'
import { registerNode } from '../support/kv.js'

async function start(
  t: TestContext,
  settings: Partial<Parameters<typeof apiSettings>[0]> = {},
): Promise<{ app: FastifyInstance; catalog: Catalog }> {
  const agent = await Agent.start({
    config: testSettings({ dev: false, nodeName: 'n1' }),
    logger: silentLogger,
    clock: systemClock,
  })
  const store = new MemoryStore({ clock: refTimerClock })
  const catalog = await Catalog.open({ store, prefix: 'vigil/dc1', datacenter: 'dc1', clock: refTimerClock })
  const app = buildHttpApi({
    agent,
    config: apiSettings(settings),
    logger: silentLogger,
    clock: refTimerClock,
    kv: catalog,
    routes: [kvRoutes, sessionRoutes, txnRoutes],
  })
  await app.ready()
  t.after(async () => {
    await app.close()
    await catalog.close()
    await store.close()
    await agent.shutdown()
  })
  await registerNode(catalog, 'n1')
  return { app, catalog }
}

test('KV over HTTP: bytes in and out, DirEntry shape, 404 with index, raw, recurse, keys', async (t) => {
  const { app } = await start(t)
  const bytes = Buffer.from([0, 1, 2, 255, 254])
  let res = await app.inject({
    method: 'PUT',
    url: '/v1/kv/a/bin?flags=18446744073709551615',
    payload: bytes,
  })
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, 'true')
  assert.equal(res.headers['content-type'], 'application/json')
  res = await app.inject('/v1/kv/a/bin')
  assert.equal(res.statusCode, 200)
  const idx = Number(res.headers['x-consul-index'])
  assert.equal(
    res.body,
    `[{"LockIndex":0,"Key":"a/bin","Flags":18446744073709551615,"Value":"${bytes.toString('base64')}","CreateIndex":${idx},"ModifyIndex":${idx}}]`,
  )
  res = await app.inject('/v1/kv/a/bin?raw')
  assert.deepEqual(res.rawPayload, bytes)
  assert.equal(res.headers['content-type'], 'text/plain')
  assert.equal(res.headers['x-content-type-options'], 'nosniff')
  assert.equal(res.headers['content-security-policy'], 'sandbox')
  res = await app.inject('/v1/kv/missing')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, '')
  assert.equal(res.headers['x-consul-index'], String(idx))
  assert.equal(res.headers['x-consul-knownleader'], 'true')
  await app.inject({ method: 'PUT', url: '/v1/kv/a/x/1', payload: '' })
  await app.inject({ method: 'PUT', url: '/v1/kv/a/y/1', payload: 'v' })
  res = await app.inject('/v1/kv/a/x/1')
  assert.equal(
    (JSON.parse(res.body) as { Value: unknown }[])[0]?.Value,
    null,
    'an empty body stores no value',
  )
  res = await app.inject('/v1/kv/a/?keys&separator=/')
  assert.equal(res.body, '["a/bin","a/x/","a/y/"]')
  res = await app.inject('/v1/kv/zz?keys')
  assert.equal(res.statusCode, 404)
  res = await app.inject('/v1/kv/a/?recurse')
  assert.deepEqual(
    (JSON.parse(res.body) as { Key: string }[]).map((e) => e.Key),
    ['a/bin', 'a/x/1', 'a/y/1'],
  )
  res = await app.inject('/v1/kv/nothing/?recurse')
  assert.equal(res.statusCode, 404)
  res = await app.inject('/v1/kv/')
  assert.equal(res.statusCode, 400)
  assert.equal(res.body, 'Missing key name')
  res = await app.inject({ method: 'DELETE', url: '/v1/kv/?recurse' })
  assert.equal(res.body, 'true')
  res = await app.inject('/v1/kv/?keys')
  assert.equal(res.body, '[]', 'prefix "" with no keys is an empty list')
})

test('KV over HTTP: cas, flags, conflicting flags, sizes and session errors with Consul texts', async (t) => {
  const { app } = await start(t)
  let res = await app.inject({ method: 'PUT', url: '/v1/kv/k?cas=0', payload: 'a' })
  assert.equal(res.body, 'true')
  res = await app.inject({ method: 'PUT', url: '/v1/kv/k?cas=0', payload: 'b' })
  assert.equal(res.body, 'false')
  res = await app.inject({ method: 'PUT', url: '/v1/kv/k?cas=1&acquire=x', payload: 'b' })
  assert.equal(res.statusCode, 400)
  assert.equal(res.body, 'Conflicting flags: acquire=x&cas=1\n')
  res = await app.inject({ method: 'PUT', url: '/v1/kv/k?flags=abc', payload: 'b' })
  assert.equal(res.statusCode, 500)
  assert.equal(res.body, 'strconv.ParseUint: parsing "abc": invalid syntax')
  res = await app.inject({ method: 'PUT', url: '/v1/kv/k?acquire=nope', payload: 'b' })
  assert.equal(res.statusCode, 500)
  assert.equal(res.body, 'invalid session "nope"')
  res = await app.inject({ method: 'PUT', url: '/v1/kv/big', payload: Buffer.alloc(524_289) })
  assert.equal(res.statusCode, 413)
  assert.equal(
    res.body,
    'Request body(524289 bytes) too large, max size: 524288 bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.',
  )
  res = await app.inject({ method: 'DELETE', url: '/v1/kv/k?recurse&cas=1' })
  assert.equal(res.statusCode, 400)
  res = await app.inject({ method: 'DELETE', url: '/v1/kv/k?cas=999' })
  assert.equal(res.body, 'false')
  res = await app.inject({ method: 'POST', url: '/v1/kv/k' })
  assert.equal(res.statusCode, 405)
})

test('KV over HTTP: a blocking GET answers after a change with the new index', async (t) => {
  const { app } = await start(t)
  await app.inject({ method: 'PUT', url: '/v1/kv/w', payload: '1' })
  const first = await app.inject('/v1/kv/w')
  const idx = String(first.headers['x-consul-index'])
  const blocked = app.inject(`/v1/kv/w?index=${idx}&wait=5s`)
  await app.inject({ method: 'PUT', url: '/v1/kv/other', payload: 'x' })
  await app.inject({ method: 'PUT', url: '/v1/kv/w', payload: '2' })
  const res = await blocked
  assert.ok(Number(res.headers['x-consul-index']) > Number(idx))
  assert.equal((JSON.parse(res.body) as { Value: string }[])[0]?.Value, Buffer.from('2').toString('base64'))
})

test('sessions over HTTP: Patroni create body, info, node, list, renew, destroy, texts', async (t) => {
  const { app } = await start(t)
  let res = await app.inject({
    method: 'PUT',
    url: '/v1/session/create',
    payload: '{"name": "pg-0", "checks": [], "lockdelay": "0.001s", "behavior": "delete", "ttl": "15s"}',
  })
  assert.equal(res.statusCode, 200)
  const { ID } = JSON.parse(res.body) as { ID: string }
  assert.deepEqual(Object.keys(JSON.parse(res.body) as object), ['ID'])
  res = await app.inject(`/v1/session/info/${ID}`)
  const [s] = JSON.parse(res.body) as Record<string, unknown>[]
  assert.deepEqual(
    { ...s, CreateIndex: 0, ModifyIndex: 0 },
    {
      ID,
      Name: 'pg-0',
      Node: 'n1',
      LockDelay: 1_000_000,
      Behavior: 'delete',
      TTL: '15s',
      NodeChecks: [],
      ServiceChecks: null,
      CreateIndex: 0,
      ModifyIndex: 0,
    },
  )
  res = await app.inject({ method: 'PUT', url: '/v1/session/create', payload: '{"ttl": "5s"}' })
  assert.equal(res.statusCode, 500)
  assert.ok(res.body.startsWith('Invalid Session TTL'), res.body)
  res = await app.inject({ method: 'PUT', url: '/v1/session/create' })
  assert.equal(res.statusCode, 200, 'no body: all defaults')
  res = await app.inject('/v1/session/list')
  assert.equal((JSON.parse(res.body) as unknown[]).length, 2)
  res = await app.inject('/v1/session/node/unknown')
  assert.equal(res.body, '[]')
  res = await app.inject({ method: 'PUT', url: `/v1/session/renew/${ID}` })
  assert.equal((JSON.parse(res.body) as { ID: string }[])[0]?.ID, ID)
  res = await app.inject({ method: 'PUT', url: `/v1/kv/service/pg/leader?acquire=${ID}`, payload: 'pg-0' })
  assert.equal(res.body, 'true')
  res = await app.inject({ method: 'PUT', url: `/v1/session/destroy/${ID}` })
  assert.equal(res.body, 'true')
  res = await app.inject('/v1/kv/service/pg/leader')
  assert.equal(res.statusCode, 404, 'behavior delete deleted the leader key')
  res = await app.inject({ method: 'PUT', url: `/v1/session/renew/${ID}` })
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, `Session id '${ID}' not found`)
  res = await app.inject(`/v1/session/info/${ID}`)
  assert.equal(res.body, '[]')
  res = await app.inject({ method: 'PUT', url: `/v1/kv/service/pg/leader?acquire=${ID}`, payload: 'pg-0' })
  assert.equal(res.statusCode, 500)
  assert.ok(res.body.startsWith('invalid session'))
  res = await app.inject({ method: 'PUT', url: '/v1/session/create', payload: '{"Node": "ghost"}' })
  assert.equal(res.statusCode, 500)
  assert.equal(res.body, 'Missing node registration')
  res = await app.inject({ method: 'PUT', url: '/v1/session/create', payload: '{' })
  assert.equal(res.statusCode, 400)
  assert.ok(res.body.startsWith('Request decode failed: '))
})

test('txn over HTTP: results, 409 with Errors, limits', async (t) => {
  const { app } = await start(t)
  const v = Buffer.from('x').toString('base64')
  let res = await app.inject({
    method: 'PUT',
    url: '/v1/txn',
    payload: JSON.stringify([
      { KV: { Verb: 'set', Key: 'a', Value: v } },
      { KV: { Verb: 'set', Key: 'b', Value: v } },
      { KV: { Verb: 'get', Key: 'a' } },
    ]),
  })
  assert.equal(res.statusCode, 200)
  const ok = JSON.parse(res.body) as { Results: { KV: Record<string, unknown> }[]; Errors: null }
  assert.equal(ok.Errors, null)
  assert.deepEqual(
    ok.Results.map((r) => [r.KV['Key'], r.KV['Value']]),
    [
      ['a', null],
      ['b', null],
      ['a', v],
    ],
  )
  res = await app.inject({
    method: 'PUT',
    url: '/v1/txn',
    payload: JSON.stringify([
      { KV: { Verb: 'set', Key: 'c', Value: v } },
      { KV: { Verb: 'get', Key: 'nope' } },
    ]),
  })
  assert.equal(res.statusCode, 409)
  assert.equal(res.body, '{"Results":null,"Errors":[{"OpIndex":1,"What":"key \\"nope\\" doesn\'t exist"}]}')
  res = await app.inject('/v1/kv/c')
  assert.equal(res.statusCode, 404, 'nothing applied')
  res = await app.inject({
    method: 'PUT',
    url: '/v1/txn',
    payload: JSON.stringify(Array.from({ length: 129 }, () => ({ KV: { Verb: 'get', Key: 'a' } }))),
  })
  assert.equal(res.statusCode, 413)
  assert.equal(res.body, 'Transaction contains too many operations (129 > 128)')
  res = await app.inject({ method: 'PUT', url: '/v1/txn', payload: '[{"Bogus": {}}]' })
  assert.equal(res.statusCode, 400)
  assert.ok(res.body.startsWith('Failed to parse body: '))
  res = await app.inject({ method: 'PUT', url: '/v1/txn', payload: '[]' })
  assert.equal(res.body, '{"Results":[],"Errors":null}')
})

test('txn over HTTP: Node, Service and Check operations with their results and error texts', async (t) => {
  const { app, catalog } = await start(t)
  let res = await app.inject({
    method: 'PUT',
    url: '/v1/txn',
    payload: JSON.stringify([
      { Node: { Verb: 'set', Node: { Node: 'n9', Address: '10.0.0.9', Meta: { a: 'b' } } } },
      { Service: { Verb: 'set', Node: 'n9', Service: { Service: 'web', Port: 80 } } },
      { Check: { Verb: 'set', Check: { Node: 'n9', CheckID: 'alive', Name: 'alive', Status: 'passing' } } },
      { Node: { Verb: 'get', Node: { Node: 'n9' } } },
    ]),
  })
  assert.equal(res.statusCode, 200, res.body)
  const body = JSON.parse(res.body) as { Results: Record<string, Record<string, unknown>>[] }
  assert.deepEqual(
    body.Results.map((r) => Object.keys(r)[0]),
    ['Node', 'Service', 'Check', 'Node'],
  )
  assert.equal(body.Results[0]?.['Node']?.['Node'], 'n9')
  assert.deepEqual(body.Results[0]['Node']['Meta'], { a: 'b' })
  assert.equal(body.Results[1]?.['Service']?.['Service'], 'web')
  assert.equal(body.Results[2]?.['Check']?.['Status'], 'passing')
  assert.equal(catalog.state.service('n9', 'web')?.service.port, 80)
  res = await app.inject({
    method: 'PUT',
    url: '/v1/txn',
    payload: JSON.stringify([
      { Service: { Verb: 'get', Node: 'n9', Service: { ID: 'db' } } },
      { Node: { Verb: 'cas', Node: { Node: 'n9', Address: 'x', ModifyIndex: 1 } } },
    ]),
  })
  assert.equal(res.statusCode, 409)
  assert.equal(
    res.body,
    '{"Results":null,"Errors":[{"OpIndex":0,"What":"service \\"db\\" on node \\"n9\\" doesn\'t exist"},{"OpIndex":1,"What":"failed to set node \\"n9\\", index is stale"}]}',
  )
  res = await app.inject({
    method: 'PUT',
    url: '/v1/txn',
    payload: JSON.stringify([{ Node: { Verb: 'set', Node: { Node: 'n9', Bogus: 1 } } }]),
  })
  assert.equal(res.statusCode, 400)
  assert.ok(res.body.startsWith('Failed to parse body: '), res.body)
})

test('KV over HTTP: keys with traversal sequences or outer whitespace answer 400 and write nothing, unless validation is off', async (t) => {
  const { app } = await start(t)
  for (const [method, url] of [
    ['PUT', '/v1/kv/a/%252e%252e%252fb'],
    ['PUT', '/v1/kv/a/..%5Cb'],
    ['GET', '/v1/kv/%20padded'],
    ['DELETE', '/v1/kv/padded%20'],
  ] as const) {
    const res = await app.inject({ method, url, ...(method === 'PUT' ? { payload: 'x' } : {}) })
    assert.equal(res.statusCode, 400, url)
    assert.match(
      res.body,
      /^key (contains (encoded )?path traversal sequence|must not have leading or trailing whitespace)/,
    )
  }
  const keys = await app.inject({ method: 'GET', url: '/v1/kv/?keys' })
  assert.equal(keys.body, '[]', 'nothing was written')
  const inside = await app.inject({ method: 'PUT', url: '/v1/kv/acme%20-%20host', payload: 'x' })
  assert.equal(inside.body, 'true', 'a space inside a key is legal')

  const { app: open } = await start(t, { disableKvKeyValidation: true })
  const res = await open.inject({ method: 'PUT', url: '/v1/kv/a/..%5Cb', payload: 'x' })
  assert.equal(res.body, 'true')
})
