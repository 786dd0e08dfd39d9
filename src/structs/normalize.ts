/**
 * The one normalizer (STYLE.md practice 12): every service or check definition, whether from an
 * HTTP body or a config file, becomes a validated, deep-frozen record here and nowhere else.
 *
 * Input is a plain JSON value (`decodeJsonBody` of a request body, or a parsed config file).
 * Decoding follows Go's encoding/json as Consul does (go-json.ts): keys match case-insensitively,
 * snake_case only through the aliases Consul declares, unknown keys are rejected. Config-file
 * definitions (origin `config`) also accept the snake_case keys of cli.md §4.
 *
 * Errors: `DecodeError` (bad JSON types, unknown fields, bad durations), `BadRequestError` (400,
 * message = Consul's exact body), `ScriptChecksDisabledError` (500). A definition with any invalid
 * part throws; nothing partial is returned, and `ctx.warn` is called only for valid definitions.
 */
import { BadRequestError } from '../lib/errors.js'
import { isStatus, type CheckRegistration, type Status } from './check.js'
import { GoType, StructSchema, decodeStruct } from './go-json.js'
import {
  CHECK_DEFINITION_SCHEMA,
  assertScriptAllowed,
  assertValidCheckType,
  buildCheckRegistration,
  readCheckFields,
} from './normalize-check.js'
import { SERVICE_DEFINITION_SCHEMA, buildServiceRegistration } from './normalize-service.js'
import type { ServiceRegistration } from './service.js'

/** Where a definition came from: `api` → Source `remote`; `config` → Source `local`. */
export type Origin = 'api' | 'config'

export interface NormalizeContext {
  /** The agent's node name; every check's `node`. */
  readonly nodeName: string
  readonly origin: Origin
  /** `enable_script_checks`: script checks from any origin. */
  readonly enableScriptChecks: boolean
  /** `enable_local_script_checks`: script checks from config files only. */
  readonly enableLocalScriptChecks: boolean
  /** Non-fatal findings (interval raised to 1 s, names DNS cannot serve). */
  readonly warn?: (message: string) => void
}

/**
 * A service definition (`PUT /v1/agent/service/register` body, config `service` block) → its
 * registration: the service with defaults (ID, Weights, tagged addresses) and its checks
 * (IDs `service:<id>` / `service:<id>:<n>`, names `Service '<name>' check`, initial status).
 * `sidecar` is null; a `Connect.SidecarService` is returned as given in `sidecarService`.
 */
export function normalizeServiceDefinition(input: unknown, ctx: NormalizeContext): ServiceRegistration {
  const decoded = decodeStruct(input, SERVICE_DEFINITION_SCHEMA, { lenient: ctx.origin === 'config' })
  const warnings: string[] = []
  const registration = buildServiceRegistration(decoded, ctx, warnings)
  report(warnings, ctx)
  return registration
}

/**
 * A standalone check (`PUT /v1/agent/check/register` body, config `check` block) → its
 * registration. `ID` defaults to `Name`. With a `ServiceID`, `serviceName`/`serviceTags` are left
 * empty: the agent fills them from the registered service (and answers 404 if there is none).
 */
export function normalizeCheckDefinition(input: unknown, ctx: NormalizeContext): CheckRegistration {
  const decoded = decodeStruct(input, CHECK_DEFINITION_SCHEMA, { lenient: ctx.origin === 'config' })
  const fields = readCheckFields(decoded)
  if (fields.name === '') throw new BadRequestError('Missing check name')
  if (fields.status !== '' && !isStatus(fields.status)) throw new BadRequestError('Bad check status')
  assertValidCheckType(fields)
  assertScriptAllowed(fields, ctx)
  const warnings: string[] = []
  const registration = buildCheckRegistration(
    fields,
    {
      checkId: fields.id !== '' ? fields.id : fields.name,
      name: fields.name,
      nodeName: ctx.nodeName,
      serviceId: fields.serviceId,
      serviceName: '',
      serviceTags: Object.freeze([]),
      token: fields.token,
    },
    ctx,
    warnings,
  )
  report(warnings, ctx)
  return registration
}

const CHECK_UPDATE_SCHEMA = new StructSchema('checkUpdate', 'agent.checkUpdate', [
  { name: 'Status', type: GoType.string },
  { name: 'Output', type: GoType.string },
])

/**
 * The body of `PUT /v1/agent/check/update/:id`, `{"Status","Output"}`. A status other than
 * passing/warning/critical → `400 Invalid check status: '<s>'`. Output is returned untruncated.
 */
export function normalizeCheckUpdate(input: unknown): { readonly status: Status; readonly output: string } {
  const decoded = decodeStruct(input, CHECK_UPDATE_SCHEMA)
  const status = decoded.string('Status')
  if (!isStatus(status)) throw new BadRequestError(`Invalid check status: '${status}'`)
  return Object.freeze({ status, output: decoded.string('Output') })
}

function report(warnings: readonly string[], ctx: NormalizeContext): void {
  if (ctx.warn === undefined) return
  for (const message of warnings) ctx.warn(message)
}
