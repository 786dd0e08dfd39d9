import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BODY_LIMIT_BYTES, BODY_TOO_LARGE_TEXT } from '../../src/api/errors.js'
import { encodeJson, goMap } from '../../src/api/json.js'
import { cleanPath, decodePath, escapePath } from '../../src/api/routing.js'
import { isGoPrintText as isPrintable } from '../../src/lib/unicode.js'
import { put, startApiHarness } from '../support/api-harness.js'

const NOT_FOUND_V1 = 'Invalid URL path: not a recognized HTTP API endpoint\n'

test('cleanPath follows Go net/http: collapses //, drops . and .., keeps a trailing slash', () => {
  assert.equal(cleanPath('/v1//agent/./self'), '/v1/agent/self')
  assert.equal(cleanPath('/v1/agent/x/../self'), '/v1/agent/self')
  assert.equal(cleanPath('/v1/kv/a//'), '/v1/kv/a/')
  assert.equal(cleanPath('/../..'), '/')
  assert.equal(cleanPath('/v1/agent/self'), '/v1/agent/self')
})

test('decodePath decodes percent escapes as UTF-8 and refuses malformed ones', () => {
  assert.equal(decodePath('/v1/kv/a%2Fb'), '/v1/kv/a/b')
  assert.equal(decodePath('/a+b%20c'), '/a+b c')
  assert.equal(decodePath('/caf%C3%A9'), '/café')
  assert.equal(decodePath('/bad%zz'), undefined)
  assert.equal(decodePath('/bad%4'), undefined)
})

test('escapePath escapes like Go EscapedPath and isPrintable like unicode.IsPrint', () => {
  assert.equal(escapePath('/a b/café/x?y'), '/a%20b/caf%C3%A9/x%3Fy')
  assert.equal(escapePath("/a:b@c=d;e,f+g$h&i!'"), '/a:b@c=d;e,f+g$h&i%21%27')
  assert.equal(isPrintable('/v1/kv/café ok'), true)
  assert.equal(isPrintable('/v1/a\nb'), false)
  assert.equal(isPrintable('/v1/a\tb'), false)
})

test('encodeJson writes Go JSON: sorted map keys, struct order, HTML escapes, pretty form', () => {
  const value = { B: 1, A: goMap({ '2': 'x', '10': 'y', b: '<&>' }), C: [], D: {} }
  assert.equal(
    encodeJson(value, false),
    '{"B":1,"A":{"10":"y","2":"x","b":"\\u003c\\u0026\\u003e"},"C":[],"D":{}}',
  )
  assert.equal(
    encodeJson({ A: [1, { B: null }] }, true),
    '{\n    "A": [\n        1,\n        {\n            "B": null\n        }\n    ]\n}\n',
  )
})

test('unknown paths answer 404 with Consul texts', async (t) => {
  const h = await startApiHarness(t)
  const v1 = await h.inject('/v1/nope')
  assert.equal(v1.statusCode, 404)
  assert.equal(v1.body, NOT_FOUND_V1)
  assert.equal(v1.headers['content-type'], 'text/plain; charset=utf-8')
  const other = await h.inject('/nope')
  assert.equal(other.statusCode, 404)
  assert.equal(
    other.body,
    "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n",
  )
  const leafWithSlash = await h.inject('/v1/agent/self/')
  assert.equal(leafWithSlash.statusCode, 404)
  assert.equal(leafWithSlash.body, NOT_FOUND_V1)
})

test('GET / answers the UI-disabled text, or redirects to the UI when it is on', async (t) => {
  const off = await startApiHarness(t)
  const res = await off.inject('/')
  assert.equal(res.statusCode, 200)
  assert.equal(
    res.body,
    'Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.',
  )
  const on = await startApiHarness(t, { api: { uiEnabled: true } })
  const redirect = await on.inject('/')
  assert.equal(redirect.statusCode, 301)
  assert.equal(redirect.headers['location'], '/ui/')
})

test('paths with // are redirected 301 to the cleaned path, query kept', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject('/v1//agent/self?pretty')
  assert.equal(res.statusCode, 301)
  assert.equal(res.headers['location'], '/v1/agent/self?pretty')
  assert.equal(res.body, '<a href="/v1/agent/self?pretty">Moved Permanently</a>.\n\n')
  const putRes = await h.inject(put('/v1//agent/maintenance?enable=true'))
  assert.equal(putRes.statusCode, 301)
  assert.equal(putRes.body, '')
  assert.equal(h.agent.state.checkCount(), 0)
})

test('a subtree root without its slash redirects to it', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject('/v1/agent/health/service/id?format=text')
  assert.equal(res.statusCode, 301)
  assert.equal(res.headers['location'], '/v1/agent/health/service/id/?format=text')
})

test('unprintable characters after decoding answer 400 with an empty body', async (t) => {
  const h = await startApiHarness(t)
  for (const url of ['/v1/agent/service/a%0ab', '/v1/agent/service/a%00', '/v1/nope%7f']) {
    const res = await h.inject(url)
    assert.equal(res.statusCode, 400, url)
    assert.equal(res.body, '', url)
  }
  const malformed = await h.inject('/v1/agent/service/a%zz')
  assert.equal(malformed.statusCode, 400)
  assert.equal(malformed.body, '')
})

test('OPTIONS answers 200 with Allow; other unlisted methods 405 with Allow and text', async (t) => {
  const h = await startApiHarness(t)
  const options = await h.inject({ method: 'OPTIONS', url: '/v1/agent/check/pass/x' })
  assert.equal(options.statusCode, 200)
  assert.equal(options.headers['allow'], 'OPTIONS,PUT')
  assert.equal(options.body, '')
  for (const [method, url, allow] of [
    ['GET', '/v1/agent/check/pass/x', 'OPTIONS,PUT'],
    ['POST', '/v1/agent/service/register', 'OPTIONS,PUT'],
    ['DELETE', '/v1/agent/self', 'OPTIONS,GET'],
    ['PUT', '/v1/agent/services', 'OPTIONS,GET'],
  ] as const) {
    const res = await h.inject({ method, url })
    assert.equal(res.statusCode, 405, `${method} ${url}`)
    assert.equal(res.body, `method ${method} not allowed`)
    assert.equal(res.headers['allow'], allow)
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  }
})

test('JSON is compact by default, indented with ?pretty and with pretty_json', async (t) => {
  const h = await startApiHarness(t)
  const compact = await h.inject('/v1/agent/checks?filter=' + encodeURIComponent('Name == "x"'))
  assert.equal(compact.headers['content-type'], 'application/json')
  assert.equal(compact.body, '{}')
  const members = await h.inject('/v1/agent/metrics')
  assert.ok(!members.body.includes('\n'), 'compact: one line')
  const pretty = await h.inject('/v1/agent/metrics?pretty')
  assert.ok(pretty.body.startsWith('{\n    "'), 'indented by four spaces')
  assert.ok(pretty.body.endsWith('}\n'))
  assert.ok(typeof (JSON.parse(pretty.body) as { Timestamp?: unknown }).Timestamp === 'string')
  const dev = await startApiHarness(t, { api: { prettyJson: true } })
  assert.equal((await dev.inject('/v1/status/leader')).body, '""\n')
})

test('empty success is 200 with a zero-length body and no Content-Type', async (t) => {
  const h = await startApiHarness(t)
  const res = await h.inject(put('/v1/agent/maintenance?enable=false'))
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, '')
  assert.equal(res.headers['content-type'], undefined)
  assert.equal(res.headers['content-length'], '0')
})

test('every response carries http_config.response_headers and the default ACL policy', async (t) => {
  const h = await startApiHarness(t, {
    api: {
      httpConfig: {
        responseHeaders: { 'Access-Control-Allow-Origin': '*', 'X-Team': 'core' },
        blockEndpoints: [],
        allowWriteHttpFrom: [],
      },
      aclDefaultPolicy: 'deny',
    },
  })
  for (const url of ['/v1/agent/self', '/v1/nope', '/v1/agent/service/missing', '/v1//x', '/v1/a%0a']) {
    const res = await h.inject(url)
    assert.equal(res.headers['access-control-allow-origin'], '*', url)
    assert.equal(res.headers['x-team'], 'core', url)
    assert.equal(res.headers['x-consul-default-acl-policy'], 'deny', url)
  }
  const tooBig = await h.inject(put('/v1/agent/service/register', 'x'.repeat(BODY_LIMIT_BYTES + 1)))
  assert.equal(tooBig.statusCode, 413)
  assert.equal(tooBig.headers['x-team'], 'core')
})

test('tokens are accepted and ignored in every form', async (t) => {
  const h = await startApiHarness(t)
  const body = { Name: 'web' }
  const forms = [
    { ...put('/v1/agent/service/register?token=abc', body) },
    { ...put('/v1/agent/service/register', body), headers: { 'X-Consul-Token': 'abc' } },
    { ...put('/v1/agent/service/register', body), headers: { Authorization: 'Bearer abc' } },
    { ...put('/v1/agent/service/register', body), headers: { Authorization: 'Basic Zm9vOmJhcg==' } },
  ]
  for (const f of forms) assert.equal((await h.inject(f)).statusCode, 200)
  assert.equal((await h.inject('/v1/agent/self?token=x')).statusCode, 200)
})

test('namespaces and partitions: empty or default accepted, anything else 400 with CE texts', async (t) => {
  const h = await startApiHarness(t)
  assert.equal((await h.inject('/v1/agent/services?ns=default&partition=')).statusCode, 200)
  const before = await h.snapshot()
  const cases = [
    [
      { url: '/v1/agent/services?ns=team' },
      'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature',
    ],
    [
      { url: '/v1/agent/services?partition=p1' },
      'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature',
    ],
    [
      { url: '/v1/agent/services', headers: { 'X-Consul-Namespace': 'team' } },
      'Invalid header: "X-Consul-Namespace" - Namespaces are a Consul Enterprise feature',
    ],
    [
      { ...put('/v1/agent/service/register', { Name: 'web' }), headers: { 'X-Consul-Partition': 'p1' } },
      'Invalid header: "X-Consul-Partition" - Partitions are a Consul Enterprise feature',
    ],
  ] as const
  for (const [req, text] of cases) {
    const res = await h.inject(req)
    assert.equal(res.statusCode, 400)
    assert.equal(res.body, text)
  }
  assert.equal(await h.snapshot(), before)
})

test('blocked endpoints answer 403 by prefix', async (t) => {
  const h = await startApiHarness(t, {
    api: {
      httpConfig: { responseHeaders: {}, blockEndpoints: ['/v1/agent/service/'], allowWriteHttpFrom: [] },
    },
  })
  const res = await h.inject(put('/v1/agent/service/register', { Name: 'web' }))
  assert.equal(res.statusCode, 403)
  assert.equal(res.body, 'Endpoint is blocked by agent configuration')
  assert.equal(h.agent.state.serviceCount(), 0)
  assert.equal((await h.inject('/v1/agent/services')).statusCode, 200)
})

test('allow_write_http_from refuses writes from other addresses but not reads', async (t) => {
  const h = await startApiHarness(t, {
    api: { httpConfig: { responseHeaders: {}, blockEndpoints: [], allowWriteHttpFrom: ['10.0.0.0/8'] } },
  })
  const res = await h.inject({
    ...put('/v1/agent/service/register', { Name: 'web' }),
    remoteAddress: '127.0.0.1',
  })
  assert.equal(res.statusCode, 403)
  assert.equal(res.body, 'Access is restricted')
  assert.equal(h.agent.state.serviceCount(), 0)
  const allowed = await h.inject({
    ...put('/v1/agent/service/register', { Name: 'web' }),
    remoteAddress: '10.1.2.3',
  })
  assert.equal(allowed.statusCode, 200)
  assert.equal((await h.inject({ url: '/v1/agent/services', remoteAddress: '127.0.0.1' })).statusCode, 200)
})

test('a body over the limit answers 413 with a clear text and changes nothing', async (t) => {
  const h = await startApiHarness(t)
  const big = JSON.stringify({ Name: 'web', Meta: { k: 'x'.repeat(BODY_LIMIT_BYTES) } })
  const res = await h.inject(put('/v1/agent/service/register', big))
  assert.equal(res.statusCode, 413)
  assert.equal(res.body, BODY_TOO_LARGE_TEXT)
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(h.agent.state.serviceCount(), 0)
})

test('request bodies are read whatever their Content-Type', async (t) => {
  const h = await startApiHarness(t)
  for (const [i, type] of [
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    undefined,
  ].entries()) {
    const res = await h.inject({
      ...put('/v1/agent/service/register', { Name: `web${i}` }),
      ...(type === undefined ? {} : { headers: { 'content-type': type } }),
    })
    assert.equal(res.statusCode, 200, String(type))
  }
  assert.equal(h.agent.state.serviceCount(), 4)
})
