/**
 * A child process for the store's crash tests: opens the embedded store on argv[2] and runs
 * `argv[3]` (default 64) concurrent writers forever, printing `ack <revision> <key>` once each
 * txn is acknowledged. With `--hold` it only opens the store and waits. Prints `ready` first.
 * `argv[4]`, when given, is the store's `snapshotBytes` (small: new generations and their
 * snapshots all the time), with snapshot frames of a tenth of it.
 */
import { systemClock } from '../../src/lib/clock.js'
import { openEmbeddedStore } from '../../src/store/embedded.js'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: store-writer <dir> [writers|--hold] [snapshotBytes]')
const snapshotBytes = process.argv[4] === undefined ? undefined : Number(process.argv[4])
const store = await openEmbeddedStore(dir, {
  clock: systemClock,
  ...(snapshotBytes === undefined ? {} : { snapshotBytes, snapshotChunkBytes: snapshotBytes / 10 }),
})
process.stdout.write('ready\n')
if (process.argv[3] === '--hold') {
  setInterval(() => undefined, 60_000)
} else {
  const writers = Number(process.argv[3] ?? 64)
  const tag = `${process.pid}`
  let next = 0
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (;;) {
        const key = `w/${tag}/${next++}`
        const res = await store.txn({ compare: [], success: [{ type: 'put', key, value: key }] })
        // Pipes are synchronous on Linux: the line is out before the next txn starts.
        process.stdout.write(`ack ${res.revision} ${key}\n`)
      }
    }),
  )
}
