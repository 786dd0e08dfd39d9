import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import {
  openEmbeddedStore,
  scanLog,
  StoreOpenError,
  type EmbeddedStoreOptions,
} from '../../src/store/embedded.js'
import { encodeFrame, frameAt, FRAME_HEADER } from '../../src/store/frame.js'
import type { StateSnapshot } from '../../src/store/kv-state.js'
import type { MemoryStore } from '../../src/store/memory.js'
import type { LogHandle, StoreFs } from '../../src/store/store-fs.js'
import { StoreUnavailableError, type Revision } from '../../src/store/store.js'
import { eventually } from '../store/conformance.js'
import { FakeClock } from '../support/fake-clock.js'
import { GatedStoreFs } from '../support/gated-store-fs.js'
import { PowerLossFs, type TornTail } from '../support/power-loss-fs.js'

// The embedded store's new generations (src/store/embedded.ts, docs/store.md): the snapshot is
// written behind the new log while commits go on, and every crash point recovers.

const DIR = '/data'
const SMALL = { snapshotBytes: 1500, snapshotChunkBytes: 600, preallocateBytes: 512 } as const

interface Acked {
  readonly key: string
  readonly revision: Revision
}

function openOn(fs: StoreFs, opts: Partial<EmbeddedStoreOptions> = {}): Promise<MemoryStore> {
  return openEmbeddedStore(DIR, { clock: new FakeClock(), fs, ...SMALL, ...opts })
}

async function put(store: MemoryStore, key: string): Promise<Acked> {
  const res = await store.txn({
    compare: [],
    success: [{ type: 'put', key, value: `${key}:${'x'.repeat(24)}` }],
  })
  return { key, revision: res.revision }
}

/**
 * Three writers put `<tag>/<i>` for i < count, one txn at a time each, until done or a txn fails.
 * After every other txn a writer waits for a turn of the event loop, so that commits and the
 * snapshot's frames interleave, and txns also queue up behind a commit in flight.
 */
async function writers(store: MemoryStore, tag: string, count: number, acked: Acked[]): Promise<void> {
  let next = 0
  await Promise.all(
    [0, 1, 2].map(async (w) => {
      for (let mine = w; next < count; mine++) {
        try {
          acked.push(await put(store, `${tag}/${next++}`))
        } catch {
          return
        }
        if (mine % 2 === 0) await nextTurn()
      }
    }),
  )
}

async function verify(store: MemoryStore, acked: readonly Acked[]): Promise<void> {
  const { kvs, revision } = await store.range('')
  const byKey = new Map(kvs.map((kv) => [kv.key, kv]))
  for (const a of acked) {
    const kv = byKey.get(a.key)
    assert.equal(kv?.modRevision, a.revision, `acknowledged ${a.key} at revision ${a.revision}`)
    // Each key is put once: a second version is a txn applied twice (in a snapshot and its log).
    assert.equal(kv.version, 1, `${a.key} applied once`)
  }
  const last = Math.max(1, ...acked.map((a) => a.revision))
  assert.ok(revision >= last, `revision ${revision} < last acknowledged ${last}`)
}

/** A disk whose directory syncs take a turn of the event loop (commits go on meanwhile). */
class SlowDirSyncs extends PowerLossFs {
  override async syncDir(path: string): Promise<void> {
    await nextTurn()
    await super.syncDir(path)
  }
}

/** Opens the store on `fs` and writes 200 txns; the power may go out anywhere in it. */
async function scenario(fs: PowerLossFs, acked: Acked[]): Promise<void> {
  let store: MemoryStore
  try {
    store = await openOn(fs)
  } catch {
    return
  }
  await writers(store, 'a', 200, acked)
  await store.close().catch(() => undefined)
}

/** Puts `<tag>/<i>` until `name` is in the data dir, a turn of the event loop after each. */
async function putUntil(store: MemoryStore, disk: PowerLossFs, name: string, tag = 'k'): Promise<Acked[]> {
  const acked: Acked[] = []
  for (let i = 0; !(await disk.readdir(DIR)).includes(name); i++) {
    assert.ok(i < 1000, `${name} within 1,000 txns`)
    acked.push(await put(store, `${tag}/${i}`))
    await nextTurn()
  }
  return acked
}

/** Whether `steps` occur in `trace` in this order (others may come between). */
function inOrder(trace: readonly string[], steps: readonly (string | RegExp)[]): boolean {
  let i = 0
  for (const t of trace) {
    const s = steps[i]
    if (s === undefined) break
    if (typeof s === 'string' ? t === s : s.test(t)) i++
  }
  return i === steps.length
}

test('a power loss at every step of new generations loses no acknowledged txn', async () => {
  const uncut = new SlowDirSyncs()
  await scenario(uncut, [])
  const { trace } = uncut
  // The steps of docs/store.md, with commits into the new log while its snapshot is written.
  assert.ok(
    inOrder(trace, [
      'open /data/wal-1.tmp',
      'write /data/wal-1.tmp',
      'rename /data/wal-1.tmp /data/wal-1',
      'syncdir /data',
      'create /data/snap-1.tmp',
      'write /data/snap-1.tmp',
      'write /data/wal-1.tmp',
      'write /data/snap-1.tmp',
      'write /data/snap-1.tmp',
      'sync /data/snap-1.tmp',
      'rename /data/snap-1.tmp /data/snap-1',
      'syncdir /data',
      'unlink /data/wal-0',
      'open /data/wal-2.tmp',
      'rename /data/snap-2.tmp /data/snap-2',
      'syncdir /data',
      'unlink /data/wal-1',
      'unlink /data/snap-1',
    ]),
    trace.join('\n'),
  )
  const tails: ((path: string, unsynced: number) => { keep: number; kind: TornTail })[] = [
    () => ({ keep: 0, kind: 'none' }),
    (_path, unsynced) => ({ keep: Math.ceil(unsynced / 2), kind: 'garbage' }),
  ]
  for (let cut = 0; cut <= uncut.ops; cut++) {
    for (const tail of tails) {
      const fs = new SlowDirSyncs()
      fs.cutPowerAfter(cut)
      const acked: Acked[] = []
      await scenario(fs, acked)
      const disk = fs.reboot(tail)
      const store = await openOn(disk)
      await verify(store, acked)
      // The recovered dir goes on: more generations, then a clean reopen.
      const more: Acked[] = []
      await writers(store, 'b', 60, more)
      const last = Math.max(0, ...acked.map((a) => a.revision))
      assert.ok(
        more.every((a) => a.revision > last),
        `a revision was reused after the power loss at ${cut}`,
      )
      await store.close()
      const again = await openOn(disk)
      await verify(again, [...acked, ...more])
      await again.close()
    }
  }
})

/** A store on `disk` whose snapshot writes hang, with writes until one hangs. */
async function hungSnapshot(
  disk: PowerLossFs,
): Promise<{ store: MemoryStore; fs: GatedStoreFs; acked: Acked[] }> {
  const fs = new GatedStoreFs(disk, (path) => path.includes('/snap-'))
  fs.hold()
  const store = await openOn(fs)
  const acked: Acked[] = []
  for (let i = 0; fs.held.length === 0 && i < 1000; i++) acked.push(await put(store, `k/${i}`))
  assert.deepEqual(fs.held, ['/data/snap-1.tmp'], 'the snapshot started')
  return { store, fs, acked }
}

test('txns commit while the snapshot write hangs, and survive a power loss in the middle of it', async () => {
  const disk = new PowerLossFs()
  const { store, fs, acked } = await hungSnapshot(disk)
  const during: Acked[] = []
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 25; i++) during.push(await put(store, `during/${w}/${i}`))
    }),
  )
  assert.equal(during.length, 200, 'every txn was acknowledged while the snapshot hung')
  assert.deepEqual(fs.held, ['/data/snap-1.tmp'], 'the snapshot is still at its first write')
  assert.deepEqual((await disk.readdir(DIR)).sort(), ['LOCK', 'snap-1.tmp', 'wal-0', 'wal-1'])
  disk.cutPowerAfter(0)
  fs.release()
  await store.close().catch(() => undefined)
  const rebooted = disk.reboot()
  const reopened = await openOn(rebooted)
  await verify(reopened, [...acked, ...during])
  await reopened.close()
})

test('once the hang ends the snapshot is put in place and the older generation removed', async () => {
  const disk = new PowerLossFs()
  const { store, fs, acked } = await hungSnapshot(disk)
  for (let i = 0; i < 20; i++) acked.push(await put(store, `during/${i}`))
  fs.release()
  await eventually(async () => {
    const names = await disk.readdir(DIR)
    return names.includes('snap-1') && !names.includes('wal-0') ? true : undefined
  }, 'snap-1 in place and wal-0 removed')
  await store.close()
  // Only what was synced: the power goes out right after the close.
  const reopened = await openOn(disk.reboot())
  await verify(reopened, acked)
  await reopened.close()
})

test('close stops a snapshot in flight; the next open replays both logs and starts a new generation', async () => {
  const disk = new PowerLossFs()
  const { store, fs, acked } = await hungSnapshot(disk)
  for (let i = 0; i < 10; i++) acked.push(await put(store, `during/${i}`))
  const closing = store.close()
  fs.release()
  await closing
  assert.deepEqual((await disk.readdir(DIR)).sort(), ['snap-1.tmp', 'wal-0', 'wal-1'])
  const reopened = await openOn(disk)
  await verify(reopened, acked)
  assert.deepEqual((await disk.readdir(DIR)).sort(), ['LOCK', 'wal-0', 'wal-1'])
  acked.push(...(await putUntil(reopened, disk, 'wal-2.tmp', 'after')))
  acked.push(await put(reopened, 'switch'))
  await eventually(async () => {
    const names = (await disk.readdir(DIR)).sort()
    return names.join() === 'LOCK,snap-2,wal-2' ? true : undefined
  }, 'generation 2 alone')
  await reopened.close()
  const again = await openOn(disk.reboot())
  await verify(again, acked)
  await again.close()
})

test('a failed snapshot write makes the store unavailable; what was acknowledged survives', async () => {
  class FullDisk extends PowerLossFs {
    override async createFile(path: string): Promise<LogHandle> {
      const file = await super.createFile(path)
      return {
        ...file,
        write: () =>
          Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })),
      }
    }
  }
  const disk = new FullDisk()
  const store = await openOn(disk)
  const acked: Acked[] = []
  let failure: unknown
  for (let i = 0; i < 1000 && failure === undefined; i++) {
    try {
      acked.push(await put(store, `k/${i}`))
    } catch (err) {
      failure = err
    }
  }
  assert.ok(failure instanceof StoreUnavailableError, String(failure))
  assert.match(
    failure.message,
    /store write failed, the store is unavailable until reopened: writing store snapshot snap-1 failed: ENOSPC/,
  )
  await store.close()
  const again = await openOn(disk.reboot())
  await verify(again, acked)
  await again.close()
})

test('a snapshot is written in many frames, a turn of the event loop apart, and read back whole', async () => {
  let turns = 0
  let ticking = true
  const tick = (): void => {
    turns++
    if (ticking) setImmediate(tick)
  }
  const framesAt: number[] = []
  class Watched extends PowerLossFs {
    override async createFile(path: string): Promise<LogHandle> {
      const file = await super.createFile(path)
      return {
        ...file,
        write: async (data, position) => {
          framesAt.push(turns)
          await file.write(data, position)
        },
      }
    }
  }
  const disk = new Watched()
  const store = await openOn(disk, { snapshotBytes: 40_000, snapshotChunkBytes: 512 })
  const leases = [
    await store.grantLease(60_000),
    await store.grantLease(60_000),
    await store.grantLease(90_000),
  ]
  for (let i = 0; i < 300; i++) {
    const lease = i % 10 === 0 ? leases[i % 3] : undefined
    await store.txn({
      compare: [],
      success: [
        {
          type: 'put',
          key: `k/${i}`,
          value: `value ${i} "quoted"`,
          ...(lease !== undefined ? { lease } : {}),
        },
      ],
    })
  }
  await store.txn({ compare: [], success: [{ type: 'delete', key: 'k/7' }] })
  const before = await store.range('')
  setImmediate(tick)
  // Past the threshold the snapshot of the state as of the end of that commit starts.
  await putUntil(store, disk, 'snap-1', 'pad')
  ticking = false
  const snap = disk.peek(`${DIR}/snap-1`)
  assert.ok(snap !== undefined)
  const payloads: string[] = []
  for (let off = 0; off < snap.length;) {
    const body = frameAt(snap, off)
    assert.ok(body !== undefined, `an intact frame at ${off}`)
    payloads.push(body.toString('utf8'))
    off += FRAME_HEADER + body.length
  }
  assert.ok(payloads.length >= 10, `${payloads.length} frames`)
  assert.match(payloads[0] ?? '', /^\{"snapshot":2,"revision":\d+,"nextLease":4\}$/)
  assert.match(payloads.at(-1) ?? '', /^\{"end":\{"leases":3,"kvs":\d+,"frames":\d+\}\}$/)
  for (const p of payloads) assert.ok(p.length < 2 * 512, `a frame of ${p.length} bytes`)
  assert.equal(framesAt.length, payloads.length, 'one write per frame')
  for (let f = 1; f < framesAt.length; f++) {
    assert.ok(framesAt[f]! > framesAt[f - 1]!, `the event loop turned between frames ${f - 1} and ${f}`)
  }
  await store.close()
  const reopened = await openOn(disk.reboot(), { snapshotBytes: 1 << 20 })
  const after = await reopened.range('')
  const pads = (kvs: typeof before.kvs): typeof before.kvs => kvs.filter((kv) => !kv.key.startsWith('pad/'))
  assert.deepEqual(pads(after.kvs), pads(before.kvs))
  for (const lease of leases) assert.equal(await reopened.keepAlive(lease), true)
  assert.equal((await reopened.range('k/10')).kvs[0]?.lease, leases[1])
  const next = await reopened.grantLease(1000)
  assert.ok(!leases.includes(next), 'lease ids are not reused')
  await reopened.close()
})

/** Writes a file on `disk` durably. */
async function writeDurable(disk: PowerLossFs, path: string, data: Buffer): Promise<void> {
  const file = await disk.createFile(path)
  await file.write(data, 0)
  await file.sync()
  await disk.syncDir(DIR)
}

test('a snapshot written before frames were chunked (one frame) is read, and the next is chunked', async () => {
  const disk = new PowerLossFs()
  await disk.mkdir(DIR)
  const kv = (key: string, value: string, rev: number): StateSnapshot['kvs'][number] => ({
    key,
    value,
    createRevision: rev,
    modRevision: rev,
    version: 1,
    lease: null,
  })
  const old: StateSnapshot = {
    revision: 7,
    nextLease: 3,
    kvs: [kv('a', '1', 3), kv('held', 'h', 5)].map((k) => (k.key === 'held' ? { ...k, lease: '2' } : k)),
    leases: [{ id: '2', ttlMs: 30_000 }],
  }
  await writeDurable(disk, `${DIR}/snap-3`, encodeFrame(JSON.stringify(old)))
  await writeDurable(disk, `${DIR}/wal-3`, encodeFrame(JSON.stringify([{ r: 8, m: [{ k: 'b', v: '2' }] }])))
  const store = await openOn(disk)
  const { kvs, revision } = await store.range('')
  assert.equal(revision, 8)
  assert.deepEqual(
    kvs.map((k) => [k.key, k.value, k.modRevision, k.lease]),
    [
      ['a', '1', 3, null],
      ['b', '2', 8, null],
      ['held', 'h', 5, '2'],
    ],
  )
  assert.equal(await store.keepAlive('2'), true)
  const acked = await putUntil(store, disk, 'snap-4')
  await store.close()
  assert.match(frameAt(disk.peek(`${DIR}/snap-4`)!, 0)?.toString('utf8') ?? '', /^\{"snapshot":2,/)
  const reopened = await openOn(disk.reboot())
  await verify(reopened, acked)
  assert.equal((await reopened.range('held')).kvs[0]?.lease, '2')
  await reopened.close()
})

/** A data dir left with two logs: the snapshot of generation 1 hung, then the power went out. */
async function twoLogs(): Promise<{ disk: PowerLossFs; acked: Acked[] }> {
  const before = new PowerLossFs()
  const { store, fs, acked } = await hungSnapshot(before)
  for (let i = 0; i < 5; i++) acked.push(await put(store, `during/${i}`))
  before.cutPowerAfter(0)
  fs.release()
  await store.close().catch(() => undefined)
  const disk = before.reboot()
  assert.deepEqual((await disk.readdir(DIR)).sort(), ['LOCK', 'wal-0', 'wal-1'])
  return { disk, acked }
}

test('a bad frame in an older log is corruption, even at its end', async () => {
  const { disk } = await twoLogs()
  const wal = `${DIR}/wal-0`
  const buf = Buffer.from(disk.peek(wal)!)
  const end = scanLog(buf, wal).end
  buf[end - 2]! ^= 0x01
  disk.poke(wal, buf)
  await assert.rejects(
    openOn(disk),
    (err) =>
      err instanceof StoreOpenError &&
      /^Store log \/data\/wal-0 is corrupt at byte \d+ of \d+ \(a newer log, wal-1, follows it\); refusing to start/.test(
        err.message,
      ),
  )
})

test('a torn tail in the newest log is cut while the older one is replayed whole', async () => {
  const { disk, acked } = await twoLogs()
  const wal = `${DIR}/wal-1`
  const buf = Buffer.from(disk.peek(wal)!)
  const end = scanLog(buf, wal).end
  const torn = encodeFrame(JSON.stringify([{ r: 10_000, m: [{ k: 'torn', v: 'x' }] }]))
  torn.copy(buf, end, 0, torn.length - 3)
  disk.poke(wal, buf)
  const store = await openOn(disk)
  await verify(store, acked)
  assert.equal((await store.range('torn')).kvs.length, 0)
  await store.close()
})

test('a missing log between the snapshot and the newest log refuses to start', async () => {
  const { disk } = await twoLogs()
  await disk.unlink(`${DIR}/wal-0`)
  await assert.rejects(
    openOn(disk),
    (err) =>
      err instanceof StoreOpenError &&
      err.message.startsWith(`Store data dir ${DIR} lacks the log wal-0 (snap-0 is followed by wal-1)`),
  )
})

test('a snapshot cut short of its trailer refuses to start', async () => {
  const disk = new PowerLossFs()
  const store = await openOn(disk)
  await putUntil(store, disk, 'snap-1')
  await store.close()
  const snap = disk.peek(`${DIR}/snap-1`)!
  let last = 0
  for (let off = 0; off < snap.length;) {
    last = off
    off += FRAME_HEADER + frameAt(snap, off)!.length
  }
  disk.poke(`${DIR}/snap-1`, snap.subarray(0, last))
  await assert.rejects(
    openOn(disk),
    (err) =>
      err instanceof StoreOpenError &&
      err.message.startsWith(
        `Store snapshot ${DIR}/snap-1 is corrupt (it ends before its trailer); refusing to start`,
      ),
  )
})
