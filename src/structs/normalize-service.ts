/**
 * Service definitions: the field tables of Consul's `ServiceDefinition` and the structs it nests
 * (`ConnectProxyConfig`, `Upstream`, `ServiceConnect`, …), and the validation and defaults of
 * agent-state.md §2 and http-api.md §9. Used through `normalize.ts`.
 */
import { isIPv4, isIPv6 } from 'node:net'
import { BadRequestError } from '../lib/errors.js'
import { setOwn } from '../lib/object.js'
import { isStatus, type CheckRegistration } from './check.js'
import { GoType, StructSchema, type DecodedStruct } from './go-json.js'
import {
  CHECK_TYPE_SCHEMA,
  assertScriptAllowed,
  assertValidCheckType,
  buildCheckRegistration,
  readCheckFields,
  type CheckFields,
} from './normalize-check.js'
import type { NormalizeContext } from './normalize.js'
import {
  isServiceKind,
  type ProxyConfig,
  type Service,
  type ServiceAddress,
  type ServiceKind,
  type ServiceRegistration,
  type Upstream,
  type Weights,
} from './service.js'

export const SERVICE_ADDRESS_SCHEMA = new StructSchema('ServiceAddress', 'structs.ServiceAddress', [
  { name: 'Address', type: GoType.string },
  { name: 'Port', type: GoType.int },
])

export const WEIGHTS_SCHEMA = new StructSchema('Weights', 'structs.Weights', [
  { name: 'Passing', type: GoType.int },
  { name: 'Warning', type: GoType.int },
])

const MESH_GATEWAY_SCHEMA = new StructSchema('MeshGatewayConfig', 'structs.MeshGatewayConfig', [
  { name: 'Mode', type: GoType.string },
])

/** Consul's `structs.Upstream`; stored by Go field name (see `readUpstream`). */
export const UPSTREAM_SCHEMA = new StructSchema('Upstream', 'structs.Upstream', [
  { name: 'DestinationType', type: GoType.string, aliases: ['destination_type'] },
  { name: 'DestinationNamespace', type: GoType.string, aliases: ['destination_namespace'] },
  { name: 'DestinationPartition', type: GoType.string, aliases: ['destination_partition'] },
  { name: 'DestinationPeer', type: GoType.string, aliases: ['destination_peer'] },
  { name: 'DestinationName', type: GoType.string, aliases: ['destination_name'] },
  { name: 'Datacenter', type: GoType.string },
  { name: 'LocalBindAddress', type: GoType.string, aliases: ['local_bind_address'] },
  { name: 'LocalBindPort', type: GoType.int, aliases: ['local_bind_port'] },
  { name: 'LocalBindSocketPath', type: GoType.string, aliases: ['local_bind_socket_path'] },
  { name: 'LocalBindSocketMode', type: GoType.string, aliases: ['local_bind_socket_mode'] },
  { name: 'Config', type: GoType.object },
  { name: 'MeshGateway', type: GoType.struct(() => MESH_GATEWAY_SCHEMA), aliases: ['mesh_gateway'] },
  { name: 'CentrallyConfigured', type: GoType.bool, aliases: ['centrally_configured'] },
])

/** Consul's `structs.ConnectProxyConfig` (`Proxy`). */
export const PROXY_SCHEMA = new StructSchema('ConnectProxyConfig', 'structs.ConnectProxyConfig', [
  { name: 'DestinationServiceName', type: GoType.string, aliases: ['destination_service_name'] },
  { name: 'DestinationServiceID', type: GoType.string, aliases: ['destination_service_id'] },
  { name: 'LocalServiceAddress', type: GoType.string, aliases: ['local_service_address'] },
  { name: 'LocalServicePort', type: GoType.int, aliases: ['local_service_port'] },
  { name: 'LocalServiceSocketPath', type: GoType.string, aliases: ['local_service_socket_path'] },
  { name: 'Mode', type: GoType.string },
  { name: 'Config', type: GoType.object },
  { name: 'Upstreams', type: GoType.structList(() => UPSTREAM_SCHEMA), goType: 'structs.Upstreams' },
  { name: 'MeshGateway', type: GoType.struct(() => MESH_GATEWAY_SCHEMA), aliases: ['mesh_gateway'] },
  { name: 'Expose', type: GoType.object },
  { name: 'TransparentProxy', type: GoType.object, aliases: ['transparent_proxy'] },
  { name: 'AccessLogs', type: GoType.object, aliases: ['access_logs'] },
  { name: 'EnvoyExtensions', type: GoType.raw, aliases: ['envoy_extensions'] },
  { name: 'MutualTLSMode', type: GoType.string, aliases: ['mutual_tls_mode'] },
])

/** Consul's `structs.ServiceConnect` (`Connect`). */
export const CONNECT_SCHEMA = new StructSchema('ServiceConnect', 'structs.ServiceConnect', [
  { name: 'Native', type: GoType.bool },
  {
    name: 'SidecarService',
    type: GoType.struct(() => SERVICE_DEFINITION_SCHEMA),
    aliases: ['sidecar_service'],
  },
])

const LOCALITY_SCHEMA = new StructSchema('Locality', 'structs.Locality', [
  { name: 'Region', type: GoType.string },
  { name: 'Zone', type: GoType.string },
])

/** Consul's `structs.ServiceDefinition` (`/v1/agent/service/register`, config `service`). */
export const SERVICE_DEFINITION_SCHEMA: StructSchema = new StructSchema(
  'ServiceDefinition',
  'structs.ServiceDefinition',
  [
    { name: 'Kind', type: GoType.string, goType: 'structs.ServiceKind' },
    { name: 'ID', type: GoType.string },
    { name: 'Name', type: GoType.string },
    { name: 'Tags', type: GoType.stringList },
    { name: 'Address', type: GoType.string },
    {
      name: 'TaggedAddresses',
      type: GoType.structMap(() => SERVICE_ADDRESS_SCHEMA),
      aliases: ['tagged_addresses'],
    },
    { name: 'Meta', type: GoType.stringMap },
    { name: 'Port', type: GoType.int },
    { name: 'SocketPath', type: GoType.string, lenientAliases: ['socket_path'] },
    { name: 'Check', type: GoType.struct(() => CHECK_TYPE_SCHEMA) },
    { name: 'Checks', type: GoType.structList(() => CHECK_TYPE_SCHEMA), goType: 'structs.CheckTypes' },
    { name: 'Weights', type: GoType.struct(() => WEIGHTS_SCHEMA), goType: '*structs.Weights' },
    { name: 'Token', type: GoType.string },
    { name: 'EnableTagOverride', type: GoType.bool, aliases: ['enable_tag_override'] },
    { name: 'Proxy', type: GoType.struct(() => PROXY_SCHEMA), goType: '*structs.ConnectProxyConfig' },
    { name: 'Connect', type: GoType.struct(() => CONNECT_SCHEMA), goType: '*structs.ServiceConnect' },
    { name: 'Locality', type: GoType.struct(() => LOCALITY_SCHEMA), goType: '*structs.Locality' },
  ],
)

const GATEWAY_KINDS: ReadonlySet<ServiceKind> = new Set<ServiceKind>([
  'mesh-gateway',
  'terminating-gateway',
  'ingress-gateway',
  'api-gateway',
])

const META_MAX_PAIRS = 64
const META_KEY_MAX_LENGTH = 128
const META_VALUE_MAX_LENGTH = 512
const META_RESERVED_PREFIX = 'consul-'
/** `consul-` keys a mesh gateway may set (Consul's allowedConsulMetaKeysForMeshGateway). */
const MESH_GATEWAY_META_KEYS: ReadonlySet<string> = new Set(['consul-wan-federation'])

/** Consul's `validateMetadata`; returns the problem text or null. */
function metaProblem(kind: ServiceKind, meta: Readonly<Record<string, string>>): string | null {
  const entries = Object.entries(meta)
  if (entries.length > META_MAX_PAIRS) {
    return `Node metadata cannot contain more than ${META_MAX_PAIRS} key/value pairs`
  }
  for (const [key, value] of entries) {
    const problem = metaPairProblem(kind, key, value)
    if (problem !== null) return `Couldn't load metadata pair ('${key}', '${value}'): ${problem}`
  }
  return null
}

function metaPairProblem(kind: ServiceKind, key: string, value: string): string | null {
  if (key === '') return 'Key cannot be blank'
  if (!/^[a-zA-Z0-9_-]+$/.test(key)) return 'Key contains invalid characters'
  if (key.length > META_KEY_MAX_LENGTH) return `Key is too long (limit: ${META_KEY_MAX_LENGTH} characters)`
  if (key.startsWith(META_RESERVED_PREFIX) && !(kind === 'mesh-gateway' && MESH_GATEWAY_META_KEYS.has(key))) {
    return `Key prefix '${META_RESERVED_PREFIX}' is reserved for internal use`
  }
  if (Buffer.byteLength(value, 'utf8') > META_VALUE_MAX_LENGTH) {
    return `Value is too long (limit: ${META_VALUE_MAX_LENGTH} characters)`
  }
  return null
}

/** Consul's `ValidateWeights`. */
function weightsProblem(w: Weights): string | null {
  if (w.passing < 1) return 'Passing must be greater than 0'
  if (w.warning < 0) return 'Warning must be greater or equal than 0'
  if (w.passing > 65535 || w.warning > 65535) return 'DNS Weight must be between 0 and 65535'
  return null
}

/** Consul's `ipaddr.IsAny`. */
function isAnyAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '[::]'
}

/** How Go's `net.ParseIP(a).To4()` classifies an address: IPv4 (incl. v4-mapped), IPv6, or neither. */
function ipFamily(address: string): 4 | 6 | null {
  if (isIPv4(address)) return 4
  if (!isIPv6(address) || address.includes('%')) return null
  const mapped = /^(?:0{0,4}:){0,4}(?:0{0,4}:)?:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return 4
  return 6
}

/** Go's `multierror` list format, as Consul's `Validation failed: …` bodies show it. */
function multiErrorText(errors: readonly string[]): string {
  if (errors.length === 1) return `1 error occurred:\n\t* ${errors[0] ?? ''}\n\n`
  return `${errors.length} errors occurred:\n\t${errors.map((e) => `* ${e}`).join('\n\t')}\n\n`
}

export interface ProxyFields {
  readonly proxy: ProxyConfig
  readonly localServiceSocketPath: string
}

/**
 * A decoded `Proxy` by its Go field names: the fields vigil reads, the rest kept as given in
 * `extra`. Agent definitions and catalog registrations read it alike.
 */
export function readProxy(d: DecodedStruct): ProxyFields {
  const extra: Record<string, unknown> = {}
  for (const name of [
    'LocalServiceSocketPath',
    'MeshGateway',
    'Expose',
    'TransparentProxy',
    'AccessLogs',
    'EnvoyExtensions',
    'MutualTLSMode',
  ]) {
    if (!d.has(name)) continue
    const field = d.schema.field(name)
    const value = field.type.kind === 'struct' ? (d.struct(name)?.raw ?? null) : readAny(d, name)
    setOwn(extra, name, value)
  }
  const upstreams = (d.structList('Upstreams') ?? []).map((u) => readUpstream(u))
  return {
    proxy: Object.freeze({
      destinationServiceName: d.string('DestinationServiceName'),
      destinationServiceId: d.string('DestinationServiceID'),
      localServiceAddress: d.string('LocalServiceAddress'),
      localServicePort: d.number('LocalServicePort'),
      mode: d.string('Mode'),
      config: (d.json('Config') ?? Object.freeze({})) as Readonly<Record<string, unknown>>,
      upstreams: Object.freeze(upstreams),
      extra: Object.freeze(extra),
    }),
    localServiceSocketPath: d.string('LocalServiceSocketPath'),
  }
}

function readAny(d: DecodedStruct, name: string): unknown {
  switch (d.schema.field(name).type.kind) {
    case 'string':
      return d.string(name)
    case 'bool':
      return d.bool(name)
    case 'int':
    case 'uint':
    case 'float':
      return d.number(name)
    default:
      return d.json(name)
  }
}

/**
 * An upstream is kept as a record of the fields given, by Go field name, with `DestinationType`
 * defaulted to `service` as Consul does; `MeshGateway` keeps its object as given.
 */
function readUpstream(u: DecodedStruct | null): Upstream {
  const out: Record<string, unknown> = {}
  if (u !== null) {
    for (const field of u.schema.fields) {
      if (!u.has(field.name)) continue
      const value =
        field.type.kind === 'struct' ? (u.struct(field.name)?.raw ?? null) : readAny(u, field.name)
      setOwn(out, field.name, value)
    }
  }
  if (typeof out['DestinationType'] !== 'string' || out['DestinationType'] === '') {
    setOwn(out, 'DestinationType', 'service')
  }
  return Object.freeze(out)
}

/** Consul's `NodeService.Validate()` (connect-proxy, gateways, sidecar, native); all problems. */
function validationProblems(
  kind: ServiceKind,
  port: number,
  socketPath: string,
  native: boolean,
  proxy: ProxyFields | null,
  sidecar: DecodedStruct | null,
): string[] {
  const problems: string[] = []
  if (kind === 'connect-proxy') {
    if (port === 0 && socketPath === '') problems.push(`Port or SocketPath must be set for a ${kind}`)
    const dest = proxy?.proxy.destinationServiceName ?? ''
    if (dest.trim() === '') {
      problems.push('Proxy.DestinationServiceName must be non-empty for Connect proxy services')
    }
    if (dest === '*') {
      problems.push('Proxy.DestinationServiceName must not be a wildcard for Connect proxy services')
    }
    if (native) problems.push('A Proxy cannot also be Connect Native, only typical services')
  }
  if (GATEWAY_KINDS.has(kind)) {
    if (port === 0 && kind !== 'ingress-gateway' && kind !== 'api-gateway') {
      problems.push(`Port must be non-zero for a ${kind}`)
    }
    if (sidecar !== null) problems.push(`A ${kind} cannot have a sidecar service defined`)
    const invalid = (field: string): void => {
      problems.push(`The Proxy.${field} configuration is invalid for a ${kind}`)
    }
    if (proxy !== null) {
      const given = proxy.proxy
      if (given.destinationServiceName !== '') invalid('DestinationServiceName')
      if (given.destinationServiceId !== '') invalid('DestinationServiceID')
      if (given.localServiceAddress !== '') invalid('LocalServiceAddress')
      if (given.localServicePort !== 0) invalid('LocalServicePort')
      if (proxy.localServiceSocketPath !== '') invalid('LocalServiceSocketPath')
      if (given.upstreams.length !== 0) invalid('Upstreams')
    }
  }
  if (sidecar !== null) {
    if (sidecar.string('ID') !== '') {
      problems.push('A SidecarService cannot specify an ID as this is managed by the agent')
    }
    if (sidecar.struct('Connect')?.struct('SidecarService') != null) {
      problems.push('A SidecarService cannot have a nested SidecarService')
    }
  }
  if (native && port === 0 && socketPath === '') {
    problems.push('Port or SocketPath must be set for a Connect native service.')
  }
  return problems
}

/** Consul's DNS label rules (`dns.InvalidNameRe`, `MaxLabelLength`). */
function dnsWarning(name: string): string | null {
  if (/[^A-Za-z0-9-]/.test(name)) {
    return `Service name ${JSON.stringify(name)} will not be discoverable via DNS due to invalid characters. Valid characters include all alpha-numerics and dashes.`
  }
  if (Buffer.byteLength(name, 'utf8') > 63) {
    return `Service name ${JSON.stringify(name)} will not be discoverable via DNS due to it being too long. Valid lengths are between 1 and 63 bytes.`
  }
  return null
}

/**
 * Validates a decoded `ServiceDefinition` in Consul's order and builds its frozen registration.
 * Warnings are appended to `warnings` (reported by the caller once everything is valid).
 */
export function buildServiceRegistration(
  d: DecodedStruct,
  ctx: NormalizeContext,
  warnings: string[],
): ServiceRegistration {
  const name = d.string('Name')
  if (name === '')
    throw new BadRequestError(ctx.origin === 'api' ? 'Missing service name' : 'Service name missing')
  const address = d.string('Address')
  if (isAnyAddress(address)) throw new BadRequestError('Invalid service address')

  const weightsGiven = d.struct('Weights')
  const weights: Weights = Object.freeze(
    weightsGiven === null
      ? { passing: 1, warning: 1 }
      : { passing: weightsGiven.number('Passing'), warning: weightsGiven.number('Warning') },
  )
  const weightsError = weightsGiven === null ? null : weightsProblem(weights)
  if (weightsError !== null) throw new BadRequestError(`Invalid Weights: ${weightsError}`)

  const kindText = d.string('Kind')
  if (!isServiceKind(kindText)) throw new BadRequestError(`Invalid service kind: ${JSON.stringify(kindText)}`)
  const kind = kindText

  const meta = d.stringMap('Meta') ?? Object.freeze({})
  const metaError = metaProblem(kind, meta)
  if (metaError !== null) throw new BadRequestError(`Invalid Service Meta: ${metaError}`)

  const port = d.number('Port')
  const socketPath = d.string('SocketPath')
  const connect = d.struct('Connect')
  const native = connect?.bool('Native') ?? false
  const sidecar = connect?.struct('SidecarService') ?? null
  const proxyStruct = d.struct('Proxy')
  const proxy = proxyStruct === null ? null : readProxy(proxyStruct)
  const problems = validationProblems(kind, port, socketPath, native, proxy, sidecar)
  if (problems.length > 0) throw new BadRequestError(`Validation failed: ${multiErrorText(problems)}`)

  const checkDefs: CheckFields[] = []
  const single = d.struct('Check')
  if (single !== null && !single.isEmpty()) checkDefs.push(readCheckFields(single))
  for (const c of d.structList('Checks') ?? []) {
    if (c !== null && !c.isEmpty()) checkDefs.push(readCheckFields(c))
  }
  for (const f of checkDefs) assertValidCheckType(f)
  for (const f of checkDefs) {
    if (f.status !== '' && !isStatus(f.status)) {
      throw new BadRequestError("Status for checks must 'passing', 'warning', 'critical'")
    }
  }

  const taggedAddresses = buildTaggedAddresses(d, address, port)
  for (const f of checkDefs) assertScriptAllowed(f, ctx)

  const id = d.string('ID') !== '' ? d.string('ID') : name
  const tags = d.stringList('Tags')
  const service: Service = Object.freeze({
    id,
    name,
    tags,
    address,
    port,
    socketPath,
    taggedAddresses,
    meta,
    weights,
    enableTagOverride: d.bool('EnableTagOverride'),
    kind,
    proxy: proxy?.proxy ?? null,
    connectNative: native,
    locallyRegisteredAsSidecar: false,
  })

  const token = d.string('Token')
  const serviceTags = tags ?? Object.freeze([])
  const checks: CheckRegistration[] = checkDefs.map((f, i) =>
    buildCheckRegistration(
      f,
      {
        checkId: f.id !== '' ? f.id : checkDefs.length > 1 ? `service:${id}:${i + 1}` : `service:${id}`,
        name: f.name !== '' ? f.name : `Service '${name}' check`,
        nodeName: ctx.nodeName,
        serviceId: id,
        serviceName: name,
        serviceTags,
        token,
      },
      ctx,
      warnings,
    ),
  )

  const dns = dnsWarning(name)
  if (dns !== null) warnings.unshift(dns)

  return Object.freeze({
    service,
    checks: Object.freeze(checks),
    sidecar: null,
    sidecarService: sidecar?.raw ?? null,
    token,
    source: ctx.origin === 'api' ? 'remote' : 'local',
  })
}

const AUTO_TAGGED: readonly { key: string; family: 4 | 6 }[] = [
  { key: 'lan_ipv4', family: 4 },
  { key: 'wan_ipv4', family: 4 },
  { key: 'lan_ipv6', family: 6 },
  { key: 'wan_ipv6', family: 6 },
]

/**
 * The given tagged addresses plus, for an IP service address, `lan_ipv4`/`wan_ipv4` (or the
 * `_ipv6` pair) unless given. Given `lan_ipv4`/`wan_ipv4` must be IPv4 and `lan_ipv6` IPv6
 * (Consul checks exactly these three).
 */
function buildTaggedAddresses(
  d: DecodedStruct,
  address: string,
  port: number,
): Readonly<Record<string, ServiceAddress>> {
  const out: Record<string, ServiceAddress> = {}
  for (const [key, value] of d.structMap('TaggedAddresses') ?? new Map<string, DecodedStruct>()) {
    setOwn(out, key, Object.freeze({ address: value.string('Address'), port: value.number('Port') }))
  }
  for (const [key, family] of [
    ['lan_ipv4', 4],
    ['wan_ipv4', 4],
    ['lan_ipv6', 6],
  ] as const) {
    const given = out[key]
    if (given !== undefined && ipFamily(given.address) !== family) {
      throw new BadRequestError(`Service tagged address "${key}" must be a valid ipv${family} address`)
    }
  }
  const family = ipFamily(address)
  for (const auto of AUTO_TAGGED) {
    if (auto.family === family && !Object.hasOwn(out, auto.key)) {
      setOwn(out, auto.key, Object.freeze({ address, port }))
    }
  }
  return Object.freeze(out)
}
