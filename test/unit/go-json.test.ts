import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DecodeError } from '../../src/lib/errors.js'
import {
  GoType,
  StructSchema,
  decodeJsonBody,
  decodeStruct,
  frozenJsonCopy,
  parseDurationForDecode,
} from '../../src/structs/go-json.js'

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

test('decodeJsonBody reads the first value and ignores what follows, as Go Decoder does', () => {
  assert.deepEqual(decodeJsonBody('  {"Name": "web", "Port": 80} trailing junk'), { Name: 'web', Port: 80 })
  assert.deepEqual(decodeJsonBody('[1, {"a": [true, false, null]}]]'), [1, { a: [true, false, null] }])
  assert.equal(decodeJsonBody('123abc'), 123)
  assert.equal(decodeJsonBody('"\\u00e9\\n"'), 'é\n')
  assert.equal(decodeJsonBody('null'), null)
  assert.equal(decodeJsonBody('-0.5e+3'), -500)
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
