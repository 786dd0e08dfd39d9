/**
 * A store whose watches deliver late: every batch reaches the watcher up to `maxLagMs` after the
 * store sent it (uniformly at random, never before the batch ahead of it). Through the store port
 * it makes a server's view lag behind the store as a slow watch stream does, by more or less than
 * a round trip, so what the server decides from its view while another server's write is on its
 * way shows (a fault injector: the store itself is real).
 */
import type { Store, Watch, WatchHandlers } from '../../src/store/store.js'

/** Every call but `watch` sent to `inner` as it is. */
function passThrough(inner: Store): Omit<Store, 'watch'> {
  return {
    revision: () => inner.revision(),
    range: (prefix) => inner.range(prefix),
    txn: (req) => inner.txn(req),
    grantLease: (ttlMs) => inner.grantLease(ttlMs),
    keepAlive: (lease) => inner.keepAlive(lease),
    revokeLease: (lease) => inner.revokeLease(lease),
    close: () => inner.close(),
  }
}

/** Watch handlers whose every delivery goes through `defer` (which runs it now or later, in order). */
function deferred(handlers: WatchHandlers, defer: (deliver: () => void) => void): WatchHandlers {
  return {
    onBatch: (batch) => {
      defer(() => {
        handlers.onBatch(batch)
      })
    },
    onCancel: (reason) => {
      defer(() => {
        handlers.onCancel(reason)
      })
    },
  }
}

export function laggingStore(inner: Store, maxLagMs: number, random: () => number = Math.random): Store {
  return {
    ...passThrough(inner),
    watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
      let open = true
      // One queue, delivered in order by one timer: a batch is never due before the one ahead.
      const queue: { due: number; deliver: () => void }[] = []
      let timer: NodeJS.Timeout | undefined
      const pump = (): void => {
        timer = undefined
        while (open && queue.length > 0 && (queue[0]?.due ?? 0) <= Date.now()) queue.shift()?.deliver()
        const next = queue[0]
        if (open && next !== undefined) timer = setTimeout(pump, Math.max(0, next.due - Date.now()))
      }
      const later = (deliver: () => void): void => {
        const due = Math.max(queue.at(-1)?.due ?? 0, Date.now() + random() * maxLagMs)
        queue.push({ due, deliver })
        timer ??= setTimeout(pump, Math.max(0, due - Date.now()))
      }
      const watch = inner.watch(prefix, fromRevision, deferred(handlers, later))
      return {
        close: async () => {
          open = false
          clearTimeout(timer)
          await watch.close()
        },
      }
    },
  }
}

/** A store whose watch deliveries a test holds back and releases (a view kept behind on purpose). */
export interface HeldWatches {
  readonly store: Store
  /** From now on, batches wait until `release`. */
  hold(): void
  /** Delivers what waited, in order, and stops holding. */
  release(): void
  /** Runs once the store has answered a `revision()` call, before the caller sees the answer. */
  onRevision: (() => void) | undefined
}

export function heldWatches(inner: Store): HeldWatches {
  let held = false
  const waiting: (() => void)[] = []
  const out: HeldWatches = {
    onRevision: undefined,
    hold: () => {
      held = true
    },
    release: () => {
      held = false
      for (const deliver of waiting.splice(0)) deliver()
    },
    store: {
      ...passThrough(inner),
      revision: async () => {
        const r = await inner.revision()
        out.onRevision?.()
        return r
      },
      watch: (prefix, fromRevision, handlers) => {
        const pass = (deliver: () => void): void => {
          if (held) waiting.push(deliver)
          else deliver()
        }
        return inner.watch(prefix, fromRevision, deferred(handlers, pass))
      },
    },
  }
  return out
}
