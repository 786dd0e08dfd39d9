/**
 * The messages of cluster traffic (`/v1/internal/cluster/...`, vigil to vigil). They carry
 * vigil's own frozen records as JSON; what arrives is hostile until `decode*` checked its shape
 * and bounded its sizes. Public Consul routes forwarded on the same listener keep Consul's wire
 * format; these are vigil's RPCs, the part Consul does over its msgpack RPC.
 */
import type { NodeHealth } from '../agent/checks/remote-alias-check.js'
import { USER_EVENT_SIZE_LIMIT, userEventSize, type UserEvent } from '../agent/events.js'
import type { Member } from '../agent/member.js'
import type { NodeInfo, RemoteNodeState, SyncRegistration } from '../agent/sync/catalog-port.js'
import { deepFreeze } from '../lib/object.js'
import { DecodeError } from '../lib/errors.js'
import { isCheckType, type HealthCheck } from '../structs/check.js'
import { isServiceKind, type Service } from '../structs/service.js'

/** The route prefix of every cluster RPC. */
export const CLUSTER_PREFIX = '/v1/internal/cluster'

/** A server as clients reach it: its cluster listener for client-to-server traffic. */
export type ServerAddress = Readonly<{ name: string; addr: string; port: number }>

export type HelloReply = Readonly<{
  name: string
  datacenter: string
  server: boolean
  /** The servers this agent knows (itself first on a server). */
  servers: readonly ServerAddress[]
}>

export type HeartbeatRequest = Readonly<{
  member: Member
  node: NodeInfo
  /** The epoch and member-list version of the last list the client got ('' and -1: none). */
  knownEpoch: string
  knownVersion: number
  /** The user-event cursor of the last answer (-1: none; absent on the wire from older agents). */
  eventSeq: number
  /**
   * The client applies member-list changes (`changed`, `removed`) on top of its known version
   * (absent from older agents, which always get the whole list).
   */
  delta?: boolean
}>

export type HeartbeatReply = Readonly<{
  /** Changes when the server restarts: the client then asks for a full anti-entropy sync. */
  epoch: string
  /** Moves whenever a member joins, changes, fails, leaves or is reaped. */
  version: number
  /**
   * The member list; null when the client's known epoch and version are current, or when the
   * answer carries the changes since its version instead (`changed`, `removed`).
   */
  members: readonly Member[] | null
  /** Members added or changed since the client's version (empty with a whole list). */
  changed: readonly Member[]
  /** Names of members gone since the client's version. */
  removed: readonly string[]
  servers: readonly ServerAddress[]
  /** User events after the request's cursor, oldest first (docs/events.md). */
  events: readonly UserEvent[]
  /** The cursor to send with the next heartbeat. */
  eventSeq: number
}>

/** A user event on the wire: the payload as base64. */
export type WireEvent = Readonly<{
  id: string
  name: string
  payload: string | null
  nodeFilter: string
  serviceFilter: string
  tagFilter: string
  version: number
  ltime: number
}>

export type NameRequest = Readonly<{ name: string }>
export type ForceLeaveRequest = Readonly<{ name: string; prune: boolean }>
export type IntroduceRequest = Readonly<{ servers: readonly ServerAddress[] }>
export type DeregisterRequest = Readonly<{ node: string; serviceId: string; checkId: string }>

// ---- decoding ---------------------------------------------------------------------------------

const MAX_STRING = 64 * 1024
const MAX_ITEMS = 4096

type Schema =
  | 'string'
  | 'number'
  | 'boolean'
  | 'unknown'
  | Readonly<{ array: Schema }>
  | Readonly<{ record: Schema }>
  | Readonly<{ nullable: Schema }>
  | Readonly<{ object: Readonly<Record<string, Schema>> }>

/** Checks `value` against `schema`; returns a copy holding only the schema's keys. */
function project(value: unknown, schema: Schema, path: string): unknown {
  const fail = (what: string): never => {
    throw new DecodeError(`${path}: ${what}`)
  }
  if (typeof schema === 'string') {
    if (schema === 'unknown') return value
    if (typeof value !== schema) fail(`expected ${schema}`)
    if (typeof value === 'string' && value.length > MAX_STRING) fail('string too long')
    if (typeof value === 'number' && !Number.isFinite(value)) fail('not a finite number')
    return value
  }
  if ('nullable' in schema) return value === null ? null : project(value, schema.nullable, path)
  if ('array' in schema) {
    if (!Array.isArray(value)) return fail('expected an array')
    if (value.length > MAX_ITEMS) fail('too many items')
    return value.map((v: unknown, i) => project(v, schema.array, `${path}[${i}]`))
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('expected an object')
  const out: Record<string, unknown> = {}
  if ('record' in schema) {
    const entries = Object.entries(value)
    if (entries.length > MAX_ITEMS) fail('too many keys')
    for (const [k, v] of entries) {
      if (k.length > MAX_STRING) fail('key too long')
      if (k === '__proto__') fail('invalid key')
      out[k] = project(v, schema.record, `${path}.${k}`)
    }
    return out
  }
  for (const [k, s] of Object.entries(schema.object)) {
    out[k] = project((value as Record<string, unknown>)[k], s, `${path}.${k}`)
  }
  return out
}

const str = 'string' as const
const num = 'number' as const
const bool = 'boolean' as const
const strings = { array: str } as const
const stringMap = { record: str } as const

const MEMBER: Schema = {
  object: {
    name: str,
    addr: str,
    port: num,
    tags: stringMap,
    status: str,
    protocolMin: num,
    protocolMax: num,
    protocolCur: num,
    delegateMin: num,
    delegateMax: num,
    delegateCur: num,
  },
}

const NODE: Schema = {
  object: { id: str, node: str, address: str, datacenter: str, taggedAddresses: stringMap, meta: stringMap },
}

const SERVICE: Schema = {
  object: {
    id: str,
    name: str,
    tags: { nullable: strings },
    address: str,
    port: num,
    socketPath: str,
    taggedAddresses: { record: { object: { address: str, port: num } } },
    meta: stringMap,
    weights: { object: { passing: num, warning: num } },
    enableTagOverride: bool,
    kind: str,
    proxy: {
      nullable: {
        object: {
          destinationServiceName: str,
          destinationServiceId: str,
          localServiceAddress: str,
          localServicePort: num,
          mode: str,
          config: { record: 'unknown' },
          upstreams: { array: { record: 'unknown' } },
          extra: { record: 'unknown' },
        },
      },
    },
    connectNative: bool,
    locallyRegisteredAsSidecar: bool,
  },
}

const CHECK: Schema = {
  object: {
    node: str,
    checkId: str,
    name: str,
    status: str,
    notes: str,
    output: str,
    serviceId: str,
    serviceName: str,
    serviceTags: strings,
    type: str,
    interval: str,
    timeout: str,
    exposedPort: num,
  },
}

const SERVER_ADDRESS: Schema = { object: { name: str, addr: str, port: num } }

const STATUSES: ReadonlySet<string> = new Set(['none', 'alive', 'leaving', 'left', 'failed'])
const CHECK_STATUSES: ReadonlySet<string> = new Set(['passing', 'warning', 'critical'])

function parse(body: string): unknown {
  try {
    return JSON.parse(body) as unknown
  } catch (err) {
    throw new DecodeError(err instanceof Error ? err.message : String(err))
  }
}

/** Checks `value` against `schema` and returns the projection, frozen. */
function decodeAs(value: unknown, schema: Schema, path: string): unknown {
  return deepFreeze(project(value, schema, path))
}

function member(m: Member, path: string): Member {
  if (!STATUSES.has(m.status)) throw new DecodeError(`${path}.status: unknown status`)
  return m
}

function service(s: Service | null, path: string): Service | null {
  if (s !== null && !isServiceKind(s.kind)) throw new DecodeError(`${path}.kind: unknown kind`)
  return s
}

function healthCheck(c: HealthCheck, path: string): HealthCheck {
  if (!CHECK_STATUSES.has(c.status)) throw new DecodeError(`${path}.status: unknown status`)
  if (!isCheckType(c.type)) throw new DecodeError(`${path}.type: unknown type`)
  return c
}

const EVENT: Schema = {
  object: {
    id: str,
    name: str,
    payload: { nullable: str },
    nodeFilter: str,
    serviceFilter: str,
    tagFilter: str,
    version: num,
    ltime: num,
  },
}

const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function encodeUserEvent(e: UserEvent): WireEvent {
  return { ...e, payload: e.payload === null ? null : e.payload.toString('base64') }
}

/** A user event as it arrives: a UUID, a name, serf's size limit, a non-negative integer time. */
function userEvent(value: unknown, path: string): UserEvent {
  const w = project(value, EVENT, path) as WireEvent
  if (!EVENT_ID.test(w.id)) throw new DecodeError(`${path}.id: not a UUID`)
  if (w.name === '') throw new DecodeError(`${path}.name: empty`)
  if (!Number.isSafeInteger(w.ltime) || w.ltime < 0) throw new DecodeError(`${path}.ltime: invalid`)
  const payload = w.payload === null ? null : Buffer.from(w.payload, 'base64')
  const e = { ...w, payload: payload !== null && payload.length > 0 ? payload : null }
  if (userEventSize(e) > USER_EVENT_SIZE_LIMIT) throw new DecodeError(`${path}: event too large`)
  return Object.freeze(e)
}

/** An optional cursor field: -1 when absent, else a safe integer. */
function cursorField(value: unknown, path: string): number {
  if (value === undefined) return -1
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new DecodeError(`${path}: expected an integer`)
  return value
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
}

export function decodeHeartbeat(body: string): HeartbeatRequest {
  const raw = parse(body)
  const v = decodeAs(
    raw,
    { object: { member: MEMBER, node: NODE, knownEpoch: str, knownVersion: num } },
    'heartbeat',
  ) as Omit<HeartbeatRequest, 'eventSeq'>
  member(v.member, 'heartbeat.member')
  const delta = field(raw, 'delta') ?? false
  if (typeof delta !== 'boolean') throw new DecodeError('heartbeat.delta: expected a boolean')
  return Object.freeze({
    ...v,
    eventSeq: cursorField(field(raw, 'eventSeq'), 'heartbeat.eventSeq'),
    delta,
  })
}

/** A user event as the servers share it in the store (event-share.ts): the same checks. */
export function decodeStoredEvent(value: unknown): UserEvent {
  return userEvent(value, 'event')
}

/** A user event fired on a client agent, forwarded to a server. */
export function decodeEventFire(body: string): UserEvent {
  return userEvent(parse(body), 'event')
}

export function decodeHeartbeatReply(value: unknown): HeartbeatReply {
  const v = decodeAs(
    value,
    {
      object: {
        epoch: str,
        version: num,
        members: { nullable: { array: MEMBER } },
        servers: { array: SERVER_ADDRESS },
      },
    },
    'reply',
  ) as Omit<HeartbeatReply, 'events' | 'eventSeq' | 'changed' | 'removed'>
  v.members?.forEach((m, i) => member(m, `reply.members[${i}]`))
  // Absent from older servers, which answer whole lists.
  const changed = decodeAs(
    field(value, 'changed') ?? [],
    { array: MEMBER },
    'reply.changed',
  ) as readonly Member[]
  changed.forEach((m, i) => member(m, `reply.changed[${i}]`))
  const removed = decodeAs(
    field(value, 'removed') ?? [],
    { array: str },
    'reply.removed',
  ) as readonly string[]
  // Absent from older servers: no events, no cursor.
  const raw = field(value, 'events') ?? []
  if (!Array.isArray(raw) || raw.length > MAX_ITEMS) throw new DecodeError('reply.events: expected an array')
  const events = Object.freeze(raw.map((e: unknown, i) => userEvent(e, `reply.events[${i}]`)))
  return Object.freeze({
    ...v,
    changed,
    removed,
    events,
    eventSeq: cursorField(field(value, 'eventSeq'), 'reply.eventSeq'),
  })
}

export function decodeHelloReply(value: unknown): HelloReply {
  return decodeAs(
    value,
    { object: { name: str, datacenter: str, server: bool, servers: { array: SERVER_ADDRESS } } },
    'hello',
  ) as HelloReply
}

export function decodeName(body: string): NameRequest {
  return decodeAs(parse(body), { object: { name: str } }, 'request') as NameRequest
}

/** A request for the explanation of what a remote alias of `node`, naming `serviceId`, mirrors. */
export interface ExplainRequest {
  readonly node: string
  readonly serviceId: string
}

export function decodeExplainRequest(body: string): ExplainRequest {
  return decodeAs(parse(body), { object: { node: str, serviceId: str } }, 'request') as ExplainRequest
}

export function decodeForceLeave(body: string): ForceLeaveRequest {
  return decodeAs(parse(body), { object: { name: str, prune: bool } }, 'request') as ForceLeaveRequest
}

export function decodeIntroduce(body: string): IntroduceRequest {
  return decodeAs(
    parse(body),
    { object: { servers: { array: SERVER_ADDRESS } } },
    'request',
  ) as IntroduceRequest
}

export function decodeRegister(body: string): SyncRegistration {
  const v = decodeAs(
    parse(body),
    { object: { node: NODE, service: { nullable: SERVICE }, checks: { array: CHECK }, token: str } },
    'register',
  ) as SyncRegistration
  service(v.service, 'register.service')
  v.checks.forEach((c, i) => healthCheck(c, `register.checks[${i}]`))
  return v
}

export function decodeDeregister(body: string): DeregisterRequest {
  return decodeAs(
    parse(body),
    { object: { node: str, serviceId: str, checkId: str } },
    'deregister',
  ) as DeregisterRequest
}

export function decodeRemoteNode(value: unknown): RemoteNodeState {
  const v = decodeAs(
    value,
    { object: { node: { nullable: NODE }, services: { array: SERVICE }, checks: { array: CHECK } } },
    'node',
  ) as RemoteNodeState
  v.services.forEach((s, i) => service(s, `node.services[${i}]`))
  v.checks.forEach((c, i) => healthCheck(c, `node.checks[${i}]`))
  return v
}

export type NodeHealthRequest = Readonly<{ name: string; index: number; waitMs: number }>

export function decodeNodeHealthRequest(body: string): NodeHealthRequest {
  const v = decodeAs(
    parse(body),
    { object: { name: str, index: num, waitMs: num } },
    'request',
  ) as NodeHealthRequest
  if (v.index < 0 || v.waitMs < 0) throw new DecodeError('request: negative index or wait')
  return v
}

export function decodeNodeHealth(value: unknown): NodeHealth {
  const v = decodeAs(
    value,
    { object: { index: num, checks: { array: CHECK }, serviceIds: strings } },
    'health',
  ) as NodeHealth
  v.checks.forEach((c, i) => healthCheck(c, `health.checks[${i}]`))
  return v
}
