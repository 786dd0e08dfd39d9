import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Catalog } from '../../src/catalog/catalog.js'
import { systemClock } from '../../src/lib/clock.js'
import { CatalogRequestError } from '../../src/catalog/errors.js'
import {
  checksInStateQuery,
  nodeChecksQuery,
  nodeServicesQuery,
  nodesQuery,
  serviceChecksQuery,
  serviceHealthQuery,
  serviceNodesQuery,
  servicesQuery,
} from '../../src/catalog/queries.js'
import type { Store, WatchHandlers } from '../../src/store/store.js'
import { PREFIX, chk, openCatalog, reg, settle, svc } from '../support/catalog.js'

async function rejectsWith(p: Promise<unknown>, text: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CatalogRequestError, String(err))
    assert.equal(err.message, text)
    assert.equal(err.statusCode, 500)
    return true
  })
}

test('catalog register creates the node, the service and its check with Consul defaults', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const w = await h.catalog.register(
    reg('Node1', {
      service: svc('web', { tags: ['v1'], port: 80 }),
      checks: [chk('web alive', { serviceId: 'web' }), chk('disk')],
    }),
  )
  assert.equal(w.changed, true)
  const node = h.catalog.read(nodeServicesQuery('node1')).value
  assert.ok(node !== null)
  assert.equal(node.node.node.node, 'Node1')
  assert.equal(node.node.node.datacenter, 'dc1')
  assert.equal(node.node.createIndex, w.index)
  assert.equal(node.services[0]?.service.id, 'web', 'Service.ID defaults to Service.Service')
  const checks = h.catalog.read(nodeChecksQuery('NODE1')).value
  assert.deepEqual(
    checks.map((c) => [
      c.check.checkId,
      c.check.node,
      c.check.status,
      c.check.serviceName,
      c.check.serviceTags,
    ]),
    [
      ['disk', 'Node1', 'critical', '', []],
      ['web alive', 'Node1', 'critical', 'web', ['v1']],
    ],
  )
  assert.ok(Object.isFrozen(checks) && Object.isFrozen(checks[0]) && Object.isFrozen(checks[0]?.check))
})

test('catalog register refuses what Consul refuses, with its texts', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await rejectsWith(c.register(reg('')), 'Must provide node')
  await rejectsWith(
    c.register(reg('n', { address: '' })),
    'Must provide address if SkipNodeUpdate is not set',
  )
  await rejectsWith(c.register(reg('n', { id: 'abc' })), 'Bad node ID: uuid string is wrong length')
  await rejectsWith(
    c.register(reg('n', { id: '11111111-2222-3333-4444-55555555555g' })),
    "Bad node ID: encoding/hex: invalid byte: U+0067 'g'",
  )
  await rejectsWith(
    c.register(reg('n', { id: '11111111_2222-3333-4444-555555555555' })),
    'Bad node ID: uuid is improperly formatted',
  )
  await rejectsWith(
    c.register(reg('n', { service: svc('', { id: 'x' }) })),
    'Must provide service name (Service.Service) when service ID is provided',
  )
  await rejectsWith(
    c.register(reg('n', { service: svc('x', { address: '0.0.0.0' }) })),
    'Invalid service address',
  )
  await rejectsWith(
    c.register(reg('n', { checks: [chk('c', { serviceId: 'nope' })] })),
    'failed inserting check: Missing service registration',
  )
  await rejectsWith(
    c.register(reg('n', { address: '', skipNodeUpdate: true, service: svc('x') })),
    'failed inserting service: Missing node registration',
  )
  await rejectsWith(
    c.register(reg('n', { checks: [chk('c', { node: 'other' })] })),
    'check node "other" does not match node "n"',
  )
  assert.equal(c.read(nodesQuery()).value.length, 0, 'a refused write leaves nothing behind')
  assert.equal(await h.store.revision(), c.revision)
})

test('catalog node ID aliasing another node is refused', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const id = '11111111-2222-3333-4444-555555555555'
  await h.catalog.register(reg('a', { id }))
  await rejectsWith(
    h.catalog.register(reg('b', { id })),
    `failed inserting node: node ID "${id}" for node "b" aliases existing node "a"`,
  )
})

test('catalog re-registering an identical service 100 times moves no index and wakes nobody', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  const body = reg('n1', {
    service: svc('x', { tags: ['a'] }),
    checks: [chk('x-check', { serviceId: 'x', status: 'passing' })],
  })
  await c.register(body)
  const before = c.read(serviceHealthQuery('x'))
  const storeRev = await h.store.revision()
  let answered = false
  const blocked = c.block(serviceHealthQuery('x'), { index: before.index }).then((r) => {
    answered = true
    return r
  })
  for (let i = 0; i < 100; i++) {
    const w = await c.register(body)
    assert.equal(w.changed, false)
  }
  await settle()
  assert.equal(await h.store.revision(), storeRev, 'the store revision did not move')
  assert.equal(c.read(serviceHealthQuery('x')).index, before.index)
  assert.equal(answered, false, 'the blocked query stays blocked')
  await c.register(reg('n1', { service: svc('x', { tags: ['b'] }) }))
  const r = await blocked
  assert.ok(r.index > before.index)
})

test('catalog: a registration equal but for key order (node and service maps) is a no-op; a changed map value is not', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  const first = reg('n1', {
    nodeMeta: { rack: 'r1', zone: 'z1' },
    taggedAddresses: { lan: '10.0.0.1', wan: '198.51.100.1' },
    service: svc('x', { meta: { a: '1', b: '2' } }),
  })
  const w1 = await c.register(first)
  assert.equal(w1.changed, true)
  const reordered = reg('n1', {
    nodeMeta: { zone: 'z1', rack: 'r1' },
    taggedAddresses: { wan: '198.51.100.1', lan: '10.0.0.1' },
    // Not frozen, its keys out of order: encoded as a sorted copy.
    service: { ...svc('x'), meta: { b: '2', a: '1' } },
  })
  const w2 = await c.register(reordered)
  assert.equal(w2.changed, false)
  assert.equal(await h.store.revision(), w1.index, 'the store revision did not move')
  const node = c.state.node('n1')?.node
  assert.deepEqual(Object.keys(node?.meta ?? {}), ['rack', 'zone'])
  assert.ok(Object.isFrozen(node) && Object.isFrozen(node?.meta))
  // Same keys, one value changed (node meta, then a tagged address): each is a write.
  const w3 = await c.register(reg('n1', { ...reordered, nodeMeta: { zone: 'z2', rack: 'r1' } }))
  assert.equal(w3.changed, true)
  assert.equal(c.state.node('n1')?.node.meta['zone'], 'z2')
  const w4 = await c.register(
    reg('n1', {
      ...reordered,
      nodeMeta: { zone: 'z2', rack: 'r1' },
      taggedAddresses: { wan: '198.51.100.2', lan: '10.0.0.1' },
    }),
  )
  assert.equal(w4.changed, true)
  assert.equal(c.state.node('n1')?.node.taggedAddresses['wan'], '198.51.100.2')
})

test('catalog deregister: node alone, ServiceID, CheckID, unknown', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await c.register(
    reg('n1', {
      service: svc('web', { id: 'web1' }),
      checks: [chk('c1', { serviceId: 'web1' }), chk('node-check')],
    }),
  )
  await c.register(reg('n1', { service: svc('db') }))
  await c.register(reg('n2', { service: svc('web', { id: 'web2' }) }))

  const none = await c.deregister({ node: 'n1', serviceId: 'nope', checkId: '' })
  assert.equal(none.changed, false)
  await rejectsWith(c.deregister({ node: '', serviceId: '', checkId: '' }), 'Must provide node')

  await c.deregister({ node: 'N1', serviceId: 'WEB1', checkId: 'node-check' })
  assert.deepEqual(
    c.read(nodeChecksQuery('n1')).value.map((x) => x.check.checkId),
    ['node-check'],
    'ServiceID wins over CheckID; the service takes its checks with it',
  )
  await c.deregister({ node: 'n1', serviceId: '', checkId: 'node-check' })
  assert.deepEqual(c.read(nodeChecksQuery('n1')).value, [])
  await c.deregister({ node: 'n1', serviceId: '', checkId: '' })
  assert.equal(c.read(nodeServicesQuery('n1')).value, null)
  assert.deepEqual([...c.read(servicesQuery()).value.keys()], ['web'])
})

test('catalog indexes: per service name, per table, never 0, never backwards on delete', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  assert.equal(c.read(serviceNodesQuery('x')).index, 1, 'an empty catalog answers 1, not 0')
  const wx = await c.register(reg('n1', { service: svc('x') }))
  const wy = await c.register(reg('n1', { service: svc('y') }))
  assert.equal(c.read(serviceNodesQuery('x')).index, wx.index, 'a write to y does not move x')
  assert.equal(c.read(serviceNodesQuery('y')).index, wy.index)
  assert.equal(c.read(servicesQuery()).index, wy.index)
  const wc = await c.register(reg('n1', { checks: [chk('node-check')] }))
  assert.equal(c.read(serviceNodesQuery('x')).index, wc.index, 'a node check moves every service on the node')
  assert.equal(c.read(servicesQuery()).index, wy.index, 'a check does not move the services table')
  assert.equal(c.read(nodeChecksQuery('n1')).index, wc.index)
  const wd = await c.deregister({ node: 'n1', serviceId: 'x', checkId: '' })
  assert.equal(
    c.read(serviceNodesQuery('x')).index,
    wd.index,
    'the last instance leaving moves the index forward',
  )
  assert.equal(h.catalog.state.idx('service.x'), undefined, 'its index entry is gone')
  assert.equal(h.catalog.state.idx('service_last_extinction'), wd.index)
})

test('catalog reads: tags, node-meta, passing, state, service checks, connect', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await c.register(
    reg('a', {
      nodeMeta: { rack: 'r1' },
      service: svc('web', { tags: ['Primary', 'v1'] }),
      checks: [chk('wc', { serviceId: 'web', status: 'passing' })],
    }),
  )
  await c.register(
    reg('b', {
      nodeMeta: { rack: 'r2' },
      service: svc('web', { tags: ['v1'] }),
      checks: [chk('wc', { serviceId: 'web', status: 'warning' })],
    }),
  )
  await c.register(
    reg('b', {
      nodeMeta: { rack: 'r2' },
      service: svc('web-proxy', {
        kind: 'connect-proxy',
        port: 21000,
        proxy: {
          destinationServiceName: 'web',
          destinationServiceId: 'web',
          localServiceAddress: '',
          localServicePort: 0,
          mode: '',
          config: {},
          upstreams: [],
          extra: {},
        },
      }),
    }),
  )
  const nodesOf = (xs: readonly { node: { node: { node: string } } }[]): string[] =>
    xs.map((x) => x.node.node.node)
  assert.deepEqual(nodesOf(c.read(serviceNodesQuery('web', { tags: ['primary'] })).value), ['a'])
  assert.deepEqual(nodesOf(c.read(serviceNodesQuery('WEB', { tags: ['v1'] })).value), ['a', 'b'])
  assert.deepEqual(nodesOf(c.read(serviceNodesQuery('web', { nodeMeta: [['rack', 'r2']] })).value), ['b'])
  assert.deepEqual(nodesOf(c.read(serviceHealthQuery('web', { passing: true })).value), ['a'])
  assert.deepEqual(
    c.read(checksInStateQuery('warning')).value.map((x) => x.check.node),
    ['b'],
  )
  assert.equal(c.read(checksInStateQuery('any')).value.length, 2)
  assert.equal(c.read(serviceChecksQuery('web')).value.length, 2)
  assert.deepEqual(
    c.read(serviceNodesQuery('web', { connect: true })).value.map((x) => x.service.service.id),
    ['web-proxy'],
  )
  const services = c.read(servicesQuery()).value
  assert.deepEqual(services.get('web'), ['Primary', 'v1'])
  assert.deepEqual(services.get('web-proxy'), [])
  assert.deepEqual(
    c.read(nodesQuery({ nodeMeta: [['rack', 'r1']] })).value.map((n) => n.node.node),
    ['a'],
  )
})

test('catalog blocking: a waiter wakes only for what it read; identical waiters share one evaluation', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await c.register(reg('n1', { service: svc('x') }))
  await c.register(reg('n2', { service: svc('y') }))
  const idx = c.read(serviceHealthQuery('x')).index
  const done: number[] = []
  const waiters = Array.from({ length: 100 }, () =>
    c.block(serviceHealthQuery('x'), { index: idx }).then((r) => {
      done.push(r.index)
      return r
    }),
  )
  await settle()
  const base = c.blockingStats()
  assert.equal(base.armed, 1)
  assert.equal(base.waiters, 100)
  await c.register(reg('n2', { service: svc('y', { port: 1 }) }))
  await settle()
  assert.equal(done.length, 0, 'a change to y does not answer x')
  assert.equal(c.blockingStats().evaluations, base.evaluations, 'nor re-evaluates it')
  const w = await c.register(reg('n1', { service: svc('x', { port: 2 }) }))
  const results = await Promise.all(waiters)
  assert.equal(c.blockingStats().evaluations, base.evaluations + 1, 'one evaluation for 100 waiters')
  assert.ok(
    results.every((r) => r === results[0]),
    'one shared result object',
  )
  assert.equal(results[0]?.index, w.index)
  assert.equal(c.blockingStats().armed, 0)
})

test('catalog blocking: the write that wakes waiters is acknowledged before they are answered', async (t) => {
  // Under thousands of waiters the writer would otherwise wait for every one of their answers.
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await c.register(reg('n1', { service: svc('x') }))
  const idx = c.read(serviceHealthQuery('x')).index
  const order: string[] = []
  const waiters = Array.from({ length: 50 }, () =>
    c.block(serviceHealthQuery('x'), { index: idx }).then(() => order.push('waiter')),
  )
  await settle()
  await c.register(reg('n1', { service: svc('x', { port: 2 }) })).then(() => order.push('write'))
  await Promise.all(waiters)
  assert.equal(order[0], 'write')
  assert.equal(order.length, 51)
})

test('catalog blocking: a woken query whose index did not pass re-arms; the deadline answers', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await c.register(reg('n1', { service: svc('x'), checks: [] }))
  await c.register(reg('n2'))
  const first = c.read(nodeServicesQuery('n1'))
  let answered = false
  const p = c.block(nodeServicesQuery('n1'), { index: first.index, waitMs: 60_000 }).then((r) => {
    answered = true
    return r
  })
  await settle()
  await c.register(reg('n1', { checks: [chk('c')] })) // n1's rows change, but not its node or services
  await settle()
  assert.equal(answered, false, 're-armed: its index did not move')
  await h.clock.advance(59_999)
  assert.equal(answered, false)
  await h.clock.advance(1)
  const r = await p
  assert.equal(r.index, first.index, 'the deadline answers the same index')
})

test('catalog view: writes between the initial range and the watch are not lost', async (t) => {
  let injected = false
  const h = await openCatalog({
    wrap: (store): Store => ({
      revision: () => store.revision(),
      range: async (prefix) => {
        const r = await store.range(prefix)
        if (!injected) {
          injected = true
          await store.txn({ compare: [], success: [{ type: 'put', key: `${PREFIX}/idx/nodes`, value: '' }] })
          await store.txn({
            compare: [],
            success: [
              {
                type: 'put',
                key: `${PREFIX}/nodes/late`,
                value: JSON.stringify({
                  id: '',
                  node: 'late',
                  address: 'x',
                  datacenter: 'dc1',
                  taggedAddresses: {},
                  meta: {},
                }),
              },
            ],
          })
        }
        return r
      },
      txn: (req) => store.txn(req),
      watch: (prefix, from, handlers) => store.watch(prefix, from, handlers),
      grantLease: (ms) => store.grantLease(ms),
      keepAlive: (l) => store.keepAlive(l),
      revokeLease: (l) => store.revokeLease(l),
      close: () => store.close(),
    }),
  })
  t.after(() => h.close())
  await settle()
  assert.equal(h.catalog.revision, await h.store.revision())
  assert.deepEqual(
    h.catalog.read(nodesQuery()).value.map((n) => n.node.node),
    ['late'],
  )
})

test('catalog view: a cancelled watch resyncs by range and wakes every waiter', async (t) => {
  let lose: (() => Promise<void>) | undefined
  let cancel: (() => void) | undefined
  const h = await openCatalog({
    wrap: (store): Store => ({
      revision: () => store.revision(),
      range: (prefix) => store.range(prefix),
      txn: (req) => store.txn(req),
      watch: (prefix, from, hs: WatchHandlers) => {
        const inner = store.watch(prefix, from, hs)
        lose = () => inner.close()
        cancel = () => {
          hs.onCancel(new Error('connection lost'))
        }
        return inner
      },
      grantLease: (ms) => store.grantLease(ms),
      keepAlive: (l) => store.keepAlive(l),
      revokeLease: (l) => store.revokeLease(l),
      close: () => store.close(),
    }),
  })
  t.after(() => h.close())
  const c = h.catalog
  await c.register(reg('n1', { service: svc('x') }))
  const idx = c.read(serviceNodesQuery('x')).index
  const blocked = c.block(serviceNodesQuery('x'), { index: idx })
  await settle()
  await lose?.()
  // Another server writes while this view hears nothing.
  const other = await Catalog.open({ store: h.store, prefix: PREFIX, datacenter: 'dc1', clock: h.clock })
  t.after(() => other.close())
  const w = await other.register(reg('n1', { service: svc('x', { port: 9 }) }))
  await settle()
  assert.equal(c.read(serviceNodesQuery('x')).index, idx, 'the view missed it')
  cancel?.()
  const r = await blocked
  assert.equal(c.resyncs, 1)
  assert.equal(r.index, w.index)
  assert.equal(r.value[0]?.service.service.port, 9)
  assert.equal(c.revision, await h.store.revision())
})

test('catalog: two catalogs on one store (two servers) converge and never lose a write', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const other = await Catalog.open({ store: h.store, prefix: PREFIX, datacenter: 'dc1', clock: h.clock })
  t.after(() => other.close())
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? h.catalog : other).register(reg('n1', { service: svc(`s${i % 5}`, { id: `id${i}` }) })),
    ),
  )
  await settle()
  for (const c of [h.catalog, other]) {
    assert.equal(c.read(nodeServicesQuery('n1')).value?.services.length, 20)
    for (let k = 0; k < 5; k++) {
      assert.equal(c.read(serviceNodesQuery(`s${k}`)).value.length, 4)
    }
  }
  assert.equal(h.catalog.revision, other.revision)
  await other.deregister({ node: 'n1', serviceId: '', checkId: '' })
  assert.equal(h.catalog.read(nodeServicesQuery('n1')).value, null)
})

test('catalog: a name losing its last instance on one server while another adds one keeps its index entry', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const other = await Catalog.open({ store: h.store, prefix: PREFIX, datacenter: 'dc1', clock: h.clock })
  t.after(() => other.close())
  await h.catalog.register(reg('n1', { service: svc('x') }))
  await h.catalog.register(reg('n2'))
  await settle()
  // Both plan against the same view; the register commits first, so the deregister's plan
  // ("x has no instance left: drop its entry") is stale and must be re-planned.
  const [added] = await Promise.all([
    other.register(reg('n2', { service: svc('x') })),
    h.catalog.deregister({ node: 'n1', serviceId: 'x', checkId: '' }),
  ])
  await settle()
  for (const c of [h.catalog, other]) {
    assert.deepEqual(
      c.read(serviceNodesQuery('x')).value.map((e) => e.node.node.node),
      ['n2'],
    )
    assert.ok(c.state.idx('service.x') !== undefined, 'x has an instance, so it has its entry')
    assert.ok(c.read(serviceNodesQuery('x')).index >= added.index)
  }
})

test('catalog blocking at scale: 10,000 waiters over 10 queries, one change, one evaluation per query', async (t) => {
  const h = await openCatalog({ clock: systemClock })
  t.after(() => h.close())
  const c = h.catalog
  for (let i = 0; i < 10; i++) await c.register(reg(`n${i}`, { service: svc('web', { id: `web${i}` }) }))
  const queries = Array.from({ length: 10 }, (_, i) =>
    i % 2 === 0
      ? serviceHealthQuery('web', { tags: [`t${i}`] })
      : serviceNodesQuery('web', { tags: [`t${i}`] }),
  )
  const index = c.read(serviceHealthQuery('web')).index
  const waiters: Promise<unknown>[] = []
  for (let i = 0; i < 10_000; i++) waiters.push(c.block(queries[i % 10]!, { index }))
  await settle()
  assert.equal(c.blockingStats().waiters, 10_000)
  const before = c.blockingStats().evaluations
  const started = performance.now()
  await c.register(reg('n0', { service: svc('web', { id: 'web0', tags: ['t0', 't1'] }) }))
  await Promise.all(waiters)
  const ms = performance.now() - started
  assert.equal(c.blockingStats().evaluations - before, 10)
  assert.equal(c.blockingStats().waiters, 0)
  t.diagnostic(`10,000 waiters answered in ${ms.toFixed(1)} ms`)
})

test('catalog: a service check removed while its service is renamed does not revive the old name', async (t) => {
  // Shrunk from the concurrent-writers property: the check's removal was re-planned on a view
  // where the service still had its old name, and put that name's entry after the rename.
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await c.register(reg('n1', { service: svc('y', { id: 'b' }), checks: [chk('c1')] }))
  await Promise.all([
    c.register(reg('n1', { checks: [chk('c1', { serviceId: 'b' })] })),
    c.register(reg('n1', { service: svc('x', { id: 'b' }) })),
    c.deregister({ node: 'n1', serviceId: '', checkId: 'c1' }),
  ])
  await settle()
  assert.deepEqual(
    [...c.state.allServices()].map((s) => s.service.name),
    ['x'],
  )
  assert.equal(c.state.idx('service.y'), undefined, 'y has no instance, so no entry')
  assert.ok(c.state.idx('service.x') !== undefined)
})

test('catalog: a server whose view lags neither drops a write as a no-op nor refuses on stale rows', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  let paused = false
  const held: (() => void)[] = []
  const lagging = await Catalog.open({
    store: {
      revision: () => h.store.revision(),
      range: (prefix) => h.store.range(prefix),
      txn: (req) => h.store.txn(req),
      watch: (prefix, from, hs) =>
        h.store.watch(prefix, from, {
          onBatch: (b) => {
            if (paused) held.push(() => hs.onBatch(b))
            else hs.onBatch(b)
          },
          onCancel: (e) => hs.onCancel(e),
        }),
      grantLease: (ms) => h.store.grantLease(ms),
      keepAlive: (l) => h.store.keepAlive(l),
      revokeLease: (l) => h.store.revokeLease(l),
      close: () => Promise.resolve(),
    },
    prefix: PREFIX,
    datacenter: 'dc1',
    clock: h.clock,
  })
  t.after(() => lagging.close())
  const v1 = reg('n1', { service: svc('web', { port: 1 }) })
  await h.catalog.register(v1)
  await settle()
  paused = true
  await h.catalog.register(reg('n1', { service: svc('web', { port: 2 }) }))
  await h.catalog.register(reg('n1', { service: svc('db') }))
  // The lagging view still holds port 1 and no db.
  const again = lagging.register(v1)
  const check = lagging.register(reg('n1', { checks: [chk('db-check', { serviceId: 'db' })] }))
  await settle()
  paused = false
  for (const deliver of held.splice(0)) deliver()
  const w = await again
  assert.equal(w.changed, true, 'port 2 → 1 is a change')
  await check
  await settle()
  assert.equal(h.catalog.read(serviceNodesQuery('web')).value[0]?.service.service.port, 1)
  assert.equal(h.catalog.read(nodeChecksQuery('n1')).value[0]?.check.serviceName, 'db')
})

test('catalog blocking: wait defaults to 5 minutes, is clamped to 10, plus up to wait/16 of jitter', async (t) => {
  const h = await openCatalog({ random: () => 0.5 })
  t.after(() => h.close())
  const c = h.catalog
  await c.register(reg('n1'))
  const index = c.read(nodesQuery()).index
  const answeredAt = (waitMs: number | undefined): Promise<number> =>
    c.block(nodesQuery(), { index, ...(waitMs === undefined ? {} : { waitMs }) }).then(() => h.clock.now())
  const start = h.clock.now()
  const byDefault = answeredAt(undefined)
  const clamped = answeredAt(20 * 60_000)
  const short = answeredAt(16_000)
  await h.clock.advance(11 * 60_000)
  assert.equal((await short) - start, 16_000 + 500)
  assert.equal((await byDefault) - start, 5 * 60_000 + (0.5 * 5 * 60_000) / 16)
  assert.equal((await clamped) - start, 10 * 60_000 + (0.5 * 10 * 60_000) / 16)
})

test('catalog blocking: a burst of committed batches costs each waiting query one evaluation', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  // Twenty writers (one catalog each, so no two writes share a txn): twenty revisions in a burst.
  const writers = await Promise.all(
    Array.from({ length: 20 }, () =>
      Catalog.open({ store: h.store, prefix: PREFIX, datacenter: 'dc1', clock: h.clock }),
    ),
  )
  t.after(async () => {
    for (const w of writers) await w.close()
  })
  // An index far ahead keeps the query armed through every change.
  void h.catalog.block(nodesQuery(), { index: 1e12 })
  await settle()
  const before = h.catalog.blockingStats().evaluations
  const writes = await Promise.all(writers.map((w, i) => w.register(reg(`n${i}`))))
  await settle()
  assert.equal(new Set(writes.map((w) => w.index)).size, 20, '20 revisions')
  const evaluations = h.catalog.blockingStats().evaluations - before
  t.diagnostic(`20 batches, ${evaluations} evaluation(s)`)
  assert.ok(evaluations <= 2, `${evaluations} evaluations`)
  assert.equal(h.catalog.read(nodesQuery()).value.length, 20, 'and the answer is current')
})

test('catalog reads: an unchanged view answers the same result object; any applied write a fresh one', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  await c.register(
    reg('a', { service: svc('web'), checks: [chk('wc', { serviceId: 'web', status: 'passing' })] }),
  )
  const first = c.read(serviceHealthQuery('web', { passing: true }))
  assert.equal(c.read(serviceHealthQuery('web', { passing: true })), first)
  assert.notEqual(c.read(serviceHealthQuery('web')), first, 'another key is another result')
  assert.equal(first.value.length, 1)
  await c.register(
    reg('b', { service: svc('web'), checks: [chk('wc', { serviceId: 'web', status: 'passing' })] }),
  )
  const second = c.read(serviceHealthQuery('web', { passing: true }))
  assert.notEqual(second, first)
  assert.equal(second.value.length, 2)
  assert.equal(second.revision, c.revision)
  assert.equal(first.value.length, 1, 'an earlier result never changes')
})

test('catalog writes: concurrent registrations share store txns; a write that enumerates a node never shares with one on that node', async (t) => {
  const counted = { txns: 0 }
  const h = await openCatalog({
    wrap: (s): Store => ({
      revision: () => s.revision(),
      range: (prefix) => s.range(prefix),
      txn: (req) => {
        counted.txns++
        return s.txn(req)
      },
      watch: (prefix, from, handlers) => s.watch(prefix, from, handlers),
      grantLease: (ms) => s.grantLease(ms),
      keepAlive: (lease) => s.keepAlive(lease),
      revokeLease: (lease) => s.revokeLease(lease),
      close: () => s.close(),
    }),
  })
  t.after(() => h.close())
  const c = h.catalog
  const writes = await Promise.all(Array.from({ length: 32 }, (_, i) => c.register(reg(`n${i}`))))
  assert.ok(counted.txns < 32, `${counted.txns} txns for 32 registrations`)
  writes.forEach((w, i) => {
    assert.equal(c.state.node(`n${i}`)?.createIndex, w.index, 'committed once, at the index it answered')
  })
  // Services on one node and a node-level check at once: the check's write enumerates the node's
  // instances (it must move each one's index), so it never shares a txn with a write of them.
  const services = Array.from({ length: 8 }, (_, i) => c.register(reg('n0', { service: svc(`s${i}`) })))
  const check = c.register(reg('n0', { checks: [chk('nc', { status: 'critical' })] }))
  const checked = await check
  await Promise.all(services)
  for (let i = 0; i < 8; i++) {
    const health = c.read(serviceHealthQuery(`s${i}`))
    assert.deepEqual(
      health.value[0]?.checks.map((x) => x.check.checkId),
      ['nc'],
    )
    assert.ok(health.index >= checked.index, `s${i}: index ${health.index} moved with the node check`)
  }
})

test('catalog writes: a write that reads what another deletes never shares its txn (no orphan check)', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const c = h.catalog
  for (let round = 0; round < 20; round++) {
    await c.register(reg('n0', { service: svc('web') }))
    // A write in flight first, so that the next two wait together for the next txn.
    const results = await Promise.allSettled([
      c.register(reg(`other${round}`)),
      c.deregister({ node: 'n0', serviceId: 'web', checkId: '' }),
      c.register(reg('n0', { checks: [chk(`wc${round}`, { serviceId: 'web', status: 'passing' })] })),
    ])
    assert.equal(results[1].status, 'fulfilled')
    const orphans = c.state
      .checksOnNode('n0')
      .filter((x) => x.check.serviceId !== '' && c.state.service('n0', x.check.serviceId) === undefined)
    assert.deepEqual(
      orphans.map((x) => x.check.checkId),
      [],
      `round ${round}: no check outlives its service`,
    )
  }
})
