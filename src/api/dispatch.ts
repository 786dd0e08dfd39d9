import { BlockList, isIPv4, isIPv6 } from 'node:net'
import type { IncomingHttpHeaders } from 'node:http'
import { MethodNotAllowedError } from '../lib/errors.js'
import { isGoPrintText } from '../lib/unicode.js'
import { errorResponse } from './errors.js'
import { checkEnterpriseMeta } from './params.js'
import { requestToken, type ApiRequest } from './request.js'
import { textResponse, type ApiResponse } from './response.js'
import { cleanPath, decodePath, escapePath, withQuery, type RouteSpec, type RouteTable } from './routing.js'
import type { ApiLogger, HttpApiSettings } from './settings.js'

const NOT_FOUND_V1 = 'Invalid URL path: not a recognized HTTP API endpoint\n'
const NOT_FOUND_OTHER =
  "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n"
const UI_DISABLED =
  'Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.'

/** A request as it arrives, before routing. */
export interface IncomingRequest {
  readonly method: string
  /** The request target as sent: path and query, not decoded. */
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** The body's bytes (`body` is their UTF-8 text). */
  readonly bytes?: Buffer
  readonly remoteAddress: string
  readonly signal: AbortSignal
}

/** The outcome of dispatching: the response, and the route that answered (for metrics). */
export interface Dispatched {
  readonly response: ApiResponse
  readonly route: RouteSpec | undefined
  readonly pretty: boolean
}

/**
 * Routing and the checks every routed request goes through, in Consul's order (http-api.md §1,
 * §3, §7): malformed or unprintable path → 400 (empty body); unclean path → 301 to the cleaned
 * one; route lookup (subtree root → 301, `/` → index, unknown → 404); blocked endpoint → 403;
 * OPTIONS → 200 with `Allow`; unlisted method → 405; write from a non-allowed address → 403;
 * namespace/partition → 400; then the handler. Handler errors become responses here.
 */
export class Dispatcher {
  readonly #table: RouteTable
  readonly #settings: HttpApiSettings
  readonly #log: ApiLogger
  readonly #writers: BlockList | undefined

  constructor(table: RouteTable, settings: HttpApiSettings, log: ApiLogger) {
    this.#table = table
    this.#settings = settings
    this.#log = log
    this.#writers = writeAllowList(settings.httpConfig.allowWriteHttpFrom)
  }

  async dispatch(req: IncomingRequest): Promise<Dispatched> {
    const q = req.url.indexOf('?')
    const rawPath = q === -1 ? req.url : req.url.slice(0, q)
    const rawQuery = q === -1 ? '' : req.url.slice(q + 1)
    const query = new URLSearchParams(rawQuery)
    const pretty = this.#settings.prettyJson || query.has('pretty')
    const done = (response: ApiResponse, route?: RouteSpec): Dispatched => ({ response, route, pretty })

    const path = decodePath(rawPath)
    if (path === undefined) return done({ status: 400 })
    if (!this.#settings.disableHttpUnprintableCharFilter && !isGoPrintText(path)) return done({ status: 400 })
    const clean = cleanPath(path)
    if (clean !== path) return done(redirect(req.method, withQuery(escapePath(clean), rawQuery)))

    const m = this.#table.match(path, rawQuery)
    switch (m.kind) {
      case 'redirect':
        return done(redirect(req.method, m.location))
      case 'index':
        return done(
          this.#settings.uiEnabled
            ? redirect(req.method, this.#settings.uiContentPath)
            : textResponse(200, UI_DISABLED),
        )
      case 'not-found':
        return done(textResponse(404, path.startsWith('/v1/') ? NOT_FOUND_V1 : NOT_FOUND_OTHER))
      case 'route':
        break
    }
    const { route, rest } = m
    try {
      return done(await this.#routed(req, route, { path, rest, query }), route)
    } catch (err) {
      return done(errorResponse(err, this.#log, { method: req.method, path }), route)
    }
  }

  /** The checks before a route's handler; throws what they refuse. Not async: one frame less per waiting request. */
  #routed(
    req: IncomingRequest,
    route: RouteSpec,
    at: { path: string; rest: string; query: URLSearchParams },
  ): ApiResponse | Promise<ApiResponse> {
    if (this.#settings.httpConfig.blockEndpoints.some((prefix) => at.path.startsWith(prefix))) {
      return textResponse(403, 'Endpoint is blocked by agent configuration')
    }
    const allowed = ['OPTIONS', ...route.methods]
    if (req.method === 'OPTIONS') return { status: 200, headers: { Allow: allowed.join(',') } }
    if (!(route.methods as readonly string[]).includes(req.method)) {
      throw new MethodNotAllowedError(req.method, allowed)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && !this.#mayWrite(req.remoteAddress)) {
      return textResponse(403, 'Access is restricted')
    }
    checkEnterpriseMeta(at.query, req.headers)
    const apiRequest: ApiRequest = {
      method: req.method,
      path: at.path,
      rest: at.rest,
      query: at.query,
      headers: req.headers,
      body: req.body,
      ...(req.bytes !== undefined ? { bytes: req.bytes } : {}),
      token: requestToken(at.query, req.headers),
      remoteAddress: req.remoteAddress,
      // Built on first use: only blocking queries need it, and an AbortSignal per request is costly.
      get signal() {
        return req.signal
      },
    }
    return route.handler(apiRequest)
  }

  #mayWrite(remoteAddress: string): boolean {
    if (this.#writers === undefined) return true
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress)?.[1]
    const ip = mapped ?? remoteAddress
    if (isIPv4(ip)) return this.#writers.check(ip, 'ipv4')
    if (isIPv6(ip)) return this.#writers.check(ip, 'ipv6')
    return false
  }
}

/** Go's `http.Redirect` with 301: a short HTML body for GET and HEAD, none otherwise. */
function redirect(method: string, location: string): ApiResponse {
  const headers = { Location: location }
  if (method !== 'GET' && method !== 'HEAD') return { status: 301, headers }
  return textResponse(
    301,
    `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n`,
    'text/html; charset=utf-8',
    headers,
  )
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&#34;',
  "'": '&#39;',
}

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
}

/** `http_config.allow_write_http_from` as a BlockList; undefined when empty (everyone may write). */
function writeAllowList(cidrs: readonly string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined
  const list = new BlockList()
  for (const cidr of cidrs) {
    const [addr = '', bits] = cidr.split('/')
    const family = isIPv6(addr) ? 'ipv6' : 'ipv4'
    const prefix = bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits)
    list.addSubnet(addr, prefix, family)
  }
  return list
}
