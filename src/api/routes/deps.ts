import type { AgentPort } from '../../agent/ports.js'
import type { ClusterPort, ServerDirectory } from '../../cluster/ports.js'
import type { KvPort } from '../../catalog/kv-port.js'
import type { CatalogPort } from '../../catalog/port.js'
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
  /** Membership, join and leave; null for an agent started without one (in-process API tests). */
  readonly cluster: ClusterPort | null
  /** The catalog behind `/v1/catalog/*` and `/v1/health/*`; absent, those routes answer 500. */
  readonly catalog?: CatalogPort
  /** The servers sharing this server's store (on servers only): status and operator routes. */
  readonly servers?: ServerDirectory
  /** The KV store, sessions and transactions behind `/v1/kv/*`, `/v1/session/*`, `/v1/txn`. */
  readonly kv?: KvPort
}
