/** Check statuses a check can hold. `maintenance` exists only as an aggregate. */
export type Status = 'passing' | 'warning' | 'critical'
export type AggregateStatus = Status | 'maintenance'

export const STATUSES: readonly Status[] = ['passing', 'warning', 'critical']

export function isStatus(value: unknown): value is Status {
  return value === 'passing' || value === 'warning' || value === 'critical'
}

/** The `Type` string Consul reports; `''` for checks without a runner (catalog-only). */
export type CheckType =
  | 'ttl'
  | 'http'
  | 'tcp'
  | 'udp'
  | 'grpc'
  | 'h2ping'
  | 'script'
  | 'docker'
  | 'os_service'
  | 'alias'
  | 'maintenance'
  | ''

/** Every `Type` a check may have. */
export const CHECK_TYPES: ReadonlySet<string> = new Set<CheckType>([
  'ttl',
  'http',
  'tcp',
  'udp',
  'grpc',
  'h2ping',
  'script',
  'docker',
  'os_service',
  'alias',
  'maintenance',
  '',
])

export function isCheckType(value: string): value is CheckType {
  return CHECK_TYPES.has(value)
}

/** Where a registration came from: the HTTP API (`remote`) or a config file (`local`). */
export type Source = 'remote' | 'local'

/**
 * What a runner needs to probe: Consul's `CheckType` ("ChkType"), parsed and validated.
 * Durations in milliseconds; 0 means "not set". Frozen once built by the normalizer.
 */
export type CheckDefinition = Readonly<{
  type: CheckType
  intervalMs: number
  timeoutMs: number
  ttlMs: number
  http: string
  method: string
  header: Readonly<Record<string, readonly string[]>>
  body: string
  disableRedirects: boolean
  tcp: string
  tcpUseTls: boolean
  udp: string
  grpc: string
  grpcUseTls: boolean
  h2ping: string
  h2pingUseTls: boolean
  tlsServerName: string
  tlsSkipVerify: boolean
  args: readonly string[]
  dockerContainerId: string
  shell: string
  osService: string
  aliasService: string
  aliasNode: string
  successBeforePassing: number
  failuresBeforeWarning: number
  failuresBeforeCritical: number
  deregisterCriticalServiceAfterMs: number
  outputMaxSize: number
}>

/**
 * The public record of a check (Consul's `HealthCheck`), as the agent API returns it.
 * A frozen snapshot: it never changes; a newer version replaces it in LocalState.
 */
export type HealthCheck = Readonly<{
  node: string
  checkId: string
  name: string
  status: Status
  notes: string
  output: string
  serviceId: string
  serviceName: string
  serviceTags: readonly string[]
  type: CheckType
  /** Go duration string or "" */
  interval: string
  /** Go duration string or "" */
  timeout: string
  exposedPort: number
}>

/** A validated request to register one check: its record, its runner definition, and bookkeeping. */
export type CheckRegistration = Readonly<{
  /** Record with the *initial* status; LocalState carries over an existing check's status. */
  check: HealthCheck
  definition: CheckDefinition
  token: string
  source: Source
}>

export const NODE_MAINTENANCE_CHECK_ID = '_node_maintenance'
export const SERVICE_MAINTENANCE_PREFIX = '_service_maintenance:'

export function serviceMaintenanceCheckId(serviceId: string): string {
  return `${SERVICE_MAINTENANCE_PREFIX}${serviceId}`
}

export function isMaintenanceCheckId(checkId: string): boolean {
  return checkId === NODE_MAINTENANCE_CHECK_ID || checkId.startsWith(SERVICE_MAINTENANCE_PREFIX)
}

/**
 * Consul's aggregate of a list of checks (agent-state.md §4): any maintenance check →
 * maintenance; else any critical → critical; else any warning → warning; else passing.
 */
export function aggregateStatus(checks: Iterable<Pick<HealthCheck, 'checkId' | 'status'>>): AggregateStatus {
  let worst: AggregateStatus = 'passing'
  for (const c of checks) {
    if (isMaintenanceCheckId(c.checkId)) return 'maintenance'
    if (c.status === 'critical') worst = 'critical'
    else if (c.status === 'warning' && worst === 'passing') worst = 'warning'
  }
  return worst
}

/**
 * A definition with every field at its zero value; the normalizer fills what was given. Fields in
 * sorted order (and so definitions spread from it): the catalog's row encoding (catalog/keys.ts
 * `encodeRow`) keeps such a definition as it is instead of copying it.
 */
export const EMPTY_DEFINITION: CheckDefinition = Object.freeze({
  aliasNode: '',
  aliasService: '',
  args: Object.freeze([]),
  body: '',
  deregisterCriticalServiceAfterMs: 0,
  disableRedirects: false,
  dockerContainerId: '',
  failuresBeforeCritical: 0,
  failuresBeforeWarning: 0,
  grpc: '',
  grpcUseTls: false,
  h2ping: '',
  h2pingUseTls: false,
  header: Object.freeze({}),
  http: '',
  intervalMs: 0,
  method: '',
  osService: '',
  outputMaxSize: 0,
  shell: '',
  successBeforePassing: 0,
  tcp: '',
  tcpUseTls: false,
  timeoutMs: 0,
  tlsServerName: '',
  tlsSkipVerify: false,
  ttlMs: 0,
  type: '',
  udp: '',
})

/**
 * A maintenance check (agent-state.md §6): critical, no runner, Source `local`. Its service's
 * name and tags are attached by the agent when it is registered.
 */
export function maintenanceCheckRegistration(opts: {
  nodeName: string
  checkId: string
  name: string
  notes: string
  token: string
  serviceId: string
}): CheckRegistration {
  return Object.freeze({
    check: Object.freeze({
      node: opts.nodeName,
      checkId: opts.checkId,
      name: opts.name,
      status: 'critical' as const,
      notes: opts.notes,
      output: '',
      serviceId: opts.serviceId,
      serviceName: '',
      serviceTags: Object.freeze([]),
      type: 'maintenance' as const,
      interval: '',
      timeout: '',
      exposedPort: 0,
    }),
    definition: Object.freeze({ ...EMPTY_DEFINITION, type: 'maintenance' as const }),
    token: opts.token,
    source: 'local' as const,
  })
}
