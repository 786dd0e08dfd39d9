import { errorMessage } from '../lib/errors.js'
import type { Timer } from '../lib/clock.js'
import type { AgentCore } from './core.js'
import { deregisterService } from './registration.js'

/** `check_reap_interval` and `check_deregister_interval_min` (agent-state.md §8, not settable). */
const REAP_INTERVAL_MS = 30_000
const MIN_REAP_AFTER_MS = 60_000

/**
 * `deregister_critical_service_after` (agent-state.md §8): a service with a check critical for
 * longer than that check's limit (at least 1 minute) is deregistered like any other, once per
 * pass. Node-level checks never reap anything. Contract: a failed deregistration is logged and
 * retried at the next pass; nothing is thrown.
 */
export async function reapCriticalServices(core: AgentCore): Promise<void> {
  const now = core.clock.now()
  const doomed = new Set<string>()
  for (const entry of core.state.checks()) {
    const limitMs = entry.definition.deregisterCriticalServiceAfterMs
    const since = entry.criticalSinceMs
    if (limitMs <= 0 || since === null || entry.check.serviceId === '') continue
    if (now - since > Math.max(limitMs, MIN_REAP_AFTER_MS)) doomed.add(entry.check.serviceId)
  }
  for (const serviceId of doomed) {
    if (core.state.service(serviceId) === undefined) continue
    core.log.info({ service: serviceId }, 'Check critical for too long, deregistering service')
    await deregisterService(core, serviceId).catch((err: unknown) => {
      core.log.error({ service: serviceId, err: errorMessage(err) }, 'Failed to deregister a reaped service')
    })
  }
}

/** Runs `reap` every 30 s on the agent's clock, one pass at a time, until `stop()`. */
export class Reaper {
  readonly #core: AgentCore
  readonly #reap: () => Promise<void>
  #timer: Timer | undefined
  #stopped = false

  constructor(core: AgentCore, reap: () => Promise<void>) {
    this.#core = core
    this.#reap = reap
  }

  start(): void {
    if (this.#stopped) return
    this.#timer = this.#core.clock.setTimer(REAP_INTERVAL_MS, () => {
      void this.#reap().finally(() => {
        this.start()
      })
    })
  }

  /** Cancels the next pass; a running pass finishes (its deregistrations are refused once the agent shuts down). */
  stop(): void {
    this.#stopped = true
    this.#timer?.cancel()
  }
}
