import type { Clock } from '../lib/clock.js'
import { ShuttingDownError } from '../lib/errors.js'
import { KeyedLocks } from '../lib/keyed-queue.js'
import type { NormalizeContext } from '../structs/normalize.js'
import type { AgentLogger, AgentSettings } from './agent-settings.js'
import type { CheckManager } from './checks/check-manager.js'
import type { LocalState } from './local/local-state.js'
import type { AgentStore } from './persistence/agent-store.js'

/**
 * What the agent's modules (registration, TTL, maintenance, reload, restore, reaper) share. The
 * Agent builds it once; the modules are functions of it.
 */
export interface AgentCore {
  readonly config: AgentSettings
  readonly state: LocalState
  readonly checks: CheckManager
  /** The data dir; null in memory mode (`-dev`, or no `-data-dir`). */
  readonly store: AgentStore | null
  readonly log: AgentLogger
  readonly clock: Clock
  readonly locks: LifecycleLocks
  /** Alias checks that read the catalog (AliasNode) can run: a catalog is reachable. */
  readonly remoteAliases: boolean
  normalizeContext(origin: 'api' | 'config'): NormalizeContext
}

/** Lock key of a service ID. */
export function serviceKey(serviceId: string): string {
  return `service:${serviceId}`
}

/** Lock key of a check ID. */
export function checkKey(checkId: string): string {
  return `check:${checkId}`
}

/**
 * The agent's locks: every change of local state, runners or the data dir runs under them.
 *
 * - `withKeys`: holds the keys of the services and checks the task reads or changes. Tasks with
 *   disjoint keys run concurrently, so their file writes share fsyncs; tasks sharing a key run in
 *   call order, so memory and disk agree per object.
 * - `exclusive`: holds everything (restore, reload, registrations that allocate sidecar ports).
 * - `close`: refuses every new task and every queued one that has not started
 *   (ShuttingDownError), then runs its task after every started one finished.
 *
 * The rule that makes keys sufficient: a task that adds, moves or removes a check holds the key
 * of that check and of the services it belongs to before and after.
 */
export class LifecycleLocks {
  readonly #locks = new KeyedLocks()
  #closed = false

  get closed(): boolean {
    return this.#closed
  }

  exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ShuttingDownError())
    return this.#locks.runAll(() => {
      if (this.#closed) throw new ShuttingDownError()
      return task()
    })
  }

  /**
   * Runs `task` holding the keys `keysOf()` names from current state (null: every key). Under
   * the lock `keysOf` is asked again; if state changed meanwhile so that it names a key not held,
   * the task runs under `exclusive` instead.
   */
  async withKeys<T>(keysOf: () => readonly string[] | null, task: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new ShuttingDownError()
    const keys = keysOf()
    if (keys !== null) {
      const held = new Set(keys)
      const done = await this.#locks.run(keys, async () => {
        if (this.#closed) throw new ShuttingDownError()
        const now = keysOf()
        if (now === null || !now.every((k) => held.has(k))) return undefined
        return { value: await task() }
      })
      if (done !== undefined) return done.value
    }
    return this.exclusive(task)
  }

  /** Refuses new tasks from now on; `task` runs once every started task finished. */
  close(task: () => Promise<void>): Promise<void> {
    this.#closed = true
    return this.#locks.runAll(task)
  }
}
