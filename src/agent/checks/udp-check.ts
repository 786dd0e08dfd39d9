import dgram from 'node:dgram'
import dns from 'node:dns'
import net from 'node:net'
import { ProbeTimeoutError, type ProbeResult } from './runner.js'
import {
  closedPromise,
  dialErrorText,
  errnoText,
  joinHostPort,
  parseDialTarget,
  SocketRunner,
  untilAborted,
} from './tcp-check.js'

/** What a UDP check sends: Consul's default message is empty. */
const PAYLOAD = Buffer.alloc(0)

/**
 * A UDP check (checks.md §8): resolve `host:port`, send one (empty) datagram on a connected
 * socket and wait for one datagram back. A reply, or no reply before the timeout, is passing
 * `UDP connect <addr>: Success`; an ICMP port unreachable (connection refused on the connected
 * socket), a failed write or a failed resolution is critical with Go's error text. The socket is
 * closed, and the probe settles, before the runner moves on or stops.
 */
export class UdpRunner extends SocketRunner {
  protected async probe(signal: AbortSignal): Promise<ProbeResult> {
    const def = this.ctx.definition
    const success: ProbeResult = { status: 'passing', output: `UDP connect ${def.udp}: Success` }
    const target = parseDialTarget('udp', def.udp)
    if ('error' in target) return { status: 'critical', output: target.error }
    const { host, port } = target
    let address: string
    try {
      address = net.isIP(host) !== 0 ? host : await this.#resolve(host, signal)
    } catch (err) {
      if (signal.aborted) return timedOut(signal, success)
      return { status: 'critical', output: dialErrorText('udp', host, port, err) }
    }
    const remote = joinHostPort(address, port)
    const socket = dgram.createSocket(net.isIP(address) === 6 ? 'udp6' : 'udp4')
    const closed = closedPromise(socket)
    socket.on('error', () => undefined)
    const local = (): string => {
      try {
        const a = socket.address()
        return joinHostPort(a.address, a.port)
      } catch {
        return ''
      }
    }
    try {
      await untilAborted<undefined>(signal, (resolve, reject) => {
        socket.once('message', () => resolve(undefined))
        socket.once('error', reject)
        socket.connect(port, address, () => {
          socket.send(PAYLOAD, (err) => {
            if (err !== null) reject(err)
          })
        })
      })
      return success
    } catch (err) {
      if (signal.aborted) return timedOut(signal, success)
      const e = err as Error & { syscall?: string }
      if (e.syscall === 'connect')
        return { status: 'critical', output: dialErrorText('udp', address, port, err) }
      const [op, call] = e.syscall === 'recvmsg' ? ['read', 'read'] : ['write', 'write']
      return { status: 'critical', output: `${op} udp ${local()}->${remote}: ${call}: ${errnoText(err)}` }
    } finally {
      socket.close()
      await closed
    }
  }

  /** First address of `host`; a lookup still running at abort is abandoned (its answer ignored). */
  #resolve(host: string, signal: AbortSignal): Promise<string> {
    const lookup = this.socketOptions.lookup ?? dns.lookup
    return untilAborted<string>(signal, (resolve, reject) => {
      lookup(host, {}, (err, address) => {
        if (err !== null) reject(err)
        else if (typeof address === 'string') resolve(address)
        else if (address[0] !== undefined) resolve(address[0].address)
        else reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }))
      })
    })
  }
}

/** A probe aborted at its timeout is passing (no answer is not an error); a stop rethrows. */
function timedOut(signal: AbortSignal, success: ProbeResult): ProbeResult {
  if (signal.reason instanceof ProbeTimeoutError) return success
  throw signal.reason
}
