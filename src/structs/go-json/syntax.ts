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

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r'
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9'
}

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c)
}

type Frame =
  | { readonly kind: 'object'; readonly members: Record<string, JsonValue>; key: string }
  | { readonly kind: 'array'; readonly items: JsonValue[] }

/** Reads the first JSON value of `text` with Go's scanner rules. */
function parseFirstValue(text: string): JsonValue {
  const n = text.length
  let i = 0
  const skipSpace = (): void => {
    while (i < n && isSpace(text[i])) i++
  }
  const char = (): string => {
    const c = text[i]
    if (c === undefined) unexpectedEof()
    return c
  }

  const scanString = (): string => {
    const start = i
    let escaped = false
    i++ // opening quote
    for (;;) {
      const c = char()
      if (c === '"') {
        i++
        break
      }
      if (c === '\\') {
        escaped = true
        i++
        const e = char()
        if (e === 'u') {
          i++
          for (let k = 0; k < 4; k++) {
            const h = char()
            if (!isHex(h)) badChar(h, 'in \\u hexadecimal character escape')
            i++
          }
          continue
        }
        if (!'"\\/bfnrt'.includes(e)) badChar(e, 'in string escape code')
        i++
        continue
      }
      if (c < ' ') badChar(c, 'in string literal')
      i++
    }
    // The literal is valid JSON by now; JSON.parse only resolves its escapes.
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1)
  }

  const scanNumber = (): JsonNumber => {
    const start = i
    if (text[i] === '-') {
      i++
      const c = char()
      if (!isDigit(c)) badChar(c, 'in numeric literal')
    }
    if (text[i] === '0') i++
    else while (isDigit(text[i])) i++
    if (text[i] === '.') {
      i++
      const c = char()
      if (!isDigit(c)) badChar(c, 'after decimal point in numeric literal')
      while (isDigit(text[i])) i++
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++
      let c = char()
      if (c === '+' || c === '-') {
        i++
        c = char()
      }
      if (!isDigit(c)) badChar(c, 'in exponent of numeric literal')
      while (isDigit(text[i])) i++
    }
    return new JsonNumber(text.slice(start, i))
  }

  const scanLiteral = <T extends JsonValue>(word: 'true' | 'false' | 'null', value: T): T => {
    i++
    for (let k = 1; k < word.length; k++) {
      const c = char()
      const want = word[k] ?? ''
      if (c !== want) badChar(c, `in literal ${word} (expecting '${want}')`)
      i++
    }
    return value
  }

  skipSpace()
  if (i >= n) fail('EOF')
  const stack: Frame[] = []
  const push = (frame: Frame, c: string): void => {
    if (stack.length >= MAX_DEPTH) badChar(c, 'exceeded max depth')
    stack.push(frame)
  }
  /** After `{` or `,` inside an object: a key string, a colon, then a value follows. */
  const scanKey = (frame: { key: string }): void => {
    skipSpace()
    const c = char()
    if (c !== '"') badChar(c, 'looking for beginning of object key string')
    frame.key = scanString()
    skipSpace()
    const colon = char()
    if (colon !== ':') badChar(colon, 'after object key')
    i++
  }
  /** Stores a finished value in its container; true when it was the top-level value. */
  const complete = (value: JsonValue): boolean => {
    const top = stack[stack.length - 1]
    if (top === undefined) return true
    if (top.kind === 'array') top.items.push(value)
    else setOwn(top.members, top.key, value)
    return false
  }

  for (;;) {
    // A value starts here.
    skipSpace()
    const c = char()
    let value: JsonValue | undefined
    if (c === '{') {
      const frame: Frame = { kind: 'object', members: {}, key: '' }
      push(frame, c)
      i++
      skipSpace()
      if (char() === '}') {
        stack.pop()
        i++
        value = frame.members
      } else {
        scanKey(frame)
        continue
      }
    } else if (c === '[') {
      const frame: Frame = { kind: 'array', items: [] }
      push(frame, c)
      i++
      skipSpace()
      if (char() === ']') {
        stack.pop()
        i++
        value = frame.items
      } else {
        continue
      }
    } else if (c === '"') value = scanString()
    else if (c === '-' || isDigit(c)) value = scanNumber()
    else if (c === 't') value = scanLiteral('true', true)
    else if (c === 'f') value = scanLiteral('false', false)
    else if (c === 'n') value = scanLiteral('null', null)
    else badChar(c, 'looking for beginning of value')

    // A value ended: close containers until one expects another element.
    for (;;) {
      if (complete(value)) return value
      const top = stack[stack.length - 1]
      if (top === undefined) return value
      skipSpace()
      const d = char()
      if (top.kind === 'object') {
        if (d === ',') {
          i++
          scanKey(top)
          break
        }
        if (d !== '}') badChar(d, 'after object key:value pair')
        stack.pop()
        i++
        value = top.members
      } else {
        if (d === ',') {
          i++
          break
        }
        if (d !== ']') badChar(d, 'after array element')
        stack.pop()
        i++
        value = top.items
      }
    }
  }
}
