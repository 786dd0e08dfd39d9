/**
 * What a `filter=` selector may name, per filtered element type: the fields go-bexpr derives
 * from the Go type Consul filters (bexpr:"-" fields left out), under their wire (PascalCase)
 * names. A new endpoint adds its element's schema here, built from the helpers below.
 */

/** A field schema so a selector can be validated at compile time, as go-bexpr does against the Go type. */
export type FieldSchema =
  | Readonly<{ kind: 'string' }>
  /** A Go integer (every numeric field Consul lets a filter name is one). */
  | Readonly<{ kind: 'number' }>
  | Readonly<{ kind: 'bool' }>
  | Readonly<{ kind: 'list'; of: FieldSchema }>
  /** A map with string keys: `Meta.env`, `Meta["env"]`, `"env" in Meta`. */
  | Readonly<{ kind: 'map'; of: FieldSchema }>
  | Readonly<{ kind: 'struct'; fields: Readonly<Record<string, FieldSchema>> }>

export const stringField: FieldSchema = Object.freeze({ kind: 'string' })
export const numberField: FieldSchema = Object.freeze({ kind: 'number' })
export const boolField: FieldSchema = Object.freeze({ kind: 'bool' })

export function listOf(of: FieldSchema): FieldSchema {
  return Object.freeze({ kind: 'list', of })
}

export function mapOf(of: FieldSchema): FieldSchema {
  return Object.freeze({ kind: 'map', of })
}

export function structOf(fields: Readonly<Record<string, FieldSchema>>): FieldSchema {
  return Object.freeze({ kind: 'struct', fields: Object.freeze({ ...fields }) })
}

function strings(...names: string[]): Record<string, FieldSchema> {
  return Object.fromEntries(names.map((name) => [name, stringField]))
}

/** api.ServiceAddress, a value of `TaggedAddresses`. */
export const serviceAddressSchema = structOf({ Address: stringField, Port: numberField })

/** api.MeshGatewayConfig. */
export const meshGatewaySchema = structOf({ Mode: stringField })

/** api.Upstream (Config and CentrallyConfigured are not filterable). */
export const upstreamSchema = structOf({
  ...strings(
    'DestinationType',
    'DestinationPartition',
    'DestinationNamespace',
    'DestinationPeer',
    'DestinationName',
    'Datacenter',
    'LocalBindAddress',
    'LocalBindSocketPath',
    'LocalBindSocketMode',
  ),
  LocalBindPort: numberField,
  MeshGateway: meshGatewaySchema,
})

/** api.ExposeConfig. */
export const exposeSchema = structOf({
  Checks: boolField,
  Paths: listOf(
    structOf({
      ListenerPort: numberField,
      Path: stringField,
      LocalPathPort: numberField,
      Protocol: stringField,
      ParsedFromCheck: boolField,
    }),
  ),
})

/** api.AgentServiceConnectProxyConfig (Config is not filterable). */
export const proxySchema = structOf({
  EnvoyExtensions: listOf(
    structOf({
      Name: stringField,
      Required: boolField,
      ConsulVersion: stringField,
      EnvoyVersion: stringField,
    }),
  ),
  ...strings(
    'DestinationServiceName',
    'DestinationServiceID',
    'LocalServiceAddress',
    'LocalServiceSocketPath',
    'Mode',
  ),
  LocalServicePort: numberField,
  TransparentProxy: structOf({ OutboundListenerPort: numberField, DialedDirectly: boolField }),
  Upstreams: listOf(upstreamSchema),
  MeshGateway: meshGatewaySchema,
  Expose: exposeSchema,
  AccessLogs: structOf({
    Enabled: boolField,
    DisableListenerLogs: boolField,
    ...strings('Type', 'Path', 'JSONFormat', 'TextFormat'),
  }),
})

/** The fields of a service as agents and the catalog show it (api.AgentService, structs.NodeService). */
function serviceFields(): Record<string, FieldSchema> {
  return {
    ...strings('Kind', 'ID', 'Service', 'Address', 'SocketPath', 'PeerName'),
    Tags: listOf(stringField),
    Meta: mapOf(stringField),
    Port: numberField,
    TaggedAddresses: mapOf(serviceAddressSchema),
    Weights: structOf({ Passing: numberField, Warning: numberField }),
    EnableTagOverride: boolField,
    Proxy: proxySchema,
    Connect: structOf({ Native: boolField }),
  }
}

/**
 * An element of `/v1/agent/services` (api.AgentService). Consul excludes `Datacenter` from
 * filtering; vigil allows it, since the field is in the JSON the filter runs on.
 */
export const agentServiceSchema = structOf({ ...serviceFields(), Datacenter: stringField })

/** An element of `/v1/agent/checks` and the health check lists (structs.HealthCheck; Definition is not filterable). */
export const healthCheckSchema = structOf({
  ...strings(
    'Node',
    'CheckID',
    'Name',
    'Status',
    'Notes',
    'Output',
    'ServiceID',
    'ServiceName',
    'Type',
    'Interval',
    'Timeout',
    'PeerName',
  ),
  ServiceTags: listOf(stringField),
  ExposedPort: numberField,
})

/** An element of `/v1/catalog/nodes` (structs.Node). */
export const nodeSchema = structOf({
  ...strings('ID', 'Node', 'Address', 'Datacenter', 'PeerName'),
  TaggedAddresses: mapOf(stringField),
  Meta: mapOf(stringField),
})

/**
 * A service as the catalog lists it under a node (structs.NodeService): `/v1/catalog/node/:node`
 * and `node-services` entries, and the `Service` of a health entry.
 */
export const nodeServiceSchema = structOf(serviceFields())

/** An element of `/v1/catalog/service/:name` and `connect/:name` (structs.ServiceNode). */
export const serviceNodeSchema = structOf({
  ...strings(
    'ID',
    'Node',
    'Address',
    'Datacenter',
    'ServiceKind',
    'ServiceID',
    'ServiceName',
    'ServiceAddress',
    'ServiceSocketPath',
    'PeerName',
  ),
  TaggedAddresses: mapOf(stringField),
  NodeMeta: mapOf(stringField),
  ServiceTags: listOf(stringField),
  ServiceMeta: mapOf(stringField),
  ServicePort: numberField,
  ServiceTaggedAddresses: mapOf(serviceAddressSchema),
  ServiceWeights: structOf({ Passing: numberField, Warning: numberField }),
  ServiceEnableTagOverride: boolField,
  ServiceProxy: proxySchema,
  ServiceConnect: structOf({ Native: boolField }),
})

/** An element of `/v1/health/service/:name` and `connect/:name` (structs.CheckServiceNode). */
export const checkServiceNodeSchema = structOf({
  Node: nodeSchema,
  Service: nodeServiceSchema,
  Checks: listOf(healthCheckSchema),
})
