import { nodeServicesQuery, nodesQuery, serviceNodesQuery, servicesQuery } from '../../catalog/queries.js'
import { UnknownDatacenterError } from '../../catalog/errors.js'
import { decodeCatalogDeregister, decodeCatalogRegister } from '../catalog-body.js'
import { nodeSchema, nodeServiceSchema, serviceNodeSchema, type FilterPredicate } from '../../filter/index.js'
import {
  answerRead,
  catalogOf,
  filterElements,
  parseNodeMeta,
  requiredRest,
  type FilterTarget,
} from '../catalog-read.js'
import { goMap } from '../json.js'
import {
  renderNode,
  renderNodeServicesList,
  renderNodeServicesMap,
  renderServiceNode,
} from '../render-catalog.js'
import type { ApiRequest } from '../request.js'
import { jsonResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/**
 * `/v1/catalog/node/:node` and `node-services/:node` filter the node's services (a map by ID, or
 * a list), not the node (http-api.md §8); an unknown node stays `null`.
 */
function nodeServicesFilter(shape: 'map' | 'list'): FilterTarget {
  return {
    schema: nodeServiceSchema,
    apply(wire: unknown, keep: FilterPredicate): unknown {
      if (wire === null || typeof wire !== 'object') return wire
      const answer = wire as { Node: unknown; Services: unknown }
      const services =
        shape === 'list'
          ? (answer.Services as readonly unknown[]).filter((s) => keep(s))
          : Object.fromEntries(
              Object.entries(answer.Services as Record<string, unknown>).filter(([, s]) => keep(s)),
            )
      return { ...answer, Services: services }
    },
  }
}

/** `/v1/catalog/*` (http-api.md §10), served from `deps.catalog`. */
export function catalogRoutes(deps: RouteDeps): RouteSpec[] {
  /** Writes name a datacenter in the body or `?dc`; only this one is reachable. */
  const checkDatacenter = (req: ApiRequest, fromBody: string): void => {
    const known = catalogOf(deps).datacenters()
    for (const dc of [fromBody, req.query.get('dc') ?? '']) {
      if (dc !== '' && !known.includes(dc)) throw new UnknownDatacenterError(dc)
    }
  }

  const register = async (req: ApiRequest): Promise<ApiResponse> => {
    const { datacenter, request } = decodeCatalogRegister(req.body)
    checkDatacenter(req, datacenter)
    await catalogOf(deps).register(request)
    return jsonResponse(true)
  }

  const deregister = async (req: ApiRequest): Promise<ApiResponse> => {
    const { datacenter, request } = decodeCatalogDeregister(req.body)
    checkDatacenter(req, datacenter)
    await catalogOf(deps).deregister(request)
    return jsonResponse(true)
  }

  const datacenters = (): ApiResponse => jsonResponse([...catalogOf(deps).datacenters()])

  const nodes = (req: ApiRequest): Promise<ApiResponse> =>
    answerRead(
      deps,
      req,
      'nodes',
      nodesQuery({ nodeMeta: parseNodeMeta(req.query) }),
      (v) => v.map(renderNode),
      {
        filter: filterElements(nodeSchema),
      },
    )

  const services = (req: ApiRequest): Promise<ApiResponse> =>
    answerRead(deps, req, 'services', servicesQuery({ nodeMeta: parseNodeMeta(req.query) }), (v) =>
      goMap([...v].map(([name, tags]) => [name, [...tags]] as const)),
    )

  const serviceNodes =
    (connect: boolean) =>
    (req: ApiRequest): Promise<ApiResponse> => {
      const name = requiredRest(req, 'Missing service name')
      const query = serviceNodesQuery(name, {
        tags: req.query.getAll('tag'),
        nodeMeta: parseNodeMeta(req.query),
        connect,
      })
      return answerRead(deps, req, 'service-nodes', query, (v) => v.map(renderServiceNode), {
        filter: filterElements(serviceNodeSchema),
      })
    }

  const node = (req: ApiRequest): Promise<ApiResponse> =>
    answerRead(
      deps,
      req,
      'node',
      nodeServicesQuery(requiredRest(req, 'Missing node name')),
      renderNodeServicesMap,
      { filter: nodeServicesFilter('map') },
    )

  const nodeServices = (req: ApiRequest): Promise<ApiResponse> =>
    answerRead(
      deps,
      req,
      'node-services',
      nodeServicesQuery(requiredRest(req, 'Missing node name')),
      renderNodeServicesList,
      { filter: nodeServicesFilter('list') },
    )

  return [
    { pattern: '/v1/catalog/register', methods: ['PUT'], handler: register },
    { pattern: '/v1/catalog/deregister', methods: ['PUT'], handler: deregister },
    { pattern: '/v1/catalog/datacenters', methods: ['GET'], handler: datacenters },
    { pattern: '/v1/catalog/nodes', methods: ['GET'], handler: nodes },
    { pattern: '/v1/catalog/services', methods: ['GET'], handler: services },
    { pattern: '/v1/catalog/service/', methods: ['GET'], handler: serviceNodes(false) },
    { pattern: '/v1/catalog/connect/', methods: ['GET'], handler: serviceNodes(true) },
    { pattern: '/v1/catalog/node/', methods: ['GET'], handler: node },
    { pattern: '/v1/catalog/node-services/', methods: ['GET'], handler: nodeServices },
  ]
}
