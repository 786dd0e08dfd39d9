import { isRemoteAlias } from './checks/remote-alias-check.js'
import { isDeepStrictEqual } from 'node:util'
import {
  BadRequestError,
  MissingServiceForCheckError,
  UnknownCheckError,
  UnknownServiceError,
  errorMessage,
} from '../lib/errors.js'
import type { CheckRegistration, Status } from '../structs/check.js'
import type { ServiceRegistration } from '../structs/service.js'
import type { CheckManager } from './checks/check-manager.js'
import { unsupportedCheckType } from './checks/factory.js'
import { checkKey, serviceKey, type AgentCore } from './core.js'
import type { CheckEntry, ServiceEntry } from './local/local-state.js'
import type { StoreChange } from './persistence/agent-store.js'
import { deriveSidecar, sidecarIdFor } from './sidecar.js'

/**
 * Registration and deregistration of services and checks (agent-state.md §7), with their files.
 *
 * Contract: the public entry points (`registerService`, `deregisterService`, `registerCheck`,
 * `deregisterCheck`) take the agent's locks for the services and checks they touch; the `apply*`
 * and `unregister*` functions expect the caller to hold them. Every change writes the data dir
 * first (durably, before it is acknowledged) and memory after; a failed write puts the files back
 * and changes nothing in memory. Every record is stored before any runner starts; old runners are
 * stopped and awaited before their successors start.
 */

export type RunnerResume = NonNullable<Parameters<CheckManager['replace']>[3]>

/**
 * Registers (or replaces) a service and its checks. With `replaceExistingChecks`, this service's
 * checks absent from the request go.
 */
export function registerService(
  core: AgentCore,
  reg: ServiceRegistration,
  opts: { replaceExistingChecks: boolean },
): Promise<void> {
  return core.locks.withKeys(
    () => serviceRegistrationKeys(core, reg),
    () => applyServiceRegistration(core, reg, { ...opts, persist: reg.source === 'remote' }),
  )
}

/** Caller holds the keys of `serviceRegistrationKeys`. */
export async function applyServiceRegistration(
  core: AgentCore,
  reg: ServiceRegistration,
  opts: { replaceExistingChecks: boolean; persist: boolean; keepUnchanged?: boolean },
): Promise<void> {
  // The parent and its sidecar (sidecar.md §6) are validated together, persisted together, and
  // only then applied: a failure leaves both as they were.
  const regs = [reg]
  if (reg.sidecarService !== null) {
    const ctx = core.normalizeContext(reg.source === 'remote' ? 'api' : 'config')
    regs.push(deriveSidecar(reg, reg.sidecarService, ctx, core.state.services(), core.config.ports))
  }
  for (const r of regs) for (const c of r.checks) assertRunnable(core, c)
  const plans = regs.map((r) => {
    const newIds = new Set(r.checks.map((c) => c.check.checkId))
    const removeCheckIds = opts.replaceExistingChecks
      ? core.state
          .checksOfService(r.service.id)
          .map((e) => e.check.checkId)
          .filter((id) => !newIds.has(id))
      : []
    return { reg: r, newIds: [...newIds], removeCheckIds }
  })
  if (opts.persist) {
    await persistOrRollback(
      core,
      plans.map((pl) => pl.reg.service.id),
      plans.flatMap((pl) => [...pl.newIds, ...pl.removeCheckIds]),
      plans.flatMap(({ reg: r, removeCheckIds }): StoreChange[] => [
        ...r.checks.map((entry) => ({ op: 'saveCheck' as const, entry })),
        { op: 'saveService', entry: { service: r.service, token: r.token, source: r.source } },
        ...removeCheckIds.map((id) => ({ op: 'deleteCheck' as const, id })),
      ]),
    )
  }
  const started: CheckEntry[] = []
  for (const { reg: r, removeCheckIds } of plans) {
    // On reload, a check whose definition did not change keeps its runner (and its status).
    const checks = opts.keepUnchanged === true ? r.checks.filter((c) => !isUnchanged(core, c)) : r.checks
    const entries = core.state.apply({
      service: { service: r.service, token: r.token, source: r.source },
      checks,
      removeCheckIds,
    })
    started.push(...entries)
  }
  for (const { removeCheckIds } of plans) for (const id of removeCheckIds) await core.checks.remove(id)
  for (const e of started) await core.checks.replace(e.check.checkId, e.definition, e.generation)
  for (const { reg: r } of plans) core.log.info({ service: r.service.id }, 'Synced service')
}

/**
 * Removes a service, its checks (runners stopped and awaited) and the sidecar that was created
 * through its `Connect.SidecarService`. Unknown → UnknownServiceError.
 */
export function deregisterService(core: AgentCore, serviceId: string): Promise<void> {
  const serviceIdsOf = (): string[] => {
    const sidecar = core.state.service(sidecarIdFor(serviceId))
    return sidecar?.service.locallyRegisteredAsSidecar === true
      ? [serviceId, sidecar.service.id]
      : [serviceId]
  }
  const checkIdsOf = (serviceIds: readonly string[]): string[] =>
    serviceIds.flatMap((id) => core.state.checksOfService(id).map((e) => e.check.checkId))
  return core.locks.withKeys(
    () => {
      const serviceIds = serviceIdsOf()
      return [...serviceIds.map(serviceKey), ...checkIdsOf(serviceIds).map(checkKey)]
    },
    async () => {
      if (core.state.service(serviceId) === undefined) throw new UnknownServiceError(serviceId)
      const serviceIds = serviceIdsOf()
      const checkIds = checkIdsOf(serviceIds)
      await persistOrRollback(core, serviceIds, checkIds, [
        ...serviceIds.map((id) => ({ op: 'deleteService' as const, id })),
        ...checkIds.map((id) => ({ op: 'deleteCheck' as const, id })),
      ])
      await unregisterServices(core, serviceIds)
      for (const id of serviceIds) core.log.info({ service: id }, 'Deregistered service')
    },
  )
}

/** Registers (or replaces) a standalone check; its service, if named, must exist. */
export function registerCheck(core: AgentCore, reg: CheckRegistration): Promise<void> {
  return core.locks.withKeys(
    () => {
      const serviceId = reg.check.serviceId
      return [...checkKeys(core, reg.check.checkId), ...(serviceId !== '' ? [serviceKey(serviceId)] : [])]
    },
    () => applyCheckRegistration(core, reg, { persist: reg.source === 'remote' }),
  )
}

/** Caller holds the keys of the check, its current service and its new one. */
export async function applyCheckRegistration(
  core: AgentCore,
  reg: CheckRegistration,
  opts: { persist: boolean; initial?: { status: Status; output: string }; resume?: RunnerResume },
): Promise<void> {
  assertRunnable(core, reg)
  const withService = attachService(core, reg)
  const checkId = reg.check.checkId
  if (opts.persist) {
    await persistOrRollback(core, [], [checkId], [{ op: 'saveCheck', entry: withService }])
  }
  const [entry] = core.state.apply({
    checks: [withService],
    ...(opts.initial !== undefined ? { initialStatus: new Map([[checkId, opts.initial]]) } : {}),
  })
  if (entry !== undefined) {
    await core.checks.replace(entry.check.checkId, entry.definition, entry.generation, opts.resume)
  }
  core.log.info({ check: checkId }, 'Synced check')
}

/** Removes a check and awaits its runner's stop. Unknown → UnknownCheckError. */
export function deregisterCheck(core: AgentCore, checkId: string): Promise<void> {
  return core.locks.withKeys(
    () => checkKeys(core, checkId),
    async () => {
      if (core.state.check(checkId) === undefined) throw new UnknownCheckError(checkId)
      await deleteCheck(core, checkId)
      core.log.info({ check: checkId }, 'Deregistered check')
    },
  )
}

/** The lock keys of a check: its own and its current service's. */
export function checkKeys(core: AgentCore, checkId: string): string[] {
  const serviceId = core.state.check(checkId)?.check.serviceId ?? ''
  return serviceId === '' ? [checkKey(checkId)] : [checkKey(checkId), serviceKey(serviceId)]
}

/** Deregistration of one check: its files first, then memory, then its runner (awaited). */
export async function deleteCheck(core: AgentCore, checkId: string): Promise<void> {
  await persistOrRollback(core, [], [checkId], [{ op: 'deleteCheck', id: checkId }])
  await unregisterCheck(core, checkId)
}

/** Removes a check from memory and stops its runner; no files are touched. */
export async function unregisterCheck(core: AgentCore, checkId: string): Promise<void> {
  core.state.apply({ removeCheckIds: [checkId] })
  await core.checks.remove(checkId)
}

/** Removes services and all their checks from memory and stops the runners; no files are touched. */
export async function unregisterServices(core: AgentCore, serviceIds: readonly string[]): Promise<void> {
  const checkIds = serviceIds.flatMap((id) => core.state.checksOfService(id).map((e) => e.check.checkId))
  core.state.apply({ removeCheckIds: checkIds })
  for (const id of serviceIds) core.state.removeService(id)
  for (const id of checkIds) await core.checks.remove(id)
}

/** Fills in the check's service name and tags from its registered service (which must exist). */
export function attachService(core: AgentCore, reg: CheckRegistration): CheckRegistration {
  const serviceId = reg.check.serviceId
  if (serviceId === '') return reg
  const svc = core.state.service(serviceId)
  if (svc === undefined) throw new MissingServiceForCheckError(serviceId)
  return Object.freeze({
    ...reg,
    check: Object.freeze({
      ...reg.check,
      serviceName: svc.service.name,
      serviceTags: svc.service.tags ?? Object.freeze([]),
    }),
  })
}

/** True when `reg` equals the registered check in everything but status and output. */
export function isUnchanged(core: AgentCore, reg: CheckRegistration): boolean {
  const cur = core.state.check(reg.check.checkId)
  if (cur === undefined) return false
  const attached = reg.check.serviceId !== '' && reg.check.serviceName === '' ? attachService(core, reg) : reg
  return (
    isDeepStrictEqual(cur.definition, attached.definition) &&
    cur.token === attached.token &&
    cur.source === attached.source &&
    isDeepStrictEqual({ ...cur.check, status: '', output: '' }, { ...attached.check, status: '', output: '' })
  )
}

// ---- internals -------------------------------------------------------------------------------

/**
 * Sidecar registrations hold every key: the sidecar's port is allocated from all services.
 * Otherwise: the service, its current checks, and every requested check with its current service.
 */
function serviceRegistrationKeys(core: AgentCore, reg: ServiceRegistration): string[] | null {
  if (reg.sidecarService !== null) return null
  const id = reg.service.id
  return [
    serviceKey(id),
    ...core.state.checksOfService(id).map((e) => checkKey(e.check.checkId)),
    ...reg.checks.flatMap((c) => checkKeys(core, c.check.checkId)),
  ]
}

/** Refuses definitions whose runner cannot be built, before anything changes. */
function assertRunnable(core: AgentCore, reg: CheckRegistration): void {
  const def = reg.definition
  const refusal = unsupportedCheckType(def.type)
  if (refusal !== undefined) throw new BadRequestError(`Invalid check: ${refusal}`)
  const remote = isRemoteAlias(def, core.config.nodeName)
  if (def.type === 'alias' && (remote ? !core.remoteAliases : def.aliasService === '')) {
    throw new BadRequestError(
      'Invalid check: alias checks of another node (AliasNode) need a catalog, which this agent does not have yet; alias a service registered on this agent',
    )
  }
}

/**
 * Persists `changes`; if that fails, puts the files of the named services and checks back as
 * they were (from memory) so disk and memory still agree, then rethrows. No-op in memory mode.
 */
async function persistOrRollback(
  core: AgentCore,
  serviceIds: readonly string[],
  checkIds: readonly string[],
  changes: readonly StoreChange[],
): Promise<void> {
  const store = core.store
  if (store === null) return
  const services = serviceIds.map((id) => [id, core.state.service(id)] as const)
  const checks = checkIds.map((id) => [id, core.state.check(id)] as const)
  try {
    await store.apply(changes)
  } catch (err) {
    core.log.error({ err: errorMessage(err) }, 'Persisting failed; nothing was changed')
    await store.apply(previousFiles(services, checks)).catch((restoreErr: unknown) => {
      core.log.error(
        { err: errorMessage(restoreErr) },
        'Could not restore the previous files after a failed write',
      )
    })
    throw err
  }
}

function previousFiles(
  services: readonly (readonly [string, ServiceEntry | undefined])[],
  checks: readonly (readonly [string, CheckEntry | undefined])[],
): StoreChange[] {
  return [
    ...services.map(([id, prev]): StoreChange =>
      prev !== undefined && prev.source === 'remote'
        ? { op: 'saveService', entry: prev }
        : { op: 'deleteService', id },
    ),
    ...checks.map(([id, prev]): StoreChange =>
      prev !== undefined && isPersisted(prev) ? { op: 'saveCheck', entry: prev } : { op: 'deleteCheck', id },
    ),
  ]
}

/** Checks that live in the data dir: API registrations and maintenance checks. */
function isPersisted(entry: CheckEntry): boolean {
  return entry.source === 'remote' || entry.definition.type === 'maintenance'
}
