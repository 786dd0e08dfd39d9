import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { Agent } from '../../src/agent/agent.js'
import { Catalog } from '../../src/catalog/catalog.js'
import { kvGetQuery } from '../../src/catalog/kv-queries.js'
import { snapshotPort } from '../../src/catalog/snapshot.js'
import { decodeSnapshot } from '../../src/catalog/snapshot-format.js'
import { kvRoutes } from '../../src/api/routes/kv.js'
import { snapshotRoutes } from '../../src/api/routes/snapshot.js'
import { buildHttpApi } from '../../src/api/server.js'
import { systemClock } from '../../src/lib/clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import { silentLogger, testSettings } from '../support/agent-harness.js'
import { apiSettings, refTimerClock } from '../support/api-harness.js'
import { put } from '../support/kv.js'

async function start(
  t: TestContext,
): Promise<{ app: FastifyInstance; catalog: Catalog; restored: () => number }> {
  const agent = await Agent.start({
    config: testSettings({ dev: false, nodeName: 'n1' }),
    logger: silentLogger,
    clock: systemClock,
  })
  const store = new MemoryStore({ clock: refTimerClock })
  const prefix = 'vigil/dc1/'
  const catalog = await Catalog.open({ store, prefix, datacenter: 'dc1', clock: refTimerClock })
  let restores = 0
  const app = buildHttpApi({
    agent,
    config: apiSettings(),
    logger: silentLogger,
    clock: refTimerClock,
    catalog,
    kv: catalog,
    routes: [
      kvRoutes,
      snapshotRoutes({
        snapshots: snapshotPort({ store, prefix, datacenter: 'dc1', now: () => Date.now() }),
        afterRestore: () => {
          restores++
          return Promise.resolve()
        },
      }),
    ],
  })
  await app.ready()
  t.after(async () => {
    await app.close()
    await catalog.close()
    await store.close()
    await agent.shutdown()
  })
  return { app, catalog, restored: () => restores }
}

test('GET /v1/snapshot answers the catalog as a gzip body with the index it was read at', async (t) => {
  const { app, catalog } = await start(t)
  await put(catalog, 'a', '1')
  const w = await put(catalog, 'b', '2')
  for (const url of ['/v1/snapshot', '/v1/snapshot?stale']) {
    const res = await app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'application/x-gzip')
    assert.equal(res.headers['x-consul-index'], String(w.index))
    assert.equal(res.headers['x-consul-knownleader'], 'true')
    const snap = await decodeSnapshot(res.rawPayload)
    assert.equal(snap.header.index, w.index)
    assert.ok(snap.entries.some((e) => e.key === 'kv/b'))
  }
  const both = await app.inject({ method: 'GET', url: '/v1/snapshot?stale&consistent' })
  assert.equal(both.statusCode, 400)
  assert.equal(both.body, 'Cannot specify ?stale with ?consistent, conflicting semantics.')
  const dc = await app.inject({ method: 'GET', url: '/v1/snapshot?dc=other' })
  assert.deepEqual([dc.statusCode, dc.body], [500, 'No path to datacenter'])
  const del = await app.inject({ method: 'DELETE', url: '/v1/snapshot' })
  assert.equal(del.statusCode, 405)
})

test('PUT /v1/snapshot restores a saved body; a bad body is a 500 and changes nothing', async (t) => {
  const { app, catalog, restored } = await start(t)
  await put(catalog, 'k', 'before')
  const saved = (await app.inject({ method: 'GET', url: '/v1/snapshot' })).rawPayload
  await put(catalog, 'k', 'after')
  await put(catalog, 'extra', 'x')

  const truncated = saved.subarray(0, saved.length - 4)
  for (const [body, text] of [
    [Buffer.from('plain text'), 'failed to decompress snapshot: gzip: invalid header'],
    [truncated, 'failed to decompress snapshot: unexpected EOF'],
    [Buffer.alloc(0), 'failed to decompress snapshot: EOF'],
  ] as const) {
    const res = await app.inject({ method: 'PUT', url: '/v1/snapshot', payload: body })
    assert.deepEqual([res.statusCode, res.body], [500, text])
  }
  assert.equal(restored(), 0)
  assert.equal(catalog.kvRead(kvGetQuery('extra')).value?.key, 'extra', 'nothing changed')

  const seen = catalog.kvRead(kvGetQuery('k')).index
  const res = await app.inject({
    method: 'PUT',
    url: '/v1/snapshot',
    payload: saved,
    headers: { 'content-type': 'application/octet-stream' },
  })
  assert.deepEqual([res.statusCode, res.body], [200, ''])
  assert.equal(restored(), 1, 'the server writes its own node back after a restore')
  const k = catalog.kvRead(kvGetQuery('k'))
  assert.equal(Buffer.from(k.value?.value ?? '', 'base64').toString('utf8'), 'before')
  assert.ok(k.index > seen, `index ${k.index} moved above ${seen}`)
  assert.equal(catalog.kvRead(kvGetQuery('extra')).value, null)
})
