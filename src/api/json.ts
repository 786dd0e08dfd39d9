/**
 * JSON output as Go's `encoding/json` writes it for Consul: struct fields in declaration order
 * (the insertion order of plain objects), map keys sorted (objects made with `goMap`), `<`, `>`,
 * `&`, U+2028 and U+2029 escaped, and `?pretty` output indented by 4 spaces plus a newline.
 */

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
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
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

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

const htmlUnsafe = /[<>&\u2028\u2029]/g

function quote(s: string): string {
  return JSON.stringify(s).replace(htmlUnsafe, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
