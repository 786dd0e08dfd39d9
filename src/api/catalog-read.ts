/**
 * What every catalog and health read shares (http-api.md §3, §5, §6): consistency and datacenter
 * parameters, blocking (`index`, `wait`), the meta headers, and one encoded body per shared
 * result (identical blocking queries answered at one index encode once).
 */
import type { QueryResult } from '../catalog/blocking.js'
import { UnknownDatacenterError } from '../catalog/errors.js'
import type { CatalogPort } from '../catalog/port.js'
import type { CatalogQuery, NodeMetaFilter } from '../catalog/queries.js'
import { compileFilter, type FieldSchema, type FilterPredicate } from '../filter/index.js'
import { BadRequestError } from '../lib/errors.js'
import { encodeJson } from './json.js'
import { beFresh, leaderHeaders } from './leader.js'
import { parseConsistency, parseWaitMs } from './params.js'
import type { ApiRequest } from './request.js'
import { encodedJsonResponse, type ApiResponse } from './response.js'
import type { RouteDeps } from './routes/deps.js'

/** The catalog a route serves; a server without one answers 500. */
export function catalogOf(deps: RouteDeps): CatalogPort {
  if (deps.catalog === undefined) throw new Error('No catalog is available on this agent')
  return deps.catalog
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

/**
 * How `filter=` applies to a route's wire shape (http-api.md §8): the schema of the filtered
 * element, and which part of the answer is filtered (the list, or a node's services).
 */
export type FilterTarget = Readonly<{
  schema: FieldSchema
  apply(wire: unknown, keep: FilterPredicate): unknown
}>

/** The answer is a list; `filter=` keeps its matching elements. */
export function filterElements(schema: FieldSchema): FilterTarget {
  return { schema, apply: (wire, keep) => (wire as readonly unknown[]).filter((e) => keep(e)) }
}

export interface ReadOptions {
  readonly headers?: Readonly<Record<string, string>>
  /** The route takes `filter=`; without it the parameter is ignored, as Consul's routes do. */
  readonly filter?: FilterTarget
}

/** Per shared result: the rendered wire shape per route, and encoded bodies per route, pretty, filter. */
interface Rendered {
  readonly wire: Map<string, unknown>
  readonly bodies: Map<string, Buffer>
}

const rendered = new WeakMap<object, Rendered>()

/**
 * Evaluates (or blocks on) a query and answers it with the meta headers. `render` turns the
 * result into its wire shape, once per result object and route; `filter=` runs on that shape
 * (compiled before any waiting, so a bad expression answers at once), and the encoded body is
 * kept per result, route, `pretty` and filter text: identical blocking queries woken at one index
 * share one evaluation, one rendering and one encoding.
 */
export async function answerRead<T>(
  deps: RouteDeps,
  req: ApiRequest,
  route: string,
  query: CatalogQuery<T>,
  render: (value: T) => unknown,
  opts: ReadOptions = {},
): Promise<ApiResponse> {
  const catalog = catalogOf(deps)
  parseConsistency(req.query) // a conflicting mode answers 400 before anything else
  const dc = req.query.get('dc') ?? ''
  if (dc !== '' && !catalog.datacenters().includes(dc)) throw new UnknownDatacenterError(dc)
  const waitMs = parseWaitMs(req.query)
  const index = clientIndex(req.query)
  const expression = opts.filter === undefined ? '' : (req.query.get('filter') ?? '')
  const keep =
    opts.filter !== undefined && expression !== '' ? compileFilter(expression, opts.filter.schema) : null
  const consistency = await beFresh(deps, catalog, req.query)
  const result: QueryResult<T> =
    index > 0 ? await catalog.block(query, { index, waitMs, signal: req.signal }) : catalog.read(query)
  let cache = rendered.get(result)
  if (cache === undefined) {
    cache = { wire: new Map(), bodies: new Map() }
    rendered.set(result, cache)
  }
  const shared = cache
  const response = encodedJsonResponse((pretty) => {
    // Unfiltered bodies are kept per result (a bounded set of keys); a filtered answer reuses the
    // shared rendering and is encoded for its request, so filter texts cannot grow the cache.
    const key = `${route}\u0000${pretty ? 'p' : ''}`
    let encoded = keep === null ? shared.bodies.get(key) : undefined
    if (encoded === undefined) {
      let wire = shared.wire.get(route)
      if (wire === undefined) {
        wire = render(result.value)
        shared.wire.set(route, wire)
      }
      const answer = keep !== null && opts.filter !== undefined ? opts.filter.apply(wire, keep) : wire
      encoded = Buffer.from(encodeJson(answer, pretty), 'utf8')
      if (keep === null) shared.bodies.set(key, encoded)
    }
    return encoded
  })
  return {
    ...response,
    headers: {
      'X-Consul-Index': String(Math.max(1, result.index)),
      ...leaderHeaders(deps),
      'X-Consul-Effective-Consistency': consistency,
      ...opts.headers,
    },
  }
}
