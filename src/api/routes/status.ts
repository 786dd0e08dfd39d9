import { NotLeaderError } from '../../catalog/errors.js'
import { jsonResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/**
 * `/v1/status/leader` and `/v1/status/peers` (http-api.md §12), and
 * `/v1/operator/raft/configuration`. A server answers from the servers sharing its store (the
 * leader key and the server rows of its view); an agent without a catalog has none.
 */
export function statusRoutes(deps: RouteDeps): RouteSpec[] {
  const dir = deps.servers
  return [
    { pattern: '/v1/status/leader', methods: ['GET'], handler: () => jsonResponse(dir?.leader() ?? '') },
    { pattern: '/v1/status/peers', methods: ['GET'], handler: () => jsonResponse(dir?.peers() ?? []) },
    {
      pattern: '/v1/operator/raft/configuration',
      methods: ['GET'],
      handler: (req) => {
        const stale = req.query.has('stale')
        const conf = dir?.configuration()
        if (conf === undefined || (!stale && !conf.servers.some((s) => s.leader))) throw new NotLeaderError()
        return jsonResponse({
          Servers: conf.servers.map((s) => ({
            ID: s.id,
            Node: s.node,
            Address: s.address,
            Leader: s.leader,
            ProtocolVersion: '3',
            Voter: true,
            LastIndex: conf.index,
          })),
          Index: conf.index,
        })
      },
    },
  ]
}
