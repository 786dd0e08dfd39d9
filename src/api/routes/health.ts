import {
  checksInStateQuery,
  nodeChecksQuery,
  serviceChecksQuery,
  serviceHealthQuery,
  type CheckServiceNode,
} from '../../catalog/queries.js'
import { isStatus } from '../../structs/check.js'
import { BadRequestError } from '../../lib/errors.js'
import { checkServiceNodeSchema, healthCheckSchema } from '../../filter/index.js'
import { answerRead, filterElements, parseNodeMeta, requiredRest, type ReadOptions } from '../catalog-read.js'
import { parseGoBool } from '../params.js'
import { renderCatalogCheck, renderCheckServiceNode } from '../render-catalog.js'
import type { ApiRequest } from '../request.js'
import type { ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/** `?passing`: present and empty, or a true Go bool; absent or false → all (http-api.md §11). */
export function parsePassing(query: URLSearchParams): boolean {
  if (!query.has('passing')) return false
  const raw = query.get('passing') ?? ''
  if (raw === '') return true
  const value = parseGoBool(raw)
  if (value === undefined) throw new BadRequestError('Invalid value for ?passing')
  return value
}

/** Check lists take `filter=` on each check (http-api.md §8). */
const CHECKS: ReadOptions = { filter: filterElements(healthCheckSchema) }

/** Service health answers take `filter=` on each entry and name their query backend. */
const SERVICE_HEALTH: ReadOptions = {
  headers: { 'X-Consul-Query-Backend': 'blocking-query' },
  filter: filterElements(checkServiceNodeSchema),
}

function renderServiceHealth(v: readonly CheckServiceNode[]): unknown {
  return v.map(renderCheckServiceNode)
}

/** `/v1/health/*` (http-api.md §11), served from `deps.catalog`. */
export function healthRoutes(deps: RouteDeps): RouteSpec[] {
  const node = (req: ApiRequest): Promise<ApiResponse> =>
    answerRead(
      deps,
      req,
      'node-checks',
      nodeChecksQuery(requiredRest(req, 'Missing node name')),
      (v) => v.map(renderCatalogCheck),
      CHECKS,
    )

  const checks = (req: ApiRequest): Promise<ApiResponse> => {
    const name = requiredRest(req, 'Missing service name')
    const query = serviceChecksQuery(name, { nodeMeta: parseNodeMeta(req.query) })
    return answerRead(deps, req, 'service-checks', query, (v) => v.map(renderCatalogCheck), CHECKS)
  }

  const service =
    (connect: boolean) =>
    (req: ApiRequest): Promise<ApiResponse> => {
      const name = requiredRest(req, 'Missing service name')
      const query = serviceHealthQuery(name, {
        tags: req.query.getAll('tag'),
        nodeMeta: parseNodeMeta(req.query),
        passing: parsePassing(req.query),
        connect,
      })
      return answerRead(deps, req, 'service-health', query, renderServiceHealth, SERVICE_HEALTH)
    }

  const state = async (req: ApiRequest): Promise<ApiResponse> => {
    const s = requiredRest(req, 'Missing check state')
    const nodeMeta = parseNodeMeta(req.query)
    if (s !== 'any' && !isStatus(s)) {
      // Unknown states match no check; the answer is still a catalog read with its index.
      return answerRead(deps, req, 'state-none', checksInStateQuery('any', { nodeMeta }), () => [], CHECKS)
    }
    return answerRead(
      deps,
      req,
      'state',
      checksInStateQuery(s, { nodeMeta }),
      (v) => v.map(renderCatalogCheck),
      CHECKS,
    )
  }

  return [
    { pattern: '/v1/health/node/', methods: ['GET'], handler: node },
    { pattern: '/v1/health/checks/', methods: ['GET'], handler: checks },
    { pattern: '/v1/health/service/', methods: ['GET'], handler: service(false) },
    { pattern: '/v1/health/connect/', methods: ['GET'], handler: service(true) },
    { pattern: '/v1/health/state/', methods: ['GET'], handler: state },
  ]
}
