import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import tls from 'node:tls'
import type { Runner } from '../../src/agent/checks/runner.js'
import { TcpRunner, type SocketRunnerOptions } from '../../src/agent/checks/tcp-check.js'
import { UdpRunner } from '../../src/agent/checks/udp-check.js'
import type { Clock } from '../../src/lib/clock.js'
import { FakeClock } from '../support/fake-clock.js'
import type { CheckDefinition } from '../../src/structs/check.js'
import {
  firstWrite,
  runnerContext,
  within,
  type RecordingSink,
  type Write,
} from '../support/runner-context.js'
import { closedTcpPort, SERVER_CERT, SERVER_KEY } from '../support/sockets.js'
import { settleEventLoop, waitFor } from '../support/wait.js'

type Kind = 'tcp' | 'udp'

function makeRunner(
  kind: Kind,
  def: Partial<CheckDefinition>,
  opts: { clock?: Clock; runner?: SocketRunnerOptions } = {},
): { runner: Runner; sink: RecordingSink } {
  const { runner: runnerOpts, ...contextOpts } = opts
  const { ctx, sink } = runnerContext(
    { type: kind, timeoutMs: 2_000, ...def },
    { checkId: `svc-${kind}`, ...contextOpts },
  )
  const runner = kind === 'tcp' ? new TcpRunner(ctx, runnerOpts) : new UdpRunner(ctx, runnerOpts)
  return { runner, sink }
}

/** Runs the check until its first result, stops it, and returns that result. */
async function probeOnce(
  t: TestContext,
  kind: Kind,
  def: Partial<CheckDefinition>,
  runnerOpts?: SocketRunnerOptions,
): Promise<Write> {
  return firstWrite(t, makeRunner(kind, def, runnerOpts === undefined ? {} : { runner: runnerOpts }))
}

interface TcpServer {
  readonly port: number
  readonly accepted: net.Socket[]
  /** Resolves with the first accepted socket. */
  readonly firstConnection: Promise<net.Socket>
}

/**
 * A TCP (or TLS) server on `host` that reads and discards what it gets (so it sees the peer
 * close); a TLS server records the SNI of each ClientHello in `sni`.
 */
async function startTcpServer(
  t: TestContext,
  opts: { host?: string; secure?: boolean } = {},
): Promise<TcpServer & { sni: (string | undefined)[] }> {
  const sni: (string | undefined)[] = []
  const accepted: net.Socket[] = []
  let first: (s: net.Socket) => void = () => undefined
  const firstConnection = new Promise<net.Socket>((resolve) => (first = resolve))
  const handle = (s: net.Socket): void => {
    s.on('error', () => undefined)
    s.resume()
    accepted.push(s)
    first(s)
  }
  const context = tls.createSecureContext({ cert: SERVER_CERT, key: SERVER_KEY })
  const server =
    opts.secure === true
      ? tls.createServer(
          {
            cert: SERVER_CERT,
            key: SERVER_KEY,
            SNICallback: (name, cb) => {
              sni.push(name)
              cb(null, context)
            },
          },
          handle,
        )
      : net.createServer(handle)
  server.on('tlsClientError', () => undefined)
  await new Promise<void>((resolve) => server.listen(0, opts.host ?? '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of accepted) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as AddressInfo).port, accepted, firstConnection, sni }
}

/** A UDP port nothing listens on (bound, then released). */
async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  const { port } = s.address()
  await new Promise<void>((resolve) => s.close(resolve))
  return port
}

/** A UDP server that records datagrams and echoes them back when `echo`. */
async function startUdpServer(
  t: TestContext,
  echo: boolean,
): Promise<{ port: number; received: Buffer[]; senders: dgram.RemoteInfo[] }> {
  const received: Buffer[] = []
  const senders: dgram.RemoteInfo[] = []
  const s = dgram.createSocket('udp4')
  s.on('message', (msg, from) => {
    received.push(msg)
    senders.push(from)
    if (echo) s.send(msg, from.port, from.address)
  })
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => s.close(resolve)))
  return { port: s.address().port, received, senders }
}

/** True when nothing listens on the UDP port any more: a datagram there draws connection refused. */
async function udpPortClosed(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4')
  const timers: NodeJS.Timeout[] = []
  try {
    return await new Promise<boolean>((resolve) => {
      timers.push(setTimeout(() => resolve(false), 500))
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
      s.connect(port, '127.0.0.1', () => {
        s.send(Buffer.from('ping'))
        timers.push(setTimeout(() => s.send(Buffer.from('ping')), 20))
      })
    })
  } finally {
    for (const timer of timers) clearTimeout(timer)
    s.close()
  }
}

async function ipv6Loopback(): Promise<boolean> {
  const s = net.createServer()
  return new Promise((resolve) => {
    s.once('error', () => resolve(false))
    s.listen(0, '::1', () => s.close(() => resolve(true)))
  })
}

/** A resolver that answers every name with the given addresses, in order. */
function fixedLookup(addresses: readonly { address: string; family: 4 | 6 }[]): net.LookupFunction {
  return (_host, options, callback) => {
    if (options.all === true) callback(null, [...addresses])
    else callback(null, addresses[0]!.address, addresses[0]!.family)
  }
}

// ---- TCP ---------------------------------------------------------------------------------------

test('tcp check passes when the port accepts, and closes the connection at once', async (t) => {
  const srv = await startTcpServer(t)
  const w = await probeOnce(t, 'tcp', { tcp: `127.0.0.1:${srv.port}` })
  assert.deepEqual(w, { status: 'passing', output: `TCP connect 127.0.0.1:${srv.port}: Success` })
  const conn = await within(srv.firstConnection, 1_000, 'connection')
  await within(new Promise((resolve) => conn.once('close', resolve)), 1_000, 'server-side close')
})

test('tcp check is critical with Go text when the port is closed', async (t) => {
  const port = await closedTcpPort()
  const w = await probeOnce(t, 'tcp', { tcp: `127.0.0.1:${port}` })
  assert.deepEqual(w, {
    status: 'critical',
    output: `dial tcp 127.0.0.1:${port}: connect: connection refused`,
  })
})

test('tcp check resolves names', async (t) => {
  const srv = await startTcpServer(t)
  const w = await probeOnce(t, 'tcp', { tcp: `localhost:${srv.port}` })
  assert.deepEqual(w, { status: 'passing', output: `TCP connect localhost:${srv.port}: Success` })
})

test('tcp check rejects an address without port with Go text', async (t) => {
  const w = await probeOnce(t, 'tcp', { tcp: 'db.internal' })
  assert.deepEqual(w, {
    status: 'critical',
    output: 'dial tcp: address db.internal: missing port in address',
  })
})

test('tcp check reports a name that does not resolve', async (t) => {
  const w = await probeOnce(t, 'tcp', { tcp: 'no-such-host.invalid:80' })
  assert.deepEqual(w, { status: 'critical', output: 'dial tcp: lookup no-such-host.invalid: no such host' })
})

test('tcp check tries every address of a dual-stack name and the first success wins', async (t) => {
  const dual = fixedLookup([
    { address: '::1', family: 6 },
    { address: '127.0.0.1', family: 4 },
  ])
  const v4 = await startTcpServer(t, { host: '127.0.0.1' })
  const onlyV4 = await probeOnce(t, 'tcp', { tcp: `dual.test:${v4.port}` }, { lookup: dual })
  assert.deepEqual(onlyV4, { status: 'passing', output: `TCP connect dual.test:${v4.port}: Success` })
  if (await ipv6Loopback()) {
    const v6 = await startTcpServer(t, { host: '::1' })
    const v4First = fixedLookup([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ])
    const onlyV6 = await probeOnce(t, 'tcp', { tcp: `dual.test:${v6.port}` }, { lookup: v4First })
    assert.equal(onlyV6.status, 'passing')
  }
  const port = await closedTcpPort()
  const none = await probeOnce(t, 'tcp', { tcp: `dual.test:${port}` }, { lookup: dual })
  assert.deepEqual(none, {
    status: 'critical',
    output: `dial tcp [::1]:${port}: connect: connection refused`,
  })
})

test('tcp check with tcp_use_tls passes a TLS handshake when verification is skipped', async (t) => {
  const srv = await startTcpServer(t, { secure: true })
  const w = await probeOnce(t, 'tcp', {
    tcp: `127.0.0.1:${srv.port}`,
    tcpUseTls: true,
    tlsSkipVerify: true,
    tlsServerName: 'vigil-test.local',
  })
  assert.deepEqual(w, { status: 'passing', output: `TCP+TLS connect 127.0.0.1:${srv.port}: Success` })
  assert.deepEqual(srv.sni, ['vigil-test.local'])
})

test('tcp check with tcp_use_tls is critical on an untrusted certificate', async (t) => {
  const srv = await startTcpServer(t, { secure: true })
  const w = await probeOnce(t, 'tcp', { tcp: `127.0.0.1:${srv.port}`, tcpUseTls: true })
  assert.deepEqual(w, {
    status: 'critical',
    output: 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
  })
})

test('tcp check with tcp_use_tls verifies the name against a trusted CA', async (t) => {
  const srv = await startTcpServer(t, { secure: true })
  const trusted = { tls: { ca: SERVER_CERT } }
  const ok = await probeOnce(t, 'tcp', { tcp: `localhost:${srv.port}`, tcpUseTls: true }, trusted)
  assert.equal(ok.status, 'passing')
  const wrong = await probeOnce(
    t,
    'tcp',
    { tcp: `127.0.0.1:${srv.port}`, tcpUseTls: true, tlsServerName: 'db.example' },
    trusted,
  )
  assert.deepEqual(wrong, {
    status: 'critical',
    output:
      'tls: failed to verify certificate: x509: certificate is valid for vigil-test.local, localhost, not db.example',
  })
})

test('tcp check with tcp_use_tls against a plain HTTP server is critical', async (t) => {
  const server = http.createServer((_req, res) => res.end('plain'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  const w = await probeOnce(t, 'tcp', { tcp: `127.0.0.1:${port}`, tcpUseTls: true, tlsSkipVerify: true })
  assert.deepEqual(w, { status: 'critical', output: 'tls: first record does not look like a TLS handshake' })
})

test('tcp check with tcp_use_tls times out a server that never speaks TLS, closing the socket', async (t) => {
  const srv = await startTcpServer(t)
  const w = await probeOnce(t, 'tcp', {
    tcp: `127.0.0.1:${srv.port}`,
    tcpUseTls: true,
    tlsSkipVerify: true,
    timeoutMs: 200,
  })
  assert.deepEqual(w, { status: 'critical', output: 'context deadline exceeded' })
  const conn = await within(srv.firstConnection, 1_000, 'connection')
  if (!conn.destroyed) await within(new Promise((resolve) => conn.once('close', resolve)), 1_000, 'close')
})

test('tcp check stop during a blocked TLS handshake resolves promptly, closes the socket, and never writes', async (t) => {
  const srv = await startTcpServer(t)
  const clock = new FakeClock()
  const { runner, sink } = makeRunner(
    'tcp',
    { tcp: `127.0.0.1:${srv.port}`, tcpUseTls: true, tlsSkipVerify: true, timeoutMs: 30_000 },
    { clock },
  )
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(0)
  const conn = await within(srv.firstConnection, 2_000, 'connection')
  const serverSawClose = new Promise((resolve) => conn.once('close', resolve))
  await within(runner.stop(), 500, 'stop')
  assert.equal(clock.pendingTimers(), 0)
  await within(serverSawClose, 1_000, 'server-side close')
  await clock.advance(120_000)
  // No timer and the socket closed: nothing is left that could write.
  await settleEventLoop()
  assert.deepEqual(sink.writes, [])
})

test('tcp check stop during a name lookup that never answers resolves promptly and never writes', async (t) => {
  const clock = new FakeClock()
  let asked = false
  const stuck: net.LookupFunction = () => {
    asked = true
  }
  const { runner, sink } = makeRunner('tcp', { tcp: 'stuck.test:80' }, { clock, runner: { lookup: stuck } })
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(0)
  assert.equal(asked, true)
  await within(runner.stop(), 500, 'stop')
  assert.equal(clock.pendingTimers(), 0)
  await clock.advance(120_000)
  assert.deepEqual(sink.writes, [])
})

test('tcp check stop between probes leaves no timer and no more writes', async (t) => {
  const srv = await startTcpServer(t)
  const clock = new FakeClock()
  const { runner, sink } = makeRunner('tcp', { tcp: `127.0.0.1:${srv.port}`, intervalMs: 10_000 }, { clock })
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(0)
  await sink.waitFor(1)
  await clock.advance(0)
  assert.equal(clock.pendingTimers(), 1)
  await runner.stop()
  assert.equal(clock.pendingTimers(), 0)
  await clock.advance(60_000)
  await settleEventLoop()
  assert.equal(sink.writes.length, 1)
  assert.equal(srv.accepted.length, 1)
})

// ---- UDP ---------------------------------------------------------------------------------------

test('udp check passes when the server answers, after sending an empty datagram', async (t) => {
  const srv = await startUdpServer(t, true)
  const w = await probeOnce(t, 'udp', { udp: `127.0.0.1:${srv.port}` })
  assert.deepEqual(w, { status: 'passing', output: `UDP connect 127.0.0.1:${srv.port}: Success` })
  assert.deepEqual(
    srv.received.map((b) => b.length),
    [0],
  )
})

test('udp check resolves names', async (t) => {
  const srv = await startUdpServer(t, true)
  const w = await probeOnce(t, 'udp', { udp: `localhost:${srv.port}` })
  assert.deepEqual(w, { status: 'passing', output: `UDP connect localhost:${srv.port}: Success` })
})

test('udp check passes when a silent server lets the read time out', async (t) => {
  const srv = await startUdpServer(t, false)
  const started = Date.now()
  const w = await probeOnce(t, 'udp', { udp: `127.0.0.1:${srv.port}`, timeoutMs: 200 })
  assert.ok(Date.now() - started >= 150, 'waited for the read timeout')
  assert.deepEqual(w, { status: 'passing', output: `UDP connect 127.0.0.1:${srv.port}: Success` })
  assert.equal(srv.received.length, 1)
})

test('udp check is critical when the port is unreachable (connection refused)', async (t) => {
  const port = await closedUdpPort()
  const w = await probeOnce(t, 'udp', { udp: `127.0.0.1:${port}` })
  assert.equal(w.status, 'critical')
  assert.match(
    w.output,
    new RegExp(`^read udp 127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${port}: read: connection refused$`),
  )
})

test('udp check rejects a malformed address and an unknown name with Go text', async (t) => {
  assert.deepEqual(await probeOnce(t, 'udp', { udp: 'dns.internal' }), {
    status: 'critical',
    output: 'dial udp: address dns.internal: missing port in address',
  })
  assert.deepEqual(await probeOnce(t, 'udp', { udp: 'no-such-host.invalid:53' }), {
    status: 'critical',
    output: 'dial udp: lookup no-such-host.invalid: no such host',
  })
})

test('udp check stop while waiting for a reply resolves promptly, closes the socket, and never writes', async (t) => {
  const srv = await startUdpServer(t, false)
  const clock = new FakeClock()
  const { runner, sink } = makeRunner('udp', { udp: `127.0.0.1:${srv.port}`, timeoutMs: 30_000 }, { clock })
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(0)
  await waitFor(() => srv.received.length > 0, { timeoutMs: 2_000, what: 'the probe datagram' })
  assert.equal(srv.received.length, 1)
  const probePort = srv.senders[0]!.port
  await within(runner.stop(), 500, 'stop')
  assert.equal(clock.pendingTimers(), 0)
  assert.equal(await udpPortClosed(probePort), true, 'the probe socket is closed')
  await clock.advance(120_000)
  // No timer and the socket closed: nothing is left that could write.
  await settleEventLoop()
  assert.deepEqual(sink.writes, [])
})

test('udp check timeout is passing even when it hits during a name lookup', async (t) => {
  const clock = new FakeClock()
  const stuck: net.LookupFunction = () => undefined
  const { runner, sink } = makeRunner(
    'udp',
    { udp: 'stuck.test:53', timeoutMs: 1_000 },
    { clock, runner: { lookup: stuck } },
  )
  t.after(() => runner.stop())
  runner.start()
  await clock.advance(1_000)
  assert.deepEqual(sink.writes, [{ status: 'passing', output: 'UDP connect stuck.test:53: Success' }])
  await runner.stop()
  assert.equal(clock.pendingTimers(), 0)
})
