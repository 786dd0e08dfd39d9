/**
 * Snapshot benchmark: what commits and the event loop feel while the embedded store writes a
 * snapshot of a large catalog. The catalog is built in process (`Catalog.register` on a memory
 * store, one node, service and check per registration, as the HTTP registration rounds do),
 * restored into a fresh data dir, and opened with a small `snapshotBytes`; writers then commit
 * until the store has written its next snapshot and removed the older generation.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { decodeCatalogRegister } from '../src/api/catalog-body.js'
import { systemClock } from '../src/lib/clock.js'
import { createEmbeddedStore, openEmbeddedStore } from '../src/store/embedded.js'
import { MemoryStore } from '../src/store/memory.js'
import { benchCatalog, percentile, registerBody } from './catalog.js'
import { log } from './lib.js'
import { VALUE } from './store.js'

export interface SnapshotStallResult {
  readonly registrations: number
  readonly keys: number
  readonly snapshotBytes: number
  /** From the writers' start until the new snapshot is in place and the old generation gone. */
  readonly windowMs: number
  readonly commits: number
  readonly commitP50Ms: number
  readonly commitP99Ms: number
  readonly commitMaxMs: number
  /** The longest the event loop was held (monitorEventLoopDelay, 1 ms resolution). */
  readonly loopMaxMs: number
  readonly loopP99Ms: number
}

/** The store's state after `registrations` catalog registrations, written as a fresh data dir. */
async function catalogDataDir(dir: string, registrations: number): Promise<number> {
  const store = new MemoryStore({ clock: systemClock })
  const catalog = await benchCatalog(store)
  for (let i = 0; i < registrations; i++) {
    await catalog.register(
      decodeCatalogRegister(JSON.stringify(registerBody(`node-${i}`, 'web', `web-${i}`, i))).request,
    )
    if (i % 50_000 === 49_999) log(`snapshot: ${i + 1} registrations`)
  }
  await catalog.close()
  const { kvs, revision } = await store.range('')
  await store.close()
  await createEmbeddedStore(dir, { revision, nextLease: 1, kvs, leases: [] })
  return kvs.length
}

/**
 * `writers` commit one ~180-byte put each in a loop from the moment the store is open until
 * the snapshot that the log's growth starts is in place (`snap-2`, `snap-1` removed), then for
 * `tailMs` more.
 */
export async function snapshotStall(
  registrations: number,
  writers: number,
  tailMs = 250,
): Promise<SnapshotStallResult> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-snapshot-'))
  try {
    const keys = await catalogDataDir(dir, registrations)
    const snapshotBytes = (await stat(join(dir, 'snap-1'))).size
    global.gc?.()
    const store = await openEmbeddedStore(dir, { clock: systemClock, snapshotBytes: 4 * 2 ** 20 })
    const latencies: number[] = []
    const loop = monitorEventLoopDelay({ resolution: 1 })
    let done = false
    let i = 0
    const started = performance.now()
    loop.enable()
    const writing = Promise.all(
      Array.from({ length: writers }, async () => {
        while (!done) {
          const key = `bench/${i++}`
          const t0 = performance.now()
          await store.txn({ compare: [], success: [{ type: 'put', key, value: VALUE }] })
          latencies.push(performance.now() - t0)
        }
      }),
    )
    let windowMs = 0
    for (let polls = 0; polls < 6000; polls++) {
      await new Promise((r) => setTimeout(r, 20))
      const names = await readdir(dir)
      if (names.includes('snap-2') && !names.includes('snap-1')) {
        windowMs = performance.now() - started
        log(`snapshot: done after ${windowMs.toFixed(0)} ms, ${latencies.length} commits`)
        break
      }
    }
    await new Promise((r) => setTimeout(r, tailMs))
    done = true
    await writing
    loop.disable()
    await store.close()
    if (windowMs === 0) throw new Error('the snapshot did not complete within 120 s')
    return {
      registrations,
      keys,
      snapshotBytes,
      windowMs,
      commits: latencies.length,
      commitP50Ms: percentile(latencies, 50),
      commitP99Ms: percentile(latencies, 99),
      commitMaxMs: Math.max(...latencies),
      loopMaxMs: loop.max / 1e6,
      loopP99Ms: loop.percentile(99) / 1e6,
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
