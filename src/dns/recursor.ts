/**
 * Forwarding of names outside the DNS domain to upstream resolvers (`recursors`), as Consul's
 * `handleRecurse`: each recursor in turn (or in random order with `recursor_strategy = random`),
 * each given `recursor_timeout`; the first NOERROR or NXDOMAIN reply is the answer. The query is
 * sent over the client's transport with a fresh random ID, and the reply goes back with the
 * client's ID. Undefined when none answered: the caller answers SERVFAIL.
 */
import { createSocket } from 'node:dgram'
import { connect, isIP } from 'node:net'
import type { Clock } from '../lib/clock.js'
import type { RecursorStrategy } from './settings.js'
import type { Transport } from './resolver.js'

export interface RecursorAddress {
  readonly host: string
  readonly port: number
}

/** `host`, `host:port`, `v6`, `[v6]:port`; undefined when it is none of these. */
export function parseRecursor(text: string): RecursorAddress | undefined {
  const t = text.trim()
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(t)
  if (bracket !== null) {
    const port = bracket[2] === undefined ? 53 : Number(bracket[2])
    return isIP(bracket[1] ?? '') === 6 && port > 0 && port < 65536
      ? { host: bracket[1] ?? '', port }
      : undefined
  }
  if (isIP(t) !== 0) return { host: t, port: 53 }
  const m = /^([^:]+):(\d{1,5})$/.exec(t)
  if (m === null) return undefined
  const port = Number(m[2])
  return isIP(m[1] ?? '') === 4 && port > 0 && port < 65536 ? { host: m[1] ?? '', port } : undefined
}

export interface RecursorOptions {
  readonly recursors: readonly RecursorAddress[]
  readonly strategy: RecursorStrategy
  readonly timeoutMs: number
  readonly clock: Clock
  readonly random?: () => number
}

const MAX_REPLY_BYTES = 65535

export class Recursor {
  readonly #opts: RecursorOptions
  readonly #random: () => number

  constructor(opts: RecursorOptions) {
    this.#opts = opts
    this.#random = opts.random ?? Math.random
  }

  /** The upstream reply to `query` with the client's ID, or undefined. Resolves early on abort. */
  async forward(query: Buffer, transport: Transport, signal: AbortSignal): Promise<Buffer | undefined> {
    const order = [...this.#opts.recursors]
    if (this.#opts.strategy === 'random') {
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(this.#random() * (i + 1))
        const t = order[i] as RecursorAddress
        order[i] = order[j] as RecursorAddress
        order[j] = t
      }
    }
    const clientId = query.readUInt16BE(0)
    for (const upstream of order) {
      if (signal.aborted) return undefined
      const id = Math.floor(this.#random() * 0x10000) & 0xffff
      const out = Buffer.from(query)
      out.writeUInt16BE(id, 0)
      const reply = await this.#exchange(out, id, upstream, transport, signal)
      if (reply === undefined) continue
      const rcode = reply.readUInt16BE(2) & 0xf
      if (rcode !== 0 && rcode !== 3) continue
      reply.writeUInt16BE(clientId, 0)
      return reply
    }
    return undefined
  }

  #exchange(
    query: Buffer,
    id: number,
    upstream: RecursorAddress,
    transport: Transport,
    signal: AbortSignal,
  ): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let settled = false
      let cleanup = (): void => {}
      const finish = (reply: Buffer | undefined): void => {
        if (settled) return
        settled = true
        timer.cancel()
        signal.removeEventListener('abort', onAbort)
        cleanup()
        resolve(reply)
      }
      const onAbort = (): void => finish(undefined)
      const timer = this.#opts.clock.setTimer(this.#opts.timeoutMs, () => finish(undefined))
      signal.addEventListener('abort', onAbort)
      const valid = (b: Buffer): boolean => b.length >= 12 && b.readUInt16BE(0) === id && (b[2] ?? 0) >= 0x80

      if (transport === 'udp') {
        const socket = createSocket(isIP(upstream.host) === 6 ? 'udp6' : 'udp4')
        cleanup = () => socket.close()
        socket.on('error', () => finish(undefined))
        socket.on('message', (msg, rinfo) => {
          if (rinfo.port === upstream.port && valid(msg)) finish(Buffer.from(msg))
        })
        socket.send(query, upstream.port, upstream.host, (err) => {
          if (err) finish(undefined)
        })
        return
      }
      const socket = connect({ host: upstream.host, port: upstream.port })
      cleanup = () => socket.destroy()
      let buffered = Buffer.alloc(0)
      socket.on('error', () => finish(undefined))
      socket.on('close', () => finish(undefined))
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk])
        if (buffered.length > MAX_REPLY_BYTES + 2) {
          finish(undefined)
          return
        }
        if (buffered.length < 2) return
        const len = buffered.readUInt16BE(0)
        if (buffered.length < len + 2) return
        const msg = buffered.subarray(2, len + 2)
        finish(valid(msg) ? Buffer.from(msg) : undefined)
      })
      const frame = Buffer.alloc(2)
      frame.writeUInt16BE(query.length)
      socket.write(Buffer.concat([frame, query]))
    })
  }
}
