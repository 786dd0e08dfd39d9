import { UnknownDatacenterError } from '../../catalog/errors.js'
import { kvGetQuery, kvKeysQuery, kvListQuery, type KvQuery } from '../../catalog/kv-queries.js'
import type { KvPort } from '../../catalog/kv-port.js'
import type { KvEntry, KvPutMode } from '../../catalog/kv-types.js'
import type { QueryResult } from '../../catalog/blocking.js'
import { KV_MAX_VALUE_SIZE } from '../../catalog/kv-types.js'
import { BadRequestError } from '../../lib/errors.js'
import { checkKvKey } from '../kv-key.js'
import { beFresh, leaderHeaders } from '../leader.js'
import { parseConsistency, parseWaitMs, type Consistency } from '../params.js'
import { headerValue, type ApiRequest } from '../request.js'
import { jsonResponse, textResponse, type ApiResponse } from '../response.js'
import { sharedJsonResponse } from '../shared-body.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/** The KV store a route serves; a server without one answers 500. */
export function kvOf(deps: RouteDeps): KvPort {
  if (deps.kv === undefined) throw new Error('No KV store is available on this agent')
  return deps.kv
}

/** Consul's `DirEntry`; `Session` only when the key is locked. */
export function renderDirEntry(e: KvEntry): Record<string, unknown> {
  return {
    LockIndex: e.lockIndex,
    Key: e.key,
    Flags: e.flags,
    Value: e.value,
    ...(e.session !== '' ? { Session: e.session } : {}),
    CreateIndex: e.createIndex,
    ModifyIndex: e.modifyIndex,
  }
}

/** Go's `strconv.ParseUint(s, 10, 64)`, with its error text. */
export function parseUint64(s: string): bigint {
  if (!/^[0-9]+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`)
  const n = BigInt(s)
  if (n > 2n ** 64n - 1n)
    throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`)
  return n
}

function clientIndex(query: URLSearchParams): number {
  const raw = query.get('index') ?? ''
  return raw === '' ? 0 : Number(raw)
}

/** The meta headers of a read (also on a 404). */
export function readHeaders(
  deps: Pick<RouteDeps, 'servers'>,
  index: number,
  consistency: Consistency,
): Record<string, string> {
  return {
    'X-Consul-Index': String(Math.max(1, index)),
    ...leaderHeaders(deps),
    'X-Consul-Effective-Consistency': consistency,
  }
}

function conflicting(query: URLSearchParams): BadRequestError {
  const sorted = new URLSearchParams(query)
  sorted.sort()
  return new BadRequestError(`Conflicting flags: ${sorted.toString()}\n`)
}

/** `/v1/kv/<key>` (kv-session-txn.md §2). */
export function kvRoutes(deps: RouteDeps): RouteSpec[] {
  const maxValueSize = (): number => KV_MAX_VALUE_SIZE

  /** A read and its meta headers. */
  const read = async <T>(
    req: ApiRequest,
    query: KvQuery<T>,
  ): Promise<{ r: QueryResult<T>; headers: Record<string, string> }> => {
    const kv = kvOf(deps)
    const dc = req.query.get('dc') ?? ''
    if (dc !== '' && !kv.datacenters().includes(dc)) throw new UnknownDatacenterError(dc)
    const waitMs = parseWaitMs(req.query)
    const index = clientIndex(req.query)
    const consistency = await beFresh(deps, kv, req.query)
    const r = index > 0 ? await kv.kvBlock(query, { index, waitMs, signal: req.signal }) : kv.kvRead(query)
    return { r, headers: readHeaders(deps, r.index, consistency) }
  }

  const get = async (req: ApiRequest): Promise<ApiResponse> => {
    parseConsistency(req.query) // a conflicting mode answers 400 before anything else
    const key = req.rest
    checkKvKey(key, deps.settings.disableKvKeyValidation)
    const q = req.query
    if (q.has('keys')) {
      const sep = q.get('separator') ?? q.get('seperator') ?? ''
      const { r, headers } = await read(req, kvKeysQuery(key, sep))
      if (r.value.length === 0 && key !== '') return { status: 404, headers }
      return sharedJsonResponse(r, 'kv-keys', () => [...r.value], headers)
    }
    if (q.has('recurse')) {
      const { r, headers } = await read(req, kvListQuery(key))
      if (r.value.length === 0) return { status: 404, headers }
      return sharedJsonResponse(r, 'kv-list', () => r.value.map(renderDirEntry), headers)
    }
    if (key === '') throw new BadRequestError('Missing key name')
    const { r, headers } = await read(req, kvGetQuery(key))
    if (r.value === null) return { status: 404, headers }
    if (q.has('raw')) {
      const bytes = r.value.value === null ? Buffer.alloc(0) : Buffer.from(r.value.value, 'base64')
      return {
        status: 200,
        headers: {
          ...headers,
          'X-Content-Type-Options': 'nosniff',
          'Content-Security-Policy': 'sandbox',
          'Content-Length': String(bytes.length),
        },
        body: { bytes, contentType: 'text/plain' },
      }
    }
    const entry = r.value
    return sharedJsonResponse(r, 'kv-get', () => [renderDirEntry(entry)], headers)
  }

  const put = async (req: ApiRequest): Promise<ApiResponse> => {
    const key = req.rest
    checkKvKey(key, deps.settings.disableKvKeyValidation)
    if (key === '') throw new BadRequestError('Missing key name')
    const q = req.query
    const flags = q.has('flags') ? parseUint64(q.get('flags') ?? '') : 0n
    const modes = ['cas', 'acquire', 'release'].filter((m) => q.has(m))
    if (modes.length > 1) throw conflicting(q)
    let mode: KvPutMode = { kind: 'set' }
    if (q.has('cas')) mode = { kind: 'cas', index: Number(parseUint64(q.get('cas') ?? '')) }
    else if (q.has('acquire')) mode = { kind: 'acquire', session: q.get('acquire') ?? '' }
    else if (q.has('release')) mode = { kind: 'release', session: q.get('release') ?? '' }
    const max = maxValueSize()
    const declared = Number(headerValue(req.headers, 'content-length') || '0')
    if (declared > max) {
      return textResponse(
        413,
        `Request body(${declared} bytes) too large, max size: ${max} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.`,
      )
    }
    const value = req.bytes ?? Buffer.from(req.body, 'utf8')
    const r = await kvOf(deps).kvPut({ key, value, flags, mode })
    return jsonResponse(r.ok)
  }

  const del = async (req: ApiRequest): Promise<ApiResponse> => {
    const key = req.rest
    checkKvKey(key, deps.settings.disableKvKeyValidation)
    const q = req.query
    const recurse = q.has('recurse')
    if (recurse && q.has('cas')) throw conflicting(q)
    if (!recurse && key === '') throw new BadRequestError('Missing key name')
    const cas = q.has('cas') ? Number(parseUint64(q.get('cas') ?? '')) : undefined
    const r = await kvOf(deps).kvDelete({ key, recurse, ...(cas !== undefined ? { cas } : {}) })
    return jsonResponse(r.ok)
  }

  const handler = (req: ApiRequest): Promise<ApiResponse> => {
    switch (req.method) {
      case 'PUT':
        return put(req)
      case 'DELETE':
        return del(req)
      default:
        return get(req)
    }
  }

  return [{ pattern: '/v1/kv/', methods: ['GET', 'PUT', 'DELETE'], handler }]
}
