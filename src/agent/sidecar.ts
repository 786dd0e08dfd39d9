import { isIPv6 } from 'node:net'
import { BadRequestError, VigilError } from '../lib/errors.js'
import { normalizeServiceDefinition, type NormalizeContext } from '../structs/normalize.js'
import type { ServiceRegistration } from '../structs/service.js'
import type { ServiceEntry } from './local/local-state.js'

/** The sidecar of a parent service always has this ID (sidecar.md §3). */
export function sidecarIdFor(parentId: string): string {
  return `${parentId}-sidecar-proxy`
}

export interface SidecarPorts {
  readonly sidecarMinPort: number
  readonly sidecarMaxPort: number
}

/**
 * Derives the `connect-proxy` registration of a parent's `Connect.SidecarService` (sidecar.md
 * §3–§5): fixed ID, inherited name/tags/meta/address, proxy destination and local service, a
 * port from the sidecar range, and — when the nested block defines no check — the
 * `Connect Sidecar Listening` TCP check and the `Connect Sidecar Aliasing <parent>` alias check.
 * Must run under the agent's registration lock (the port allocation reads every local service).
 * Errors are 400 `Invalid SidecarService: …`.
 */
export function deriveSidecar(
  parent: ServiceRegistration,
  nested: Readonly<Record<string, unknown>>,
  ctx: NormalizeContext,
  services: readonly ServiceEntry[],
  ports: SidecarPorts,
): ServiceRegistration {
  const p = parent.service
  const id = sidecarIdFor(p.id)
  const def: Record<string, unknown> = { ...nested }
  const setDefault = (key: string, value: unknown, isUnset: (v: unknown) => boolean): void => {
    const existing = take(def, key)
    def[key] = existing === undefined || isUnset(existing) ? value : existing
  }
  const empty = (v: unknown): boolean =>
    v === undefined ||
    v === null ||
    v === '' ||
    v === 0 ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && Object.keys(v).length === 0)
  take(def, 'ID')
  def['ID'] = id
  setDefault('Name', `${p.name}-sidecar-proxy`, empty)
  setDefault('Kind', 'connect-proxy', empty)
  setDefault('Tags', p.tags === null ? null : [...p.tags], empty)
  setDefault('Meta', { ...p.meta }, empty)
  setDefault('Address', p.address, empty)
  setDefault('Token', parent.token, empty)
  const port = asNumber(take(def, 'Port'))
  def['Port'] = port >= 1 ? port : allocatePort(id, services, ports)

  const proxy: Record<string, unknown> = { ...asObject(take(def, 'Proxy')) }
  setOn(proxy, 'DestinationServiceName', p.name)
  setOn(proxy, 'DestinationServiceID', p.id)
  const socket = take(proxy, 'LocalServiceSocketPath')
  const localAddress = take(proxy, 'LocalServiceAddress')
  const localPort = take(proxy, 'LocalServicePort')
  if (!empty(socket)) proxy['LocalServiceSocketPath'] = socket
  if (!empty(localAddress)) proxy['LocalServiceAddress'] = localAddress
  if (!empty(localPort)) proxy['LocalServicePort'] = localPort
  if (empty(socket) && (empty(localAddress) || empty(localPort))) {
    if (p.socketPath !== '') proxy['LocalServiceSocketPath'] = p.socketPath
    else {
      if (empty(localAddress)) proxy['LocalServiceAddress'] = '127.0.0.1'
      if (empty(localPort)) proxy['LocalServicePort'] = p.port
    }
  }
  def['Proxy'] = proxy

  const check = take(def, 'Check')
  const checks = take(def, 'Checks')
  if (empty(check) && empty(checks)) {
    const address =
      typeof def['Address'] === 'string' && def['Address'] !== ''
        ? def['Address']
        : proxy['LocalServiceAddress']
    const host = typeof address === 'string' ? address : '127.0.0.1'
    def['Checks'] = [
      {
        Name: 'Connect Sidecar Listening',
        TCP: `${isIPv6(host) ? `[${host}]` : host}:${String(def['Port'])}`,
        Interval: '10s',
      },
      { Name: `Connect Sidecar Aliasing ${p.id}`, AliasService: p.id },
    ]
  } else {
    if (check !== undefined) def['Check'] = check
    if (checks !== undefined) def['Checks'] = checks
  }

  let reg: ServiceRegistration
  try {
    reg = normalizeServiceDefinition(def, ctx)
  } catch (err) {
    if (err instanceof VigilError && err.statusCode === 400) {
      throw new BadRequestError(`Invalid SidecarService: ${err.message}`, { cause: err })
    }
    throw err
  }
  return Object.freeze({
    ...reg,
    service: Object.freeze({ ...reg.service, locallyRegisteredAsSidecar: true }),
  })
}

/** sidecar.md §4: keep this sidecar's in-range port, else the lowest free port in the range. */
function allocatePort(sidecarId: string, services: readonly ServiceEntry[], ports: SidecarPorts): number {
  const { sidecarMinPort: min, sidecarMaxPort: max } = ports
  if (min <= 0 || max <= 0) {
    throw new BadRequestError(
      'Invalid SidecarService: no port provided for sidecar_service and auto-assignment disabled in config',
    )
  }
  const inRange = (port: number): boolean => port >= min && port <= max
  const own = services.find((s) => s.service.id === sidecarId)
  if (own !== undefined && inRange(own.service.port)) return own.service.port
  const used = new Set(services.map((s) => s.service.port).filter(inRange))
  for (let port = min; port <= max; port++) if (!used.has(port)) return port
  throw new BadRequestError(
    `Invalid SidecarService: no port provided for sidecar_service and none left in the configured range [${min}, ${max}]`,
  )
}

/** Removes and returns the value of `key` matched as Go does (case-insensitively; snake_case too). */
function take(obj: Record<string, unknown>, key: string): unknown {
  const want = fold(key)
  let value: unknown
  for (const k of Object.keys(obj)) {
    if (fold(k) !== want) continue
    if (value === undefined || k === key) value = obj[k]
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
    delete obj[k]
  }
  return value
}

function setOn(obj: Record<string, unknown>, key: string, fallback: unknown): void {
  const v = take(obj, key)
  obj[key] = v === undefined || v === null || v === '' ? fallback : v
}

function fold(key: string): string {
  return key.toLowerCase().replace(/_/g, '')
}

function asNumber(v: unknown): number {
  return typeof v === 'number' ? v : 0
}

function asObject(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}
