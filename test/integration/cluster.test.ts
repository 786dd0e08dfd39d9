/**
 * A real cluster: one server and two client agents, each a `vigil agent` process on its own
 * loopback address with Consul's default ports (as client-library harnesses run them, cli.md §8),
 * driven with the consul npm client: join and members, catalog and health across nodes through a
 * client's forwarding, a SIGKILLed client marked failed, a graceful leave, force-leave.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import Consul from 'consul'
import { runVigil, startAgentProcess, type AgentProcess } from '../support/agent-process.js'
import { waitFor } from '../support/wait.js'

type Json = Record<string, unknown>

/** Liveness timeout of the test cluster: failures show within it (plus a heartbeat sweep). */
const LIVENESS = '2s'

function client(agent: AgentProcess): Consul {
  const url = new URL(agent.url)
  return new Consul({ host: url.hostname, port: Number(url.port) })
}

async function members(c: Consul): Promise<[string, number][]> {
  const list = (await c.agent.members()) as unknown as Json[]
  return list.map((m): [string, number] => [String(m['Name']), Number(m['Status'])]).sort()
}

async function serfHealth(c: Consul, node: string): Promise<Json | undefined> {
  const checks = (await c.health.node(node)) as unknown as Json[]
  return checks.find((x) => x['CheckID'] === 'serfHealth')
}

test('cluster: clients join a server; members, catalog and health across nodes; a killed client fails; leave', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const common = ['-datacenter', 'dc1', '-hcl', `member_liveness_timeout = "${LIVENESS}"`]
  const server = await startAgentProcess({
    t,
    host: '127.0.0.1',
    dataDir: join(dir, 'node1'),
    args: ['-node', 'node1', '-server', '-bootstrap', ...common],
  })
  const node2 = await startAgentProcess({
    t,
    host: '127.0.0.2',
    dataDir: join(dir, 'node2'),
    args: ['-node', 'node2', ...common],
  })
  const c1 = client(server)
  const c2 = client(node2)

  assert.deepEqual(await members(c1), [['node1', 1]], 'the server alone')
  assert.deepEqual(await members(c2), [['node2', 1]], 'an agent that joined nobody lists itself')
  await assert.rejects(c2.catalog.node.list(), /No known Consul servers/)

  // node2 joins through the API; node3 joins at start with -retry-join (default port 8301).
  await c2.agent.join('127.0.0.1')
  const node3 = await startAgentProcess({
    t,
    host: '127.0.0.3',
    dataDir: join(dir, 'node3'),
    args: ['-node', 'node3', '-retry-join', '127.0.0.1', ...common],
  })
  const c3 = client(node3)
  const all = [
    ['node1', 1],
    ['node2', 1],
    ['node3', 1],
  ]
  await waitFor(async () => JSON.stringify(await members(c1)) === JSON.stringify(all), {
    what: 'three members',
  })
  await waitFor(async () => JSON.stringify(await members(c3)) === JSON.stringify(all), {
    what: 'a client lists every member',
  })
  const tags = ((await c2.agent.members()) as unknown as Json[]).find((m) => m['Name'] === 'node2')?.[
    'Tags'
  ] as Json
  assert.equal(tags['role'], 'node')
  assert.equal(tags['dc'], 'dc1')

  // Catalog and health across nodes, through the clients' forwarding.
  assert.equal(await c2.status.leader(), '127.0.0.1:8300')
  assert.equal(await c2.kv.set('cluster/key', 'v1'), true)
  const kv = (await c3.kv.get('cluster/key')) as unknown as Json | undefined
  assert.equal(kv?.['Value'], 'v1', 'KV written through one client, read through the other')
  // Bytes through the forwarding both ways: a binary value (not UTF-8) comes back as it went.
  const blob = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x0a, 0x7f])
  const putBlob = await fetch(`${node2.url}/v1/kv/cluster/blob`, { method: 'PUT', body: blob })
  assert.equal(await putBlob.text(), 'true')
  const gotBlob = Buffer.from(await (await fetch(`${node3.url}/v1/kv/cluster/blob?raw`)).arrayBuffer())
  assert.deepEqual([...gotBlob], [...blob], 'a binary KV value through two client agents')
  const raft = (await (await fetch(`${node3.url}/v1/operator/raft/configuration`)).json()) as Json
  assert.deepEqual(
    (raft['Servers'] as Json[]).map((x) => [x['Node'], x['Address'], x['Leader']]),
    [['node1', '127.0.0.1:8300', true]],
  )
  await c2.agent.service.register({
    name: 'web',
    id: 'web1',
    port: 80,
    check: { name: 'web alive', ttl: '30s', status: 'passing', timeout: '' },
  })
  await waitFor(
    async () => {
      const nodes = (await c3.catalog.node.list()) as unknown as Json[]
      return nodes.length === 3
    },
    { what: 'three nodes in the catalog' },
  )
  const web = (await c3.health.service('web')) as unknown as Json[]
  assert.equal(web.length, 1)
  const entry = web[0] ?? {}
  assert.equal((entry['Node'] as Json)['Node'], 'node2')
  assert.equal((entry['Node'] as Json)['Address'], '127.0.0.2')
  assert.deepEqual((entry['Checks'] as Json[]).map((c) => [c['CheckID'], c['Status']]).sort(), [
    ['serfHealth', 'passing'],
    ['service:web1', 'passing'],
  ])
  assert.equal((await serfHealth(c3, 'node2'))?.['Output'], 'Agent alive and reachable')
  await c2.agent.check.fail('service:web1')
  await waitFor(
    async () =>
      ((await c1.health.checks('web')) as unknown as Json[]).some((c) => c['Status'] === 'critical'),
    { what: 'a check status change on a client reaches the catalog' },
  )
  const sync = await runVigil(['sync', 'status', '-http-addr', node2.url])
  assert.equal(sync.code, 0, sync.stderr)
  assert.match(sync.stdout, /^State: +idle \(in sync\)$/m)

  // An alias of another node, on node2: it follows node3's health through the server.
  const alias = await fetch(`${node2.url}/v1/agent/check/register`, {
    method: 'PUT',
    body: JSON.stringify({ Name: 'node3 alive', ID: 'node3-alive', AliasNode: 'node3' }),
  })
  assert.equal(alias.status, 200, await alias.text())
  const aliasStatus = async (): Promise<Json | undefined> =>
    ((await c2.agent.check.list()) as unknown as Record<string, Json>)['node3-alive']
  await waitFor(async () => (await aliasStatus())?.['Output'] === 'All checks passing.', {
    what: 'the remote alias passing',
  })

  // A SIGKILLed client: failed, its serfHealth critical, within the liveness timeout.
  const killedAt = Date.now()
  await node3.kill()
  await waitFor(async () => (await serfHealth(c1, 'node3'))?.['Status'] === 'critical', {
    what: 'serfHealth of the killed client critical',
    timeoutMs: 10_000,
  })
  const detectedMs = Date.now() - killedAt
  assert.ok(detectedMs < 5_000, `failure detected after ${detectedMs} ms`)
  assert.equal((await serfHealth(c1, 'node3'))?.['Output'], 'Agent not live or unreachable')
  await waitFor(async () => (await members(c2)).some(([n, s]) => n === 'node3' && s === 4), {
    what: 'the client sees node3 failed',
  })
  await waitFor(async () => (await aliasStatus())?.['Status'] === 'critical', {
    what: 'the remote alias critical',
  })
  assert.equal(
    (await aliasStatus())?.['Output'],
    'Aliased check "Serf Health Status" failing: Agent not live or unreachable',
  )
  const explained = await runVigil(['check', 'explain', '-http-addr', node2.url, 'node3-alive'])
  assert.equal(explained.code, 0, explained.stderr)
  assert.match(explained.stdout, /why: +mirrors the node-level checks of node "node3" in the catalog/)
  assert.match(
    explained.stdout,
    /└─ serfHealth on node3 \(no runner\): CRITICAL in the catalog — Agent not live or unreachable/,
  )

  // force-leave of the failed member: left, its node leaves the catalog.
  const forced = await runVigil(['force-leave', '-http-addr', node2.url, 'node3'])
  assert.equal(forced.code, 0, forced.stderr)
  await waitFor(async () => (await members(c1)).some(([n, s]) => n === 'node3' && s === 3), {
    what: 'node3 left',
  })
  const unknown = await runVigil(['force-leave', '-http-addr', server.url, 'nobody'])
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /agent: No node found with name 'nobody'/)

  // A graceful leave (the npm client has no leave): the process exits 0, the member is left and
  // its node deregistered.
  const left = await fetch(`${node2.url}/v1/agent/leave`, { method: 'PUT' })
  assert.equal(left.status, 200)
  assert.equal(await node2.exited(), 0)
  assert.deepEqual(
    (await members(c1)).find(([n]) => n === 'node2'),
    ['node2', 3],
  )
  await waitFor(
    async () => ((await c1.catalog.node.list()) as unknown as Json[]).every((n) => n['Node'] !== 'node2'),
    { what: 'node2 deregistered' },
  )
})

test('cluster: -retry-join with -retry-max exits 1 once the attempts ran out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-'))
  try {
    const out = await runVigil([
      'agent',
      '-data-dir',
      join(dir, 'data'),
      '-bind',
      '127.0.0.4',
      '-client',
      '127.0.0.4',
      '-retry-join',
      '127.0.0.4:9',
      '-retry-max',
      '2',
      '-retry-interval',
      '100ms',
    ])
    assert.equal(out.code, 1, out.stdout + out.stderr)
    assert.match(out.stdout, /Join cluster failed, will retry/)
    assert.match(out.stdout, /max join retry exhausted, exiting/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
