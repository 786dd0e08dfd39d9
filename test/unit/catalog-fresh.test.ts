/**
 * A fresh read (the default and `consistent` modes) is bounded: when the store does not tell its
 * revision within the bound, `Catalog.fresh` rejects with StoreUnavailableError (the API answers
 * `No cluster leader`), each waiting read at its own deadline; once the store answers again, so
 * does `fresh`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Catalog } from '../../src/catalog/catalog.js'
import { MemoryStore } from '../../src/store/memory.js'
import { StoreUnavailableError, type Store } from '../../src/store/store.js'
import { PREFIX } from '../support/catalog.js'
import { FakeClock } from '../support/fake-clock.js'
import { track } from '../support/wait.js'

test('fresh rejects with StoreUnavailableError when the store does not tell its revision within the bound; each read at its own deadline', async (t) => {
  const clock = new FakeClock()
  const store = new MemoryStore({ clock })
  let frozen = false
  /** Revision reads sent while frozen fail when the store thaws (as an etcd call at its deadline). */
  const held: (() => void)[] = []
  const thaw = (): void => {
    frozen = false
    for (const fail of held.splice(0)) fail()
  }
  const frozenStore: Store = {
    revision: () =>
      frozen
        ? new Promise((_, reject) => held.push(() => reject(new StoreUnavailableError('deadline exceeded'))))
        : store.revision(),
    range: (prefix) => store.range(prefix),
    txn: (req) => store.txn(req),
    watch: (prefix, from, handlers) => store.watch(prefix, from, handlers),
    grantLease: (ttlMs) => store.grantLease(ttlMs),
    keepAlive: (lease) => store.keepAlive(lease),
    revokeLease: (lease) => store.revokeLease(lease),
    close: () => store.close(),
  }
  const catalog = await Catalog.open({ store: frozenStore, prefix: PREFIX, datacenter: 'dc1', clock })
  t.after(async () => {
    await catalog.close()
    await store.close()
  })
  await catalog.fresh(7_000)

  frozen = true
  const first = track(catalog.fresh(7_000))
  await clock.advance(3_000)
  const second = track(catalog.fresh(7_000))
  const short = track(catalog.fresh(1_000))
  await clock.advance(999)
  assert.equal(short.settled(), false)
  await clock.advance(1)
  await assert.rejects(short.promise, StoreUnavailableError, 'the shorter bound first')
  await clock.advance(2_999)
  assert.equal(first.settled(), false, 'not before its 7 s')
  await clock.advance(1)
  await assert.rejects(first.promise, StoreUnavailableError)
  assert.equal(second.settled(), false, 'the later read has its own deadline')
  await clock.advance(3_000)
  await assert.rejects(second.promise, /the store did not tell its revision within 7000 ms/)

  thaw()
  await catalog.fresh(7_000)
})
