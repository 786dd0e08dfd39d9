import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import type { TLSSocket } from 'node:tls'
import { HttpRunner, type HttpRunnerOptions } from '../../src/agent/checks/http-check.js'
import type { Clock } from '../../src/lib/clock.js'
import { FakeClock } from '../support/fake-clock.js'
import type { CheckDefinition } from '../../src/structs/check.js'
import {
  eventually,
  firstWrite,
  runnerContext,
  within,
  type RecordingSink,
  type Write,
} from '../support/runner-context.js'
import { closedTcpPort, SERVER_CERT, SERVER_KEY } from '../support/sockets.js'
import { settleEventLoop } from '../support/wait.js'

function makeRunner(
  def: Partial<CheckDefinition>,
  opts: { clock?: Clock; outputMaxSize?: number; runner?: HttpRunnerOptions } = {},
): { runner: HttpRunner; sink: RecordingSink } {
  const { runner: runnerOpts, ...contextOpts } = opts
  const { ctx, sink } = runnerContext(
    { type: 'http', timeoutMs: 2_000, ...def },
    { checkId: 'web-http', ...contextOpts },
  )
  return { runner: new HttpRunner(ctx, runnerOpts), sink }
}

/** Runs the check until its first result, stops it, and returns that result. */
async function probeOnce(
  t: TestContext,
  def: Partial<CheckDefinition>,
  opts: { outputMaxSize?: number; runner?: HttpRunnerOptions } = {},
): Promise<Write> {
  return firstWrite(t, makeRunner(def, opts))
}

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
  readonly servername: string | false | null | undefined
}

/** A test server with fixed routes; records every request and tracks its sockets. */
async function startServer(
  t: TestContext,
  secure = false,
): Promise<{
  base: string
  port: number
  seen: Seen[]
  sockets: Set<Socket>
  hung: Promise<Socket>
  closedSockets: () => number
}> {
  const seen: Seen[] = []
  const sockets = new Set<Socket>()
  let closed = 0
  let hungSocket: (s: Socket) => void = () => undefined
  const hung = new Promise<Socket>((resolve) => (hungSocket = resolve))
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = req.url ?? '/'
      seen.push({
        method: req.method ?? '',
        url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        servername: (req.socket as Partial<TLSSocket>).servername,
      })
      const redirect = /^\/redirect\/(\d+)$/.exec(url)
      if (redirect !== null) {
        const n = Number(redirect[1])
        if (n === 0) res.end('landed')
        else res.writeHead(302, { location: `/redirect/${n - 1}` }).end()
        return
      }
      switch (url) {
        case '/ok':
          res.end('ok')
          return
        case '/429':
          res.writeHead(429).end('slow down')
          return
        case '/500':
          res.writeHead(500).end('boom')
          return
        case '/loop':
          res.writeHead(302, { location: '/loop' }).end()
          return
        case '/see-other':
          res.writeHead(303, { location: '/echo' }).end()
          return
        case '/temporary':
          res.writeHead(307, { location: '/echo' }).end()
          return
        case '/moved':
          res.writeHead(301, { location: '/ok' }).end('moved body')
          return
        case '/echo':
          res.end(`${req.method ?? ''} ${Buffer.concat(chunks).toString()}`)
          return
        case '/big':
          res.end('x'.repeat(100_000) + '0123456789ABCDEF')
          return
        case '/partial':
          res.writeHead(200)
          res.write('partial body')
          return
        case '/hang':
          hungSocket(req.socket)
          return
        default:
          res.writeHead(404).end('not found')
      }
    })
  }
  const server = secure
    ? https.createServer({ cert: SERVER_CERT, key: SERVER_KEY }, handler)
    : http.createServer(handler)
  const onSocket = (s: Socket): void => {
    sockets.add(s)
    s.on('close', () => {
      sockets.delete(s)
      closed++
    })
  }
  server.on(secure ? 'secureConnection' : 'connection', onSocket)
  if (secure) server.on('tlsClientError', () => undefined)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { port } = server.address() as AddressInfo
  return {
    base: `${secure ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    seen,
    sockets,
    hung,
    closedSockets: () => closed,
  }
}

test('http check passes on 200 with the status line and body in the output', async (t) => {
  const srv = await startServer(t)
  const w = await probeOnce(t, { http: `${srv.base}/ok` })
  assert.deepEqual(w, { status: 'passing', output: `HTTP GET ${srv.base}/ok: 200 OK Output: ok` })
})

test('http check warns on 429 and is critical on 500 and 404', async (t) => {
  const srv = await startServer(t)
  assert.deepEqual(await probeOnce(t, { http: `${srv.base}/429` }), {
    status: 'warning',
    output: `HTTP GET ${srv.base}/429: 429 Too Many Requests Output: slow down`,
  })
  assert.deepEqual(await probeOnce(t, { http: `${srv.base}/500` }), {
    status: 'critical',
    output: `HTTP GET ${srv.base}/500: 500 Internal Server Error Output: boom`,
  })
  assert.equal((await probeOnce(t, { http: `${srv.base}/missing` })).status, 'critical')
})

test('http check sends Consul default headers, no keep-alive, and the configured headers', async (t) => {
  const srv = await startServer(t)
  await probeOnce(t, { http: `${srv.base}/ok`, header: { 'X-Trace': ['a', 'b'], 'X-One': ['1'] } })
  const h = srv.seen[0]!.headers
  assert.equal(h['user-agent'], 'Consul Health Check')
  assert.equal(h['accept'], 'text/plain, text/*, */*')
  assert.equal(h['connection'], 'close')
  assert.equal(h['x-trace'], 'a, b')
  assert.equal(h['x-one'], '1')
  assert.equal(h['host'], `127.0.0.1:${srv.port}`)
})

test('http check lets the definition override User-Agent, Accept and Host', async (t) => {
  const srv = await startServer(t)
  const w = await probeOnce(t, {
    http: `${srv.base}/ok`,
    header: { 'User-Agent': ['probe/1'], Accept: ['application/json'], Host: ['api.example.test'] },
  })
  assert.equal(w.status, 'passing')
  const h = srv.seen[0]!.headers
  assert.equal(h['user-agent'], 'probe/1')
  assert.equal(h['accept'], 'application/json')
  assert.equal(h['host'], 'api.example.test')
})

test('http check sends the configured method and body', async (t) => {
  const srv = await startServer(t)
  const w = await probeOnce(t, { http: `${srv.base}/echo`, method: 'PUT', body: '{"ready":true}' })
  assert.deepEqual(w, {
    status: 'passing',
    output: `HTTP PUT ${srv.base}/echo: 200 OK Output: PUT {"ready":true}`,
  })
  assert.equal(srv.seen[0]!.method, 'PUT')
  assert.equal(srv.seen[0]!.headers['content-length'], '14')
})

test('http check follows redirects and judges the final response', async (t) => {
  const srv = await startServer(t)
  const w = await probeOnce(t, { http: `${srv.base}/redirect/3` })
  assert.deepEqual(w, { status: 'passing', output: `HTTP GET ${srv.base}/redirect/3: 200 OK Output: landed` })
  assert.deepEqual(
    srv.seen.map((s) => s.url),
    ['/redirect/3', '/redirect/2', '/redirect/1', '/redirect/0'],
  )
  assert.equal(srv.seen[1]!.headers['referer'], `${srv.base}/redirect/3`)
})

test('http check gives up after 10 redirects with Go error text', async (t) => {
  const srv = await startServer(t)
  const w = await probeOnce(t, { http: `${srv.base}/loop` })
  assert.deepEqual(w, { status: 'critical', output: 'Get "/loop": stopped after 10 redirects' })
  assert.equal(srv.seen.length, 10)
})

test('http check follows a chain of 10 requests and fails on the 11th (Go counts requests)', async (t) => {
  const srv = await startServer(t)
  const nine = await probeOnce(t, { http: `${srv.base}/redirect/9` })
  assert.equal(nine.status, 'passing')
  assert.equal(srv.seen.length, 10)
  const ten = await probeOnce(t, { http: `${srv.base}/redirect/10` })
  assert.deepEqual(ten, { status: 'critical', output: 'Get "/redirect/0": stopped after 10 redirects' })
  assert.equal(srv.seen.length, 20)
})

test('http check turns POST into GET without body on 303 and keeps both on 307', async (t) => {
  const srv = await startServer(t)
  const seeOther = await probeOnce(t, { http: `${srv.base}/see-other`, method: 'POST', body: 'payload' })
  assert.equal(seeOther.output, `HTTP POST ${srv.base}/see-other: 200 OK Output: GET `)
  const temporary = await probeOnce(t, { http: `${srv.base}/temporary`, method: 'POST', body: 'payload' })
  assert.equal(temporary.output, `HTTP POST ${srv.base}/temporary: 200 OK Output: POST payload`)
})

test('http check with disable_redirects judges the 3xx response itself', async (t) => {
  const srv = await startServer(t)
  const found = await probeOnce(t, { http: `${srv.base}/redirect/1`, disableRedirects: true })
  assert.deepEqual(found, {
    status: 'critical',
    output: `HTTP GET ${srv.base}/redirect/1: 302 Found Output: `,
  })
  const moved = await probeOnce(t, { http: `${srv.base}/moved`, disableRedirects: true })
  assert.deepEqual(moved, {
    status: 'critical',
    output: `HTTP GET ${srv.base}/moved: 301 Moved Permanently Output: moved body`,
  })
  assert.deepEqual(
    srv.seen.map((s) => s.url),
    ['/redirect/1', '/moved'],
  )
})

test('http check keeps only the last outputMaxSize bytes of the body', async (t) => {
  const srv = await startServer(t)
  const w = await probeOnce(t, { http: `${srv.base}/big` }, { outputMaxSize: 16 })
  assert.deepEqual(w, {
    status: 'passing',
    output: `HTTP GET ${srv.base}/big: 200 OK Output: 0123456789ABCDEF`,
  })
})

test('http check is critical with Go text when nothing listens', async (t) => {
  const port = await closedTcpPort()
  const url = `http://127.0.0.1:${port}/health`
  const w = await probeOnce(t, { http: url })
  assert.deepEqual(w, {
    status: 'critical',
    output: `Get "${url}": dial tcp 127.0.0.1:${port}: connect: connection refused`,
  })
})

test('http check is critical on an unsupported scheme', async (t) => {
  const w = await probeOnce(t, { http: 'ftp://127.0.0.1/x', method: 'HEAD' })
  assert.deepEqual(w, {
    status: 'critical',
    output: 'Head "ftp://127.0.0.1/x": unsupported protocol scheme "ftp"',
  })
})

test('http check times out a server that never answers, closing the connection', async (t) => {
  const srv = await startServer(t)
  const url = `${srv.base}/hang`
  const started = Date.now()
  const w = await probeOnce(t, { http: url, timeoutMs: 200 })
  assert.ok(Date.now() - started < 2_000)
  assert.deepEqual(w, {
    status: 'critical',
    output: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
  })
  await eventually(() => srv.sockets.size === 0, 2_000, 'the server sockets to close')
})

test('http check judges the status with the partial body when the body read times out (as Go)', async (t) => {
  const srv = await startServer(t)
  const w = await probeOnce(t, { http: `${srv.base}/partial`, timeoutMs: 200 })
  assert.deepEqual(w, {
    status: 'passing',
    output: `HTTP GET ${srv.base}/partial: 200 OK Output: partial body`,
  })
  await eventually(() => srv.sockets.size === 0, 2_000, 'the server sockets to close')
})

test('http check stop during a blocked request resolves promptly, closes the socket, and never writes', async (t) => {
  const srv = await startServer(t)
  const clock = new FakeClock()
  const { runner, sink } = makeRunner({ http: `${srv.base}/hang`, timeoutMs: 30_000 }, { clock })
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(0)
  const serverSocket = await within(srv.hung, 2_000, 'request at the server')
  const serverSawClose = new Promise<void>((resolve) => serverSocket.once('close', resolve))
  await within(runner.stop(), 500, 'stop')
  assert.equal(clock.pendingTimers(), 0)
  await within(serverSawClose, 1_000, 'server-side close')
  await clock.advance(120_000)
  // No timer and the socket closed: nothing is left that could write.
  await settleEventLoop()
  assert.deepEqual(sink.writes, [])
})

test('http check stop between probes leaves no timer and no more writes', async (t) => {
  const srv = await startServer(t)
  const clock = new FakeClock()
  const { runner, sink } = makeRunner({ http: `${srv.base}/ok`, intervalMs: 10_000 }, { clock })
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(0)
  await sink.waitFor(1)
  await eventually(() => clock.pendingTimers() === 1, 2_000, 'the next probe timer')
  await runner.stop()
  assert.equal(clock.pendingTimers(), 0)
  await clock.advance(60_000)
  await settleEventLoop()
  assert.equal(sink.writes.length, 1)
  assert.equal(srv.seen.length, 1)
})

test('https check passes with tls_skip_verify against a self-signed certificate, sending no SNI for an IP', async (t) => {
  const srv = await startServer(t, true)
  const w = await probeOnce(t, { http: `${srv.base}/ok`, tlsSkipVerify: true })
  assert.deepEqual(w, { status: 'passing', output: `HTTP GET ${srv.base}/ok: 200 OK Output: ok` })
  assert.equal(srv.seen[0]!.servername, false)
})

test('https check is critical when the certificate cannot be verified', async (t) => {
  const srv = await startServer(t, true)
  const w = await probeOnce(t, { http: `${srv.base}/ok` })
  assert.deepEqual(w, {
    status: 'critical',
    output: `Get "${srv.base}/ok": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
  })
  assert.equal(srv.seen.length, 0)
})

test('https check sends tls_server_name as SNI and still fails verification of an untrusted CA', async (t) => {
  const srv = await startServer(t, true)
  const skip = await probeOnce(t, {
    http: `${srv.base}/ok`,
    tlsServerName: 'vigil-test.local',
    tlsSkipVerify: true,
  })
  assert.equal(skip.status, 'passing')
  assert.equal(srv.seen[0]!.servername, 'vigil-test.local')
  const verify = await probeOnce(t, { http: `${srv.base}/ok`, tlsServerName: 'vigil-test.local' })
  assert.equal(verify.status, 'critical')
  assert.match(verify.output, /certificate signed by unknown authority$/)
})

test('https check sends the URL host as SNI when it is a name', async (t) => {
  const srv = await startServer(t, true)
  const w = await probeOnce(t, { http: `https://localhost:${srv.port}/ok`, tlsSkipVerify: true })
  assert.equal(w.status, 'passing')
  assert.equal(srv.seen[0]!.servername, 'localhost')
})

test('https check with a trusted CA verifies tls_server_name against the certificate', async (t) => {
  const srv = await startServer(t, true)
  const trusted = { runner: { tls: { ca: SERVER_CERT } } }
  const byIp = await probeOnce(t, { http: `${srv.base}/ok` }, trusted)
  assert.equal(byIp.status, 'passing')
  const byName = await probeOnce(t, { http: `${srv.base}/ok`, tlsServerName: 'vigil-test.local' }, trusted)
  assert.equal(byName.status, 'passing')
  const wrong = await probeOnce(t, { http: `${srv.base}/ok`, tlsServerName: 'wrong.example' }, trusted)
  assert.deepEqual(wrong, {
    status: 'critical',
    output: `Get "${srv.base}/ok": tls: failed to verify certificate: x509: certificate is valid for vigil-test.local, localhost, not wrong.example`,
  })
})
