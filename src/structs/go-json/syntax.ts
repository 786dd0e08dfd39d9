/**
 * Request text → `JsonValue`, with Go's scanner rules and error texts. Iterative: nesting is
 * bounded by Go's `maxNestingDepth`, and no input can overflow the stack.
 */
import { setOwn } from '../../lib/object.js'
import { fail } from './errors.js'
import { JsonNumber, type JsonValue } from './value.js'

/** Go's `maxNestingDepth` in encoding/json. */
export const MAX_DEPTH = 10_000

/**
 * Parses a request body like `json.NewDecoder(body).Decode(&v)`: leading whitespace is skipped,
 * only the first JSON value is read (trailing bytes are ignored, as Go's Decoder does), and errors
 * carry Go's texts: `EOF` for an empty body, `unexpected EOF` for a truncated one,
 * `invalid character 'x' looking for beginning of value` and friends for bad bytes.
 * Numbers come back as `JsonNumber`s holding their literal.
 */
export function decodeJsonBody(text: string): JsonValue {
  return parseFirstValue(text)
}

function badChar(c: string, context: string): never {
  fail(`invalid character ${quoteChar(c)} ${context}`)
}

function unexpectedEof(): never {
  fail('unexpected EOF')
}

const CHAR_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
}

/** Go's `quoteChar`: how its scanner shows an offending byte. */
function quoteChar(c: string): string {
  if (c === "'") return `'\\''`
  if (c === '"') return `'"'`
  const code = c.codePointAt(0) ?? 0
  if (code >= 0x80) {
    // Go reports the first UTF-8 byte of the character, shown as a Latin-1 rune.
    const firstByte = Buffer.from(c, 'utf8')[0] ?? 0
    return `'${String.fromCharCode(firstByte)}'`
  }
  const escaped = CHAR_ESCAPES[c]
  if (escaped !== undefined) return `'${escaped}'`
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`
  return `'${c}'`
}

const SPACE = 0x20
const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const QUOTE = 0x22
const BACKSLASH = 0x5c
const MINUS = 0x2d
const PLUS = 0x2b
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const LOWER_E = 0x65
const UPPER_E = 0x45

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

/** Characters a string literal may hold without further checks. */
// eslint-disable-next-line no-control-regex -- JSON strings may not hold raw control characters
const PLAIN_STRING_RUN = /[^"\\\u0000-\u001f]*/y

/** Integer literals this short are exact doubles; longer ones are judged by their text. */
const MAX_PLAIN_INT_DIGITS = 15
const TWO_POW_53 = 2 ** 53

/**
 * A number literal as a value: a plain number when the double holds it exactly as written
 * (canonical form, magnitude below 2^53), so that every decision and error text is the same
 * as from the literal; otherwise a `JsonNumber`.
 */
function numberValue(literal: string, simpleInt: boolean): number | JsonNumber {
  if (simpleInt && literal.length <= MAX_PLAIN_INT_DIGITS && literal !== '-0') return Number(literal)
  const d = Number(literal)
  return Math.abs(d) < TWO_POW_53 && String(d) === literal ? d : new JsonNumber(literal)
}

type Frame =
  | { readonly kind: 'object'; readonly members: Record<string, JsonValue>; key: string }
  | { readonly kind: 'array'; readonly items: JsonValue[] }

/** Reads the first JSON value of `text` with Go's scanner rules. */
function parseFirstValue(text: string): JsonValue {
  const n = text.length
  let i = 0
  const skipSpace = (): void => {
    for (let c = text.charCodeAt(i); c === SPACE || c === LF || c === CR || c === TAB; c = text.charCodeAt(i))
      i++
  }
  /** The code unit at `i`; the input ending here is `unexpected EOF`. */
  const code = (): number => {
    if (i >= n) unexpectedEof()
    return text.charCodeAt(i)
  }
  /** Fails on the character at `i` (a whole code point, as Go shows the first byte of its UTF-8). */
  const badCharHere: (context: string) => never = (context) => {
    badChar(String.fromCodePoint(text.codePointAt(i) ?? 0), context)
  }

  const scanString = (): string => {
    const start = i
    let escaped = false
    i++ // opening quote
    for (;;) {
      PLAIN_STRING_RUN.lastIndex = i
      PLAIN_STRING_RUN.test(text)
      i = PLAIN_STRING_RUN.lastIndex
      const c = code()
      if (c === QUOTE) {
        i++
        break
      }
      if (c === BACKSLASH) {
        escaped = true
        i++
        const e = code()
        if (e === 0x75 /* u */) {
          i++
          for (let k = 0; k < 4; k++) {
            if (!isHex(code())) badCharHere('in \\u hexadecimal character escape')
            i++
          }
          continue
        }
        if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) badCharHere('in string escape code')
        i++
        continue
      }
      badCharHere('in string literal') // a control character
    }
    // The literal is valid JSON by now; JSON.parse only resolves its escapes.
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1)
  }

  const scanNumber = (): number | JsonNumber => {
    const start = i
    let simpleInt = true
    if (text.charCodeAt(i) === MINUS) {
      i++
      if (!isDigit(code())) badCharHere('in numeric literal')
    }
    if (text.charCodeAt(i) === ZERO) i++
    else while (isDigit(text.charCodeAt(i))) i++
    if (text.charCodeAt(i) === DOT) {
      simpleInt = false
      i++
      if (!isDigit(code())) badCharHere('after decimal point in numeric literal')
      while (isDigit(text.charCodeAt(i))) i++
    }
    const e = text.charCodeAt(i)
    if (e === LOWER_E || e === UPPER_E) {
      simpleInt = false
      i++
      const sign = code()
      if (sign === PLUS || sign === MINUS) i++
      if (!isDigit(code())) badCharHere('in exponent of numeric literal')
      while (isDigit(text.charCodeAt(i))) i++
    }
    return numberValue(text.slice(start, i), simpleInt)
  }

  const scanLiteral = <T extends JsonValue>(word: 'true' | 'false' | 'null', value: T): T => {
    i++
    for (let k = 1; k < word.length; k++) {
      const want = word.charCodeAt(k)
      if (code() !== want) badCharHere(`in literal ${word} (expecting '${word[k] ?? ''}')`)
      i++
    }
    return value
  }

  skipSpace()
  if (i >= n) fail('EOF')
  const stack: Frame[] = []
  const push = (frame: Frame): void => {
    if (stack.length >= MAX_DEPTH) badCharHere('exceeded max depth')
    stack.push(frame)
  }
  /** After `{` or `,` inside an object: a key string, a colon, then a value follows. */
  const scanKey = (frame: { key: string }): void => {
    skipSpace()
    if (code() !== QUOTE) badCharHere('looking for beginning of object key string')
    frame.key = scanString()
    skipSpace()
    if (code() !== COLON) badCharHere('after object key')
    i++
  }
  /** Stores a finished value in its container; true when it was the top-level value. */
  const complete = (value: JsonValue): boolean => {
    const top = stack[stack.length - 1]
    if (top === undefined) return true
    if (top.kind === 'array') top.items.push(value)
    // `members` is a fresh plain object: only `__proto__` is an accessor there, and a plain
    // assignment is several times cheaper than defining the property.
    else if (top.key === '__proto__') setOwn(top.members, top.key, value)
    else top.members[top.key] = value
    return false
  }

  for (;;) {
    // A value starts here.
    skipSpace()
    const c = code()
    let value: JsonValue
    if (c === OPEN_BRACE) {
      const frame: Frame = { kind: 'object', members: {}, key: '' }
      push(frame)
      i++
      skipSpace()
      if (code() !== CLOSE_BRACE) {
        scanKey(frame)
        continue
      }
      stack.pop()
      i++
      value = frame.members
    } else if (c === OPEN_BRACKET) {
      const frame: Frame = { kind: 'array', items: [] }
      push(frame)
      i++
      skipSpace()
      if (code() !== CLOSE_BRACKET) continue
      stack.pop()
      i++
      value = frame.items
    } else if (c === QUOTE) value = scanString()
    else if (c === MINUS || isDigit(c)) value = scanNumber()
    else if (c === 0x74 /* t */) value = scanLiteral('true', true)
    else if (c === 0x66 /* f */) value = scanLiteral('false', false)
    else if (c === 0x6e /* n */) value = scanLiteral('null', null)
    else badCharHere('looking for beginning of value')

    // A value ended: close containers until one expects another element.
    for (;;) {
      if (complete(value)) return value
      const top = stack[stack.length - 1]
      if (top === undefined) return value
      skipSpace()
      const d = code()
      if (top.kind === 'object') {
        if (d === COMMA) {
          i++
          scanKey(top)
          break
        }
        if (d !== CLOSE_BRACE) badCharHere('after object key:value pair')
        stack.pop()
        i++
        value = top.members
      } else {
        if (d === COMMA) {
          i++
          break
        }
        if (d !== CLOSE_BRACKET) badCharHere('after array element')
        stack.pop()
        i++
        value = top.items
      }
    }
  }
}
