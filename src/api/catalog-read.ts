/**
 * What every catalog and health read shares (http-api.md §3, §5, §6): consistency and datacenter
 * parameters, blocking (`index`, `wait`), the meta headers, and one encoded body per shared
 * result (identical blocking queries answered at one index encode once).
 */
import type { QueryResult } from '../catalog/blocking.js'
import { UnknownDatacenterError } from '../catalog/errors.js'
import type { CatalogPort } from '../catalog/port.js'
import type { CatalogQuery, NodeMetaFilter } from '../catalog/queries.js'
import { InvalidDurationError, parseGoDurationMs } from '../lib/duration.js'
import { BadRequestError } from '../lib/errors.js'
import { encodeJson } from './json.js'
import { parseWaitMs } from './params.js'
import type { ApiRequest } from './request.js'
import { encodedJsonResponse, type ApiResponse } from './response.js'
import type { RouteDeps } from './routes/deps.js'

/** The catalog a route serves; a server without one answers 500. */
export function catalogOf(deps: RouteDeps): CatalogPort {
  if (deps.catalog === undefined) throw new Error('No catalog is available on this agent')
  return deps.catalog
}

export type Consistency = 'leader' | 'stale' | 'consistent'

/** `stale`/`consistent`/`cached`/`max_stale` as Consul's parseConsistency reads them. */
export function parseConsistency(query: URLSearchParams): Consistency {
  const stale = query.has('stale')
  const consistent = query.has('consistent')
  if (stale && consistent) {
    throw new BadRequestError('Cannot specify ?stale with ?consistent, conflicting semantics.')
  }
  if (query.has('cached') && consistent) {
    throw new BadRequestError('Cannot specify ?cached with ?consistent, conflicting semantics.')
  }
  let maxStale = false
  const raw = query.get('max_stale') ?? ''
  if (raw !== '') {
    let ms: number
    try {
      ms = parseGoDurationMs(raw)
    } catch (err) {
      if (err instanceof InvalidDurationError)
        throw new BadRequestError(`Invalid max_stale value ${JSON.stringify(raw)}`)
      throw err
    }
    maxStale = ms > 0
  }
  if (consistent) return 'consistent'
  return stale || maxStale ? 'stale' : 'leader'
}

/** Repeated `node-meta=key:value` (split at the first `:`; no `:` → empty value). */
export function parseNodeMeta(query: URLSearchParams): NodeMetaFilter {
  return query.getAll('node-meta').map((pair) => {
    const i = pair.indexOf(':')
    return i < 0 ? ([pair, ''] as const) : ([pair.slice(0, i), pair.slice(i + 1)] as const)
  })
}

/** The path part after the route, required: `missing` is Consul's 400 text. */
export function requiredRest(req: ApiRequest, missing: string): string {
  if (req.rest === '') throw new BadRequestError(missing)
  return req.rest
}

/** The client's `?index`, 0 when absent (parseWaitMs has validated it). */
function clientIndex(query: URLSearchParams): number {
  const raw = query.get('index') ?? ''
  return raw === '' ? 0 : Number(raw)
}

const bodies = new WeakMap<object, Map<string, Buffer>>()

/**
 * Evaluates (or blocks on) a query and answers it with the meta headers. `render` turns the
 * result into its wire shape; the encoded body is kept per result object, route and `pretty`.
 * `filter=` does not run here yet: the filter language moves to src/filter; it will run on the
 * wire shape `render` returns, before encoding, with the filter text in the cache key.
 */
export async function answerRead<T>(
  deps: RouteDeps,
  req: ApiRequest,
  route: string,
  query: CatalogQuery<T>,
  render: (value: T) => unknown,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<ApiResponse> {
  const catalog = catalogOf(deps)
  const consistency = parseConsistency(req.query)
  const dc = req.query.get('dc') ?? ''
  if (dc !== '' && !catalog.datacenters().includes(dc)) throw new UnknownDatacenterError(dc)
  const waitMs = parseWaitMs(req.query)
  const index = clientIndex(req.query)
  const result: QueryResult<T> =
    index > 0 ? await catalog.block(query, { index, waitMs, signal: req.signal }) : catalog.read(query)
  let cache = bodies.get(result)
  if (cache === undefined) {
    cache = new Map()
    bodies.set(result, cache)
  }
  const cached = cache
  const response = encodedJsonResponse((pretty) => {
    const key = `${route}\u0000${pretty ? 'p' : ''}`
    let encoded = cached.get(key)
    if (encoded === undefined) {
      encoded = Buffer.from(encodeJson(render(result.value), pretty), 'utf8')
      cached.set(key, encoded)
    }
    return encoded
  })
  return {
    ...response,
    headers: {
      'X-Consul-Index': String(Math.max(1, result.index)),
      'X-Consul-KnownLeader': 'true',
      'X-Consul-LastContact': '0',
      'X-Consul-Effective-Consistency': consistency,
      ...extraHeaders,
    },
  }
}
