/**
 * Consul's node health check, kept by the servers for every member (http-api.md §10): passing
 * `Agent alive and reachable` while the member heartbeats, critical `Agent not live or
 * unreachable` once it failed.
 */
import type { CatalogCheckInput } from '../catalog/types.js'
import { EMPTY_DEFINITION, type Status } from '../structs/check.js'

export const SERF_HEALTH_CHECK_ID = 'serfHealth'
export const SERF_HEALTH_NAME = 'Serf Health Status'
export const ALIVE_OUTPUT = 'Agent alive and reachable'
export const FAILED_OUTPUT = 'Agent not live or unreachable'

export function serfHealthCheck(
  node: string,
  status: Extract<Status, 'passing' | 'critical'>,
): CatalogCheckInput {
  return Object.freeze({
    node,
    checkId: SERF_HEALTH_CHECK_ID,
    name: SERF_HEALTH_NAME,
    status,
    notes: '',
    output: status === 'passing' ? ALIVE_OUTPUT : FAILED_OUTPUT,
    serviceId: '',
    definition: EMPTY_DEFINITION,
  })
}
