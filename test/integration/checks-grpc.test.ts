import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { GrpcRunner } from '../../src/agent/checks/grpc-check.js'
import type { SocketRunnerOptions } from '../../src/agent/checks/tcp-check.js'
import type { CheckDefinition } from '../../src/structs/check.js'
import { CountingClock } from '../support/counting-clock.js'
import {
  eventually,
  firstWrite,
  runnerContext,
  type RunnerContextOptions,
  type Write,
} from '../support/runner-context.js'
import { closedTcpPort, SERVER_CERT, SERVER_KEY, startSilentTcp } from '../support/sockets.js'
import { settleEventLoop } from '../support/wait.js'

const SERVING = 1
const NOT_SERVING = 2

type Handler = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => void

/** grpc.health.v1.Health with raw protobuf bytes, decoded here independently of the runner. */
const HEALTH_SERVICE: grpc.ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
}

/** `HealthCheckRequest.service` (names shorter than 128 bytes). */
function requestedService(request: Buffer): string {
  if (request.length === 0) return ''
  assert.equal(request[0], 0x0a)
  return request.subarray(2, 2 + request[1]!).toString('utf8')
}

/** A handler answering from a table of service → status; unknown services get NOT_FOUND. */
function statusTable(table: Record<string, number>, seen: string[] = []): Handler {
  return (call, callback) => {
    const service = requestedService(call.request)
    seen.push(service)
    const status = table[service]
    if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' })
    else callback(null, Buffer.from([0x08, status]))
  }
}

async function startServer(t: TestContext, handler: Handler, opts: { tls?: boolean } = {}): Promise<number> {
  const server = new grpc.Server()
  server.addService(HEALTH_SERVICE, { Check: handler })
  const creds =
    opts.tls === true
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: SERVER_KEY, cert_chain: SERVER_CERT }], false)
      : grpc.ServerCredentials.createInsecure()
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', creds, (err, p) => (err === null ? resolve(p) : reject(err)))
  })
  t.after(() => server.forceShutdown())
  return port
}

function grpcRunner(
  def: Partial<CheckDefinition>,
  opts?: SocketRunnerOptions,
  context?: RunnerContextOptions,
) {
  const { ctx, sink } = runnerContext({ type: 'grpc', timeoutMs: 2_000, ...def }, context)
  return { runner: new GrpcRunner(ctx, opts), sink }
}

/** Runs the check until its first result, stops it, and returns that result. */
async function probeOnce(
  t: TestContext,
  def: Partial<CheckDefinition>,
  opts?: SocketRunnerOptions,
): Promise<Write> {
  return firstWrite(t, grpcRunner(def, opts))
}

test('grpc check passes when the server is SERVING', async (t) => {
  const port = await startServer(t, statusTable({ '': SERVING }))
  const target = `127.0.0.1:${port}`
  assert.deepEqual(await probeOnce(t, { grpc: target }), {
    status: 'passing',
    output: `gRPC check ${target}: success`,
  })
})

test('grpc check is critical with the serving status when the server is NOT_SERVING', async (t) => {
  const port = await startServer(t, statusTable({ '': NOT_SERVING }))
  const target = `127.0.0.1:${port}`
  assert.deepEqual(await probeOnce(t, { grpc: target }), {
    status: 'critical',
    output: `gRPC ${target} serving status: NOT_SERVING`,
  })
})

test('grpc check sends the part after the first slash as the service name', async (t) => {
  const seen: string[] = []
  const port = await startServer(t, statusTable({ '': SERVING, db: NOT_SERVING, 'web/v2': SERVING }, seen))
  const db = await probeOnce(t, { grpc: `127.0.0.1:${port}/db` })
  const web = await probeOnce(t, { grpc: `127.0.0.1:${port}/web/v2` })
  assert.deepEqual(seen, ['db', 'web/v2'])
  assert.deepEqual(db, {
    status: 'critical',
    output: `gRPC 127.0.0.1:${port}/db serving status: NOT_SERVING`,
  })
  assert.deepEqual(web, { status: 'passing', output: `gRPC check 127.0.0.1:${port}/web/v2: success` })
})

test('grpc check reports a status error of the call as grpc-go prints it', async (t) => {
  const port = await startServer(t, statusTable({ '': SERVING }))
  assert.deepEqual(await probeOnce(t, { grpc: `127.0.0.1:${port}/nope` }), {
    status: 'critical',
    output: 'rpc error: code = NotFound desc = unknown service',
  })
})

test('grpc check is critical with the dial error when nothing listens', async (t) => {
  const port = await closedTcpPort()
  assert.deepEqual(await probeOnce(t, { grpc: `127.0.0.1:${port}` }), {
    status: 'critical',
    output:
      'rpc error: code = Unavailable desc = connection error: desc = ' +
      `"transport: Error while dialing: dial tcp 127.0.0.1:${port}: connect: connection refused"`,
  })
})

test('grpc check with TLS passes with tls_skip_verify and fails verification without it', async (t) => {
  const port = await startServer(t, statusTable({ '': SERVING }), { tls: true })
  const target = `127.0.0.1:${port}`
  assert.deepEqual(await probeOnce(t, { grpc: target, grpcUseTls: true, tlsSkipVerify: true }), {
    status: 'passing',
    output: `gRPC check ${target}: success`,
  })
  assert.deepEqual(await probeOnce(t, { grpc: target, grpcUseTls: true }), {
    status: 'critical',
    output:
      'rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake ' +
      'failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"',
  })
})

test('grpc check verifies the certificate against tls_server_name', async (t) => {
  const port = await startServer(t, statusTable({ '': SERVING }), { tls: true })
  const target = `127.0.0.1:${port}`
  const trusted: SocketRunnerOptions = { tls: { ca: SERVER_CERT } }
  const good = await probeOnce(
    t,
    { grpc: target, grpcUseTls: true, tlsServerName: 'vigil-test.local' },
    trusted,
  )
  assert.equal(good.status, 'passing')
  const bad = await probeOnce(t, { grpc: target, grpcUseTls: true, tlsServerName: 'other.example' }, trusted)
  assert.equal(bad.status, 'critical')
  assert.match(
    bad.output,
    /authentication handshake failed: tls: failed to verify certificate: x509: .*other\.example/,
  )
})

test('grpc check is critical with DeadlineExceeded when the server never answers', async (t) => {
  const cancelled: boolean[] = []
  const port = await startServer(t, (call) => {
    call.on('cancelled', () => cancelled.push(true))
  })
  const started = Date.now()
  assert.deepEqual(await probeOnce(t, { grpc: `127.0.0.1:${port}`, timeoutMs: 200 }), {
    status: 'critical',
    output: 'rpc error: code = DeadlineExceeded desc = context deadline exceeded',
  })
  assert.ok(Date.now() - started < 1_500)
  await eventually(() => cancelled.length === 1, 2_000, 'the server to see the call cancelled')
})

test('grpc check closes its connection when a peer accepts TCP but never speaks HTTP/2', async (t) => {
  const { port, open } = await startSilentTcp(t)
  assert.deepEqual(await probeOnce(t, { grpc: `127.0.0.1:${port}`, timeoutMs: 200 }), {
    status: 'critical',
    output: 'rpc error: code = DeadlineExceeded desc = context deadline exceeded',
  })
  await eventually(() => open.size === 0, 1_000, 'the probe connection to be closed')
})

test('grpc runner stop during an in-flight call resolves promptly and writes nothing', async (t) => {
  let entered!: () => void
  const inCall = new Promise<void>((resolve) => (entered = resolve))
  const cancelled: boolean[] = []
  const port = await startServer(t, (call) => {
    call.on('cancelled', () => cancelled.push(true))
    entered()
  })
  const clock = new CountingClock()
  const { runner, sink } = grpcRunner(
    { grpc: `127.0.0.1:${port}`, timeoutMs: 10_000, intervalMs: 50 },
    undefined,
    { clock },
  )
  t.after(() => runner.stop())
  runner.start()
  await inCall
  const started = Date.now()
  await runner.stop()
  assert.ok(Date.now() - started < 1_000, 'stop waited for the timeout')
  assert.equal(clock.pendingTimers(), 0, 'a timer outlives stop')
  await eventually(() => cancelled.length === 1, 2_000, 'the server to see the call cancelled')
  // No timer and the call cancelled: nothing is left that could write.
  await settleEventLoop()
  assert.deepEqual(sink.writes, [])
})

test('grpc runner probes again every interval on a fresh connection', async (t) => {
  const peers = new Set<string>()
  const port = await startServer(t, (call, callback) => {
    peers.add(call.getPeer())
    callback(null, Buffer.from([0x08, SERVING]))
  })
  const clock = new CountingClock()
  const { runner, sink } = grpcRunner({ grpc: `127.0.0.1:${port}`, intervalMs: 20 }, undefined, { clock })
  t.after(() => runner.stop())
  runner.start()
  await sink.waitFor(3)
  await runner.stop()
  const count = sink.writes.length
  assert.ok(sink.writes.every((w) => w.status === 'passing'))
  assert.ok(peers.size >= 3, `expected a new connection per probe, saw ${peers.size}`)
  // No next probe is scheduled: nothing is left that could write.
  assert.equal(clock.pendingTimers(), 0, 'a timer outlives stop')
  await settleEventLoop()
  assert.equal(sink.writes.length, count)
})
