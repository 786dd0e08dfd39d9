import { describe } from 'node:test'
import { FakeClock } from '../support/fake-clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import { storeConformance } from '../store/conformance.js'

// The suite is declared here so the test runner counts it against this file, not conformance.ts.
describe('memory store', () => {
  storeConformance(
    'memory',
    (opts) => {
      const clock = new FakeClock()
      const store = new MemoryStore({
        clock,
        ...(opts.historyRevisions !== undefined ? { historyRevisions: opts.historyRevisions } : {}),
      })
      return Promise.resolve({
        store,
        advance: (ms) => clock.advance(ms),
        cleanup: () => store.close(),
      })
    },
    { boundedHistory: true },
  )
})
