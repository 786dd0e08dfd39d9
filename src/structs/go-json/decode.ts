/**
 * A plain JSON value → a `DecodedStruct`, checked against a `StructSchema` as `json.Unmarshal`
 * with `DisallowUnknownFields` checks it.
 */
import { setOwn } from '../../lib/object.js'
import { decodeDuration } from './duration.js'
import { fail, typeError, valueTypeError, type FieldContext } from './errors.js'
import { decodeFloat, decodeInteger } from './numbers.js'
import { defaultGoType, type FieldSpec, type StructSchema } from './schema.js'
import { MAX_DEPTH } from './syntax.js'
import { frozenJsonCopy, isJsonObject } from './value.js'

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

  /**
   * The object as given (a deep-frozen copy, made on first use, numbers as doubles), or null for
   * a `null` input.
   */
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

  /** An `object` or `raw` field: frozen JSON as given (numbers as doubles), undefined when absent. */
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
    // The first non-zero value given, else the first value given (as `givenValues` lists them).
    const slots = this.#slots.get(name)
    if (slots === undefined) return zero
    let first: unknown
    for (let i = 0; i < slots.length; i++) {
      const v = slots[i]
      if (v === undefined) continue
      if (!isZero(v)) return v
      first ??= v
    }
    return first ?? zero
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
 * <T>`; numbers outside the field's type → `… cannot unmarshal number <literal> into …`; `null`
 * leaves a field at its zero value; a `null` input yields an empty struct. Errors are reported
 * for the first offending key in document order.
 */
export function decodeStruct(
  input: unknown,
  schema: StructSchema,
  options: DecodeOptions = {},
): DecodedStruct {
  if (input === null || input === undefined) return new DecodedStruct(schema, null, new Map())
  if (!isJsonObject(input)) valueTypeError(input, schema.goType)
  return decodeObject(input, schema, { lenient: options.lenient === true, path: [], depth: 0 })
}

interface Context {
  readonly lenient: boolean
  readonly path: readonly string[]
  readonly depth: number
}

/** A field's context; its path (for error texts and nested structs) is built only when asked. */
class Where implements FieldContext {
  constructor(
    readonly structName: string,
    readonly parentPath: readonly string[],
    readonly fieldName: string,
    readonly lenient: boolean,
    readonly depth: number,
  ) {}

  get path(): readonly string[] {
    return [...this.parentPath, this.fieldName]
  }
}

function decodeObject(
  obj: Readonly<Record<string, unknown>>,
  schema: StructSchema,
  ctx: Context,
): DecodedStruct {
  const slots = new Map<string, unknown[]>()
  for (const key of Object.keys(obj)) {
    const value = obj[key]
    const target = schema.lookup(key, ctx.lenient)
    if (target === undefined) fail(`json: unknown field ${JSON.stringify(key)}`)
    if (value === null || value === undefined) continue
    const where = new Where(schema.name, ctx.path, target.field.name, ctx.lenient, ctx.depth + 1)
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
      return decodeInteger(value, type, goType, where)
    case 'float':
      return decodeFloat(value, goType, where)
    case 'duration':
      return decodeDuration(value, goType, where)
    case 'stringList':
      if (!Array.isArray(value)) typeError(value, goType, where)
      return Object.freeze(value.map((el: unknown) => decodeString(el, where)))
    case 'stringMap': {
      if (!isJsonObject(value)) typeError(value, goType, where)
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(value)) setOwn(out, k, decodeString(v, where))
      return Object.freeze(out)
    }
    case 'stringListMap': {
      if (!isJsonObject(value)) typeError(value, goType, where)
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
      if (!isJsonObject(value)) typeError(value, goType, where)
      return anyJson(value, where)
    case 'raw':
      return anyJson(value, where)
    case 'struct': {
      const schema = type.schema()
      if (!isJsonObject(value)) typeError(value, goType, where)
      return decodeObject(value, schema, nested(where))
    }
    case 'structList': {
      const schema = type.schema()
      if (!Array.isArray(value)) typeError(value, goType, where)
      return Object.freeze(
        value.map((el: unknown) => {
          if (el === null) return null
          if (!isJsonObject(el)) typeError(el, schema.goType, where)
          return decodeObject(el, schema, nested(where))
        }),
      )
    }
    case 'structMap': {
      const schema = type.schema()
      if (!isJsonObject(value)) typeError(value, goType, where)
      const out = new Map<string, DecodedStruct>()
      for (const [k, v] of Object.entries(value)) {
        if (v === null) {
          out.set(k, new DecodedStruct(schema, null, new Map()))
          continue
        }
        if (!isJsonObject(v)) typeError(v, schema.goType, where)
        out.set(k, decodeObject(v, schema, nested(where)))
      }
      return out
    }
  }
}

/** An `interface{}` value: numbers become float64 (`1e400` is refused), the rest is copied. */
function anyJson(value: unknown, where: FieldContext): unknown {
  return frozenJsonCopy(value, (n) => decodeFloat(n, 'float64', where))
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
