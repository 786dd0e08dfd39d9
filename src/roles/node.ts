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
import type { AgentCommands, AgentPort } from '../agent/ports.js'
import { AntiEntropy } from '../agent/sync/anti-entropy.js'
import { catalogRoutes } from '../api/routes/catalog.js'
import { agentEventBuffer, eventRoutes } from '../api/routes/event.js'
import { healthRoutes } from '../api/routes/health.js'
import { kvRoutes } from '../api/routes/kv.js'
import { sessionRoutes } from '../api/routes/session.js'
import { txnRoutes } from '../api/routes/txn.js'
import { startHttpApi } from '../api/server.js'
import type { ApiLogger } from '../api/settings.js'
import type { AgentConfig } from '../config/agent-config.js'
import { systemClock, type Clock } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import { DnsServer } from '../dns/server.js'
import { dnsSettingsFrom } from '../dns/settings.js'
import { localDnsCatalog } from './dns-catalog.js'
import { localCatalogPort } from './local-catalog.js'
import { localNodeInfo, registerServerNode, startServerRole, type ServerRole } from './server.js'

export interface NodeLogger extends AgentLogger, ApiLogger {
  child(bindings: Record<string, unknown>): NodeLogger
}

export interface StartNodeOptions {
  readonly config: AgentConfig
  readonly logger: NodeLogger
  /** Re-reads the configuration (SIGHUP, `PUT /v1/agent/reload`); the node applies what changed. */
  readonly loadConfig: () => AgentConfig
  readonly clock?: Clock
  readonly random?: () => number
}

/** A running node. */
export interface VigilNode {
  readonly agent: Agent
  /** The catalog role, on servers and in `-dev`; null on a client agent. */
  readonly server: ServerRole | null
  /** Keeps the catalog's copy of this node equal to local state; null without a catalog yet. */
  readonly sync: AntiEntropy | null
  /** Every address the HTTP API listens on. */
  readonly httpAddresses: readonly string[]
  /** The DNS interface (UDP and TCP addresses), on nodes with a catalog when `ports.dns` > 0. */
  readonly dns: DnsServer | null
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
  const clock = opts.clock ?? systemClock
  const random = opts.random ?? Math.random
  const log = logger.child({ module: 'agent' })
  const started: (() => Promise<void>)[] = []
  const stopStarted = async (): Promise<void> => {
    for (const stop of started.splice(0).reverse()) await stop()
  }
  try {
    let server: ServerRole | null = null
    if (config.server) {
      const serverLog = logger.child({ module: 'agent.server' })
      server = await startServerRole({
        config,
        clock,
        random,
        onError: (err) => {
          serverLog.warn({ error: errorMessage(err) }, 'Catalog recovered from an error')
        },
      })
      const role = server
      started.push(() => role.close())
      serverLog.info({ leader: server.leaderAddress }, 'cluster leadership acquired')
    }
    const agent = await Agent.start({ config, logger, clock, random })
    started.push(() => agent.shutdown())
    let sync: AntiEntropy | null = null
    if (server !== null) {
      const node = localNodeInfo(config, agent.nodeId)
      await registerServerNode(server.catalog, node, config.ports.server)
      const ae = new AntiEntropy({
        source: agent.read,
        catalog: localCatalogPort(server.catalog),
        node: () => node,
        clock,
        random,
        logger: log,
        checkUpdateIntervalMs: config.checkUpdateIntervalMs,
        memberCount: () => 1,
      })
      ae.start()
      started.push(() => ae.stop())
      sync = ae
    }
    const reload = async (): Promise<void> => {
      const next = opts.loadConfig()
      await agent.reload(next)
      log.info({ services: next.services.length, checks: next.checks.length }, 'Reloaded configuration')
    }
    const api = await startHttpApi({
      agent: agentPort(agent, sync),
      config,
      logger: logger.child({ module: 'agent.http' }),
      reload,
      clock,
      random,
      ...(server !== null
        ? {
            catalog: server.catalog,
            kv: server.catalog,
            routes: [
              catalogRoutes,
              healthRoutes,
              kvRoutes,
              sessionRoutes,
              txnRoutes,
              eventRoutes({ buffer: agentEventBuffer(agent, config.nodeName, clock) }),
            ],
          }
        : {}),
    })
    started.push(() => api.close())
    let dns: DnsServer | null = null
    if (server !== null && config.ports.dns > 0) {
      const dnsServer = new DnsServer({
        catalog: localDnsCatalog(server.catalog),
        settings: dnsSettingsFrom(config),
        addresses: config.addresses.dns,
        port: config.ports.dns,
        logger: logger.child({ module: 'agent.dns' }),
        clock,
        random,
      })
      await dnsServer.start()
      started.push(() => dnsServer.close())
      dns = dnsServer
    }
    let stopped: Promise<void> | undefined
    return {
      agent,
      server,
      sync,
      httpAddresses: api.addresses,
      dns,
      reload,
      // In reverse order of start: the API first (in-flight requests answered), then the sync
      // loop, the agent (runners stopped), and the catalog last.
      shutdown: () => (stopped ??= stopStarted()),
    }
  } catch (err) {
    await stopStarted()
    throw err
  }
}

/**
 * The agent as its API sees it. With a catalog, a registration or deregistration answers after
 * one sync of it was tried (agent-state.md §7), so a catalog read right after sees it.
 */
function agentPort(agent: Agent, sync: AntiEntropy | null): AgentPort {
  if (sync === null) return agent
  const commands = agent.commands
  const synced = async (done: Promise<void>): Promise<void> => {
    await done
    await sync.settled()
  }
  const syncedCommands: AgentCommands = {
    normalizeContext: (origin) => commands.normalizeContext(origin),
    registerService: (reg, o) => synced(commands.registerService(reg, o)),
    deregisterService: (id) => synced(commands.deregisterService(id)),
    registerCheck: (reg) => synced(commands.registerCheck(reg)),
    deregisterCheck: (id) => synced(commands.deregisterCheck(id)),
    updateTtl: (id, status, output) => commands.updateTtl(id, status, output),
    setNodeMaintenance: (enable, reason, token) => synced(commands.setNodeMaintenance(enable, reason, token)),
    setServiceMaintenance: (id, enable, reason, token) =>
      synced(commands.setServiceMaintenance(id, enable, reason, token)),
  }
  return {
    config: agent.config,
    nodeId: agent.nodeId,
    startedAtMs: agent.startedAtMs,
    read: agent.read,
    commands: syncedCommands,
    runnerCount: () => agent.runnerCount(),
  }
}
