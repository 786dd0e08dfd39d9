import { FakeClock } from '../support/fake-clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import { storeConformance } from '../store/conformance.js'

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
