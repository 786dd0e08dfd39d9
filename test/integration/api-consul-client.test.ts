import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { test, type TestContext } from 'node:test'
import Consul from 'consul'
import { pino } from 'pino'
import { Agent } from '../../src/agent/agent.js'
import { startHttpApi, type HttpApi } from '../../src/api/server.js'
import type { HttpApiSettings } from '../../src/api/settings.js'
import { loadConfig } from '../../src/config/load.js'
import { systemClock } from '../../src/lib/clock.js'
import { silentLogger, testSettings } from '../support/agent-harness.js'
import { apiSettings, startBlocked } from '../support/api-harness.js'
import { within } from '../support/wait.js'

type Json = Record<string, unknown>

/** What node-consul's middleware sees of a request (papi). */
interface PapiRequest {
  err?: Error
  res: { statusCode: number; headers: Record<string, string | undefined>; body: unknown }
}
type Next = (stop: boolean, err?: Error, value?: unknown) => void

/**
 * node-consul's generic request method. The client has no method for the agent health and
 * single-service endpoints, so these go through the same request path its own methods use.
 */
interface RawConsul {
  _get(
    req: { name: string; path: string; params?: Record<string, string>; query?: Record<string, string> },
    middleware: (request: PapiRequest, next: Next) => void,
  ): Promise<PapiRequest['res']>
}

/** Resolves with the response (also for non-2xx, where node-consul sets `err`). */
const keepResponse = (request: PapiRequest, next: Next): void => {
  next(false, undefined, request.res)
}

/** A TTL check as node-consul takes it (its typings require `timeout`, which a TTL check does not send). */
function ttlCheck(name: string, ttl: string): { name: string; ttl: string; timeout: string } {
  return { name, ttl, timeout: '' }
}

async function startApi(
  t: TestContext,
  api: Partial<HttpApiSettings> = {},
): Promise<{ agent: Agent; http: HttpApi; port: number; consul: Consul; raw: RawConsul }> {
  const agent = await Agent.start({
    config: testSettings({ dev: false, nodeName: 'itest' }),
    logger: silentLogger,
    clock: systemClock,
  })
  const http = await startHttpApi({
    agent,
    config: apiSettings(api),
    logger: pino({ level: 'silent' }),
  })
  t.after(async () => {
    await http.close()
    await agent.shutdown()
  })
  const port = Number(http.addresses[0]?.split(':').pop())
  const consul = new Consul({ host: '127.0.0.1', port })
  t.after(() => {
    consul.destroy()
  })
  return { agent, http, port, consul, raw: consul as unknown as RawConsul }
}

test('node-consul registers services with checks, lists them, drives TTLs and deregisters', async (t) => {
  const { consul } = await startApi(t)
  await consul.agent.service.register({
    name: 'web',
    id: 'web1',
    port: 8080,
    tags: ['v1'],
    checks: [ttlCheck('first', '30s'), { ...ttlCheck('second', '1m'), notes: 'second' }],
  })
  await consul.agent.service.register({ name: 'db', id: 'db1', port: 5432, check: ttlCheck('alive', '30s') })
  const services = (await consul.agent.service.list()) as Record<string, Json>
  assert.deepEqual(Object.keys(services), ['db1', 'web1'])
  const web1 = services['web1']!
  assert.equal(web1['Service'], 'web')
  assert.deepEqual(web1['Tags'], ['v1'])
  assert.equal(web1['Port'], 8080)

  const checks = (await consul.agent.check.list()) as unknown as Record<string, Json>
  assert.deepEqual(Object.keys(checks).sort(), ['service:db1', 'service:web1:1', 'service:web1:2'])
  assert.equal(checks['service:web1:1']!['Status'], 'critical')

  await consul.agent.check.pass({ id: 'service:web1:1', note: 'fine' })
  await consul.agent.check.warn('service:web1:2')
  await consul.agent.check.fail({ id: 'service:db1', note: 'down' })
  const after = (await consul.agent.check.list()) as unknown as Record<string, Json>
  assert.equal(after['service:web1:1']!['Status'], 'passing')
  assert.equal(after['service:web1:1']!['Output'], 'fine')
  assert.equal(after['service:web1:2']!['Status'], 'warning')
  assert.equal(after['service:db1']!['Status'], 'critical')
  assert.equal(after['service:db1']!['Output'], 'down')

  await consul.agent.check.register({ name: 'disk', ttl: '10s', serviceid: 'db1', timeout: '1s' })
  assert.equal(
    ((await consul.agent.check.list()) as unknown as Record<string, Json>)['disk']?.['ServiceName'],
    'db',
  )
  await consul.agent.check.deregister('disk')

  await consul.agent.service.deregister('web1')
  assert.deepEqual(Object.keys(await consul.agent.service.list()), ['db1'])
  assert.deepEqual(Object.keys((await consul.agent.check.list()) as Json), ['service:db1'])
})

test('node-consul surfaces the API errors: short text bodies as messages, status codes', async (t) => {
  const { consul } = await startApi(t)
  const rejectsWith = (status: number, message: string) => (err: Error & { statusCode?: number }) => {
    assert.equal(err.statusCode, status)
    assert.equal(err.message, message)
    return true
  }
  // Bodies of 80 characters or more are replaced by the status text, as with Consul.
  await assert.rejects(consul.agent.check.pass('nope'), rejectsWith(404, 'not found'))
  await assert.rejects(consul.agent.service.deregister('nope'), rejectsWith(404, 'not found'))
  await assert.rejects(
    consul.agent.service.maintenance({ id: 'nope', enable: true }),
    rejectsWith(404, 'No service registered with ID "nope"'),
  )
  await assert.rejects(
    consul.agent.check.register({ name: 'x', ttl: 'abc', timeout: '1s' }),
    rejectsWith(400, 'Request decode failed: time: invalid duration "abc"'),
  )
})

test('node-consul maintenance toggles the node and service maintenance checks', async (t) => {
  const { consul, raw } = await startApi(t)
  await consul.agent.service.register({
    name: 'web',
    id: 'web1',
    check: { ...ttlCheck('alive', '30s'), status: 'passing' },
  })
  await consul.agent.service.maintenance({ id: 'web1', enable: true, reason: 'deploy' })
  let checks = (await consul.agent.check.list()) as unknown as Record<string, Json>
  assert.equal(checks['_service_maintenance:web1']?.['Notes'], 'deploy')
  const health = await raw._get(
    { name: 'health', path: '/agent/health/service/id/{id}', params: { id: 'web1' } },
    keepResponse,
  )
  assert.equal(health.statusCode, 503)
  assert.equal((health.body as Json)['AggregatedStatus'], 'maintenance')
  await consul.agent.service.maintenance({ id: 'web1', enable: false })

  await consul.agent.maintenance({ enable: true, reason: 'kernel' })
  checks = (await consul.agent.check.list()) as unknown as Record<string, Json>
  assert.equal(checks['_node_maintenance']?.['Notes'], 'kernel')
  assert.equal(checks['_service_maintenance:web1'], undefined)
  await consul.agent.maintenance(false)
  assert.deepEqual(Object.keys((await consul.agent.check.list()) as Json), ['service:web1'])
})

test('agent health by id and name through node-consul: codes, reasons and text bodies', async (t) => {
  const { consul, raw } = await startApi(t)
  await consul.agent.service.register({
    name: 'web',
    id: 'web1',
    check: { ...ttlCheck('alive', '30s'), status: 'passing' },
  })
  await consul.agent.service.register({
    name: 'web',
    id: 'web2',
    check: { ...ttlCheck('alive', '30s'), status: 'passing' },
  })
  const byName = (format?: string): Promise<PapiRequest['res']> =>
    raw._get(
      {
        name: 'health',
        path: '/agent/health/service/name/{name}',
        params: { name: 'web' },
        ...(format === undefined ? {} : { query: { format } }),
      },
      keepResponse,
    )
  const ok = await byName()
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.headers['x-consul-reason'], 'passing')
  assert.equal((ok.body as Json[]).length, 2)

  await consul.agent.check.warn('service:web2')
  const warn = await byName('text')
  assert.equal(warn.statusCode, 429)
  assert.equal(warn.body, 'warning')
  await assert.rejects(
    raw._get(
      { name: 'health', path: '/agent/health/service/id/web2', query: { format: 'text' } },
      (r, next) => {
        next(false, r.err)
      },
    ),
    (err: Error) => err.message === 'warning',
  )

  await consul.agent.check.fail('service:web1')
  assert.equal((await byName()).statusCode, 503)
  const missing = await raw._get({ name: 'health', path: '/agent/health/service/id/nope' }, keepResponse)
  assert.equal(missing.statusCode, 404)
  assert.deepEqual(missing.body, { AggregatedStatus: 'critical', Service: null, Checks: null })
})

test('blocking service/:id with hash wakes on a change (node-consul request path)', async (t) => {
  const { agent, consul, raw } = await startApi(t)
  await consul.agent.service.register({ name: 'web', id: 'web1', port: 1 })
  const get = (query: Record<string, string> = {}): Promise<PapiRequest['res']> =>
    raw._get({ name: 'service', path: '/agent/service/{id}', params: { id: 'web1' }, query }, keepResponse)
  const first = await get()
  const hash = first.headers['x-consul-contenthash'] ?? ''
  assert.equal((first.body as Json)['ContentHash'], hash)

  const timedOut = await get({ hash, wait: '50ms' })
  assert.equal(timedOut.headers['x-consul-contenthash'], hash)

  const blocked = await startBlocked(agent, () => get({ hash, wait: '30s' }))
  await consul.agent.service.register({ name: 'web', id: 'web1', port: 2 })
  // Well before the 30s wait: the change woke it.
  const woke = await within(blocked.response, 10_000, 'the answer to the change')
  assert.equal((woke.body as Json)['Port'], 2)
  assert.notEqual(woke.headers['x-consul-contenthash'], hash)
})

test('node-consul reads self, members and status', async (t) => {
  const { consul } = await startApi(t)
  const self = (await consul.agent.self()) as Json
  assert.equal((self['Config'] as Json)['NodeName'], 'itest')
  assert.equal((self['Member'] as Json)['Name'], 'itest')
  const members = (await consul.agent.members()) as Json[]
  assert.equal(members.length, 1)
  // An agent without a server role knows no servers (a server answers: api-consul-catalog.test.ts).
  // The client turns the `""` body into undefined (its type says string).
  const leader: unknown = await consul.status.leader()
  assert.ok(leader === undefined || leader === '', `no leader: ${String(leader)}`)
  assert.deepEqual(await consul.status.peers(), [])
})

/** A raw HTTP/1.1 request that sends the path exactly as given (fetch would normalize it). */
function rawHttp(
  port: number,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

test('raw HTTP: status lines, headers and bodies as Consul sends them', async (t) => {
  const { port } = await startApi(t, {
    httpConfig: {
      responseHeaders: { 'X-Frame-Options': 'DENY' },
      blockEndpoints: [],
      allowWriteHttpFrom: [],
    },
  })
  const base = `http://127.0.0.1:${port}`

  const self = await fetch(`${base}/v1/agent/self`)
  assert.equal(self.status, 200)
  assert.equal(self.headers.get('content-type'), 'application/json')
  assert.equal(self.headers.get('x-consul-default-acl-policy'), 'allow')
  assert.equal(self.headers.get('x-frame-options'), 'DENY')
  assert.equal(self.headers.get('x-consul-index'), null)

  const reg = await fetch(`${base}/v1/agent/service/register`, { method: 'PUT', body: '{"Name":"web"}' })
  assert.equal(reg.status, 200)
  assert.equal(reg.headers.get('content-type'), null)
  assert.equal(await reg.text(), '')

  const bad = await fetch(`${base}/v1/agent/service/register`, {
    method: 'PUT',
    body: '{"Name":"web","Nope":1}',
  })
  assert.equal(bad.status, 400)
  assert.equal(bad.headers.get('content-type'), 'text/plain; charset=utf-8')
  assert.equal(await bad.text(), 'Request decode failed: json: unknown field "Nope"')

  const get405 = await fetch(`${base}/v1/agent/check/pass/x`)
  assert.equal(get405.status, 405)
  assert.equal(get405.headers.get('allow'), 'OPTIONS,PUT')
  assert.equal(await get405.text(), 'method GET not allowed')

  const options = await fetch(`${base}/v1/agent/services`, { method: 'OPTIONS' })
  assert.equal(options.status, 200)
  assert.equal(options.headers.get('allow'), 'OPTIONS,GET')

  const dots = await rawHttp(port, 'GET', '/v1/agent/../agent/./self')
  assert.equal(dots.status, 301)
  assert.equal(dots.headers['location'], '/v1/agent/self')
  const unprintable = await rawHttp(port, 'GET', '/v1/agent/service/a%0Ab')
  assert.equal(unprintable.status, 400)
  assert.equal(unprintable.body, '')
  const notFound = await rawHttp(port, 'GET', '/v1/agent/unknown')
  assert.equal(notFound.status, 404)
  assert.equal(notFound.body, 'Invalid URL path: not a recognized HTTP API endpoint\n')
  assert.equal(notFound.headers['x-frame-options'], 'DENY')

  const prom = await fetch(`${base}/v1/agent/metrics?format=prometheus`)
  assert.equal(prom.status, 200)
  assert.match(await prom.text(), /^consul_vigil_services 1$/m)
})

test('close() answers in-flight blocking queries, waits for them and is idempotent', async (t) => {
  const { agent, http, port } = await startApi(t)
  const base = `http://127.0.0.1:${port}`
  await fetch(`${base}/v1/agent/service/register`, { method: 'PUT', body: '{"Name":"web"}' })
  const hash = (await fetch(`${base}/v1/agent/service/web`)).headers.get('x-consul-contenthash') ?? ''
  const started = Date.now()
  const blocked = await startBlocked(agent, () => fetch(`${base}/v1/agent/service/web?hash=${hash}&wait=60s`))
  const closing = http.close()
  const res = await within(blocked.response, 5_000, 'the answer on close')
  assert.equal(res.status, 200)
  assert.equal(((await res.json()) as Json)['ID'], 'web')
  await closing
  await http.close()
  assert.ok(Date.now() - started < 5_000)
  await assert.rejects(fetch(`${base}/v1/agent/self`))
})

test('every address of addresses.http is bound on the same port', async (t) => {
  const agent = await Agent.start({ config: testSettings({ dev: false }), logger: silentLogger })
  let http: HttpApi
  try {
    http = await startHttpApi({
      agent,
      config: apiSettings({ addresses: { http: ['127.0.0.1', '127.0.0.2'] } }),
      logger: silentLogger,
    })
  } catch (err) {
    await agent.shutdown()
    if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') {
      t.skip('127.0.0.2 is not a local address here')
      return
    }
    throw err
  }
  t.after(async () => {
    await http.close()
    await agent.shutdown()
  })
  const [a, b] = http.addresses
  const port = a?.split(':')[1]
  assert.equal(a, `127.0.0.1:${port}`)
  assert.equal(b, `127.0.0.2:${port}`)
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    const res = await fetch(`http://${host}:${port}/v1/agent/self`)
    assert.equal(
      ((await res.json()) as { Config: { NodeName: string } }).Config.NodeName,
      agent.config.nodeName,
    )
  }
})

test('a taken port fails startHttpApi with EADDRINUSE; a negative port binds nothing', async (t) => {
  const { port } = await startApi(t)
  const agent = await Agent.start({ config: testSettings({ dev: false }), logger: silentLogger })
  t.after(() => agent.shutdown())
  await assert.rejects(
    startHttpApi({
      agent,
      config: apiSettings({ ports: { http: port, serfWan: 8302 } }),
      logger: silentLogger,
    }),
    (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
  )
  const off = await startHttpApi({
    agent,
    config: apiSettings({ ports: { http: -1, serfWan: 8302 } }),
    logger: silentLogger,
  })
  assert.deepEqual(off.addresses, [])
  await off.close()
  assert.equal((await fetch(`http://127.0.0.1:${port}/v1/status/leader`)).status, 200)
})

test('a -dev configuration from loadConfig serves pretty JSON and points / at the UI', async (t) => {
  const loaded = loadConfig(['-dev', '-node', 'devnode', '-client', '127.0.0.1'])
  const config = { ...loaded, ports: { ...loaded.ports, http: 0 } }
  const agent = await Agent.start({ config, logger: silentLogger })
  const http = await startHttpApi({ agent, config, logger: silentLogger })
  t.after(async () => {
    await http.close()
    await agent.shutdown()
  })
  const base = `http://${http.addresses[0] ?? ''}`
  const leader = await fetch(`${base}/v1/status/leader`)
  assert.equal(await leader.text(), '""\n', 'pretty: the (empty) leader with a newline')
  const root = await fetch(`${base}/`, { redirect: 'manual' })
  assert.equal(root.status, 301)
  assert.equal(root.headers.get('location'), loaded.uiContentPath)
  const self = (await (await fetch(`${base}/v1/agent/self`)).json()) as Record<string, Json>
  assert.equal(self['Config']?.['NodeName'], 'devnode')
})
