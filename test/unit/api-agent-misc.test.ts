import assert from 'node:assert/strict'
import { test } from 'node:test'
import { put, startApiHarness } from '../support/api-harness.js'

type Json = Record<string, unknown>

test('self reports Config, Member, Stats and Meta', async (t) => {
  const h = await startApiHarness(t, { agent: { nodeMeta: { rack: 'r1' } } })
  const self = await h.getJson<Json>('/v1/agent/self')
  const config = self['Config'] as Json
  assert.equal(config['Datacenter'], 'dc1')
  assert.equal(config['PrimaryDatacenter'], 'dc1')
  assert.equal(config['NodeName'], 'node1')
  assert.equal(config['NodeID'], h.agent.nodeId)
  assert.equal(config['Server'], true)
  assert.match(String(config['Version']), /^\d+\.\d+\.\d+$/)
  assert.match(String(config['BuildDate']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  assert.equal(self['Coord'], null)
  const member = self['Member'] as Json
  assert.equal(member['Name'], 'node1')
  assert.equal(member['Addr'], '127.0.0.1')
  assert.equal(member['Status'], 1)
  const stats = self['Stats'] as Record<string, Json>
  assert.deepEqual(Object.keys(stats), ['agent', 'build', 'consul', 'runtime'])
  assert.equal(stats['agent']?.['services'], '0')
  assert.deepEqual(self['Meta'], {
    'consul-network-segment': '',
    'consul-version': config['Version'],
    rack: 'r1',
  })
})

test('members lists this agent alone with serf tags; wan with a segment is 400', async (t) => {
  const h = await startApiHarness(t)
  const members = await h.getJson<Json[]>('/v1/agent/members')
  assert.equal(members.length, 1)
  const m = members[0]!
  assert.deepEqual(Object.keys(m), [
    'Name',
    'Addr',
    'Port',
    'Tags',
    'Status',
    'ProtocolMin',
    'ProtocolMax',
    'ProtocolCur',
    'DelegateMin',
    'DelegateMax',
    'DelegateCur',
  ])
  assert.equal(m['Port'], 8301)
  const tags = m['Tags'] as Json
  assert.equal(tags['role'], 'consul')
  assert.equal(tags['dc'], 'dc1')
  assert.equal(tags['port'], '8300')
  assert.equal(tags['bootstrap'], '1')
  const wan = (await h.getJson<Json[]>('/v1/agent/members?wan=1'))[0]!
  assert.equal(wan['Name'], 'node1.dc1')
  assert.equal(wan['Port'], 8302)
  const bad = await h.inject('/v1/agent/members?wan=1&segment=alpha')
  assert.equal(bad.statusCode, 400)
  assert.equal(bad.body, 'Cannot provide a segment with wan=true')
})

test('a client agent is a node member, has no WAN members, no leader and no peers', async (t) => {
  const h = await startApiHarness(t, { agent: { server: false, bootstrap: false } })
  const m = (await h.getJson<Json[]>('/v1/agent/members'))[0]!
  assert.equal((m['Tags'] as Json)['role'], 'node')
  assert.deepEqual(await h.getJson('/v1/agent/members?wan=1'), [])
  assert.equal(await h.getJson('/v1/status/leader'), '')
  assert.deepEqual(await h.getJson('/v1/status/peers'), [])
})

test('node maintenance adds the maintenance check with the default note and removes it', async (t) => {
  const h = await startApiHarness(t)
  assert.equal((await h.inject(put('/v1/agent/maintenance?enable=true'))).statusCode, 200)
  const check = (await h.getJson<Record<string, Json>>('/v1/agent/checks'))['_node_maintenance']!
  assert.equal(check['Name'], 'Node Maintenance Mode')
  assert.equal(
    check['Notes'],
    'Maintenance mode is enabled for this node, but no reason was provided. This is a default message.',
  )
  assert.equal((await h.inject(put('/v1/agent/maintenance?enable=TRUE&reason=again'))).statusCode, 200)
  const same = (await h.getJson<Record<string, Json>>('/v1/agent/checks'))['_node_maintenance']!
  assert.equal(same['Notes'], check['Notes'])
  assert.equal((await h.inject(put('/v1/agent/maintenance?enable=0'))).statusCode, 200)
  assert.equal((await h.inject('/v1/agent/checks')).body, '{}')
})

test('node maintenance refuses a missing or unparsable enable and changes nothing', async (t) => {
  const h = await startApiHarness(t)
  for (const [url, text] of [
    ['/v1/agent/maintenance', 'Missing value for enable'],
    ['/v1/agent/maintenance?enable=', 'Invalid value for enable: ""'],
    ['/v1/agent/maintenance?enable=on', 'Invalid value for enable: "on"'],
  ] as const) {
    const res = await h.inject(put(url))
    assert.equal(res.statusCode, 400)
    assert.equal(res.body, text)
  }
  assert.equal(h.agent.state.checkCount(), 0)
  const get = await h.inject('/v1/agent/maintenance?enable=true')
  assert.equal(get.statusCode, 405)
})

test('metrics JSON has go-metrics shape with agent gauges and request samples', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/check/register', { Name: 'a', TTL: '1m', Status: 'passing' }))
  await h.inject('/v1/agent/self')
  const m = await h.getJson<Json>('/v1/agent/metrics')
  assert.deepEqual(Object.keys(m), ['Timestamp', 'Gauges', 'Points', 'Counters', 'Samples'])
  assert.match(String(m['Timestamp']), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d0 \+0000 UTC$/)
  const gauges = m['Gauges'] as Json[]
  const passing = gauges.find(
    (g) => g['Name'] === 'consul.vigil.checks' && (g['Labels'] as Json)['status'] === 'passing',
  )
  assert.equal(passing?.['Value'], 1)
  const counters = m['Counters'] as Json[]
  assert.ok(counters.some((c) => c['Name'] === 'consul.vigil.stale_writes_rejected'))
  const samples = m['Samples'] as Json[]
  const self = samples.find((s) => (s['Labels'] as Json)['path'] === 'v1_agent_self')
  assert.ok(self)
  assert.equal(self['Name'], 'consul.api.http')
  assert.equal(self['Count'], 1)
  assert.deepEqual(Object.keys(self), [
    'Name',
    'Count',
    'Rate',
    'Sum',
    'Min',
    'Max',
    'Mean',
    'Stddev',
    'Labels',
  ])
})

test('metrics in Prometheus format, by query or Accept, or 415 when retention is 0', async (t) => {
  const h = await startApiHarness(t)
  await h.inject(put('/v1/agent/service/register', { Name: 'web' }))
  const res = await h.inject('/v1/agent/metrics?format=prometheus')
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0.0.4/)
  assert.match(res.body, /^consul_vigil_services 1$/m)
  assert.match(res.body, /^consul_vigil_stale_writes_rejected_total 0$/m)
  assert.match(res.body, /^consul_api_http_count\{method="PUT",path="v1_agent_service_register"\} 1$/m)
  assert.match(res.body, /^# TYPE consul_api_http summary$/m)
  const q =
    /^consul_api_http\{method="PUT",path="v1_agent_service_register",quantile="0.99"\} ([0-9.e+-]+)$/m.exec(
      res.body,
    )
  const sum = /^consul_api_http_sum\{method="PUT",path="v1_agent_service_register"\} ([0-9.e+-]+)$/m.exec(
    res.body,
  )
  assert.ok(q !== null && sum !== null, res.body)
  // One request: its quantiles are its duration.
  assert.ok(Math.abs(Number(q[1]) - Number(sum[1])) <= Number(sum[1]) * 0.022)
  const accept = await h.inject({
    url: '/v1/agent/metrics',
    headers: { accept: 'application/openmetrics-text' },
  })
  assert.match(accept.body, /consul_vigil_services/)

  const off = await startApiHarness(t, {
    api: { telemetry: { prometheusRetentionTimeMs: 0, metricsPrefix: 'consul' } },
  })
  const refused = await off.inject('/v1/agent/metrics?format=prometheus')
  assert.equal(refused.statusCode, 415)
  assert.equal(refused.body, 'Prometheus is not enabled since its retention time is not positive')
  assert.equal((await off.inject('/v1/agent/metrics')).statusCode, 200)
})

test('status leader and peers are empty on an agent without servers; raft configuration has no leader', async (t) => {
  const h = await startApiHarness(t)
  assert.equal((await h.inject('/v1/status/leader')).body, '""')
  assert.equal((await h.inject('/v1/status/peers')).body, '[]')
  const conf = await h.inject('/v1/operator/raft/configuration')
  assert.equal(conf.statusCode, 500)
  assert.equal(conf.body, 'No cluster leader')
})
