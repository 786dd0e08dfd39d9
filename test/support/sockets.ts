import { readFileSync } from 'node:fs'
import net from 'node:net'
import type { TestContext } from 'node:test'

const TLS_FIXTURES = new URL('../../../test/fixtures/tls/', import.meta.url)

/** The self-signed certificate of the TLS test servers (test/fixtures/tls/README.md). */
export const SERVER_CERT = readFileSync(new URL('server-cert.pem', TLS_FIXTURES))

/** The private key of SERVER_CERT. */
export const SERVER_KEY = readFileSync(new URL('server-key.pem', TLS_FIXTURES))

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedTcpPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * A TCP server on 127.0.0.1 that accepts and reads but never answers; `open` holds the sockets
 * still connected. Closed, with its sockets, when the test ends.
 */
export async function startSilentTcp(t: TestContext): Promise<{ port: number; open: Set<net.Socket> }> {
  const open = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const socket of open) socket.destroy()
    server.close()
  })
  return { port: (server.address() as net.AddressInfo).port, open }
}
