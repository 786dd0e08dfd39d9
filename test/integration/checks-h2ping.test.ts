import assert from 'node:assert/strict'
import http2 from 'node:http2'
import net from 'node:net'
import { test, type TestContext } from 'node:test'
import { H2PingRunner } from '../../src/agent/checks/h2ping-check.js'
import type { CheckDefinition } from '../../src/structs/check.js'
import { CountingClock } from '../support/counting-clock.js'
import {
  eventually,
  firstWrite,
  runnerContext,
  type RunnerContextOptions,
  type Write,
} from '../support/runner-context.js'
import { settleEventLoop } from '../support/wait.js'
import { closedTcpPort, SERVER_CERT, SERVER_KEY, startSilentTcp } from '../support/sockets.js'

/** An HTTP/2 server (h2c or TLS) counting the sessions it has open. */
async function startHttp2(
  t: TestContext,
  opts: { tls: boolean },
): Promise<{ port: number; open: Set<unknown> }> {
  const server = opts.tls
    ? http2.createSecureServer({ key: SERVER_KEY, cert: SERVER_CERT })
    : http2.createServer()
  const open = new Set<http2.ServerHttp2Session>()
  server.on('session', (session) => {
    open.add(session)
    session.on('close', () => open.delete(session))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const session of open) session.destroy()
    server.close()
  })
  return { port: (server.address() as net.AddressInfo).port, open }
}

function h2pingRunner(def: Partial<CheckDefinition>, context?: RunnerContextOptions) {
  const { ctx, sink } = runnerContext(
    { type: 'h2ping', timeoutMs: 2_000, h2pingUseTls: true, ...def },
    context,
  )
  return { runner: new H2PingRunner(ctx), sink }
}

async function probeOnce(t: TestContext, def: Partial<CheckDefinition>): Promise<Write> {
  return firstWrite(t, h2pingRunner(def))
}

test('h2ping check passes against a cleartext (h2c) HTTP/2 server and closes its session', async (t) => {
  const { port, open } = await startHttp2(t, { tls: false })
  assert.deepEqual(await probeOnce(t, { h2ping: `127.0.0.1:${port}`, h2pingUseTls: false }), {
    status: 'passing',
    output: 'HTTP2 ping was successful',
  })
  await eventually(() => open.size === 0, 1_000, 'the server session to close')
})

test('h2ping check passes against a TLS HTTP/2 server with tls_skip_verify', async (t) => {
  const { port, open } = await startHttp2(t, { tls: true })
  assert.deepEqual(await probeOnce(t, { h2ping: `127.0.0.1:${port}`, tlsSkipVerify: true }), {
    status: 'passing',
    output: 'HTTP2 ping was successful',
  })
  await eventually(() => open.size === 0, 1_000, 'the server session to close')
})

test('h2ping check fails to dial when the certificate is not trusted', async (t) => {
  const { port } = await startHttp2(t, { tls: true })
  assert.deepEqual(await probeOnce(t, { h2ping: `127.0.0.1:${port}` }), {
    status: 'critical',
    output: `Failed to dial to 127.0.0.1:${port}: tls: failed to verify certificate: x509: certificate signed by unknown authority`,
  })
})

test('h2ping check is critical with the dial error when nothing listens', async (t) => {
  const port = await closedTcpPort()
  assert.deepEqual(await probeOnce(t, { h2ping: `127.0.0.1:${port}`, h2pingUseTls: false }), {
    status: 'critical',
    output: `Failed to dial to 127.0.0.1:${port}: dial tcp 127.0.0.1:${port}: connect: connection refused`,
  })
})

test('h2ping check is critical when the ping is never acknowledged, and closes its connection', async (t) => {
  const { port, open } = await startSilentTcp(t)
  assert.deepEqual(await probeOnce(t, { h2ping: `127.0.0.1:${port}`, h2pingUseTls: false, timeoutMs: 200 }), {
    status: 'critical',
    output: 'HTTP2 ping failed: context deadline exceeded',
  })
  await eventually(() => open.size === 0, 1_000, 'the probe connection to close')
})

test('h2ping check times out in the dial phase when the TLS handshake never completes', async (t) => {
  const { port, open } = await startSilentTcp(t)
  assert.deepEqual(await probeOnce(t, { h2ping: `127.0.0.1:${port}`, timeoutMs: 200 }), {
    status: 'critical',
    output: `Failed to dial to 127.0.0.1:${port}: context deadline exceeded`,
  })
  await eventually(() => open.size === 0, 1_000, 'the probe connection to close')
})

test('h2ping check reports a malformed target as a dial error', async (t) => {
  assert.deepEqual(await probeOnce(t, { h2ping: '127.0.0.1', h2pingUseTls: false }), {
    status: 'critical',
    output: 'Failed to dial to 127.0.0.1: dial tcp: address 127.0.0.1: missing port in address',
  })
})

test('h2ping runner stop during an in-flight ping resolves promptly, closes the connection, writes nothing', async (t) => {
  const { port, open } = await startSilentTcp(t)
  const clock = new CountingClock()
  const { runner, sink } = h2pingRunner(
    {
      h2ping: `127.0.0.1:${port}`,
      h2pingUseTls: false,
      timeoutMs: 10_000,
    },
    { clock },
  )
  t.after(() => runner.stop())
  runner.start()
  await eventually(() => open.size === 1, 2_000, 'the probe to connect')
  const started = Date.now()
  await runner.stop()
  assert.ok(Date.now() - started < 1_000, 'stop waited for the timeout')
  assert.equal(clock.pendingTimers(), 0, 'a timer outlives stop')
  await eventually(() => open.size === 0, 1_000, 'the probe connection to close')
  // No timer and the connection closed: nothing is left that could write.
  await settleEventLoop()
  assert.deepEqual(sink.writes, [])
})
