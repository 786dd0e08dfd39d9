/**
 * JSON output as Go's `encoding/json` writes it for Consul: struct fields in declaration order
 * (the insertion order of plain objects), map keys sorted (objects made with `goMap`), `<`, `>`,
 * `&`, U+2028 and U+2029 escaped, and `?pretty` output indented by 4 spaces plus a newline.
 */
import { setOwn } from '../lib/object.js'

const goMaps = new WeakSet<object>()

/**
 * Marks a plain object as a Go map: its keys are written sorted, whatever their insertion order
 * (JavaScript would put integer-like keys first). The object stays an ordinary object, so the
 * filter language can select into it.
 */
export function goMap<T>(
  entries: Readonly<Record<string, T>> | Iterable<readonly [string, T]>,
): Record<string, T> {
  const out: Record<string, T> = {}
  const pairs = Symbol.iterator in entries ? entries : Object.entries(entries)
  for (const [k, v] of pairs) {
    setOwn(out, k, v)
  }
  goMaps.add(out)
  return out
}

/** Encodes `value`; `undefined` object fields are skipped, as JSON.stringify does. */
export function encodeJson(value: unknown, pretty: boolean): string {
  const out = write(value, pretty ? '\n' : '', pretty)
  return pretty ? `${out}\n` : out
}

function write(value: unknown, newline: string, pretty: boolean): string {
  if (value === null || value === undefined) return 'null'
  switch (typeof value) {
    case 'string':
      return quote(value)
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      return value.toString()
    case 'object':
      break
    default:
      return 'null'
  }
  const inner = pretty ? `${newline}    ` : ''
  const sep = pretty ? ': ' : ':'
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]'
    const items = value.map((v: unknown) => inner + write(v, inner, pretty))
    return `[${items.join(',')}${newline}]`
  }
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined)
  if (goMaps.has(obj)) keys.sort(compareKeys)
  if (keys.length === 0) return '{}'
  const fields = keys.map((k) => `${inner}${quote(k)}${sep}${write(obj[k], inner, pretty)}`)
  return `{${fields.join(',')}${newline}}`
}

/** Go sorts map keys by their UTF-8 bytes; for ASCII that is plain code-unit order. */
function compareKeys(a: string, b: string): number {
  if (isAscii(a) && isAscii(b)) return a < b ? -1 : a > b ? 1 : 0
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

const nonAscii = /[\u0080-\uffff]/

function isAscii(s: string): boolean {
  return !nonAscii.test(s)
}

/**
 * The JSON of immutable records, rendered once per record and kept as long as the record is
 * alive. Safe because LocalState never changes a record it handed out (DESIGN.md rule 1): a new
 * version is a new object, so a stale fragment can never be served.
 */
export class FragmentCache<K extends object> {
  readonly #compact = new WeakMap<K, string>()
  readonly #pretty = new WeakMap<K, string>()
  readonly #wire = new WeakMap<K, unknown>()

  constructor(private readonly render: (record: K) => unknown) {}

  /** The wire object of `record` (for filters), rendered once. */
  wire(record: K): unknown {
    let w = this.#wire.get(record)
    if (w === undefined) this.#wire.set(record, (w = this.render(record)))
    return w
  }

  /** `record` encoded as a value one level inside a map, as `encodeJson` would write it there. */
  fragment(record: K, pretty: boolean): string {
    const cache = pretty ? this.#pretty : this.#compact
    let text = cache.get(record)
    if (text === undefined)
      cache.set(record, (text = write(this.wire(record), pretty ? '\n    ' : '', pretty)))
    return text
  }
}

/** A Go map of records (keys sorted) encoded from cached fragments; equals `encodeJson(goMap(...))`. */
export function encodeRecordMap<K extends object>(
  pairs: readonly (readonly [string, K])[],
  cache: FragmentCache<K>,
  pretty: boolean,
): string {
  if (pairs.length === 0) return pretty ? '{}\n' : '{}'
  const ascii = pairs.every(([k]) => isAscii(k))
  const sorted = [...pairs].sort(
    ascii ? (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) : (a, b) => compareKeys(a[0], b[0]),
  )
  if (!pretty) return `{${sorted.map(([k, v]) => `${quote(k)}:${cache.fragment(v, false)}`).join(',')}}`
  return `{${sorted.map(([k, v]) => `\n    ${quote(k)}: ${cache.fragment(v, true)}`).join(',')}\n}\n`
}

const htmlUnsafe = /[<>&\u2028\u2029]/g

function quote(s: string): string {
  const json = JSON.stringify(s)
  htmlUnsafe.lastIndex = 0
  if (!htmlUnsafe.test(json)) return json
  return json.replace(htmlUnsafe, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
