/**
 * A parser for the HCL subset found in Consul configuration files: `key = value` (or `key:
 * value` inside objects), double-quoted strings with escapes (`${...}` interpolations are kept
 * literally), heredocs (`<<EOF`, `<<-EOF`), numbers, `true`/`false`/`null`, lists, objects
 * `{ }`, blocks `name { }` and labeled blocks `name "label" { }`, and `#`, `//`, `/* *\/`
 * comments. A key given several object values (a repeated block) becomes a list of them, as
 * HCL 1 decodes it; a repeated scalar keeps its last value. The result is plain JSON data.
 */
import { setOwn as define } from '../lib/object.js'

export type HclValue = string | number | boolean | null | readonly HclValue[] | HclObject
export interface HclObject {
  readonly [key: string]: HclValue
}

/** A syntax error; the message names the source, line and column (1-based). */
export class HclSyntaxError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${source}:${line}:${column}: ${detail}`)
    this.name = 'HclSyntaxError'
  }
}

type TokenKind = 'ident' | 'string' | 'number' | 'heredoc' | 'punct' | 'eof'

interface Token {
  readonly kind: TokenKind
  /** Decoded value for strings/heredocs, source text otherwise. */
  readonly text: string
  readonly line: number
  readonly column: number
}

/** Parses an HCL document into a plain object. `source` names it in errors. */
export function parseHcl(text: string, source = '<hcl>'): HclObject {
  const parser = new Parser(tokenize(text, source), source)
  return parser.document()
}

// ---- lexer ---------------------------------------------------------------------------------

function tokenize(src: string, source: string): Token[] {
  const tokens: Token[] = []
  let pos = 0
  let line = 1
  let col = 1
  const err = (detail: string, l = line, c = col): never => {
    throw new HclSyntaxError(source, l, c, detail)
  }
  const advance = (n: number): void => {
    for (let k = 0; k < n; k++) {
      if (src[pos] === '\n') {
        line++
        col = 1
      } else {
        col++
      }
      pos++
    }
  }

  while (pos < src.length) {
    const ch = src[pos] ?? ''
    if (ch === '\n' || ch === ' ' || ch === '\t' || ch === '\r' || ch === '\ufeff') {
      advance(1)
      continue
    }
    if (ch === '#' || (ch === '/' && src[pos + 1] === '/')) {
      while (pos < src.length && src[pos] !== '\n') advance(1)
      continue
    }
    if (ch === '/' && src[pos + 1] === '*') {
      const l = line
      const c = col
      const end = src.indexOf('*/', pos + 2)
      if (end === -1) err('unterminated comment', l, c)
      advance(end + 2 - pos)
      continue
    }
    const startLine = line
    const startCol = col
    if ('{}[]=,:'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, line: startLine, column: startCol })
      advance(1)
      continue
    }
    if (ch === '"') {
      const { value, length } = readString(src, pos, (d, offset) => {
        const at = positionAt(src, offset)
        return err(d, at.line, at.column)
      })
      tokens.push({ kind: 'string', text: value, line: startLine, column: startCol })
      advance(length)
      continue
    }
    if (ch === '<' && src[pos + 1] === '<') {
      const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n/.exec(src.slice(pos))
      if (m === null) err('invalid heredoc anchor')
      const [head = '', dash = '', marker = ''] = m ?? []
      const bodyStart = pos + head.length
      const lines: string[] = []
      let cursor = bodyStart
      let found = false
      while (cursor <= src.length) {
        const nl = src.indexOf('\n', cursor)
        const rawLine = src.slice(cursor, nl === -1 ? src.length : nl).replace(/\r$/, '')
        if (rawLine.trim() === marker) {
          cursor += rawLine.length
          found = true
          break
        }
        lines.push(rawLine)
        if (nl === -1) break
        cursor = nl + 1
      }
      if (!found) err(`heredoc not terminated: missing ${marker}`, startLine, startCol)
      let body = lines
      if (dash === '-') {
        const indents = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)?.[0].length ?? 0)
        const strip = indents.length > 0 ? Math.min(...indents) : 0
        body = lines.map((l) => l.slice(Math.min(strip, /^[ \t]*/.exec(l)?.[0].length ?? 0)))
      }
      const value = body.map((l) => `${l}\n`).join('')
      tokens.push({ kind: 'heredoc', text: value, line: startLine, column: startCol })
      advance(cursor - pos)
      continue
    }
    const num = /^-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(src.slice(pos))
    if (num !== null && (ch === '-' || (ch >= '0' && ch <= '9'))) {
      const text = num[0]
      const next = src[pos + text.length] ?? ''
      if (/[A-Za-z_]/.test(next)) err(`invalid number ${JSON.stringify(text + next)}`)
      tokens.push({ kind: 'number', text, line: startLine, column: startCol })
      advance(text.length)
      continue
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(src.slice(pos))
    if (ident !== null) {
      tokens.push({ kind: 'ident', text: ident[0], line: startLine, column: startCol })
      advance(ident[0].length)
      continue
    }
    err(`illegal character ${JSON.stringify(ch)}`)
  }
  tokens.push({ kind: 'eof', text: '', line, column: col })
  return tokens
}

/** Reads a double-quoted string starting at `start`; returns its value and source length. */
function readString(
  src: string,
  start: number,
  err: (detail: string, offset: number) => never,
): { value: string; length: number } {
  let out = ''
  let i = start + 1
  for (;;) {
    const c = src[i]
    if (c === undefined || c === '\n') return err('unterminated string', start)
    if (c === '"') return { value: out, length: i + 1 - start }
    if (c === '\\') {
      const e = src[i + 1]
      switch (e) {
        case 'n':
          out += '\n'
          break
        case 't':
          out += '\t'
          break
        case 'r':
          out += '\r'
          break
        case '"':
          out += '"'
          break
        case '\\':
          out += '\\'
          break
        case 'u':
        case 'U': {
          const len = e === 'u' ? 4 : 8
          const hex = src.slice(i + 2, i + 2 + len)
          if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) return err('invalid unicode escape', i)
          out += String.fromCodePoint(parseInt(hex, 16))
          i += len
          break
        }
        default:
          return err(`invalid escape sequence \\${e ?? ''}`, i)
      }
      i += 2
      continue
    }
    if ((c === '$' || c === '%') && src[i + 1] === '{') {
      const end = skipTemplate(src, i + 2, err)
      out += src.slice(i, end)
      i = end
      continue
    }
    out += c
    i++
  }
}

/** Skips a `${ ... }` interpolation body (nested braces and strings), returning the index after `}`. */
function skipTemplate(src: string, from: number, err: (detail: string, offset: number) => never): number {
  let depth = 1
  let i = from
  while (i < src.length) {
    const c = src[i]
    if (c === '\n') break
    if (c === '"') {
      i++
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\n') return err('unterminated string in interpolation', i)
        i += src[i] === '\\' ? 2 : 1
      }
      i++
      continue
    }
    if (c === '{') depth++
    if (c === '}') {
      depth--
      if (depth === 0) return i + 1
    }
    i++
  }
  return err('unterminated interpolation', from - 2)
}

function positionAt(src: string, offset: number): { line: number; column: number } {
  let line = 1
  let column = 1
  for (let i = 0; i < offset && i < src.length; i++) {
    if (src[i] === '\n') {
      line++
      column = 1
    } else {
      column++
    }
  }
  return { line, column }
}

// ---- parser --------------------------------------------------------------------------------

class Parser {
  #pos = 0
  /** Lists created by repeating a key (as opposed to list literals), which further repeats extend. */
  readonly #repeats = new WeakSet<HclValue[]>()

  constructor(
    private readonly tokens: readonly Token[],
    private readonly source: string,
  ) {}

  document(): HclObject {
    const obj = this.body('eof')
    return obj
  }

  #peek(offset = 0): Token {
    return this.tokens[Math.min(this.#pos + offset, this.tokens.length - 1)] as Token
  }

  #next(): Token {
    const t = this.#peek()
    if (this.#pos < this.tokens.length - 1) this.#pos++
    return t
  }

  #fail(t: Token, detail: string): never {
    throw new HclSyntaxError(this.source, t.line, t.column, detail)
  }

  #isPunct(t: Token, p: string): boolean {
    return t.kind === 'punct' && t.text === p
  }

  /** Items until `}` (consumed by the caller) or end of input. */
  body(end: 'eof' | '}'): HclObject {
    const obj: Record<string, HclValue> = {}
    for (;;) {
      const t = this.#peek()
      if (end === 'eof' && t.kind === 'eof') return obj
      if (end === '}' && this.#isPunct(t, '}')) return obj
      if (t.kind === 'eof') this.#fail(t, 'expected "}" before end of input')
      if (this.#isPunct(t, ',')) {
        this.#next()
        continue
      }
      this.#item(obj)
    }
  }

  #item(obj: Record<string, HclValue>): void {
    const keyTok = this.#next()
    if (keyTok.kind !== 'ident' && keyTok.kind !== 'string') {
      this.#fail(keyTok, `expected a key, found ${describe(keyTok)}`)
    }
    const key = keyTok.text
    const after = this.#peek()
    if (this.#isPunct(after, '=') || this.#isPunct(after, ':')) {
      this.#next()
      const value = this.#value()
      this.#assign(obj, key, value)
      return
    }
    const labels: string[] = []
    while (this.#peek().kind === 'string' || this.#peek().kind === 'ident') labels.push(this.#next().text)
    const open = this.#next()
    if (!this.#isPunct(open, '{')) {
      this.#fail(open, `expected "=" or "{" after key ${JSON.stringify(key)}, found ${describe(open)}`)
    }
    let value: HclValue = this.body('}')
    this.#next()
    for (let i = labels.length - 1; i >= 0; i--) value = entry(labels[i] ?? '', value)
    this.#assign(obj, key, value)
  }

  #value(): HclValue {
    const t = this.#next()
    switch (t.kind) {
      case 'string':
      case 'heredoc':
        return t.text
      case 'number': {
        const n = Number(t.text)
        if (!Number.isFinite(n)) this.#fail(t, `invalid number ${t.text}`)
        return n
      }
      case 'ident':
        if (t.text === 'true') return true
        if (t.text === 'false') return false
        if (t.text === 'null') return null
        return this.#fail(t, `unexpected identifier ${JSON.stringify(t.text)}: expressions are not supported`)
      case 'punct':
        if (t.text === '[') return this.#list()
        if (t.text === '{') {
          const obj = this.body('}')
          this.#next()
          return obj
        }
        return this.#fail(t, `expected a value, found ${describe(t)}`)
      case 'eof':
        return this.#fail(t, 'expected a value, found end of input')
    }
  }

  #list(): HclValue[] {
    const out: HclValue[] = []
    for (;;) {
      const t = this.#peek()
      if (this.#isPunct(t, ']')) {
        this.#next()
        return out
      }
      if (t.kind === 'eof') this.#fail(t, 'expected "]" before end of input')
      out.push(this.#value())
      const sep = this.#peek()
      if (this.#isPunct(sep, ',')) this.#next()
      else if (!this.#isPunct(sep, ']')) this.#fail(sep, `expected "," or "]", found ${describe(sep)}`)
    }
  }

  #assign(obj: Record<string, HclValue>, key: string, value: HclValue): void {
    if (!Object.hasOwn(obj, key)) {
      define(obj, key, value)
      return
    }
    const prev = obj[key] ?? null
    const repeated = Array.isArray(prev) ? (prev as HclValue[]) : undefined
    if (repeated !== undefined && this.#repeats.has(repeated)) {
      if (isObject(value)) {
        repeated.push(value)
        return
      }
    } else if (isObject(prev) && isObject(value)) {
      const list: HclValue[] = [prev, value]
      this.#repeats.add(list)
      define(obj, key, list)
      return
    }
    define(obj, key, value)
  }
}

function isObject(v: HclValue): v is HclObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function entry(key: string, value: HclValue): HclObject {
  const o: Record<string, HclValue> = {}
  define(o, key, value)
  return o
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input'
    case 'string':
      return `string ${JSON.stringify(t.text)}`
    case 'heredoc':
      return 'heredoc'
    default:
      return JSON.stringify(t.text)
  }
}
