import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BadRequestError, DecodeError, ScriptChecksDisabledError } from '../../src/lib/errors.js'
import type { CheckRegistration } from '../../src/structs/check.js'
import { decodeJsonBody } from '../../src/structs/go-json.js'
import {
  normalizeCheckDefinition,
  normalizeCheckUpdate,
  normalizeServiceDefinition,
  type NormalizeContext,
} from '../../src/structs/normalize.js'
import { assertDeepFrozen, failure, normalizeContext } from '../support/normalize.js'

function registerCheck(body: unknown, ctx: NormalizeContext = normalizeContext()): CheckRegistration {
  return normalizeCheckDefinition(typeof body === 'string' ? decodeJsonBody(body) : body, ctx)
}

test('a standalone TTL check gets its ID from its name, critical status and the node name', () => {
  const reg = registerCheck('{"Name": "mem", "TTL": "15s", "Notes": "n", "Token": "t"}')
  assert.deepEqual(
    { ...reg.check },
    {
      node: 'node-1',
      checkId: 'mem',
      name: 'mem',
      status: 'critical',
      notes: 'n',
      output: '',
      serviceId: '',
      serviceName: '',
      serviceTags: [],
      type: 'ttl',
      interval: '',
      timeout: '',
      exposedPort: 0,
    },
  )
  assert.equal(reg.definition.ttlMs, 15_000)
  assert.equal(reg.token, 't')
  assert.equal(reg.source, 'remote')
  assertDeepFrozen(reg)
})

test('a standalone check keeps its ID, status and ServiceID; the agent fills the service name', () => {
  const cases = [
    '{"ID": "c1", "Name": "n", "ServiceID": "web", "Status": "passing", "TTL": "5s"}',
    '{"id": "c1", "name": "n", "service_id": "web", "status": "passing", "ttl": "5s"}',
    '{"Id": "c1", "NAME": "n", "serviceid": "web", "STATUS": "passing", "Ttl": 5000000000}',
  ]
  for (const body of cases) {
    const reg = registerCheck(body)
    assert.equal(reg.check.checkId, 'c1', body)
    assert.equal(reg.check.serviceId, 'web')
    assert.equal(reg.check.serviceName, '')
    assert.deepEqual(reg.check.serviceTags, [])
    assert.equal(reg.check.status, 'passing')
    assert.equal(reg.definition.ttlMs, 5000)
  }
})

test('check register rejects a missing name and a bad status with Consul texts', () => {
  assert.equal(
    failure(() => registerCheck('{"TTL": "5s"}'), BadRequestError),
    'Missing check name',
  )
  assert.equal(
    failure(() => registerCheck('{}'), BadRequestError),
    'Missing check name',
  )
  assert.equal(
    failure(() => registerCheck('{"Name": "c", "TTL": "5s", "Status": "ok"}'), BadRequestError),
    'Bad check status',
  )
  assert.equal(
    failure(() => registerCheck('{"Name": "c", "Status": "maintenance", "TTL": "5s"}'), BadRequestError),
    'Bad check status',
  )
})

test('check register decodes like Go: unknown keys, wrong types, bad durations, aliases', () => {
  const cases: [string, string][] = [
    ['{"Name": "c", "Script": "/bin/true", "Interval": "10s"}', 'json: unknown field "Script"'],
    ['{"Name": "c", "CheckID": "x", "TTL": "5s"}', 'json: unknown field "CheckID"'],
    ['{"Name": "c", "alias_service": "web"}', 'json: unknown field "alias_service"'],
    ['{"Name": "c", "TTL": "5s", "output_max_size": 1}', 'json: unknown field "output_max_size"'],
    [
      '{"Name": "c", "TTL": true}',
      'json: cannot unmarshal bool into Go struct field CheckDefinition.TTL of type time.Duration',
    ],
    [
      '{"Name": "c", "Header": {"A": "b"}, "HTTP": "h", "Interval": "1s"}',
      'json: cannot unmarshal string into Go struct field CheckDefinition.Header of type []string',
    ],
    [
      '{"Name": "c", "SuccessBeforePassing": 1.5, "TTL": "1s"}',
      'json: cannot unmarshal number 1.5 into Go struct field CheckDefinition.SuccessBeforePassing of type int',
    ],
    ['{"Name": "c", "TTL": "five"}', 'time: invalid duration "five"'],
    ['{"Name": "c", "TTL": "5"}', 'time: missing unit in duration "5"'],
    ['{"Name": "c"', 'unexpected EOF'],
  ]
  for (const [body, detail] of cases) {
    assert.equal(
      failure(() => registerCheck(body), DecodeError),
      `Request decode failed: ${detail}`,
      body,
    )
  }
  const aliased = registerCheck({
    name: 'c',
    http: 'https://h/health',
    interval: '10s',
    disable_redirects: true,
    tls_skip_verify: true,
    tls_server_name: 'h.local',
    deregister_critical_service_after: 120_000_000_000,
  })
  assert.equal(aliased.definition.disableRedirects, true)
  assert.equal(aliased.definition.tlsSkipVerify, true)
  assert.equal(aliased.definition.tlsServerName, 'h.local')
  assert.equal(aliased.definition.deregisterCriticalServiceAfterMs, 120_000)
})

test('check type validation gives the reasons of checks.md §2, prefixed Invalid check:', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ TTL: '10s', Interval: '10s' }, 'Interval and TTL cannot both be specified'],
    [{ HTTP: 'http://h' }, 'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks'],
    [
      { TCP: 'h:1', Interval: '-1s' },
      'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks',
    ],
    [{ UDP: 'h:1' }, 'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks'],
    [{ GRPC: 'h:1' }, 'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks'],
    [{ H2PING: 'h:1' }, 'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks'],
    [{ OSService: 'sshd' }, 'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks'],
    [{ HTTP: 'http://h', Interval: '10s', AliasService: 'web' }, 'Interval cannot be set for Alias checks'],
    [{ AliasService: 'web', TTL: '10s' }, 'TTL must be not be set for Alias checks'],
    [{}, 'TTL must be > 0 for TTL checks'],
    [{ TTL: '0s' }, 'TTL must be > 0 for TTL checks'],
    [{ TTL: '-5s' }, 'TTL must be > 0 for TTL checks'],
    [{ DockerContainerID: 'c1' }, 'TTL must be > 0 for TTL checks'],
    [{ TTL: '10s', OutputMaxSize: -1 }, 'MaxOutputMaxSize must be positive'],
    [
      { TCP: 'h:1', Interval: '5s', FailuresBeforeWarning: 3, FailuresBeforeCritical: 2 },
      "FailuresBeforeWarning can't be higher than FailuresBeforeCritical",
    ],
    [
      { HTTP: 'http://h', TCP: 'h:1', Interval: '5s' },
      'only one of HTTP, TCP, UDP, GRPC, H2PING, Args, OSService or AliasService/AliasNode may be set, got HTTP, TCP',
    ],
    [
      { UDP: 'h:1', GRPC: 'h:2', H2PING: 'h:3', Interval: '5s' },
      'only one of HTTP, TCP, UDP, GRPC, H2PING, Args, OSService or AliasService/AliasNode may be set, got UDP, GRPC, H2PING',
    ],
    [
      { Args: ['/bin/x'], OSService: 'sshd', Interval: '5s' },
      'only one of HTTP, TCP, UDP, GRPC, H2PING, Args, OSService or AliasService/AliasNode may be set, got Args, OSService',
    ],
  ]
  const ctx = normalizeContext({ enableScriptChecks: true })
  for (const [fields, reason] of cases) {
    const body = { Name: 'c', ...fields }
    assert.equal(
      failure(() => registerCheck(body, ctx), BadRequestError),
      `Invalid check: ${reason}`,
      JSON.stringify(body),
    )
    const inService = { Name: 'web', Check: fields }
    if (Object.keys(fields).length > 0 && !('TTL' in fields && fields['TTL'] === '0s')) {
      assert.equal(
        failure(() => normalizeServiceDefinition(inService, ctx), BadRequestError),
        `Invalid check: ${reason}`,
        JSON.stringify(inService),
      )
    }
  }
})

test('the check type follows the target; defaults are Consul runtime defaults', () => {
  const ctx = normalizeContext({ enableScriptChecks: true })
  const cases: [Record<string, unknown>, string, number, number][] = [
    [{ TTL: '30s' }, 'ttl', 0, 0],
    [{ HTTP: 'http://h', Interval: '10s' }, 'http', 10_000, 10_000],
    [{ TCP: 'h:1', Interval: '10s', Timeout: '2s' }, 'tcp', 10_000, 2_000],
    [{ UDP: 'h:1', Interval: '10s' }, 'udp', 10_000, 10_000],
    [{ GRPC: 'h:1/svc', Interval: '10s' }, 'grpc', 10_000, 10_000],
    [{ H2PING: 'h:1', Interval: '10s' }, 'h2ping', 10_000, 10_000],
    [{ Args: ['/bin/true'], Interval: '10s' }, 'script', 10_000, 30_000],
    [
      { Args: ['/bin/true'], DockerContainerID: 'c1', Shell: '/bin/bash', Interval: '10s' },
      'docker',
      10_000,
      30_000,
    ],
    [{ OSService: 'sshd', Interval: '10s' }, 'os_service', 10_000, 30_000],
    [{ AliasService: 'web' }, 'alias', 0, 0],
    [{ AliasNode: 'node-2' }, 'alias', 0, 0],
    [{ AliasService: 'web', Interval: '10s' }, 'alias', 10_000, 0],
  ]
  for (const [fields, type, intervalMs, timeoutMs] of cases) {
    const reg = registerCheck({ Name: 'c', ...fields }, ctx)
    assert.equal(reg.definition.type, type, JSON.stringify(fields))
    assert.equal(reg.check.type, type)
    assert.equal(reg.definition.intervalMs, intervalMs, `interval of ${type}`)
    assert.equal(reg.definition.timeoutMs, timeoutMs, `timeout of ${type}`)
  }
})

test('check records show the given interval and timeout as Go duration strings', () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ HTTP: 'http://h', Interval: '90s', Timeout: '1500ms' }, '1m30s', '1.5s'],
    [{ HTTP: 'http://h', Interval: 3_600_000_000_000 }, '1h0m0s', ''],
    [{ TTL: '10s' }, '', ''],
    [{ HTTP: 'http://h', Interval: '0.5s' }, '500ms', ''],
  ]
  for (const [fields, interval, timeout] of cases) {
    const reg = registerCheck({ Name: 'c', ...fields })
    assert.equal(reg.check.interval, interval, JSON.stringify(fields))
    assert.equal(reg.check.timeout, timeout)
  }
})

test('an interval below 1s is raised to 1s with a warning', () => {
  const warnings: string[] = []
  const reg = registerCheck(
    { ID: 'fast', Name: 'c', TCP: 'h:1', Interval: '10ms' },
    normalizeContext({ warn: (m) => warnings.push(m) }),
  )
  assert.equal(reg.definition.intervalMs, 1000)
  assert.deepEqual(warnings, ['check "fast" has interval 10ms below minimum; using 1s'])
})

test('HTTP method defaults to GET; H2PingUseTLS defaults to true when H2PING is set', () => {
  assert.equal(registerCheck({ Name: 'c', HTTP: 'http://h', Interval: '1s' }).definition.method, 'GET')
  assert.equal(
    registerCheck({ Name: 'c', HTTP: 'http://h', Method: 'POST', Interval: '1s' }).definition.method,
    'POST',
  )
  assert.equal(registerCheck({ Name: 'c', TTL: '1s' }).definition.method, '')
  const h2: [Record<string, unknown>, boolean][] = [
    [{ H2PING: 'h:1' }, true],
    [{ H2PING: 'h:1', H2PingUseTLS: false }, false],
    [{ H2PING: 'h:1', h2ping_use_tls: false }, false],
    [{ H2PING: 'h:1', H2PingUseTLS: true, h2ping_use_tls: false }, false],
    [{ H2PING: 'h:1', H2PingUseTLS: true }, true],
  ]
  for (const [fields, useTls] of h2) {
    assert.equal(
      registerCheck({ Name: 'c', Interval: '1s', ...fields }).definition.h2pingUseTls,
      useTls,
      JSON.stringify(fields),
    )
  }
  assert.equal(registerCheck({ Name: 'c', TTL: '1s', H2PingUseTLS: true }).definition.h2pingUseTls, true)
  assert.equal(registerCheck({ Name: 'c', TTL: '1s' }).definition.h2pingUseTls, false)
})

test('FailuresBeforeWarning defaults to FailuresBeforeCritical', () => {
  const cases: [Record<string, unknown>, number, number][] = [
    [{}, 0, 0],
    [{ FailuresBeforeCritical: 3 }, 3, 3],
    [{ FailuresBeforeCritical: 3, FailuresBeforeWarning: 1 }, 1, 3],
    [{ FailuresBeforeCritical: 3, FailuresBeforeWarning: 3 }, 3, 3],
  ]
  for (const [fields, warning, critical] of cases) {
    const reg = registerCheck({ Name: 'c', TCP: 'h:1', Interval: '1s', ...fields })
    assert.equal(reg.definition.failuresBeforeWarning, warning, JSON.stringify(fields))
    assert.equal(reg.definition.failuresBeforeCritical, critical)
  }
})

test('HTTP check fields are carried into the definition, frozen', () => {
  const reg = registerCheck({
    Name: 'c',
    HTTP: 'https://h/health',
    Method: 'PUT',
    Header: { 'X-A': ['1', '2'], 'X-B': null },
    Body: '{"ping":1}',
    DisableRedirects: true,
    TLSServerName: 'h',
    TLSSkipVerify: true,
    Interval: '5s',
    OutputMaxSize: 100,
    SuccessBeforePassing: 2,
  })
  assert.deepEqual(reg.definition.header, { 'X-A': ['1', '2'], 'X-B': [] })
  assert.equal(reg.definition.body, '{"ping":1}')
  assert.equal(reg.definition.disableRedirects, true)
  assert.equal(reg.definition.outputMaxSize, 100)
  assert.equal(reg.definition.successBeforePassing, 2)
  assertDeepFrozen(reg)
})

test('standalone script checks need permission by origin', () => {
  const body = { Name: 'c', Args: ['/bin/true'], Interval: '10s' }
  assert.equal(
    failure(() => registerCheck(body), ScriptChecksDisabledError),
    "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true",
  )
  assert.equal(
    failure(
      () => registerCheck(body, normalizeContext({ enableLocalScriptChecks: true })),
      ScriptChecksDisabledError,
    ),
    "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true",
  )
  assert.equal(
    failure(() => registerCheck(body, normalizeContext({ origin: 'config' })), ScriptChecksDisabledError),
    "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true",
  )
  assert.equal(registerCheck(body, normalizeContext({ enableScriptChecks: true })).definition.type, 'script')
  const local = registerCheck(body, normalizeContext({ origin: 'config', enableLocalScriptChecks: true }))
  assert.equal(local.source, 'local')
  assert.equal(new ScriptChecksDisabledError(true).statusCode, 500)
})

test('config-file checks accept every snake_case key of cli.md §4', () => {
  const reg = registerCheck(
    {
      check_id: 'cfg',
      name: 'config check',
      notes: 'from file',
      status: 'warning',
      service_id: 'web',
      token: 'tok',
      h2ping: 'localhost:8443',
      h2ping_use_tls: false,
      tls_server_name: 'svc',
      tls_skip_verify: true,
      interval: '15s',
      timeout: '3s',
      success_before_passing: 1,
      failures_before_warning: 2,
      failures_before_critical: 4,
      deregister_critical_service_after: '1h',
      output_max_size: 512,
    },
    normalizeContext({ origin: 'config' }),
  )
  assert.equal(reg.check.checkId, 'cfg')
  assert.equal(reg.check.status, 'warning')
  assert.equal(reg.check.serviceId, 'web')
  assert.equal(reg.token, 'tok')
  assert.equal(reg.source, 'local')
  assert.deepEqual(
    {
      type: reg.definition.type,
      h2pingUseTls: reg.definition.h2pingUseTls,
      timeoutMs: reg.definition.timeoutMs,
      successBeforePassing: reg.definition.successBeforePassing,
      failuresBeforeWarning: reg.definition.failuresBeforeWarning,
      failuresBeforeCritical: reg.definition.failuresBeforeCritical,
      deregisterCriticalServiceAfterMs: reg.definition.deregisterCriticalServiceAfterMs,
      outputMaxSize: reg.definition.outputMaxSize,
    },
    {
      type: 'h2ping',
      h2pingUseTls: false,
      timeoutMs: 3000,
      successBeforePassing: 1,
      failuresBeforeWarning: 2,
      failuresBeforeCritical: 4,
      deregisterCriticalServiceAfterMs: 3_600_000,
      outputMaxSize: 512,
    },
  )
  const others = [
    { name: 'a', alias_service: 'web', alias_node: 'n' },
    { name: 'o', os_service: 'sshd', interval: '1s' },
    { name: 't', tcp: 'h:1', tcp_use_tls: true, interval: '1s' },
    { name: 'd', docker_container_id: 'c', args: ['x'], shell: '/bin/sh', interval: '1s' },
    { name: 'g', grpc: 'h:1', grpc_use_tls: true, interval: '1s' },
    { name: 'u', udp: 'h:1', interval: '1s' },
    {
      name: 'h',
      http: 'http://h',
      header: { a: ['b'] },
      method: 'HEAD',
      body: 'x',
      disable_redirects: true,
      interval: '1s',
    },
    { name: 's', script_args: ['x'], interval: '1s' },
    { name: 'l', ttl: '1s' },
  ]
  const types = others.map(
    (o) =>
      registerCheck(o, normalizeContext({ origin: 'config', enableLocalScriptChecks: true })).definition.type,
  )
  assert.deepEqual(types, ['alias', 'os_service', 'tcp', 'docker', 'grpc', 'udp', 'http', 'script', 'ttl'])
  assert.equal(
    failure(() => registerCheck({ name: 'x', ttl: '1s', check_id: 'y' }), DecodeError),
    'Request decode failed: json: unknown field "check_id"',
    'check_id is a config-file key only',
  )
})

test('check update body is decoded strictly and its status validated', () => {
  for (const status of ['passing', 'warning', 'critical'] as const) {
    const update = normalizeCheckUpdate(decodeJsonBody(`{"Status": "${status}", "Output": "out"}`))
    assert.deepEqual(update, { status, output: 'out' })
    assert.ok(Object.isFrozen(update))
  }
  assert.deepEqual(normalizeCheckUpdate({ status: 'passing' }), { status: 'passing', output: '' })
  const bad: [unknown, string][] = [
    [{ Status: 'ok' }, "Invalid check status: 'ok'"],
    [{ Output: 'x' }, "Invalid check status: ''"],
    [null, "Invalid check status: ''"],
    [{ Status: 'maintenance' }, "Invalid check status: 'maintenance'"],
  ]
  for (const [body, message] of bad) {
    assert.equal(
      failure(() => normalizeCheckUpdate(body), BadRequestError),
      message,
    )
  }
  assert.equal(
    failure(() => normalizeCheckUpdate({ Status: 'passing', Note: 'x' }), DecodeError),
    'Request decode failed: json: unknown field "Note"',
  )
  assert.equal(
    failure(() => normalizeCheckUpdate({ Status: 1 }), DecodeError),
    'Request decode failed: json: cannot unmarshal number into Go struct field checkUpdate.Status of type string',
  )
})
