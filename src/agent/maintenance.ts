import { MaintenanceServiceMissingError } from '../lib/errors.js'
import {
  EMPTY_DEFINITION,
  NODE_MAINTENANCE_CHECK_ID,
  serviceMaintenanceCheckId,
  type CheckRegistration,
  type HealthCheck,
} from '../structs/check.js'
import { serviceKey, type AgentCore } from './core.js'
import { applyCheckRegistration, checkKeys, deleteCheck } from './registration.js'

/**
 * Node and service maintenance (agent-state.md §6): a critical `maintenance` check, persisted
 * like an API registration. Contract: enabling twice keeps the first reason; disabling when not
 * in maintenance is a no-op; each runs under the locks of the maintenance check (and service).
 */

const NODE_MAINTENANCE_DEFAULT_REASON =
  'Maintenance mode is enabled for this node, but no reason was provided. This is a default message.'
const SERVICE_MAINTENANCE_DEFAULT_REASON =
  'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.'

export function setNodeMaintenance(
  core: AgentCore,
  enable: boolean,
  reason: string,
  token: string,
): Promise<void> {
  return core.locks.withKeys(
    () => checkKeys(core, NODE_MAINTENANCE_CHECK_ID),
    async () => {
      const existing = core.state.check(NODE_MAINTENANCE_CHECK_ID)
      if (!enable) {
        if (existing === undefined) return
        await deleteCheck(core, NODE_MAINTENANCE_CHECK_ID)
        core.log.info({}, 'Node left maintenance mode')
        return
      }
      if (existing !== undefined) return
      await applyCheckRegistration(
        core,
        maintenanceCheck(
          core,
          NODE_MAINTENANCE_CHECK_ID,
          'Node Maintenance Mode',
          reason || NODE_MAINTENANCE_DEFAULT_REASON,
          token,
          null,
        ),
        { persist: true },
      )
      core.log.info({}, 'Node entered maintenance mode')
    },
  )
}

/** Unknown service → 404 `No service registered…`. */
export function setServiceMaintenance(
  core: AgentCore,
  serviceId: string,
  enable: boolean,
  reason: string,
  token: string,
): Promise<void> {
  const checkId = serviceMaintenanceCheckId(serviceId)
  return core.locks.withKeys(
    () => [serviceKey(serviceId), ...checkKeys(core, checkId)],
    async () => {
      const svc = core.state.service(serviceId)
      if (svc === undefined) throw new MaintenanceServiceMissingError(serviceId)
      const existing = core.state.check(checkId)
      if (!enable) {
        if (existing === undefined) return
        await deleteCheck(core, checkId)
        core.log.info({ service: serviceId }, 'Service left maintenance mode')
        return
      }
      if (existing !== undefined) return
      await applyCheckRegistration(
        core,
        maintenanceCheck(
          core,
          checkId,
          'Service Maintenance Mode',
          reason || SERVICE_MAINTENANCE_DEFAULT_REASON,
          token,
          svc.service,
        ),
        { persist: true },
      )
      core.log.info({ service: serviceId }, 'Service entered maintenance mode')
    },
  )
}

function maintenanceCheck(
  core: AgentCore,
  checkId: string,
  name: string,
  notes: string,
  token: string,
  service: { id: string; name: string; tags: readonly string[] | null } | null,
): CheckRegistration {
  const check: HealthCheck = Object.freeze({
    node: core.config.nodeName,
    checkId,
    name,
    status: 'critical',
    notes,
    output: '',
    serviceId: service?.id ?? '',
    serviceName: service?.name ?? '',
    serviceTags: service?.tags ?? Object.freeze([]),
    type: 'maintenance',
    interval: '',
    timeout: '',
    exposedPort: 0,
  })
  return Object.freeze({
    check,
    definition: Object.freeze({ ...EMPTY_DEFINITION, type: 'maintenance' as const }),
    token,
    source: 'local' as const,
  })
}
