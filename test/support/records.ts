import {
  EMPTY_DEFINITION,
  type CheckDefinition,
  type CheckRegistration,
  type Status,
} from '../../src/structs/check.js'
import type { Service, ServiceRegistration } from '../../src/structs/service.js'

/** A check registration record built directly (bypassing the HTTP normalizer). */
export function checkRegistration(opts: {
  id: string
  serviceId?: string
  serviceName?: string
  status?: Status
  definition?: Partial<CheckDefinition>
}): CheckRegistration {
  const definition: CheckDefinition = Object.freeze({
    ...EMPTY_DEFINITION,
    type: 'tcp' as const,
    intervalMs: 10_000,
    tcp: '127.0.0.1:1',
    ...opts.definition,
  })
  return Object.freeze({
    check: Object.freeze({
      node: 'node1',
      checkId: opts.id,
      name: opts.id,
      status: opts.status ?? 'critical',
      notes: '',
      output: '',
      serviceId: opts.serviceId ?? '',
      serviceName: opts.serviceName ?? opts.serviceId ?? '',
      serviceTags: Object.freeze([]),
      type: definition.type,
      interval: '',
      timeout: '',
      exposedPort: 0,
    }),
    definition,
    token: '',
    source: 'remote' as const,
  })
}

export function serviceRecord(id: string, overrides: Partial<Service> = {}): Service {
  return Object.freeze({
    id,
    name: id,
    tags: null,
    address: '',
    port: 0,
    socketPath: '',
    taggedAddresses: Object.freeze({}),
    meta: Object.freeze({}),
    weights: Object.freeze({ passing: 1, warning: 1 }),
    enableTagOverride: false,
    kind: '' as const,
    proxy: null,
    connectNative: false,
    locallyRegisteredAsSidecar: false,
    ...overrides,
  })
}

export function serviceRegistration(id: string, checks: readonly CheckRegistration[]): ServiceRegistration {
  return Object.freeze({
    service: serviceRecord(id),
    checks,
    sidecar: null,
    sidecarService: null,
    token: '',
    source: 'remote' as const,
  })
}
