import assert from 'node:assert/strict'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { FakeClock } from '../support/fake-clock.js'
import { openEmbeddedStore, scanLog, StoreOpenError } from '../../src/store/embedded.js'
import { encodeFrame } from '../../src/store/frame.js'
import type { MemoryStore } from '../../src/store/memory.js'
import type { Op, Revision } from '../../src/store/store.js'
import { eventually } from '../store/conformance.js'
import { GatedStoreFs } from '../support/gated-store-fs.js'
import { PowerLossFs, type TornTail } from '../support/power-loss-fs.js'

const DIR = '/data'

interface Acked {
  readonly key: string
  readonly revision: Revision
  /** The key this txn deleted, if any. */
  readonly deleted?: string
}

/** A deterministic stream of numbers in [0, 1) from a seed (fast-check shrinks the seed). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
}

async function openOn(fs: PowerLossFs, clock: FakeClock): Promise<MemoryStore> {
  return openEmbeddedStore(DIR, { clock, fs, snapshotBytes: 700, preallocateBytes: 256 })
}

/**
 * Runs `writers` concurrent writers until `count` txns were issued or the power went out.
 * Txn i puts `<tag>/<i>` and every fourth one also deletes the key of txn i-2.
 */
async function writeUntilPowerLoss(
  store: MemoryStore,
  tag: string,
  count: number,
  writers: number,
  acked: Acked[],
  issuedDeletes: Set<string>,
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < count) {
        const i = next++
        const key = `${tag}/${i}`
        const ops: Op[] = [{ type: 'put', key, value: `v${i}` }]
        const deleted = i % 4 === 3 ? `${tag}/${i - 2}` : undefined
        if (deleted !== undefined) {
          ops.push({ type: 'delete', key: deleted })
          issuedDeletes.add(deleted)
        }
        try {
          const res = await store.txn({ compare: [], success: ops })
          acked.push(
            deleted === undefined
              ? { key, revision: res.revision }
              : { key, revision: res.revision, deleted },
          )
        } catch {
          return
        }
      }
    }),
  )
}

async function verify(
  store: MemoryStore,
  acked: readonly Acked[],
  issuedDeletes: ReadonlySet<string>,
): Promise<void> {
  const { kvs, revision } = await store.range('')
  const byKey = new Map(kvs.map((kv) => [kv.key, kv]))
  const maxAcked = Math.max(1, ...acked.map((a) => a.revision))
  assert.ok(revision >= maxAcked, `revision ${revision} < last acknowledged ${maxAcked}`)
  for (const a of acked) {
    if (a.deleted !== undefined)
      assert.equal(byKey.get(a.deleted), undefined, `${a.deleted} deleted at ${a.revision}`)
    if (issuedDeletes.has(a.key)) continue
    const kv = byKey.get(a.key)
    assert.ok(kv !== undefined, `acknowledged ${a.key} at revision ${a.revision} lost`)
    assert.equal(kv.modRevision, a.revision)
  }
}

test('power loss at any point: every acknowledged txn survives and no revision is reused', async () => {
  const tails: TornTail[] = ['none', 'prefix', 'zeros', 'garbage']
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.nat({ max: 160 }), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1, max: 16 }),
      fc.nat(),
      async (cuts, writers, seed) => {
        const random = rng(seed)
        const clock = new FakeClock()
        let fs = new PowerLossFs()
        const acked: Acked[] = []
        const issuedDeletes = new Set<string>()
        for (const [phase, cut] of cuts.entries()) {
          fs.cutPowerAfter(cut)
          let store: MemoryStore
          try {
            store = await openOn(fs, clock)
          } catch {
            // The power went out during recovery: boot again.
            fs = fs.reboot()
            store = await openOn(fs, clock)
            await verify(store, acked, issuedDeletes)
            fs.cutPowerAfter(cut)
          }
          await verify(store, acked, issuedDeletes)
          const before = Math.max(0, ...acked.map((a) => a.revision))
          const mine: Acked[] = []
          await writeUntilPowerLoss(store, `p${phase}`, 60, writers, mine, issuedDeletes)
          for (const a of mine)
            assert.ok(a.revision > before, `revision ${a.revision} reused after a power loss`)
          acked.push(...mine)
          fs.cutPowerAfter(0)
          fs = fs.reboot((_path, unsynced) => ({
            keep: Math.floor(random() * (unsynced + 1)),
            kind: tails[Math.floor(random() * tails.length)]!,
          }))
        }
        const store = await openOn(fs, clock)
        await verify(store, acked, issuedDeletes)
        const last = Math.max(0, ...acked.map((a) => a.revision))
        const after = await store.txn({ compare: [], success: [{ type: 'put', key: 'after', value: 'x' }] })
        assert.ok(after.revision > last)
        await store.close()
        const again = await openOn(fs, clock)
        await verify(again, acked, issuedDeletes)
        await again.close()
      },
    ),
    { numRuns: Number(process.env['VIGIL_STORE_RUNS'] ?? 300) },
  )
})

test('a second open of the same data dir in one process is refused', async () => {
  const fs = new PowerLossFs()
  const clock = new FakeClock()
  const store = await openOn(fs, clock)
  await assert.rejects(
    openOn(fs, clock),
    (err) => err instanceof StoreOpenError && /already open/.test(err.message),
  )
  await store.close()
  const again = await openOn(fs, clock)
  await again.close()
})

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-store-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function fill(dir: string, n: number): Promise<Revision[]> {
  const store = await openEmbeddedStore(dir, { clock: new FakeClock() })
  const revs: Revision[] = []
  for (let i = 0; i < n; i++) {
    revs.push(
      (await store.txn({ compare: [], success: [{ type: 'put', key: `k/${i}`, value: `v${i}` }] })).revision,
    )
  }
  await store.close()
  return revs
}

/** Where the next frame of `wal` goes. */
async function logEnd(wal: string): Promise<number> {
  return scanLog(await readFile(wal), wal).end
}

test('a torn tail is cut at the checksum and the store opens with everything before it', () =>
  withDir(async (dir) => {
    let last = (await fill(dir, 10)).at(-1)
    const wal = join(dir, 'wal-0')
    const frame = encodeFrame(JSON.stringify([{ r: 99, m: [{ k: 'k/torn', v: 'x' }] }]))
    const flipped = Buffer.from(frame)
    flipped[flipped.length - 2]! ^= 0x01
    for (const torn of [frame.subarray(0, 5), frame.subarray(0, frame.length - 3), flipped]) {
      const end = await logEnd(wal)
      const fh = await open(wal, 'r+')
      await fh.write(torn, 0, torn.length, end)
      await fh.close()
      const store = await openEmbeddedStore(dir, { clock: new FakeClock() })
      const after = await readFile(wal)
      assert.ok(
        after.subarray(end).every((b) => b === 0),
        'the torn write is zeroed',
      )
      const { kvs, revision } = await store.range('')
      assert.equal(kvs.length, 10)
      assert.equal(revision, last)
      const next = await store.txn({ compare: [], success: [{ type: 'put', key: 'k/next', value: 'x' }] })
      assert.equal(next.revision, revision + 1)
      last = (await store.txn({ compare: [], success: [{ type: 'delete', key: 'k/next' }] })).revision
      await store.close()
      const reopened = await openEmbeddedStore(dir, { clock: new FakeClock() })
      assert.equal((await reopened.range('')).kvs.length, 10)
      await reopened.close()
    }
  }))

test('corruption before the tail refuses to start with a clear message', () =>
  withDir(async (dir) => {
    await fill(dir, 10)
    const wal = join(dir, 'wal-0')
    const at = Math.floor((await logEnd(wal)) / 2)
    const buf = await readFile(wal)
    buf[at]! ^= 0x20
    await writeFile(wal, buf)
    await assert.rejects(
      openEmbeddedStore(dir, { clock: new FakeClock() }),
      (err) =>
        err instanceof StoreOpenError &&
        /Store log .*wal-0 is corrupt at byte \d+ of \d+ \(intact data follows at byte \d+\); refusing to start/.test(
          err.message,
        ),
    )
    // The refused open released its lock: repairing the file lets the store open.
    buf[at]! ^= 0x20
    await writeFile(wal, buf)
    const store = await openEmbeddedStore(dir, { clock: new FakeClock() })
    assert.equal((await store.range('k/')).kvs.length, 10)
    await store.close()
  }))

test('leases survive a reopen with their full TTL, then expire and delete their keys', () =>
  withDir(async (dir) => {
    const clock = new FakeClock()
    const first = await openEmbeddedStore(dir, { clock })
    const lease = await first.grantLease(10_000)
    await first.txn({ compare: [], success: [{ type: 'put', key: 'held', value: 'x', lease }] })
    await clock.advance(9_000)
    await first.close()
    const store = await openEmbeddedStore(dir, { clock })
    assert.equal(await store.keepAlive(lease), true)
    assert.equal((await store.range('held')).kvs[0]?.lease, lease)
    const other = await store.grantLease(10_000)
    assert.notEqual(other, lease, 'lease ids are not reused')
    await clock.advance(10_001)
    for (let i = 0; i < 1000 && (await store.range('held')).kvs.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 1))
    }
    assert.equal((await store.range('held')).kvs.length, 0)
    assert.equal(await store.keepAlive(lease), false)
    await store.close()
    const reopened = await openEmbeddedStore(dir, { clock })
    assert.equal(await reopened.keepAlive(lease), false, 'an expired lease stays gone')
    await reopened.close()
  }))

test('readers and watches see a txn only once it is durable', async () => {
  const held = new GatedStoreFs(new PowerLossFs(), (path) => path.includes('/wal-'))
  const store = await openEmbeddedStore(DIR, { clock: new FakeClock(), fs: held })
  const before = await store.revision()
  const batches: number[] = []
  const watch = store.watch('', before + 1, { onBatch: (b) => batches.push(b.revision), onCancel: () => {} })
  held.hold()
  let acked = false
  const write = store.txn({ compare: [], success: [{ type: 'put', key: 'k', value: 'v' }] }).then((r) => {
    acked = true
    return r
  })
  let ranged = false
  const read = store.range('k').then((r) => {
    ranged = true
    return r
  })
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
  assert.equal(acked, false)
  assert.equal(ranged, false, 'a range waits for the commit in flight')
  assert.equal(await store.revision(), before)
  assert.deepEqual(batches, [])
  held.release()
  const res = await write
  const r = await read
  assert.equal(r.revision, res.revision)
  assert.equal(r.kvs[0]?.value, 'v')
  await eventually(() => Promise.resolve(batches.length > 0 ? true : undefined), 'the batch')
  assert.deepEqual(batches, [res.revision])
  await watch.close()
  await store.close()
})
