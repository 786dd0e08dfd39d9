/**
 * JSON decoding that behaves like Go's `encoding/json` as Consul uses it: `json.Decoder` with
 * `DisallowUnknownFields`, Go's syntax error texts, Go's case-insensitive key matching and
 * `UnmarshalTypeError` wording. Every failure is a `DecodeError` (`Request decode failed: …`).
 *
 * Two layers: `decodeJsonBody` turns request text into a plain JSON value; `decodeStruct` checks a
 * plain value (from a body or a config file) against a `StructSchema`, a field table per Go
 * struct, and returns a `DecodedStruct` with typed accessors.
 */
import { InvalidDurationError, parseGoDurationNs } from '../lib/duration.js'
import { DecodeError } from '../lib/errors.js'

/** Go's `maxNestingDepth` in encoding/json. */
const MAX_DEPTH = 10_000

// ---- text → value ----------------------------------------------------------------------------

/**
 * Parses a request body like `json.NewDecoder(body).Decode(&v)`: leading whitespace is skipped,
 * only the first JSON value is read (trailing bytes are ignored, as Go's Decoder does), and errors
 * carry Go's texts: `EOF` for an empty body, `unexpected EOF` for a truncated one,
 * `invalid character 'x' looking for beginning of value` and friends for bad bytes.
 */
export function decodeJsonBody(text: string): unknown {
  const { start, end } = scanFirstValue(text)
  return JSON.parse(text.slice(start, end)) as unknown
}

function fail(detail: string): never {
  throw new DecodeError(detail)
}

function badChar(c: string, context: string): never {
  fail(`invalid character ${quoteChar(c)} ${context}`)
}

function unexpectedEof(): never {
  fail('unexpected EOF')
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
  const escapes: Readonly<Record<string, string>> = {
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\v': '\\v',
    '\\': '\\\\',
  }
  const escaped = escapes[c]
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

/** Finds the extent of the first JSON value with Go's scanner rules. Iterative: no recursion. */
function scanFirstValue(text: string): { start: number; end: number } {
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

  const scanString = (): void => {
    i++ // opening quote
    for (;;) {
      const c = char()
      if (c === '"') {
        i++
        return
      }
      if (c === '\\') {
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
  }

  const scanNumber = (): void => {
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
  }

  const scanLiteral = (word: 'true' | 'false' | 'null'): void => {
    i++
    for (let k = 1; k < word.length; k++) {
      const c = char()
      const want = word[k] ?? ''
      if (c !== want) badChar(c, `in literal ${word} (expecting '${want}')`)
      i++
    }
  }

  skipSpace()
  if (i >= n) fail('EOF')
  const start = i
  const stack: ('object' | 'array')[] = []
  const push = (kind: 'object' | 'array', c: string): void => {
    if (stack.length >= MAX_DEPTH) badChar(c, 'exceeded max depth')
    stack.push(kind)
  }
  /** After `{` or `,` inside an object: a key string, a colon, then a value follows. */
  const scanKey = (): void => {
    skipSpace()
    const c = char()
    if (c !== '"') badChar(c, 'looking for beginning of object key string')
    scanString()
    skipSpace()
    const colon = char()
    if (colon !== ':') badChar(colon, 'after object key')
    i++
  }

  let expectValue = true
  for (;;) {
    if (expectValue) {
      skipSpace()
      const c = char()
      if (c === '{') {
        push('object', c)
        i++
        skipSpace()
        if (char() === '}') {
          stack.pop()
          i++
          expectValue = false
        } else {
          scanKey()
        }
      } else if (c === '[') {
        push('array', c)
        i++
        skipSpace()
        if (char() === ']') {
          stack.pop()
          i++
          expectValue = false
        }
      } else {
        if (c === '"') scanString()
        else if (c === '-' || isDigit(c)) scanNumber()
        else if (c === 't') scanLiteral('true')
        else if (c === 'f') scanLiteral('false')
        else if (c === 'n') scanLiteral('null')
        else badChar(c, 'looking for beginning of value')
        expectValue = false
      }
      continue
    }
    const top = stack[stack.length - 1]
    if (top === undefined) return { start, end: i }
    skipSpace()
    const c = char()
    if (top === 'object') {
      if (c === ',') {
        i++
        scanKey()
        expectValue = true
      } else if (c === '}') {
        stack.pop()
        i++
      } else {
        badChar(c, 'after object key:value pair')
      }
    } else if (c === ',') {
      i++
      expectValue = true
    } else if (c === ']') {
      stack.pop()
      i++
    } else {
      badChar(c, 'after array element')
    }
  }
}

// ---- schemas -----------------------------------------------------------------------------------

/** Kinds of Go field types the decoder knows. */
export type ScalarKind =
  /** Go `string` */
  | 'string'
  /** Go `bool` */
  | 'bool'
  /** Go `int`: a JSON number without fraction */
  | 'int'
  /** Go `uint`: a non-negative JSON number without fraction */
  | 'uint'
  /** Go `float64` */
  | 'float'
  /** Go `[]string` (`null` elements become "") */
  | 'stringList'
  /** Go `map[string]string` */
  | 'stringMap'
  /** Go `map[string][]string` (e.g. HTTP headers) */
  | 'stringListMap'
  /** Consul's duration fields: a Go duration string or a JSON number of nanoseconds */
  | 'duration'
  /** Go `map[string]interface{}`: any JSON object, kept as given */
  | 'object'
  /** Go `interface{}` / `json.RawMessage`: any JSON value, kept as given */
  | 'raw'

export type FieldType =
  | { readonly kind: ScalarKind }
  | {
      readonly kind: 'struct' | 'structList' | 'structMap'
      /** Lazy so that schemas may refer to themselves (a sidecar is a service definition). */
      readonly schema: () => StructSchema
    }

export interface FieldSpec {
  /** The Go field name; also the name the accessors use. */
  readonly name: string
  readonly type: FieldType
  /**
   * Extra JSON keys that fill this field (Consul's `…Snake` shadow fields such as
   * `enable_tag_override`). Like every key they match case-insensitively, exact case first.
   */
  readonly aliases?: readonly string[]
  /** Keys accepted only when decoding leniently (config files), e.g. `alias_service`. */
  readonly lenientAliases?: readonly string[]
  /** The field exists only in lenient decoding (a config-file key the API does not know). */
  readonly lenientOnly?: boolean
  /** The Go type shown in type errors; defaults from the kind (`int`, `[]string`, …). */
  readonly goType?: string
}

/** Field type constructors, so that tables read like Go struct declarations. */
export const GoType = {
  string: { kind: 'string' },
  bool: { kind: 'bool' },
  int: { kind: 'int' },
  uint: { kind: 'uint' },
  float: { kind: 'float' },
  stringList: { kind: 'stringList' },
  stringMap: { kind: 'stringMap' },
  stringListMap: { kind: 'stringListMap' },
  duration: { kind: 'duration' },
  object: { kind: 'object' },
  raw: { kind: 'raw' },
  struct: (schema: () => StructSchema): FieldType => ({ kind: 'struct', schema }),
  structList: (schema: () => StructSchema): FieldType => ({ kind: 'structList', schema }),
  structMap: (schema: () => StructSchema): FieldType => ({ kind: 'structMap', schema }),
} as const satisfies Record<string, FieldType | ((schema: () => StructSchema) => FieldType)>

interface KeyTarget {
  readonly field: FieldSpec
  /** 0 = the Go name, 1… = aliases in declaration order (lenient ones last). */
  readonly slot: number
}

interface KeyTable {
  readonly exact: ReadonlyMap<string, KeyTarget>
  readonly folded: ReadonlyMap<string, KeyTarget>
}

/** The field table of one Go struct. Immutable; lookups are precomputed per mode. */
export class StructSchema {
  readonly #byName: ReadonlyMap<string, FieldSpec>
  readonly #tables = new Map<boolean, KeyTable>()

  constructor(
    /** Short Go type name used in `Go struct field <Name>.<Field>` errors. */
    readonly name: string,
    /** Qualified Go type shown for whole-value errors, e.g. `structs.ServiceDefinition`. */
    readonly goType: string,
    readonly fields: readonly FieldSpec[],
  ) {
    const byName = new Map<string, FieldSpec>()
    for (const f of fields) {
      if (byName.has(f.name)) throw new Error(`duplicate field ${name}.${f.name}`)
      byName.set(f.name, f)
    }
    this.#byName = byName
  }

  field(name: string): FieldSpec {
    const f = this.#byName.get(name)
    if (f === undefined) throw new Error(`${this.name} has no field ${name}`)
    return f
  }

  /** Go's rule: a key matches a field's name exactly, else case-insensitively (first field wins). */
  lookup(key: string, lenient: boolean): KeyTarget | undefined {
    const table = this.#table(lenient)
    return table.exact.get(key) ?? table.folded.get(key.toLowerCase())
  }

  #table(lenient: boolean): KeyTable {
    let table = this.#tables.get(lenient)
    if (table !== undefined) return table
    const exact = new Map<string, KeyTarget>()
    const folded = new Map<string, KeyTarget>()
    for (const field of this.fields) {
      if (field.lenientOnly === true && !lenient) continue
      const keys = [field.name, ...(field.aliases ?? []), ...(lenient ? (field.lenientAliases ?? []) : [])]
      keys.forEach((key, slot) => {
        const target = { field, slot }
        if (!exact.has(key)) exact.set(key, target)
        const lower = key.toLowerCase()
        if (!folded.has(lower)) folded.set(lower, target)
      })
    }
    table = { exact, folded }
    this.#tables.set(lenient, table)
    return table
  }
}

// ---- value → decoded struct -------------------------------------------------------------------

export interface DecodeOptions {
  /** Accept each field's `lenientAliases` and `lenientOnly` fields (config files). */
  readonly lenient?: boolean
}

/**
 * The fields a JSON object set, checked against its schema. Accessors return Go zero values for
 * fields that were absent or `null`. A field with aliases reads the first slot holding a non-zero
 * value (Go name first, then aliases), which is how Consul merges its `…Snake` shadow fields.
 * Lists and maps it returns are frozen.
 */
export class DecodedStruct {
  readonly #slots: ReadonlyMap<string, readonly unknown[]>
  readonly #source: Readonly<Record<string, unknown>> | null
  #raw: Readonly<Record<string, unknown>> | null | undefined

  constructor(
    readonly schema: StructSchema,
    source: Readonly<Record<string, unknown>> | null,
    slots: ReadonlyMap<string, readonly unknown[]>,
  ) {
    this.#source = source
    this.#slots = slots
  }

  /** The object as given (a deep-frozen copy, made on first use), or null for a `null` input. */
  get raw(): Readonly<Record<string, unknown>> | null {
    if (this.#raw === undefined) {
      this.#raw =
        this.#source === null ? null : (frozenJsonCopy(this.#source) as Readonly<Record<string, unknown>>)
    }
    return this.#raw
  }

  /** Whether the input set the field (under any of its keys) to a non-null value. */
  has(name: string): boolean {
    this.schema.field(name)
    return this.givenValues(name).length > 0
  }

  /** The non-null values given for a field, Go name's slot first, then each alias's. */
  givenValues(name: string): readonly unknown[] {
    this.schema.field(name)
    return (this.#slots.get(name) ?? []).filter((v) => v !== undefined)
  }

  /** True when no field holds a non-zero value (Consul's `CheckType.Empty()`). */
  isEmpty(): boolean {
    for (const values of this.#slots.values()) {
      if (values.some((v) => v !== undefined && !isZero(v))) return false
    }
    return true
  }

  string(name: string): string {
    return this.#read(name, ['string'], '') as string
  }

  bool(name: string): boolean {
    return this.#read(name, ['bool'], false) as boolean
  }

  /** An `int`, `uint` or `float` field. */
  number(name: string): number {
    return this.#read(name, ['int', 'uint', 'float'], 0) as number
  }

  /** A duration field in nanoseconds. */
  durationNs(name: string): number {
    return this.#read(name, ['duration'], 0) as number
  }

  /** null when absent or `null` (Go nil slice); [] when given empty. */
  stringList(name: string): readonly string[] | null {
    return this.#read(name, ['stringList'], null) as readonly string[] | null
  }

  stringMap(name: string): Readonly<Record<string, string>> | null {
    return this.#read(name, ['stringMap'], null) as Readonly<Record<string, string>> | null
  }

  stringListMap(name: string): Readonly<Record<string, readonly string[]>> | null {
    return this.#read(name, ['stringListMap'], null) as Readonly<Record<string, readonly string[]>> | null
  }

  /** An `object` or `raw` field: frozen JSON as given, undefined when absent. */
  json(name: string): unknown {
    return this.#read(name, ['object', 'raw'], undefined)
  }

  struct(name: string): DecodedStruct | null {
    return this.#read(name, ['struct'], null) as DecodedStruct | null
  }

  /** Elements that were `null` are null (Go nil pointers). */
  structList(name: string): readonly (DecodedStruct | null)[] | null {
    return this.#read(name, ['structList'], null) as readonly (DecodedStruct | null)[] | null
  }

  structMap(name: string): ReadonlyMap<string, DecodedStruct> | null {
    return this.#read(name, ['structMap'], null) as ReadonlyMap<string, DecodedStruct> | null
  }

  #read(name: string, kinds: readonly string[], zero: unknown): unknown {
    const field = this.schema.field(name)
    if (!kinds.includes(field.type.kind)) {
      throw new Error(`${this.schema.name}.${name} is a ${field.type.kind}, not ${kinds.join('/')}`)
    }
    const given = this.givenValues(name)
    return given.find((v) => !isZero(v)) ?? given[0] ?? zero
  }
}

function isZero(v: unknown): boolean {
  if (v === '' || v === false || v === 0 || v === null) return true
  if (Array.isArray(v)) return v.length === 0
  if (v instanceof Map) return v.size === 0
  if (v instanceof DecodedStruct) return false
  if (typeof v === 'object') return Object.keys(v).length === 0
  return false
}

/**
 * Decodes a plain JSON value (from `decodeJsonBody` or a config file) into `schema`, as
 * `json.Unmarshal` with `DisallowUnknownFields` would: unknown keys → `json: unknown field "K"`;
 * wrong JSON types → `json: cannot unmarshal <kind> into Go struct field <Struct>.<Path> of type
 * <T>`; `null` leaves a field at its zero value; a `null` input yields an empty struct.
 * Errors are reported for the first offending key in document order.
 */
export function decodeStruct(
  input: unknown,
  schema: StructSchema,
  options: DecodeOptions = {},
): DecodedStruct {
  if (input === null || input === undefined) return new DecodedStruct(schema, null, new Map())
  if (!isPlainObject(input)) {
    fail(`json: cannot unmarshal ${jsonKind(input)} into Go value of type ${schema.goType}`)
  }
  return decodeObject(input, schema, { lenient: options.lenient === true, path: [], depth: 0 })
}

interface Context {
  readonly lenient: boolean
  readonly path: readonly string[]
  readonly depth: number
}

function decodeObject(
  obj: Readonly<Record<string, unknown>>,
  schema: StructSchema,
  ctx: Context,
): DecodedStruct {
  const slots = new Map<string, unknown[]>()
  for (const [key, value] of Object.entries(obj)) {
    const target = schema.lookup(key, ctx.lenient)
    if (target === undefined) fail(`json: unknown field ${JSON.stringify(key)}`)
    if (value === null || value === undefined) continue
    const where: FieldContext = {
      structName: schema.name,
      path: [...ctx.path, target.field.name],
      lenient: ctx.lenient,
      depth: ctx.depth + 1,
    }
    const decoded = decodeField(value, target.field, where)
    let list = slots.get(target.field.name)
    if (list === undefined) {
      list = []
      slots.set(target.field.name, list)
    }
    list[target.slot] = decoded
  }
  return new DecodedStruct(schema, obj, slots)
}

interface FieldContext {
  readonly structName: string
  readonly path: readonly string[]
  readonly lenient: boolean
  readonly depth: number
}

function typeError(value: unknown, goType: string, where: FieldContext): never {
  fail(
    `json: cannot unmarshal ${jsonKind(value)} into Go struct field ${where.structName}.${where.path.join('.')} of type ${goType}`,
  )
}

function jsonKind(value: unknown): string {
  if (typeof value === 'string') return 'string'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number') return 'number'
  if (Array.isArray(value)) return 'array'
  if (value === null) return 'null'
  return 'object'
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function defaultGoType(type: FieldType): string {
  switch (type.kind) {
    case 'string':
    case 'bool':
    case 'int':
    case 'uint':
      return type.kind
    case 'float':
      return 'float64'
    case 'stringList':
      return '[]string'
    case 'stringMap':
      return 'map[string]string'
    case 'stringListMap':
      return 'map[string][]string'
    case 'duration':
      return 'time.Duration'
    case 'object':
      return 'map[string]interface {}'
    case 'raw':
      return 'interface {}'
    case 'struct':
      return type.schema().goType
    case 'structList':
      return `[]${type.schema().goType}`
    case 'structMap':
      return `map[string]${type.schema().goType}`
  }
}

const OBJECT_KINDS: ReadonlySet<string> = new Set([
  'struct',
  'structMap',
  'stringMap',
  'stringListMap',
  'object',
])

function decodeField(given: unknown, field: FieldSpec, where: FieldContext): unknown {
  const type = field.type
  const goType = field.goType ?? defaultGoType(type)
  // Config files: an HCL block decodes as a one-element list of objects; Consul's config loader
  // unwraps such lists for fields that are not slices (its patchSliceOfMaps), and so do we.
  const value =
    where.lenient && OBJECT_KINDS.has(type.kind) && Array.isArray(given) && given.length === 1
      ? (given[0] as unknown)
      : given
  switch (type.kind) {
    case 'string':
      if (typeof value !== 'string') typeError(value, goType, where)
      return value
    case 'bool':
      if (typeof value !== 'boolean') typeError(value, goType, where)
      return value
    case 'int':
    case 'uint':
    case 'float':
      return decodeNumber(value, type.kind, goType, where)
    case 'duration':
      return decodeDuration(value, goType, where)
    case 'stringList':
      if (!Array.isArray(value)) typeError(value, goType, where)
      return Object.freeze(value.map((el: unknown) => decodeString(el, where)))
    case 'stringMap': {
      if (!isPlainObject(value)) typeError(value, goType, where)
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(value)) setOwn(out, k, decodeString(v, where))
      return Object.freeze(out)
    }
    case 'stringListMap': {
      if (!isPlainObject(value)) typeError(value, goType, where)
      const out: Record<string, readonly string[]> = {}
      for (const [k, v] of Object.entries(value)) {
        if (v === null) {
          setOwn(out, k, Object.freeze([]))
          continue
        }
        if (!Array.isArray(v)) typeError(v, '[]string', where)
        setOwn(out, k, Object.freeze(v.map((el: unknown) => decodeString(el, where))))
      }
      return Object.freeze(out)
    }
    case 'object':
      if (!isPlainObject(value)) typeError(value, goType, where)
      return frozenJsonCopy(value)
    case 'raw':
      return frozenJsonCopy(value)
    case 'struct': {
      const schema = type.schema()
      if (!isPlainObject(value)) typeError(value, goType, where)
      return decodeObject(value, schema, nested(where))
    }
    case 'structList': {
      const schema = type.schema()
      if (!Array.isArray(value)) typeError(value, goType, where)
      return Object.freeze(
        value.map((el: unknown) => {
          if (el === null) return null
          if (!isPlainObject(el)) typeError(el, schema.goType, where)
          return decodeObject(el, schema, nested(where))
        }),
      )
    }
    case 'structMap': {
      const schema = type.schema()
      if (!isPlainObject(value)) typeError(value, goType, where)
      const out = new Map<string, DecodedStruct>()
      for (const [k, v] of Object.entries(value)) {
        if (v === null) {
          out.set(k, new DecodedStruct(schema, null, new Map()))
          continue
        }
        if (!isPlainObject(v)) typeError(v, schema.goType, where)
        out.set(k, decodeObject(v, schema, nested(where)))
      }
      return out
    }
  }
}

function nested(where: FieldContext): Context {
  if (where.depth > MAX_DEPTH) fail('exceeded max depth')
  return { lenient: where.lenient, path: where.path, depth: where.depth }
}

function decodeString(value: unknown, where: FieldContext): string {
  if (value === null) return ''
  if (typeof value !== 'string') typeError(value, 'string', where)
  return value
}

function decodeNumber(
  value: unknown,
  kind: 'int' | 'uint' | 'float',
  goType: string,
  where: FieldContext,
): number {
  if (typeof value !== 'number') typeError(value, goType, where)
  const fits =
    Number.isFinite(value) &&
    (kind === 'float' || (Number.isInteger(value) && (kind === 'int' || value >= 0)))
  if (!fits) {
    fail(
      `json: cannot unmarshal number ${String(value)} into Go struct field ${where.structName}.${where.path.join('.')} of type ${goType}`,
    )
  }
  return value
}

/**
 * Consul's duration fields: a string goes through Go's `time.ParseDuration`; a number is
 * nanoseconds (`time.Duration(float64)`, truncated toward zero). Returns nanoseconds.
 */
function decodeDuration(value: unknown, goType: string, where: FieldContext): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) typeError(value, goType, where)
    return Math.trunc(value)
  }
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

/** Assigns an own enumerable property, even for keys such as `__proto__`. */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * A deep copy of a JSON-compatible value with every object and array frozen. Iterative, so deep
 * input cannot overflow the stack; shared sub-objects stay shared, so even a cyclic input (which
 * JSON cannot produce) terminates.
 */
export function frozenJsonCopy(value: unknown): unknown {
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
      const out: unknown = typeof v === 'object' && v !== null ? copyOf(v) : v
      if (Array.isArray(dst)) dst.push(out)
      else setOwn(dst as Record<string, unknown>, k, out)
    }
  }
  for (const copy of copies.values()) Object.freeze(copy)
  return root
}
