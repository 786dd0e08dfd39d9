/**
 * The inverse of the normalizer: a record back to the definition that `normalize.ts` turns into
 * the same record. Persistence writes these definitions, so that restore decodes what it reads
 * through the one normalizer (the validation and defaults of an API registration).
 *
 * Contract: for every record the normalizer built, `normalizeServiceDefinition(serviceDefinitionOf
 * (s, t))` gives back `s` (with no checks) and token `t`, and `normalizeCheckDefinition(
 * checkDefinitionOf(r))` gives back `r` up to its initial status (a restored check's status comes
 * from its saved TTL state, or is critical) and the service name and tags the agent attaches.
 * Values left at the normalizer's defaults are omitted, so they stay defaults after a restore.
 */
import { formatGoDurationNs } from '../lib/duration.js'
import type { CheckRegistration } from './check.js'
import type { Service } from './service.js'

type Json = Record<string, unknown>

/** A `ServiceDefinition` (PascalCase, as `PUT /v1/agent/service/register` takes it) without checks. */
export function serviceDefinitionOf(s: Service, token: string): Json {
  const out: Json = { ID: s.id, Name: s.name }
  if (s.kind !== '') out['Kind'] = s.kind
  if (s.tags !== null) out['Tags'] = s.tags
  if (s.address !== '') out['Address'] = s.address
  const tagged = Object.entries(s.taggedAddresses)
  if (tagged.length > 0) {
    out['TaggedAddresses'] = Object.fromEntries(
      tagged.map(([k, v]) => [k, { Address: v.address, Port: v.port }]),
    )
  }
  if (Object.keys(s.meta).length > 0) out['Meta'] = s.meta
  if (s.port !== 0) out['Port'] = s.port
  if (s.socketPath !== '') out['SocketPath'] = s.socketPath
  out['Weights'] = { Passing: s.weights.passing, Warning: s.weights.warning }
  if (s.enableTagOverride) out['EnableTagOverride'] = true
  if (s.proxy !== null) {
    const p = s.proxy
    out['Proxy'] = {
      ...p.extra,
      DestinationServiceName: p.destinationServiceName,
      DestinationServiceID: p.destinationServiceId,
      LocalServiceAddress: p.localServiceAddress,
      LocalServicePort: p.localServicePort,
      Mode: p.mode,
      Config: p.config,
      Upstreams: p.upstreams,
    }
  }
  if (s.connectNative) out['Connect'] = { Native: true }
  if (token !== '') out['Token'] = token
  return out
}

/** A standalone `CheckDefinition` (as `PUT /v1/agent/check/register` takes it), without Status. */
export function checkDefinitionOf(reg: CheckRegistration): Json {
  const c = reg.check
  const d = reg.definition
  const out: Json = { ID: c.checkId, Name: c.name }
  const put = (key: string, value: unknown, unset: unknown): void => {
    if (value !== unset) out[key] = value
  }
  put('ServiceID', c.serviceId, '')
  put('Token', reg.token, '')
  put('Notes', c.notes, '')
  // The record keeps the interval and timeout as given; the definition has the defaults applied.
  if (c.interval !== '') out['Interval'] = c.interval
  else if (d.intervalMs > 0) out['Interval'] = goDuration(d.intervalMs)
  put('Timeout', c.timeout, '')
  if (d.ttlMs > 0) out['TTL'] = goDuration(d.ttlMs)
  put('HTTP', d.http, '')
  put('Method', d.method, '')
  if (Object.keys(d.header).length > 0) out['Header'] = d.header
  put('Body', d.body, '')
  put('DisableRedirects', d.disableRedirects, false)
  put('TCP', d.tcp, '')
  put('TCPUseTLS', d.tcpUseTls, false)
  put('UDP', d.udp, '')
  put('GRPC', d.grpc, '')
  put('GRPCUseTLS', d.grpcUseTls, false)
  put('H2PING', d.h2ping, '')
  if (d.h2ping !== '' || d.h2pingUseTls) out['H2PingUseTLS'] = d.h2pingUseTls
  put('TLSServerName', d.tlsServerName, '')
  put('TLSSkipVerify', d.tlsSkipVerify, false)
  if (d.args.length > 0) out['ScriptArgs'] = d.args
  put('DockerContainerID', d.dockerContainerId, '')
  put('Shell', d.shell, '')
  put('OSService', d.osService, '')
  put('AliasService', d.aliasService, '')
  put('AliasNode', d.aliasNode, '')
  put('SuccessBeforePassing', d.successBeforePassing, 0)
  put('FailuresBeforeWarning', d.failuresBeforeWarning, 0)
  put('FailuresBeforeCritical', d.failuresBeforeCritical, 0)
  if (d.deregisterCriticalServiceAfterMs > 0) {
    out['DeregisterCriticalServiceAfter'] = goDuration(d.deregisterCriticalServiceAfterMs)
  }
  put('OutputMaxSize', d.outputMaxSize, 0)
  return out
}

function goDuration(ms: number): string {
  return formatGoDurationNs(Math.round(ms * 1e6))
}
