import type { IncomingHttpHeaders } from 'node:http'

/**
 * What a route handler sees of a request: the decoded, cleaned path and, for subtree routes,
 * the rest of it after the pattern; the query as Go's `url.ParseQuery` reads it; the raw body
 * text ('' when none). `signal` aborts when the client goes away or the server closes, so
 * long waits (blocking queries) end early.
 */
export interface ApiRequest {
  readonly method: string
  readonly path: string
  readonly rest: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** The body's bytes, when the server read them (KV values are bytes, not text). */
  readonly bytes?: Buffer
  /** The ACL token the request carries (http-api.md §4); accepted and otherwise ignored. */
  readonly token: string
  readonly remoteAddress: string
  readonly signal: AbortSignal
}

/** A header's first value, or ''. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name.toLowerCase()]
  return (Array.isArray(v) ? v[0] : v) ?? ''
}

/**
 * Token resolution order (http-api.md §4): non-empty `?token`, `X-Consul-Token`, then
 * `Authorization: Bearer <t>` (scheme case-insensitive, first word after it); else ''.
 */
export function requestToken(query: URLSearchParams, headers: IncomingHttpHeaders): string {
  const fromQuery = query.get('token') ?? ''
  if (fromQuery !== '') return fromQuery
  const fromHeader = headerValue(headers, 'x-consul-token')
  if (fromHeader !== '') return fromHeader
  const auth = headerValue(headers, 'authorization').trim()
  const space = auth.indexOf(' ')
  if (space > 0 && auth.slice(0, space).toLowerCase() === 'bearer') {
    return (
      auth
        .slice(space + 1)
        .trim()
        .split(/\s+/)[0] ?? ''
    )
  }
  return ''
}
