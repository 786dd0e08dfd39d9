/**
 * Turns a service definition as written in a file (snake_case, PascalCase or any case, as the
 * agent's config loader accepts them) into the PascalCase body of
 * `PUT /v1/agent/service/register`, as `consul services register FILE` sends it. Map-valued
 * fields (`meta`, `header`, proxy `config`, tagged address names) keep their keys.
 */

type Json = unknown

/** Lower-cased key without underscores → wire name, for service definitions. */
const SERVICE_KEYS: Readonly<Record<string, string>> = {
  kind: 'Kind',
  id: 'ID',
  name: 'Name',
  tags: 'Tags',
  address: 'Address',
  taggedaddresses: 'TaggedAddresses',
  meta: 'Meta',
  port: 'Port',
  socketpath: 'SocketPath',
  check: 'Check',
  checks: 'Checks',
  token: 'Token',
  weights: 'Weights',
  enabletagoverride: 'EnableTagOverride',
  proxy: 'Proxy',
  connect: 'Connect',
  namespace: 'Namespace',
  partition: 'Partition',
  locality: 'Locality',
}

const CHECK_KEYS: Readonly<Record<string, string>> = {
  id: 'CheckID',
  checkid: 'CheckID',
  name: 'Name',
  notes: 'Notes',
  status: 'Status',
  serviceid: 'ServiceID',
  token: 'Token',
  args: 'Args',
  scriptargs: 'Args',
  http: 'HTTP',
  header: 'Header',
  method: 'Method',
  body: 'Body',
  disableredirects: 'DisableRedirects',
  tcp: 'TCP',
  tcpusetls: 'TCPUseTLS',
  udp: 'UDP',
  grpc: 'GRPC',
  grpcusetls: 'GRPCUseTLS',
  h2ping: 'H2PING',
  h2pingusetls: 'H2PingUseTLS',
  osservice: 'OSService',
  tlsservername: 'TLSServerName',
  tlsskipverify: 'TLSSkipVerify',
  aliasnode: 'AliasNode',
  aliasservice: 'AliasService',
  dockercontainerid: 'DockerContainerID',
  shell: 'Shell',
  interval: 'Interval',
  timeout: 'Timeout',
  ttl: 'TTL',
  successbeforepassing: 'SuccessBeforePassing',
  failuresbeforewarning: 'FailuresBeforeWarning',
  failuresbeforecritical: 'FailuresBeforeCritical',
  deregistercriticalserviceafter: 'DeregisterCriticalServiceAfter',
  outputmaxsize: 'OutputMaxSize',
}

/** Keys whose value is a map with user-chosen keys, kept verbatim. */
const VERBATIM = new Set(['Meta', 'Header', 'Config'])

/** Go-style acronyms for generic snake_case → PascalCase conversion (proxy fields…). */
const ACRONYMS: Readonly<Record<string, string>> = {
  id: 'ID',
  http: 'HTTP',
  tcp: 'TCP',
  udp: 'UDP',
  grpc: 'GRPC',
  tls: 'TLS',
  ttl: 'TTL',
  ip: 'IP',
  dns: 'DNS',
}

/** The register body for one definition. Unknown keys are passed on for the agent to judge. */
export function toServiceRegistrationBody(def: Json): Record<string, Json> {
  return convertObject(def, SERVICE_KEYS, serviceValue)
}

function serviceValue(wire: string, value: Json): Json {
  switch (wire) {
    case 'Check':
      return toCheckBody(value)
    case 'Checks':
      return Array.isArray(value) ? value.map(toCheckBody) : value
    case 'TaggedAddresses':
      return isObject(value)
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, genericValue(v)]))
        : value
    case 'Connect':
      return isObject(value)
        ? convertObject(value, { native: 'Native', sidecarservice: 'SidecarService' }, (w, v) =>
            w === 'SidecarService' ? toServiceRegistrationBody(v) : genericValue(v),
          )
        : value
    case 'Meta':
      return value
    default:
      return genericValue(value)
  }
}

function toCheckBody(def: Json): Json {
  return isObject(def)
    ? convertObject(def, CHECK_KEYS, (w, v) => (VERBATIM.has(w) ? v : genericValue(v)))
    : def
}

function convertObject(
  def: Json,
  table: Readonly<Record<string, string>>,
  valueOf: (wire: string, value: Json) => Json,
): Record<string, Json> {
  if (!isObject(def)) return {}
  const out: Record<string, Json> = {}
  for (const [key, value] of Object.entries(def)) {
    const wire = table[key.toLowerCase().replace(/_/g, '')] ?? pascal(key)
    out[wire] = valueOf(wire, value)
  }
  return out
}

/** Nested objects of unknown shape: keys to PascalCase, maps named in VERBATIM kept. */
function genericValue(value: Json): Json {
  if (Array.isArray(value)) return value.map(genericValue)
  if (!isObject(value)) return value
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(value)) {
    const wire = pascal(k)
    out[wire] = VERBATIM.has(wire) ? v : genericValue(v)
  }
  return out
}

/** `destination_service_name` → `DestinationServiceName`; `PascalCase` stays. */
function pascal(key: string): string {
  if (!key.includes('_') && /^[A-Z]/.test(key)) return key
  return key
    .split('_')
    .filter((p) => p !== '')
    .map((p) => ACRONYMS[p.toLowerCase()] ?? p.charAt(0).toUpperCase() + p.slice(1))
    .join('')
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
