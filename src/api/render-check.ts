import { formatGoDurationMs } from '../lib/duration.js'
import type { CheckDefinition, HealthCheck } from '../structs/check.js'
import { goMap } from './json.js'
import type { WireObject } from './render-service.js'

/** A check entry as the renderers need it (LocalState's `CheckEntry` satisfies it). */
export type RenderableCheck = Readonly<{ check: HealthCheck; definition: CheckDefinition }>

/**
 * A check as `/v1/agent/checks` returns it (Consul's `structs.HealthCheck`, http-api.md §14):
 * agent-local indexes are 0, and `Definition` holds only its non-empty fields.
 */
export function renderHealthCheck(entry: RenderableCheck): WireObject {
  return {
    ...checkHead(entry.check),
    Type: entry.check.type,
    Interval: entry.check.interval,
    Timeout: entry.check.timeout,
    ExposedPort: entry.check.exposedPort,
    Definition: compactDefinition(entry.definition),
    CreateIndex: 0,
    ModifyIndex: 0,
  }
}

/**
 * A check as the agent health endpoints return it (Consul's `api.HealthCheck`): no top-level
 * `Interval`/`Timeout`, and a `Definition` that always carries every field of the API's
 * definition type, with `Interval`, `Timeout` and `DeregisterCriticalServiceAfter` as duration
 * strings (`"0s"` when unset).
 */
export function renderApiHealthCheck(entry: RenderableCheck): WireObject {
  const d = entry.definition
  return {
    ...checkHead(entry.check),
    Type: entry.check.type,
    ExposedPort: entry.check.exposedPort,
    Definition: {
      Interval: formatGoDurationMs(d.intervalMs),
      Timeout: formatGoDurationMs(d.timeoutMs),
      DeregisterCriticalServiceAfter: formatGoDurationMs(d.deregisterCriticalServiceAfterMs),
      HTTP: d.http,
      Header: Object.keys(d.header).length > 0 ? headerMap(d.header) : null,
      Method: d.method,
      Body: d.body,
      TLSServerName: d.tlsServerName,
      TLSSkipVerify: d.tlsSkipVerify,
      TCP: d.tcp,
      TCPUseTLS: d.tcpUseTls,
      UDP: d.udp,
      GRPC: d.grpc,
      OSService: d.osService,
      GRPCUseTLS: d.grpcUseTls,
    },
    CreateIndex: 0,
    ModifyIndex: 0,
  }
}

function checkHead(c: HealthCheck): WireObject {
  return {
    Node: c.node,
    CheckID: c.checkId,
    Name: c.name,
    Status: c.status,
    Notes: c.notes,
    Output: c.output,
    ServiceID: c.serviceId,
    ServiceName: c.serviceName,
    ServiceTags: [...c.serviceTags],
  }
}

/** Consul's `HealthCheckDefinition.MarshalJSON`: durations first as strings, then the rest, all omitempty. */
function compactDefinition(d: CheckDefinition): WireObject {
  const fields: [string, unknown][] = [
    ['Interval', d.intervalMs > 0 ? formatGoDurationMs(d.intervalMs) : ''],
    ['OutputMaxSize', d.outputMaxSize],
    ['Timeout', d.timeoutMs > 0 ? formatGoDurationMs(d.timeoutMs) : ''],
    [
      'DeregisterCriticalServiceAfter',
      d.deregisterCriticalServiceAfterMs > 0 ? formatGoDurationMs(d.deregisterCriticalServiceAfterMs) : '',
    ],
    ['HTTP', d.http],
    ['TLSServerName', d.tlsServerName],
    ['TLSSkipVerify', d.tlsSkipVerify],
    ['Header', Object.keys(d.header).length > 0 ? headerMap(d.header) : null],
    ['Method', d.method],
    ['Body', d.body],
    ['DisableRedirects', d.disableRedirects],
    ['TCP', d.tcp],
    ['TCPUseTLS', d.tcpUseTls],
    ['UDP', d.udp],
    ['H2PING', d.h2ping],
    ['OSService', d.osService],
    ['H2PingUseTLS', d.h2ping !== '' && d.h2pingUseTls],
    ['ScriptArgs', d.args.length > 0 ? [...d.args] : null],
    ['DockerContainerID', d.dockerContainerId],
    ['Shell', d.shell],
    ['GRPC', d.grpc],
    ['GRPCUseTLS', d.grpcUseTls],
    ['AliasNode', d.aliasNode],
    ['AliasService', d.aliasService],
    ['TTL', d.ttlMs > 0 ? Math.round(d.ttlMs * 1e6) : 0],
  ]
  const out: WireObject = {}
  for (const [k, v] of fields) {
    if (v !== '' && v !== 0 && v !== false && v !== null) out[k] = v
  }
  return out
}

function headerMap(header: Readonly<Record<string, readonly string[]>>): Record<string, string[]> {
  return goMap(Object.entries(header).map(([k, v]): [string, string[]] => [k, [...v]]))
}
