/**
 * The catalog's key layout in the store (spec/servers.md §3):
 *
 *   <prefix>/nodes/<node>          CatalogNode
 *   <prefix>/services/<node>/<id>  {node, service}
 *   <prefix>/checks/<node>/<id>    {check, definition}
 *   <prefix>/idx/<name>            ""   (the index table: its modRevision is the index)
 *   <prefix>/kv/<key>              {value, flags, session, lockIndex}   (kv-tables.ts)
 *   <prefix>/tomb/<key>            {at}  a deleted key's (or a deleted tree's prefix's) tombstone
 *   <prefix>/sessions/<id>         Session
 *   <prefix>/session-ttl/<id>      ""   on a lease of 2 × TTL; its deletion expires the session
 *   <prefix>/lockdelay/<key>       {until}
 *   <prefix>/cluster/leader        ServerInfo  on the leader's server lease (cluster-tables.ts)
 *   <prefix>/cluster/servers/<n>   ServerInfo  on that server's lease
 *   <prefix>/members/<node>        MemberRecord  the datacenter's member list
 *   <prefix>/alive/<node>          {server}    on the lease of the server the member heartbeats to
 *   <prefix>/events/<id>           user event  on a short lease: how servers share fired events
 *
 * KV keys and session IDs are kept verbatim (case-sensitive, `/` allowed).
 *
 * Node names and IDs are lower-cased in keys (Consul's lookups are case-insensitive); values keep
 * the original case. A node segment escapes `%` and `/` (`%25`, `%2F`) so the key splits back
 * unambiguously; the ID is the rest of the key, slashes included.
 */

import { setOwn } from '../lib/object.js'

/** Index-table entries (Consul's `index` table names). */
export const IDX_NODES = 'nodes'
export const IDX_SERVICES = 'services'
export const IDX_CHECKS = 'checks'
/** Revision of the last deregistration that left a service name without instances. */
export const IDX_SERVICE_EXTINCTION = 'service_last_extinction'
export const IDX_KVS = 'kvs'
export const IDX_TOMBSTONES = 'tombstones'
export const IDX_SESSIONS = 'sessions'
/** Moves with every change to the member list (members/): heartbeat answers carry it as its version. */
export const IDX_MEMBERS = 'members'

/** `service.<name>`: moves when an instance of the name, its checks or its node change. */
export function serviceIdxName(serviceName: string): string {
  return `service.${serviceName.toLowerCase()}`
}

/**
 * `node.<name>`: moves with every write to one of the node's rows. Nothing reads it as an index;
 * a write that enumerates a node's rows compares it, so it cannot miss a concurrent change there.
 */
export function nodeIdxName(node: string): string {
  return `node.${node.toLowerCase()}`
}

/** `connect.<name>`: moves when a proxy for the name, or a connect-native instance, changes. */
export function connectIdxName(serviceName: string): string {
  return `connect.${serviceName.toLowerCase()}`
}

export function lower(s: string): string {
  return s.toLowerCase()
}

function escapeSegment(s: string): string {
  return s.toLowerCase().replace(/%/g, '%25').replace(/\//g, '%2F')
}

function unescapeSegment(s: string): string {
  return s.replace(/%2F/g, '/').replace(/%25/g, '%')
}

export type ParsedKey =
  | Readonly<{ table: 'nodes'; node: string }>
  | Readonly<{ table: 'services' | 'checks'; node: string; id: string }>
  | Readonly<{ table: 'idx'; name: string }>
  | KvParsedKey
  | ClusterParsedKey

/** A key of the cluster tables (`name` lower-cased; '' for the leader key). */
export type ClusterParsedKey = Readonly<{
  table: 'leader' | 'servers' | 'members' | 'alive' | 'events'
  name: string
}>

export function isClusterParsedKey(p: ParsedKey): p is ClusterParsedKey {
  return (
    p.table === 'leader' ||
    p.table === 'servers' ||
    p.table === 'members' ||
    p.table === 'alive' ||
    p.table === 'events'
  )
}

/** A key of the KV and session tables: `key` is a KV key, or a session ID for the session tables. */
export type KvParsedKey = Readonly<{
  table: 'kv' | 'tomb' | 'lockdelay' | 'sessions' | 'session-ttl'
  key: string
}>

export function isKvParsedKey(p: ParsedKey): p is KvParsedKey {
  return (
    p.table === 'kv' ||
    p.table === 'tomb' ||
    p.table === 'lockdelay' ||
    p.table === 'sessions' ||
    p.table === 'session-ttl'
  )
}

/** Key builders and the parser for one prefix. `node`/`id` in results are lower-cased. */
export class CatalogKeys {
  readonly root: string

  constructor(prefix: string) {
    this.root = prefix.endsWith('/') ? prefix : `${prefix}/`
  }

  node(node: string): string {
    return `${this.root}nodes/${escapeSegment(node)}`
  }

  service(node: string, id: string): string {
    return `${this.root}services/${escapeSegment(node)}/${id.toLowerCase()}`
  }

  check(node: string, id: string): string {
    return `${this.root}checks/${escapeSegment(node)}/${id.toLowerCase()}`
  }

  idx(name: string): string {
    return `${this.root}idx/${name}`
  }

  kv(key: string): string {
    return `${this.root}kv/${key}`
  }

  tomb(key: string): string {
    return `${this.root}tomb/${key}`
  }

  lockDelay(key: string): string {
    return `${this.root}lockdelay/${key}`
  }

  session(id: string): string {
    return `${this.root}sessions/${id}`
  }

  sessionTtl(id: string): string {
    return `${this.root}session-ttl/${id}`
  }

  leader(): string {
    return `${this.root}cluster/leader`
  }

  server(name: string): string {
    return `${this.root}cluster/servers/${escapeSegment(name)}`
  }

  member(name: string): string {
    return `${this.root}members/${escapeSegment(name)}`
  }

  alive(name: string): string {
    return `${this.root}alive/${escapeSegment(name)}`
  }

  event(id: string): string {
    return `${this.root}events/${escapeSegment(id)}`
  }

  /** The table a key belongs to, or undefined for keys the catalog does not own. */
  parse(key: string): ParsedKey | undefined {
    if (!key.startsWith(this.root)) return undefined
    const rest = key.slice(this.root.length)
    const slash = rest.indexOf('/')
    if (slash < 0) return undefined
    const table = rest.slice(0, slash)
    const tail = rest.slice(slash + 1)
    switch (table) {
      case 'nodes':
        return tail === '' || tail.includes('/') ? undefined : { table, node: unescapeSegment(tail) }
      case 'services':
      case 'checks': {
        const sep = tail.indexOf('/')
        if (sep <= 0) return undefined
        return { table, node: unescapeSegment(tail.slice(0, sep)), id: tail.slice(sep + 1) }
      }
      case 'idx':
        return tail === '' ? undefined : { table, name: tail }
      case 'cluster':
        if (tail === 'leader') return { table: 'leader', name: '' }
        if (!tail.startsWith('servers/') || tail.length === 8 || tail.indexOf('/', 8) >= 0) return undefined
        return { table: 'servers', name: unescapeSegment(tail.slice(8)) }
      case 'members':
      case 'alive':
      case 'events':
        return tail === '' || tail.includes('/') ? undefined : { table, name: unescapeSegment(tail) }
      case 'tomb':
        return { table, key: tail } // a recursive delete of "" leaves the tombstone of ""
      case 'kv':
      case 'lockdelay':
      case 'sessions':
      case 'session-ttl':
        return tail === '' ? undefined : { table, key: tail }
      default:
        return undefined
    }
  }
}

/**
 * Object keys as JSON strings: a catalog row's keys are its record's field names, the same in
 * every row, so each is quoted once. Bounded, since map keys (Meta, TaggedAddresses) are the
 * user's; past the bound keys are quoted as they come.
 */
const quotedKeys = new Map<string, string>()
const QUOTED_KEYS_MAX = 10_000

function quoteKey(key: string): string {
  let quoted = quotedKeys.get(key)
  if (quoted === undefined) {
    quoted = JSON.stringify(key)
    if (quotedKeys.size < QUOTED_KEYS_MAX) quotedKeys.set(key, quoted)
  }
  return quoted
}

/**
 * Sorted key lists by object shape: records of one kind list the same keys in the same order, so
 * the sort is done once per shape. A shape is looked up by its first key and confirmed key by key;
 * bounded like the quoted keys. `inOrder`: the keys are listed sorted already; `integerKeys`: some
 * key is an array index, which JavaScript lists first whatever the insertion order.
 */
interface Shape {
  readonly keys: readonly string[]
  readonly sorted: readonly string[]
  readonly inOrder: boolean
  readonly integerKeys: boolean
}

/** Shapes by first key; a few per first key (a node and a service both start with `address`). */
const sortedShapes = new Map<string, Shape[]>()
const SORTED_SHAPES_MAX = 1000
const SHAPES_PER_FIRST_KEY = 4
const NO_KEYS: Shape = { keys: [], sorted: [], inOrder: true, integerKeys: false }
const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/

function shapeOf(obj: object): Shape {
  const keys = Object.keys(obj)
  const first = keys[0]
  if (first === undefined) return NO_KEYS
  const known = sortedShapes.get(first)
  if (known !== undefined) {
    for (const shape of known) {
      if (shape.keys.length !== keys.length) continue
      let same = true
      for (let i = 1; i < keys.length && same; i++) same = shape.keys[i] === keys[i]
      if (same) return shape
    }
  }
  const sorted = [...keys].sort()
  const shape: Shape = {
    keys,
    sorted,
    inOrder: sorted.every((k, i) => k === keys[i]),
    integerKeys: keys.some((k) => ARRAY_INDEX.test(k) && Number(k) < 2 ** 32 - 1),
  }
  if (known !== undefined) {
    if (known.length >= SHAPES_PER_FIRST_KEY) known.shift()
    known.push(shape)
  } else if (sortedShapes.size < SORTED_SHAPES_MAX) {
    sortedShapes.set(first, [shape])
  }
  return shape
}

function sortedKeys(obj: object): readonly string[] {
  return shapeOf(obj).sorted
}

/** A row's canonical text, and its value as `JSON.parse(text)` gives it, deeply frozen. */
export interface EncodedRow {
  readonly text: string
  readonly value: unknown
}

/**
 * The canonical encoding of a row together with its decoded value, without a round trip through
 * the text: the value is what `deepFreeze(JSON.parse(canonicalJson(value)))` would be (same
 * members, same key order). Frozen plain objects and arrays that are canonical already (keys
 * inserted sorted, no undefined member, numbers finite and not -0, every member canonical) are
 * kept as they are; other objects are copied with their keys sorted. The planner encodes every row
 * it writes here, and the view takes the value as the row's record instead of parsing the text.
 */
export function encodeRow(value: unknown): EncodedRow {
  const canonical = canonicalizeRow(value)
  // Without array-index keys (which JavaScript lists first) the canonical value's own key order
  // is the sorted one, and JSON.stringify writes the canonical text.
  const text = walk.integerKeys ? canonicalJson(canonical) : JSON.stringify(canonical)
  return { text, value: canonical }
}

/**
 * What `canonicalize` met in the value it is walking: an array-index key (`integerKeys`), an
 * object that is not frozen (`mutable`: a copy of an object holding it may not be kept).
 */
const walk = { integerKeys: false, mutable: false }

/**
 * Canonical copies of frozen, deeply immutable objects that are not canonical themselves (such as
 * a shared default definition whose fields are not in sorted order): they cannot change, so they
 * are copied once.
 */
const canonicalCopies = new WeakMap<object, { readonly value: unknown; readonly integerKeys: boolean }>()

function canonicalizeRow(value: unknown): unknown {
  walk.integerKeys = false
  walk.mutable = false
  return canonicalize(value)
}

function canonicalPrimitive(value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : null
    case 'string':
    case 'boolean':
      return value
    case 'bigint':
      return JSON.stringify(value) // throws, as JSON.stringify does
    default:
      return null // null, undefined, functions, symbols: JSON's null
  }
}

/** Whether a member is left out of an object's JSON (and is null in an array's). */
function omitted(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol'
}

function canonicalize(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return canonicalPrimitive(value)
  const frozen = Object.isFrozen(value)
  const isArray = Array.isArray(value)
  const shape = isArray ? NO_KEYS : shapeOf(value)
  const keepable =
    frozen &&
    Object.getPrototypeOf(value) === (isArray ? Array.prototype : Object.prototype) &&
    shape.inOrder &&
    !shape.integerKeys
  if (frozen && !keepable) {
    const copy = canonicalCopies.get(value)
    if (copy !== undefined) {
      walk.integerKeys ||= copy.integerKeys
      return copy.value
    }
  }
  const outerMutable = walk.mutable
  const outerIntegerKey = walk.integerKeys
  walk.mutable = !frozen
  walk.integerKeys = shape.integerKeys
  const out = isArray
    ? canonicalArray(value as readonly unknown[], keepable)
    : canonicalObject(value as Readonly<Record<string, unknown>>, shape, keepable)
  if (out !== value && frozen && !walk.mutable)
    canonicalCopies.set(value, { value: out, integerKeys: walk.integerKeys })
  walk.mutable ||= outerMutable
  walk.integerKeys ||= outerIntegerKey
  return out
}

/** `out[key] = value` as an own member, `__proto__` included (as JSON.parse makes it). */
function assign(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') setOwn(out, key, value)
  else out[key] = value
}

function canonicalArray(arr: readonly unknown[], keepable: boolean): unknown {
  let out: unknown[] | undefined = keepable ? undefined : []
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i]
    const c = omitted(v) || !(i in arr) ? null : canonicalize(v)
    if (out === undefined) {
      if (Object.is(c, v)) continue
      out = arr.slice(0, i)
    }
    out.push(c)
  }
  return out === undefined ? arr : Object.freeze(out)
}

function canonicalObject(obj: Readonly<Record<string, unknown>>, shape: Shape, keepable: boolean): unknown {
  let out: Record<string, unknown> | undefined = keepable ? undefined : {}
  const keys = shape.sorted
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string
    const v = obj[k]
    const c = omitted(v) ? undefined : canonicalize(v)
    if (out === undefined) {
      if (c !== undefined && Object.is(c, v)) continue
      out = {}
      for (let j = 0; j < i; j++) {
        const kj = keys[j] as string
        assign(out, kj, obj[kj])
      }
    }
    if (c !== undefined) assign(out, k, c)
  }
  return out === undefined ? obj : Object.freeze(out)
}

/**
 * JSON with object keys sorted at every level (by code unit), so two equal records always encode
 * to the same text: the planner detects a no-op write by comparing encodings. `encodeRow` gives
 * the same text.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null)
  // Loops and string concatenation rather than map/filter/join, keys sorted once per shape and
  // quoted once.
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ','
      if (i in value) out += canonicalJson(value[i])
    }
    return `${out}]`
  }
  const obj = value as Record<string, unknown>
  let out = '{'
  for (const k of sortedKeys(obj)) {
    const v = obj[k]
    if (v === undefined) continue
    if (out.length > 1) out += ','
    out += `${quoteKey(k)}:${canonicalJson(v)}`
  }
  return `${out}}`
}
