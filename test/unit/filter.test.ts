import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  agentServiceSchema,
  compileFilter,
  FilterError,
  FilterLimitError,
  healthCheckSchema,
  listOf,
  mapOf,
  MAX_FILTER_LENGTH,
  MAX_PATTERN_LENGTH,
  MAX_PROGRAM_SIZE,
  MAX_REGEXP_WORK,
  numberField,
  stringField,
  structOf,
} from '../../src/filter/index.js'
import { goParseInt, goQuote, goUnquote } from '../../src/filter/go.js'
import { compileGoRegexp, RegexpError } from '../../src/filter/regexp.js'

/** `/v1/agent/services` as vigil renders it (omitempty fields left out, as on the wire). */
const services: Record<string, Record<string, unknown>> = {
  redis1: {
    ID: 'redis1',
    Service: 'redis',
    Tags: ['primary', 'production'],
    Meta: { env: 'production', foo: 'bar' },
    Port: 1234,
    Address: '',
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Datacenter: 'dc1',
  },
  redis2: {
    ID: 'redis2',
    Service: 'redis',
    Tags: ['secondary', 'production'],
    Meta: { env: 'production', foo: 'bar' },
    Port: 1235,
    Address: '',
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Datacenter: 'dc1',
  },
  redis3: {
    ID: 'redis3',
    Service: 'redis',
    Tags: ['primary', 'qa'],
    Meta: { env: 'qa' },
    Port: 1234,
    Address: '',
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Datacenter: 'dc1',
  },
  web: {
    ID: 'web',
    Service: 'web',
    Tags: [],
    Meta: { 'team-name': 'Edge', version: 'v2.1' },
    Port: 8080,
    Address: '10.0.0.5',
    TaggedAddresses: {
      lan: { Address: '10.0.0.5', Port: 8080 },
      wan: { Address: '198.18.0.53', Port: 80 },
    },
    Weights: { Passing: 10, Warning: 1 },
    EnableTagOverride: true,
    Connect: { Native: true },
    Datacenter: 'dc1',
  },
  'web-sidecar-proxy': {
    Kind: 'connect-proxy',
    ID: 'web-sidecar-proxy',
    Service: 'web-sidecar-proxy',
    Tags: [],
    Meta: {},
    Port: 21000,
    Address: '',
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Proxy: {
      DestinationServiceName: 'web',
      DestinationServiceID: 'web',
      LocalServiceAddress: '127.0.0.1',
      LocalServicePort: 8080,
      Upstreams: [
        { DestinationType: 'service', DestinationName: 'db', LocalBindPort: 9191 },
        {
          DestinationType: 'prepared_query',
          DestinationName: 'cache',
          LocalBindPort: 9292,
          Datacenter: 'dc2',
        },
      ],
      MeshGateway: {},
      Expose: {},
    },
    Datacenter: 'dc1',
  },
}

/** `/v1/agent/checks`. */
const checks: Record<string, Record<string, unknown>> = {
  serfHealth: {
    Node: 'node-1',
    CheckID: 'serfHealth',
    Name: 'Serf Health Status',
    Status: 'passing',
    Notes: '',
    Output: 'Agent alive and reachable',
    ServiceID: '',
    ServiceName: '',
    ServiceTags: [],
    Type: '',
    Interval: '',
    Timeout: '',
    ExposedPort: 0,
    Definition: {},
  },
  'service:redis1': {
    Node: 'node-1',
    CheckID: 'service:redis1',
    Name: 'Service redis check',
    Status: 'critical',
    Notes: '',
    Output: 'dial tcp 127.0.0.1:1234: connect: connection refused\nretrying',
    ServiceID: 'redis1',
    ServiceName: 'redis',
    ServiceTags: ['primary', 'production'],
    Type: 'tcp',
    Interval: '10s',
    Timeout: '1s',
    ExposedPort: 0,
    Definition: {},
  },
  'web-ttl': {
    Node: 'node-1',
    CheckID: 'web-ttl',
    Name: 'Web TTL',
    Status: 'warning',
    Notes: 'set by the deploy job',
    Output: 'HTTP GET http://10.0.0.5:8080/health: 429 Too Many Requests',
    ServiceID: 'web',
    ServiceName: 'web',
    ServiceTags: [],
    Type: 'ttl',
    Interval: '',
    Timeout: '',
    ExposedPort: 21500,
    Definition: {},
  },
}

function matchingServices(filter: string): string[] {
  const keep = compileFilter(filter, agentServiceSchema)
  return Object.keys(services).filter((id) => keep(services[id]))
}

function matchingChecks(filter: string): string[] {
  const keep = compileFilter(filter, healthCheckSchema)
  return Object.keys(checks).filter((id) => keep(checks[id]))
}

const all = Object.keys(services)

function rejects(filter: string, detail: string, schema = agentServiceSchema): void {
  assert.throws(
    () => compileFilter(filter, schema),
    (err: unknown) => {
      assert.ok(err instanceof FilterError, `expected FilterError, got ${String(err)}`)
      assert.equal(err.statusCode, 500)
      assert.equal(err.code, 'VIGIL_ERR_BAD_FILTER')
      assert.equal(err.detail, detail)
      assert.equal(err.message, `Failed to create boolean expression evaluator: ${detail}`)
      return true
    },
  )
}

describe('filter operators on agent services', () => {
  const table: [filter: string, ids: string[]][] = [
    // == and != on strings, with quoted, raw and unquoted values
    ['Service == "redis"', ['redis1', 'redis2', 'redis3']],
    ['Service == redis', ['redis1', 'redis2', 'redis3']],
    ['Service == `web`', ['web']],
    ['Service != "redis"', ['web', 'web-sidecar-proxy']],
    ['ID == "web-sidecar-proxy"', ['web-sidecar-proxy']],
    ['Kind == "connect-proxy"', ['web-sidecar-proxy']],
    ['Kind == ""', ['redis1', 'redis2', 'redis3', 'web']],
    ['Address == "10.0.0.5"', ['web']],
    ['Datacenter == dc1', all],
    // numbers compare numerically (Go integer syntax in quoted values)
    ['Port == 1234', ['redis1', 'redis3']],
    ['Port != 1234', ['redis2', 'web', 'web-sidecar-proxy']],
    ['Port == "0x4D2"', ['redis1', 'redis3']],
    ['Port == "1_234"', ['redis1', 'redis3']],
    ['Port == "02322"', ['redis1', 'redis3']],
    ['Weights.Passing == 10', ['web']],
    ['Weights.Warning != 1', []],
    ['Proxy.LocalServicePort == 8080', ['web-sidecar-proxy']],
    ['Proxy.LocalServicePort == 0', ['redis1', 'redis2', 'redis3', 'web']],
    // bools as Go's ParseBool reads them
    ['EnableTagOverride == true', ['web']],
    ['EnableTagOverride == "T"', ['web']],
    ['EnableTagOverride == 1', ['web']],
    ['EnableTagOverride != true', ['redis1', 'redis2', 'redis3', 'web-sidecar-proxy']],
    ['Connect.Native == true', ['web']],
    ['Connect.Native == false', ['redis1', 'redis2', 'redis3', 'web-sidecar-proxy']],
    // in / contains: list element, map key, substring
    ['"primary" in Tags', ['redis1', 'redis3']],
    ['Tags contains "production"', ['redis1', 'redis2']],
    ['"primary" not in Tags', ['redis2', 'web', 'web-sidecar-proxy']],
    ['Tags not contains qa', ['redis1', 'redis2', 'web', 'web-sidecar-proxy']],
    ['"prim" in Tags', []],
    ['"foo" in Meta', ['redis1', 'redis2']],
    ['Meta contains "team-name"', ['web']],
    ['"wan" in TaggedAddresses', ['web']],
    ['"wan" not in TaggedAddresses', ['redis1', 'redis2', 'redis3', 'web-sidecar-proxy']],
    ['"sidecar" in ID', ['web-sidecar-proxy']],
    ['Service contains "is"', ['redis1', 'redis2', 'redis3']],
    ['Meta.env contains "prod"', ['redis1', 'redis2']],
    // is empty / is not empty: lists, maps, strings
    ['Tags is empty', ['web', 'web-sidecar-proxy']],
    ['Tags is not empty', ['redis1', 'redis2', 'redis3']],
    ['Meta is empty', ['web-sidecar-proxy']],
    ['TaggedAddresses is not empty', ['web']],
    ['Address is empty', ['redis1', 'redis2', 'redis3', 'web-sidecar-proxy']],
    ['Kind is not empty', ['web-sidecar-proxy']],
    ['Proxy.Upstreams is not empty', ['web-sidecar-proxy']],
    // matches / not matches (RE2 search)
    ['Service matches "^re"', ['redis1', 'redis2', 'redis3']],
    ['ID matches "[0-9]$"', ['redis1', 'redis2', 'redis3']],
    ['ID not matches "^redis[12]$"', ['redis3', 'web', 'web-sidecar-proxy']],
    ['Meta.version matches `^v\\d+\\.\\d+$`', ['web']],
    ['Service matches "(?i)^WEB$"', ['web']],
    ['Meta.env matches "^(qa|staging)$"', ['redis3']],
  ]
  for (const [filter, ids] of table) {
    test(`filter ${filter} keeps ${ids.join(', ') || 'nothing'}`, () => {
      assert.deepEqual(matchingServices(filter), ids)
    })
  }
})

describe('filter maps', () => {
  test('a map entry is selected by dot or by index, the index taking any key', () => {
    assert.deepEqual(matchingServices('Meta.env == "qa"'), ['redis3'])
    assert.deepEqual(matchingServices('Meta["env"] == "qa"'), ['redis3'])
    assert.deepEqual(matchingServices('Meta[ `env` ] == qa'), ['redis3'])
    assert.deepEqual(matchingServices('Meta["team-name"] == "Edge"'), ['web'])
    assert.deepEqual(matchingServices('TaggedAddresses.wan.Port == 80'), ['web'])
    assert.deepEqual(matchingServices('TaggedAddresses["lan"].Address == "10.0.0.5"'), ['web'])
  })

  test('a missing map key is unequal, empty, holds nothing and matches nothing', () => {
    const table: [string, string[]][] = [
      ['Meta.env == "qa"', ['redis3']],
      ['Meta.env != "qa"', ['redis1', 'redis2', 'web', 'web-sidecar-proxy']],
      ['Meta.env is empty', ['web', 'web-sidecar-proxy']],
      ['Meta.env is not empty', ['redis1', 'redis2', 'redis3']],
      ['"q" in Meta.env', ['redis3']],
      ['"q" not in Meta.env', ['redis1', 'redis2', 'web', 'web-sidecar-proxy']],
      ['Meta.env matches ".*"', ['redis1', 'redis2', 'redis3']],
      ['Meta.env not matches ".*"', ['web', 'web-sidecar-proxy']],
      ['TaggedAddresses.wan.Port != 80', ['redis1', 'redis2', 'redis3', 'web-sidecar-proxy']],
      ['TaggedAddresses.wan.Port == 0', []],
    ]
    for (const [filter, ids] of table) assert.deepEqual(matchingServices(filter), ids, filter)
  })
})

describe('filter through lists', () => {
  test('a selector through a list holds when any element matches', () => {
    assert.deepEqual(matchingServices('Proxy.Upstreams.DestinationName == "db"'), ['web-sidecar-proxy'])
    assert.deepEqual(matchingServices('Proxy.Upstreams.DestinationName == "cache"'), ['web-sidecar-proxy'])
    assert.deepEqual(matchingServices('Proxy.Upstreams.DestinationName == "api"'), [])
    assert.deepEqual(matchingServices('Proxy.Upstreams.LocalBindPort == 9292'), ['web-sidecar-proxy'])
    assert.deepEqual(matchingServices('Proxy.Upstreams.Datacenter == dc2'), ['web-sidecar-proxy'])
    assert.deepEqual(matchingServices('Proxy.Upstreams.DestinationType matches "query"'), [
      'web-sidecar-proxy',
    ])
  })

  test('a negated operator through a list also needs only one element, and no element is no match', () => {
    // one upstream is not "db", so this holds for the proxy; the others have no upstreams at all
    assert.deepEqual(matchingServices('Proxy.Upstreams.DestinationName != "db"'), ['web-sidecar-proxy'])
    assert.deepEqual(matchingServices('not Proxy.Upstreams.DestinationName == "db"'), [
      'redis1',
      'redis2',
      'redis3',
      'web',
    ])
  })

  test('health checks filter on their own fields and service tags', () => {
    assert.deepEqual(matchingChecks('Status == critical'), ['service:redis1'])
    assert.deepEqual(matchingChecks('ServiceName != ""'), ['service:redis1', 'web-ttl'])
    assert.deepEqual(matchingChecks('ServiceTags contains primary'), ['service:redis1'])
    assert.deepEqual(matchingChecks('ServiceTags is empty'), ['serfHealth', 'web-ttl'])
    assert.deepEqual(matchingChecks('Type == ttl or Type == tcp'), ['service:redis1', 'web-ttl'])
    assert.deepEqual(matchingChecks('"ttl" in Type'), ['web-ttl'])
    assert.deepEqual(matchingChecks('ExposedPort == 21500'), ['web-ttl'])
    assert.deepEqual(matchingChecks('Notes is not empty and Status != passing'), ['web-ttl'])
    assert.deepEqual(matchingChecks('Output matches "refused$"'), [])
    assert.deepEqual(matchingChecks('Output matches "(?m)refused$"'), ['service:redis1'])
    assert.deepEqual(matchingChecks('Output matches "refused.retrying"'), [])
    assert.deepEqual(matchingChecks('Output matches "(?s)refused.retrying"'), ['service:redis1'])
  })
})

describe('filter logic', () => {
  test('not binds tighter than and, and tighter than or', () => {
    // (Service == web) or ((Port == 1234) and (not "qa" in Tags))
    assert.deepEqual(matchingServices('Service == web or Port == 1234 and not "qa" in Tags'), [
      'redis1',
      'web',
    ])
    assert.deepEqual(matchingServices('(Service == web or Port == 1234) and not "qa" in Tags'), [
      'redis1',
      'web',
    ])
    assert.deepEqual(matchingServices('Service == web or (Port == 1234 and not "qa" in Tags)'), [
      'redis1',
      'web',
    ])
    assert.deepEqual(matchingServices('(Service == redis or Service == web) and Tags is empty'), ['web'])
    assert.deepEqual(matchingServices('Service == redis or Service == web and Tags is empty'), [
      'redis1',
      'redis2',
      'redis3',
      'web',
    ])
  })

  test('not negates, twice cancels, and applies to a parenthesized group', () => {
    assert.deepEqual(matchingServices('not Service == redis'), ['web', 'web-sidecar-proxy'])
    assert.deepEqual(matchingServices('not not Service == redis'), ['redis1', 'redis2', 'redis3'])
    assert.deepEqual(matchingServices('not (Service == redis and Port == 1234)'), [
      'redis2',
      'web',
      'web-sidecar-proxy',
    ])
  })

  test('whitespace is free around operators and parentheses', () => {
    assert.deepEqual(matchingServices('\t( Service==redis )\n'), ['redis1', 'redis2', 'redis3'])
    assert.deepEqual(matchingServices('Port==1234 and\nTags  contains\tqa'), ['redis3'])
  })

  test('the empty expression keeps everything', () => {
    assert.deepEqual(matchingServices(''), all)
  })

  test('a selector as a value is its dotted path', () => {
    const keep = compileFilter('Service == redis.cache', agentServiceSchema)
    assert.equal(keep({ Service: 'redis.cache' }), true)
  })

  test('string literals honor Go escapes; raw strings do not', () => {
    const keep = (filter: string, value: unknown): boolean => compileFilter(filter, agentServiceSchema)(value)
    assert.equal(keep('Service == "a\\tb"', { Service: 'a\tb' }), true)
    assert.equal(keep('Service == `a\\tb`', { Service: 'a\\tb' }), true)
    assert.equal(keep('Service == "caf\\u00e9"', { Service: 'café' }), true)
    assert.equal(keep('Service == "caf\\xc3\\xa9"', { Service: 'café' }), true)
    assert.equal(keep('Service == "\\101"', { Service: 'A' }), true)
    assert.equal(keep('Service == "日本"', { Service: '日本' }), true)
  })

  test('a map schema at the top selects keys of each element', () => {
    const schema = mapOf(structOf({ Count: numberField, Names: listOf(stringField) }))
    const keep = compileFilter('a.Count == 2 and "x" in b.Names', schema)
    assert.equal(keep({ a: { Count: 2 }, b: { Names: ['x'] } }), true)
    assert.equal(keep({ a: { Count: 2 } }), false)
  })
})

describe('filter errors', () => {
  test('parse errors carry go-bexpr position and expectations', () => {
    const table: [string, string][] = [
      ['x in 32', '1:6 (5): rule "match": Invalid selector'],
      ['32 == 32', '1:4 (3): no match found, expected: "in", "not" or [ \\t\\r\\n]'],
      ['32 is empty', '1:4 (3): no match found, expected: "in", "not" or [ \\t\\r\\n]'],
      ['x in foo abc', '1:10 (9): no match found, expected: "and", "or", [ \\t\\r\\n] or EOF'],
      [
        'x in foo and ',
        '1:14 (13): no match found, expected: "(", "-", "0", "\\"", "`", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
      ],
      [
        'x in foo or not ',
        '1:17 (16): no match found, expected: "!=", "(", "-", "0", "==", "\\"", "`", "contains", "in", "is", "matches", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
      ],
      ['foo == "12x', '1:12 (11): rule "string": Unterminated string literal'],
      ['foo == `12x', '1:12 (11): rule "string": Unterminated string literal'],
      ['foo == 3x', '1:9 (8): rule "number": Invalid number literal'],
      ['Port == 0x50', '1:10 (9): rule "number": Invalid number literal'],
      ['foo[3] == abc', '1:5 (4): rule "index": Invalid index'],
      ['x in foo["abc"', '1:15 (14): rule "index": Unclosed index expression'],
      ['foo["abc" == 3', '1:11 (10): rule "index": Unclosed index expression'],
      ['(Service == web', '1:16 (15): rule "grouping": Unmatched parentheses'],
      ['Service == "a\\qb"', '1:12 (11): rule "string": invalid syntax'],
      [
        'Service == web-sidecar-proxy',
        '1:15 (14): no match found, expected: ".", "[", [ \\t\\r\\n], [a-zA-Z0-9_] or EOF',
      ],
      [
        'not(Service == redis)',
        '1:4 (3): no match found, expected: "!=", ".", "==", "[", [ \\t\\r\\n] or [a-zA-Z0-9_]',
      ],
      [
        'Service ==\n  ',
        '2:3 (13): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
      ],
      ['Meta["é"] == 1 and', '1:19 (19): no match found, expected: [ \\t\\r\\n]'],
    ]
    for (const [filter, detail] of table) rejects(filter, detail)
  })

  test('selectors are checked against the schema, first error wins', () => {
    rejects('Foo == bar', 'Selector "Foo" is not valid')
    rejects('service == web', 'Selector "service" is not valid')
    rejects('Meta.env.x == 1', 'Selector "Meta.env.x" is not valid')
    rejects('Tags.x == 1', 'Selector "Tags.x" is not valid')
    rejects('Proxy.Config.x == 1', 'Selector "Proxy.Config" is not valid')
    rejects('Service == web and Weights.Bad == 1 or Nope == 2', 'Selector "Weights.Bad" is not valid')
    rejects('Definition.HTTP == x', 'Selector "Definition" is not valid', healthCheckSchema)
  })

  test('operators are checked against the field type', () => {
    rejects('Port contains 80', 'Invalid match operator "In" for selector "Port"')
    rejects('Port matches "80"', 'Invalid match operator "Matches" for selector "Port"')
    rejects('Tags == x', 'Invalid match operator "Equal" for selector "Tags"')
    rejects('Tags matches x', 'Invalid match operator "Matches" for selector "Tags"')
    rejects('Weights is empty', 'Invalid match operator "Is Empty" for selector "Weights"')
    rejects('Meta == x', 'Invalid match operator "Equal" for selector "Meta"')
    rejects('"db" in Proxy.Upstreams', 'Invalid match operator "In" for selector "Proxy.Upstreams"')
    rejects(
      'EnableTagOverride is empty',
      'Invalid match operator "Is Empty" for selector "EnableTagOverride"',
    )
  })

  test('values are coerced to the field type', () => {
    rejects(
      'Port == abc',
      'Failed to coerce value "abc" for selector "Port": strconv.ParseInt: parsing "abc": invalid syntax',
    )
    rejects(
      'Port == 1.5',
      'Failed to coerce value "1.5" for selector "Port": strconv.ParseInt: parsing "1.5": invalid syntax',
    )
    rejects(
      'Weights.Passing == 99999999999999999999',
      'Failed to coerce value "99999999999999999999" for selector "Weights.Passing": strconv.ParseInt: parsing "99999999999999999999": value out of range',
    )
    rejects(
      'EnableTagOverride == yes',
      'Failed to coerce value "yes" for selector "EnableTagOverride": strconv.ParseBool: parsing "yes": invalid syntax',
    )
  })

  test('regular expressions are compiled up front with Go error texts', () => {
    const table: [string, string][] = [
      ['(abc', 'missing closing ): `(abc`'],
      ['abc)', 'unexpected ): `abc)`'],
      ['[a-', 'missing closing ]: `[a-`'],
      ['[z-a]', 'invalid character class range: `z-a`'],
      ['*a', 'missing argument to repetition operator: `*`'],
      ['a|+', 'missing argument to repetition operator: `+`'],
      ['a**', 'invalid nested repetition operator: `**`'],
      ['a*?+', 'invalid nested repetition operator: `*?+`'],
      ['a{1001}', 'invalid repeat count: `{1001}`'],
      ['(a{500}){3}', 'invalid repeat count: `{3}`'],
      ['\\1', 'invalid escape sequence: `\\1`'],
      ['\\Z', 'invalid escape sequence: `\\Z`'],
      ['\\C', 'invalid escape sequence: `\\C`'],
      ['\\x{zz}', 'invalid escape sequence: `\\x{z`'],
      ['abc\\', 'trailing backslash at end of expression: ``'],
      ['(?=x)', 'invalid or unsupported Perl syntax: `(?=`'],
      ['(?<=x)', 'invalid named capture: `(?<=x)`'],
      ['(?P<n-1>x)', 'invalid named capture: `(?P<n-1>`'],
      ['(?i-)x', 'invalid or unsupported Perl syntax: `(?i-)`'],
      ['[[:word2:]]', 'invalid character class range: `[:word2:]`'],
      ['\\p{Klingon}', 'invalid character class range: `\\p{Klingon}`'],
    ]
    for (const [pattern, goError] of table) {
      rejects(
        `Service matches ${goQuote(pattern)}`,
        `Failed to compile regular expression ${goQuote(pattern)}: error parsing regexp: ${goError}`,
      )
    }
  })

  test('a filter error is a 500 with the evaluator prefix', () => {
    const err = new FilterError('x')
    assert.equal(err.statusCode, 500)
    assert.equal(err.code, 'VIGIL_ERR_BAD_FILTER')
    assert.equal(err.message, 'Failed to create boolean expression evaluator: x')
    assert.throws(
      () => compileFilter('Service ==', agentServiceSchema),
      /^FilterError: Failed to create boolean/,
    )
  })
})

describe('Go regular expressions on re2js', () => {
  const table: [pattern: string, text: string, matches: boolean][] = [
    ['b', 'abc', true],
    ['^b', 'abc', false],
    ['^a.c$', 'a\nc', false],
    ['(?s)^a.c$', 'a\nc', true],
    ['^a.c$', 'a\rc', true],
    ['^b$', 'a\nb\nc', false],
    ['(?m)^b$', 'a\nb\nc', true],
    ['(?m)^b$', 'a\rb\rc', false],
    ['\\Ab', 'a\nb', false],
    ['(?m)\\Ab', 'a\nb', false],
    ['a\\z', 'ba', true],
    ['\\s', '\u00a0', false],
    ['\\s', '\t', true],
    ['\\S', '\u00a0', true],
    ['\\w+$', 'é', false],
    ['[[:alpha:]]+$', 'abc', true],
    ['[[:^alpha:]]', 'abc', false],
    ['[^[:digit:]]', '123', false],
    ['[\\d-z]', '-', true],
    ['\\pL', 'é', true],
    ['\\p{Greek}', 'λ', true],
    ['\\P{Greek}', 'λ', false],
    ['[\\p{^Greek}]', 'λ', false],
    ['\\p{Any}', '\n', true],
    ['(?i)K', 'k', true],
    ['(?i)straße', 'STRASSE', false],
    ['K(?i)K', 'Kk', true],
    ['K(?i)K', 'kk', false],
    ['(?i:a)b', 'AB', false],
    ['(?i:a)b', 'Ab', true],
    ['(?i:[a-c])x', 'Bx', true],
    ['(?i)a(?-i)b', 'AB', false],
    ['(?i)a(?-i)b', 'Ab', true],
    ['\\Qa.b\\E', 'a.b', true],
    ['\\Qa.b\\E', 'axb', false],
    ['\\Qa.b', 'a.b', true],
    ['x{2,3}', 'axxb', true],
    ['^x{2}$', 'xxx', false],
    ['a{,2}', 'a{,2}', true],
    ['a{', 'a{', true],
    ['[]a]', ']', true],
    ['[^]a]', ']', false],
    ['\\x41\\x{42}\\103', 'ABC', true],
    ['\\.\\-\\_', '.-_', true],
    ['(?U)a+', 'aaa', true],
    ['(?P<name>ab)|(?<n2>cd)', 'cd', true],
    ['^$', '', true],
    ['a|', 'zzz', true],
    // a search, not a full match
    ['edi', 'redis', true],
    ['^edi$', 'redis', false],
    // Unicode classes, case folding, names, as Go
    ['^\\pL+$', 'Zürich', true],
    ['^\\p{L}\\p{N}$', 'é7', true],
    ['^\\PL', '7é', true],
    ['\\p{Han}', '東京', true],
    ['(?i)ZÜRICH', 'zürich', true],
    ['(?i)k', '\u212a', true],
    ['(?i)\\p{Lu}', 'a', true],
    ['a(?i)\\p{Lu}', 'ab', true],
    ['a(?i)\\p{Lu}', 'Ab', false],
    ['^(?P<env>prod|qa)-(?P<n>\\d+)$', 'qa-12', true],
    ['^(?<env>prod|qa)-\\d+$', 'staging-1', false],
    ['^.$', '😀', true],
    ['^..$', '😀', false],
    ['\\x{1F600}', 'x😀', true],
    ['\\bweb\\b', 'a web b', true],
    ['\\bweb\\b', 'webs', false],
    ['a$', 'a\n', false],
  ]
  for (const [pattern, text, matches] of table) {
    test(`${goQuote(pattern)} ${matches ? 'matches' : 'does not match'} ${goQuote(text)}`, () => {
      assert.equal(compileGoRegexp(pattern).test(text), matches)
    })
  }

  test('matching is linear: nested quantifiers over 100,000 characters answer at once', () => {
    const long = 'a'.repeat(100_000)
    const table: [pattern: string, text: string, matches: boolean][] = [
      ['(a+)+$', `${long}!`, false],
      ['(a|aa)*b', long, false],
      ['(a*)*b', long, false],
      ['^(a|a?)+$', `${long}!`, false],
      ['(?:(?:a+)+)+c', long, false],
      ['(x+x+)+y', 'x'.repeat(100_000), false],
      ['(.*a){20}', long, true],
      ['(a+)+$', long, true],
    ]
    for (const [pattern, text, matches] of table) {
      const started = performance.now()
      assert.equal(compileGoRegexp(pattern).test(text), matches, pattern)
      const ms = performance.now() - started
      // JavaScript's RegExp takes longer than the age of the universe on the first five.
      assert.ok(ms < 1_000, `${pattern} took ${ms.toFixed(0)} ms`)
    }
  })

  test('patterns are bounded in length and program size, with Go text for Go errors', () => {
    const tooLong = 'a'.repeat(MAX_PATTERN_LENGTH + 1)
    assert.throws(() => compileGoRegexp(tooLong), {
      message: `pattern is ${MAX_PATTERN_LENGTH + 1} characters long, the limit is ${MAX_PATTERN_LENGTH}`,
    })
    assert.equal(compileGoRegexp('a'.repeat(MAX_PATTERN_LENGTH)).test('a'.repeat(MAX_PATTERN_LENGTH)), true)
    const kib64 = `${'(a+)+'.repeat(13_107)}$`
    assert.ok(kib64.length >= 65_536)
    assert.throws(() => compileGoRegexp(kib64), /^RegexpError: pattern is 65536 characters long/)
    rejects(
      `Service matches "${kib64}"`,
      `filter expression is ${kib64.length + 18} characters long, the limit is ${MAX_FILTER_LENGTH}`,
    )
    const large = `error parsing regexp: expression too large: more than ${MAX_PROGRAM_SIZE} instructions`
    // Refused from the text, before re2js expands 400,000 instructions (over a second of compiling).
    const started = performance.now()
    assert.throws(() => compileGoRegexp('a{1000}'.repeat(400)), { message: large })
    assert.throws(() => compileGoRegexp('\\pL{1000}'.repeat(6)), { message: large })
    assert.throws(() => compileGoRegexp('(?:[a-z]{10}x{0,90}){10}'.repeat(3)), { message: large })
    assert.ok(performance.now() - started < 200)
    // Within the bound read from the text, over it once compiled (captures cost instructions).
    assert.throws(() => compileGoRegexp('((a)){1000}'), { message: large })
    assert.equal(compileGoRegexp('\\pL{1000}\\pN').programSize > 1000, true)
    assert.equal(compileGoRegexp('a{1000}').test('a'.repeat(1000)), true)
    // Go's own limits, with Go's text (re2js leaves the expression out).
    const deep = `${'('.repeat(1001)}a${')'.repeat(1001)}`
    assert.throws(() => compileGoRegexp(deep), {
      message: `error parsing regexp: expression nests too deeply: \`${deep}\``,
    })
    assert.throws(() => compileGoRegexp('abc\\'), {
      message: 'error parsing regexp: trailing backslash at end of expression: ``',
    })
    assert.throws(() => compileGoRegexp('x{1001}'), RegexpError)
  })
})

describe('filter limits', () => {
  test('an expression over the length limit is refused before parsing', () => {
    const clause = 'ID == "web-00000" or '
    const filter = `${clause.repeat(Math.ceil(MAX_FILTER_LENGTH / clause.length))}ID == x`
    rejects(
      filter,
      `filter expression is ${filter.length} characters long, the limit is ${MAX_FILTER_LENGTH}`,
    )
    const within = `${clause.repeat(Math.floor((MAX_FILTER_LENGTH - 10) / clause.length))}ID == web`
    assert.deepEqual(matchingServices(within), ['web'])
  })

  test('a pattern over a limit is a compile error; a long one is not echoed back', () => {
    const long = 'a'.repeat(MAX_PATTERN_LENGTH + 1)
    rejects(
      `Service matches "${long}"`,
      `Failed to compile regular expression: pattern is ${long.length} characters long, the limit is ${MAX_PATTERN_LENGTH}`,
    )
    rejects(
      'Service matches "a{1000}a{1000}a{1000}a{1000}a{1000}a{1000}"',
      `Failed to compile regular expression "a{1000}a{1000}a{1000}a{1000}a{1000}a{1000}": error parsing regexp: expression too large: more than ${MAX_PROGRAM_SIZE} instructions`,
    )
  })

  test('one compiled filter stops before its regexp work exceeds the budget', () => {
    const keep = compileFilter('Service matches "\\\\pL{1000}\\\\pN"', agentServiceSchema)
    // 1003 instructions × 100,001 positions is over the budget: refused before matching, which
    // would take seconds (re2js's DFA gives up on this pattern and its NFA runs 1,003 threads).
    const started = performance.now()
    assert.throws(
      () => keep({ Service: 'a'.repeat(100_000) }),
      (err: unknown) => {
        assert.ok(err instanceof FilterLimitError)
        assert.equal(err.statusCode, 500)
        assert.equal(
          err.message,
          `Failed to evaluate filter: its regular expressions need more than ${MAX_REGEXP_WORK} steps (instructions times characters) on this data`,
        )
        return true
      },
    )
    assert.ok(performance.now() - started < 100)
  })

  test('the budget is shared by every match of one compiled filter, and fresh for the next', () => {
    const filter = 'Service matches "^x" or ID matches "^x"'
    const element = { Service: 'a'.repeat(1_000), ID: 'b'.repeat(1_000) }
    const keep = compileFilter(filter, agentServiceSchema)
    let calls = 0
    assert.throws(() => {
      for (; calls < 10_000; calls++) keep(element)
    }, FilterLimitError)
    // Each call matches twice over 1,001 positions with a small program: hundreds of calls fit.
    assert.ok(calls > 100 && calls < MAX_REGEXP_WORK / 2_000, `${calls} calls`)
    assert.equal(compileFilter(filter, agentServiceSchema)(element), false)
  })
})

describe('Go string helpers', () => {
  test('goQuote quotes as Go %q does', () => {
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"')
    assert.equal(goQuote('tab\there\n'), '"tab\\there\\n"')
    assert.equal(goQuote('\x00\x7f'), '"\\x00\\x7f"')
    assert.equal(goQuote('café 日本'), '"café 日本"')
    assert.equal(goQuote('\u00a0\u200b'), '"\\u00a0\\u200b"')
  })

  test('goUnquote reads Go literals and rejects what Go rejects', () => {
    assert.equal(goUnquote('"a\\n\\x41\\u00e9\\U0001F600"'), 'a\nAé😀')
    assert.equal(goUnquote('`a\\n\r`'), 'a\\n')
    for (const bad of ['"\\\'"', '"a\nb"', '"\\400"', '"\\x4"', '"\\ud800"', '"\\q"', '"a\\"']) {
      assert.throws(() => goUnquote(bad), /invalid syntax/, bad)
    }
  })

  test('goParseInt follows Go base prefixes, separators and int64 range', () => {
    assert.equal(goParseInt('42'), 42n)
    assert.equal(goParseInt('-0x2A'), -42n)
    assert.equal(goParseInt('0o52'), 42n)
    assert.equal(goParseInt('052'), 42n)
    assert.equal(goParseInt('0b101010'), 42n)
    assert.equal(goParseInt('4_2'), 42n)
    assert.equal(goParseInt('-9223372036854775808'), -9223372036854775808n)
    assert.throws(() => goParseInt('9223372036854775808'), /value out of range/)
    assert.throws(() => goParseInt('4__2'), /^Error: strconv.ParseInt: parsing "4__2": invalid syntax$/)
    assert.throws(() => goParseInt('08'), /invalid syntax/)
    assert.throws(() => goParseInt(''), /invalid syntax/)
  })
})

function zoneMeta(i: number): Record<string, string> {
  return i % 5 === 0 ? { zone: `z${i % 4}` } : {}
}

describe('filter compiled once', () => {
  test('one compiled filter evaluates 1,000 services', () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({
      ID: `api-${i}`,
      Service: i % 2 === 0 ? 'api' : 'worker',
      Tags: i % 3 === 0 ? ['canary'] : ['stable'],
      Meta: zoneMeta(i),
      Port: 8000 + (i % 10),
      Address: '',
      Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: false,
      Datacenter: 'dc1',
    }))
    const keep = compileFilter(
      'Service == api and (canary in Tags or Meta.zone matches "^z[12]$") and Port != 8004',
      agentServiceSchema,
    )
    const kept = many.filter(keep)
    const expected = many.filter(
      (s) =>
        s.Service === 'api' &&
        (s.Tags.includes('canary') || /^z[12]$/.test(s.Meta['zone'] ?? '\u0000')) &&
        s.Port !== 8004,
    )
    assert.ok(expected.length > 100)
    assert.deepEqual(
      kept.map((s) => s.ID),
      expected.map((s) => s.ID),
    )
  })

  test('deeply nested parentheses compile in linear time', () => {
    const depth = 200
    const filter = `${'('.repeat(depth)}Service == web${')'.repeat(depth)}`
    assert.deepEqual(matchingServices(filter), ['web'])
    rejects(
      `${'('.repeat(depth)}Service == web${')'.repeat(depth - 1)}`,
      `1:${2 * depth + 14} (${2 * depth + 13}): rule "grouping": Unmatched parentheses`,
    )
  })
})
