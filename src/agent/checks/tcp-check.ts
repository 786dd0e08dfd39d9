import net from 'node:net'
import tls from 'node:tls'
import { errorMessage } from '../../lib/errors.js'
import { IntervalRunner, ProbeTimeoutError, type ProbeResult, type RunnerContext } from './runner.js'

/**
 * Client TLS material for checks that use TLS. Empty means system roots and no client
 * certificate (Consul's default); the agent fills it when `enable_agent_tls_for_checks` is on.
 */
export type CheckTlsOptions = Readonly<{
  ca?: string | Buffer | readonly (string | Buffer)[]
  cert?: string | Buffer
  key?: string | Buffer
}>

/** Options of the socket-based runners (TCP, UDP): injected name resolution and TLS material. */
export interface SocketRunnerOptions {
  /** Name resolution; defaults to the system resolver (`dns.lookup`). */
  readonly lookup?: net.LookupFunction
  readonly tls?: CheckTlsOptions
}

/** An IntervalRunner that dials sockets (TCP, UDP, gRPC, H2PING), with its SocketRunnerOptions. */
export abstract class SocketRunner extends IntervalRunner {
  constructor(
    ctx: RunnerContext,
    protected readonly socketOptions: SocketRunnerOptions = {},
  ) {
    super(ctx)
  }
}

/** Go's `net.SplitHostPort` with its error texts (`address x: missing port in address`…). */
export function splitHostPort(hostport: string): { host: string; port: string } {
  const fail = (why: string): never => {
    throw new Error(`address ${hostport}: ${why}`)
  }
  const last = hostport.lastIndexOf(':')
  if (last < 0) return fail('missing port in address')
  let host: string
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']')
    if (end < 0) return fail("missing ']' in address")
    if (end + 1 === hostport.length) return fail('missing port in address')
    if (end + 1 !== last)
      return fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address')
    host = hostport.slice(1, end)
    if (host.includes('[')) return fail("unexpected '[' in address")
  } else {
    host = hostport.slice(0, last)
    if (host.includes(':')) return fail('too many colons in address')
    if (host.includes('[')) return fail("unexpected '[' in address")
    if (host.includes(']')) return fail("unexpected ']' in address")
  }
  return { host, port: hostport.slice(last + 1) }
}

/** Go's `net.JoinHostPort`: IPv6 literals get brackets. */
export function joinHostPort(host: string, port: string | number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** A `host:port` target parsed for dialing, or the Go-style error text of a bad one. */
export function parseDialTarget(
  network: 'tcp' | 'udp',
  target: string,
): { host: string; port: number } | { error: string } {
  let parts: { host: string; port: string }
  try {
    parts = splitHostPort(target)
  } catch (err) {
    return { error: `dial ${network}: ${errorMessage(err)}` }
  }
  if (!/^\d+$/.test(parts.port))
    return { error: `dial ${network}: lookup ${network}/${parts.port}: unknown port` }
  const port = Number(parts.port)
  if (port > 65535) return { error: `dial ${network}: address ${parts.port}: invalid port` }
  return { host: parts.host === '' ? 'localhost' : parts.host, port }
}

/** Go's `syscall.Errno` texts for the errors sockets report. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ECONNABORTED: 'software caused connection abort',
  EHOSTUNREACH: 'no route to host',
  EHOSTDOWN: 'host is down',
  ENETUNREACH: 'network is unreachable',
  ENETDOWN: 'network is down',
  ETIMEDOUT: 'connection timed out',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EADDRINUSE: 'address already in use',
  EAFNOSUPPORT: 'address family not supported by protocol',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EPIPE: 'broken pipe',
  EMSGSIZE: 'message too long',
  EINVAL: 'invalid argument',
}

const LOOKUP_TEXT: Readonly<Record<string, string>> = {
  ENOTFOUND: 'no such host',
  EAI_NONAME: 'no such host',
  EAI_NODATA: 'no such host',
  EAI_AGAIN: 'server misbehaving',
  EAI_FAIL: 'server misbehaving',
}

/** The errno-ish fields Node puts on socket and resolver errors. */
interface NodeNetError extends Error {
  code?: string
  syscall?: string
  address?: string
  port?: number
  hostname?: string
  errors?: unknown[]
}

function asNetError(err: unknown): NodeNetError {
  if (err instanceof AggregateError && err.errors[0] instanceof Error) return err.errors[0]
  return err instanceof Error ? err : new Error(String(err))
}

/** Go's text for a syscall error code, or Node's message when there is no mapping. */
export function errnoText(err: unknown): string {
  const e = asNetError(err)
  return (e.code !== undefined ? ERRNO_TEXT[e.code] : undefined) ?? e.message
}

/** True for errors of the name resolution step. */
export function isLookupError(err: unknown): boolean {
  const e = asNetError(err)
  return e.syscall === 'getaddrinfo' || (e.code !== undefined && e.code in LOOKUP_TEXT)
}

/**
 * Go's error text for a failed dial (`dial tcp 127.0.0.1:22: connect: connection refused`,
 * `dial tcp: lookup nosuch.example: no such host`). `host`/`port` name the target, used when the
 * error does not carry the address it failed on.
 */
export function dialErrorText(network: 'tcp' | 'udp', host: string, port: number, err: unknown): string {
  const e = asNetError(err)
  if (isLookupError(e)) {
    const why = (e.code !== undefined ? LOOKUP_TEXT[e.code] : undefined) ?? e.message
    return `dial ${network}: lookup ${e.hostname ?? host}: ${why}`
  }
  const addr = joinHostPort(e.address ?? host, e.port ?? port)
  const mapped = e.code !== undefined ? ERRNO_TEXT[e.code] : undefined
  if (mapped !== undefined) return `dial ${network} ${addr}: ${e.syscall ?? 'connect'}: ${mapped}`
  return `dial ${network} ${addr}: ${e.message}`
}

const UNKNOWN_AUTHORITY = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
])

/**
 * Go's `crypto/tls` text for a failed handshake, e.g. `tls: failed to verify certificate: x509:
 * certificate signed by unknown authority`. `verifiedName` is the name or IP the certificate was
 * checked against. Returns undefined for errors that are not TLS errors.
 */
export function tlsErrorText(err: unknown, verifiedName: string): string | undefined {
  const e = asNetError(err) as NodeNetError & { cert?: { subjectaltname?: string } }
  const code = e.code ?? ''
  const verify = (why: string): string => `tls: failed to verify certificate: x509: ${why}`
  if (UNKNOWN_AUTHORITY.has(code)) return verify('certificate signed by unknown authority')
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return verify('certificate has expired or is not yet valid')
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const sans = (e.cert?.subjectaltname ?? '').split(', ').filter((s) => s !== '')
    const ip = net.isIP(verifiedName) !== 0
    const valid = sans
      .filter((s) => s.startsWith(ip ? 'IP Address:' : 'DNS:'))
      .map((s) => s.slice(s.indexOf(':') + 1))
    if (ip && valid.length === 0) {
      return verify(`cannot validate certificate for ${verifiedName} because it doesn't contain any IP SANs`)
    }
    if (valid.length === 0)
      return verify(`certificate is not valid for any names, but wanted to match ${verifiedName}`)
    return verify(`certificate is valid for ${valid.join(', ')}, not ${verifiedName}`)
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') return 'tls: first record does not look like a TLS handshake'
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1)_ALERT_(.+)$/.exec(code)?.[1]
  if (alert !== undefined) return `remote error: tls: ${alert.toLowerCase().replaceAll('_', ' ')}`
  if (code === 'ECONNRESET' && e.message.includes('before secure TLS connection')) return 'EOF'
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return e.message
  return undefined
}

/**
 * Node TLS client options for a check: SNI and verified name = `serverName` if set, else the
 * target host; IP literals send no SNI (as Go). `skipVerify` disables certificate verification.
 */
export function checkTlsOptions(
  host: string,
  serverName: string,
  skipVerify: boolean,
  material: CheckTlsOptions = {},
): tls.ConnectionOptions & { servername: string } {
  const name = serverName !== '' ? serverName : host
  const opts: tls.ConnectionOptions & { servername: string } = {
    servername: net.isIP(name) !== 0 ? '' : name,
    rejectUnauthorized: !skipVerify,
  }
  if (material.ca !== undefined) opts.ca = material.ca as string | Buffer | (string | Buffer)[]
  if (material.cert !== undefined) opts.cert = material.cert
  if (material.key !== undefined) opts.key = material.key
  return opts
}

/**
 * Settles like `executor` does, or rejects with `signal.reason` as soon as `signal` aborts —
 * whichever is first. The abort listener is removed either way; the caller releases resources.
 */
export function untilAborted<T>(
  signal: AbortSignal,
  executor: (resolve: (value: T) => void, reject: (err: unknown) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error)
      return
    }
    const onAbort = (): void => {
      reject(signal.reason as Error)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    const done = <A extends unknown[]>(fn: (...args: A) => void) => {
      return (...args: A): void => {
        signal.removeEventListener('abort', onAbort)
        fn(...args)
      }
    }
    try {
      executor(done(resolve), done(reject))
    } catch (err) {
      done(reject)(err)
    }
  })
}

/** Resolves once `socket` has emitted 'close' (listen before destroying it). */
export function closedPromise(emitter: { once(event: 'close', fn: () => void): unknown }): Promise<void> {
  return new Promise<void>((resolve) => emitter.once('close', resolve))
}

/**
 * A TCP check (checks.md §7): connect to `host:port` (every address of a name, v4 and v6, first
 * success wins), optionally complete a TLS handshake (`tcp_use_tls`), close at once. Passing
 * `TCP connect <addr>: Success` / `TCP+TLS connect <addr>: Success`; otherwise critical with Go's
 * error text. A probe aborted by stop destroys its socket and settles after the socket closed.
 */
export class TcpRunner extends SocketRunner {
  protected async probe(signal: AbortSignal): Promise<ProbeResult> {
    const def = this.ctx.definition
    const target = parseDialTarget('tcp', def.tcp)
    if ('error' in target) return { status: 'critical', output: target.error }
    const { host, port } = target
    const useTls = def.tcpUseTls
    const base: net.TcpNetConnectOpts = { host, port, autoSelectFamily: true }
    if (this.socketOptions.lookup !== undefined) base.lookup = this.socketOptions.lookup
    const tlsOpts = useTls
      ? checkTlsOptions(host, def.tlsServerName, def.tlsSkipVerify, this.socketOptions.tls)
      : undefined
    const socket = tlsOpts !== undefined ? tls.connect({ ...base, ...tlsOpts }) : net.connect(base)
    const closed = closedPromise(socket)
    const progress = { connected: false }
    socket.once('connect', () => {
      progress.connected = true
    })
    socket.on('error', () => undefined)
    try {
      await untilAborted<undefined>(signal, (resolve, reject) => {
        socket.once(useTls ? 'secureConnect' : 'connect', () => resolve(undefined))
        socket.once('error', reject)
      })
      return { status: 'passing', output: `${useTls ? 'TCP+TLS' : 'TCP'} connect ${def.tcp}: Success` }
    } catch (err) {
      if (signal.aborted) {
        if (!(signal.reason instanceof ProbeTimeoutError)) throw signal.reason
        const output =
          useTls && progress.connected
            ? 'context deadline exceeded'
            : `dial tcp ${joinHostPort(host, port)}: i/o timeout`
        return { status: 'critical', output }
      }
      const verifiedName = def.tlsServerName !== '' ? def.tlsServerName : host
      const output =
        (useTls ? tlsErrorText(err, verifiedName) : undefined) ?? dialErrorText('tcp', host, port, err)
      return { status: 'critical', output }
    } finally {
      socket.destroy()
      await closed
    }
  }
}
