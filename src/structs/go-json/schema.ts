/**
 * Field tables of Go structs: what each field's Go type is, which JSON keys fill it, and how Go
 * matches keys to fields.
 */

/** Kinds of Go field types the decoder knows. */
export type ScalarKind =
  /** Go `string` */
  | 'string'
  /** Go `bool` */
  | 'bool'
  /** Go `int`, `int8` … `int64`: an integer literal within the type's range */
  | 'int'
  /** Go `uint`, `uint8` … `uint64`: a non-negative integer literal within the type's range */
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

/** A Go integer type: signedness, width (`int`/`uint` are 64 bits) and the name errors show. */
export interface IntegerType {
  readonly kind: 'int' | 'uint'
  readonly bits: 8 | 16 | 32 | 64
  readonly goName: string
}

export type FieldType =
  | { readonly kind: Exclude<ScalarKind, 'int' | 'uint'> }
  | IntegerType
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

const integer = (kind: 'int' | 'uint', bits: IntegerType['bits'], goName: string): IntegerType => ({
  kind,
  bits,
  goName,
})

/** Field type constructors, so that tables read like Go struct declarations. */
export const GoType = {
  string: { kind: 'string' },
  bool: { kind: 'bool' },
  int: integer('int', 64, 'int'),
  int8: integer('int', 8, 'int8'),
  int16: integer('int', 16, 'int16'),
  int32: integer('int', 32, 'int32'),
  int64: integer('int', 64, 'int64'),
  uint: integer('uint', 64, 'uint'),
  uint8: integer('uint', 8, 'uint8'),
  uint16: integer('uint', 16, 'uint16'),
  uint32: integer('uint', 32, 'uint32'),
  uint64: integer('uint', 64, 'uint64'),
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

/** The Go type name a field type shows in errors unless its `FieldSpec.goType` says otherwise. */
export function defaultGoType(type: FieldType): string {
  switch (type.kind) {
    case 'string':
    case 'bool':
      return type.kind
    case 'int':
    case 'uint':
      return type.goName
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

export interface KeyTarget {
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
