import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BadRequestError, DecodeError, ScriptChecksDisabledError } from '../../src/lib/errors.js'
import { decodeJsonBody } from '../../src/structs/go-json.js'
import {
  normalizeServiceDefinition,
  type NormalizeContext,
  type Origin,
} from '../../src/structs/normalize.js'
import { assertDeepFrozen, failure, normalizeContext } from '../support/normalize.js'
import type { ServiceRegistration } from '../../src/structs/service.js'

function register(body: unknown, ctx: NormalizeContext = normalizeContext()): ServiceRegistration {
  return normalizeServiceDefinition(typeof body === 'string' ? decodeJsonBody(body) : body, ctx)
}

test('service definition gets Consul defaults when only a name is given', () => {
  const reg = register('{"Name": "web"}')
  assert.deepEqual(reg.service, {
    id: 'web',
    name: 'web',
    tags: null,
    address: '',
    port: 0,
    socketPath: '',
    taggedAddresses: {},
    meta: {},
    weights: { passing: 1, warning: 1 },
    enableTagOverride: false,
    kind: '',
    proxy: null,
    connectNative: false,
    locallyRegisteredAsSidecar: false,
  })
  assert.deepEqual(reg.checks, [])
  assert.equal(reg.sidecar, null)
  assert.equal(reg.sidecarService, null)
  assert.equal(reg.token, '')
  assert.equal(reg.source, 'remote')
})

test('service definition keys match case-insensitively, as python-consul and Go clients send them', () => {
  const bodies = [
    '{"ID": "web-1", "Name": "web", "Tags": ["a"], "Port": 8080, "EnableTagOverride": true, "Token": "t"}',
    '{"id": "web-1", "name": "web", "tags": ["a"], "port": 8080, "enabletagoverride": true, "token": "t"}',
    '{"ID": "web-1", "NAME": "web", "TAGS": ["a"], "PORT": 8080, "enable_tag_override": true, "Token": "t"}',
  ]
  for (const body of bodies) {
    const reg = register(body)
    assert.equal(reg.service.id, 'web-1', body)
    assert.equal(reg.service.name, 'web')
    assert.deepEqual(reg.service.tags, ['a'])
    assert.equal(reg.service.port, 8080)
    assert.equal(reg.service.enableTagOverride, true)
    assert.equal(reg.token, 't')
  }
})

test('service definition rejects unknown keys and snake_case keys the API does not alias', () => {
  const cases: [string, string][] = [
    ['{"Name": "web", "Foo": 1}', 'json: unknown field "Foo"'],
    ['{"Name": "web", "socket_path": "/s"}', 'json: unknown field "socket_path"'],
    ['{"Name": "web", "Check": {"Script": "/bin/true", "Interval": "10s"}}', 'json: unknown field "Script"'],
    ['{"Name": "web", "Check": {"TTL": "10s", "ID": "x"}}', 'json: unknown field "ID"'],
    ['{"Name": "web", "Check": {"alias_service": "db"}}', 'json: unknown field "alias_service"'],
    [
      '{"Name": "web", "Check": {"TTL": "1s", "disable_redirects": true}}',
      'json: unknown field "disable_redirects"',
    ],
    ['{"Name": "web", "Weights": {"Passing": 1, "Critical": 1}}', 'json: unknown field "Critical"'],
    ['{"Name": "web", "Connect": {"SidecarService": {"Bogus": 1}}}', 'json: unknown field "Bogus"'],
    [
      '{"Name": "web", "Port": "80"}',
      'json: cannot unmarshal string into Go struct field ServiceDefinition.Port of type int',
    ],
    ['{"Name": "web", "Check": {"TTL": "10"}}', 'time: missing unit in duration "10"'],
    ['{"Name": "web", "Check": {"Interval": "x", "HTTP": "http://h"}}', 'time: invalid duration "x"'],
    ['[]', 'json: cannot unmarshal array into Go value of type structs.ServiceDefinition'],
    ['', 'EOF'],
  ]
  for (const [body, detail] of cases) {
    assert.equal(
      failure(() => register(body), DecodeError),
      `Request decode failed: ${detail}`,
      body,
    )
  }
})

test('service definition accepts the snake_case aliases of http-api.md §2', () => {
  const reg = register(
    {
      name: 'web',
      enable_tag_override: true,
      tagged_addresses: { lan: { address: '10.0.0.1', port: 1 } },
      check: {
        args: ['/bin/check'],
        interval: '10s',
        docker_container_id: 'c1',
        deregister_critical_service_after: '1m',
        service_id: 'ignored',
      },
      checks: [
        { script_args: ['/bin/x'], interval: '5s' },
        { grpc: 'h:1', grpc_use_tls: true, interval: '5s' },
      ],
      connect: { sidecar_service: { port: 2 } },
    },
    normalizeContext({ enableScriptChecks: true }),
  )
  assert.equal(reg.service.enableTagOverride, true)
  assert.deepEqual(reg.service.taggedAddresses, { lan: { address: '10.0.0.1', port: 1 } })
  const [docker, script, grpc] = reg.checks.map((c) => c)
  assert.ok(docker !== undefined && script !== undefined && grpc !== undefined)
  assert.equal(docker.definition.type, 'docker')
  assert.deepEqual(docker.definition.args, ['/bin/check'])
  assert.equal(docker.definition.dockerContainerId, 'c1')
  assert.equal(docker.definition.deregisterCriticalServiceAfterMs, 60_000)
  assert.equal(docker.check.serviceId, 'web', 'a ServiceID inside a service check is ignored')
  assert.equal(script.definition.type, 'script')
  assert.equal(grpc.definition.grpcUseTls, true)
  assert.deepEqual(reg.sidecarService, { port: 2 })
})

test('service definition requires a name', () => {
  assert.equal(
    failure(() => register('{"ID": "x"}'), BadRequestError),
    'Missing service name',
  )
  assert.equal(
    failure(() => register('null'), BadRequestError),
    'Missing service name',
  )
  assert.equal(
    failure(() => register({ id: 'x' }, normalizeContext({ origin: 'config' })), BadRequestError),
    'Service name missing',
  )
})

test('service address 0.0.0.0 and :: are rejected', () => {
  for (const address of ['0.0.0.0', '::', '[::]']) {
    const err = failure(() => register({ Name: 'web', Address: address }), BadRequestError)
    assert.equal(err, 'Invalid service address', address)
  }
})

test('an IP service address adds lan/wan tagged addresses unless given; hostnames add none', () => {
  const cases: [string, Record<string, { address: string; port: number }>][] = [
    [
      '10.1.2.3',
      { lan_ipv4: { address: '10.1.2.3', port: 80 }, wan_ipv4: { address: '10.1.2.3', port: 80 } },
    ],
    [
      '2001:db8::1',
      { lan_ipv6: { address: '2001:db8::1', port: 80 }, wan_ipv6: { address: '2001:db8::1', port: 80 } },
    ],
    [
      '::ffff:10.0.0.1',
      {
        lan_ipv4: { address: '::ffff:10.0.0.1', port: 80 },
        wan_ipv4: { address: '::ffff:10.0.0.1', port: 80 },
      },
    ],
    ['db.example.com', {}],
    ['', {}],
  ]
  for (const [address, expected] of cases) {
    assert.deepEqual(
      register({ Name: 'web', Address: address, Port: 80 }).service.taggedAddresses,
      expected,
      address,
    )
  }
  const given = register({
    Name: 'web',
    Address: '10.1.2.3',
    Port: 80,
    TaggedAddresses: { wan_ipv4: { Address: '198.51.100.1', Port: 443 }, lan: { Address: 'x', Port: 1 } },
  })
  assert.deepEqual(given.service.taggedAddresses, {
    lan: { address: 'x', port: 1 },
    wan_ipv4: { address: '198.51.100.1', port: 443 },
    lan_ipv4: { address: '10.1.2.3', port: 80 },
  })
})

test('given lan_ipv4, wan_ipv4 and lan_ipv6 tagged addresses must be of their family', () => {
  const cases: [string, string, string][] = [
    ['lan_ipv4', 'host', 'Service tagged address "lan_ipv4" must be a valid ipv4 address'],
    ['wan_ipv4', '2001:db8::1', 'Service tagged address "wan_ipv4" must be a valid ipv4 address'],
    ['lan_ipv6', '10.0.0.1', 'Service tagged address "lan_ipv6" must be a valid ipv6 address'],
  ]
  for (const [key, address, message] of cases) {
    assert.equal(
      failure(
        () => register({ Name: 'web', TaggedAddresses: { [key]: { Address: address } } }),
        BadRequestError,
      ),
      message,
    )
  }
})

test('service meta is validated with Consul texts', () => {
  const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']))
  const cases: [Record<string, string>, string][] = [
    [tooMany, 'Node metadata cannot contain more than 64 key/value pairs'],
    [{ '': 'v' }, "Couldn't load metadata pair ('', 'v'): Key cannot be blank"],
    [{ 'a.b': 'v' }, "Couldn't load metadata pair ('a.b', 'v'): Key contains invalid characters"],
    [
      { ['k'.repeat(129)]: 'v' },
      `Couldn't load metadata pair ('${'k'.repeat(129)}', 'v'): Key is too long (limit: 128 characters)`,
    ],
    [
      { 'consul-version': '1' },
      "Couldn't load metadata pair ('consul-version', '1'): Key prefix 'consul-' is reserved for internal use",
    ],
    [
      { k: 'v'.repeat(513) },
      `Couldn't load metadata pair ('k', '${'v'.repeat(513)}'): Value is too long (limit: 512 characters)`,
    ],
  ]
  for (const [meta, detail] of cases) {
    assert.equal(
      failure(() => register({ Name: 'web', Meta: meta }), BadRequestError),
      `Invalid Service Meta: ${detail}`,
    )
  }
  const ok = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`key_${i}-x`, 'v'.repeat(512)]))
  assert.deepEqual(register({ Name: 'web', Meta: ok }).service.meta, ok)
  const gateway = register({
    Name: 'gw',
    Kind: 'mesh-gateway',
    Port: 443,
    Meta: { 'consul-wan-federation': '1' },
  })
  assert.deepEqual(gateway.service.meta, { 'consul-wan-federation': '1' })
})

test('weights default to 1/1 and given weights are validated', () => {
  assert.deepEqual(register({ Name: 'web', Weights: null }).service.weights, { passing: 1, warning: 1 })
  assert.deepEqual(register({ Name: 'web', Weights: { Passing: 10, Warning: 0 } }).service.weights, {
    passing: 10,
    warning: 0,
  })
  const cases: [unknown, string][] = [
    [{}, 'Passing must be greater than 0'],
    [{ Passing: 0, Warning: 1 }, 'Passing must be greater than 0'],
    [{ Passing: 1, Warning: -1 }, 'Warning must be greater or equal than 0'],
    [{ Passing: 65536, Warning: 1 }, 'DNS Weight must be between 0 and 65535'],
    [{ Passing: 1, Warning: 65536 }, 'DNS Weight must be between 0 and 65535'],
  ]
  for (const [weights, detail] of cases) {
    assert.equal(
      failure(() => register({ Name: 'web', Weights: weights }), BadRequestError),
      `Invalid Weights: ${detail}`,
    )
  }
})

test('service kinds: the known ones register, others are refused', () => {
  const valid: [string, Record<string, unknown>][] = [
    ['', {}],
    ['connect-proxy', { Port: 21000, Proxy: { DestinationServiceName: 'web' } }],
    ['mesh-gateway', { Port: 443 }],
    ['terminating-gateway', { Port: 8443 }],
    ['ingress-gateway', {}],
    ['api-gateway', {}],
  ]
  for (const [kind, extra] of valid) {
    assert.equal(register({ Name: 'svc', Kind: kind, ...extra }).service.kind, kind)
  }
  assert.equal(
    failure(() => register({ Name: 'svc', Kind: 'sidecar' }), BadRequestError),
    'Invalid service kind: "sidecar"',
  )
})

function validationFailed(...problems: string[]): string {
  if (problems.length === 1) return `Validation failed: 1 error occurred:\n\t* ${problems[0] ?? ''}\n\n`
  return `Validation failed: ${problems.length} errors occurred:\n\t${problems.map((p) => `* ${p}`).join('\n\t')}\n\n`
}

test('connect proxies, gateways, native services and sidecars are validated like NodeService.Validate', () => {
  const cases: [Record<string, unknown>, string][] = [
    [
      { Kind: 'connect-proxy' },
      validationFailed(
        'Port or SocketPath must be set for a connect-proxy',
        'Proxy.DestinationServiceName must be non-empty for Connect proxy services',
      ),
    ],
    [
      { Kind: 'connect-proxy', Port: 1, Proxy: { DestinationServiceName: '*' } },
      validationFailed('Proxy.DestinationServiceName must not be a wildcard for Connect proxy services'),
    ],
    [
      { Kind: 'connect-proxy', Port: 1, Proxy: { DestinationServiceName: 'web' }, Connect: { Native: true } },
      validationFailed('A Proxy cannot also be Connect Native, only typical services'),
    ],
    [{ Kind: 'mesh-gateway' }, validationFailed('Port must be non-zero for a mesh-gateway')],
    [
      {
        Kind: 'terminating-gateway',
        Port: 1,
        Proxy: { DestinationServiceName: 'x', Upstreams: [{ DestinationName: 'y' }] },
      },
      validationFailed(
        'The Proxy.DestinationServiceName configuration is invalid for a terminating-gateway',
        'The Proxy.Upstreams configuration is invalid for a terminating-gateway',
      ),
    ],
    [
      { Kind: 'ingress-gateway', Connect: { SidecarService: {} } },
      validationFailed('A ingress-gateway cannot have a sidecar service defined'),
    ],
    [
      { Connect: { Native: true } },
      validationFailed('Port or SocketPath must be set for a Connect native service.'),
    ],
    [
      { Port: 1, Connect: { SidecarService: { ID: 'mine' } } },
      validationFailed('A SidecarService cannot specify an ID as this is managed by the agent'),
    ],
    [
      { Port: 1, Connect: { SidecarService: { Connect: { SidecarService: {} } } } },
      validationFailed('A SidecarService cannot have a nested SidecarService'),
    ],
  ]
  for (const [body, message] of cases) {
    assert.equal(
      failure(() => register({ Name: 'svc', ...body }), BadRequestError),
      message,
      JSON.stringify(body),
    )
  }
})

test('a connect proxy keeps its proxy config, snake_case keys included, upstreams defaulted', () => {
  const reg = register({
    name: 'web-proxy',
    kind: 'connect-proxy',
    socketpath: '/run/proxy.sock',
    proxy: {
      destination_service_name: 'web',
      destination_service_id: 'web-1',
      local_service_address: '127.0.0.1',
      local_service_port: 8080,
      mode: 'direct',
      config: { protocol: 'http' },
      upstreams: [
        { destination_name: 'db', local_bind_port: 9191 },
        {
          DestinationType: 'prepared_query',
          DestinationName: 'q',
          LocalBindPort: 9192,
          mesh_gateway: { mode: 'local' },
        },
      ],
      mesh_gateway: { Mode: 'local' },
      Expose: { Checks: true },
    },
  })
  assert.equal(reg.service.socketPath, '/run/proxy.sock')
  assert.deepEqual(reg.service.proxy, {
    destinationServiceName: 'web',
    destinationServiceId: 'web-1',
    localServiceAddress: '127.0.0.1',
    localServicePort: 8080,
    mode: 'direct',
    config: { protocol: 'http' },
    upstreams: [
      { DestinationName: 'db', LocalBindPort: 9191, DestinationType: 'service' },
      {
        DestinationType: 'prepared_query',
        DestinationName: 'q',
        LocalBindPort: 9192,
        MeshGateway: { mode: 'local' },
      },
    ],
    extra: { MeshGateway: { Mode: 'local' }, Expose: { Checks: true } },
  })
  assertDeepFrozen(reg)
})

test('Connect.Native is kept and SidecarService is returned as given, not yet built', () => {
  const native = register({ Name: 'web', Port: 80, Connect: { Native: true } })
  assert.equal(native.service.connectNative, true)
  assert.equal(native.sidecarService, null)
  const withSidecar = register(
    '{"Name": "web", "Port": 80, "Connect": {"SidecarService": {"Port": 21000, "Check": {"TTL": "5s"}}}}',
  )
  assert.equal(withSidecar.sidecar, null)
  assert.deepEqual(withSidecar.sidecarService, { Port: 21000, Check: { TTL: '5s' } })
  assert.equal(withSidecar.service.connectNative, false)
  assertDeepFrozen(withSidecar)
})

test('checks of a service get IDs service:<id>[:n], default names and the service identity', () => {
  const one = register({ ID: 'web-1', Name: 'web', Tags: ['v1'], Check: { TTL: '30s' } })
  assert.equal(one.checks.length, 1)
  assert.deepEqual(
    { ...one.checks[0]?.check },
    {
      node: 'node-1',
      checkId: 'service:web-1',
      name: "Service 'web' check",
      status: 'critical',
      notes: '',
      output: '',
      serviceId: 'web-1',
      serviceName: 'web',
      serviceTags: ['v1'],
      type: 'ttl',
      interval: '',
      timeout: '',
      exposedPort: 0,
    },
  )
  const many = register({
    Name: 'web',
    Checks: [{ TTL: '10s' }, {}, null, { CheckID: 'custom', Name: 'Named', Notes: 'n', TTL: '10s' }],
    Check: { TTL: '10s', Status: 'passing' },
  })
  assert.deepEqual(
    many.checks.map((c) => [c.check.checkId, c.check.name, c.check.status, c.check.notes]),
    [
      ['service:web:1', "Service 'web' check", 'passing', ''],
      ['service:web:2', "Service 'web' check", 'critical', ''],
      ['custom', 'Named', 'critical', 'n'],
    ],
  )
  assert.deepEqual(
    register({ Name: 'web', Check: {}, Checks: [{}] }).checks,
    [],
    'empty check objects are ignored',
  )
  assert.deepEqual(register({ Name: 'web', Check: { TTL: '1s' } }).checks[0]?.check.serviceTags, [])
})

test('check statuses and check types inside a service are validated with Consul texts', () => {
  assert.equal(
    failure(() => register({ Name: 'web', Check: { TTL: '10s', Status: 'ok' } }), BadRequestError),
    "Status for checks must 'passing', 'warning', 'critical'",
  )
  assert.equal(
    failure(() => register({ Name: 'web', Checks: [{ TTL: '10s' }, { HTTP: 'http://h' }] }), BadRequestError),
    'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks',
    'one invalid check fails the whole registration',
  )
  assert.equal(
    failure(
      () => register({ Name: 'web', Checks: [{ TTL: '10s', Status: 'bad' }, { Notes: 'no type' }] }),
      BadRequestError,
    ),
    'Invalid check: TTL must be > 0 for TTL checks',
    'check types are validated before statuses, as Consul does',
  )
})

test('script checks in a service need permission by origin', () => {
  const body = { Name: 'web', Check: { Args: ['/bin/true'], Interval: '10s' } }
  const cases: [Origin, boolean, boolean, string | null][] = [
    [
      'api',
      false,
      false,
      "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true",
    ],
    [
      'api',
      false,
      true,
      "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true",
    ],
    ['api', true, false, null],
    [
      'config',
      false,
      false,
      "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true",
    ],
    ['config', false, true, null],
    ['config', true, false, null],
  ]
  for (const [origin, enableScriptChecks, enableLocalScriptChecks, message] of cases) {
    const ctx = normalizeContext({ origin, enableScriptChecks, enableLocalScriptChecks })
    if (message === null) {
      assert.equal(register(body, ctx).checks[0]?.definition.type, 'script')
    } else {
      const err = failure(() => register(body, ctx), ScriptChecksDisabledError)
      assert.equal(err, message)
    }
  }
})

test('warnings (interval raised, DNS-unsafe name) are reported only for a valid registration', () => {
  const warnings: string[] = []
  const reg = register(
    { Name: 'web_app', Check: { HTTP: 'http://h', Interval: '100ms' } },
    normalizeContext({ warnings }),
  )
  assert.equal(reg.checks[0]!.definition.intervalMs, 1000)
  assert.equal(reg.checks[0]!.check.interval, '100ms')
  assert.equal(warnings.length, 2)
  assert.match(warnings[0] ?? '', /Service name "web_app" will not be discoverable via DNS/)
  assert.match(warnings[1] ?? '', /check "service:web_app" has interval 100ms below minimum; using 1s/)

  const none: string[] = []
  register({ Name: 'web', Check: { HTTP: 'http://h', Interval: '1s' } }, normalizeContext({ warnings: none }))
  assert.deepEqual(none, [])

  const invalid: string[] = []
  assert.throws(
    () =>
      register(
        { Name: 'web_app', Checks: [{ HTTP: 'http://h', Interval: '1ms' }, { Notes: 'no type' }] },
        normalizeContext({ warnings: invalid }),
      ),
    BadRequestError,
  )
  assert.deepEqual(invalid, [])

  const long: string[] = []
  register({ Name: 'a'.repeat(64) }, normalizeContext({ warnings: long }))
  assert.match(long[0] ?? '', /too long/)
})

test('config-file service definitions accept snake_case keys and are local', () => {
  const ctx = normalizeContext({ origin: 'config', enableLocalScriptChecks: true })
  const reg = register(
    {
      name: 'db',
      id: 'db-1',
      port: 5432,
      socket_path: '/tmp/db.sock',
      enable_tag_override: true,
      tagged_addresses: { lan: { address: '10.0.0.2', port: 5432 } },
      weights: { passing: 3, warning: 1 },
      token: 'tok',
      check: {
        id: 'db-alias',
        alias_service: 'web',
        alias_node: 'n2',
        token: 'ignored',
      },
      checks: [
        {
          check_id: 'db-http',
          http: 'http://localhost:5432/health',
          disable_redirects: true,
          tls_skip_verify: true,
          tls_server_name: 'db.local',
          interval: '10s',
          timeout: '2s',
          success_before_passing: 2,
          failures_before_warning: 1,
          failures_before_critical: 3,
          output_max_size: 1024,
          deregister_critical_service_after: '90m',
        },
        { os_service: 'postgresql', interval: '30s' },
        { tcp: 'localhost:5432', tcp_use_tls: true, interval: '10s' },
      ],
    },
    ctx,
  )
  assert.equal(reg.source, 'local')
  assert.equal(reg.token, 'tok')
  assert.equal(reg.service.socketPath, '/tmp/db.sock')
  assert.deepEqual(reg.service.weights, { passing: 3, warning: 1 })
  const [alias, http, os, tcp] = reg.checks.map((c) => c)
  assert.ok(alias !== undefined && http !== undefined && os !== undefined && tcp !== undefined)
  assert.equal(alias.check.checkId, 'db-alias')
  assert.equal(alias.definition.type, 'alias')
  assert.equal(alias.definition.aliasService, 'web')
  assert.equal(alias.definition.aliasNode, 'n2')
  assert.equal(alias.source, 'local')
  assert.equal(alias.token, 'tok', 'checks of a service use the service token')
  assert.equal(http.check.checkId, 'db-http')
  assert.deepEqual(
    {
      type: http.definition.type,
      disableRedirects: http.definition.disableRedirects,
      tlsSkipVerify: http.definition.tlsSkipVerify,
      tlsServerName: http.definition.tlsServerName,
      timeoutMs: http.definition.timeoutMs,
      successBeforePassing: http.definition.successBeforePassing,
      failuresBeforeWarning: http.definition.failuresBeforeWarning,
      failuresBeforeCritical: http.definition.failuresBeforeCritical,
      outputMaxSize: http.definition.outputMaxSize,
      deregisterCriticalServiceAfterMs: http.definition.deregisterCriticalServiceAfterMs,
      timeout: http.check.timeout,
      interval: http.check.interval,
    },
    {
      type: 'http',
      disableRedirects: true,
      tlsSkipVerify: true,
      tlsServerName: 'db.local',
      timeoutMs: 2000,
      successBeforePassing: 2,
      failuresBeforeWarning: 1,
      failuresBeforeCritical: 3,
      outputMaxSize: 1024,
      deregisterCriticalServiceAfterMs: 90 * 60_000,
      timeout: '2s',
      interval: '10s',
    },
  )
  assert.equal(os.check.checkId, 'service:db-1:3')
  assert.equal(os.definition.type, 'os_service')
  assert.equal(os.definition.osService, 'postgresql')
  assert.equal(tcp.definition.tcpUseTls, true)
  assertDeepFrozen(reg)
})

test('a service registration is deep-frozen', () => {
  const reg = register({
    Name: 'web',
    Address: '10.0.0.1',
    Tags: ['a'],
    Meta: { k: 'v' },
    Check: { HTTP: 'http://h', Header: { X: ['1'] }, Interval: '10s' },
    Connect: { SidecarService: { Proxy: { Upstreams: [{ DestinationName: 'db', LocalBindPort: 1 }] } } },
  })
  assertDeepFrozen(reg)
  assert.throws(() => {
    ;(reg.service.tags as string[]).push('b')
  }, TypeError)
})

test('config-file services written as HCL blocks (one-element lists) decode like JSON objects', () => {
  const reg = register(
    {
      name: 'api',
      port: 9000,
      weights: [{ passing: 2, warning: 1 }],
      check: [{ ttl: '10s' }],
      connect: [{ sidecar_service: [{}] }],
    },
    normalizeContext({ origin: 'config' }),
  )
  assert.deepEqual(reg.service.weights, { passing: 2, warning: 1 })
  assert.equal(reg.checks[0]?.definition.type, 'ttl')
  assert.deepEqual(reg.sidecarService, {})
})
