import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  evaluateRemoteAlias,
  isRemoteAlias,
  RemoteAliasRunner,
  type AliasTargetReader,
} from '../../src/agent/checks/remote-alias-check.js'
import { catalogAliasReader } from '../../src/cluster/alias-reader.js'
import { serfHealthCheck } from '../../src/cluster/serf-health.js'
import { EMPTY_DEFINITION, type HealthCheck } from '../../src/structs/check.js'
import { chk, openCatalog, reg, svc } from '../support/catalog.js'
import { drainMicrotasks } from '../support/fake-clock.js'
import { runnerContext } from '../support/runner-context.js'

const RECONCILE_MS = 60_000

function check(id: string, status: HealthCheck['status'], serviceId = '', output = ''): HealthCheck {
  return Object.freeze({
    node: 'other',
    checkId: id,
    name: id,
    status,
    notes: '',
    output,
    serviceId,
    serviceName: serviceId,
    serviceTags: [],
    type: '',
    interval: '',
    timeout: '',
    exposedPort: 0,
  })
}

test('remote alias evaluation: node-level checks, plus the service checks when named; missing service critical', () => {
  const checks = [
    check('serfHealth', 'passing'),
    check('web-ok', 'passing', 'web'),
    check('db-bad', 'critical', 'db'),
  ]
  assert.deepEqual(evaluateRemoteAlias({ checks, serviceIds: ['web', 'db'] }, 'other', ''), {
    status: 'passing',
    output: 'All checks passing.',
  })
  assert.deepEqual(evaluateRemoteAlias({ checks, serviceIds: ['web', 'db'] }, 'other', 'db'), {
    status: 'critical',
    output: 'Aliased check "db-bad" failing: ',
  })
  assert.deepEqual(evaluateRemoteAlias({ checks: [], serviceIds: [] }, 'other', ''), {
    status: 'passing',
    output: 'No checks found.',
  })
  assert.deepEqual(evaluateRemoteAlias({ checks, serviceIds: ['web'] }, 'other', 'api'), {
    status: 'critical',
    output: 'Service api could not be found on node other',
  })
  const warn = [check('w', 'warning', '', 'slow'), check('serfHealth', 'passing')]
  assert.equal(evaluateRemoteAlias({ checks: warn, serviceIds: [] }, 'other', '').status, 'warning')
})

test('which aliases read the catalog: another node, or a node alias of this node', () => {
  const def = (aliasNode: string, aliasService: string) => ({
    ...EMPTY_DEFINITION,
    type: 'alias' as const,
    aliasNode,
    aliasService,
  })
  assert.equal(isRemoteAlias(def('other', 'web'), 'me'), true)
  assert.equal(isRemoteAlias(def('other', ''), 'me'), true)
  assert.equal(isRemoteAlias(def('me', ''), 'me'), true)
  assert.equal(isRemoteAlias(def('me', 'web'), 'me'), false)
  assert.equal(isRemoteAlias(def('', 'web'), 'me'), false)
})

test('a remote alias follows the catalog through blocking queries and re-derives on the reconcile interval', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const { catalog, clock } = h
  await catalog.register(reg('other', { checks: [serfHealthCheck('other', 'passing')] }))
  const { ctx, sink } = runnerContext({ type: 'alias', aliasNode: 'other', aliasService: 'web' }, { clock })
  const runner = new RemoteAliasRunner({
    ...ctx,
    reader: catalogAliasReader(catalog),
    aliasReconcileMs: RECONCILE_MS,
  })
  t.after(() => runner.stop())
  runner.start()
  await sink.waitFor(1)
  assert.deepEqual(sink.writes[0], {
    status: 'critical',
    output: 'Service web could not be found on node other',
  })

  // The target appears: the blocking query wakes without any clock advance.
  await catalog.register(
    reg('other', { service: svc('web'), checks: [chk('web up', { serviceId: 'web', status: 'passing' })] }),
  )
  await sink.waitFor(2)
  assert.deepEqual(sink.writes[1], { status: 'passing', output: 'All checks passing.' })

  // The node fails: its serfHealth turns the alias critical.
  await catalog.register(reg('other', { checks: [serfHealthCheck('other', 'critical')] }))
  await sink.waitFor(3)
  assert.deepEqual(sink.writes[2], {
    status: 'critical',
    output: 'Aliased check "Serf Health Status" failing: Agent not live or unreachable',
  })

  // Nothing changes: the status is still re-derived once per reconcile interval.
  await clock.advance(RECONCILE_MS - 1)
  assert.equal(sink.writes.length, 3)
  await clock.advance(1)
  await sink.waitFor(4)
  assert.equal(sink.writes[3]?.status, 'critical')

  // Stopped while its read is parked: stop() resolves, and a later change writes nothing.
  await runner.stop()
  await catalog.register(reg('other', { checks: [serfHealthCheck('other', 'passing')] }))
  await drainMicrotasks()
  assert.equal(sink.writes.length, 4)
})

test('a remote alias whose reads fail turns critical on the second failure, and recovers', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const { catalog, clock } = h
  await catalog.register(reg('other', { checks: [serfHealthCheck('other', 'passing')] }))
  let down = true
  const real = catalogAliasReader(catalog)
  const reader: AliasTargetReader = {
    nodeHealth: (node, opts) =>
      down ? Promise.reject(new Error('No known Consul servers')) : real.nodeHealth(node, opts),
  }
  const { ctx, sink } = runnerContext({ type: 'alias', aliasNode: 'other' }, { clock })
  const runner = new RemoteAliasRunner({ ...ctx, reader, aliasReconcileMs: RECONCILE_MS })
  t.after(() => runner.stop())
  runner.start()
  await drainMicrotasks()
  assert.equal(sink.writes.length, 0, 'one failure writes nothing')
  await clock.advance(500)
  await sink.waitFor(1)
  assert.deepEqual(sink.writes[0], {
    status: 'critical',
    output: 'Failure checking aliased node or service: No known Consul servers',
  })
  down = false
  await clock.advance(5_000)
  await sink.waitFor(2)
  assert.deepEqual(sink.writes.at(-1), { status: 'passing', output: 'All checks passing.' })
})
