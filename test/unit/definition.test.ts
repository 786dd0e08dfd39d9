import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CheckRegistration } from '../../src/structs/check.js'
import { checkDefinitionOf, serviceDefinitionOf } from '../../src/structs/definition.js'
import { normalizeCheckDefinition, normalizeServiceDefinition } from '../../src/structs/normalize.js'
import { normalizeContext } from '../support/normalize.js'

const ctx = normalizeContext({ enableScriptChecks: true })

/** Service definitions covering every field the record keeps. */
const SERVICES: readonly object[] = [
  { Name: 'web' },
  {
    ID: 'web-1',
    Name: 'web',
    Tags: ['a', 'b'],
    Address: '10.0.0.1',
    Port: 8080,
    Meta: { version: '1' },
    Weights: { Passing: 3, Warning: 2 },
    EnableTagOverride: true,
    TaggedAddresses: { wan: { Address: '1.2.3.4', Port: 80 }, lan_ipv6: { Address: '::1', Port: 1 } },
    Token: 'secret',
  },
  { Name: 'sock', SocketPath: '/run/s.sock', Connect: { Native: true } },
  {
    Kind: 'connect-proxy',
    Name: 'web-proxy',
    Port: 21000,
    Proxy: {
      DestinationServiceName: 'web',
      DestinationServiceID: 'web-1',
      LocalServiceAddress: '127.0.0.1',
      LocalServicePort: 8080,
      Mode: 'transparent',
      Config: { protocol: 'http' },
      Upstreams: [{ DestinationName: 'db', LocalBindPort: 9191, MeshGateway: { Mode: 'local' } }],
      MeshGateway: { Mode: 'remote' },
      Expose: { Checks: true },
    },
  },
  { Kind: 'mesh-gateway', Name: 'gw', Port: 443, Meta: { 'consul-wan-federation': '1' } },
]

/** Check definitions of every type, with values left at their defaults and values given. */
const CHECKS: readonly object[] = [
  { Name: 'ttl', TTL: '30s', Notes: 'n', Status: 'passing' },
  { Name: 'http', HTTP: 'http://127.0.0.1/', Interval: '100ms' },
  {
    ID: 'http-2',
    Name: 'http',
    ServiceID: 'web',
    HTTP: 'https://127.0.0.1/',
    Method: 'POST',
    Header: { 'X-A': ['1', '2'] },
    Body: '{}',
    DisableRedirects: true,
    Interval: '10s',
    Timeout: '2s',
    TLSServerName: 'x',
    TLSSkipVerify: true,
    SuccessBeforePassing: 2,
    FailuresBeforeCritical: 3,
    DeregisterCriticalServiceAfter: '90m',
    OutputMaxSize: 100,
    Token: 't',
  },
  {
    Name: 'tcp',
    TCP: '127.0.0.1:1',
    TCPUseTLS: true,
    Interval: '5s',
    FailuresBeforeWarning: 1,
    FailuresBeforeCritical: 2,
  },
  { Name: 'udp', UDP: '127.0.0.1:1', Interval: '5s' },
  { Name: 'grpc', GRPC: '127.0.0.1:1/svc', GRPCUseTLS: true, Interval: '5s' },
  { Name: 'h2', H2PING: '127.0.0.1:1', Interval: '5s' },
  { Name: 'h2-plain', H2PING: '127.0.0.1:1', H2PingUseTLS: false, Interval: '5s' },
  { Name: 'script', ScriptArgs: ['/bin/true', 'x'], Interval: '1m', Shell: '/bin/sh' },
  { Name: 'docker', ScriptArgs: ['true'], DockerContainerID: 'abc', Interval: '1m' },
  { Name: 'os', OSService: 'sshd', Interval: '1m' },
  { Name: 'alias', AliasService: 'web' },
  { Name: 'alias-node', AliasNode: 'other', AliasService: 'db' },
]

test('a service definition rebuilt from its record normalizes to the same record', () => {
  for (const body of SERVICES) {
    const reg = normalizeServiceDefinition(body, ctx)
    const again = normalizeServiceDefinition(serviceDefinitionOf(reg.service, reg.token), ctx)
    assert.deepEqual(again.service, reg.service, JSON.stringify(body))
    assert.equal(again.token, reg.token)
    assert.deepEqual(again.checks, [])
  }
})

test('a check definition rebuilt from its record normalizes to the same record (status aside)', () => {
  const comparable = (r: CheckRegistration): object => ({ ...r, check: { ...r.check, status: '' } })
  for (const body of CHECKS) {
    const reg = normalizeCheckDefinition(body, ctx)
    const again = normalizeCheckDefinition(checkDefinitionOf(reg), ctx)
    assert.deepEqual(comparable(again), comparable(reg), JSON.stringify(body))
  }
  // A check of a service definition keeps its generated ID and name as given values.
  const [inService] = normalizeServiceDefinition({ Name: 'web', Check: { TTL: '10s' } }, ctx).checks
  const again = normalizeCheckDefinition(checkDefinitionOf(inService!), ctx)
  assert.equal(again.check.checkId, 'service:web')
  assert.equal(again.check.name, "Service 'web' check")
  assert.equal(again.check.serviceId, 'web')
  assert.deepEqual(again.definition, inService!.definition)
})
