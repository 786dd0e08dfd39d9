/**
 * The catalog on the etcd store: catalog writes and reads as on the embedded store, and two
 * catalogs (two servers) on one etcd see each other's writes once their views reach them.
 */
import assert from 'node:assert/strict'
import { after, before, test, type TestContext } from 'node:test'
import { Catalog } from '../../src/catalog/catalog.js'
import { nodeChecksQuery, nodeServicesQuery, nodesQuery } from '../../src/catalog/queries.js'
import type { TxnOp } from '../../src/catalog/kv-types.js'
import { systemClock } from '../../src/lib/clock.js'
import { TxnTooLargeError } from '../../src/store/store.js'
import { startServerRole } from '../../src/roles/server.js'
import { testSettings } from '../support/agent-harness.js'
import { openEtcdStore } from '../../src/store/etcd.js'
import { chk, reg, svc } from '../support/catalog.js'
import { startEtcd, type EtcdMember } from '../support/etcd.js'
import { closedTcpPort } from '../support/sockets.js'
import { startTcpProxy } from '../support/tcp-proxy.js'
import { waitFor, within } from '../support/wait.js'

const PREFIX = '/vigil/dc1/'
let etcd: EtcdMember

before(async () => {
  etcd = await startEtcd()
})

after(async () => {
  await etcd.stop()
})

/** A server: its own etcd client and catalog on the shared etcd. */
const kvOp = (verb: string, key: string): TxnOp => ({
  kv: { verb, key, value: verb === 'set' ? new Uint8Array([1]) : null, flags: 0n, index: 0, session: '' },
})

async function server(t: TestContext, endpoint = etcd.endpoint): Promise<Catalog> {
  const store = await openEtcdStore({ endpoints: [endpoint], prefix: PREFIX })
  const catalog = await Catalog.open({ store, prefix: PREFIX, datacenter: 'dc1', clock: systemClock })
  t.after(async () => {
    await catalog.close()
    await store.close()
  })
  return catalog
}

test('catalog on etcd: register creates the node, the service and its checks with Consul defaults', async (t) => {
  await etcd.client.delete().all()
  const c = await server(t)
  const w = await c.register(
    reg('Node1', {
      service: svc('web', { tags: ['v1'], port: 80 }),
      checks: [chk('web alive', { serviceId: 'web' }), chk('disk')],
    }),
  )
  assert.equal(w.changed, true)
  const node = c.read(nodeServicesQuery('node1')).value
  assert.ok(node !== null)
  assert.equal(node.node.node.node, 'Node1')
  assert.equal(node.node.createIndex, w.index)
  assert.equal(node.services[0]?.service.id, 'web')
  assert.deepEqual(
    c.read(nodeChecksQuery('NODE1')).value.map((x) => [x.check.checkId, x.check.status, x.check.serviceName]),
    [
      ['disk', 'critical', ''],
      ['web alive', 'critical', 'web'],
    ],
  )
  // An identical registration is a no-op: no index moves.
  const again = await c.register(
    reg('Node1', {
      service: svc('web', { tags: ['v1'], port: 80 }),
      checks: [chk('web alive', { serviceId: 'web' }), chk('disk')],
    }),
  )
  assert.equal(again.changed, false)
  assert.equal(c.read(nodesQuery()).index, w.index)
})

test('catalog on etcd: a write through one server is seen through another once its view reaches it', async (t) => {
  await etcd.client.delete().all()
  const a = await server(t)
  const b = await server(t)
  const start = b.read(nodesQuery())
  const blocked = b.block(nodesQuery(), { index: start.index, waitMs: 30_000 })
  const w = await a.register(reg('n1', { service: svc('db', { port: 5432 }) }))
  const woken = await within(blocked, 10_000, 'the blocked query on the other server')
  assert.ok(woken.index >= w.index)
  assert.deepEqual(
    woken.value.map((n) => n.node.node),
    ['n1'],
  )
  assert.ok(b.revision >= w.index)
  assert.equal(b.read(nodeServicesQuery('n1')).value?.services[0]?.service.port, 5432)
  // Concurrent writes through both: each commits once, both views end equal.
  const writes = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).register(reg(`m${i}`))),
  )
  const last = Math.max(...writes.map((x) => x.index))
  await waitFor(() => a.revision >= last && b.revision >= last, { what: 'both views', timeoutMs: 10_000 })
  // Each committed once, at the index its write answered (concurrent writes may share a txn).
  writes.forEach((w, i) => {
    assert.equal(a.state.node(`m${i}`)?.createIndex, w.index, `m${i}`)
  })
  const names = (c: Catalog): string[] => c.read(nodesQuery()).value.map((n) => n.node.node)
  assert.equal(names(a).length, 21)
  assert.deepEqual(names(a), names(b))
})

test('catalog on etcd: a connection lost past a compaction ends in a resync equal to the store', async (t) => {
  await etcd.client.delete().all()
  const proxy = await startTcpProxy('127.0.0.1', Number(new URL(etcd.endpoint).port))
  t.after(() => proxy.close())
  const a = await server(t)
  const b = await server(t, `http://127.0.0.1:${proxy.port}`)
  await a.register(reg('before'))
  await waitFor(() => b.read(nodesQuery()).value.length === 1, { what: 'b to see the first node' })
  proxy.cut()
  let last = 0
  for (let i = 0; i < 5; i++) last = (await a.register(reg(`n${i}`))).index
  // History b still needs is compacted while b is cut off.
  await etcd.client.kv.compact({ revision: last, physical: true })
  assert.equal(b.read(nodesQuery()).value.length, 1, 'b has not seen the writes yet')
  proxy.restore()
  await waitFor(() => b.revision >= last, { what: 'b to resync', timeoutMs: 30_000 })
  assert.ok(b.resyncs >= 1, 'the cancelled watch was followed by a resync')
  const names = (c: Catalog): string[] => c.read(nodesQuery()).value.map((n) => n.node.node)
  assert.deepEqual(names(b), ['before', 'n0', 'n1', 'n2', 'n3', 'n4'])
  assert.deepEqual(names(b), names(a))
})

test('server role: -store etcd opens the catalog under the etcd prefix', async (t) => {
  await etcd.client.delete().all()
  const role = await startServerRole({
    config: {
      ...testSettings({ server: true }),
      store: {
        backend: 'etcd',
        etcd: { endpoints: [etcd.endpoint], prefix: '/vigil/dc1', caFile: '', certFile: '', keyFile: '' },
      },
    },
    clock: systemClock,
    random: () => 0,
    onError: () => undefined,
  })
  t.after(() => role.close())
  await role.catalog.register(reg('n1'))
  const keys = (await etcd.client.getAll().prefix('/vigil/dc1/').keys()).sort()
  assert.ok(keys.includes('/vigil/dc1/nodes/n1'), keys.join(' '))
  assert.ok(keys.includes('/vigil/dc1/meta/epoch'), keys.join(' '))
  const unreachable = `http://127.0.0.1:${await closedTcpPort()}`
  await assert.rejects(
    startServerRole({
      config: {
        ...testSettings({ server: true }),
        store: {
          backend: 'etcd',
          etcd: { endpoints: [unreachable], prefix: '/vigil/dc1', caFile: '', certFile: '', keyFile: '' },
        },
      },
      clock: systemClock,
      random: () => 0,
      onError: () => undefined,
    }),
    new RegExp(`^EtcdStoreOpenError: Cannot reach etcd at ${unreachable.replace(/\./g, '\\.')}: `),
  )
})

test("catalog on etcd: a Consul txn of 128 deletes needs more than etcd's default 128 ops", async (t) => {
  const keys = Array.from({ length: 128 }, (_, i) => `k/${i}`)
  const run = async (c: Catalog): Promise<unknown> => {
    for (let i = 0; i < 128; i += 32) await c.txn(keys.slice(i, i + 32).map((k) => kvOp('set', k)))
    return c.txn(keys.map((k) => kvOp('delete', k)))
  }
  await etcd.client.delete().all()
  const small = await server(t)
  await assert.rejects(run(small), (err: unknown) => {
    assert.ok(err instanceof TxnTooLargeError, String(err))
    assert.match(err.message, /etcd allows 128 \(raise etcd's --max-txn-ops\)/)
    return true
  })
  const big = await startEtcd(['--max-txn-ops=1024'])
  t.after(() => big.stop())
  const c = await server(t, big.endpoint)
  await run(c)
  const left = await big.client.getAll().prefix(`${PREFIX}kv/`).keys()
  const tombs = await big.client.getAll().prefix(`${PREFIX}tomb/`).keys()
  assert.equal(left.length, 0)
  assert.equal(tombs.length, 128)
})
