/**
 * The few Go `strconv` behaviours the filter language exposes to users: how literals are
 * unquoted, how values are coerced to a field's type, and how text is quoted in error messages.
 * Pure functions; each mirrors the Go function named in its doc comment, error texts included.
 */
import { isGoPrintRune } from '../lib/unicode.js'

/** Go's `strconv.Quote` (what `%q` prints): escapes quotes, backslashes and unprintable runes. */
export function goQuote(text: string): string {
  let out = '"'
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0
    if (ch === '"' || ch === '\\') {
      out += `\\${ch}`
    } else if (cp >= 0x20 && cp < 0x7f) {
      out += ch
    } else if (cp >= 0x80 && isGoPrintRune(ch)) {
      out += ch
    } else {
      out += escapeRune(cp)
    }
  }
  return `${out}"`
}

function escapeRune(cp: number): string {
  switch (cp) {
    case 0x07:
      return '\\a'
    case 0x08:
      return '\\b'
    case 0x0c:
      return '\\f'
    case 0x0a:
      return '\\n'
    case 0x0d:
      return '\\r'
    case 0x09:
      return '\\t'
    case 0x0b:
      return '\\v'
  }
  if (cp < 0x80) return `\\x${cp.toString(16).padStart(2, '0')}`
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`
  return `\\U${cp.toString(16).padStart(8, '0')}`
}

/** Thrown by the parsers below; `message` is Go's error text. */
export class GoSyntaxError extends Error {}

/**
 * Go's `strconv.Unquote` for a `"…"` or `` `…` `` literal (the filter grammar never passes any
 * other form). Escapes are decoded to bytes and the result read as UTF-8, as Go strings are bytes.
 * Throws `GoSyntaxError('invalid syntax')` where Go returns `strconv.ErrSyntax`.
 */
export function goUnquote(literal: string): string {
  const quote = literal[0]
  if (literal.length < 2 || literal[literal.length - 1] !== quote) throw new GoSyntaxError('invalid syntax')
  const body = literal.slice(1, -1)
  if (quote === '`') {
    if (body.includes('`')) throw new GoSyntaxError('invalid syntax')
    return body.replaceAll('\r', '')
  }
  if (quote !== '"' || body.includes('\n')) throw new GoSyntaxError('invalid syntax')
  if (!body.includes('\\') && !body.includes('"')) return body
  const bytes: number[] = []
  const encoder = new TextEncoder()
  const pushRune = (cp: number): void => {
    for (const b of encoder.encode(String.fromCodePoint(cp))) bytes.push(b)
  }
  const cps = Array.from(body, (ch) => ch.codePointAt(0) ?? 0)
  let i = 0
  const bad = (): never => {
    throw new GoSyntaxError('invalid syntax')
  }
  while (i < cps.length) {
    const c = cps[i++] ?? bad()
    if (c === 0x22) bad()
    if (c !== 0x5c) {
      pushRune(c)
      continue
    }
    const e = cps[i++] ?? bad()
    const simple = simpleEscapes.get(e)
    if (simple !== undefined) {
      bytes.push(simple)
      continue
    }
    switch (String.fromCodePoint(e)) {
      case 'x':
      case 'u':
      case 'U': {
        const digits = e === 0x78 ? 2 : e === 0x75 ? 4 : 8
        let v = 0
        for (let k = 0; k < digits; k++) {
          const d = hexValue(cps[i++] ?? -1)
          if (d < 0) bad()
          v = v * 16 + d
        }
        if (e === 0x78) bytes.push(v)
        else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) bad()
        else pushRune(v)
        break
      }
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        let v = e - 0x30
        for (let k = 0; k < 2; k++) {
          const d = (cps[i++] ?? -1) - 0x30
          if (d < 0 || d > 7) bad()
          v = v * 8 + d
        }
        if (v > 255) bad()
        bytes.push(v)
        break
      }
      default:
        bad()
    }
  }
  return new TextDecoder().decode(Uint8Array.from(bytes))
}

const simpleEscapes = new Map<number, number>([
  [0x61, 0x07], // \a
  [0x62, 0x08], // \b
  [0x66, 0x0c], // \f
  [0x6e, 0x0a], // \n
  [0x72, 0x0d], // \r
  [0x74, 0x09], // \t
  [0x76, 0x0b], // \v
  [0x5c, 0x5c], // \\
  [0x22, 0x22], // \"
])

/** The value of a hex digit code point, or -1. */
export function hexValue(cp: number): number {
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30
  if (cp >= 0x61 && cp <= 0x66) return cp - 0x61 + 10
  if (cp >= 0x41 && cp <= 0x46) return cp - 0x41 + 10
  return -1
}

const int64Max = (1n << 63n) - 1n

/**
 * Go's `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`/`0o`/`0b`/leading-`0` prefixes
 * and `_` separators as in Go literals. Throws `GoSyntaxError` with Go's message.
 */
export function goParseInt(s: string): bigint {
  const fail = (why: 'invalid syntax' | 'value out of range'): never => {
    throw new GoSyntaxError(`strconv.ParseInt: parsing ${goQuote(s)}: ${why}`)
  }
  let t = s
  let negative = false
  if (t.startsWith('+') || t.startsWith('-')) {
    negative = t.startsWith('-')
    t = t.slice(1)
  }
  if (t === '') fail('invalid syntax')
  let base = 10n
  if (t[0] === '0') {
    const p = t[1]?.toLowerCase()
    if (t.length >= 3 && (p === 'b' || p === 'o' || p === 'x')) {
      base = p === 'b' ? 2n : p === 'o' ? 8n : 16n
      t = t.slice(2)
    } else {
      base = 8n
      t = t.slice(1)
    }
  }
  let n = 0n
  let underscores = false
  for (const ch of t) {
    if (ch === '_') {
      underscores = true
      continue
    }
    const d = hexValue(ch.codePointAt(0) ?? -1)
    if (d < 0 || BigInt(d) >= base) fail('invalid syntax')
    n = n * base + BigInt(d)
    if (n >= 1n << 64n) fail('value out of range')
  }
  if (underscores && !underscoreOk(s)) fail('invalid syntax')
  if ((!negative && n > int64Max) || (negative && n > int64Max + 1n)) fail('value out of range')
  return negative ? -n : n
}

/** Go's `underscoreOK`: `_` only between digits (or after a base prefix). */
function underscoreOk(s: string): boolean {
  let saw = '^'
  let t = s
  if (t.startsWith('+') || t.startsWith('-')) t = t.slice(1)
  let i = 0
  let hex = false
  const p = t[1]?.toLowerCase()
  if (t.length >= 2 && t[0] === '0' && (p === 'b' || p === 'o' || p === 'x')) {
    i = 2
    saw = '0'
    hex = p === 'x'
  }
  for (; i < t.length; i++) {
    const c = t[i] ?? ''
    if ((c >= '0' && c <= '9') || (hex && c.toLowerCase() >= 'a' && c.toLowerCase() <= 'f')) {
      saw = '0'
    } else if (c === '_') {
      if (saw !== '0') return false
      saw = '_'
    } else {
      if (saw === '_') return false
      saw = '!'
    }
  }
  return saw !== '_'
}

const goBools = new Map<string, boolean>([
  ['1', true],
  ['t', true],
  ['T', true],
  ['TRUE', true],
  ['true', true],
  ['True', true],
  ['0', false],
  ['f', false],
  ['F', false],
  ['FALSE', false],
  ['false', false],
  ['False', false],
])

/** Go's `strconv.ParseBool`. Throws `GoSyntaxError` with Go's message. */
export function goParseBool(s: string): boolean {
  const b = goBools.get(s)
  if (b === undefined) throw new GoSyntaxError(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`)
  return b
}
