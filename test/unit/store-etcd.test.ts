import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { EtcdStoreOpenError, openEtcdStore, type EtcdStore } from '../../src/store/etcd.js'
import {
  StoreCompactedError,
  TxnTooLargeError,
  type Op,
  type Revision,
  type Store,
  type WatchBatch,
} from '../../src/store/store.js'
import { closedTcpPort } from '../support/sockets.js'
import { startEtcd, type EtcdMember } from '../support/etcd.js'
import { waitFor } from '../support/wait.js'
import { storeConformance } from '../store/conformance.js'

const PREFIX = '/vigil-test/'

let etcd: EtcdMember

before(async () => {
  etcd = await startEtcd()
})

after(async () => {
  await etcd.stop()
})

async function wipe(): Promise<void> {
  await etcd.client.delete().all()
}

function open(extra: { minRevision?: number } = {}): Promise<EtcdStore> {
  return openEtcdStore({ endpoints: [etcd.endpoint], prefix: PREFIX, ...extra })
}

// The suite is declared here so the test runner counts it against this file, not conformance.ts.
describe('etcd store', () => {
  storeConformance(
    'etcd',
    async () => {
      await wipe()
      let store: Store = await open()
      return {
        store,
        advance: (ms) => new Promise((r) => setTimeout(r, ms)),
        reopen: async () => {
          await store.close()
          store = await open()
          return store
        },
        cleanup: () => store.close(),
      }
    },
    { leaseTtlMs: 3000 },
  )
})

/** A view kept by a watch: batches applied in order, checked for gaps. */
class View {
  readonly values = new Map<string, string>()
  readonly revisions: Revision[] = []
  cancelled: Error | undefined
  constructor(public revision: Revision) {}

  readonly handlers = {
    onBatch: (b: WatchBatch): void => {
      this.revisions.push(b.revision)
      this.revision = b.revision
      for (const e of b.events) {
        if (e.type === 'put') this.values.set(e.kv.key, e.kv.value)
        else this.values.delete(e.kv.key)
      }
    },
    onCancel: (err: Error): void => {
      this.cancelled = err
    },
  }

  static async load(store: Store, prefix: string): Promise<View> {
    const { kvs, revision } = await store.range(prefix)
    const v = new View(revision)
    for (const kv of kvs) v.values.set(kv.key, kv.value)
    return v
  }

  sorted(): Record<string, string> {
    return Object.fromEntries([...this.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
}

function record(kvs: readonly { key: string; value: string }[]): Record<string, string> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, kv.value]))
}

const put = (key: string, value: string): Op => ({ type: 'put', key, value })

describe('etcd store pitfalls (spec/servers.md §7)', () => {
  test('1: writes between the initial range and the watch are not lost', async (t) => {
    await wipe()
    const store = await open()
    t.after(() => store.close())
    await store.txn({ compare: [], success: [put('p1/a', '0')] })
    const view = await View.load(store, 'p1/')
    let last = 0
    for (let i = 0; i < 20; i++) {
      last = (await store.txn({ compare: [], success: [put(`p1/k${i % 7}`, `${i}`)] })).revision
    }
    const watch = store.watch('p1/', view.revision + 1, view.handlers)
    t.after(() => watch.close())
    await waitFor(() => view.revision >= last, { what: 'the view to catch up', timeoutMs: 10_000 })
    const { kvs, revision } = await store.range('p1/')
    assert.equal(revision, last)
    assert.deepEqual(view.sorted(), record(kvs))
    assert.equal(view.revisions.length, 20)
  })

  test('2: a connection lost during a catch-up of > 1,000 revisions leaves no gap', async (t) => {
    await wipe()
    const store = await open()
    t.after(() => store.close())
    const start = await store.revision()
    const total = 5_000
    let next = 0
    const writer = async (): Promise<void> => {
      while (next < total) {
        const i = next++
        await store.txn({ compare: [], success: [put(`p2/k${i % 300}`, `${i}`)] })
      }
    }
    await Promise.all(Array.from({ length: 64 }, writer))
    const end = await store.revision()
    assert.equal(end - start, total)
    const view = new View(start)
    let killed: Promise<void> | undefined
    let deliveredAtKill = -1
    const watch = store.watch('p2/', start + 1, {
      onBatch: (b) => {
        view.handlers.onBatch(b)
        killed ??= etcd.kill().then(async () => {
          deliveredAtKill = view.revisions.length
          await etcd.restart()
        })
      },
      onCancel: view.handlers.onCancel,
    })
    t.after(() => watch.close())
    await waitFor(() => view.revision >= end || view.cancelled !== undefined, {
      what: 'the watch to catch up',
      timeoutMs: 60_000,
    })
    await killed
    t.diagnostic(`${deliveredAtKill} of ${total} revisions delivered when etcd was killed`)
    assert.equal(view.cancelled, undefined)
    assert.ok(deliveredAtKill < total, 'the connection broke during the catch-up')
    assert.deepEqual(
      view.revisions,
      Array.from({ length: total }, (_, i) => start + 1 + i),
      'every revision once, in order',
    )
    const { kvs, revision } = await store.range('p2/')
    assert.equal(revision, end)
    assert.deepEqual(view.sorted(), record(kvs))
  })

  test('2: a watch from a compacted revision is cancelled; a range then resyncs', async (t) => {
    await wipe()
    const store = await open()
    t.after(() => store.close())
    const first = await store.txn({ compare: [], success: [put('p3/a', '0')] })
    for (let i = 1; i < 10; i++) await store.txn({ compare: [], success: [put('p3/a', `${i}`)] })
    const raw = await etcd.client.get('p3/a').exec()
    await etcd.client.kv.compact({ revision: raw.header.revision, physical: true })
    const view = new View(first.revision - 1)
    store.watch('p3/', first.revision, view.handlers)
    await waitFor(() => view.cancelled !== undefined, { what: 'the cancel' })
    assert.ok(view.cancelled instanceof StoreCompactedError, String(view.cancelled))
    assert.equal(view.revisions.length, 0)
    const again = await View.load(store, 'p3/')
    const watch = store.watch('p3/', again.revision + 1, again.handlers)
    t.after(() => watch.close())
    const w = await store.txn({ compare: [], success: [put('p3/b', 'x')] })
    await waitFor(() => again.revision >= w.revision, { what: 'the resynced view' })
    assert.deepEqual(again.sorted(), { 'p3/a': '9', 'p3/b': 'x' })
  })

  test('5: the revision never goes backwards across a restart and an epoch offset', async () => {
    await wipe()
    const before = Number((await etcd.client.get('x').exec()).header.revision)
    const moved = await open({ minRevision: before + 100_000 })
    assert.equal(moved.indexOffset, 100_000)
    const r0 = await moved.revision()
    assert.ok(r0 > before + 100_000, `${r0}`)
    const w = await moved.txn({ compare: [], success: [put('p5/a', '1')] })
    assert.equal(w.revision, r0 + 1)
    const { kvs } = await moved.range('p5/')
    assert.equal(kvs[0]?.modRevision, w.revision)
    const cas = await moved.txn({
      compare: [{ key: 'p5/a', target: 'modRevision', op: '=', value: w.revision }],
      success: [put('p5/a', '2')],
    })
    assert.equal(cas.succeeded, true)
    // Revisions from before the move: no key has one.
    for (const [op, held] of [
      ['=', false],
      ['!=', true],
      ['<', false],
      ['>', true],
    ] as const) {
      const res = await moved.txn({
        compare: [{ key: 'p5/a', target: 'modRevision', op, value: 50 }],
        success: [],
      })
      assert.equal(res.succeeded, held, `modRevision ${op} 50`)
    }
    const absent = await moved.txn({
      compare: [{ key: 'p5/none', target: 'createRevision', op: '<', value: 50 }],
      success: [],
    })
    assert.equal(absent.succeeded, true)
    await moved.close()
    const reopened = await open()
    assert.equal(reopened.indexOffset, 100_000)
    assert.ok((await reopened.revision()) >= cas.revision)
    const after = await reopened.txn({ compare: [], success: [put('p5/b', '1')] })
    assert.ok(after.revision > cas.revision)
    await reopened.close()
    await assert.rejects(open({ minRevision: after.revision + 10 }), EtcdStoreOpenError)
  })

  test("6: a txn past etcd's op limit is refused whole; ops on one key are folded", async (t) => {
    await wipe()
    const store = await open()
    t.after(() => store.close())
    assert.equal(store.maxTxnOps, 128)
    const keys = Array.from({ length: 128 }, (_, i) => `p6/kv/k${i}`)
    await store.txn({ compare: [], success: keys.map((k) => put(k, 'v')) })
    const before = await store.revision()
    const deletes: Op[] = keys.flatMap((k) => [
      { type: 'delete', key: k },
      put(k.replace('/kv/', '/tomb/'), '{}'),
    ])
    await assert.rejects(store.txn({ compare: [], success: deletes }), (err: unknown) => {
      assert.ok(err instanceof TxnTooLargeError, String(err))
      assert.match(err.message, /--max-txn-ops/)
      return true
    })
    assert.equal(await store.revision(), before, 'nothing committed')
    // Several ops on one key, and puts after a deleted prefix.
    await store.txn({ compare: [], success: [put('p6/x/a', '1'), put('p6/x/b', '1'), put('p6/x/c', '1')] })
    const folded = await store.txn({
      compare: [],
      success: [
        put('p6/a', '1'),
        put('p6/a', '2'),
        { type: 'delete', key: 'p6/kv/k0' },
        put('p6/kv/k0', 'again'),
        put('p6/gone', 'x'),
        { type: 'delete', key: 'p6/gone' },
        { type: 'deletePrefix', prefix: 'p6/x/' },
        put('p6/x/b', '2'),
      ],
    })
    assert.equal(folded.revision, before + 2)
    const { kvs } = await store.range('p6/')
    const got = record(kvs)
    assert.equal(got['p6/a'], '2')
    assert.equal(got['p6/kv/k0'], 'again')
    assert.equal(got['p6/gone'], undefined)
    assert.equal(got['p6/x/a'], undefined)
    assert.equal(got['p6/x/b'], '2')
    assert.equal(got['p6/x/c'], undefined)
  })

  test('6: with a higher --max-txn-ops the probe finds it and the large txn commits', async (t) => {
    const big = await startEtcd(['--max-txn-ops=1024'])
    t.after(() => big.stop())
    const store = await openEtcdStore({ endpoints: [big.endpoint], prefix: PREFIX })
    t.after(() => store.close())
    assert.equal(store.maxTxnOps, 1024)
    const ops: Op[] = Array.from({ length: 300 }, (_, i) => put(`k${i}`, 'v'))
    const r = await store.txn({ compare: [], success: ops })
    assert.equal((await store.range('k')).kvs.length, 300)
    assert.equal(r.revision, await store.revision())
  })

  test('a revision too large for one watch response arrives as one batch', async (t) => {
    await wipe()
    const store = await open()
    t.after(() => store.close())
    const big = 'x'.repeat(20_000)
    const keys = Array.from({ length: 60 }, (_, i) => `f/${i}`)
    await store.txn({ compare: [], success: keys.map((k) => put(k, big)) })
    const view = await View.load(store, 'f/')
    const watch = store.watch('f/', view.revision + 1, view.handlers)
    t.after(() => watch.close())
    // 60 new values and their previous ones: ~2.4 MB, past etcd's 1.5 MiB response fragments.
    const w = await store.txn({ compare: [], success: keys.map((k) => put(k, big.replace('x', 'y'))) })
    await waitFor(() => view.revision >= w.revision || view.cancelled !== undefined, { what: 'the batch' })
    assert.equal(view.cancelled, undefined)
    assert.deepEqual(view.revisions, [w.revision])
    assert.ok([...view.values.values()].every((v) => v.startsWith('y')))
  })

  test('range re-sorts etcd byte order into code-unit order', async (t) => {
    await wipe()
    const store = await open()
    t.after(() => store.close())
    // U+FF5E sorts before U+1F600 by UTF-8 bytes, after its surrogate pair by UTF-16 code unit.
    const keys = ['s/\uff5e', 's/\u{1f600}', 's/a']
    await store.txn({ compare: [], success: keys.map((k) => put(k, k)) })
    assert.deepEqual(
      (await store.range('s/')).kvs.map((kv) => kv.key),
      ['s/a', 's/\u{1f600}', 's/\uff5e'],
    )
  })

  test('TLS: the CA file verifies etcd; without it, or with an unreadable one, the open fails clearly', async (t) => {
    const fixtures = fileURLToPath(new URL('../../../test/fixtures/tls/', import.meta.url))
    const certFile = join(fixtures, 'server-cert.pem')
    const secure = await startEtcd([], { certFile, keyFile: join(fixtures, 'server-key.pem') })
    t.after(() => secure.stop())
    assert.match(secure.endpoint, /^https:/)
    const store = await openEtcdStore({ endpoints: [secure.endpoint], prefix: PREFIX, caFile: certFile })
    t.after(() => store.close())
    const r = await store.txn({ compare: [], success: [put('tls/a', '1')] })
    assert.equal((await store.range('tls/')).revision, r.revision)
    await assert.rejects(
      openEtcdStore({ endpoints: [secure.endpoint], prefix: PREFIX, requestTimeoutMs: 3000 }),
      (err: unknown) =>
        err instanceof EtcdStoreOpenError && err.message.startsWith('Cannot reach etcd at https://'),
    )
    await assert.rejects(
      openEtcdStore({ endpoints: [secure.endpoint], prefix: PREFIX, caFile: join(fixtures, 'missing.pem') }),
      /Cannot read the etcd CA file/,
    )
  })

  test('an unreachable etcd is a clear error at open', async () => {
    const port = await closedTcpPort()
    await assert.rejects(
      openEtcdStore({ endpoints: [`http://127.0.0.1:${port}`], prefix: PREFIX, requestTimeoutMs: 3000 }),
      (err: unknown) => {
        assert.ok(err instanceof EtcdStoreOpenError, String(err))
        assert.match(err.message, /^Cannot reach etcd at http:\/\/127\.0\.0\.1:\d+: /)
        return true
      },
    )
  })
})
