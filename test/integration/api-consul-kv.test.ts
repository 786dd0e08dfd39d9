import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import Consul from 'consul'
import { pino } from 'pino'
import { Agent } from '../../src/agent/agent.js'
import { Catalog } from '../../src/catalog/catalog.js'
import { kvRoutes } from '../../src/api/routes/kv.js'
import { sessionRoutes } from '../../src/api/routes/session.js'
import { txnRoutes } from '../../src/api/routes/txn.js'
import { startHttpApi } from '../../src/api/server.js'
import { systemClock } from '../../src/lib/clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import { silentLogger, testSettings } from '../support/agent-harness.js'
import { apiSettings } from '../support/api-harness.js'
import { registerNode } from '../support/kv.js'
import { within } from '../support/wait.js'

type Json = Record<string, unknown>

async function startApi(t: TestContext): Promise<Consul> {
  const agent = await Agent.start({
    config: testSettings({ dev: false, nodeName: 'itest' }),
    logger: silentLogger,
    clock: systemClock,
  })
  const store = new MemoryStore({ clock: systemClock })
  const catalog = await Catalog.open({ store, prefix: 'vigil/dc1', datacenter: 'dc1', clock: systemClock })
  await registerNode(catalog, 'itest')
  const http = await startHttpApi({
    agent,
    config: apiSettings(),
    logger: pino({ level: 'silent' }),
    kv: catalog,
    routes: [kvRoutes, sessionRoutes, txnRoutes],
  })
  t.after(async () => {
    await http.close()
    await catalog.close()
    await store.close()
    await agent.shutdown()
  })
  const port = Number(http.addresses[0]?.split(':').pop())
  const consul = new Consul({ host: '127.0.0.1', port })
  t.after(() => {
    consul.destroy()
  })
  return consul
}

test('node-consul kv: set, get, null value, raw, keys with separator, cas, delete recurse', async (t) => {
  const consul = await startApi(t)
  assert.equal(await consul.kv.set('a/x/1', 'one'), true)
  await consul.kv.set('a/y/1', 'two')
  await consul.kv.set('a/z', 'three')
  const got = (await consul.kv.get('a/x/1')) as unknown as Json
  assert.equal(got['Value'], 'one', 'node-consul decodes the base64 value')
  for (const k of ['CreateIndex', 'ModifyIndex', 'LockIndex', 'Key', 'Flags', 'Value']) assert.ok(k in got, k)
  await consul.kv.set({ key: 'empty', value: '' })
  assert.equal(((await consul.kv.get('empty')) as unknown as Json)['Value'], null)
  assert.equal(await consul.kv.get('missing'), undefined)
  assert.deepEqual(await consul.kv.keys({ key: 'a/', separator: '/' }), ['a/x/', 'a/y/', 'a/z'])
  assert.deepEqual(await consul.kv.keys('a'), ['a/x/1', 'a/y/1', 'a/z'])
  const raw = (await consul.kv.get({ key: 'a/z', raw: true })) as unknown
  assert.equal(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw), 'three')
  const mi = Number(got['ModifyIndex'])
  // A refused cas answers `false`, which node-consul hands back as undefined (as against Consul).
  assert.notEqual(await consul.kv.set({ key: 'a/x/1', value: 'stale', cas: mi + 100 }), true)
  assert.equal(((await consul.kv.get('a/x/1')) as unknown as Json)['Value'], 'one')
  assert.equal(await consul.kv.set({ key: 'a/x/1', value: 'new', cas: mi }), true)
  const tree = (await consul.kv.get({ key: 'a/', recurse: true })) as unknown as Json[]
  assert.deepEqual(
    tree.map((e) => e['Key']),
    ['a/x/1', 'a/y/1', 'a/z'],
  )
  assert.equal(await consul.kv.del({ key: '', recurse: true }), true)
  assert.deepEqual(await consul.kv.keys(''), [])
})

test('node-consul kv: a blocking get returns the new value after a set', async (t) => {
  const consul = await startApi(t)
  await consul.kv.set('w', '1')
  const first = (await consul.kv.get('w')) as unknown as Json
  const blocked = consul.kv.get({ key: 'w', index: first['ModifyIndex'], wait: '3s' } as never)
  await consul.kv.set('w', '2')
  const next = (await within(blocked, 5000, 'blocking get')) as unknown as Json
  assert.equal(next['Value'], '2')
  assert.ok(Number(next['ModifyIndex']) > Number(first['ModifyIndex']))
})

test('node-consul sessions and txn: create returns only ID, lock, renew, destroy, node list, txn results', async (t) => {
  const consul = await startApi(t)
  const created = (await consul.session.create({ name: 'lock', ttl: '15s' })) as unknown as Json
  assert.deepEqual(Object.keys(created), ['ID'])
  const id = String(created['ID'])
  assert.equal(await consul.kv.set({ key: 'leader', value: 'me', acquire: id }), true)
  assert.equal(((await consul.kv.get('leader')) as unknown as Json)['Session'], id)
  const renewed = (await consul.session.renew(id)) as unknown as Json[]
  assert.ok(Array.isArray(renewed))
  assert.equal(renewed[0]?.['ID'], id)
  assert.equal(((await consul.session.node('itest')) as unknown as Json[]).length, 1)
  assert.deepEqual(await consul.session.node('unknown'), [])
  assert.equal(((await consul.session.list()) as unknown as Json[]).length, 1)
  await consul.session.destroy(id)
  assert.deepEqual(await consul.session.info(id), undefined)
  assert.equal(((await consul.kv.get('leader')) as unknown as Json)['Session'], undefined, 'released')

  const v = Buffer.from('x').toString('base64')
  const r = (await consul.transaction.create([
    { KV: { Verb: 'set', Key: 't1', Value: v } },
    { KV: { Verb: 'set', Key: 't2', Value: v } },
  ] as never)) as unknown as { Results: { KV: Json }[] }
  assert.equal(r.Results.length, 2)
  for (const res of r.Results) {
    for (const k of ['CreateIndex', 'ModifyIndex', 'LockIndex', 'Key', 'Flags']) assert.ok(k in res.KV, k)
  }
})
