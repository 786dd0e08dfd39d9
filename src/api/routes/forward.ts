/**
 * On a client agent, the public routes a server answers (catalog, health, KV, sessions, txn,
 * status; later events) are forwarded to a server's cluster listener as they came: method, path,
 * query (so `stale`, `consistent`, `index`, `wait`, `filter` keep their meaning), token and body
 * (its bytes: KV values and snapshots are binary);
 * the server's status, body and `X-Consul-*` headers come back unchanged. Which server answered
 * is logged at debug level. No known server → 500 `No known Consul servers`.
 */
import type { ClusterResponse } from '../../cluster/transport.js'
import { headerValue, type ApiRequest } from '../request.js'
import type { ApiResponse } from '../response.js'
import { escapePath, type HttpMethod, type RouteSpec } from '../routing.js'
import type { ApiLogger } from '../settings.js'

export interface Forwarder {
  forward(
    req: Readonly<{
      method: string
      target: string
      headers: Readonly<Record<string, string>>
      /** The request's bytes when it had a body read as bytes, else its text. */
      body: string | Buffer
      signal?: AbortSignal
      timeoutMs: number
    }>,
  ): Promise<ClusterResponse & { server: string }>
}

/** Request headers that travel with a forwarded request. */
const REQUEST_HEADERS = ['x-consul-token', 'authorization', 'content-type', 'cache-control', 'accept']

/** Response headers that come back. */
function keepResponseHeader(name: string): boolean {
  return (
    name.startsWith('x-consul-') ||
    name === 'x-cache' ||
    name === 'age' ||
    name === 'allow' ||
    name === 'location'
  )
}

const ALL_METHODS: readonly HttpMethod[] = ['GET', 'PUT', 'POST', 'DELETE']

/** Routes that forward catalog, health, KV, session, txn and status requests to a server. */
export function forwardedRoutes(
  forwarder: Forwarder,
  opts: Readonly<{ logger: ApiLogger; maxQueryTimeMs: number }>,
): RouteSpec[] {
  const handler = async (req: ApiRequest): Promise<ApiResponse> => {
    const headers: Record<string, string> = {}
    for (const name of REQUEST_HEADERS) {
      const v = headerValue(req.headers, name)
      if (v !== '') headers[name] = v
    }
    const query = req.query.toString()
    const target = `${escapePath(req.path)}${query === '' ? '' : `?${query}`}`
    const res = await forwarder.forward({
      method: req.method,
      target,
      headers,
      body: req.bytes ?? req.body,
      signal: req.signal,
      // A blocking query may wait max_query_time plus jitter on the server.
      timeoutMs: opts.maxQueryTimeMs + opts.maxQueryTimeMs / 16 + 30_000,
    })
    opts.logger.debug(
      { method: req.method, path: req.path, server: res.server, status: res.status },
      'Forwarded to a server',
    )
    const out: Record<string, string> = {}
    for (const [name, value] of Object.entries(res.headers)) if (keepResponseHeader(name)) out[name] = value
    const contentType = res.headers['content-type']
    if (contentType === undefined && res.body === '') return { status: res.status, headers: out }
    // Bytes as they came: a KV value read with `?raw` (or a snapshot) may be any binary.
    return {
      status: res.status,
      headers: out,
      body:
        res.bytes === undefined
          ? { text: res.body, contentType: contentType ?? 'text/plain' }
          : { bytes: res.bytes, contentType: contentType ?? 'text/plain' },
    }
  }
  return [
    { pattern: '/v1/catalog/', methods: ALL_METHODS, handler },
    { pattern: '/v1/health/', methods: ALL_METHODS, handler },
    { pattern: '/v1/kv/', methods: ALL_METHODS, handler },
    { pattern: '/v1/session/', methods: ALL_METHODS, handler },
    { pattern: '/v1/txn', methods: ['PUT'], handler },
    { pattern: '/v1/status/leader', methods: ['GET'], handler },
    { pattern: '/v1/status/peers', methods: ['GET'], handler },
    { pattern: '/v1/operator/raft/configuration', methods: ['GET'], handler },
    { pattern: '/v1/snapshot', methods: ['GET', 'PUT'], handler },
  ]
}
