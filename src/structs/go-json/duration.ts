/** Consul's duration fields: a Go duration string, or a JSON number of nanoseconds. */
import { InvalidDurationError, parseGoDurationNs } from '../../lib/duration.js'
import { fail, typeError, type FieldContext } from './errors.js'
import { durationFromNumber } from './numbers.js'
import { JsonNumber } from './value.js'

/**
 * A duration field: a string goes through Go's `time.ParseDuration`, a number is nanoseconds
 * (see `durationFromNumber`). Returns nanoseconds.
 */
export function decodeDuration(value: unknown, goType: string, where: FieldContext): number {
  if (typeof value === 'number' || value instanceof JsonNumber) return durationFromNumber(value, where)
  if (typeof value !== 'string') typeError(value, goType, where)
  return parseDurationForDecode(value)
}

const DURATION_UNITS: ReadonlySet<string> = new Set(['ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h'])

/** Go's `time.ParseDuration`, with its error texts, as a `DecodeError`. Returns nanoseconds. */
export function parseDurationForDecode(text: string): number {
  try {
    return parseGoDurationNs(text)
  } catch (err) {
    if (!(err instanceof InvalidDurationError)) throw err
    fail(goDurationError(text))
  }
}

/** Which of Go's three texts `time.ParseDuration` would give for an input vigil rejected. */
function goDurationError(text: string): string {
  const quoted = JSON.stringify(text)
  const invalid = `time: invalid duration ${quoted}`
  let s = text.replace(/^[-+]/, '')
  if (s === '') return invalid
  while (s !== '') {
    const num = /^\d*(?:\.\d*)?/.exec(s)?.[0] ?? ''
    if (num === '' || num === '.') return invalid
    s = s.slice(num.length)
    const unit = /^[^\d.]*/.exec(s)?.[0] ?? ''
    if (unit === '') return `time: missing unit in duration ${quoted}`
    if (!DURATION_UNITS.has(unit)) return `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`
    s = s.slice(unit.length)
  }
  return invalid
}
