import { errorMessage } from '../../lib/errors.js'
import { DialError, Http2Connection, dialSocket } from './dial.js'
import { ProbeTimeoutError, type ProbeResult } from './runner.js'
import { SocketRunner } from './tcp-check.js'

/**
 * An H2PING check (checks.md §10): connect to `H2PING` (TLS with ALPN `h2` when
 * `h2pingUseTls`, else cleartext h2c), send one HTTP/2 PING and wait for its ACK. A fresh
 * connection per probe; it is destroyed before the probe settles, also on timeout and stop.
 */
export class H2PingRunner extends SocketRunner {
  protected async probe(signal: AbortSignal): Promise<ProbeResult> {
    const def = this.ctx.definition
    const target = def.h2ping
    const tls = def.h2pingUseTls
      ? { serverName: def.tlsServerName, skipVerify: def.tlsSkipVerify, alpnProtocols: ['h2'] }
      : null
    let socket
    try {
      socket = await dialSocket({ address: target, tls, agent: this.socketOptions }, signal)
    } catch (err) {
      if (!(err instanceof DialError)) throw err
      return { status: 'critical', output: `Failed to dial to ${target}: ${err.message}` }
    }
    let connection: Http2Connection
    try {
      connection = await Http2Connection.open(socket, { authority: target, secure: tls !== null })
    } catch (err) {
      return { status: 'critical', output: `Failed to create client connection ${errorMessage(err)}` }
    }
    try {
      await connection.ping(signal)
      return { status: 'passing', output: 'HTTP2 ping was successful' }
    } catch (err) {
      if (signal.aborted && !(signal.reason instanceof ProbeTimeoutError)) throw err
      const text = signal.aborted ? 'context deadline exceeded' : errorMessage(err)
      return { status: 'critical', output: `HTTP2 ping failed: ${text}` }
    } finally {
      await connection.destroy()
    }
  }
}
