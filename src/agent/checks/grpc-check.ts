import http2 from 'node:http2'
import { STATUS_CODES } from 'node:http'
import { errorMessage } from '../../lib/errors.js'
import { DialError, Http2Connection, dialSocket, type DialOptions } from './dial.js'
import { ProbeTimeoutError, type ProbeResult } from './runner.js'
import { SocketRunner } from './tcp-check.js'

/** `grpc.health.v1.HealthCheckResponse.ServingStatus` values by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const
const SERVING = 1

/** gRPC status codes as grpc-go prints them (`codes.Code.String()`), by number. */
const CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const

type CodeName = (typeof CODE_NAMES)[number]

const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check'
/** grpc-go's default maximum received message size. */
const MAX_RECEIVE_BYTES = 4 * 1024 * 1024

/** A failed RPC; `message` is grpc-go's `rpc error: code = <Code> desc = <details>`. */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`rpc error: code = ${CODE_NAMES[code] ?? `Code(${code})`} desc = ${details}`)
    this.name = 'GrpcStatusError'
  }

  static of(code: CodeName, details: string): GrpcStatusError {
    return new GrpcStatusError(CODE_NAMES.indexOf(code), details)
  }
}

/** `GRPC` is `host:port` or `host:port/<service>`; the part after the first `/` is the service. */
export function parseGrpcTarget(target: string): { address: string; service: string } {
  const slash = target.indexOf('/')
  return slash < 0
    ? { address: target, service: '' }
    : { address: target.slice(0, slash), service: target.slice(slash + 1) }
}

/** The name Go prints for a serving status (unknown values print as their number). */
export function servingStatusName(status: number): string {
  return SERVING_STATUS[status] ?? String(status)
}

/** `HealthCheckRequest { string service = 1; }`, protobuf-encoded. */
export function encodeHealthCheckRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0)
  const name = Buffer.from(service, 'utf8')
  return Buffer.concat([Buffer.from([0x0a]), encodeVarint(name.length), name])
}

/** `HealthCheckResponse { ServingStatus status = 1; }`: the status, 0 (UNKNOWN) when absent. */
export function decodeHealthCheckResponse(message: Buffer): number {
  let status = 0
  let pos = 0
  while (pos < message.length) {
    const [key, afterKey] = readVarint(message, pos)
    pos = afterKey
    const field = Number(key >> 3n)
    switch (Number(key & 7n)) {
      case 0: {
        const [value, next] = readVarint(message, pos)
        if (field === 1) status = Number(BigInt.asIntN(32, value))
        pos = next
        break
      }
      case 1:
        pos += 8
        break
      case 2: {
        const [length, next] = readVarint(message, pos)
        pos = next + Number(length)
        break
      }
      case 5:
        pos += 4
        break
      default:
        throw new Error('proto: cannot parse invalid wire-format data')
    }
    if (pos > message.length) throw new Error('proto: cannot parse invalid wire-format data')
  }
  return status
}

function encodeVarint(value: number): Buffer {
  const bytes: number[] = []
  let v = value
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  bytes.push(v)
  return Buffer.from(bytes)
}

function readVarint(buf: Buffer, start: number): [bigint, number] {
  let value = 0n
  for (let i = 0; i < 10; i++) {
    const byte = buf[start + i]
    if (byte === undefined) break
    value |= BigInt(byte & 0x7f) << BigInt(7 * i)
    if (byte < 0x80) return [value, start + i + 1]
  }
  throw new Error('proto: cannot parse invalid wire-format data')
}

/** grpc-go's mapping of a non-200 HTTP status to a gRPC code. */
function codeForHttpStatus(status: number): CodeName {
  switch (status) {
    case 400:
      return 'Internal'
    case 401:
      return 'Unauthenticated'
    case 403:
      return 'PermissionDenied'
    case 404:
      return 'Unimplemented'
    case 429:
    case 502:
    case 503:
    case 504:
      return 'Unavailable'
    default:
      return 'Unknown'
  }
}

/** `grpc-timeout` header value: at most 8 digits and a unit. */
function grpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms))
  return whole < 1e8 ? `${whole}m` : `${Math.min(Math.ceil(whole / 1000), 99_999_999)}S`
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/**
 * One unary `Health/Check` call on an open session. Resolves with the serving status; rejects
 * with a GrpcStatusError, or with `signal.reason` (a ProbeTimeoutError becomes DeadlineExceeded).
 * The caller destroys the session afterwards, which also ends a stream still in flight.
 */
function callHealthCheck(
  session: http2.ClientHttp2Session,
  service: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal))
      return
    }
    const request = encodeHealthCheckRequest(service)
    const frame = Buffer.alloc(5 + request.length)
    frame.writeUInt32BE(request.length, 1)
    request.copy(frame, 5)

    let headers: http2.IncomingHttpHeaders | undefined
    let grpcStatus: string | undefined
    let grpcMessage = ''
    const chunks: Buffer[] = []
    let received = 0
    let settled = false

    const finish = (outcome: { status: number } | { error: Error }): void => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      if ('status' in outcome) resolve(outcome.status)
      else reject(outcome.error)
    }
    const onAbort = (): void => {
      finish({ error: abortError(signal) })
    }
    const readStatus = (fields: http2.IncomingHttpHeaders): void => {
      const status = headerText(fields['grpc-status'])
      if (status === undefined) return
      grpcStatus = status
      grpcMessage = percentDecode(headerText(fields['grpc-message']) ?? '')
    }
    signal.addEventListener('abort', onAbort, { once: true })

    let stream: http2.ClientHttp2Stream
    try {
      stream = session.request({
        ':method': 'POST',
        ':path': HEALTH_CHECK_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': grpcTimeout(timeoutMs),
        'user-agent': 'vigil-grpc-health-check',
      })
    } catch (err) {
      finish({ error: GrpcStatusError.of('Unavailable', errorMessage(err)) })
      return
    }
    stream.on('response', (fields) => {
      headers = fields
      readStatus(fields)
    })
    stream.on('trailers', readStatus)
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (received > MAX_RECEIVE_BYTES + 5) {
        stream.close(http2.constants.NGHTTP2_CANCEL)
        finish({
          error: GrpcStatusError.of(
            'ResourceExhausted',
            `grpc: received message larger than max (${received - 5} vs. ${MAX_RECEIVE_BYTES})`,
          ),
        })
        return
      }
      chunks.push(chunk)
    })
    stream.on('error', (err: Error) => {
      if (grpcStatus === undefined) finish({ error: GrpcStatusError.of('Unavailable', err.message) })
    })
    stream.on('close', () => {
      finish(judge(headers, grpcStatus, grpcMessage, Buffer.concat(chunks), stream.rstCode))
    })
    stream.end(frame)
  })
}

/** The rejection for an aborted call: DeadlineExceeded at the timeout, else the abort reason. */
function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as Error
  return reason instanceof ProbeTimeoutError
    ? GrpcStatusError.of('DeadlineExceeded', 'context deadline exceeded')
    : reason
}

/** The outcome of a finished stream, in grpc-go's order of precedence. */
function judge(
  headers: http2.IncomingHttpHeaders | undefined,
  grpcStatus: string | undefined,
  grpcMessage: string,
  body: Buffer,
  rstCode: number | undefined,
): { status: number } | { error: GrpcStatusError } {
  if (headers === undefined) {
    const refused = rstCode === http2.constants.NGHTTP2_REFUSED_STREAM
    return {
      error: GrpcStatusError.of(
        refused ? 'Unavailable' : 'Internal',
        `stream terminated by RST_STREAM with error code: ${rstCode ?? 0}`,
      ),
    }
  }
  const httpStatus = Number(headers[':status'])
  if (httpStatus !== 200) {
    const text = STATUS_CODES[httpStatus]
    return {
      error: GrpcStatusError.of(
        codeForHttpStatus(httpStatus),
        `unexpected HTTP status code received from server: ${httpStatus}${text !== undefined ? ` (${text})` : ''}`,
      ),
    }
  }
  const contentType = headerText(headers['content-type']) ?? ''
  if (!contentType.startsWith('application/grpc')) {
    return {
      error: GrpcStatusError.of(
        'Internal',
        `transport: received unexpected content-type ${JSON.stringify(contentType)}`,
      ),
    }
  }
  if (grpcStatus === undefined) {
    return { error: GrpcStatusError.of('Internal', 'server closed the stream without sending trailers') }
  }
  const code = Number(grpcStatus)
  if (code !== 0) return { error: new GrpcStatusError(Number.isInteger(code) ? code : 2, grpcMessage) }
  if (body.length < 5) {
    return {
      error: GrpcStatusError.of(
        'Internal',
        'cardinality violation: received no response message from non-server-streaming RPC',
      ),
    }
  }
  const length = body.readUInt32BE(1)
  if (body.length !== 5 + length) {
    return {
      error: GrpcStatusError.of(
        'Internal',
        'cardinality violation: expected <EOF> for non server-streaming RPCs',
      ),
    }
  }
  if (body[0] !== 0) {
    return {
      error: GrpcStatusError.of('Internal', 'grpc: compressed flag set with identity or empty encoding'),
    }
  }
  try {
    return { status: decodeHealthCheckResponse(body.subarray(5)) }
  } catch (err) {
    const detail = errorMessage(err)
    return {
      error: GrpcStatusError.of('Internal', `grpc: failed to unmarshal the received message: ${detail}`),
    }
  }
}

/**
 * A gRPC health check (checks.md §9): `grpc.health.v1.Health/Check` over a fresh HTTP/2
 * connection per probe, plaintext unless `grpcUseTls`. The connection is destroyed before the
 * probe settles, also on timeout and stop, so nothing outlives the probe.
 *
 * The call is made with node:http2 rather than @grpc/grpc-js: a grpc-js channel closed while
 * its subchannel is still connecting (a peer that accepts TCP but never completes the HTTP/2
 * handshake) keeps that socket open until the peer closes it, one per probe.
 */
export class GrpcRunner extends SocketRunner {
  protected async probe(signal: AbortSignal): Promise<ProbeResult> {
    const def = this.ctx.definition
    const target = def.grpc
    const { address, service } = parseGrpcTarget(target)
    const timeoutMs = def.timeoutMs > 0 ? def.timeoutMs : this.defaultTimeoutMs()
    const deadline = this.ctx.clock.now() + timeoutMs
    const tls: DialOptions['tls'] = def.grpcUseTls
      ? { serverName: def.tlsServerName, skipVerify: def.tlsSkipVerify, alpnProtocols: ['h2'] }
      : null
    let socket
    try {
      socket = await dialSocket({ address, tls, agent: this.socketOptions }, signal)
    } catch (err) {
      if (!(err instanceof DialError)) throw err
      return { status: 'critical', output: dialFailure(err).message }
    }
    let connection: Http2Connection
    try {
      connection = await Http2Connection.open(socket, { authority: address, secure: tls !== null })
    } catch (err) {
      const detail = errorMessage(err)
      return { status: 'critical', output: GrpcStatusError.of('Unavailable', detail).message }
    }
    try {
      const status = await callHealthCheck(
        connection.session,
        service,
        deadline - this.ctx.clock.now(),
        signal,
      )
      if (status === SERVING) return { status: 'passing', output: `gRPC check ${target}: success` }
      return { status: 'critical', output: `gRPC ${target} serving status: ${servingStatusName(status)}` }
    } catch (err) {
      if (!(err instanceof GrpcStatusError)) throw err
      return { status: 'critical', output: err.message }
    } finally {
      await connection.destroy()
    }
  }
}

/** A dial failure as grpc-go reports it from the call. */
function dialFailure(err: DialError): GrpcStatusError {
  if (err.timedOut) return GrpcStatusError.of('DeadlineExceeded', 'context deadline exceeded')
  const transport =
    err.phase === 'tls'
      ? `transport: authentication handshake failed: ${err.message}`
      : `transport: Error while dialing: ${err.message}`
  return GrpcStatusError.of('Unavailable', `connection error: desc = ${JSON.stringify(transport)}`)
}
