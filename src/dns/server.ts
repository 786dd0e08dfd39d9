/**
 * The DNS listener: UDP and TCP on every given address, on one port (with port 0, the port the
 * first UDP socket got). Queries go to the resolver; names outside the domain go to the
 * recursors. `close()` resolves when every socket and connection is closed and no forwarding is
 * in flight; it is idempotent.
 *
 * Bounds: a UDP datagram is one query; a TCP connection carries length-prefixed queries
 * (RFC 7766, pipelining allowed, replies in any order), is closed after `tcpIdleMs` without a
 * query, and at most `maxTcpConnections` are open; at most `maxInFlightForwards` queries are
 * being forwarded at once (more are answered SERVFAIL).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, isIP, type AddressInfo, type Server, type Socket } from 'node:net'
import { systemClock, type Clock } from '../lib/clock.js'
import type { DnsCatalog } from './catalog-port.js'
import { parseRecursor, Recursor, type RecursorAddress } from './recursor.js'
import { DnsResolver, type Transport } from './resolver.js'
import type { DnsSettings } from './settings.js'

const MAX_TCP_PENDING_BYTES = 1 << 20

/** The log lines the DNS server writes; pino loggers satisfy it. */
export interface DnsLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface DnsServerOptions {
  readonly catalog: DnsCatalog
  readonly settings: DnsSettings
  /** IP addresses to bind (Consul's `addresses.dns`, else `client_addr`). */
  readonly addresses: readonly string[]
  /** 0 picks a free port (the same for UDP and TCP on every address). */
  readonly port: number
  readonly logger?: DnsLogger
  readonly clock?: Clock
  readonly random?: () => number
  readonly tcpIdleMs?: number
  readonly maxTcpConnections?: number
  readonly maxInFlightForwards?: number
}

/** A recursor address in settings that does not parse. */
export class InvalidRecursorError extends Error {
  constructor(readonly recursor: string) {
    super(`Invalid recursor address: ${recursor}`)
    this.name = 'InvalidRecursorError'
  }
}

export class DnsServer {
  readonly #opts: DnsServerOptions
  readonly #resolver: DnsResolver
  readonly #recursor: Recursor
  readonly #udp: UdpSocket[] = []
  readonly #tcp: Server[] = []
  readonly #connections = new Set<Socket>()
  readonly #forwards = new Set<Promise<void>>()
  readonly #abort = new AbortController()
  #closed?: Promise<void>
  #port = -1
  #started = false

  /** Throws {@link InvalidRecursorError} for a recursor that does not parse. */
  constructor(opts: DnsServerOptions) {
    this.#opts = opts
    this.#resolver = new DnsResolver({
      catalog: opts.catalog,
      settings: opts.settings,
      ...(opts.random ? { random: opts.random } : {}),
      ...(opts.clock ? { now: () => (opts.clock ?? systemClock).now() } : {}),
    })
    const recursors: RecursorAddress[] = []
    for (const r of opts.settings.recursors) {
      const parsed = parseRecursor(r)
      if (parsed === undefined) throw new InvalidRecursorError(r)
      recursors.push(parsed)
    }
    this.#recursor = new Recursor({
      recursors,
      strategy: opts.settings.recursorStrategy,
      timeoutMs: opts.settings.recursorTimeoutMs,
      clock: opts.clock ?? systemClock,
      ...(opts.random ? { random: opts.random } : {}),
    })
  }

  /** The bound port (after `start()`). */
  get port(): number {
    return this.#port
  }

  /** `ip:port` of each listener, UDP then TCP, for the banner and logs. */
  addresses(): { readonly udp: readonly string[]; readonly tcp: readonly string[] } {
    const fmt = (a: AddressInfo): string =>
      a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
    return {
      udp: this.#udp.map((s) => fmt(s.address())),
      tcp: this.#tcp.map((s) => fmt(s.address() as AddressInfo)),
    }
  }

  /** Binds every listener; on failure, closes what was bound and rejects. Once only. */
  async start(): Promise<void> {
    if (this.#port !== -1 || this.#started) throw new Error('DNS server already started')
    this.#started = true
    // With port 0 the port UDP got may be taken for TCP (or on another address): pick again.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#bindAll()
        return
      } catch (err) {
        await this.#release()
        const retry =
          this.#opts.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5
        if (!retry) {
          await this.close()
          throw err
        }
      }
    }
  }

  async #bindAll(): Promise<void> {
    let port = this.#opts.port
    for (const address of this.#opts.addresses) {
      port = await this.#bindUdp(address, port)
      this.#port = port
    }
    // The caller logs the bound addresses (`addresses()`), as the agent does for every listener.
    for (const address of this.#opts.addresses) await this.#bindTcp(address, port)
  }

  /** Closes the listeners a failed attempt bound. */
  async #release(): Promise<void> {
    await Promise.all([
      ...this.#udp.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      ...this.#tcp.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ])
    this.#udp.length = 0
    this.#tcp.length = 0
    this.#port = -1
  }

  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#abort.abort()
      const closing: Promise<void>[] = []
      for (const s of this.#udp) closing.push(new Promise<void>((resolve) => s.close(() => resolve())))
      for (const s of this.#tcp) closing.push(new Promise<void>((resolve) => s.close(() => resolve())))
      for (const c of this.#connections) c.destroy()
      await Promise.all(closing)
      await Promise.all([...this.#forwards])
    })())
  }

  #bindUdp(address: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({
        type: isIP(address) === 6 ? 'udp6' : 'udp4',
        ipv6Only: isIP(address) === 6,
      })
      const onError = (err: Error): void => {
        socket.close()
        reject(err)
      }
      socket.once('error', onError)
      socket.bind(port, address, () => {
        socket.off('error', onError)
        socket.on('error', (err) => this.#opts.logger?.warn({ error: err.message }, 'DNS UDP socket error'))
        socket.on('message', (msg, rinfo) => {
          this.#handle(msg, 'udp', (reply) => socket.send(reply, rinfo.port, rinfo.address, () => {}))
        })
        this.#udp.push(socket)
        resolve(socket.address().port)
      })
    })
  }

  #bindTcp(address: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((conn) => this.#serveTcp(conn))
      server.maxConnections = this.#opts.maxTcpConnections ?? 1024
      server.once('error', reject)
      server.listen({ host: address, port, ipv6Only: isIP(address) === 6 }, () => {
        server.off('error', reject)
        this.#tcp.push(server)
        resolve()
      })
    })
  }

  #serveTcp(conn: Socket): void {
    this.#connections.add(conn)
    conn.on('close', () => this.#connections.delete(conn))
    conn.on('error', () => conn.destroy())
    conn.setTimeout(this.#opts.tcpIdleMs ?? 10_000, () => conn.destroy())
    let buffered: Buffer = Buffer.alloc(0)
    conn.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0)
        if (buffered.length < len + 2) break
        const msg = buffered.subarray(2, len + 2)
        buffered = buffered.subarray(len + 2)
        this.#handle(msg, 'tcp', (reply) => {
          if (conn.destroyed) return
          // A client that does not read its replies is cut off rather than buffered for.
          if (conn.writableLength > MAX_TCP_PENDING_BYTES) {
            conn.destroy()
            return
          }
          const frame = Buffer.alloc(2)
          frame.writeUInt16BE(reply.length)
          conn.write(Buffer.concat([frame, reply]))
        })
      }
    })
  }

  #handle(msg: Buffer, transport: Transport, send: (reply: Buffer) => void): void {
    let outcome
    try {
      outcome = this.#resolver.resolve(msg, transport)
    } catch (err) {
      // resolve() does not throw by contract; a bug must not take the listener down.
      this.#opts.logger?.error({ error: (err as Error).message }, 'DNS query failed')
      return
    }
    switch (outcome.kind) {
      case 'drop':
        return
      case 'reply':
        send(outcome.bytes)
        return
      case 'forward': {
        if (this.#abort.signal.aborted) return
        const { servfail } = outcome
        if (this.#forwards.size >= (this.#opts.maxInFlightForwards ?? 1024)) {
          send(servfail)
          return
        }
        const p = this.#recursor.forward(outcome.query, transport, this.#abort.signal).then(
          (reply) => {
            if (!this.#abort.signal.aborted) send(reply ?? servfail)
          },
          () => {
            if (!this.#abort.signal.aborted) send(servfail)
          },
        )
        const tracked = p.finally(() => this.#forwards.delete(tracked))
        this.#forwards.add(tracked)
      }
    }
  }
}
