/**
 * The store port's conformance suite (src/store/store.ts): every store runs it through a small
 * harness. Tests assert the contract only, never an implementation's internals.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  LeaseNotFoundError,
  StoreClosedError,
  StoreCompactedError,
  type Compare,
  type KeyValue,
  type Op,
  type Revision,
  type Store,
  type TxnResult,
  type WatchBatch,
} from '../../src/store/store.js'

export interface StoreHarness {
  readonly store: Store
  /** Moves the store's clock forward (a fake clock), or waits that long (a real one). */
  readonly advance: (ms: number) => Promise<void>
  /** Closes the store and opens a new one on the same data; absent for a store without data. */
  readonly reopen?: () => Promise<Store>
  /** Closes whatever is open and removes the data. */
  readonly cleanup: () => Promise<void>
}

export interface HarnessOptions {
  /** Ask for a store that keeps at most this many revisions of history for watches. */
  readonly historyRevisions?: number
}

export interface ConformanceOptions {
  /** A lease TTL the store honours exactly enough for the tests (default 1,000 ms). */
  readonly leaseTtlMs?: number
  /** True when the store honours `historyRevisions` (compaction tests run only then). */
  readonly boundedHistory?: boolean
}

const put = (key: string, value: string, lease?: string): Op =>
  lease === undefined ? { type: 'put', key, value } : { type: 'put', key, value, lease }
const del = (key: string): Op => ({ type: 'delete', key })

/** Polls `fn` until it returns a value that is not undefined (bounded: 10 s of real time). */
export async function eventually<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** Collects a watch's batches; `until` resolves once a batch at or past `rev` arrived. */
class Collector {
  readonly batches: WatchBatch[] = []
  cancelled: Error | undefined

  readonly handlers = {
    onBatch: (b: WatchBatch): void => void this.batches.push(b),
    onCancel: (e: Error): void => {
      this.cancelled = e
    },
  }

  get last(): Revision {
    return this.batches.at(-1)?.revision ?? 0
  }

  until(rev: Revision): Promise<void> {
    return eventually(
      () => Promise.resolve(this.last >= rev || this.cancelled !== undefined ? true : undefined),
      `watch to reach ${rev}`,
    ).then(() => undefined)
  }
}

function values(kvs: readonly KeyValue[]): Record<string, string> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, kv.value]))
}

export function storeConformance(
  name: string,
  open: (opts: HarnessOptions) => Promise<StoreHarness>,
  options: ConformanceOptions = {},
): void {
  const ttl = options.leaseTtlMs ?? 1000

  async function withStore(fn: (h: StoreHarness) => Promise<void>, opts: HarnessOptions = {}): Promise<void> {
    const h = await open(opts)
    try {
      await fn(h)
    } finally {
      await h.cleanup()
    }
  }

  describe(`store conformance: ${name}`, () => {
    test('revision starts at 1 or more and moves by one per effective txn', () =>
      withStore(async ({ store }) => {
        const r0 = await store.revision()
        assert.ok(r0 >= 1)
        const results: TxnResult[] = []
        for (let i = 0; i < 5; i++)
          results.push(await store.txn({ compare: [], success: [put(`k${i}`, 'v')] }))
        assert.deepEqual(
          results.map((r) => r.revision),
          [1, 2, 3, 4, 5].map((d) => r0 + d),
        )
        assert.ok(results.every((r) => r.succeeded))
        assert.equal(await store.revision(), r0 + 5)
        assert.equal((await store.range('')).revision, r0 + 5)
      }))

    test('a txn that changes nothing keeps the revision', () =>
      withStore(async ({ store }) => {
        await store.txn({ compare: [], success: [put('a', '1')] })
        const r = await store.revision()
        for (const success of [
          [],
          [del('missing')],
          [{ type: 'deletePrefix', prefix: 'nothing/' } as const],
        ]) {
          assert.deepEqual(await store.txn({ compare: [], success }), { succeeded: true, revision: r })
        }
        const failed = await store.txn({
          compare: [{ key: 'a', target: 'value', op: '=', value: 'other' }],
          success: [put('a', '2')],
        })
        assert.deepEqual(failed, { succeeded: false, revision: r })
        assert.equal(await store.revision(), r)
      }))

    test('every op of a txn shares one revision; a put of the same value is still a change', () =>
      withStore(async ({ store }) => {
        await store.txn({ compare: [], success: [put('x/c', 'old'), put('x/d', 'same')] })
        const r = await store.txn({
          compare: [],
          success: [put('x/a', '1'), put('x/b', '2'), del('x/c'), put('x/d', 'same')],
        })
        const { kvs } = await store.range('x/')
        assert.deepEqual(
          kvs.map((kv) => [kv.key, kv.createRevision, kv.modRevision, kv.version]),
          [
            ['x/a', r.revision, r.revision, 1],
            ['x/b', r.revision, r.revision, 1],
            ['x/d', r.revision - 1, r.revision, 2],
          ],
        )
        assert.ok(kvs.every((kv) => kv.lease === null))
      }))

    test('compares on every target and op, including absent keys', () =>
      withStore(async ({ store }) => {
        const first = await store.txn({ compare: [], success: [put('k', 'v1')] })
        const second = await store.txn({ compare: [], success: [put('k', 'v2')] })
        const c = first.revision
        const m = second.revision
        const holds = async (compare: Compare): Promise<boolean> => {
          const before = await store.revision()
          const res = await store.txn({ compare: [compare], success: [] })
          assert.equal(res.revision, before)
          return res.succeeded
        }
        const table: [Compare, boolean][] = [
          [{ key: 'k', target: 'version', op: '=', value: 2 }, true],
          [{ key: 'k', target: 'version', op: '!=', value: 2 }, false],
          [{ key: 'k', target: 'version', op: '<', value: 3 }, true],
          [{ key: 'k', target: 'version', op: '<', value: 2 }, false],
          [{ key: 'k', target: 'version', op: '>', value: 1 }, true],
          [{ key: 'k', target: 'version', op: '>', value: 2 }, false],
          [{ key: 'k', target: 'createRevision', op: '=', value: c }, true],
          [{ key: 'k', target: 'createRevision', op: '!=', value: c }, false],
          [{ key: 'k', target: 'createRevision', op: '<', value: m }, true],
          [{ key: 'k', target: 'createRevision', op: '>', value: c }, false],
          [{ key: 'k', target: 'modRevision', op: '=', value: m }, true],
          [{ key: 'k', target: 'modRevision', op: '!=', value: c }, true],
          [{ key: 'k', target: 'modRevision', op: '<', value: m }, false],
          [{ key: 'k', target: 'modRevision', op: '>', value: c }, true],
          [{ key: 'k', target: 'value', op: '=', value: 'v2' }, true],
          [{ key: 'k', target: 'value', op: '=', value: 'v1' }, false],
          [{ key: 'k', target: 'value', op: '!=', value: 'v1' }, true],
          [{ key: 'k', target: 'value', op: '!=', value: 'v2' }, false],
          [{ key: 'k', target: 'lease', op: '=', value: null }, true],
          [{ key: 'k', target: 'lease', op: '!=', value: null }, false],
          // An absent key: revisions and version 0, lease null, no value.
          [{ key: 'absent', target: 'version', op: '=', value: 0 }, true],
          [{ key: 'absent', target: 'version', op: '>', value: 0 }, false],
          [{ key: 'absent', target: 'createRevision', op: '=', value: 0 }, true],
          [{ key: 'absent', target: 'modRevision', op: '<', value: 1 }, true],
          [{ key: 'absent', target: 'modRevision', op: '!=', value: 0 }, false],
          [{ key: 'absent', target: 'value', op: '=', value: '' }, false],
          [{ key: 'absent', target: 'value', op: '!=', value: '' }, false],
          [{ key: 'absent', target: 'lease', op: '=', value: null }, true],
        ]
        for (const [compare, expected] of table) {
          assert.equal(await holds(compare), expected, JSON.stringify(compare))
        }
        // All compares must hold.
        const both = await store.txn({
          compare: [
            { key: 'k', target: 'version', op: '=', value: 2 },
            { key: 'absent', target: 'version', op: '!=', value: 0 },
          ],
          success: [put('k', 'v3')],
        })
        assert.equal(both.succeeded, false)
      }))

    test('failure ops run when a compare fails, and commit like success ops', () =>
      withStore(async ({ store }) => {
        await store.txn({ compare: [], success: [put('lock', 'held')] })
        const before = await store.revision()
        const res = await store.txn({
          compare: [{ key: 'lock', target: 'version', op: '=', value: 0 }],
          success: [put('lock', 'mine')],
          failure: [put('lost', 'yes'), del('lock')],
        })
        assert.deepEqual(res, { succeeded: false, revision: before + 1 })
        assert.deepEqual(values((await store.range('')).kvs), { lost: 'yes' })
      }))

    test('deletePrefix deletes exactly the keys under the prefix, in one revision', () =>
      withStore(async ({ store }) => {
        await store.txn({
          compare: [],
          success: [put('svc/a', '1'), put('svc/b', '2'), put('svc', '3'), put('svd/a', '4'), put('sv', '5')],
        })
        const w = new Collector()
        const from = (await store.revision()) + 1
        const watch = store.watch('', from, w.handlers)
        const res = await store.txn({ compare: [], success: [{ type: 'deletePrefix', prefix: 'svc/' }] })
        await w.until(res.revision)
        await watch.close()
        assert.deepEqual(values((await store.range('')).kvs), { svc: '3', 'svd/a': '4', sv: '5' })
        assert.equal(w.batches.length, 1)
        assert.deepEqual(
          w.batches[0]!.events.map((e) => [e.type, e.kv.key, e.kv.value, e.kv.modRevision]).sort(),
          [
            ['delete', 'svc/a', '1', res.revision],
            ['delete', 'svc/b', '2', res.revision],
          ],
        )
      }))

    test('range returns the keys under a prefix sorted by code unit', () =>
      withStore(async ({ store }) => {
        const keys = ['p/b', 'p/a', 'p/B', 'p/\u00e9', 'p/a/b', 'p/', 'q/a', 'o/z']
        await store.txn({ compare: [], success: keys.map((k) => put(k, k)) })
        const { kvs, revision } = await store.range('p/')
        assert.equal(revision, await store.revision())
        assert.deepEqual(
          kvs.map((kv) => kv.key),
          ['p/', 'p/B', 'p/a', 'p/a/b', 'p/b', 'p/\u00e9'],
        )
        assert.deepEqual((await store.range('nothing')).kvs, [])
      }))

    test('a range is read at one revision while txns commit', () =>
      withStore(async ({ store }) => {
        // Each txn rewrites both keys; a range must never see them from different txns.
        await store.txn({ compare: [], success: [put('pair/a', '0'), put('pair/b', '0')] })
        const writes = Array.from({ length: 60 }, (_, i) =>
          store.txn({ compare: [], success: [put('pair/a', `${i + 1}`), put('pair/b', `${i + 1}`)] }),
        )
        const reads = Array.from({ length: 30 }, () => store.range('pair/'))
        const results = await Promise.all(reads)
        await Promise.all(writes)
        for (const r of results) {
          const [a, b] = r.kvs
          assert.equal(a?.value, b?.value)
          assert.equal(a?.modRevision, b?.modRevision)
          assert.ok((a?.modRevision ?? Infinity) <= r.revision)
        }
      }))

    test('a watch from a past revision replays every revision in order, one batch each', () =>
      withStore(async ({ store }) => {
        const start = (await store.revision()) + 1
        const committed: TxnResult[] = []
        for (let i = 0; i < 20; i++) {
          committed.push(
            await store.txn({
              compare: [],
              success:
                i % 3 === 2 ? [del(`w/${i - 1}`)] : [put(`w/${i}`, `v${i}`), put(`w/${i}-twin`, `t${i}`)],
            }),
          )
        }
        const w = new Collector()
        const watch = store.watch('w/', start, w.handlers)
        const later = await store.txn({ compare: [], success: [put('w/later', 'x')] })
        await w.until(later.revision)
        await watch.close()
        assert.equal(w.cancelled, undefined)
        assert.deepEqual(
          w.batches.map((b) => b.revision),
          [...committed.map((c) => c.revision), later.revision],
        )
        for (const [i, b] of w.batches.slice(0, 20).entries()) {
          if (i % 3 === 2) {
            assert.deepEqual(
              b.events.map((e) => [e.type, e.kv.key, e.kv.value, e.kv.modRevision]),
              [['delete', `w/${i - 1}`, `v${i - 1}`, b.revision]],
            )
          } else {
            assert.deepEqual(
              b.events.map((e) => [e.type, e.kv.key, e.kv.modRevision]),
              [
                ['put', `w/${i}`, b.revision],
                ['put', `w/${i}-twin`, b.revision],
              ],
            )
          }
        }
      }))

    test('a watch started before writes sees each of them, filtered by prefix', () =>
      withStore(async ({ store }) => {
        const w = new Collector()
        const watch = store.watch('a/', (await store.revision()) + 1, w.handlers)
        const r1 = await store.txn({ compare: [], success: [put('a/1', 'x'), put('b/1', 'y')] })
        await store.txn({ compare: [], success: [put('b/2', 'y')] })
        const r3 = await store.txn({ compare: [], success: [del('a/1')] })
        await w.until(r3.revision)
        assert.deepEqual(
          w.batches.map((b) => [b.revision, b.events.map((e) => `${e.type} ${e.kv.key}`)]),
          [
            [r1.revision, ['put a/1']],
            [r3.revision, ['delete a/1']],
          ],
        )
        await watch.close()
        await store.txn({ compare: [], success: [put('a/2', 'z')] })
        const r5 = await store.txn({ compare: [], success: [put('a/3', 'z')] })
        const after = new Collector()
        const probe = store.watch('a/', r5.revision, after.handlers)
        await after.until(r5.revision)
        await probe.close()
        assert.equal(w.last, r3.revision, 'a closed watch delivers nothing more')
      }))

    test('a watch from a future revision starts there', () =>
      withStore(async ({ store }) => {
        const from = (await store.revision()) + 3
        const w = new Collector()
        const watch = store.watch('', from, w.handlers)
        let last = 0
        for (let i = 0; i < 5; i++)
          last = (await store.txn({ compare: [], success: [put('fut', `${i}`)] })).revision
        await w.until(last)
        await watch.close()
        assert.deepEqual(
          w.batches.map((b) => b.revision),
          [from, from + 1, from + 2],
        )
      }))

    test('concurrent writers: a watch from the start sees a gapless sequence equal to the final range', () =>
      withStore(async ({ store }) => {
        const w = new Collector()
        const from = (await store.revision()) + 1
        const watch = store.watch('', from, w.handlers)
        const results = await Promise.all(
          Array.from({ length: 64 }, (_, i) =>
            store.txn({ compare: [], success: [put(`c/${i % 16}`, `${i}`), put(`d/${i}`, 'x')] }),
          ),
        )
        const last = Math.max(...results.map((r) => r.revision))
        await w.until(last)
        await watch.close()
        assert.deepEqual(
          w.batches.map((b) => b.revision),
          Array.from({ length: 64 }, (_, i) => from + i),
        )
        const replayed = new Map<string, string>()
        for (const b of w.batches) {
          for (const e of b.events) {
            if (e.type === 'put') replayed.set(e.kv.key, e.kv.value)
            else replayed.delete(e.kv.key)
          }
        }
        const { kvs, revision } = await store.range('')
        assert.equal(revision, last)
        assert.deepEqual(Object.fromEntries([...replayed].sort()), values(kvs))
      }))

    if (options.boundedHistory === true) {
      test('a watch from a compacted revision is cancelled with a compaction error', () =>
        withStore(
          async ({ store }) => {
            const first = await store.txn({ compare: [], success: [put('h', '0')] })
            for (let i = 1; i < 40; i++) await store.txn({ compare: [], success: [put('h', `${i}`)] })
            const w = new Collector()
            store.watch('', first.revision, w.handlers)
            await eventually(() => Promise.resolve(w.cancelled), 'the watch to be cancelled')
            assert.ok(w.cancelled instanceof StoreCompactedError)
            assert.equal(w.batches.length, 0)
            // A watch from a retained revision still works.
            const ok = new Collector()
            const now = await store.revision()
            const watch = store.watch('', now, ok.handlers)
            await ok.until(now)
            await watch.close()
            assert.equal(ok.cancelled, undefined)
          },
          { historyRevisions: 8 },
        ))
    }

    test('keys on an expired lease are deleted together in one revision', () =>
      withStore(async ({ store, advance }) => {
        const lease = await store.grantLease(ttl)
        const other = await store.grantLease(ttl * 100)
        await store.txn({
          compare: [],
          success: [put('l/a', '1', lease), put('l/b', '2', lease), put('l/c', '3', other), put('l/d', '4')],
        })
        const held = await store.txn({
          compare: [{ key: 'l/a', target: 'lease', op: '=', value: lease }],
          success: [],
        })
        assert.equal(held.succeeded, true)
        const w = new Collector()
        const watch = store.watch('l/', (await store.revision()) + 1, w.handlers)
        await advance(ttl * 0.5)
        assert.equal(await store.keepAlive(lease), true)
        await advance(ttl * 0.7)
        assert.deepEqual(Object.keys(values((await store.range('l/')).kvs)), ['l/a', 'l/b', 'l/c', 'l/d'])
        await advance(ttl * 0.5)
        await eventually(
          async () => ((await store.range('l/a')).kvs.length === 0 ? true : undefined),
          'expiry',
        )
        await w.until(1)
        await watch.close()
        assert.deepEqual(Object.keys(values((await store.range('l/')).kvs)), ['l/c', 'l/d'])
        assert.equal(w.batches.length, 1)
        assert.deepEqual(w.batches[0]!.events.map((e) => `${e.type} ${e.kv.key}`).sort(), [
          'delete l/a',
          'delete l/b',
        ])
        assert.equal(await store.keepAlive(lease), false)
        assert.equal(await store.keepAlive(other), true)
        await assert.rejects(
          store.txn({ compare: [], success: [put('l/e', '5', lease)] }),
          (err) => err instanceof LeaseNotFoundError,
        )
        assert.equal((await store.range('l/e')).kvs.length, 0)
      }))

    test('revoke deletes the lease and its keys in one revision; a key moved to another lease stays', () =>
      withStore(async ({ store }) => {
        const a = await store.grantLease(ttl * 100)
        const b = await store.grantLease(ttl * 100)
        await store.txn({
          compare: [],
          success: [put('r/1', 'x', a), put('r/2', 'y', a), put('r/3', 'z', a)],
        })
        await store.txn({ compare: [], success: [put('r/3', 'z', b)] })
        const before = await store.revision()
        await store.revokeLease(a)
        assert.equal(await store.revision(), before + 1)
        const { kvs } = await store.range('r/')
        assert.deepEqual(
          kvs.map((kv) => [kv.key, kv.lease]),
          [['r/3', b]],
        )
        assert.equal(await store.keepAlive(a), false)
        await store.revokeLease(a)
        assert.equal(await store.revision(), before + 1, 'revoking a gone lease is a no-op')
        const empty = await store.grantLease(ttl * 100)
        await store.revokeLease(empty)
        assert.equal(await store.revision(), before + 1, 'revoking a lease without keys moves nothing')
        await store.txn({ compare: [], success: [put('r/3', 'plain')] })
        await store.revokeLease(b)
        assert.deepEqual(values((await store.range('r/')).kvs), { 'r/3': 'plain' })
      }))

    test('close waits for in-flight txns, then refuses new work', () =>
      withStore(async (h) => {
        const settled: boolean[] = []
        const writes = Array.from({ length: 50 }, (_, i) =>
          h.store.txn({ compare: [], success: [put(`f/${i}`, 'v')] }).then(
            (r) => {
              settled[i] = true
              return r
            },
            (err: unknown) => {
              settled[i] = true
              throw err
            },
          ),
        )
        await h.store.close()
        assert.equal(settled.filter(Boolean).length, 50)
        const results = await Promise.all(writes)
        await h.store.close()
        await assert.rejects(h.store.txn({ compare: [], success: [put('late', 'v')] }), StoreClosedError)
        if (h.reopen !== undefined) {
          const again = await h.reopen()
          const { kvs, revision } = await again.range('f/')
          assert.equal(kvs.length, 50)
          assert.ok(revision >= Math.max(...results.map((r) => r.revision)))
          const next = await again.txn({ compare: [], success: [put('after', 'v')] })
          assert.ok(next.revision > revision, 'revisions are not reused after a reopen')
        }
      }))
  })
}
