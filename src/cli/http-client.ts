/**
 * The HTTP side of the client commands (cli.md §7): the shared `-http-addr`/`-token`… flags
 * with their `CONSUL_*` environment fallbacks, and a small client over Node's global fetch.
 */
import { readFileSync } from 'node:fs'
import { parseGoBool, type FlagDef, type FlagGroup, type ParsedFlags } from '../config/flags.js'
import { errorMessage } from '../lib/errors.js'

/** The flags every client command accepts. */
export const httpApiFlags: FlagGroup = {
  title: 'HTTP API Options',
  flags: [
    {
      name: 'http-addr',
      type: 'string',
      placeholder: 'address',
      usage:
        'The `address` and port of the Consul HTTP agent. The value can be an IP address or DNS address, but it must also include the port. This can also be specified via the CONSUL_HTTP_ADDR environment variable. The default value is http://127.0.0.1:8500. The scheme can also be set to HTTPS by setting the environment variable CONSUL_HTTP_SSL=true.',
    },
    {
      name: 'token',
      type: 'string',
      placeholder: 'value',
      usage:
        'ACL token to use in the request. This can also be specified via the CONSUL_HTTP_TOKEN environment variable. If unspecified, the query will default to the token of the Consul agent at the HTTP address.',
    },
    {
      name: 'token-file',
      type: 'string',
      placeholder: 'path',
      usage:
        'File containing the ACL token to use in the request instead of one specified via the -token argument or CONSUL_HTTP_TOKEN environment variable. This can also be specified via the CONSUL_HTTP_TOKEN_FILE environment variable.',
    },
    {
      name: 'datacenter',
      type: 'string',
      placeholder: 'name',
      usage:
        'Name of the datacenter to query. If unspecified, this will default to the datacenter of the queried agent.',
    },
    {
      name: 'stale',
      type: 'bool',
      usage:
        'Permit any Consul server (non-leader) to respond to this request. This allows for lower latency and higher throughput, but can result in stale data.',
    },
  ] satisfies FlagDef[],
}

/** A non-200 answer: `Unexpected response code: 404 (Unknown service ID "x")`, as Go's api prints it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`Unexpected response code: ${status} (${body.trim()})`)
    this.name = 'ApiError'
  }
}

/** The agent could not be reached; the message reads like Go's (`dial tcp …: connection refused`). */
export class ConnectionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ConnectionError'
  }
}

export interface ClientSettings {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8500`. */
  readonly baseUrl: string
  readonly token: string
  readonly datacenter: string
  readonly stale: boolean
}

/**
 * Resolves `-http-addr`/`CONSUL_HTTP_ADDR` (`host:port`, `http://…`, `https://…`; default
 * `http://127.0.0.1:8500`, `CONSUL_HTTP_SSL=true` → https) and the token flags/env.
 */
export function clientSettings(
  flags: ParsedFlags,
  env: Readonly<Record<string, string | undefined>>,
): ClientSettings {
  const flagAddr = flags.values.get('http-addr')
  const addr = (typeof flagAddr === 'string' && flagAddr !== '' ? flagAddr : env['CONSUL_HTTP_ADDR']) ?? ''
  const ssl = parseGoBool(env['CONSUL_HTTP_SSL'] ?? '') === true
  const baseUrl = resolveHttpAddr(addr, ssl)

  let token = env['CONSUL_HTTP_TOKEN'] ?? ''
  const envTokenFile = env['CONSUL_HTTP_TOKEN_FILE'] ?? ''
  if (envTokenFile !== '') token = readTokenFile(envTokenFile) || token
  const flagTokenFile = flags.values.get('token-file')
  if (typeof flagTokenFile === 'string' && flagTokenFile !== '') token = readTokenFile(flagTokenFile) || token
  const flagToken = flags.values.get('token')
  if (typeof flagToken === 'string' && flagToken !== '') token = flagToken

  const dc = flags.values.get('datacenter')
  return {
    baseUrl,
    token,
    datacenter: typeof dc === 'string' ? dc : '',
    stale: flags.values.get('stale') === true,
  }
}

/** `host:port` / `http://…` / `https://…` → base URL. */
export function resolveHttpAddr(addr: string, ssl = false): string {
  const trimmed = addr.trim()
  if (trimmed === '') return `${ssl ? 'https' : 'http'}://127.0.0.1:8500`
  if (trimmed.startsWith('unix://')) {
    throw new ConnectionError(`unix socket addresses are not supported by this vigil version: ${trimmed}`)
  }
  if (/^https?:\/\//.test(trimmed)) return trimmed.replace(/\/+$/, '')
  return `${ssl ? 'https' : 'http'}://${trimmed.replace(/\/+$/, '')}`
}

function readTokenFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (err) {
    throw new ConnectionError(`Error loading token file: ${errorMessage(err)}`)
  }
}

export interface RequestOptions {
  /** A list value repeats the parameter (`node-meta=a:1&node-meta=b:2`). */
  readonly query?: Readonly<Record<string, string | readonly string[]>>
  readonly body?: unknown
  /** Sent as is (no Content-Type), e.g. a KV value; wins over `body`. */
  readonly rawBody?: Uint8Array | string
  /** Aborts the request (blocking queries, commands that stop). */
  readonly signal?: AbortSignal
}

/** A response of any status, with its body and headers. */
export interface RawResponse {
  readonly status: number
  readonly text: string
  readonly headers: Headers
}

/** A thin client for the agent's HTTP API. Every method resolves only on status 200. */
export class ApiClient {
  constructor(readonly settings: ClientSettings) {}

  /** Sends the request; resolves with the body text of a 200, else throws ApiError/ConnectionError. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<string> {
    const res = await this.send(method, path, opts)
    if (res.status !== 200) throw new ApiError(res.status, res.text)
    return res.text
  }

  /** Sends the request and resolves with any status; throws ConnectionError when unreachable. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    const res = await this.#fetch(method, path, opts)
    return { status: res.status, text: await res.text(), headers: res.headers }
  }

  /** As `send`, with the body as bytes (`/v1/snapshot`). */
  async sendForBytes(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<Readonly<{ status: number; bytes: Buffer; headers: Headers }>> {
    const res = await this.#fetch(method, path, opts)
    return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers }
  }

  async #fetch(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const url = new URL(`${this.settings.baseUrl}${path}`)
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (typeof v === 'string') url.searchParams.set(k, v)
      else for (const item of v) url.searchParams.append(k, item)
    }
    if (this.settings.datacenter !== '' && !url.searchParams.has('dc')) {
      url.searchParams.set('dc', this.settings.datacenter)
    }
    if (this.settings.stale && method === 'GET') url.searchParams.set('stale', '')
    const headers: Record<string, string> = {}
    if (this.settings.token !== '') headers['X-Consul-Token'] = this.settings.token
    const init: RequestInit = { method, headers }
    if (opts.signal !== undefined) init.signal = opts.signal
    if (opts.rawBody !== undefined) {
      init.body = opts.rawBody
    } else if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json'
      init.body = JSON.stringify(opts.body)
    }
    let res: Response
    try {
      res = await fetch(url, init)
    } catch (err) {
      if (opts.signal?.aborted === true) throw err
      throw new ConnectionError(describeFetchError(method, url, err), { cause: err })
    }
    return res
  }

  async getJson(path: string, query?: RequestOptions['query']): Promise<unknown> {
    const text = await this.request('GET', path, query === undefined ? {} : { query })
    return JSON.parse(text) as unknown
  }

  async put(path: string, body?: unknown): Promise<void> {
    await this.request('PUT', path, body === undefined ? {} : { body })
  }
}

/** `Put "http://127.0.0.1:8500/v1/…": dial tcp 127.0.0.1:8500: connect: connection refused`. */
function describeFetchError(method: string, url: URL, err: unknown): string {
  const verb = method.charAt(0) + method.slice(1).toLowerCase()
  const cause = (err as { cause?: unknown } | undefined)?.cause as NodeJS.ErrnoException | undefined
  const hostPort = url.host
  let detail: string
  switch (cause?.code) {
    case 'ECONNREFUSED':
      detail = `dial tcp ${hostPort}: connect: connection refused`
      break
    case 'ENOTFOUND':
      detail = `dial tcp: lookup ${url.hostname}: no such host`
      break
    case 'ETIMEDOUT':
      detail = `dial tcp ${hostPort}: i/o timeout`
      break
    default:
      detail = cause?.message ?? errorMessage(err)
  }
  return `${verb} ${JSON.stringify(url.toString())}: ${detail}`
}
