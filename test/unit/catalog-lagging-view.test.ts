/**
 * Two servers on one store, the first one's view held behind the store on purpose (its watch
 * deliveries held back through the store port): what it answers must be what the store holds,
 * not what its view shows (docs/cluster.md "Freshness"). Each case is one the KV model test on
 * etcd found (test/sim/kv-model.test.ts), pinned here deterministically.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Catalog } from '../../src/catalog/catalog.js'
import { MemoryStore } from '../../src/store/memory.js'
import { PREFIX } from '../support/catalog.js'
import { FakeClock } from '../support/fake-clock.js'
import { kvOp, put, registerNode, session } from '../support/kv.js'
import { heldWatches, type HeldWatches } from '../support/lagging-store.js'
import { settleEventLoop, track } from '../support/wait.js'

interface Pair {
  /** The server whose view is held back. */
  readonly a: Catalog
  readonly b: Catalog
  readonly held: HeldWatches
  readonly store: MemoryStore
}

async function pair(t: TestContext): Promise<Pair> {
  const clock = new FakeClock()
  const store = new MemoryStore({ clock })
  const held = heldWatches(store)
  let n = 0
  const newSessionId = (): string => `s${++n}`
  const open = (s: typeof store | HeldWatches['store']): Promise<Catalog> =>
    Catalog.open({ store: s, prefix: PREFIX, datacenter: 'dc1', clock, random: () => 0, newSessionId })
  const a = await open(held.store)
  const b = await open(store)
  t.after(async () => {
    held.release()
    await a.close()
    await b.close()
    await store.close()
  })
  await registerNode(b, 'n1', 'passing', [['app', 'passing']])
  await settleEventLoop()
  assert.equal(a.revision, b.revision)
  return { a, b, held, store }
}

test('a check turned critical through a server that does not see a session created a moment ago through another invalidates it', async (t) => {
  const { a, b, held } = await pair(t)
  held.hold()
  const id = await session(b, { nodeChecks: ['serfHealth', 'app'] })
  const write = track(registerNode(a, 'n1', 'passing', [['app', 'critical']]))
  await settleEventLoop()
  held.release()
  await write.promise
  await settleEventLoop()
  assert.equal(b.state.kv.session(id), undefined, 'the session watching the check is gone')
  assert.equal(a.state.kv.session(id), undefined)
})

test('an acquire through a server whose view catches up while it confirms its refusal uses the session', async (t) => {
  const { a, b, held } = await pair(t)
  held.hold()
  const id = await session(b)
  // The view reaches the store's revision just as the store tells it: what was refused at the
  // older revision must be planned again.
  held.onRevision = () => {
    held.release()
  }
  const r = await put(a, 'k', 'v', { kind: 'acquire', session: id })
  assert.equal(r.ok, true)
  assert.equal(a.state.kv.entry('k')?.session, id)
})

test('a session renewed through a server whose view is behind: one created through another is renewed, one destroyed there is not', async (t) => {
  const { a, b, held } = await pair(t)
  held.hold()
  const created = await session(b)
  const renewed = track(a.sessionRenew(created))
  await settleEventLoop()
  held.release()
  assert.equal((await renewed.promise)?.id, created, 'created through the other server')
  await settleEventLoop()
  held.hold()
  await b.sessionDestroy(created)
  assert.ok(a.state.kv.session(created) !== undefined, 'the held view still shows it')
  const again = track(a.sessionRenew(created))
  await settleEventLoop()
  held.release()
  assert.equal(await again.promise, null, 'destroyed through the other server')
})

test('a failed transaction through a server whose view is behind names the index it would have had at the store', async (t) => {
  const { a, b, held } = await pair(t)
  held.hold()
  await put(b, 'other', 'x')
  const r = await a.txn([kvOp('set', 'k'), kvOp('check-index', 'k', { index: 0 })])
  assert.ok(!r.ok)
  const next = b.revision + 1
  assert.deepEqual(
    r.errors.map((e) => e.what),
    [`failed index check for key "k", current modify index ${next} != 0`],
  )
})

test('a session destroyed through a server that does not see it yet has its TTL lease revoked', async (t) => {
  const { a, b, held, store } = await pair(t)
  held.hold()
  const id = await session(b, { ttl: '10s' })
  const lease = b.state.kv.ttlLease(id)
  assert.ok(typeof lease === 'string')
  const destroyed = track(a.sessionDestroy(id))
  await settleEventLoop()
  held.release()
  await destroyed.promise
  assert.equal(b.state.kv.session(id), undefined)
  assert.equal(await store.keepAlive(lease), false, 'the lease went with the session')
})
