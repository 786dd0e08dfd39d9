import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HclSyntaxError, parseHcl } from '../../src/config/hcl.js'

test('hcl parses assignments of strings, numbers, bools, null, lists and objects', () => {
  const doc = parseHcl(`
    datacenter = "dc1"
    bootstrap_expect = 3
    rate = -1.5
    big = 1e3
    hex = 0x1F
    server = true
    ui = false
    nothing = null
    retry_join = ["10.0.0.1", "10.0.0.2",]
    empty = []
    ports = { http = 8501, dns = -1 }
    meta = { "rack-id": "r1" }
  `)
  assert.deepEqual(doc, {
    datacenter: 'dc1',
    bootstrap_expect: 3,
    rate: -1.5,
    big: 1000,
    hex: 31,
    server: true,
    ui: false,
    nothing: null,
    retry_join: ['10.0.0.1', '10.0.0.2'],
    empty: [],
    ports: { http: 8501, dns: -1 },
    meta: { 'rack-id': 'r1' },
  })
})

test('hcl decodes string escapes and keeps interpolations literally', () => {
  const doc = parseHcl(String.raw`
    a = "tab\there \"quoted\" back\\slash \u00e9"
    b = "${'$'}{env("HOME")}/data"
    c = "%{ if true }x%{ endif }"
  `)
  assert.equal(doc['a'], 'tab\there "quoted" back\\slash é')
  assert.equal(doc['b'], '${env("HOME")}/data')
  assert.equal(doc['c'], '%{ if true }x%{ endif }')
})

test('hcl skips #, // and /* */ comments', () => {
  const doc = parseHcl(`
    # a comment
    a = 1 // trailing
    /* block
       comment */ b = 2
  `)
  assert.deepEqual(doc, { a: 1, b: 2 })
})

test('hcl parses nested blocks and labeled blocks', () => {
  const doc = parseHcl(`
    acl {
      enabled = true
      tokens {
        agent = "secret"
      }
    }
    service "web" {
      port = 80
    }
  `)
  assert.deepEqual(doc, {
    acl: { enabled: true, tokens: { agent: 'secret' } },
    service: { web: { port: 80 } },
  })
})

test('hcl turns a repeated block into a list, in order', () => {
  const doc = parseHcl(`
    service { name = "a" }
    service { name = "b" }
    service {
      name = "c"
      check { ttl = "10s" }
      check { ttl = "20s" }
    }
  `)
  assert.deepEqual(doc['service'], [
    { name: 'a' },
    { name: 'b' },
    {
      name: 'c',
      check: [{ ttl: '10s' }, { ttl: '20s' }],
    },
  ])
})

test('hcl keeps the last value of a repeated scalar', () => {
  assert.deepEqual(parseHcl('a = 1\na = 2'), { a: 2 })
})

test('hcl accepts colon assignments, quoted keys and commas in objects', () => {
  const doc = parseHcl(`
    "node_name" = "n1"
    obj = { a: 1, "b": "x" }
  `)
  assert.deepEqual(doc, { node_name: 'n1', obj: { a: 1, b: 'x' } })
})

test('hcl parses heredocs, with <<- removing the common indentation', () => {
  const doc = parseHcl(`
script = <<EOF
#!/bin/sh
echo hi
EOF
indented = <<-EOT
    line one
      line two
    EOT
`)
  assert.equal(doc['script'], '#!/bin/sh\necho hi\n')
  assert.equal(doc['indented'], 'line one\n  line two\n')
})

test('hcl keeps keys like __proto__ as own properties', () => {
  const doc = parseHcl('meta = { __proto__ = "x" }')
  const meta = doc['meta'] as Record<string, unknown>
  assert.equal(Object.getOwnPropertyDescriptor(meta, '__proto__')?.value, 'x')
  assert.equal(Object.getPrototypeOf(meta), Object.prototype)
})

test('hcl errors name the source, line and column', () => {
  const cases: [string, number, number, RegExp][] = [
    ['a = 1\nb = "unterminated\n', 2, 5, /unterminated string/],
    ['a = 1\n  b = @', 2, 7, /illegal character "@"/],
    ['a = 1\nb 2', 2, 3, /expected "=" or "\{"/],
    ['a {\n  b = 1\n', 3, 1, /expected "}" before end of input/],
    ['a = [1 2]', 1, 8, /expected "," or "]"/],
    ['a = 10s', 1, 5, /invalid number "10s"/],
    ['a = foo', 1, 5, /unexpected identifier "foo"/],
    ['/* open', 1, 1, /unterminated comment/],
    ['a = <<EOF\nno end\n', 1, 5, /heredoc not terminated/],
  ]
  for (const [text, line, column, detail] of cases) {
    assert.throws(
      () => parseHcl(text, 'conf.hcl'),
      (err: unknown) => {
        assert.ok(err instanceof HclSyntaxError, text)
        assert.equal(err.source, 'conf.hcl')
        assert.equal(`${err.line}:${err.column}`, `${line}:${column}`, text)
        assert.match(err.detail, detail)
        assert.equal(err.message, `conf.hcl:${line}:${column}: ${err.detail}`)
        return true
      },
    )
  }
})

test('hcl parses a real-world agent configuration', () => {
  const doc = parseHcl(`
datacenter = "east-aws"
data_dir = "/opt/consul"
log_level = "INFO"
node_name = "foobar"
server = true
watches = [
  {
    type = "checks"
    handler = "/usr/bin/health-check-handler.sh"
  }
]
telemetry {
  statsite_address = "127.0.0.1:2180"
}
`)
  assert.equal(doc['datacenter'], 'east-aws')
  assert.deepEqual(doc['watches'], [{ type: 'checks', handler: '/usr/bin/health-check-handler.sh' }])
  assert.deepEqual(doc['telemetry'], { statsite_address: '127.0.0.1:2180' })
})
