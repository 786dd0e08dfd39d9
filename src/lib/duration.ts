/**
 * Go `time.Duration` parsing and formatting, as Consul clients send and expect them.
 * vigil keeps durations as milliseconds (a float where sub-millisecond precision matters).
 */

const unitNs: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
}

export class InvalidDurationError extends Error {
  constructor(readonly input: string) {
    super(`time: invalid duration ${JSON.stringify(input)}`)
    this.name = 'InvalidDurationError'
  }
}

/** Parses a Go duration string ("1h2m3.5s", "300ms", "-1.5h", "0") into nanoseconds. */
export function parseGoDurationNs(input: string): number {
  let s = input
  let sign = 1
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1
    s = s.slice(1)
  }
  if (s === '0') return 0
  if (s === '') throw new InvalidDurationError(input)
  let total = 0
  const part = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/
  while (s.length > 0) {
    const m = part.exec(s)
    if (m === null) throw new InvalidDurationError(input)
    const [whole, intPart = '', fracPart, unit = ''] = m
    if (intPart === '' && (fracPart === undefined || fracPart === '')) throw new InvalidDurationError(input)
    const scale = unitNs[unit]
    if (scale === undefined) throw new InvalidDurationError(input)
    const value = Number(`${intPart === '' ? '0' : intPart}.${fracPart ?? '0'}`)
    total += value * scale
    s = s.slice(whole.length)
  }
  if (!Number.isFinite(total) || total > 9.223372036854776e18) throw new InvalidDurationError(input)
  return sign * Math.round(total)
}

/** Parses a Go duration string into milliseconds. */
export function parseGoDurationMs(input: string): number {
  return parseGoDurationNs(input) / 1e6
}

/** Formats nanoseconds like Go's `Duration.String()`: "0s", "1.5s", "1m30s", "1h0m0s", "300ms". */
export function formatGoDurationNs(nsInput: number): string {
  let ns = Math.round(nsInput)
  if (ns === 0) return '0s'
  const neg = ns < 0
  if (neg) ns = -ns
  let out: string
  if (ns < 1e9) {
    if (ns < 1e3) out = `${ns}ns`
    else if (ns < 1e6) out = `${trimFrac(ns / 1e3)}µs`
    else out = `${trimFrac(ns / 1e6)}ms`
  } else {
    const h = Math.floor(ns / 3600e9)
    const rem = ns - h * 3600e9
    const m = Math.floor(rem / 60e9)
    const sNs = rem - m * 60e9
    const secs = `${trimFrac(sNs / 1e9)}s`
    if (h > 0) out = `${h}h${m}m${secs}`
    else if (m > 0) out = `${m}m${secs}`
    else out = secs
  }
  return neg ? `-${out}` : out
}

export function formatGoDurationMs(ms: number): string {
  return formatGoDurationNs(ms * 1e6)
}

/** Up to 9 fractional digits, trailing zeros removed, as Go prints them. */
function trimFrac(value: number): string {
  const fixed = value.toFixed(9)
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed
}
