/**
 * The cluster listener's RPCs (`/v1/internal/cluster/...`), served on `bind_addr` at the serf LAN
 * port (every agent: hello, introduce, explain) and at the server port (servers: heartbeats, leave,
 * force-leave, anti-entropy's catalog calls). Every request passes `authorize` first: the one
 * place where cluster TLS identities and ACL tokens will be checked.
 */
import { decodeDnsDumpRequest } from '../../cluster/dns-dump.js'
import type { ClusterRpc } from '../../cluster/ports.js'
import {
  CLUSTER_PREFIX,
  decodeDeregister,
  decodeEventFire,
  decodeExplainRequest,
  decodeForceLeave,
  decodeHeartbeat,
  decodeIntroduce,
  decodeName,
  decodeNodeHealthRequest,
  decodeRegister,
} from '../../cluster/wire.js'
import { BadRequestError } from '../../lib/errors.js'
import type { ApiRequest } from '../request.js'
import { EMPTY_OK, jsonResponse, textResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import { renderExplanation } from './agent-checks.js'

/** Throws to refuse a cluster request. */
export type ClusterAuthorizer = (req: ApiRequest) => void

/** Cluster traffic carries no credentials yet: every request on the cluster listener is allowed. */
export const allowClusterTraffic: ClusterAuthorizer = () => undefined

/** Wraps every route's handler with `authorize`. */
export function guarded(routes: readonly RouteSpec[], authorize: ClusterAuthorizer): RouteSpec[] {
  return routes.map((r) => ({
    ...r,
    handler: (req: ApiRequest) => {
      authorize(req)
      return r.handler(req)
    },
  }))
}

/** The RPCs every agent serves on its serf LAN port. */
export function clusterLanRoutes(rpc: ClusterRpc): RouteSpec[] {
  return [
    { pattern: `${CLUSTER_PREFIX}/hello`, methods: ['GET'], handler: () => jsonResponse(rpc.hello()) },
    {
      pattern: `${CLUSTER_PREFIX}/introduce`,
      methods: ['POST'],
      handler: (req) => {
        rpc.introduce(decodeIntroduce(req.body).servers)
        return EMPTY_OK
      },
    },
    {
      pattern: `${CLUSTER_PREFIX}/explain`,
      methods: ['POST'],
      handler: (req) => {
        const e = rpc.explain(decodeExplainRequest(req.body))
        return jsonResponse({ ServiceFound: e.serviceFound, Checks: e.checks.map(renderExplanation) })
      },
    },
  ]
}

/** The RPCs a server serves on its server port, next to the LAN ones and the forwarded public routes. */
export function clusterServerRoutes(rpc: ClusterRpc): RouteSpec[] {
  const server = rpc.server
  if (server === null) return []
  const post = (
    path: string,
    handler: (req: ApiRequest) => Promise<ApiResponse> | ApiResponse,
  ): RouteSpec => ({
    pattern: `${CLUSTER_PREFIX}${path}`,
    methods: ['POST'],
    handler,
  })
  return [
    post('/heartbeat', (req) =>
      textResponse(200, server.heartbeat(decodeHeartbeat(req.body)), 'application/json'),
    ),
    post('/leave', async (req) => {
      await server.leave(decodeName(req.body).name)
      return EMPTY_OK
    }),
    post('/force-leave', async (req) => {
      const { name, prune } = decodeForceLeave(req.body)
      await server.forceLeave(name, prune)
      return EMPTY_OK
    }),
    post('/catalog/read', async (req) =>
      jsonResponse(await server.catalog.readNode(decodeName(req.body).name)),
    ),
    post('/catalog/node-health', async (req) => {
      const { name, index, waitMs } = decodeNodeHealthRequest(req.body)
      return jsonResponse(await server.aliasReader.nodeHealth(name, { index, waitMs, signal: req.signal }))
    }),
    post('/catalog/dns-dump', async (req) =>
      textResponse(
        200,
        await server.dnsDump.dump(decodeDnsDumpRequest(req.body), req.signal),
        'application/json',
      ),
    ),
    post('/catalog/register', async (req) => {
      await server.catalog.register(decodeRegister(req.body))
      return EMPTY_OK
    }),
    post('/event/fire', async (req) => {
      await server.fireEvent(decodeEventFire(req.body))
      return EMPTY_OK
    }),
    post('/catalog/deregister', async (req) => {
      const d = decodeDeregister(req.body)
      if (d.serviceId !== '') await server.catalog.deregisterService(d.node, d.serviceId)
      else if (d.checkId !== '') await server.catalog.deregisterCheck(d.node, d.checkId)
      else throw new BadRequestError('Missing service or check ID')
      return EMPTY_OK
    }),
  ]
}
