/**
 * `/v1/snapshot` (docs/snapshot.md, Consul's snapshot endpoint) on a server:
 * - `GET`: the datacenter's catalog at one revision as vigil's snapshot file
 *   (`application/x-gzip`), `X-Consul-Index` the revision it was read at. `stale` is accepted as
 *   Consul's (any server may answer); a server reads its own store, which is never behind the
 *   leader's, so both modes answer the same, and both need the store (api/leader.ts `viaStore`).
 * - `PUT`: restores a snapshot given as the body; 200 with an empty body. A body that is not a
 *   vigil snapshot, or is cut or altered, is Consul's 500 `failed to … snapshot …`, and nothing
 *   changes; the restore is one store transaction (src/catalog/snapshot.ts).
 */
import { UnknownDatacenterError } from '../../catalog/errors.js'
import type { SnapshotPort } from '../../catalog/snapshot.js'
import { catalogOf } from '../catalog-read.js'
import { leaderHeaders, viaStore } from '../leader.js'
import { parseConsistency } from '../params.js'
import type { ApiRequest } from '../request.js'
import type { ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

export interface SnapshotRouteOptions {
  readonly snapshots: SnapshotPort
  /** Runs after a successful restore (the server writes its own node back). */
  readonly afterRestore?: () => Promise<void>
}

/** The snapshot route group of a server. */
export function snapshotRoutes(opts: SnapshotRouteOptions): (deps: RouteDeps) => RouteSpec[] {
  return (deps) => {
    const checkDatacenter = (req: ApiRequest): void => {
      const dc = req.query.get('dc') ?? ''
      if (dc !== '' && !catalogOf(deps).datacenters().includes(dc)) throw new UnknownDatacenterError(dc)
    }
    const handler = async (req: ApiRequest): Promise<ApiResponse> => {
      checkDatacenter(req)
      if (req.method === 'GET') {
        const consistency = parseConsistency(req.query)
        const { bytes, index } = await viaStore(deps.servers, () => opts.snapshots.save())
        return {
          status: 200,
          headers: {
            'X-Consul-Index': String(index),
            ...leaderHeaders(deps),
            'X-Consul-Effective-Consistency': consistency,
          },
          body: { bytes, contentType: 'application/x-gzip' },
        }
      }
      await viaStore(deps.servers, async () => {
        await opts.snapshots.restore(req.bytes ?? Buffer.from(req.body, 'utf8'))
        await opts.afterRestore?.()
      })
      return { status: 200 }
    }
    return [{ pattern: '/v1/snapshot', methods: ['GET', 'PUT'], handler }]
  }
}
