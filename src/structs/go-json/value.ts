/**
 * The JSON value model of request bodies. Numbers keep the text they were written as, because Go
 * decides what a number means only once it knows the field's type: `1e3` is a valid float64 but
 * not an int, and `99999999999999999999` overflows an int64 although a double holds it.
 */
import { setOwn } from '../../lib/object.js'

/**
 * A JSON number as written (Go's `json.Number`). Read-only; not frozen, because a body may hold
 * millions and freezing each one doubles the parse time.
 */
export class JsonNumber {
  constructor(
    /** The literal exactly as in the text: `-0`, `1.50`, `1E3`, `99999999999999999999`. */
    readonly literal: string,
  ) {}

  /** The nearest double, as Go's `strconv.ParseFloat(literal, 64)`; ±Infinity when out of range. */
  toNumber(): number {
    return Number(this.literal)
  }
}

/**
 * What `decodeJsonBody` returns. A number is a plain `number` when that double is exactly what
 * was written (canonical form, magnitude below 2^53), else a `JsonNumber`. Objects own their
 * keys (`__proto__` included).
 */
export type JsonValue =
  null | boolean | string | number | JsonNumber | JsonValue[] | { [key: string]: JsonValue }

/** A JSON object (not an array, not a number). */
export function isJsonObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber)
  )
}

/** The word Go's `UnmarshalTypeError` uses for a JSON value's kind. */
export function jsonKind(value: unknown): 'string' | 'bool' | 'number' | 'array' | 'null' | 'object' {
  if (typeof value === 'string') return 'string'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number' || value instanceof JsonNumber) return 'number'
  if (Array.isArray(value)) return 'array'
  if (value === null) return 'null'
  return 'object'
}

/**
 * A deep copy of a JSON-compatible value with every object and array frozen, and every
 * `JsonNumber` replaced by `toNumber(n)` (by default its double, which is what Go stores in an
 * `interface{}`). Iterative, so deep input cannot overflow the stack; shared sub-objects stay
 * shared, so even a cyclic input (which JSON cannot produce) terminates.
 */
export function frozenJsonCopy(
  value: unknown,
  toNumber: (n: JsonNumber) => number = (n) => n.toNumber(),
): unknown {
  if (value instanceof JsonNumber) return toNumber(value)
  if (typeof value !== 'object' || value === null) return value
  const copies = new Map<object, object>()
  const stack: [object, object][] = []
  const copyOf = (src: object): object => {
    const known = copies.get(src)
    if (known !== undefined) return known
    const shell = Array.isArray(src) ? [] : {}
    copies.set(src, shell)
    stack.push([src, shell])
    return shell
  }
  const root = copyOf(value)
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [src, dst] = next
    for (const [k, v] of Object.entries(src) as [string, unknown][]) {
      const out: unknown =
        v instanceof JsonNumber ? toNumber(v) : typeof v === 'object' && v !== null ? copyOf(v) : v
      if (Array.isArray(dst)) dst.push(out)
      else setOwn(dst as Record<string, unknown>, k, out)
    }
  }
  for (const copy of copies.values()) Object.freeze(copy)
  return root
}
