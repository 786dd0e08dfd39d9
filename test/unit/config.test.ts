import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { NetworkInterfaceInfo } from 'node:os'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { AgentConfig } from '../../src/config/agent-config.js'
import { FlagError } from '../../src/config/flags.js'
import { loadConfig, loadServiceDefinitions, type LoadEnvironment } from '../../src/config/load.js'
import type { InterfaceTable } from '../../src/config/network.js'
import { ConfigError } from '../../src/lib/errors.js'

function iface(address: string, internal = false): NetworkInterfaceInfo {
  const v6 = address.includes(':')
  return v6
    ? {
        address,
        netmask: 'ffff:ffff:ffff:ffff::',
        family: 'IPv6',
        mac: '00:00:00:00:00:00',
        internal,
        cidr: `${address}/64`,
        scopeid: 0,
      }
    : {
        address,
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '00:00:00:00:00:00',
        internal,
        cidr: `${address}/24`,
      }
}

const oneIp: InterfaceTable = { lo: [iface('127.0.0.1', true)], eth0: [iface('10.1.2.3'), iface('fe80::1')] }
const env: LoadEnvironment = { hostname: () => 'host1', networkInterfaces: () => oneIp }

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function write(dir: string, name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function problems(argv: string[], e: LoadEnvironment = env): readonly string[] {
  try {
    loadConfig(argv, e)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  assert.fail(`expected a ConfigError for ${argv.join(' ')}`)
}

function isDeepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true
  return Object.isFrozen(value) && Object.values(value).every(isDeepFrozen)
}

test('config has Consul defaults for a client agent', (t) => {
  const dir = tempDir(t)
  const c = loadConfig(['-data-dir', dir], env)
  const expected: Partial<AgentConfig> = {
    dev: false,
    server: false,
    bootstrap: false,
    bootstrapExpect: 0,
    dataDir: dir,
    nodeName: 'host1',
    nodeId: '',
    datacenter: 'dc1',
    primaryDatacenter: 'dc1',
    bindAddr: '0.0.0.0',
    advertiseAddr: '10.1.2.3',
    advertiseAddrWan: '10.1.2.3',
    clientAddrs: ['127.0.0.1'],
    logLevel: 'info',
    logJson: false,
    enableScriptChecks: false,
    enableLocalScriptChecks: false,
    checkOutputMaxSize: 4096,
    checkUpdateIntervalMs: 300_000,
    aliasReconcileIntervalMs: 60_000,
    defaultQueryTimeMs: 300_000,
    maxQueryTimeMs: 600_000,
    sessionTtlMinMs: 10_000,
    prettyJson: false,
    uiEnabled: false,
    uiContentPath: '/ui/',
    aclEnabled: false,
    aclDefaultPolicy: 'allow',
    leaveOnTerminate: true,
    skipLeaveOnInterrupt: false,
    disableHostNodeId: true,
    pidFile: '',
  }
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(c[k as keyof AgentConfig], v, k)
  assert.deepEqual(c.ports, {
    http: 8500,
    https: -1,
    dns: 8600,
    grpc: -1,
    grpcTls: -1,
    serfLan: 8301,
    serfWan: 8302,
    server: 8300,
    sidecarMinPort: 21000,
    sidecarMaxPort: 21255,
    exposeMinPort: 21500,
    exposeMaxPort: 21755,
  })
  assert.deepEqual(c.addresses.http, ['127.0.0.1'])
  assert.deepEqual(c.limits, {
    httpMaxConnsPerClient: 200,
    kvMaxValueSize: 524288,
    txnMaxReqLen: 524288,
    rpcRate: Infinity,
    rpcMaxBurst: 1000,
  })
  assert.deepEqual(c.httpConfig, {
    responseHeaders: {},
    blockEndpoints: [],
    allowWriteHttpFrom: [],
    useCache: true,
  })
  assert.deepEqual(c.services, [])
  assert.ok(isDeepFrozen(c))
})

test('config -dev is a bootstrapped in-memory server with dev defaults', () => {
  const c = loadConfig(['-dev'], env)
  assert.equal(c.dev, true)
  assert.equal(c.server, true)
  assert.equal(c.bootstrap, true)
  assert.equal(c.dataDir, '')
  assert.equal(c.bindAddr, '127.0.0.1')
  assert.equal(c.advertiseAddr, '127.0.0.1')
  assert.equal(c.uiEnabled, true)
  assert.equal(c.logLevel, 'debug')
  assert.equal(c.ports.grpc, 8502)
  assert.equal(c.prettyJson, true)
  assert.equal(c.skipLeaveOnInterrupt, true)
  assert.equal(c.leaveOnTerminate, false)
})

test('config -dev defaults yield to files, -hcl and flags', (t) => {
  const dir = tempDir(t)
  const file = write(dir, 'a.json', '{"log_level": "WARN"}')
  const c = loadConfig(
    ['-dev', '-config-file', file, '-hcl', 'ui_config { enabled = false }', '-bind', '127.0.0.2'],
    env,
  )
  assert.equal(c.logLevel, 'warn')
  assert.equal(c.uiEnabled, false)
  assert.equal(c.bindAddr, '127.0.0.2')
  assert.equal(c.advertiseAddr, '127.0.0.2')
})

test('config merges files in command-line order, directories by name, then -hcl, then flags', (t) => {
  const dir = tempDir(t)
  const confDir = join(dir, 'conf.d')
  mkdirSync(confDir)
  mkdirSync(join(confDir, 'sub.json'))
  write(confDir, '2.hcl', 'node_name = "dir-2"\nnode_meta { b = "dir" }')
  write(confDir, '1.json', '{"node_name": "dir-1", "datacenter": "dc-dir"}')
  write(confDir, 'README.txt', 'not config')
  const file = write(
    dir,
    'f.json',
    JSON.stringify({
      node_name: 'file',
      node_meta: { a: 'file', b: 'file' },
      http_config: { block_endpoints: ['/v1/a'] },
    }),
  )
  const base = ['-data-dir', dir]

  const dirThenFile = loadConfig([...base, '-config-dir', confDir, '-config-file', file], env)
  assert.equal(dirThenFile.nodeName, 'file')
  assert.equal(dirThenFile.datacenter, 'dc-dir')
  assert.deepEqual(dirThenFile.configFiles, [join(confDir, '1.json'), join(confDir, '2.hcl'), file])
  assert.ok(dirThenFile.warnings.some((w) => w.includes(`skipping file ${join(confDir, 'README.txt')}`)))

  const fileThenDir = loadConfig([...base, '-config-file', file, '-config-dir', confDir], env)
  assert.equal(fileThenDir.nodeName, 'dir-2')
  assert.deepEqual(fileThenDir.nodeMeta, { a: 'file', b: 'dir' })

  const withHcl = loadConfig(
    [
      ...base,
      '-config-file',
      file,
      '-hcl',
      'node_name = "hcl"\nhttp_config { block_endpoints = ["/v1/b"] }',
      '-hcl',
      'node_meta { b = "hcl" }',
    ],
    env,
  )
  assert.equal(withHcl.nodeName, 'hcl')
  assert.deepEqual(withHcl.httpConfig.blockEndpoints, ['/v1/a', '/v1/b'])

  const withFlags = loadConfig(
    [
      ...base,
      '-node',
      'flag',
      '-config-file',
      file,
      '-hcl',
      'node_meta { b = "hcl" }',
      '-node-meta',
      'c:flag',
    ],
    env,
  )
  assert.equal(withFlags.nodeName, 'flag')
  assert.deepEqual(withFlags.nodeMeta, { a: 'file', b: 'hcl', c: 'flag' })
})

test('config reads the format from the extension or -config-format', (t) => {
  const dir = tempDir(t)
  const noExt = write(dir, 'agent.conf', 'node_name = "from-hcl"')
  assert.deepEqual(problems(['-data-dir', dir, '-config-file', noExt]), [
    `file ${noExt} has unknown extension; must be .hcl or .json, or config format must be set`,
  ])
  assert.equal(
    loadConfig(['-data-dir', dir, '-config-format', 'hcl', '-config-file', noExt], env).nodeName,
    'from-hcl',
  )
  const json = write(dir, 'x.hcl', '{"node_name": "json-in-hcl-file"}')
  assert.equal(
    loadConfig(['-data-dir', dir, '-config-format=json', '-config-file', json], env).nodeName,
    'json-in-hcl-file',
  )
  assert.deepEqual(problems(['-data-dir', dir, '-config-format', 'yaml']), [
    "config: -config-format must be either 'hcl' or 'json'",
  ])
})

test('config matches keys case-insensitively', (t) => {
  const dir = tempDir(t)
  const file = write(
    dir,
    'c.json',
    '{"Datacenter": "DC2", "NODE_NAME": "n", "Ports": {"HTTP": 9500}, "Service": {"Name": "web"}}',
  )
  const c = loadConfig(['-data-dir', dir, '-config-file', file], env)
  assert.equal(c.datacenter, 'dc2')
  assert.equal(c.nodeName, 'n')
  assert.equal(c.ports.http, 9500)
  assert.deepEqual(c.services, [{ source: file, definition: { Name: 'web' } }])
})

test('config reports every unknown key, naming the file', (t) => {
  const dir = tempDir(t)
  const a = write(dir, 'a.json', '{"foo": 1, "ports": {"bogus": 2}}')
  const b = write(dir, 'b.hcl', 'acl { tokens { nope = "x" } }')
  assert.deepEqual(problems(['-data-dir', dir, '-config-file', a, '-config-file', b]), [
    `failed to parse ${a}: invalid config key foo`,
    `failed to parse ${a}: invalid config key ports.bogus`,
    `failed to parse ${b}: invalid config key acl.tokens.nope`,
  ])
})

test('config reports unparsable files and bad values with file and key', (t) => {
  const dir = tempDir(t)
  const badJson = write(dir, 'bad.json', '{"a": }')
  const badHcl = write(dir, 'bad.hcl', 'server = true\nports {\n  http = @\n}')
  const types = write(
    dir,
    'types.json',
    '{"ports": {"http": "abc"}, "server": "maybe", "default_query_time": "5x", "retry_join": {"a": 1}}',
  )
  const got = problems([
    '-data-dir',
    dir,
    '-config-file',
    badJson,
    '-config-file',
    badHcl,
    '-config-file',
    types,
  ])
  assert.equal(got.length, 6)
  assert.match(got[0] ?? '', new RegExp(`^failed to parse ${badJson}: .*JSON`))
  assert.equal(got[1], `failed to parse ${badHcl}: At 3:10: illegal character "@"`)
  assert.equal(
    got[2],
    `failed to parse ${types}: 'ports.http' expected type 'int', got unconvertible type 'string', value: 'abc'`,
  )
  assert.equal(
    got[3],
    `failed to parse ${types}: 'server' expected type 'bool', got unconvertible type 'string', value: 'maybe'`,
  )
  assert.equal(
    got[4],
    `failed to parse ${types}: default_query_time: invalid duration: "5x": time: invalid duration "5x"`,
  )
  assert.match(got[5] ?? '', /'retry_join\[0\]' expected type 'string'/)
})

test('config reports a missing config file', (t) => {
  const dir = tempDir(t)
  const missing = join(dir, 'nope.json')
  assert.deepEqual(problems(['-data-dir', dir, '-config-file', missing]), [
    `config: Open failed on ${missing}. open ${missing}: no such file or directory`,
  ])
})

test('config collects service/services/check/checks with their source', (t) => {
  const dir = tempDir(t)
  const json = write(
    dir,
    'a.json',
    JSON.stringify({
      service: { name: 'one' },
      services: [{ name: 'two' }, { name: 'three' }],
      check: { id: 'c1', ttl: '10s' },
      checks: [{ id: 'c2', ttl: '10s' }],
    }),
  )
  const hcl = write(
    dir,
    'b.hcl',
    `
service {
  name = "four"
  check { ttl = "1s" }
  check { ttl = "2s" }
}
service { name = "five" }
`,
  )
  const c = loadConfig(['-data-dir', dir, '-config-file', json, '-config-file', hcl], env)
  assert.deepEqual(
    c.services.map((s) => [s.source, (s.definition as { name: string }).name]),
    [
      [json, 'one'],
      [json, 'two'],
      [json, 'three'],
      [hcl, 'four'],
      [hcl, 'five'],
    ],
  )
  assert.deepEqual(c.services[3]?.definition, { name: 'four', checks: [{ ttl: '1s' }, { ttl: '2s' }] })
  assert.deepEqual(
    c.checks.map((s) => [s.source, (s.definition as { id: string }).id]),
    [
      [json, 'c1'],
      [json, 'c2'],
    ],
  )
  assert.ok(Object.isFrozen(c.services[0]?.definition))
})

test('config takes LAN joins from flags and files, and refuses WAN joins, naming them', (t) => {
  const dir = tempDir(t)
  const file = write(dir, 'j.json', '{"retry_join": ["10.0.0.9"], "start_join": ["10.0.0.8"]}')
  const c = loadConfig(['-dev', '-join', 'a', '-retry-join', '127.0.0.1:8301', '-config-file', file])
  assert.deepEqual([...c.retryJoin].sort(), ['10.0.0.8', '10.0.0.9', '127.0.0.1:8301', 'a'])
  assert.equal(c.memberLivenessTimeoutMs, 10_000)
  const w = write(dir, 'w.json', '{"retry_join_wan": ["10.0.0.7"], "member_liveness_timeout": "2s"}')
  assert.deepEqual(problems(['-dev', '-join-wan', 'b', '-config-file', w]), [
    'vigil does not support WAN federation (-join-wan b retry_join_wan 10.0.0.7): join agents of one datacenter with -retry-join',
  ])
  assert.equal(loadConfig(['-dev', '-hcl', 'member_liveness_timeout = "2s"']).memberLivenessTimeoutMs, 2000)
})

test('config validates the table of cli.md §3, one problem each', (t) => {
  const dir = tempDir(t)
  const aFile = write(dir, 'file', '')
  const d = ['-data-dir', dir]
  const cases: [string[], string][] = [
    [[], 'data_dir cannot be empty'],
    [
      [...d, '-server', '-bootstrap', '-bootstrap-expect', '3'],
      "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive",
    ],
    [[...d, '-bootstrap-expect', '3'], "'bootstrap_expect > 0' requires 'server = true'"],
    [['-dev', '-bootstrap-expect', '3'], "'bootstrap_expect > 0' not allowed in dev mode"],
    [[...d, '-bootstrap'], "'bootstrap = true' requires 'server = true'"],
    [
      [...d, '-server', '-bootstrap-expect=-1'],
      'bootstrap_expect cannot be -1. Must be greater than or equal to zero',
    ],
    [['-data-dir', aFile], `data_dir ${JSON.stringify(aFile)} is not a directory`],
    [[...d, '-node-id', 'abc'], 'node_id "abc" is invalid: uuid string is wrong length'],
    [
      [...d, '-node-id', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'],
      'node_id "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz" is invalid: uuid is improperly formatted',
    ],
    [[...d, '-bind', 'not-an-ip'], 'bind_addr must be an ip address'],
    [
      [...d, '-bind', '10.0.0.1 10.0.0.2'],
      "bind_addr cannot contain multiple addresses. Use 'addresses.{dns,http,https}' instead.",
    ],
    [
      [...d, '-bind', '{{ GetAllInterfaces }}'],
      'bind_addr: error parsing "{{ GetAllInterfaces }}": unsupported template {{ GetAllInterfaces }}: vigil supports GetPrivateIP(s), GetPublicIP(s) and GetInterfaceIP(s) "name"',
    ],
    [[...d, '-advertise', '0.0.0.0'], 'Advertise address cannot be 0.0.0.0, :: or [::]'],
    [[...d, '-client', '127.0.0.1 nope'], 'client_addr: invalid ip address: nope'],
    [
      [...d, '-datacenter', 'dc 1'],
      'datacenter can only contain lowercase alphanumeric, - or _ characters. received: "dc 1"',
    ],
    [
      [...d, '-log-level', 'loud'],
      'Invalid log level: "loud". Valid log levels are: [TRACE DEBUG INFO WARN ERROR]',
    ],
    [
      [...d, '-check_output_max_size', '0'],
      'check_output_max_size must be positive, to discard check output use the discard_check_output flag',
    ],
    [[...d, '-http-port', '70000'], 'ports.http: invalid port: 70000'],
    [[...d, '-server-port', '0'], 'server-port must be greater than zero'],
    [
      [...d, '-node-meta', 'consul-x:y'],
      "node_meta invalid: Couldn't load metadata pair ('consul-x', 'y'): Key prefix 'consul-' is reserved for internal use",
    ],
    [
      [...d, '-node-meta', 'bad key:y'],
      "node_meta invalid: Couldn't load metadata pair ('bad key', 'y'): Key contains invalid characters",
    ],
    [[...d, '-encrypt', 'short'], 'encrypt has invalid key: must be a base64-encoded 16, 24 or 32-byte key'],
    [[...d, '-allow-write-http-from', '10.0.0.0/33'], 'allow_write_http_from: invalid cidr: 10.0.0.0/33'],
    [
      [...d, '-hcl', 'acl { default_policy = "maybe" }'],
      'acl.default_policy: invalid value "maybe": must be "allow" or "deny"',
    ],
    [
      [...d, '-hcl', 'ports { sidecar_min_port = 30000 }'],
      'sidecar_min_port must be less than sidecar_max_port. To disable, set both to zero.',
    ],
    [[...d, '-server', 'true'], 'Unexpected extra arguments: [true]'],
  ]
  for (const [argv, expected] of cases) assert.deepEqual(problems(argv), [expected], argv.join(' '))
})

test('config detects the advertise address when bound to 0.0.0.0', (t) => {
  const dir = tempDir(t)
  const none: LoadEnvironment = { ...env, networkInterfaces: () => ({ lo: [iface('127.0.0.1', true)] }) }
  assert.deepEqual(problems(['-data-dir', dir], none), ['No private IPv4 address found'])
  const two: LoadEnvironment = {
    ...env,
    networkInterfaces: () => ({ eth0: [iface('10.0.0.1')], eth1: [iface('192.168.1.5')] }),
  }
  assert.deepEqual(problems(['-data-dir', dir], two), [
    "Multiple private IPv4 addresses found. Please configure one with 'bind' and/or 'advertise'.",
  ])
  const c = loadConfig(['-data-dir', dir, '-advertise', '10.0.0.1'], two)
  assert.equal(c.advertiseAddr, '10.0.0.1')
  assert.equal(c.bindAddr, '0.0.0.0')
})

test('config reports every problem at once', (t) => {
  const dir = tempDir(t)
  const file = write(dir, 'x.json', '{"unknown_thing": true}')
  const got = problems([
    '-bootstrap-expect',
    '2',
    '-log-level',
    'loud',
    '-config-file',
    file,
    '-join-wan',
    'x',
    'extra',
  ])
  assert.deepEqual([...got].sort(), [
    "'bootstrap_expect > 0' requires 'server = true'",
    'Invalid log level: "loud". Valid log levels are: [TRACE DEBUG INFO WARN ERROR]',
    'Unexpected extra arguments: [extra]',
    'data_dir cannot be empty',
    `failed to parse ${file}: invalid config key unknown_thing`,
    'vigil does not support WAN federation (-join-wan x): join agents of one datacenter with -retry-join',
  ])
})

test('config lets flag errors through as FlagError', () => {
  assert.throws(
    () => loadConfig(['-nope'], env),
    (err: unknown) => err instanceof FlagError && err.message === 'flag provided but not defined: -nope',
  )
})

test('config treats bootstrap_expect = 1 as bootstrap, with a warning', (t) => {
  const dir = tempDir(t)
  const c = loadConfig(['-data-dir', dir, '-server', '-bootstrap-expect', '1'], env)
  assert.equal(c.bootstrap, true)
  assert.equal(c.bootstrapExpect, 0)
  assert.ok(c.warnings.includes('BootstrapExpect is set to 1; this is the same as Bootstrap mode.'))
  const two = loadConfig(['-data-dir', dir, '-server', '-bootstrap-expect', '2'], env)
  assert.equal(two.bootstrapExpect, 2)
  assert.ok(
    two.warnings.some((w) =>
      w.startsWith('bootstrap_expect = 2: A cluster with 2 servers will provide no failure tolerance'),
    ),
  )
})

test('config sets the leave behaviour by role unless configured', (t) => {
  const dir = tempDir(t)
  const server = loadConfig(['-data-dir', dir, '-server', '-bootstrap'], env)
  assert.equal(server.leaveOnTerminate, false)
  assert.equal(server.skipLeaveOnInterrupt, true)
  const configured = loadConfig(
    [
      '-data-dir',
      dir,
      '-server',
      '-bootstrap',
      '-hcl',
      'leave_on_terminate = true\nskip_leave_on_interrupt = false',
    ],
    env,
  )
  assert.equal(configured.leaveOnTerminate, true)
  assert.equal(configured.skipLeaveOnInterrupt, false)
})

test('config converts durations to milliseconds from flags and files', (t) => {
  const dir = tempDir(t)
  const c = loadConfig(
    [
      '-data-dir',
      dir,
      '-default-query-time',
      '10s',
      '-hcl',
      'max_query_time = "1m"\nsession_ttl_min = "500ms"\ncheck_update_interval = "0"\nalias_reconcile_interval = "2s"\ntelemetry { prometheus_retention_time = "1h" }',
    ],
    env,
  )
  assert.equal(c.defaultQueryTimeMs, 10_000)
  assert.equal(c.maxQueryTimeMs, 60_000)
  assert.equal(c.sessionTtlMinMs, 500)
  assert.equal(c.checkUpdateIntervalMs, 0)
  assert.equal(c.aliasReconcileIntervalMs, 2_000)
  assert.equal(c.telemetry.prometheusRetentionTimeMs, 3_600_000)
})

test('config expands address templates and client address lists', (t) => {
  const dir = tempDir(t)
  const c = loadConfig(
    [
      '-data-dir',
      dir,
      '-bind',
      '{{ GetPrivateIP }}',
      '-client',
      '127.0.0.1 {{ GetInterfaceIP "eth0" }} [::1]',
    ],
    env,
  )
  assert.equal(c.bindAddr, '10.1.2.3')
  assert.equal(c.advertiseAddr, '10.1.2.3')
  assert.deepEqual(c.clientAddrs, ['127.0.0.1', '10.1.2.3', '::1'])
  const perListener = loadConfig(['-data-dir', dir, '-hcl', 'addresses { http = "0.0.0.0" }'], env)
  assert.deepEqual(perListener.addresses.http, ['0.0.0.0'])
  assert.deepEqual(perListener.addresses.dns, ['127.0.0.1'])
})

test('config reads what client-library harnesses write', (t) => {
  const dir = tempDir(t)
  const harness = write(
    dir,
    'config.json',
    '{"primary_datacenter":"dc1","acl":{"enabled":false},"enable_script_checks":true}',
  )
  const c = loadConfig(
    [
      '-node',
      'node1',
      '-datacenter',
      'dc1',
      '-bind',
      '127.0.0.1',
      '-client',
      '127.0.0.1',
      '-bootstrap',
      '-server',
      '-config-file',
      harness,
      '-data-dir',
      join(dir, 'node1', 'data'),
      '-pid-file',
      join(dir, 'node1', 'pid'),
    ],
    env,
  )
  assert.equal(c.enableScriptChecks, true)
  assert.equal(c.enableLocalScriptChecks, true)
  assert.equal(c.pidFile, join(dir, 'node1', 'pid'))
  const goTestServer = write(
    dir,
    'go.json',
    JSON.stringify({
      node_name: 'node-x',
      node_id: '9D754D17-D864-B1D3-E758-F3FE25A9874F',
      performance: { raft_multiplier: 1 },
      bootstrap: true,
      server: true,
      segments: null,
      disable_update_check: true,
      log_level: 'debug',
      bind_addr: '127.0.0.1',
      addresses: {},
      ports: {
        dns: 18600,
        http: 18500,
        https: 18501,
        serf_lan: 18301,
        serf_wan: 18302,
        server: 18300,
        grpc: 18502,
        grpc_tls: 18503,
      },
      acl: { tokens: {} },
      connect: { enabled: true, ca_config: { cluster_id: '11111111-2222-3333-4444-555555555555' } },
      skip_leave_on_interrupt: true,
      peering: { enabled: true },
      data_dir: join(dir, 'data'),
    }),
  )
  const go = loadConfig(['-config-file', goTestServer], env)
  assert.equal(go.nodeId, '9d754d17-d864-b1d3-e758-f3fe25a9874f')
  assert.equal(go.ports.http, 18500)
  assert.equal(go.ports.grpcTls, 18503)
  assert.ok(!go.warnings.some((w) => w.includes('does not implement')))
})

test('config warns about accepted settings vigil does not implement yet', (t) => {
  const dir = tempDir(t)
  const c = loadConfig(
    [
      '-data-dir',
      dir,
      '-log-file',
      '/tmp/x.log',
      '-hcl',
      'telemetry { statsd_address = "x:1" }\nperformance { raft_multiplier = 1 }',
    ],
    env,
  )
  const warning = c.warnings.find((w) => w.startsWith('vigil accepts but does not implement'))
  assert.equal(
    warning,
    'vigil accepts but does not implement these settings yet; they have no effect: telemetry.statsd_address, log_file',
  )
})

test('config maps deprecated top-level ACL and UI keys, with warnings', (t) => {
  const dir = tempDir(t)
  const c = loadConfig(
    [
      '-data-dir',
      dir,
      '-hcl',
      'acl_datacenter = "dc9"\nacl_default_policy = "deny"\nacl_master_token = "root"\nui = true',
    ],
    env,
  )
  assert.equal(c.primaryDatacenter, 'dc9')
  assert.equal(c.aclDefaultPolicy, 'deny')
  assert.equal(c.aclTokens.initialManagement, 'root')
  assert.equal(c.uiEnabled, true)
  assert.ok(
    c.warnings.includes(
      "The 'acl_datacenter' field is deprecated. Use the 'primary_datacenter' field instead.",
    ),
  )
  assert.ok(c.warnings.includes("The 'ui' field is deprecated. Use the 'ui_config.enabled' field instead."))
  const tokens = loadConfig(
    ['-data-dir', dir, '-hcl', 'acl { tokens { master = "m", agent_master = "am" } }'],
    env,
  )
  assert.equal(tokens.aclTokens.initialManagement, 'm')
  assert.equal(tokens.aclTokens.agentRecovery, 'am')
})

test('config reads service definition files for services register', (t) => {
  const dir = tempDir(t)
  const json = write(dir, 'web.json', '{"Service": {"Name": "web", "Port": 80}}')
  const hcl = write(dir, 'db.hcl', 'service {\n  name = "db"\n}\nservices = [{ name = "cache" }]')
  assert.deepEqual(
    loadServiceDefinitions([json, hcl]).map((d) => d.definition),
    [{ Name: 'web', Port: 80 }, { name: 'db' }, { name: 'cache' }],
  )
  const bad = write(dir, 'bad.json', '{"Servis": {}}')
  assert.throws(
    () => loadServiceDefinitions([bad]),
    (err: unknown) =>
      err instanceof ConfigError && err.problems[0] === `failed to parse ${bad}: invalid config key Servis`,
  )
})
