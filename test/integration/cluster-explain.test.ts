/**
 * `vigil check explain` across nodes in a real cluster (one server, two client agents, each a
 * `vigil agent` process on its own loopback address): a sidecar alias on client A of a service on
 * client B whose own check is an alias of a TTL check on B is explained down to that TTL check by
 * B's agent (asked on its serf LAN listener); aliases of each other's services across nodes stop
 * at the cycle; an agent that does not answer leaves what the catalog knows.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { runVigil, startAgentProcess, type AgentProcess } from '../support/agent-process.js'
import { waitFor } from '../support/wait.js'

type Json = Record<string, unknown>

async function put(agent: AgentProcess, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${agent.url}${path}`, {
    method: 'PUT',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  assert.equal(res.status, 200, `${path}: ${await res.text()}`)
}

async function check(agent: AgentProcess, id: string): Promise<Json | undefined> {
  const res = await fetch(`${agent.url}/v1/agent/checks`)
  return ((await res.json()) as Record<string, Json>)[id]
}

test('cluster: check explain follows an alias chain across nodes to the deciding TTL check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-explain-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const common = ['-datacenter', 'dc1', '-hcl', 'member_liveness_timeout = "3s"']
  await startAgentProcess({
    t,
    host: '127.0.0.5',
    dataDir: join(dir, 's1'),
    args: ['-node', 's1', '-server', '-bootstrap', ...common],
  })
  const join1 = ['-retry-join', '127.0.0.5', '-retry-interval', '100ms', ...common]
  const a = await startAgentProcess({
    t,
    host: '127.0.0.6',
    dataDir: join(dir, 'a'),
    args: ['-node', 'node-a', ...join1],
  })
  const b = await startAgentProcess({
    t,
    host: '127.0.0.7',
    dataDir: join(dir, 'b'),
    args: ['-node', 'node-b', ...join1],
  })

  // On B: db-core with a TTL check; db whose check is an alias of db-core.
  await put(b, '/v1/agent/service/register', {
    Name: 'db-core',
    ID: 'db-core',
    Check: { CheckID: 'core-ttl', Name: 'core ttl', TTL: '1h', Status: 'passing' },
  })
  await put(b, '/v1/agent/service/register', {
    Name: 'db',
    ID: 'db',
    Check: { CheckID: 'db-alias', Name: 'db mirrors core', AliasService: 'db-core' },
  })
  // On A: a sidecar whose check mirrors db on node-b.
  await put(a, '/v1/agent/service/register', {
    Name: 'db-sidecar',
    ID: 'db-sidecar',
    Check: { CheckID: 'sidecar-alias', Name: 'sidecar mirrors db', AliasNode: 'node-b', AliasService: 'db' },
  })
  await waitFor(
    async () => {
      const res = await fetch(`${a.url}/v1/agent/members`)
      return ((await res.json()) as Json[]).filter((m) => m['Status'] === 1).length === 3
    },
    { what: 'A sees three live members' },
  )
  await put(b, `/v1/agent/check/fail/core-ttl?note=${encodeURIComponent('disk full on /data')}`)
  await waitFor(async () => (await check(a, 'sidecar-alias'))?.['Status'] === 'critical', {
    what: 'the sidecar alias on A critical',
    timeoutMs: 15_000,
  })

  const out = await runVigil(['check', 'explain', '-http-addr', a.url, 'sidecar-alias'])
  assert.equal(out.code, 0, out.stderr)
  const text = out.stdout
  assert.match(text, /^sidecar-alias \(alias\): CRITICAL since /m)
  assert.match(text, /via: +the agent of node "node-b" at 127\.0\.0\.7:8301$/m)
  assert.match(text, /db-alias \(alias\): CRITICAL since \S+ {3}<- decides/)
  assert.match(text, /why: +mirrors service "db-core": critical because check "core-ttl" is critical/)
  assert.match(text, /└─ core-ttl \(ttl\): CRITICAL since \S+ {3}<- decides/)
  assert.match(text, /output: disk full on \/data/)
  // serfHealth is the catalog's, not B's local state: listed from the catalog.
  assert.match(text, /serfHealth on node-b \(no runner\): PASSING in the catalog/)
  // The chain in order: A's alias, B's alias, B's TTL check.
  const order = ['sidecar-alias', 'db-alias', 'core-ttl'].map((id) => text.indexOf(`${id} (`))
  assert.deepEqual(
    order,
    [...order].sort((x, y) => x - y),
    text,
  )

  const json = await runVigil(['check', 'explain', '-json', '-http-addr', a.url, 'sidecar-alias'])
  assert.equal(json.code, 0, json.stderr)
  const e = JSON.parse(json.stdout) as Json
  const followed = e['Followed'] as Json
  assert.equal(followed['Source'], 'agent')
  const remote = (followed['Checks'] as Json[]).find((c) => c['CheckID'] === 'db-alias') ?? {}
  const leaf = ((remote['Alias'] as Json)['Checks'] as Json[])[0] ?? {}
  assert.deepEqual(
    [leaf['CheckID'], leaf['Status'], leaf['Output']],
    ['core-ttl', 'critical', 'disk full on /data'],
  )

  // Aliases of each other's services across nodes: followed once each way, then the cycle.
  await put(a, '/v1/agent/service/register', {
    Name: 'ping',
    ID: 'ping',
    Check: { CheckID: 'ping-alias', Name: 'ping', AliasNode: 'node-b', AliasService: 'pong' },
  })
  await put(b, '/v1/agent/service/register', {
    Name: 'pong',
    ID: 'pong',
    Check: { CheckID: 'pong-alias', Name: 'pong', AliasNode: 'node-a', AliasService: 'ping' },
  })
  const cycle = await runVigil(['check', 'explain', '-http-addr', a.url, 'ping-alias'])
  assert.equal(cycle.code, 0, cycle.stderr)
  assert.match(cycle.stdout, /via: +the agent of node "node-b" at 127\.0\.0\.7:8301$/m)
  assert.match(cycle.stdout, /via: +the agent of node "node-a" at 127\.0\.0\.6:8301$/m)
  assert.match(cycle.stdout, /via: +not followed again: an alias cycle across nodes \(node-b\)$/m)

  // B's agent gone: what the catalog knows of db on node-b.
  await b.kill()
  const gone = await runVigil(['check', 'explain', '-http-addr', a.url, 'sidecar-alias'])
  assert.equal(gone.code, 0, gone.stderr)
  assert.match(gone.stdout, /via: +the agent of node "node-b".*; from the catalog$/m)
  assert.match(gone.stdout, /db-alias on node-b \(alias\): CRITICAL in the catalog/)
})
