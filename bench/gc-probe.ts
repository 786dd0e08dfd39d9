/**
 * Preloaded (`node --expose-gc --import ./dist/bench/gc-probe.js …`) into a server process a
 * benchmark measures: on SIGUSR2 it runs full garbage collections and writes the process's
 * memory use to `<tmpdir>/vigil-gc-probe-<pid>.json`, so that memory per waiting query can be
 * measured as what is retained, not as heap growth that includes garbage.
 */
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const gc = (globalThis as { gc?: () => void }).gc
process.on('SIGUSR2', () => {
  gc?.()
  gc?.()
  writeFileSync(join(tmpdir(), `vigil-gc-probe-${process.pid}.json`), JSON.stringify(process.memoryUsage()))
})
