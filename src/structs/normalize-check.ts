/**
 * Check definitions: the field tables of Consul's `CheckType` (a check inside a service) and
 * `CheckDefinition` (`/v1/agent/check/register`, config `check` blocks), their validation
 * (checks.md §2) and the frozen records built from them. Used through `normalize.ts`.
 */
import { formatGoDurationNs } from '../lib/duration.js'
import { BadRequestError, ScriptChecksDisabledError } from '../lib/errors.js'
import {
  isStatus,
  type CheckDefinition,
  type CheckRegistration,
  type CheckType,
  type Status,
} from './check.js'
import { GoType, StructSchema, type DecodedStruct, type FieldSpec } from './go-json.js'
import type { NormalizeContext } from './normalize.js'

const NS_PER_MS = 1e6
const SECOND_NS = 1e9
/** Consul's `checks.MinInterval`. */
const MIN_INTERVAL_NS = SECOND_NS

/** Fields `CheckType` and `CheckDefinition` share (Consul copies them between the two). */
function sharedCheckFields(opts: { disableRedirectsAlias: boolean }): FieldSpec[] {
  return [
    { name: 'Name', type: GoType.string },
    { name: 'Status', type: GoType.string },
    { name: 'Notes', type: GoType.string },
    {
      name: 'ScriptArgs',
      type: GoType.stringList,
      aliases: ['args', 'script_args'],
    },
    { name: 'HTTP', type: GoType.string },
    { name: 'H2PING', type: GoType.string },
    { name: 'H2PingUseTLS', type: GoType.bool, aliases: ['h2ping_use_tls'] },
    { name: 'Header', type: GoType.stringListMap },
    { name: 'Method', type: GoType.string },
    { name: 'Body', type: GoType.string },
    {
      name: 'DisableRedirects',
      type: GoType.bool,
      ...(opts.disableRedirectsAlias
        ? { aliases: ['disable_redirects'] }
        : { lenientAliases: ['disable_redirects'] }),
    },
    { name: 'TCP', type: GoType.string },
    { name: 'TCPUseTLS', type: GoType.bool, aliases: ['tcp_use_tls'] },
    { name: 'UDP', type: GoType.string },
    { name: 'Interval', type: GoType.duration },
    { name: 'AliasNode', type: GoType.string, lenientAliases: ['alias_node'] },
    { name: 'AliasService', type: GoType.string, lenientAliases: ['alias_service'] },
    { name: 'DockerContainerID', type: GoType.string, aliases: ['docker_container_id'] },
    { name: 'Shell', type: GoType.string },
    { name: 'GRPC', type: GoType.string },
    { name: 'GRPCUseTLS', type: GoType.bool, aliases: ['grpc_use_tls'] },
    { name: 'OSService', type: GoType.string, lenientAliases: ['os_service'] },
    { name: 'TLSServerName', type: GoType.string, aliases: ['tls_server_name'] },
    { name: 'TLSSkipVerify', type: GoType.bool, aliases: ['tls_skip_verify'] },
    { name: 'Timeout', type: GoType.duration },
    { name: 'TTL', type: GoType.duration },
    { name: 'SuccessBeforePassing', type: GoType.int, lenientAliases: ['success_before_passing'] },
    { name: 'FailuresBeforeWarning', type: GoType.int, lenientAliases: ['failures_before_warning'] },
    { name: 'FailuresBeforeCritical', type: GoType.int, lenientAliases: ['failures_before_critical'] },
    {
      name: 'DeregisterCriticalServiceAfter',
      type: GoType.duration,
      aliases: ['deregister_critical_service_after'],
    },
    { name: 'OutputMaxSize', type: GoType.int, lenientAliases: ['output_max_size'] },
  ]
}

/** Consul's `structs.CheckType`: a check inside a service definition (`Check`, `Checks[]`). */
export const CHECK_TYPE_SCHEMA = new StructSchema('CheckType', 'structs.CheckType', [
  { name: 'CheckID', type: GoType.string, lenientAliases: ['id', 'check_id'] },
  ...sharedCheckFields({ disableRedirectsAlias: false }),
  // Internal to Consul's exposed-check rewriting; accepted and ignored.
  { name: 'ProxyHTTP', type: GoType.string },
  { name: 'ProxyGRPC', type: GoType.string },
  // Consul accepts and ignores a ServiceID inside a service's check.
  { name: 'ServiceID', type: GoType.string, aliases: ['service_id'] },
  { name: 'Token', type: GoType.string, lenientOnly: true },
])

/** Consul's `structs.CheckDefinition`: a standalone check (API or config file). */
export const CHECK_DEFINITION_SCHEMA = new StructSchema('CheckDefinition', 'structs.CheckDefinition', [
  { name: 'ID', type: GoType.string, lenientAliases: ['check_id'] },
  { name: 'ServiceID', type: GoType.string, aliases: ['service_id'] },
  { name: 'Token', type: GoType.string },
  ...sharedCheckFields({ disableRedirectsAlias: true }),
])

/** The decoded fields of one check, before validation and defaults. Durations in ns. */
export interface CheckFields {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly notes: string
  readonly serviceId: string
  readonly token: string
  readonly args: readonly string[]
  readonly http: string
  readonly header: Readonly<Record<string, readonly string[]>>
  readonly method: string
  readonly body: string
  readonly disableRedirects: boolean
  readonly tcp: string
  readonly tcpUseTls: boolean
  readonly udp: string
  readonly grpc: string
  readonly grpcUseTls: boolean
  readonly h2ping: string
  readonly h2pingUseTls: boolean
  readonly tlsServerName: string
  readonly tlsSkipVerify: boolean
  readonly dockerContainerId: string
  readonly shell: string
  readonly osService: string
  readonly aliasNode: string
  readonly aliasService: string
  readonly intervalNs: number
  readonly timeoutNs: number
  readonly ttlNs: number
  readonly deregisterCriticalServiceAfterNs: number
  readonly successBeforePassing: number
  readonly failuresBeforeWarning: number
  readonly failuresBeforeCritical: number
  readonly outputMaxSize: number
}

/** Reads a decoded `CheckType` or `CheckDefinition` into `CheckFields`. */
export function readCheckFields(d: DecodedStruct): CheckFields {
  const standalone = d.schema === CHECK_DEFINITION_SCHEMA
  const h2ping = d.string('H2PING')
  const h2pingFlags = d.givenValues('H2PingUseTLS')
  return {
    id: d.string(standalone ? 'ID' : 'CheckID'),
    name: d.string('Name'),
    status: d.string('Status'),
    notes: d.string('Notes'),
    serviceId: standalone ? d.string('ServiceID') : '',
    token: d.string('Token'),
    args: d.stringList('ScriptArgs') ?? [],
    http: d.string('HTTP'),
    header: d.stringListMap('Header') ?? Object.freeze({}),
    method: d.string('Method'),
    body: d.string('Body'),
    disableRedirects: d.bool('DisableRedirects'),
    tcp: d.string('TCP'),
    tcpUseTls: d.bool('TCPUseTLS'),
    udp: d.string('UDP'),
    grpc: d.string('GRPC'),
    grpcUseTls: d.bool('GRPCUseTLS'),
    h2ping,
    // Consul: true by default when H2PING is set; an explicit false under either key wins.
    h2pingUseTls: h2ping !== '' ? !h2pingFlags.includes(false) : h2pingFlags.includes(true),
    tlsServerName: d.string('TLSServerName'),
    tlsSkipVerify: d.bool('TLSSkipVerify'),
    dockerContainerId: d.string('DockerContainerID'),
    shell: d.string('Shell'),
    osService: d.string('OSService'),
    aliasNode: d.string('AliasNode'),
    aliasService: d.string('AliasService'),
    intervalNs: d.durationNs('Interval'),
    timeoutNs: d.durationNs('Timeout'),
    ttlNs: d.durationNs('TTL'),
    deregisterCriticalServiceAfterNs: d.durationNs('DeregisterCriticalServiceAfter'),
    successBeforePassing: d.number('SuccessBeforePassing'),
    failuresBeforeWarning: d.number('FailuresBeforeWarning'),
    failuresBeforeCritical: d.number('FailuresBeforeCritical'),
    outputMaxSize: d.number('OutputMaxSize'),
  }
}

function isAlias(f: CheckFields): boolean {
  return f.aliasNode !== '' || f.aliasService !== ''
}

/** The probe targets a definition names; more than one is rejected. Docker = Args + container. */
function targets(f: CheckFields): string[] {
  const out: string[] = []
  if (f.http !== '') out.push('HTTP')
  if (f.tcp !== '') out.push('TCP')
  if (f.udp !== '') out.push('UDP')
  if (f.grpc !== '') out.push('GRPC')
  if (f.h2ping !== '') out.push('H2PING')
  if (f.args.length > 0) out.push('Args')
  if (f.osService !== '') out.push('OSService')
  if (isAlias(f)) out.push('AliasService/AliasNode')
  return out
}

/**
 * Consul's `CheckType.Validate()` in its order (checks.md §2), then vigil's rejection of
 * definitions that mix targets. Returns the reason, without the `Invalid check: ` prefix.
 */
export function checkTypeProblem(f: CheckFields): string | null {
  const intervalCheck =
    f.args.length > 0 ||
    f.http !== '' ||
    f.tcp !== '' ||
    f.udp !== '' ||
    f.grpc !== '' ||
    f.h2ping !== '' ||
    f.osService !== ''
  if (f.intervalNs > 0 && f.ttlNs > 0) return 'Interval and TTL cannot both be specified'
  if (intervalCheck && f.intervalNs <= 0) {
    return 'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks'
  }
  if (intervalCheck && isAlias(f)) return 'Interval cannot be set for Alias checks'
  if (isAlias(f) && f.ttlNs > 0) return 'TTL must be not be set for Alias checks'
  if (!intervalCheck && !isAlias(f) && f.ttlNs <= 0) return 'TTL must be > 0 for TTL checks'
  if (f.outputMaxSize < 0) return 'MaxOutputMaxSize must be positive'
  if (f.failuresBeforeWarning > f.failuresBeforeCritical) {
    return "FailuresBeforeWarning can't be higher than FailuresBeforeCritical"
  }
  const named = targets(f)
  if (named.length > 1) {
    return `only one of HTTP, TCP, UDP, GRPC, H2PING, Args, OSService or AliasService/AliasNode may be set, got ${named.join(', ')}`
  }
  return null
}

/** Throws `BadRequestError('Invalid check: <reason>')` when the definition is not a valid check. */
export function assertValidCheckType(f: CheckFields): void {
  const problem = checkTypeProblem(f)
  if (problem !== null) throw new BadRequestError(`Invalid check: ${problem}`)
}

/** The runner type of a validated definition (targets are exclusive by then). */
function checkType(f: CheckFields): CheckType {
  if (f.ttlNs > 0) return 'ttl'
  if (f.http !== '') return 'http'
  if (f.tcp !== '') return 'tcp'
  if (f.udp !== '') return 'udp'
  if (f.grpc !== '') return 'grpc'
  if (f.args.length > 0) return f.dockerContainerId !== '' ? 'docker' : 'script'
  if (f.osService !== '') return 'os_service'
  if (f.h2ping !== '') return 'h2ping'
  if (isAlias(f)) return 'alias'
  return ''
}

/** Script and Docker checks (anything with Args) need permission by origin (checks.md §2). */
export function assertScriptAllowed(f: CheckFields, ctx: NormalizeContext): void {
  if (f.args.length === 0) return
  if (ctx.origin === 'api' && !ctx.enableScriptChecks) throw new ScriptChecksDisabledError(true)
  if (ctx.origin === 'config' && !ctx.enableScriptChecks && !ctx.enableLocalScriptChecks) {
    throw new ScriptChecksDisabledError(false)
  }
}

/** The initial status of a check; `''` means the default, `critical`. Validate before calling. */
export function initialStatus(status: string): Status {
  return isStatus(status) ? status : 'critical'
}

const INTERVAL_TYPES: ReadonlySet<CheckType> = new Set([
  'http',
  'tcp',
  'udp',
  'grpc',
  'h2ping',
  'script',
  'docker',
  'os_service',
])
const LONG_TIMEOUT_TYPES: ReadonlySet<CheckType> = new Set(['script', 'docker', 'os_service'])

/** Where a check sits and what it is called; everything the definition itself does not carry. */
export interface CheckIdentity {
  readonly checkId: string
  readonly name: string
  readonly nodeName: string
  readonly serviceId: string
  readonly serviceName: string
  readonly serviceTags: readonly string[]
  readonly token: string
}

/**
 * Builds the frozen registration of a validated check: the record (initial status, Go duration
 * strings of the values as given) and the runner definition with Consul's defaults applied
 * (interval raised to 1 s, timeouts, HTTP method, FailuresBeforeWarning). Warnings are appended to
 * `warnings`, to be reported only once the whole registration is known to be valid.
 */
export function buildCheckRegistration(
  f: CheckFields,
  who: CheckIdentity,
  ctx: NormalizeContext,
  warnings: string[],
): CheckRegistration {
  const type = checkType(f)
  let intervalNs = f.intervalNs
  let timeoutNs = f.timeoutNs
  if (INTERVAL_TYPES.has(type)) {
    if (intervalNs < MIN_INTERVAL_NS) {
      warnings.push(
        `check ${JSON.stringify(who.checkId)} has interval ${formatGoDurationNs(intervalNs)} below minimum; using ${formatGoDurationNs(MIN_INTERVAL_NS)}`,
      )
      intervalNs = MIN_INTERVAL_NS
    }
    if (timeoutNs <= 0) timeoutNs = (LONG_TIMEOUT_TYPES.has(type) ? 30 : 10) * SECOND_NS
  }
  const definition: CheckDefinition = Object.freeze({
    type,
    intervalMs: intervalNs / NS_PER_MS,
    timeoutMs: timeoutNs / NS_PER_MS,
    ttlMs: f.ttlNs / NS_PER_MS,
    http: f.http,
    method: f.http !== '' && f.method === '' ? 'GET' : f.method,
    header: f.header,
    body: f.body,
    disableRedirects: f.disableRedirects,
    tcp: f.tcp,
    tcpUseTls: f.tcpUseTls,
    udp: f.udp,
    grpc: f.grpc,
    grpcUseTls: f.grpcUseTls,
    h2ping: f.h2ping,
    h2pingUseTls: f.h2pingUseTls,
    tlsServerName: f.tlsServerName,
    tlsSkipVerify: f.tlsSkipVerify,
    args: Object.freeze([...f.args]),
    dockerContainerId: f.dockerContainerId,
    shell: f.shell,
    osService: f.osService,
    aliasService: f.aliasService,
    aliasNode: f.aliasNode,
    successBeforePassing: f.successBeforePassing,
    failuresBeforeWarning: f.failuresBeforeWarning === 0 ? f.failuresBeforeCritical : f.failuresBeforeWarning,
    failuresBeforeCritical: f.failuresBeforeCritical,
    deregisterCriticalServiceAfterMs: f.deregisterCriticalServiceAfterNs / NS_PER_MS,
    outputMaxSize: f.outputMaxSize,
  })
  const check = Object.freeze({
    node: who.nodeName,
    checkId: who.checkId,
    name: who.name,
    status: initialStatus(f.status),
    notes: f.notes,
    output: '',
    serviceId: who.serviceId,
    serviceName: who.serviceName,
    serviceTags: who.serviceTags,
    type,
    interval: f.intervalNs !== 0 ? formatGoDurationNs(f.intervalNs) : '',
    timeout: f.timeoutNs !== 0 ? formatGoDurationNs(f.timeoutNs) : '',
    exposedPort: 0,
  })
  return Object.freeze({
    check,
    definition,
    token: who.token,
    source: ctx.origin === 'api' ? 'remote' : 'local',
  })
}
