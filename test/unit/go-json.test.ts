import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DecodeError } from '../../src/lib/errors.js'
import {
  GoType,
  JsonNumber,
  StructSchema,
  decodeJsonBody,
  decodeStruct,
  frozenJsonCopy,
  parseDurationForDecode,
  type FieldType,
} from '../../src/structs/go-json.js'
import { normalizeCheckDefinition, normalizeServiceDefinition } from '../../src/structs/normalize.js'
import { put, startApiHarness } from '../support/api-harness.js'
import { normalizeContext } from '../support/normalize.js'

function decodeFailure(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`)
    assert.equal(err.statusCode, 400)
    assert.ok(err.message.startsWith('Request decode failed: '))
    return err.message.slice('Request decode failed: '.length)
  }
  assert.fail('expected a DecodeError')
}

test('decodeJsonBody reports syntax errors with Go encoding/json texts', () => {
  const cases: [string, string][] = [
    ['', 'EOF'],
    [' \n\t ', 'EOF'],
    ['{"Name": "web"', 'unexpected EOF'],
    ['{"Name": ', 'unexpected EOF'],
    ['[1, 2', 'unexpected EOF'],
    ['"abc', 'unexpected EOF'],
    ['tru', 'unexpected EOF'],
    ['x', "invalid character 'x' looking for beginning of value"],
    ['{"a": x}', "invalid character 'x' looking for beginning of value"],
    ['[1,]', "invalid character ']' looking for beginning of value"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"],
    ['{"a": 01}', "invalid character '1' after object key:value pair"],
    ['{"a": 1,}', "invalid character '}' looking for beginning of object key string"],
    ['{a: 1}', "invalid character 'a' looking for beginning of object key string"],
    ['[1 2]', "invalid character '2' after array element"],
    ['{"a": tru}', "invalid character '}' in literal true (expecting 'e')"],
    ['{"a": nil}', "invalid character 'i' in literal null (expecting 'u')"],
    ['{"a": fals}', "invalid character '}' in literal false (expecting 'e')"],
    ['{"a": "x\ny"}', "invalid character '\\n' in string literal"],
    ['{"a": "\\q"}', "invalid character 'q' in string escape code"],
    ['{"a": "\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape"],
    ['{"a": -x}', "invalid character 'x' in numeric literal"],
    ['{"a": 1.x}', "invalid character 'x' after decimal point in numeric literal"],
    ['{"a": 1ex}', "invalid character 'x' in exponent of numeric literal"],
    ["'a'", "invalid character '\\'' looking for beginning of value"],
    ['\u00e9', "invalid character '\u00c3' looking for beginning of value"],
  ]
  for (const [input, detail] of cases) {
    assert.equal(
      decodeFailure(() => decodeJsonBody(input)),
      detail,
      `input ${JSON.stringify(input)}`,
    )
  }
})

/** A decoded body with its numbers as doubles, for comparing with plain values. */
function plain(text: string): unknown {
  return frozenJsonCopy(decodeJsonBody(text))
}

test('decodeJsonBody reads the first value and ignores what follows, as Go Decoder does', () => {
  assert.deepEqual(plain('  {"Name": "web", "Port": 80} trailing junk'), { Name: 'web', Port: 80 })
  assert.deepEqual(plain('[1, {"a": [true, false, null]}]]'), [1, { a: [true, false, null] }])
  assert.equal(decodeJsonBody('123abc'), 123)
  assert.equal(decodeJsonBody('"\\u00e9\\n"'), 'é\n')
  assert.equal(decodeJsonBody('"plain"'), 'plain')
  assert.equal(decodeJsonBody('null'), null)
  assert.equal(plain('-0.5e+3'), -500)
  assert.deepEqual(plain('{"a": {}, "b": [], "c": [[]], "d": {"e": {}}}'), {
    a: {},
    b: [],
    c: [[]],
    d: { e: {} },
  })
})

test('decodeJsonBody keeps the literal of every number a double does not hold exactly as written', () => {
  const body = decodeJsonBody(
    '{"big": 99999999999999999999, "frac": 1.50, "neg0": -0, "exp": 1E3, "max": 9007199254740993, ' +
      '"plain": [7, -12, 1.5, 1e-7, 0, 9007199254740991, 100000000000000000000], "__proto__": 1}',
  ) as Record<string, unknown>
  assert.deepEqual(
    Object.entries(body).map(([k, v]) => [k, v instanceof JsonNumber ? v.literal : v]),
    [
      ['big', '99999999999999999999'],
      ['frac', '1.50'],
      ['neg0', '-0'],
      ['exp', '1E3'],
      ['max', '9007199254740993'],
      ['plain', body['plain']],
      ['__proto__', 1],
    ],
  )
  const plainList = body['plain'] as unknown[]
  assert.deepEqual(plainList.slice(0, 6), [7, -12, 1.5, 1e-7, 0, 9007199254740991])
  assert.ok(plainList[6] instanceof JsonNumber, '2^53 and beyond keep their literal')
  assert.equal(Object.getPrototypeOf(body), Object.prototype)
})

test('decodeJsonBody reports the whole offending character, and parses long strings and escapes', () => {
  assert.equal(
    decodeFailure(() => decodeJsonBody('\u{1F600}')),
    "invalid character '\u00f0' looking for beginning of value",
  )
  assert.equal(
    decodeFailure(() => decodeJsonBody('"a\u0001"')),
    "invalid character '\\x01' in string literal",
  )
  const long = 'x'.repeat(100_000)
  assert.equal(decodeJsonBody(`"${long}"`), long)
  assert.equal(decodeJsonBody('"a\\"b\\\\c\\/d\\u0041\\ud83d\\ude00"'), 'a"b\\c/dA\u{1F600}')
})

test('decodeJsonBody bounds nesting depth at Go maxNestingDepth without recursion', () => {
  const deepOk = '['.repeat(10_000) + ']'.repeat(10_000)
  assert.ok(Array.isArray(decodeJsonBody(deepOk)))
  const tooDeep = '['.repeat(10_001) + ']'.repeat(10_001)
  assert.equal(
    decodeFailure(() => decodeJsonBody(tooDeep)),
    "invalid character '[' exceeded max depth",
  )
})

const INNER = new StructSchema('Inner', 'test.Inner', [
  { name: 'Interval', type: GoType.duration },
  { name: 'Count', type: GoType.int },
])

const SAMPLE = new StructSchema('Sample', 'test.Sample', [
  { name: 'Name', type: GoType.string },
  { name: 'NAME', type: GoType.string },
  { name: 'Port', type: GoType.int },
  { name: 'Size', type: GoType.uint },
  { name: 'Ratio', type: GoType.float },
  { name: 'Enabled', type: GoType.bool, aliases: ['enabled_snake'] },
  { name: 'ScriptArgs', type: GoType.stringList, aliases: ['args', 'script_args'] },
  { name: 'Meta', type: GoType.stringMap },
  { name: 'Header', type: GoType.stringListMap },
  { name: 'Timeout', type: GoType.duration },
  { name: 'Config', type: GoType.object },
  { name: 'Anything', type: GoType.raw },
  { name: 'Inner', type: GoType.struct(() => INNER) },
  { name: 'Items', type: GoType.structList(() => INNER) },
  { name: 'ByKey', type: GoType.structMap(() => INNER) },
  { name: 'AliasService', type: GoType.string, lenientAliases: ['alias_service'] },
  { name: 'Token', type: GoType.string, lenientOnly: true },
])

test('decodeStruct matches keys exactly first, then case-insensitively', () => {
  const d = decodeStruct({ name: 'folded', NAME: 'exact', pOrT: 80 }, SAMPLE)
  assert.equal(d.string('Name'), 'folded')
  assert.equal(d.string('NAME'), 'exact')
  assert.equal(d.number('Port'), 80)
  assert.equal(decodeStruct({ Name: 'a', name: 'b' }, SAMPLE).string('Name'), 'b', 'last duplicate wins')
})

test('decodeStruct accepts aliases case-insensitively and merges them like Consul shadow fields', () => {
  assert.deepEqual(decodeStruct({ ARGS: ['a'] }, SAMPLE).stringList('ScriptArgs'), ['a'])
  assert.deepEqual(decodeStruct({ script_args: ['b'] }, SAMPLE).stringList('ScriptArgs'), ['b'])
  assert.deepEqual(
    decodeStruct({ args: ['alias'], ScriptArgs: ['primary'] }, SAMPLE).stringList('ScriptArgs'),
    ['primary'],
  )
  assert.deepEqual(decodeStruct({ args: ['alias'], ScriptArgs: [] }, SAMPLE).stringList('ScriptArgs'), [
    'alias',
  ])
  const flags = decodeStruct({ Enabled: false, enabled_snake: true }, SAMPLE)
  assert.equal(flags.bool('Enabled'), true)
  assert.deepEqual(flags.givenValues('Enabled'), [false, true])
  assert.equal(flags.has('Enabled'), true)
  assert.equal(flags.has('Port'), false)
})

test('decodeStruct rejects unknown keys and snake_case forms that are not declared aliases', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ Foo: 1 }, 'json: unknown field "Foo"'],
    [{ script_Args_x: [] }, 'json: unknown field "script_Args_x"'],
    [{ alias_service: 'db' }, 'json: unknown field "alias_service"'],
    [{ Token: 't' }, 'json: unknown field "Token"'],
    [{ Inner: { Bogus: true } }, 'json: unknown field "Bogus"'],
  ]
  for (const [input, detail] of cases) {
    assert.equal(
      decodeFailure(() => decodeStruct(input, SAMPLE)),
      detail,
    )
  }
})

test('decodeStruct accepts lenient aliases and lenient-only fields only when lenient', () => {
  const d = decodeStruct({ ALIAS_SERVICE: 'db', token: 't' }, SAMPLE, { lenient: true })
  assert.equal(d.string('AliasService'), 'db')
  assert.equal(d.string('Token'), 't')
})

test('decodeStruct reports wrong JSON types with Go UnmarshalTypeError wording', () => {
  const cases: [unknown, string][] = [
    [{ Port: '80' }, 'json: cannot unmarshal string into Go struct field Sample.Port of type int'],
    [{ Port: 1.5 }, 'json: cannot unmarshal number 1.5 into Go struct field Sample.Port of type int'],
    [{ Size: -1 }, 'json: cannot unmarshal number -1 into Go struct field Sample.Size of type uint'],
    [{ Name: 5 }, 'json: cannot unmarshal number into Go struct field Sample.Name of type string'],
    [{ Enabled: 'yes' }, 'json: cannot unmarshal string into Go struct field Sample.Enabled of type bool'],
    [
      { ScriptArgs: 'a' },
      'json: cannot unmarshal string into Go struct field Sample.ScriptArgs of type []string',
    ],
    [
      { ScriptArgs: ['a', 1] },
      'json: cannot unmarshal number into Go struct field Sample.ScriptArgs of type string',
    ],
    [{ Meta: [] }, 'json: cannot unmarshal array into Go struct field Sample.Meta of type map[string]string'],
    [{ Meta: { a: true } }, 'json: cannot unmarshal bool into Go struct field Sample.Meta of type string'],
    [
      { Header: { a: 'v' } },
      'json: cannot unmarshal string into Go struct field Sample.Header of type []string',
    ],
    [
      { Timeout: true },
      'json: cannot unmarshal bool into Go struct field Sample.Timeout of type time.Duration',
    ],
    [
      { Config: [] },
      'json: cannot unmarshal array into Go struct field Sample.Config of type map[string]interface {}',
    ],
    [{ Inner: 'x' }, 'json: cannot unmarshal string into Go struct field Sample.Inner of type test.Inner'],
    [
      { Inner: { Count: 'x' } },
      'json: cannot unmarshal string into Go struct field Inner.Inner.Count of type int',
    ],
    [
      { Items: [{ Count: 1 }, 7] },
      'json: cannot unmarshal number into Go struct field Sample.Items of type test.Inner',
    ],
    [
      { ByKey: { a: { Count: [] } } },
      'json: cannot unmarshal array into Go struct field Inner.ByKey.Count of type int',
    ],
    [[], 'json: cannot unmarshal array into Go value of type test.Sample'],
    ['x', 'json: cannot unmarshal string into Go value of type test.Sample'],
  ]
  for (const [input, detail] of cases) {
    assert.equal(
      decodeFailure(() => decodeStruct(input, SAMPLE)),
      detail,
      JSON.stringify(input),
    )
  }
})

test('decodeStruct leaves null fields at their zero values and treats a null input as empty', () => {
  const d = decodeStruct({ Name: null, Port: null, ScriptArgs: null, Inner: null, Meta: null }, SAMPLE)
  assert.equal(d.string('Name'), '')
  assert.equal(d.number('Port'), 0)
  assert.equal(d.stringList('ScriptArgs'), null)
  assert.equal(d.struct('Inner'), null)
  assert.equal(d.stringMap('Meta'), null)
  assert.equal(d.isEmpty(), true)
  const empty = decodeStruct(null, SAMPLE)
  assert.equal(empty.raw, null)
  assert.equal(empty.isEmpty(), true)
  assert.deepEqual(decodeStruct({ ScriptArgs: ['a', null] }, SAMPLE).stringList('ScriptArgs'), ['a', ''])
  assert.deepEqual(
    decodeStruct({ Items: [null, { Count: 2 }] }, SAMPLE)
      .structList('Items')
      ?.map((i) => i?.number('Count') ?? null),
    [null, 2],
  )
})

test('decodeStruct reads durations as Go duration strings or nanosecond numbers', () => {
  const cases: [unknown, number][] = [
    ['10s', 10e9],
    ['1.5m', 90e9],
    ['1h2m3.5s', 3723.5e9],
    ['300ms', 300e6],
    ['0', 0],
    [5_000_000_000, 5e9],
    [1.9, 1],
    [-2e9, -2e9],
  ]
  for (const [input, ns] of cases) {
    assert.equal(decodeStruct({ Timeout: input }, SAMPLE).durationNs('Timeout'), ns, String(input))
  }
  assert.equal(
    decodeStruct({ Inner: { interval: '2s' } }, SAMPLE)
      .struct('Inner')
      ?.durationNs('Interval'),
    2e9,
  )
})

test('bad durations fail with Go time.ParseDuration texts', () => {
  const cases: [string, string][] = [
    ['x', 'time: invalid duration "x"'],
    ['', 'time: invalid duration ""'],
    ['10', 'time: missing unit in duration "10"'],
    ['1s5', 'time: missing unit in duration "1s5"'],
    ['10x', 'time: unknown unit "x" in duration "10x"'],
    ['5sec', 'time: unknown unit "sec" in duration "5sec"'],
    ['.s', 'time: invalid duration ".s"'],
  ]
  for (const [input, detail] of cases) {
    assert.equal(
      decodeFailure(() => parseDurationForDecode(input)),
      detail,
    )
    assert.equal(
      decodeFailure(() => decodeStruct({ Timeout: input }, SAMPLE)),
      detail,
    )
  }
})

test('decodeStruct keeps object and raw fields as frozen copies, own keys included', () => {
  const config: Record<string, unknown> = JSON.parse(
    '{"__proto__": {"x": 1}, "nested": [{"a": 1}]}',
  ) as Record<string, unknown>
  const d = decodeStruct({ Config: config, Anything: [1, { b: 2 }] }, SAMPLE)
  const copy = d.json('Config') as Record<string, unknown>
  assert.notEqual(copy, config)
  assert.deepEqual(Object.keys(copy), ['__proto__', 'nested'])
  assert.equal(Object.getPrototypeOf(copy), Object.prototype)
  assert.ok(Object.isFrozen(copy))
  assert.ok(Object.isFrozen((copy['nested'] as unknown[])[0]))
  assert.deepEqual(d.json('Anything'), [1, { b: 2 }])
  assert.ok(Object.isFrozen(d.json('Anything')))
  const raw = d.raw
  assert.ok(raw !== null && Object.isFrozen(raw))
  assert.equal(d.raw, raw, 'raw is computed once')
})

test('decodeStruct returns frozen lists and maps', () => {
  const d = decodeStruct({ ScriptArgs: ['a'], Meta: { k: 'v' }, Header: { h: ['1'], n: null } }, SAMPLE)
  assert.ok(Object.isFrozen(d.stringList('ScriptArgs')))
  assert.ok(Object.isFrozen(d.stringMap('Meta')))
  const header = d.stringListMap('Header')
  assert.deepEqual(header, { h: ['1'], n: [] })
  assert.ok(Object.isFrozen(header) && Object.isFrozen(header['h']))
})

test('DecodedStruct accessors refuse fields the schema does not have or of another kind', () => {
  const d = decodeStruct({}, SAMPLE)
  assert.throws(() => d.string('Nope'), /Sample has no field Nope/)
  assert.throws(() => d.string('Port'), /Sample.Port is a int/)
})

test('frozenJsonCopy deep-copies and freezes, keeps sharing, and terminates on cycles', () => {
  const shared = { v: 1 }
  const input = { a: shared, b: [shared, 'x'] }
  const copy = frozenJsonCopy(input) as { a: object; b: unknown[] }
  assert.deepEqual(copy, input)
  assert.notEqual(copy.a, shared)
  assert.equal(copy.a, copy.b[0])
  assert.ok(Object.isFrozen(copy) && Object.isFrozen(copy.a) && Object.isFrozen(copy.b))
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic['self'] = cyclic
  const cycleCopy = frozenJsonCopy(cyclic) as Record<string, unknown>
  assert.equal(cycleCopy['self'], cycleCopy)
  assert.equal(frozenJsonCopy('text'), 'text')
  const deep = JSON.parse('['.repeat(9_000) + ']'.repeat(9_000)) as unknown
  assert.ok(Object.isFrozen(frozenJsonCopy(deep)))
})

test('lenient decoding unwraps one-element lists of objects for non-slice fields, as HCL blocks decode', () => {
  const d = decodeStruct({ Inner: [{ Count: 3 }], Meta: [{ k: 'v' }] }, SAMPLE, { lenient: true })
  assert.equal(d.struct('Inner')?.number('Count'), 3)
  assert.deepEqual(d.stringMap('Meta'), { k: 'v' })
  assert.equal(
    decodeFailure(() => decodeStruct({ Inner: [{ Count: 3 }] }, SAMPLE)),
    'json: cannot unmarshal array into Go struct field Sample.Inner of type test.Inner',
  )
  assert.equal(
    decodeFailure(() => decodeStruct({ Inner: [{}, {}] }, SAMPLE, { lenient: true })),
    'json: cannot unmarshal array into Go struct field Sample.Inner of type test.Inner',
  )
})

// ---- Go numeric types ----------------------------------------------------------------------------

interface IntegerCase {
  readonly field: string
  readonly type: FieldType
  readonly min: string
  readonly max: string
  /** max + 1 */
  readonly above: string
  /** min - 1 */
  readonly below: string
}

const INTEGER_CASES: readonly IntegerCase[] = [
  {
    field: 'I',
    type: GoType.int,
    min: '-9223372036854775808',
    max: '9223372036854775807',
    above: '9223372036854775808',
    below: '-9223372036854775809',
  },
  { field: 'I8', type: GoType.int8, min: '-128', max: '127', above: '128', below: '-129' },
  { field: 'I16', type: GoType.int16, min: '-32768', max: '32767', above: '32768', below: '-32769' },
  {
    field: 'I32',
    type: GoType.int32,
    min: '-2147483648',
    max: '2147483647',
    above: '2147483648',
    below: '-2147483649',
  },
  {
    field: 'I64',
    type: GoType.int64,
    min: '-9223372036854775808',
    max: '9223372036854775807',
    above: '9223372036854775808',
    below: '-9223372036854775809',
  },
  {
    field: 'U',
    type: GoType.uint,
    min: '0',
    max: '18446744073709551615',
    above: '18446744073709551616',
    below: '-1',
  },
  { field: 'U8', type: GoType.uint8, min: '0', max: '255', above: '256', below: '-1' },
  { field: 'U16', type: GoType.uint16, min: '0', max: '65535', above: '65536', below: '-1' },
  { field: 'U32', type: GoType.uint32, min: '0', max: '4294967295', above: '4294967296', below: '-1' },
  {
    field: 'U64',
    type: GoType.uint64,
    min: '0',
    max: '18446744073709551615',
    above: '18446744073709551616',
    below: '-1',
  },
]

const NUMBERS = new StructSchema('Numbers', 'test.Numbers', [
  ...INTEGER_CASES.map((c) => ({ name: c.field, type: c.type })),
  { name: 'F', type: GoType.float },
  { name: 'D', type: GoType.duration },
  { name: 'Any', type: GoType.raw },
  { name: 'Obj', type: GoType.object },
])

function goName(type: FieldType): string {
  assert.ok(type.kind === 'int' || type.kind === 'uint')
  return type.goName
}

test('integer fields accept exactly the literals Go parses for their type', () => {
  for (const c of INTEGER_CASES) {
    const decode = (literal: string): number =>
      decodeStruct(decodeJsonBody(`{"${c.field}": ${literal}}`), NUMBERS).number(c.field)
    assert.equal(decode(c.max), Number(c.max), `${c.field} max`)
    assert.equal(decode(c.min), Number(c.min), `${c.field} min`)
    assert.equal(decode('0'), 0)
    const refused = [
      c.above,
      c.below,
      '1.5',
      '1.0',
      '1e3',
      '1E0',
      '-1.5e2',
      '99999999999999999999',
      '-99999999999999999999',
      '9'.repeat(400),
      `-${'9'.repeat(400)}`,
      ...(c.type.kind === 'uint' ? ['-0'] : []),
    ]
    for (const literal of refused) {
      assert.equal(
        decodeFailure(() => decodeStruct(decodeJsonBody(`{"${c.field}": ${literal}}`), NUMBERS)),
        `json: cannot unmarshal number ${literal} into Go struct field Numbers.${c.field} of type ${goName(c.type)}`,
        `${c.field} ${literal.slice(0, 30)}`,
      )
    }
  }
  assert.equal(decodeStruct(decodeJsonBody('{"I": -0}'), NUMBERS).number('I'), 0)
  assert.ok(Object.is(decodeStruct(decodeJsonBody('{"I": -0}'), NUMBERS).number('I'), 0), 'no -0')
})

test('integer fields fed plain numbers (config files) must be whole and within the type', () => {
  const ok: [string, number][] = [
    ['I', -(2 ** 63)],
    ['I', 2 ** 53],
    ['I32', 2147483647],
    ['U16', 65535],
    ['U', 0],
  ]
  for (const [field, value] of ok)
    assert.equal(decodeStruct({ [field]: value }, NUMBERS).number(field), value)
  const refused: [string, number, string][] = [
    ['I', 2 ** 63, 'int'],
    ['I', 1e20, 'int'],
    ['I', 1.5, 'int'],
    ['I32', 2147483648, 'int32'],
    ['U16', 65536, 'uint16'],
    ['U', -1, 'uint'],
    ['U64', 2 ** 64, 'uint64'],
  ]
  for (const [field, value, type] of refused) {
    assert.equal(
      decodeFailure(() => decodeStruct({ [field]: value }, NUMBERS)),
      `json: cannot unmarshal number ${String(value)} into Go struct field Numbers.${field} of type ${type}`,
    )
  }
})

test('float64 and interface{} fields refuse literals beyond float64, as strconv.ParseFloat does', () => {
  assert.equal(decodeStruct(decodeJsonBody('{"F": 1e308}'), NUMBERS).number('F'), 1e308)
  assert.equal(decodeStruct(decodeJsonBody('{"F": 1e-400}'), NUMBERS).number('F'), 0)
  assert.equal(decodeStruct(decodeJsonBody('{"F": 1.5}'), NUMBERS).number('F'), 1.5)
  assert.equal(
    decodeFailure(() => decodeStruct(decodeJsonBody('{"F": 1e400}'), NUMBERS)),
    'json: cannot unmarshal number 1e400 into Go struct field Numbers.F of type float64',
  )
  const d = decodeStruct(
    decodeJsonBody('{"Any": [1, {"x": 99999999999999999999}], "Obj": {"n": -2.5}}'),
    NUMBERS,
  )
  assert.deepEqual(d.json('Any'), [1, { x: 1e20 }])
  assert.deepEqual(d.json('Obj'), { n: -2.5 })
  assert.deepEqual(d.raw, { Any: [1, { x: 1e20 }], Obj: { n: -2.5 } })
  for (const body of ['{"Any": [1, -1e400]}', '{"Obj": {"deep": {"n": 1e400}}}']) {
    assert.match(
      decodeFailure(() => decodeStruct(decodeJsonBody(body), NUMBERS)),
      /^json: cannot unmarshal number -?1e400 into Go struct field Numbers\.(Any|Obj) of type float64$/,
    )
  }
})

test('numeric durations truncate like time.Duration(float64); outside int64 they become math.MinInt64', () => {
  const cases: [string, number][] = [
    ['1.9', 1],
    ['-1.9', -1],
    ['-0.5', 0],
    ['1e9', 1e9],
    ['9.2e18', 9.2e18],
    ['1e20', -(2 ** 63)],
    ['-1e19', -(2 ** 63)],
    ['99999999999999999999', -(2 ** 63)],
  ]
  for (const [literal, ns] of cases) {
    assert.equal(decodeStruct(decodeJsonBody(`{"D": ${literal}}`), NUMBERS).durationNs('D'), ns, literal)
  }
  assert.equal(decodeStruct({ D: 1e20 }, NUMBERS).durationNs('D'), -(2 ** 63))
  assert.equal(
    decodeFailure(() => decodeStruct(decodeJsonBody('{"D": 1e400}'), NUMBERS)),
    'json: cannot unmarshal number 1e400 into Go struct field Numbers.D of type float64',
  )
})

/** Consul's integer fields (all Go `int`), each with a body that reaches it. */
const SERVICE_INT_FIELDS: readonly [string, (n: string) => string, string][] = [
  ['ServiceDefinition.Port', (n) => `{"Name":"p","Port":${n}}`, 'int'],
  ['Weights.Weights.Passing', (n) => `{"Name":"p","Weights":{"Passing":${n},"Warning":1}}`, 'int'],
  [
    'ServiceAddress.TaggedAddresses.Port',
    (n) => `{"Name":"p","TaggedAddresses":{"lan":{"Address":"10.0.0.1","Port":${n}}}}`,
    'int',
  ],
  [
    'CheckType.Check.SuccessBeforePassing',
    (n) => `{"Name":"p","Check":{"TTL":"10s","SuccessBeforePassing":${n}}}`,
    'int',
  ],
  [
    'CheckType.Checks.OutputMaxSize',
    (n) => `{"Name":"p","Checks":[{"TTL":"10s","OutputMaxSize":${n}}]}`,
    'int',
  ],
  [
    'ConnectProxyConfig.Proxy.LocalServicePort',
    (n) => `{"Name":"p","Proxy":{"LocalServicePort":${n}}}`,
    'int',
  ],
  [
    'Upstream.Proxy.Upstreams.LocalBindPort',
    (n) => `{"Name":"p","Proxy":{"Upstreams":[{"DestinationName":"db","LocalBindPort":${n}}]}}`,
    'int',
  ],
]

const CHECK_INT_FIELDS: readonly [string, (n: string) => string][] = [
  ['CheckDefinition.FailuresBeforeCritical', (n) => `{"Name":"c","TTL":"10s","FailuresBeforeCritical":${n}}`],
  ['CheckDefinition.FailuresBeforeWarning', (n) => `{"Name":"c","TTL":"10s","FailuresBeforeWarning":${n}}`],
  ['CheckDefinition.SuccessBeforePassing', (n) => `{"Name":"c","TTL":"10s","SuccessBeforePassing":${n}}`],
  ['CheckDefinition.OutputMaxSize', (n) => `{"Name":"c","TTL":"10s","OutputMaxSize":${n}}`],
]

const INT_REFUSED = [
  '9223372036854775808',
  '-9223372036854775809',
  '99999999999999999999',
  '1.5',
  '80.0',
  '1e3',
  '1E2',
]

test('service and check definitions refuse numbers their Go int fields cannot hold', () => {
  const ctx = normalizeContext()
  for (const [field, body] of SERVICE_INT_FIELDS) {
    for (const literal of INT_REFUSED) {
      assert.equal(
        decodeFailure(() => normalizeServiceDefinition(decodeJsonBody(body(literal)), ctx)),
        `json: cannot unmarshal number ${literal} into Go struct field ${field} of type int`,
        `${field} ${literal}`,
      )
    }
  }
  for (const [field, body] of CHECK_INT_FIELDS) {
    for (const literal of INT_REFUSED) {
      assert.equal(
        decodeFailure(() => normalizeCheckDefinition(decodeJsonBody(body(literal)), ctx)),
        `json: cannot unmarshal number ${literal} into Go struct field ${field} of type int`,
        `${field} ${literal}`,
      )
    }
  }
})

test('service and check definitions take int64 boundaries and numeric durations as Consul does', () => {
  const ctx = normalizeContext()
  const svc = (body: string): ReturnType<typeof normalizeServiceDefinition> =>
    normalizeServiceDefinition(decodeJsonBody(body), ctx)
  assert.equal(svc('{"Name":"p","Port":9223372036854775807}').service.port, 2 ** 63)
  assert.equal(svc('{"Name":"p","Port":-9223372036854775808}').service.port, -(2 ** 63))
  assert.equal(svc('{"Name":"p","Port":9007199254740991}').service.port, Number.MAX_SAFE_INTEGER)
  assert.equal(
    svc('{"Name":"p","Proxy":{"Upstreams":[{"DestinationName":"db","LocalBindPort":65535}]}}').service.proxy
      ?.upstreams[0]?.['LocalBindPort'],
    65535,
  )
  const check = (body: string): ReturnType<typeof normalizeCheckDefinition> =>
    normalizeCheckDefinition(decodeJsonBody(body), ctx)
  assert.equal(check('{"Name":"c","TTL":1.5e10}').definition.ttlMs, 15_000)
  assert.equal(
    failure(() => check('{"Name":"c","TTL":1e20}')),
    'Invalid check: TTL must be > 0 for TTL checks',
  )
  assert.equal(
    failure(() => check('{"Name":"c","HTTP":"http://127.0.0.1/","Interval":99999999999999999999}')),
    'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks',
  )
  assert.equal(check('{"Name":"c","TTL":"10s","Timeout":1e30}').definition.timeoutMs, -(2 ** 63) / 1e6)
})

function failure(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof Error)
    return err.message
  }
  assert.fail('expected an error')
}

test('the HTTP API refuses out-of-range integers with 400 and registers nothing', async (t) => {
  const h = await startApiHarness(t)
  const before = await h.snapshot()
  for (const [field, body] of SERVICE_INT_FIELDS) {
    for (const literal of ['99999999999999999999', '9223372036854775808', '1.5', '1e3']) {
      const res = await h.inject(put('/v1/agent/service/register', body(literal)))
      assert.equal(res.statusCode, 400, `${field} ${literal}`)
      assert.equal(
        res.body,
        `Request decode failed: json: cannot unmarshal number ${literal} into Go struct field ${field} of type int`,
      )
    }
  }
  for (const [field, body] of CHECK_INT_FIELDS) {
    const res = await h.inject(put('/v1/agent/check/register', body('-9223372036854775809')))
    assert.equal(res.statusCode, 400, field)
    assert.equal(
      res.body,
      `Request decode failed: json: cannot unmarshal number -9223372036854775809 into Go struct field ${field} of type int`,
    )
  }
  const ttl = await h.inject(put('/v1/agent/check/register', '{"Name":"c","TTL":1e20}'))
  assert.equal(ttl.statusCode, 400)
  assert.equal(ttl.body, 'Invalid check: TTL must be > 0 for TTL checks')
  assert.equal(await h.snapshot(), before)

  const ok = await h.inject(put('/v1/agent/service/register', '{"Name":"p","Port":9007199254740991}'))
  assert.equal(ok.statusCode, 200, ok.body)
  const svc = await h.getJson<{ Port: number }>('/v1/agent/service/p')
  assert.equal(svc.Port, Number.MAX_SAFE_INTEGER)
})
