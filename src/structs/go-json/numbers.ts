/**
 * Numbers into Go numeric fields, as `encoding/json`'s `literalStore` does it: the literal must
 * parse as the field's type (`strconv.ParseInt`, `ParseUint`, `ParseFloat`) and fit its range,
 * else `json: cannot unmarshal number <literal> into Go struct field … of type <T>`.
 *
 * A `JsonNumber` (request text) is judged by its literal. A plain `number` (a config file parsed
 * elsewhere) has no literal left: it must be whole and in range for integer fields.
 */
import { numberError, typeError, type FieldContext } from './errors.js'
import type { IntegerType } from './schema.js'
import { JsonNumber } from './value.js'

/**
 * The longest literal an in-range integer can have: 20 digits (`18446744073709551615`) or a sign
 * and 19. Anything longer overflows every Go integer type, so it is refused without parsing.
 */
const MAX_INTEGER_LITERAL = 20

function range(t: IntegerType): { readonly min: bigint; readonly max: bigint } {
  const bits = BigInt(t.bits)
  return t.kind === 'int'
    ? { min: -(1n << (bits - 1n)), max: (1n << (bits - 1n)) - 1n }
    : { min: 0n, max: (1n << bits) - 1n }
}

function inRange(n: bigint, t: IntegerType): boolean {
  const { min, max } = range(t)
  return n >= min && n <= max
}

/** `strconv.ParseInt(s, 10, 64)` / `ParseUint` then the width check; undefined when Go refuses. */
function parseIntegerLiteral(literal: string, t: IntegerType): bigint | undefined {
  if (literal.length > MAX_INTEGER_LITERAL) return undefined
  if (!(t.kind === 'int' ? /^-?\d+$/ : /^\d+$/).test(literal)) return undefined
  const n = BigInt(literal)
  return inRange(n, t) ? n : undefined
}

/**
 * An integer field. Returns the nearest double: values beyond ±2^53 (which Go accepts for an
 * int64) lose their lowest digits.
 */
export function decodeInteger(value: unknown, t: IntegerType, goType: string, where: FieldContext): number {
  if (value instanceof JsonNumber) {
    const n = parseIntegerLiteral(value.literal, t)
    if (n === undefined) numberError(value.literal, goType, where)
    return Number(n)
  }
  if (typeof value !== 'number') typeError(value, goType, where)
  if (!Number.isInteger(value) || !inRange(BigInt(value), t)) numberError(String(value), goType, where)
  return value === 0 ? 0 : value // no -0
}

/** A `float64` field: `strconv.ParseFloat(s, 64)`, which refuses magnitudes beyond float64. */
export function decodeFloat(value: unknown, goType: string, where: FieldContext): number {
  if (value instanceof JsonNumber) {
    const n = value.toNumber()
    if (!Number.isFinite(n)) numberError(value.literal, goType, where)
    return n
  }
  if (typeof value !== 'number') typeError(value, goType, where)
  if (!Number.isFinite(value)) numberError(String(value), goType, where)
  return value
}

/** Go's `math.MinInt64`, exact as a double. */
const MIN_INT64 = -(2 ** 63)
const TWO_POW_63 = 2 ** 63

/**
 * A duration given as a number of nanoseconds. Consul decodes it into an `interface{}` (a
 * float64: `1e400` is refused as a `float64`) and converts with `time.Duration(f)`: truncated
 * toward zero, and a value outside int64 becomes `math.MinInt64`, as that conversion yields on
 * amd64, Consul's release platform. Validation then treats it as any negative duration: an
 * interval or TTL is refused, a timeout takes its default, deregistration is off.
 */
export function durationFromNumber(value: JsonNumber | number, where: FieldContext): number {
  const ns = Math.trunc(decodeFloat(value, 'float64', where))
  if (ns >= TWO_POW_63 || ns < MIN_INT64) return MIN_INT64
  return ns === 0 ? 0 : ns // no -0
}
