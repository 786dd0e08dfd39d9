import { errorMessage } from '../../lib/errors.js'
import { deepFreeze } from '../../lib/object.js'
import {
  isMaintenanceCheckId,
  maintenanceCheckRegistration,
  type CheckDefinition,
  type HealthCheck,
  type Source,
} from '../../structs/check.js'
import { checkDefinitionOf, serviceDefinitionOf } from '../../structs/definition.js'
import {
  normalizeCheckDefinition,
  normalizeServiceDefinition,
  type NormalizeContext,
  type Origin,
} from '../../structs/normalize.js'
import type { Service } from '../../structs/service.js'

/**
 * The persisted form of services and checks (agent-state.md §12 as vigil writes it): the
 * definition an API client would send (`serviceDefinitionOf`, `checkDefinitionOf`), plus what a
 * definition does not carry. Restore decodes entries through the normalizer, so a hand-edited or
 * older entry gets the validation and defaults of an API registration.
 *
 * - service entry: `{"Service": ServiceDefinition, "Source", "LocallyRegisteredAsSidecar"?}`
 * - check entry: `{"Check": CheckDefinition, "Source"}`, or for a maintenance check (no definition
 *   the normalizer accepts) `{"Check": {"ID","Name","Notes","ServiceID","Token"}, "Source",
 *   "Maintenance": true}`.
 */

/** A service as persisted: the record and its registration bookkeeping. */
export type PersistedService = Readonly<{ service: Service; token: string; source: Source }>

/** A check as persisted: the record (status is not trusted on load), its runner definition, bookkeeping. */
export type PersistedCheck = Readonly<{
  check: HealthCheck
  definition: CheckDefinition
  token: string
  source: Source
}>

export type Entry = Readonly<Record<string, unknown>>

export function encodeServiceEntry(p: PersistedService): Entry {
  return {
    Service: serviceDefinitionOf(p.service, p.token),
    Source: p.source,
    ...(p.service.locallyRegisteredAsSidecar ? { LocallyRegisteredAsSidecar: true } : {}),
  }
}

export function encodeCheckEntry(p: PersistedCheck): Entry {
  if (p.definition.type === 'maintenance') {
    const c = p.check
    return {
      Check: { ID: c.checkId, Name: c.name, Notes: c.notes, ServiceID: c.serviceId, Token: p.token },
      Source: p.source,
      Maintenance: true,
    }
  }
  return { Check: checkDefinitionOf(p), Source: p.source }
}

/** The ID a check entry is stored under (its definition's `ID`, else `Name`, as the normalizer). */
export function checkEntryId(entry: Entry): string | undefined {
  const check = entry['Check']
  if (!isRecord(check)) return undefined
  const id = check['ID'] ?? check['id']
  if (typeof id === 'string' && id !== '') return id
  const name = check['Name'] ?? check['name']
  return typeof name === 'string' && name !== '' ? name : undefined
}

/** Contexts of the normalizer by origin (`api` for Source `remote`, `config` for `local`). */
export type ContextFor = (origin: Origin) => NormalizeContext

/** Why an entry was not restored; the message names the file. */
export class InvalidEntryError extends Error {}

/** A persisted service entry through the normalizer. Throws InvalidEntryError. */
export function decodeServiceEntry(path: string, entry: Entry, ctxFor: ContextFor): PersistedService {
  const source = sourceOf(path, entry)
  try {
    const reg = normalizeServiceDefinition(entry['Service'], quiet(ctxFor(originOf(source))))
    if (reg.checks.length > 0 || reg.sidecarService !== null) {
      throw new Error('a persisted service carries neither checks nor a sidecar definition')
    }
    const sidecar = entry['LocallyRegisteredAsSidecar'] === true
    const service = sidecar ? { ...reg.service, locallyRegisteredAsSidecar: true } : reg.service
    return deepFreeze({ service, token: reg.token, source })
  } catch (err) {
    throw new InvalidEntryError(`Invalid service in ${path}: ${errorMessage(err)}`, { cause: err })
  }
}

/** A persisted check entry through the normalizer. Throws InvalidEntryError. */
export function decodeCheckEntry(path: string, entry: Entry, ctxFor: ContextFor): PersistedCheck {
  const source = sourceOf(path, entry)
  try {
    const ctx = quiet(ctxFor(originOf(source)))
    const given = entry['Check']
    if (entry['Maintenance'] === true) {
      if (!isRecord(given)) throw new Error('Check must be an object')
      const field = (name: string): string => {
        const v = given[name] ?? ''
        if (typeof v !== 'string') throw new Error(`${name} must be a string`)
        return v
      }
      const checkId = field('ID')
      if (!isMaintenanceCheckId(checkId)) throw new Error(`${checkId} is not a maintenance check ID`)
      return maintenanceCheckRegistration({
        nodeName: ctx.nodeName,
        checkId,
        name: field('Name'),
        notes: field('Notes'),
        token: field('Token'),
        serviceId: field('ServiceID'),
      })
    }
    return normalizeCheckDefinition(given, ctx)
  } catch (err) {
    throw new InvalidEntryError(`Invalid check in ${path}: ${errorMessage(err)}`, { cause: err })
  }
}

function sourceOf(path: string, entry: Entry): Source {
  const source = entry['Source']
  if (source === 'remote' || source === 'local') return source
  throw new InvalidEntryError(`Invalid entry in ${path}: unknown Source ${JSON.stringify(source)}`)
}

function originOf(source: Source): Origin {
  return source === 'remote' ? 'api' : 'config'
}

/** Restore does not repeat the registration's warnings (interval raised, DNS names). */
function quiet(ctx: NormalizeContext): NormalizeContext {
  return {
    nodeName: ctx.nodeName,
    origin: ctx.origin,
    enableScriptChecks: ctx.enableScriptChecks,
    enableLocalScriptChecks: ctx.enableLocalScriptChecks,
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
