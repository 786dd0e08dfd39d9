/**
 * The client commands' HTTP requests and output, against a recording HTTP server on
 * 127.0.0.1:0 (so the exact requests and arbitrary member lists can be checked).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { runVigil } from '../support/agent-process.js'

interface Recorded {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

async function recorder(
  t: TestContext,
  answer: (req: Recorded) => { status: number; body: string },
): Promise<{ addr: string; requests: Recorded[] }> {
  const requests: Recorded[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => (body += d))
    req.on('end', () => {
      const rec = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      requests.push(rec)
      const { status, body: out } = answer(rec)
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(out)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

const ok = { status: 200, body: '' }

const MEMBERS = [
  {
    Name: 'zeta-client',
    Addr: '10.0.0.3',
    Port: 8301,
    Tags: { role: 'node', dc: 'dc1', build: '1.22.0:abcdef', vsn: '2', segment: '' },
    Status: 1,
  },
  {
    Name: 'alpha-client',
    Addr: 'fd00::2',
    Port: 8301,
    Tags: { role: 'node', dc: 'dc1', build: '1.22.0:abcdef', vsn: '2', segment: '' },
    Status: 4,
  },
  {
    Name: 'server-1',
    Addr: '10.0.0.1',
    Port: 8301,
    Tags: { role: 'consul', dc: 'dc1', build: '1.22.0:abcdef', vsn: '2', port: '8300', bootstrap: '1' },
    Status: 1,
  },
]

test('cli members prints servers first, then by name, with aligned columns', async (t) => {
  const srv = await recorder(t, () => ({ status: 200, body: JSON.stringify(MEMBERS) }))
  const { code, stdout } = await runVigil(['members', '-http-addr', srv.addr])
  assert.equal(code, 0)
  assert.equal(
    stdout,
    [
      'Node          Address         Status  Type    Build   Protocol  DC   Partition  Segment',
      'server-1      10.0.0.1:8301   alive   server  1.22.0  2         dc1  default    <all>',
      'alpha-client  [fd00::2]:8301  failed  client  1.22.0  2         dc1  default    <default>',
      'zeta-client   10.0.0.3:8301   alive   client  1.22.0  2         dc1  default    <default>',
      '',
    ].join('\n'),
  )
  assert.equal(srv.requests[0]?.url, '/v1/agent/members?segment=_all')

  const detailed = await runVigil(['members', '-http-addr', srv.addr, '-detailed', '-status', 'alive'])
  assert.equal(
    detailed.stdout,
    [
      'Node         Address        Status  Tags',
      'server-1     10.0.0.1:8301  alive   bootstrap=1,build=1.22.0:abcdef,dc=dc1,port=8300,role=consul,vsn=2',
      'zeta-client  10.0.0.3:8301  alive   build=1.22.0:abcdef,dc=dc1,role=node,segment=,vsn=2',
      '',
    ].join('\n'),
  )
  await runVigil(['members', '-http-addr', srv.addr, '-wan'])
  assert.equal(srv.requests[2]?.url, '/v1/agent/members?wan=1')

  // -status is a Go regular expression, with Go's syntax and error text.
  const failed = await runVigil(['members', '-http-addr', srv.addr, '-status', '^\\pL+d$'])
  assert.deepEqual(
    failed.stdout.split('\n').map((line) => line.split(' ')[0]),
    ['Node', 'alpha-client', ''],
  )
  const bad = await runVigil(['members', '-http-addr', srv.addr, '-status', 'ali(ve'])
  assert.equal(bad.code, 1)
  assert.equal(
    bad.stderr,
    'Failed to compile status regexp: error parsing regexp: missing closing ): `ali(ve`\n',
  )
})

test('cli sends the token from -token, -token-file or CONSUL_HTTP_TOKEN, and honours CONSUL_HTTP_ADDR', async (t) => {
  const srv = await recorder(t, () => ({ status: 200, body: '[]' }))
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-http-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const tokenFile = join(dir, 'token')
  writeFileSync(tokenFile, 'from-file\n')

  await runVigil(['members', '-http-addr', `http://${srv.addr}`, '-token', 'from-flag'])
  await runVigil(['members'], { CONSUL_HTTP_ADDR: srv.addr, CONSUL_HTTP_TOKEN: 'from-env' })
  await runVigil(['members', '-token-file', tokenFile], {
    CONSUL_HTTP_ADDR: srv.addr,
    CONSUL_HTTP_TOKEN: 'from-env',
  })
  await runVigil(['members', '-http-addr', srv.addr])
  assert.deepEqual(
    srv.requests.map((r) => r.headers['x-consul-token']),
    ['from-flag', 'from-env', 'from-file', undefined],
  )
})

test('cli services register sends the flags as a service definition', async (t) => {
  const srv = await recorder(t, () => ok)
  const { code, stdout } = await runVigil([
    'services',
    'register',
    '-http-addr',
    srv.addr,
    '-name',
    'web',
    '-address',
    '10.0.0.5',
    '-port',
    '80',
    '-tag',
    'v1',
    '-meta',
    'a=b=c',
    '-tagged-address',
    'lan=10.0.0.5:8080',
  ])
  assert.equal(code, 0)
  assert.equal(stdout, 'Registered service: web\n')
  const req = srv.requests[0]!
  assert.equal(req.method, 'PUT')
  assert.equal(req.url, '/v1/agent/service/register')
  assert.deepEqual(JSON.parse(req.body), {
    Name: 'web',
    Address: '10.0.0.5',
    Port: 80,
    Tags: ['v1'],
    Meta: { a: 'b=c' },
    TaggedAddresses: { lan: { Address: '10.0.0.5', Port: 8080 } },
  })
})

test('cli services register turns snake_case definition files into the API body', async (t) => {
  const srv = await recorder(t, () => ok)
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-http-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'svc.hcl')
  writeFileSync(
    file,
    `
service {
  name = "api"
  id = "api-1"
  port = 9000
  enable_tag_override = true
  meta = { some_key = "v" }
  weights { passing = 3, warning = 1 }
  check {
    id = "api-http"
    http = "http://localhost:9000/health"
    header = { X_Custom = ["a"] }
    tls_skip_verify = true
    interval = "10s"
    deregister_critical_service_after = "90m"
    success_before_passing = 2
  }
  checks = [{ args = ["/bin/true"], interval = "5s" }]
  connect {
    sidecar_service {
      proxy {
        upstreams = [{ destination_name = "db", local_bind_port = 5432 }]
        config = { envoy_extra = 1 }
      }
    }
  }
}
`,
  )
  const { code, stdout, stderr } = await runVigil(['services', 'register', '-http-addr', srv.addr, file])
  assert.equal(code, 0, stderr)
  assert.equal(stdout, 'Registered service: api\n')
  assert.deepEqual(JSON.parse(srv.requests[0]?.body ?? ''), {
    Name: 'api',
    ID: 'api-1',
    Port: 9000,
    EnableTagOverride: true,
    Meta: { some_key: 'v' },
    Weights: { Passing: 3, Warning: 1 },
    Check: {
      CheckID: 'api-http',
      HTTP: 'http://localhost:9000/health',
      Header: { X_Custom: ['a'] },
      TLSSkipVerify: true,
      Interval: '10s',
      DeregisterCriticalServiceAfter: '90m',
      SuccessBeforePassing: 2,
    },
    Checks: [{ Args: ['/bin/true'], Interval: '5s' }],
    Connect: {
      SidecarService: {
        Proxy: {
          Upstreams: [{ DestinationName: 'db', LocalBindPort: 5432 }],
          Config: { envoy_extra: 1 },
        },
      },
    },
  })
})

test('cli services deregister uses -id, or the ID (else Name) of each file definition', async (t) => {
  const srv = await recorder(t, () => ok)
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-http-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'svcs.json')
  writeFileSync(file, JSON.stringify({ services: [{ name: 'a', id: 'a/1' }, { name: 'b' }] }))
  const byId = await runVigil(['services', 'deregister', '-http-addr', srv.addr, '-id', 'x'])
  assert.equal(byId.stdout, 'Deregistered service: x\n')
  const byFile = await runVigil(['services', 'deregister', '-http-addr', srv.addr, file])
  assert.equal(byFile.stdout, 'Deregistered service: a/1\nDeregistered service: b\n')
  assert.deepEqual(
    srv.requests.map((r) => `${r.method} ${r.url}`),
    [
      'PUT /v1/agent/service/deregister/x',
      'PUT /v1/agent/service/deregister/a%2F1',
      'PUT /v1/agent/service/deregister/b',
    ],
  )
  const both = await runVigil(['services', 'deregister', '-id', 'x', file])
  assert.equal(both.code, 1)
  assert.equal(both.stderr, 'Service deregistration requires arguments or -id, not both.\n')
})
