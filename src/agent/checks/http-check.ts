import http from 'node:http'
import https from 'node:https'
import { keepTail } from './output.js'
import { IntervalRunner, ProbeTimeoutError, type ProbeResult, type RunnerContext } from './runner.js'
import {
  checkTlsOptions,
  closedPromise,
  dialErrorText,
  tlsErrorText,
  untilAborted,
  type CheckTlsOptions,
} from './tcp-check.js'

/** Options of the HTTP runner: TLS material (`enable_agent_tls_for_checks`). */
export interface HttpRunnerOptions {
  readonly tls?: CheckTlsOptions
}

export const HTTP_USER_AGENT = 'Consul Health Check'
export const HTTP_ACCEPT = 'text/plain, text/*, */*'

/** Go's default redirect policy stops after 10 consecutive requests ("stopped after 10 redirects"). */
const MAX_REQUESTS = 10

/** Header keys Go's request writer never takes from the header map. */
const EXCLUDED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'trailer'])

/** A transport failure, already worded as Go's `*url.Error` (`Get "http://…": <reason>`). */
class HttpCheckError extends Error {}

interface Hop {
  readonly url: URL
  /** The URL as Go prints it in errors: the configured text first, then the resolved redirect. */
  readonly urlText: string
  readonly method: string
  readonly withBody: boolean
  /** Host header override; kept across relative redirects only (as Go). */
  readonly host: string | undefined
  readonly referer: string | undefined
}

interface Exchange {
  readonly req: http.ClientRequest
  readonly res: http.IncomingMessage
  /** Resolves when the request's socket has closed. */
  readonly closed: Promise<void>
}

/**
 * An HTTP/HTTPS check (checks.md §6): one request per probe on a fresh connection, redirects
 * followed (at most 10) unless `DisableRedirects`; 2xx passing, 429 warning, anything else
 * critical; output `HTTP <METHOD> <url>: <status> Output: <last L bytes of the body>`. Transport
 * errors and timeouts are critical with Go's error text. On abort the request and its socket are
 * destroyed and the probe settles after the socket closed.
 */
export class HttpRunner extends IntervalRunner {
  readonly #opts: HttpRunnerOptions

  constructor(ctx: RunnerContext, opts: HttpRunnerOptions = {}) {
    super(ctx)
    this.#opts = opts
  }

  protected async probe(signal: AbortSignal): Promise<ProbeResult> {
    const def = this.ctx.definition
    const method = def.method === '' ? 'GET' : def.method
    const op = method.slice(0, 1).toUpperCase() + method.slice(1).toLowerCase()
    let url: URL
    try {
      url = new URL(def.http)
    } catch {
      return { status: 'critical', output: `parse "${def.http}": invalid URL` }
    }
    const hostHeader = headerValue(def.header, 'host')
    let hop: Hop = {
      url,
      urlText: def.http,
      method,
      withBody: true,
      host: hostHeader === '' ? undefined : hostHeader,
      referer: undefined,
    }
    try {
      for (let sent = 1; ; sent++) {
        const ex = await this.#send(hop, op, signal)
        try {
          const code = ex.res.statusCode ?? 0
          const location = ex.res.headers.location
          if (!def.disableRedirects && isRedirect(code) && location !== undefined && location !== '') {
            if (sent >= MAX_REQUESTS) {
              throw new HttpCheckError(`${op} "${location}": stopped after ${MAX_REQUESTS} redirects`)
            }
            hop = nextHop(hop, code, location, op)
            continue
          }
          const body = await readBodyTail(ex.res, this.ctx.outputMaxSize, signal)
          const reason = ex.res.statusMessage ?? ''
          const statusText = reason === '' ? String(code) : `${code} ${reason}`
          const output = `HTTP ${method} ${def.http}: ${statusText} Output: ${body}`
          if (code >= 200 && code <= 299) return { status: 'passing', output }
          if (code === 429) return { status: 'warning', output }
          return { status: 'critical', output }
        } finally {
          ex.req.destroy()
          await ex.closed
        }
      }
    } catch (err) {
      if (err instanceof HttpCheckError) return { status: 'critical', output: err.message }
      throw err
    }
  }

  /** Sends one request; resolves at the response headers. Throws HttpCheckError or the stop reason. */
  async #send(hop: Hop, op: string, signal: AbortSignal): Promise<Exchange> {
    const def = this.ctx.definition
    const fail = (reason: string): HttpCheckError => new HttpCheckError(`${op} "${hop.urlText}": ${reason}`)
    const secure = hop.url.protocol === 'https:'
    if (!secure && hop.url.protocol !== 'http:') {
      throw fail(`unsupported protocol scheme "${hop.url.protocol.replace(/:$/, '')}"`)
    }
    const body = hop.withBody ? def.body : ''
    const options: https.RequestOptions = {
      method: hop.method,
      headers: buildHeaders(def.header, hop, body),
      agent: false,
    }
    const hostname = hop.url.hostname.replace(/^\[(.*)\]$/, '$1')
    if (secure)
      Object.assign(options, checkTlsOptions(hostname, def.tlsServerName, def.tlsSkipVerify, this.#opts.tls))
    let req: http.ClientRequest
    try {
      req = (secure ? https : http).request(hop.url, options)
    } catch (err) {
      throw fail(requestSetupError(err))
    }
    const closed = closedPromise(req)
    req.on('error', () => undefined)
    try {
      const res = await untilAborted<http.IncomingMessage>(signal, (resolve, reject) => {
        req.once('response', resolve)
        req.once('error', reject)
        req.end(body === '' ? undefined : body)
      })
      res.on('error', () => undefined)
      return { req, res, closed }
    } catch (err) {
      req.destroy()
      await closed
      if (signal.aborted) {
        if (signal.reason instanceof ProbeTimeoutError) {
          throw fail('context deadline exceeded (Client.Timeout exceeded while awaiting headers)')
        }
        throw signal.reason
      }
      const port = hop.url.port !== '' ? Number(hop.url.port) : secure ? 443 : 80
      const verifiedName = def.tlsServerName !== '' ? def.tlsServerName : hostname
      throw fail(
        (secure ? tlsErrorText(err, verifiedName) : undefined) ?? transportErrorText(err, hostname, port),
      )
    }
  }
}

function isRedirect(code: number): boolean {
  return code === 301 || code === 302 || code === 303 || code === 307 || code === 308
}

/** Go's `Header.Get`: the first value of a key, matched case-insensitively; "" if absent. */
function headerValue(header: Readonly<Record<string, readonly string[]>>, name: string): string {
  for (const [key, values] of Object.entries(header)) {
    if (key.toLowerCase() === name) return values[0] ?? ''
  }
  return ''
}

function buildHeaders(
  header: Readonly<Record<string, readonly string[]>>,
  hop: Hop,
  body: string,
): http.OutgoingHttpHeaders {
  const defaultAgent = headerValue(header, 'user-agent') === ''
  const defaultAccept = headerValue(header, 'accept') === ''
  const out: http.OutgoingHttpHeaders = {}
  for (const [key, values] of Object.entries(header)) {
    const lower = key.toLowerCase()
    if (EXCLUDED_HEADERS.has(lower) || values.length === 0) continue
    if ((lower === 'user-agent' && defaultAgent) || (lower === 'accept' && defaultAccept)) continue
    out[key] = [...values]
  }
  if (defaultAgent) out['User-Agent'] = HTTP_USER_AGENT
  if (defaultAccept) out['Accept'] = HTTP_ACCEPT
  if (hop.referer !== undefined) out['Referer'] = hop.referer
  if (hop.host !== undefined) out['Host'] = hop.host
  if (body !== '') out['Content-Length'] = Buffer.byteLength(body)
  else if (hop.method === 'POST' || hop.method === 'PUT' || hop.method === 'PATCH') out['Content-Length'] = 0
  return out
}

/** Go's redirect rules: 301/302/303 turn non-GET/HEAD into GET without body; 307/308 keep both. */
function nextHop(hop: Hop, code: number, location: string, op: string): Hop {
  let url: URL
  try {
    url = new URL(location, hop.url)
  } catch {
    throw new HttpCheckError(`${op} "${hop.urlText}": failed to parse Location header "${location}"`)
  }
  const keepMethod = code === 307 || code === 308
  const method = keepMethod || hop.method === 'GET' || hop.method === 'HEAD' ? hop.method : 'GET'
  const relative = !/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith('//')
  const referer = !(hop.url.protocol === 'https:' && url.protocol === 'http:')
  const refUrl = new URL(hop.url.href)
  refUrl.username = ''
  refUrl.password = ''
  refUrl.hash = ''
  return {
    url,
    urlText: url.href,
    method,
    withBody: keepMethod && hop.withBody,
    host: relative ? hop.host : undefined,
    referer: referer ? refUrl.href : undefined,
  }
}

function requestSetupError(err: unknown): string {
  const e = err as Error & { code?: string }
  const field = /"([^"]*)"/.exec(e.message)?.[1] ?? ''
  if (e.code === 'ERR_INVALID_HTTP_TOKEN') {
    return /method/i.test(e.message)
      ? `net/http: invalid method "${field}"`
      : `net/http: invalid header field name "${field}"`
  }
  if (e.code === 'ERR_INVALID_CHAR') return `net/http: invalid header field value for "${field}"`
  return e.message
}

/** Go's text for a failed round trip: dial errors as `dial tcp …`, a dropped connection as `EOF`. */
function transportErrorText(err: unknown, host: string, port: number): string {
  const e = err as Error & { code?: string; syscall?: string }
  if (e.code === 'ECONNRESET' && e.message === 'socket hang up') return 'EOF'
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE')
    return `read tcp ${host}:${port}: read: connection reset by peer`
  return dialErrorText('tcp', host, port, err)
}

/**
 * Reads the whole body, keeping only its last `limit` bytes. A read error or a timeout ends the
 * read with what arrived (Go logs those and still judges the status); a stop rejects.
 */
function readBodyTail(res: http.IncomingMessage, limit: number, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  const tail = (): string => keepTail(Buffer.concat(chunks), limit)
  return untilAborted<undefined>(signal, (resolve) => {
    if (res.readableEnded || res.destroyed) {
      resolve(undefined)
      return
    }
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      for (let first = chunks[0]; first !== undefined && size - first.length >= limit; first = chunks[0]) {
        chunks.shift()
        size -= first.length
      }
    })
    res.once('end', () => resolve(undefined))
    res.once('error', () => resolve(undefined))
    res.once('close', () => resolve(undefined))
  }).then(tail, (err: unknown) => {
    if (signal.reason instanceof ProbeTimeoutError) return tail()
    throw err
  })
}
