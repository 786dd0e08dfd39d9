import http2 from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import { ProbeTimeoutError } from './runner.js'
import {
  checkTlsOptions,
  dialErrorText,
  joinHostPort,
  parseDialTarget,
  tlsErrorText,
  type SocketRunnerOptions,
} from './tcp-check.js'

/** How a probe connects: Go's `host:port` (IPv6 in brackets), TLS or not, and the agent's hooks. */
export interface DialOptions {
  readonly address: string
  /** TLS settings (checks.md §6: `tls_server_name`, `tls_skip_verify`), null for plaintext. */
  readonly tls: Readonly<{ serverName: string; skipVerify: boolean; alpnProtocols: readonly string[] }> | null
  /** Name resolution and the agent's TLS material (`enable_agent_tls_for_checks`). */
  readonly agent?: SocketRunnerOptions
}

/**
 * A failed or timed-out dial. `message` is the Go error Consul reports for the same condition
 * (`dial tcp 127.0.0.1:1: connect: connection refused`); `phase` says how far the dial got.
 */
export class DialError extends Error {
  constructor(
    message: string,
    readonly phase: 'address' | 'tcp' | 'tls',
    readonly timedOut = false,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = 'DialError'
  }
}

/** Destroys a socket and resolves once its 'close' event has fired. Idempotent. */
export function closeSocket(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve()
  return new Promise((resolve) => {
    socket.once('close', () => resolve())
    socket.destroy()
  })
}

/**
 * Connects TCP to `opts.address` (every address of a name, first success wins) and, with
 * `opts.tls`, completes the TLS handshake. Resolves with the connected socket, which the caller
 * must release with `closeSocket`. Rejects with a DialError on failure or when `signal` aborts
 * with a ProbeTimeoutError, and with `signal.reason` on any other abort; whenever it rejects the
 * socket is already closed.
 */
export async function dialSocket(opts: DialOptions, signal: AbortSignal): Promise<net.Socket> {
  signal.throwIfAborted()
  const target = parseDialTarget('tcp', opts.address)
  if ('error' in target) throw new DialError(target.error, 'address')
  const { host, port } = target
  const base: net.TcpNetConnectOpts = { host, port, autoSelectFamily: true }
  if (opts.agent?.lookup !== undefined) base.lookup = opts.agent.lookup
  const socket: net.Socket =
    opts.tls === null
      ? net.connect(base)
      : tls.connect({
          ...base,
          ...checkTlsOptions(host, opts.tls.serverName, opts.tls.skipVerify, opts.agent?.tls),
          ALPNProtocols: [...opts.tls.alpnProtocols],
        })
  // Never without an 'error' listener: a late socket error must not crash the agent.
  socket.on('error', () => undefined)
  let tcpConnected = false
  socket.once('connect', () => {
    tcpConnected = true
  })
  const readyEvent = opts.tls === null ? 'connect' : 'secureConnect'
  try {
    await new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        cleanup()
        resolve()
      }
      const onError = (err: Error): void => {
        cleanup()
        const verifiedName = opts.tls !== null && opts.tls.serverName !== '' ? opts.tls.serverName : host
        const tlsText = opts.tls !== null && tcpConnected ? tlsErrorText(err, verifiedName) : undefined
        reject(
          tlsText !== undefined
            ? new DialError(tlsText, 'tls', false, { cause: err })
            : new DialError(dialErrorText('tcp', host, port, err), 'tcp', false, { cause: err }),
        )
      }
      const onClose = (): void => {
        cleanup()
        reject(
          new DialError(
            tcpConnected ? 'EOF' : `dial tcp ${joinHostPort(host, port)}: EOF`,
            tcpConnected ? 'tls' : 'tcp',
          ),
        )
      }
      const onAbort = (): void => {
        cleanup()
        const reason: unknown = signal.reason
        if (!(reason instanceof ProbeTimeoutError)) reject(signal.reason as Error)
        else if (tcpConnected) reject(new DialError('context deadline exceeded', 'tls', true))
        else reject(new DialError(`dial tcp ${joinHostPort(host, port)}: i/o timeout`, 'tcp', true))
      }
      const cleanup = (): void => {
        socket.off(readyEvent, onReady)
        socket.off('error', onError)
        socket.off('close', onClose)
        signal.removeEventListener('abort', onAbort)
      }
      socket.once(readyEvent, onReady)
      socket.once('error', onError)
      socket.once('close', onClose)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  } catch (err) {
    await closeSocket(socket)
    throw err
  }
  return socket
}

/**
 * An HTTP/2 client session over a socket from `dialSocket`. The session never emits an
 * unhandled 'error'; failures surface through the operations that were in flight.
 */
export class Http2Connection {
  readonly session: http2.ClientHttp2Session
  readonly #socket: net.Socket
  readonly #sessionClosed: Promise<void>

  private constructor(socket: net.Socket, session: http2.ClientHttp2Session) {
    this.#socket = socket
    this.session = session
    this.session.on('error', () => undefined)
    this.#sessionClosed = new Promise((resolve) => this.session.once('close', () => resolve()))
  }

  /**
   * Starts an HTTP/2 client session on a socket from `dialSocket` (`authority` is the
   * `:authority` to send). If the session cannot be created the socket is closed before this
   * rejects; otherwise the connection owns the socket and `destroy()` releases both.
   */
  static async open(
    socket: net.Socket,
    opts: { authority: string; secure: boolean },
  ): Promise<Http2Connection> {
    try {
      const session = http2.connect(`${opts.secure ? 'https' : 'http'}://${opts.authority}`, {
        createConnection: () => socket,
      })
      return new Http2Connection(socket, session)
    } catch (err) {
      await closeSocket(socket)
      throw err
    }
  }

  /** Sends an HTTP/2 PING and resolves on its ACK; rejects with the session's error, or with `signal.reason`. */
  ping(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        cleanup()
        reject(signal.reason as Error)
      }
      const onClose = (): void => {
        cleanup()
        reject(new Error('http2: client connection lost'))
      }
      const onError = (err: Error): void => {
        cleanup()
        reject(err)
      }
      const cleanup = (): void => {
        signal.removeEventListener('abort', onAbort)
        this.session.off('close', onClose)
        this.session.off('error', onError)
      }
      if (signal.aborted) {
        reject(signal.reason as Error)
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.session.once('close', onClose)
      this.session.once('error', onError)
      try {
        this.session.ping((err) => {
          cleanup()
          if (err === null) resolve()
          else reject(err)
        })
      } catch (err) {
        cleanup()
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
  }

  /** Destroys the session and resolves once both it and its socket are closed. Idempotent. */
  async destroy(): Promise<void> {
    this.session.destroy()
    await this.#sessionClosed
    await closeSocket(this.#socket)
  }
}
