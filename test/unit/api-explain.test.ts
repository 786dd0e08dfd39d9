import assert from 'node:assert/strict'
import { test } from 'node:test'
import { explainTarget } from '../../src/agent/explain.js'
import { formatExplanation } from '../../src/cli/check-explain-command.js'
import { startApiHarness, type ApiHarness } from '../support/api-harness.js'
import { waitFor } from '../support/wait.js'

interface Explained {
  CheckID: string
  Status: string
  Output: string
  Reason: string
  Alias: {
    TargetServiceID: string
    EvaluatedStatus: string
    EvaluatedOutput: string
    DecidedBy: string | null
    Checks: Explained[]
    Cycle: string[] | null
  } | null
}

/** The explanation of an alias check once its runner has written what evaluating it now gives. */
async function explainWritten(h: ApiHarness, checkId: string): Promise<Explained> {
  let e: Explained | undefined
  await waitFor(
    async () => {
      e = await h.getJson<Explained>(`/v1/agent/check/explain/${checkId}`)
      return e.Status === e.Alias?.EvaluatedStatus && e.Output === e.Alias.EvaluatedOutput
    },
    { what: `alias ${checkId} to write its evaluation` },
  )
  return e!
}

test('explain shows an alias chain down to the deciding check, and the CLI renders it as a tree', async (t) => {
  const h = await startApiHarness(t)
  const put = async (url: string, body?: unknown): Promise<void> => {
    const res = await h.inject({
      method: 'PUT',
      url,
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    })
    assert.equal(res.statusCode, 200, res.body)
  }
  await put('/v1/agent/service/register', {
    ID: 'web-1',
    Name: 'web',
    Port: 80,
    Check: { TTL: '1h' },
    Connect: { SidecarService: {} },
  })
  await put('/v1/agent/check/fail/service:web-1?note=boom')
  const e = await explainWritten(h, 'service:web-1-sidecar-proxy:2')
  assert.equal(e.Status, 'critical')
  assert.equal(e.Alias?.TargetServiceID, 'web-1')
  assert.equal(e.Alias.DecidedBy, 'service:web-1')
  assert.deepEqual(
    e.Alias.Checks.map((c) => [c.CheckID, c.Status]),
    [['service:web-1', 'critical']],
  )
  assert.match(e.Reason, /critical because check "service:web-1" is critical/)
  const text = formatExplanation(e as unknown as Parameters<typeof formatExplanation>[0])
  assert.match(text, /^service:web-1-sidecar-proxy:2 \(alias\): CRITICAL since /)
  assert.match(text, /└─ service:web-1 \(ttl\): CRITICAL since .* <- decides/)
  assert.match(text, /output: boom/)

  const unknown = await h.inject('/v1/agent/check/explain/nope')
  assert.equal(unknown.statusCode, 404)
  assert.equal(
    unknown.body,
    'Unknown check ID "nope". Ensure that the check ID is passed, not the check name.',
  )
})

test('explain reports a cycle of aliases as critical with the cycle', async (t) => {
  const h = await startApiHarness(t)
  for (const [svc, target] of [
    ['a', 'b'],
    ['b', 'a'],
  ] as const) {
    const res = await h.inject({
      method: 'PUT',
      url: '/v1/agent/service/register',
      payload: JSON.stringify({ Name: svc, Check: { Name: `alias of ${target}`, AliasService: target } }),
    })
    assert.equal(res.statusCode, 200, res.body)
  }
  const e = await explainWritten(h, 'service:a')
  assert.equal(e.Status, 'critical')
  assert.deepEqual(e.Alias?.Cycle, ['service:a', 'service:b', 'service:a'])
  assert.match(e.Output, /^Alias cycle detected: service:a -> service:b -> service:a/)
})

test('explainTarget: what a remote alias of this node mirrors, the service checks then the node-level ones', async (t) => {
  const h = await startApiHarness(t)
  const put = async (url: string, body: unknown): Promise<void> => {
    const res = await h.inject({ method: 'PUT', url, payload: JSON.stringify(body) })
    assert.equal(res.statusCode, 200, res.body)
  }
  await put('/v1/agent/service/register', {
    ID: 'core',
    Name: 'core',
    Check: { CheckID: 'core-ttl', TTL: '1h' },
  })
  await put('/v1/agent/service/register', {
    ID: 'db',
    Name: 'db',
    Check: { CheckID: 'db-alias', AliasService: 'core' },
  })
  await put('/v1/agent/check/register', { ID: 'disk', Name: 'disk', TTL: '1h' })
  const db = explainTarget(h.agent.read, 'db')
  assert.equal(db.serviceFound, true)
  assert.deepEqual(
    db.checks.map((c) => c.checkId),
    ['db-alias', 'disk'],
  )
  assert.deepEqual(
    db.checks[0]?.alias?.checks.map((c) => c.checkId),
    ['core-ttl', 'disk'],
    'a local alias is explained down its chain (its target, then the node-level checks)',
  )
  const missing = explainTarget(h.agent.read, 'nope')
  assert.equal(missing.serviceFound, false)
  assert.deepEqual(
    missing.checks.map((c) => c.checkId),
    ['disk'],
  )
  assert.deepEqual(
    explainTarget(h.agent.read, '').checks.map((c) => c.checkId),
    ['disk'],
    'a node alias: the node-level checks',
  )
})
