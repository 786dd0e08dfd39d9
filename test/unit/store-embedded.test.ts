import { describe } from 'node:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeClock } from '../support/fake-clock.js'
import { openEmbeddedStore } from '../../src/store/embedded.js'
import type { Store } from '../../src/store/store.js'
import { storeConformance } from '../store/conformance.js'

// The suite is declared here so the test runner counts it against this file, not conformance.ts.
describe('embedded store', () => {
  storeConformance(
    'embedded',
    async (opts) => {
      const clock = new FakeClock()
      const dir = await mkdtemp(join(tmpdir(), 'vigil-store-'))
      const open = (): Promise<Store> =>
        openEmbeddedStore(dir, {
          clock,
          snapshotBytes: 16 * 1024,
          ...(opts.historyRevisions !== undefined ? { historyRevisions: opts.historyRevisions } : {}),
        })
      let store = await open()
      return {
        store,
        advance: (ms) => clock.advance(ms),
        reopen: async () => {
          await store.close()
          store = await open()
          return store
        },
        cleanup: async () => {
          await store.close()
          await rm(dir, { recursive: true, force: true })
        },
      }
    },
    { boundedHistory: true },
  )
})
