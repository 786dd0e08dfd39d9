import type { AgentPort } from '../../agent/ports.js'
import type { Clock } from '../../lib/clock.js'
import type { ApiMetrics } from '../metrics.js'
import type { HttpApiSettings } from '../settings.js'

/** What the route modules get from the server. */
export interface RouteDeps {
  readonly agent: AgentPort
  readonly settings: HttpApiSettings
  readonly metrics: ApiMetrics
  readonly clock: Clock
  /** Uniform in [0, 1), for blocking-query jitter. */
  readonly random: () => number
  /** Re-reads the configuration and applies it. */
  readonly reload: () => Promise<void>
}
