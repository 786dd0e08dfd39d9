/**
 * How one agent talks to another's cluster listener. Plain HTTP today; TLS and the agent token
 * for cluster traffic plug in here (the sending side) and in `clusterAuth` (the receiving side).
 * The port is injected so that tests can drive a client with a fake network.
 */
import { errorMessage } from '../lib/errors.js'

/** An agent's cluster listener: `addr:port`. */
export type Endpoint = Readonly<{ addr: string; port: number }>

export interface ClusterResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** The body as UTF-8 text. */
  readonly body: string
  /** The body's bytes, when the transport kept them (forwarded answers may be binary). */
  readonly bytes?: Buffer
}

export interface ClusterTransport {
  /** One HTTP exchange. Rejects on network failure or timeout; any status resolves. */
  send(
    to: Endpoint,
    req: Readonly<{
      method: string
      /** Path and query, already escaped. */
      target: string
      headers?: Readonly<Record<string, string>>
      /** Text, or bytes (a forwarded request's body as it came: KV values, snapshots). */
      body?: string | Buffer
      signal?: AbortSignal
      timeoutMs?: number
    }>,
  ): Promise<ClusterResponse>
}

/** A cluster call answered with an error status: the remote message, with that status. */
export class RemoteError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'RemoteError'
  }
}

/** `addr:port` (`[v6]:port`). */
export function endpointText(e: Endpoint): string {
  return e.addr.includes(':') ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`
}

/** Parses `ADDR[:port]` (`[v6]:port`, bare v6), the port defaulting to `defaultPort`. */
export function parseJoinAddress(text: string, defaultPort: number): Endpoint | undefined {
  const t = text.trim()
  if (t === '' || t.length > 512) return undefined
  let addr = t
  let port = defaultPort
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(t)
  if (bracket !== null) {
    addr = bracket[1] ?? ''
    if (bracket[2] !== undefined) port = Number(bracket[2])
  } else if ((t.match(/:/g) ?? []).length === 1) {
    const [a = '', p = ''] = t.split(':')
    if (!/^\d{1,5}$/.test(p)) return undefined
    addr = a
    port = Number(p)
  }
  if (addr === '' || port < 1 || port > 65535) return undefined
  return { addr, port }
}

const DEFAULT_TIMEOUT_MS = 10_000

/** The transport over node's fetch. */
export const httpTransport: ClusterTransport = {
  async send(to, req) {
    const timeout = AbortSignal.timeout(req.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    const signal = req.signal === undefined ? timeout : AbortSignal.any([req.signal, timeout])
    const url = `http://${endpointText(to)}${req.target}`
    try {
      const init: RequestInit = { method: req.method, headers: req.headers ?? {}, signal }
      if (req.body !== undefined && req.method !== 'GET') init.body = req.body
      const res = await fetch(url, init)
      const bytes = Buffer.from(await res.arrayBuffer())
      const headers: Record<string, string> = {}
      res.headers.forEach((value, name) => {
        headers[name] = value
      })
      return { status: res.status, headers, body: bytes.toString('utf8'), bytes }
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause
      throw new Error(`${req.method} ${url}: ${errorMessage(cause ?? err)}`, { cause: err })
    }
  },
}

/** Sends a JSON RPC; resolves with the decoded JSON of a 200, throws RemoteError otherwise. */
export async function callJson(
  transport: ClusterTransport,
  to: Endpoint,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<unknown> {
  const res = await transport.send(to, {
    method,
    target: path,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...opts,
  })
  if (res.status !== 200) throw new RemoteError(res.status, res.body.trim() || `HTTP ${res.status}`)
  if (res.body === '') return null
  try {
    return JSON.parse(res.body) as unknown
  } catch {
    throw new RemoteError(502, `invalid JSON from ${endpointText(to)}`)
  }
}
