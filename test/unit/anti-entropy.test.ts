import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LocalState } from '../../src/agent/local/local-state.js'
import {
  AE_INTERVAL_MS,
  AntiEntropy,
  RETRY_BASE_MS,
  SYNC_TRANSITIONS,
  nextSyncState,
  syncScale,
  type SyncEvent,
  type SyncState,
} from '../../src/agent/sync/anti-entropy.js'
import type { NodeInfo } from '../../src/agent/sync/catalog-port.js'
import { drainMicrotasks, FakeClock } from '../support/fake-clock.js'
import { NodeCatalog } from '../support/node-catalog.js'
import { checkRegistration, serviceRecord } from '../support/records.js'

const NODE: NodeInfo = Object.freeze({
  id: '11111111-2222-3333-4444-555555555555',
  node: 'node1',
  address: '127.0.0.1',
  datacenter: 'dc1',
  taggedAddresses: Object.freeze({ lan: '127.0.0.1', wan: '127.0.0.1' }),
  meta: Object.freeze({ 'consul-network-segment': '' }),
})

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined }

function harness(opts: { checkUpdateIntervalMs?: number } = {}) {
  const clock = new FakeClock()
  const state = new LocalState({ nodeName: 'node1', clock })
  const catalog = new NodeCatalog()
  const ae = new AntiEntropy({
    source: state,
    catalog,
    node: () => NODE,
    clock,
    random: () => 0,
    logger: silent,
    checkUpdateIntervalMs: opts.checkUpdateIntervalMs ?? 0,
    memberCount: () => 1,
  })
  const addService = (id: string, checkIds: readonly string[] = []): void => {
    state.apply({
      service: { service: serviceRecord(id), token: '', source: 'remote' },
      checks: checkIds.map((c) => checkRegistration({ id: c, serviceId: id })),
    })
  }
  return { clock, state, catalog, ae, addService }
}

test('anti-entropy transition table: one row per transition', () => {
  const rows: [SyncState, SyncEvent, SyncState | undefined][] = [
    ['full', 'ok', 'idle'],
    ['full', 'failed', 'retry'],
    ['full', 'shutdown', 'done'],
    ['idle', 'changes', 'partial'],
    ['idle', 'fullDue', 'full'],
    ['idle', 'shutdown', 'done'],
    ['partial', 'ok', 'idle'],
    ['partial', 'failed', 'retry'],
    ['partial', 'shutdown', 'done'],
    ['retry', 'retryDue', 'full'],
    ['retry', 'shutdown', 'done'],
    ['retry', 'changes', undefined],
    ['idle', 'ok', undefined],
    ['done', 'changes', undefined],
  ]
  for (const [from, event, to] of rows) assert.equal(nextSyncState(from, event), to, `${from} --${event}-->`)
  const declared = Object.values(SYNC_TRANSITIONS)
    .map((row) => Object.keys(row).length)
    .reduce((a, b) => a + b, 0)
  assert.equal(declared, rows.filter((r) => r[2] !== undefined).length)
})

test('anti-entropy scale grows by one per doubling past 128 nodes', () => {
  assert.deepEqual([1, 128, 129, 256, 257, 512, 513, 1024, 8192].map(syncScale), [1, 1, 2, 2, 3, 3, 4, 4, 7])
})

test('anti-entropy full sync pushes the node, services with their checks, and node-level checks', async (t) => {
  const h = harness()
  t.after(() => h.ae.stop())
  h.addService('web', ['web-check'])
  h.state.apply({ checks: [checkRegistration({ id: 'node-check' })] })
  h.ae.start()
  await h.ae.settled()
  assert.deepEqual(h.catalog.take(), ['read', 'register web [web-check]', 'register - [node-check]'])
  assert.deepEqual(h.catalog.node, NODE)
  assert.deepEqual([...h.catalog.services.keys()], ['web'])
  assert.deepEqual([...h.catalog.checks.keys()].sort(), ['node-check', 'web-check'])
  assert.deepEqual(h.catalog.services.get('web')?.tags, [], 'the catalog never holds null tags')
  assert.equal(h.ae.status().pending.size, 0)
})

test('anti-entropy pushes a local change at once, without a clock advance, and only the change', async (t) => {
  const h = harness()
  t.after(() => h.ae.stop())
  h.addService('web', ['web-check'])
  h.ae.start()
  await h.ae.settled()
  h.catalog.take()
  // No settled() here: it would poke the loop itself. The subscription must do it.
  h.addService('api')
  await drainMicrotasks()
  assert.deepEqual(h.catalog.take(), ['register api []'])
  h.state.updateCheck('web-check', h.state.check('web-check')?.generation ?? 0, 'passing', 'ok')
  await drainMicrotasks()
  assert.deepEqual(h.catalog.take(), ['register - [web-check]'])
  assert.equal(h.catalog.checks.get('web-check')?.status, 'passing')
})

test('anti-entropy makes no catalog call when nothing changed', async (t) => {
  const h = harness()
  t.after(() => h.ae.stop())
  h.addService('web', ['web-check'])
  h.ae.start()
  await h.ae.settled()
  h.catalog.take()
  // The same service again: local state does not change, so nothing is pushed.
  h.addService('web', ['web-check'])
  await h.ae.settled()
  assert.deepEqual(h.catalog.take(), [])
})

test('anti-entropy corrects drift made behind its back at the next full sync, not before', async (t) => {
  const h = harness()
  t.after(() => h.ae.stop())
  h.addService('web', ['web-check'])
  h.ae.start()
  await h.ae.settled()
  h.catalog.take()
  // Someone deregisters our service and registers a stranger on our node through the catalog API.
  h.catalog.services.delete('web')
  h.catalog.checks.delete('web-check')
  h.catalog.services.set('stranger', serviceRecord('stranger'))
  h.catalog.services.set('consul', serviceRecord('consul'))
  h.catalog.checks.set('serfHealth', { ...checkRegistration({ id: 'serfHealth' }).check, type: '' })
  await h.clock.advance(AE_INTERVAL_MS - 1)
  assert.deepEqual(h.catalog.take(), [], 'no sync before the full-sync deadline')
  await h.clock.advance(1)
  await drainMicrotasks()
  assert.deepEqual(h.catalog.take(), ['read', 'register web [web-check]', 'deregister service stranger'])
  assert.deepEqual([...h.catalog.services.keys()].sort(), ['consul', 'web'], 'the consul service stays')
  assert.ok(h.catalog.checks.has('serfHealth'), 'serfHealth stays')
})

test('anti-entropy defers output-only changes by check_update_interval; a status change goes at once', async (t) => {
  const h = harness({ checkUpdateIntervalMs: 300_000 })
  t.after(() => h.ae.stop())
  h.addService('web', ['web-check'])
  h.ae.start()
  // Full syncs (every minute here) read the node back; only writes matter in this test.
  const writes = (): string[] => h.catalog.take().filter((c) => c !== 'read')
  await h.ae.settled()
  writes()
  const gen = (): number => h.state.check('web-check')?.generation ?? 0
  h.state.updateCheck('web-check', gen(), 'critical', 'new output')
  await h.ae.settled()
  assert.deepEqual(writes(), [], 'output-only: held back')
  assert.equal(h.ae.status().pending.get('check:web-check'), 'output')
  // random() = 0: due after interval / 2.
  await h.clock.advance(150_000 - 1)
  assert.deepEqual(writes(), [])
  await h.clock.advance(1)
  await drainMicrotasks()
  assert.deepEqual(writes(), ['register - [web-check]'])
  assert.equal(h.catalog.checks.get('web-check')?.output, 'new output')

  h.state.updateCheck('web-check', gen(), 'critical', 'newer output')
  await h.ae.settled()
  assert.deepEqual(writes(), [])
  h.state.updateCheck('web-check', gen(), 'passing', 'fine')
  await h.ae.settled()
  assert.deepEqual(writes(), ['register - [web-check]'], 'a status change is not deferred')
  assert.equal(h.catalog.checks.get('web-check')?.status, 'passing')
})

test('anti-entropy retries after a failure, keeps local state, and shows the error', async (t) => {
  const h = harness()
  t.after(() => h.ae.stop())
  h.catalog.failWith = new Error('No cluster leader')
  h.addService('web')
  h.ae.start()
  await h.ae.settled()
  assert.deepEqual(h.catalog.take(), ['read'])
  const status = h.ae.status()
  assert.equal(status.state, 'retry')
  assert.match(status.lastError ?? '', /No cluster leader/)
  assert.equal(status.pending.get('service:web'), 'missing')
  assert.ok(h.state.service('web') !== undefined, 'local state is untouched')

  // Changes during the retry wait do not hammer the catalog.
  h.catalog.failWith = null
  h.addService('api')
  await drainMicrotasks()
  assert.deepEqual(h.catalog.take(), [])
  await h.clock.advance(RETRY_BASE_MS)
  await drainMicrotasks()
  assert.deepEqual(h.catalog.take(), ['read', 'register web []', 'register api []'])
  assert.equal(h.ae.status().lastError, null)
  assert.equal(h.ae.status().state, 'idle')
})

test('anti-entropy stop waits for the call in flight and makes none afterwards', async (t) => {
  const h = harness()
  t.after(() => h.ae.stop())
  let release: () => void = () => undefined
  h.catalog.gate = new Promise((resolve) => {
    release = resolve
  })
  h.addService('web')
  h.ae.start()
  await drainMicrotasks()
  assert.deepEqual(h.catalog.take(), ['read'])
  let stopped = false
  const stopping = h.ae.stop().then(() => {
    stopped = true
  })
  await drainMicrotasks()
  assert.equal(stopped, false, 'stop waits for the read in flight')
  release()
  await stopping
  h.addService('api')
  await h.clock.advance(10 * AE_INTERVAL_MS)
  await drainMicrotasks()
  assert.deepEqual(h.catalog.take(), [], 'nothing after stop')
  assert.equal(h.ae.status().state, 'done')
})
