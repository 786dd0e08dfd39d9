import { jsonResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/**
 * `/v1/status/leader` and `/v1/status/peers` (http-api.md §12) for a lone agent: a server is its
 * own leader and only peer (`"<advertise>:<server port>"`); a client without servers has none.
 */
export function statusRoutes(deps: RouteDeps): RouteSpec[] {
  const c = deps.agent.config
  const host = c.advertiseAddr !== '' ? c.advertiseAddr : c.bindAddr
  const self = (): string =>
    host.includes(':') ? `[${host}]:${c.ports.server}` : `${host}:${c.ports.server}`
  return [
    { pattern: '/v1/status/leader', methods: ['GET'], handler: () => jsonResponse(c.server ? self() : '') },
    { pattern: '/v1/status/peers', methods: ['GET'], handler: () => jsonResponse(c.server ? [self()] : []) },
  ]
}
