import { MaintenanceServiceMissingError } from '../lib/errors.js'
import {
  NODE_MAINTENANCE_CHECK_ID,
  maintenanceCheckRegistration,
  serviceMaintenanceCheckId,
  type CheckRegistration,
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
          '',
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
          serviceId,
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
  serviceId: string,
): CheckRegistration {
  return maintenanceCheckRegistration({
    nodeName: core.config.nodeName,
    checkId,
    name,
    notes,
    token,
    serviceId,
  })
}
