/**
 * The composition root: builds a vigil node's roles from one AgentConfig (DESIGN.md "Roles and
 * processes") and owns the order in which they start and stop. `vigil agent` is a thin shell
 * around it (signals, banner, pid file); tests start a whole node in process with it too.
 *
 * Every node is an agent (local state, check runners, data dir) with an HTTP API. What sits
 * behind the catalog port — in process on a server and in `-dev`, a server over the network on
 * a client agent — is chosen here and nowhere else.
 */
import { Agent } from '../agent/agent.js'
import type { AgentLogger } from '../agent/agent-settings.js'
import { startHttpApi, type HttpApi } from '../api/server.js'
import type { ApiLogger } from '../api/settings.js'
import type { AgentConfig } from '../config/agent-config.js'
import type { Clock } from '../lib/clock.js'

export interface NodeLogger extends AgentLogger, ApiLogger {
  child(bindings: Record<string, unknown>): NodeLogger
}

export interface StartNodeOptions {
  readonly config: AgentConfig
  readonly logger: NodeLogger
  /** Re-reads the configuration (SIGHUP, `PUT /v1/agent/reload`); the node applies what changed. */
  readonly loadConfig: () => AgentConfig
  readonly clock?: Clock
}

/** A running node. */
export interface VigilNode {
  readonly agent: Agent
  /** Every address the HTTP API listens on. */
  readonly httpAddresses: readonly string[]
  /** Re-reads the configuration and applies its services and checks (agent-state.md §13). */
  readonly reload: () => Promise<void>
  /**
   * Idempotent. Closes the HTTP API first (in-flight requests answered, blocking queries woken),
   * then shuts the agent down (runners stopped and awaited, data dir released).
   */
  readonly shutdown: () => Promise<void>
}

/**
 * Starts the roles `config` asks for: the agent (restored from its data dir before anything
 * listens), then the HTTP API. A failure part-way stops what was started and rethrows.
 */
export async function startNode(opts: StartNodeOptions): Promise<VigilNode> {
  const { config, logger } = opts
  const log = logger.child({ module: 'agent' })
  const agent = await Agent.start({
    config,
    logger,
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
  })
  const reload = async (): Promise<void> => {
    const next = opts.loadConfig()
    await agent.reload(next)
    log.info({ services: next.services.length, checks: next.checks.length }, 'Reloaded configuration')
  }
  let api: HttpApi
  try {
    api = await startHttpApi({
      agent,
      config,
      logger: logger.child({ module: 'agent.http' }),
      reload,
      ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
    })
  } catch (err) {
    await agent.shutdown()
    throw err
  }
  let stopped: Promise<void> | undefined
  return {
    agent,
    httpAddresses: api.addresses,
    reload,
    shutdown: () =>
      (stopped ??= (async () => {
        await api.close()
        await agent.shutdown()
      })()),
  }
}
