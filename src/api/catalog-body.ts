/**
 * Bodies of `PUT /v1/catalog/register` and `/v1/catalog/deregister` (Consul's
 * `structs.RegisterRequest`, `structs.DeregisterRequest`), decoded like Go's encoding/json with
 * unknown fields refused (http-api.md §2), into the catalog's requests. Consul's own defaults and
 * refusals (ID from name, check status, missing node, …) are the write planner's, not here.
 */
import type { CatalogCheckInput, DeregisterRequest, RegisterRequest } from '../catalog/types.js'
import { BadRequestError } from '../lib/errors.js'
import { setOwn } from '../lib/object.js'
import {
  EMPTY_DEFINITION,
  isCheckType,
  isStatus,
  type CheckDefinition,
  type CheckType,
} from '../structs/check.js'
import { GoType, StructSchema, decodeJsonBody, decodeStruct, type DecodedStruct } from '../structs/go-json.js'
import {
  CONNECT_SCHEMA,
  PROXY_SCHEMA,
  readProxy,
  SERVICE_ADDRESS_SCHEMA,
  WEIGHTS_SCHEMA,
} from '../structs/normalize-service.js'
import { isServiceKind, type Service, type ServiceAddress } from '../structs/service.js'

const NS_PER_MS = 1e6

const RAFT_INDEX_FIELDS = [
  { name: 'CreateIndex', type: GoType.uint, goType: 'uint64' },
  { name: 'ModifyIndex', type: GoType.uint, goType: 'uint64' },
] as const

/** Consul's `structs.HealthCheckDefinition`. */
const HEALTH_CHECK_DEFINITION_SCHEMA = new StructSchema(
  'HealthCheckDefinition',
  'structs.HealthCheckDefinition',
  [
    { name: 'HTTP', type: GoType.string },
    { name: 'TLSServerName', type: GoType.string },
    { name: 'TLSSkipVerify', type: GoType.bool },
    { name: 'Header', type: GoType.stringListMap },
    { name: 'Method', type: GoType.string },
    { name: 'Body', type: GoType.string },
    { name: 'DisableRedirects', type: GoType.bool },
    { name: 'TCP', type: GoType.string },
    { name: 'TCPUseTLS', type: GoType.bool },
    { name: 'UDP', type: GoType.string },
    { name: 'H2PING', type: GoType.string },
    { name: 'H2PingUseTLS', type: GoType.bool },
    { name: 'OSService', type: GoType.string },
    { name: 'Interval', type: GoType.duration },
    { name: 'OutputMaxSize', type: GoType.uint },
    { name: 'Timeout', type: GoType.duration },
    { name: 'DeregisterCriticalServiceAfter', type: GoType.duration },
    { name: 'ScriptArgs', type: GoType.stringList },
    { name: 'DockerContainerID', type: GoType.string },
    { name: 'Shell', type: GoType.string },
    { name: 'GRPC', type: GoType.string },
    { name: 'GRPCUseTLS', type: GoType.bool },
    { name: 'AliasNode', type: GoType.string },
    { name: 'AliasService', type: GoType.string },
    { name: 'TTL', type: GoType.duration },
  ],
)

/** Consul's `structs.HealthCheck`. */
const HEALTH_CHECK_SCHEMA = new StructSchema('HealthCheck', 'structs.HealthCheck', [
  { name: 'Node', type: GoType.string },
  { name: 'CheckID', type: GoType.string, goType: 'types.CheckID' },
  { name: 'Name', type: GoType.string },
  { name: 'Status', type: GoType.string },
  { name: 'Notes', type: GoType.string },
  { name: 'Output', type: GoType.string },
  { name: 'ServiceID', type: GoType.string },
  { name: 'ServiceName', type: GoType.string },
  { name: 'ServiceTags', type: GoType.stringList },
  { name: 'Type', type: GoType.string },
  { name: 'Interval', type: GoType.string },
  { name: 'Timeout', type: GoType.string },
  { name: 'ExposedPort', type: GoType.int },
  { name: 'Definition', type: GoType.struct(() => HEALTH_CHECK_DEFINITION_SCHEMA) },
  { name: 'PeerName', type: GoType.string },
  ...RAFT_INDEX_FIELDS,
])

/** Consul's `structs.NodeService`. */
const NODE_SERVICE_SCHEMA = new StructSchema('NodeService', 'structs.NodeService', [
  { name: 'Kind', type: GoType.string, goType: 'structs.ServiceKind' },
  { name: 'ID', type: GoType.string },
  { name: 'Service', type: GoType.string },
  { name: 'Tags', type: GoType.stringList },
  { name: 'Address', type: GoType.string },
  { name: 'TaggedAddresses', type: GoType.structMap(() => SERVICE_ADDRESS_SCHEMA) },
  { name: 'Meta', type: GoType.stringMap },
  { name: 'Port', type: GoType.int },
  { name: 'SocketPath', type: GoType.string },
  { name: 'Weights', type: GoType.struct(() => WEIGHTS_SCHEMA), goType: '*structs.Weights' },
  { name: 'EnableTagOverride', type: GoType.bool },
  { name: 'Proxy', type: GoType.struct(() => PROXY_SCHEMA), goType: 'structs.ConnectProxyConfig' },
  { name: 'Connect', type: GoType.struct(() => CONNECT_SCHEMA), goType: 'structs.ServiceConnect' },
  { name: 'PeerName', type: GoType.string },
  { name: 'Locality', type: GoType.object },
  ...RAFT_INDEX_FIELDS,
])

const REGISTER_REQUEST_SCHEMA = new StructSchema('RegisterRequest', 'structs.RegisterRequest', [
  { name: 'Datacenter', type: GoType.string },
  { name: 'ID', type: GoType.string, goType: 'types.NodeID' },
  { name: 'Node', type: GoType.string },
  { name: 'Address', type: GoType.string },
  { name: 'TaggedAddresses', type: GoType.stringMap },
  { name: 'NodeMeta', type: GoType.stringMap },
  { name: 'Service', type: GoType.struct(() => NODE_SERVICE_SCHEMA), goType: '*structs.NodeService' },
  { name: 'Check', type: GoType.struct(() => HEALTH_CHECK_SCHEMA), goType: '*structs.HealthCheck' },
  { name: 'Checks', type: GoType.structList(() => HEALTH_CHECK_SCHEMA), goType: 'structs.HealthChecks' },
  { name: 'SkipNodeUpdate', type: GoType.bool },
  { name: 'PeerName', type: GoType.string },
  { name: 'Locality', type: GoType.object },
  { name: 'Token', type: GoType.string },
])

const DEREGISTER_REQUEST_SCHEMA = new StructSchema('DeregisterRequest', 'structs.DeregisterRequest', [
  { name: 'Datacenter', type: GoType.string },
  { name: 'Node', type: GoType.string },
  { name: 'ServiceID', type: GoType.string },
  { name: 'CheckID', type: GoType.string, goType: 'types.CheckID' },
  { name: 'PeerName', type: GoType.string },
  { name: 'Token', type: GoType.string },
])

/** The request's datacenter ('' when none) and the register request. */
export function decodeCatalogRegister(body: string): { datacenter: string; request: RegisterRequest } {
  const d = decodeStruct(decodeJsonBody(body), REGISTER_REQUEST_SCHEMA)
  const checks: CatalogCheckInput[] = []
  const single = d.struct('Check')
  if (single !== null) checks.push(readCheck(single))
  for (const c of d.structList('Checks') ?? []) if (c !== null) checks.push(readCheck(c))
  const service = d.struct('Service')
  const datacenter = d.string('Datacenter')
  return {
    datacenter,
    request: Object.freeze({
      id: d.string('ID'),
      node: d.string('Node'),
      address: d.string('Address'),
      datacenter,
      taggedAddresses: d.stringMap('TaggedAddresses') ?? Object.freeze({}),
      nodeMeta: d.stringMap('NodeMeta') ?? Object.freeze({}),
      service: service === null ? null : readService(service),
      checks: Object.freeze(checks),
      skipNodeUpdate: d.bool('SkipNodeUpdate'),
    }),
  }
}

export function decodeCatalogDeregister(body: string): { datacenter: string; request: DeregisterRequest } {
  const d = decodeStruct(decodeJsonBody(body), DEREGISTER_REQUEST_SCHEMA)
  return {
    datacenter: d.string('Datacenter'),
    request: Object.freeze({
      node: d.string('Node'),
      serviceId: d.string('ServiceID'),
      checkId: d.string('CheckID'),
    }),
  }
}

function readService(d: DecodedStruct): Service {
  const kind = d.string('Kind')
  if (!isServiceKind(kind)) throw new BadRequestError(`Invalid service kind: ${JSON.stringify(kind)}`)
  const tagged: Record<string, ServiceAddress> = {}
  for (const [k, v] of d.structMap('TaggedAddresses') ?? new Map<string, DecodedStruct>()) {
    setOwn(tagged, k, Object.freeze({ address: v.string('Address'), port: v.number('Port') }))
  }
  const weights = d.struct('Weights')
  const proxy = d.struct('Proxy')
  // Fields in sorted order: the catalog's row encoding (catalog/keys.ts `encodeRow`) keeps the
  // service as it is instead of copying it.
  return Object.freeze({
    address: d.string('Address'),
    connectNative: d.struct('Connect')?.bool('Native') ?? false,
    enableTagOverride: d.bool('EnableTagOverride'),
    id: d.string('ID'),
    kind,
    locallyRegisteredAsSidecar: false,
    meta: d.stringMap('Meta') ?? Object.freeze({}),
    name: d.string('Service'),
    port: d.number('Port'),
    proxy: proxy === null || proxy.isEmpty() ? null : readProxy(proxy).proxy,
    socketPath: d.string('SocketPath'),
    taggedAddresses: Object.freeze(tagged),
    tags: d.stringList('Tags'),
    weights: Object.freeze(
      weights === null
        ? { passing: 1, warning: 1 }
        : { passing: weights.number('Passing'), warning: weights.number('Warning') },
    ),
  })
}

function readCheck(d: DecodedStruct): CatalogCheckInput {
  const status = d.string('Status')
  if (status !== '' && !isStatus(status)) throw new BadRequestError(`Invalid check status: '${status}'`)
  const def = d.struct('Definition')
  const definition = def === null ? EMPTY_DEFINITION : readDefinition(def, d.string('Type'))
  return Object.freeze({
    node: d.string('Node'),
    checkId: d.string('CheckID'),
    name: d.string('Name'),
    status,
    notes: d.string('Notes'),
    output: d.string('Output'),
    serviceId: d.string('ServiceID'),
    definition,
  })
}

function readDefinition(d: DecodedStruct, givenType: string): CheckDefinition {
  const fields = {
    intervalMs: d.durationNs('Interval') / NS_PER_MS,
    timeoutMs: d.durationNs('Timeout') / NS_PER_MS,
    ttlMs: d.durationNs('TTL') / NS_PER_MS,
    http: d.string('HTTP'),
    method: d.string('Method'),
    header: d.stringListMap('Header') ?? Object.freeze({}),
    body: d.string('Body'),
    disableRedirects: d.bool('DisableRedirects'),
    tcp: d.string('TCP'),
    tcpUseTls: d.bool('TCPUseTLS'),
    udp: d.string('UDP'),
    grpc: d.string('GRPC'),
    grpcUseTls: d.bool('GRPCUseTLS'),
    h2ping: d.string('H2PING'),
    h2pingUseTls: d.bool('H2PingUseTLS'),
    tlsServerName: d.string('TLSServerName'),
    tlsSkipVerify: d.bool('TLSSkipVerify'),
    args: d.stringList('ScriptArgs') ?? Object.freeze([]),
    dockerContainerId: d.string('DockerContainerID'),
    shell: d.string('Shell'),
    osService: d.string('OSService'),
    aliasService: d.string('AliasService'),
    aliasNode: d.string('AliasNode'),
    deregisterCriticalServiceAfterMs: d.durationNs('DeregisterCriticalServiceAfter') / NS_PER_MS,
    outputMaxSize: d.number('OutputMaxSize'),
  }
  const type = givenType !== '' && isCheckType(givenType) ? givenType : derivedType(fields)
  return Object.freeze({ ...EMPTY_DEFINITION, ...fields, type })
}

/** Consul's `CheckType.Type()` over a catalog check's definition. */
function derivedType(
  f: Omit<
    CheckDefinition,
    'type' | 'successBeforePassing' | 'failuresBeforeWarning' | 'failuresBeforeCritical'
  >,
): CheckType {
  const interval = f.intervalMs > 0
  if (f.grpc !== '' && interval) return 'grpc'
  if (f.http !== '' && interval) return 'http'
  if (f.ttlMs > 0) return 'ttl'
  if (f.tcp !== '' && interval) return 'tcp'
  if (f.udp !== '' && interval) return 'udp'
  if (f.aliasService !== '') return 'alias'
  if (f.dockerContainerId !== '' && interval) return 'docker'
  if (f.args.length > 0 && interval) return 'script'
  if (f.h2ping !== '' && interval) return 'h2ping'
  if (f.osService !== '' && interval) return 'os_service'
  return ''
}
