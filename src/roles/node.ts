/**
 * The composition root: builds a vigil node's roles from one AgentConfig (DESIGN.md "Roles and
 * processes") and owns the order in which they start and stop. `vigil agent` is a thin shell
 * around it (signals, banner, pid file); tests start a whole node in process with it too.
 *
 * Every node is an agent (local state, check runners, data dir) with an HTTP API. What sits
 * behind the catalog port — in process on a server and in `-dev`, a server over the network on
 * a client agent — is chosen here and nowhere else.
 */
import { randomUUID } from 'node:crypto'
import { Agent } from '../agent/agent.js'
import { createRunner } from '../agent/checks/factory.js'
import {
  isRemoteAlias,
  RemoteAliasRunner,
  type AliasTargetReader,
} from '../agent/checks/remote-alias-check.js'
import type { AgentLogger } from '../agent/agent-settings.js'
import type { EventBuffer, EventSink } from '../agent/events.js'
import type { AgentCommands, AgentPort } from '../agent/ports.js'
import { localMember, type Member } from '../agent/member.js'
import { explainTarget } from '../agent/explain.js'
import { AntiEntropy } from '../agent/sync/anti-entropy.js'
import type { CatalogSyncPort, NodeInfo } from '../agent/sync/catalog-port.js'
import { allowClusterTraffic, clusterLanRoutes, clusterServerRoutes, guarded } from '../api/routes/cluster.js'
import { catalogRoutes } from '../api/routes/catalog.js'
import { agentEventBuffer, eventRoutes } from '../api/routes/event.js'
import { healthRoutes } from '../api/routes/health.js'
import { forwardedRoutes, type Forwarder } from '../api/routes/forward.js'
import { statusRoutes } from '../api/routes/status.js'
import type { RouteSpec } from '../api/routing.js'
import type { RouteDeps } from '../api/routes/deps.js'
import { startHttpApi, type HttpApiOptions } from '../api/server.js'
import type { ApiLogger, HttpApiSettings } from '../api/settings.js'
import { catalogAliasReader, remoteAliasReader } from '../cluster/alias-reader.js'
import { ClusterClient } from '../cluster/client.js'
import { catalogDnsDump, remoteDnsDump, type DnsDumpReader } from '../cluster/dns-dump.js'
import { DnsMirror } from '../cluster/dns-mirror.js'
import { EventStream } from '../cluster/event-stream.js'
import type { ClusterPort, ClusterRpc, ClusterServerRpc, ServerDirectory } from '../cluster/ports.js'
import { remoteCatalogPort } from '../cluster/remote-catalog.js'
import {
  callJson,
  endpointText,
  httpTransport,
  parseJoinAddress,
  type ClusterTransport,
} from '../cluster/transport.js'
import { CLUSTER_PREFIX, encodeUserEvent, type ServerAddress } from '../cluster/wire.js'
import type { AgentConfig } from '../config/agent-config.js'
import { systemClock, type Clock } from '../lib/clock.js'
import { errorMessage, JoinError, NoServersError, NotFoundError } from '../lib/errors.js'
import { kvRoutes } from '../api/routes/kv.js'
import { sessionRoutes } from '../api/routes/session.js'
import { snapshotRoutes } from '../api/routes/snapshot.js'
import { txnRoutes } from '../api/routes/txn.js'
import { DnsServer } from '../dns/server.js'
import { dnsSettingsFrom } from '../dns/settings.js'
import type { DnsCatalog } from '../dns/catalog-port.js'
import { localDnsCatalog } from './dns-catalog.js'
import { localCatalogPort } from './local-catalog.js'
import { VIGIL_VERSION } from '../agent/agent-settings.js'
import { startServerCluster } from './server-cluster.js'
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
  /** How this node reaches other agents' cluster listeners (default: HTTP). */
  readonly transport?: ClusterTransport
}

/**
 * The public route groups a server answers from its catalog: on its HTTP API, and on its server
 * port where client agents forward them.
 */
const CATALOG_ROUTES = [catalogRoutes, healthRoutes, kvRoutes, sessionRoutes, txnRoutes]

/** A join address without a port gets this one (Consul's serf LAN default). */
const SERF_LAN_DEFAULT_PORT = 8301

/** A running node. */
export interface VigilNode {
  readonly agent: Agent
  /** The catalog role, on servers and in `-dev`; null on a client agent. */
  readonly server: ServerRole | null
  /** Keeps the catalog's copy of this node equal to local state. */
  readonly sync: AntiEntropy
  /** Membership, join, leave, as the API sees them. */
  readonly cluster: ClusterPort
  /** Every address the HTTP API listens on. */
  readonly httpAddresses: readonly string[]
  /** Every address the cluster listeners listen on (serf LAN, and the server port on servers). */
  readonly clusterAddresses: readonly string[]
  /**
   * Resolves with an exit code when the node asks its process to end: 0 after a graceful leave
   * through the API, 1 when `retry_join` ran out of attempts. Never rejects.
   */
  readonly exitRequested: Promise<Readonly<{ code: number; reason: string }>>
  /** The DNS interface (UDP and TCP addresses), on nodes with a catalog when `ports.dns` > 0. */
  readonly dns: DnsServer | null
  /** Re-reads the configuration and applies its services and checks (agent-state.md §13). */
  readonly reload: () => Promise<void>
  /** A graceful leave (a client tells its server it left), then `shutdown()`. */
  readonly leave: () => Promise<void>
  /**
   * Idempotent. Closes the HTTP API first (in-flight requests answered, blocking queries woken),
   * then shuts the agent down (runners stopped and awaited, data dir released).
   */
  readonly shutdown: () => Promise<void>
}

/**
 * Starts the roles `config` asks for: the catalog (servers), the agent (restored from its data
 * dir before anything listens), membership and anti-entropy, the cluster listeners, then the
 * HTTP API. A failure part-way stops what was started and rethrows.
 */
export async function startNode(opts: StartNodeOptions): Promise<VigilNode> {
  const { config, logger } = opts
  const clock = opts.clock ?? systemClock
  const random = opts.random ?? Math.random
  const transport = opts.transport ?? httpTransport
  const log = logger.child({ module: 'agent' })
  const started: (() => Promise<void>)[] = []
  const stopStarted = async (): Promise<void> => {
    for (const stop of started.splice(0).reverse()) await stop()
  }
  let requestExit: (code: number, reason: string) => void = () => undefined
  const exitRequested = new Promise<Readonly<{ code: number; reason: string }>>((resolve) => {
    requestExit = (code, reason) => {
      resolve({ code, reason })
    }
  })
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
        storeLogger: logger.child({ module: 'agent.store' }),
      })
      const role = server
      started.push(() => role.close())
    }
    // Alias checks of other nodes read the catalog, which is reachable only once the cluster
    // role below is up: their reads wait for it (restored checks start before that).
    const aliasTargets = lateBound()
    const agent = await Agent.start({
      config,
      logger,
      clock,
      random,
      remoteAliases: true,
      runnerFactory: (ctx) =>
        isRemoteAlias(ctx.definition, config.nodeName)
          ? new RemoteAliasRunner({
              ...ctx,
              reader: aliasTargets.port,
              aliasReconcileMs: config.aliasReconcileIntervalMs,
            })
          : createRunner(ctx),
    })
    started.push(() => agent.shutdown())
    const self = (): Member => localMember(config, agent.nodeId)
    const node = (): NodeInfo => localNodeInfo(config, agent.nodeId)
    const advertise = config.advertiseAddr !== '' ? config.advertiseAddr : config.bindAddr
    const serverAddress: ServerAddress = { name: config.nodeName, addr: advertise, port: config.ports.server }
    // This agent's user events: a server delivers from its event stream, a client from its heartbeats.
    const events = agentEventBuffer(agent, config.nodeName, clock)

    const cluster =
      server === null
        ? startClient({
            config,
            log: logger.child({ module: 'agent.client' }),
            clock,
            random,
            transport,
            self,
            node,
            events,
          })
        : await startMembership({
            config,
            server,
            log: logger.child({ module: 'agent.server.membership' }),
            clock,
            self,
            serverAddress,
            node: node(),
            events,
          })
    started.push(() => cluster.close())
    aliasTargets.bind(cluster.aliasReader)

    const sync = new AntiEntropy({
      source: agent.read,
      catalog: cluster.catalog,
      node,
      clock,
      random,
      logger: log,
      checkUpdateIntervalMs: config.checkUpdateIntervalMs,
      memberCount: () => cluster.members().length,
    })
    cluster.onServerChange(() => {
      sync.requestFullSync()
    })
    sync.start()
    started.push(() => sync.stop())

    let leaving: Promise<void> | undefined
    const clusterPort: ClusterPort = {
      members: () => cluster.members(),
      join: (address) => cluster.join(address),
      forceLeave: (name, prune) => cluster.forceLeave(name, prune),
      syncStatus: () => sync.status(),
      leave: async () => {
        await (leaving ??= cluster.leave())
        requestExit(0, 'graceful leave')
      },
    }

    // Cluster listeners: serf LAN on every agent; the server port on servers (cluster.md).
    const rpc: ClusterRpc = {
      hello: () => ({
        name: config.nodeName,
        datacenter: config.datacenter,
        server: config.server,
        servers: server === null ? cluster.servers() : [serverAddress],
      }),
      introduce: (servers) => {
        cluster.introduce(servers)
      },
      explain: ({ node: name, serviceId }) => {
        if (name !== config.nodeName)
          throw new NotFoundError(`This agent is node "${config.nodeName}", not "${name}"`)
        return explainTarget(agent.read, serviceId)
      },
      server: cluster.serverRpc,
    }
    const clusterAddresses: string[] = []
    const listen = async (port: number, groups: HttpApiOptions['routes']): Promise<void> => {
      if (port <= 0) return
      const listener = await startHttpApi({
        agent,
        config: clusterListenerSettings(config, port),
        logger: logger.child({ module: 'agent.cluster' }),
        clock,
        random,
        agentRoutes: false,
        ...(groups === undefined ? {} : { routes: groups }),
        ...(server === null ? {} : { catalog: server.catalog, kv: server.catalog }),
        ...(cluster.directory === null ? {} : { servers: cluster.directory }),
      })
      started.push(() => listener.close())
      clusterAddresses.push(...listener.addresses)
    }
    const lan = (): RouteSpec[] => guarded(clusterLanRoutes(rpc), allowClusterTraffic)
    await listen(config.ports.serfLan, [lan])
    // `/v1/snapshot` on this server, for its HTTP API and for client agents forwarding to it.
    const serverSnapshots = (role: ServerRole): ((deps: RouteDeps) => RouteSpec[]) =>
      snapshotRoutes({
        snapshots: role.snapshots,
        afterRestore: () => registerServerNode(role.catalog, node(), config.ports.server),
      })
    if (server !== null) {
      const snapshots = serverSnapshots(server)
      await listen(config.ports.server, [
        lan,
        (deps) =>
          guarded(
            [
              ...clusterServerRoutes(rpc),
              ...statusRoutes(deps),
              ...CATALOG_ROUTES.flatMap((g) => g(deps)),
              ...snapshots(deps),
            ],
            allowClusterTraffic,
          ),
      ])
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
      cluster: clusterPort,
      ...(server === null
        ? {
            localStatus: false,
            routes: [
              () =>
                forwardedRoutes(cluster.forwarder, {
                  logger: logger.child({ module: 'agent.client.forward' }),
                  maxQueryTimeMs: config.maxQueryTimeMs,
                }),
              eventRoutes({ buffer: events, sink: cluster.eventSink }),
            ],
          }
        : {
            catalog: server.catalog,
            kv: server.catalog,
            ...(cluster.directory === null ? {} : { servers: cluster.directory }),
            routes: [
              ...CATALOG_ROUTES,
              eventRoutes({ buffer: events, sink: cluster.eventSink }),
              serverSnapshots(server),
            ],
          }),
    })
    started.push(() => api.close())

    if (config.retryJoin.length > 0) {
      void cluster
        .retryJoin(config.retryJoin, { intervalMs: config.retryIntervalMs, max: config.retryMax })
        .then((joined) => {
          if (!joined && !cluster.closed) requestExit(1, 'max join retry exhausted, exiting')
        })
    }

    let dns: DnsServer | null = null
    if (config.ports.dns > 0) {
      // A server answers from its catalog; a client agent from a mirror of a server's.
      let dnsCatalog: DnsCatalog
      if (server !== null) dnsCatalog = localDnsCatalog(server.catalog)
      else {
        const mirror = new DnsMirror({
          read: cluster.dnsDump ?? (() => Promise.reject(new NoServersError())),
          clock,
          random,
          logger: logger.child({ module: 'agent.dns.mirror' }),
        })
        mirror.start()
        started.push(() => mirror.stop())
        dnsCatalog = mirror
      }
      const dnsServer = new DnsServer({
        catalog: dnsCatalog,
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
    const shutdown = (): Promise<void> => (stopped ??= stopStarted())
    return {
      agent,
      server,
      sync,
      cluster: clusterPort,
      httpAddresses: api.addresses,
      clusterAddresses: Object.freeze(clusterAddresses),
      exitRequested,
      dns,
      reload,
      leave: async () => {
        await (leaving ??= cluster.leave())
        await shutdown()
      },
      // In reverse order of start: the API first (in-flight requests answered), the cluster
      // listeners, the sync loop, membership, the agent (runners stopped), the catalog last.
      shutdown,
    }
  } catch (err) {
    await stopStarted()
    throw err
  }
}

/** The cluster listener's settings: the HTTP API's, bound to `bind_addr` at `port`, nothing extra. */
function clusterListenerSettings(config: AgentConfig, port: number): HttpApiSettings {
  return {
    ...config,
    addresses: { http: [config.bindAddr] },
    ports: { ...config.ports, http: port },
    prettyJson: false,
    uiEnabled: false,
    httpConfig: { responseHeaders: {}, blockEndpoints: [], allowWriteHttpFrom: [] },
  }
}

/** What the node needs of its cluster role, client or server alike. */
interface ClusterRole {
  readonly catalog: CatalogSyncPort
  readonly aliasReader: AliasTargetReader
  readonly serverRpc: ClusterServerRpc | null
  /** The servers sharing the store, on a server; null on a client agent. */
  readonly directory: ServerDirectory | null
  /** A client agent's reads of a server's DNS dump; null on a server. */
  readonly dnsDump: DnsDumpReader | null
  readonly forwarder: Forwarder
  /** Where user events fired on this agent go: the server's stream, or forwarded to a server. */
  readonly eventSink: EventSink
  readonly closed: boolean
  members(): readonly Member[]
  servers(): readonly ServerAddress[]
  join(address: string): Promise<number>
  retryJoin(addresses: readonly string[], opts: { intervalMs: number; max: number }): Promise<boolean>
  introduce(servers: readonly ServerAddress[]): void
  leave(): Promise<void>
  forceLeave(name: string, prune: boolean): Promise<void>
  onServerChange(fn: () => void): void
  close(): Promise<void>
}

function startClient(o: {
  config: AgentConfig
  log: NodeLogger
  clock: Clock
  random: () => number
  transport: ClusterTransport
  self: () => Member
  node: () => NodeInfo
  events: EventBuffer
}): ClusterRole {
  let onChange: () => void = () => undefined
  let closed = false
  const client = new ClusterClient({
    transport: o.transport,
    clock: o.clock,
    random: o.random,
    logger: o.log,
    self: o.self,
    node: o.node,
    defaultJoinPort: SERF_LAN_DEFAULT_PORT,
    livenessTimeoutMs: o.config.memberLivenessTimeoutMs,
    onServerChange: () => {
      onChange()
    },
    onEvents: (list) => {
      for (const e of list) o.events.deliver(e)
    },
  })
  client.start()
  return {
    catalog: remoteCatalogPort(client),
    aliasReader: remoteAliasReader(client),
    serverRpc: null,
    directory: null,
    dnsDump: remoteDnsDump(client),
    forwarder: client,
    eventSink: {
      // The event comes back, with the datacenter's Lamport time, in a heartbeat answer.
      deliver: async (event) => {
        await client.rpc('POST', '/event/fire', encodeUserEvent(event), { timeoutMs: 5_000 })
        client.heartbeatSoon()
      },
    },
    get closed() {
      return closed
    },
    members: () => client.members(),
    servers: () => client.servers(),
    join: (address) => client.join([address]),
    retryJoin: (addresses, opts) => client.retryJoin(addresses, opts),
    introduce: (servers) => {
      client.introduce(servers)
    },
    leave: () => client.leave(),
    forceLeave: (name, prune) => client.forceLeave(name, prune),
    onServerChange: (fn) => {
      onChange = fn
    },
    close: async () => {
      closed = true
      await client.close()
    },
  }
}

async function startMembership(o: {
  config: AgentConfig
  server: ServerRole
  log: NodeLogger
  clock: Clock
  self: () => Member
  serverAddress: ServerAddress
  node: NodeInfo
  events: EventBuffer
}): Promise<ClusterRole> {
  await registerServerNode(o.server.catalog, o.node, o.config.ports.server)
  const stream = new EventStream({
    onAppend: (e) => {
      o.events.deliver(e)
    },
  })
  const serverCluster = await startServerCluster({
    catalog: o.server.catalog,
    store: o.server.store,
    clock: o.clock,
    self: o.self,
    selfNode: () => o.node,
    address: o.serverAddress,
    info: { ...o.serverAddress, id: o.node.id, version: VIGIL_VERSION },
    livenessTimeoutMs: o.config.memberLivenessTimeoutMs,
    reconnectTimeoutMs: o.config.reconnectTimeoutMs,
    logger: o.log,
    epoch: randomUUID(),
    events: stream,
  })
  const { membership, session } = serverCluster
  const eventSink = serverCluster.eventSink ?? stream
  const catalog = localCatalogPort(o.server.catalog)
  const aliasReader = catalogAliasReader(o.server.catalog)
  let closed = false
  const join = async (address: string): Promise<number> => {
    // A server joining an agent: tell it about this server, so it starts heartbeating here.
    const at = parseJoinAddress(address, SERF_LAN_DEFAULT_PORT)
    if (at === undefined)
      throw new JoinError(`1 error occurred:\n\t* Failed to join ${address}: invalid address\n\n`)
    try {
      await callJson(
        httpTransport,
        at,
        'POST',
        `${CLUSTER_PREFIX}/introduce`,
        { servers: [o.serverAddress] },
        { timeoutMs: 5_000 },
      )
    } catch (err) {
      throw new JoinError(
        `1 error occurred:\n\t* Failed to join ${endpointText(at)}: ${errorMessage(err)}\n\n`,
      )
    }
    return 1
  }
  return {
    catalog,
    aliasReader,
    serverRpc: {
      heartbeat: (req) => membership.heartbeatJson(req),
      leave: (name) => membership.leave(name),
      forceLeave: (name, prune) => membership.forceLeave(name, prune),
      catalog,
      aliasReader,
      dnsDump: catalogDnsDump(o.server.catalog),
      fireEvent: (event) => eventSink.deliver(event),
    },
    dnsDump: null,
    directory: session,
    eventSink,
    forwarder: { forward: () => Promise.reject(new NoServersError()) },
    get closed() {
      return closed
    },
    members: () => membership.members(),
    servers: () => membership.servers(),
    join,
    retryJoin: async (addresses, opts) => {
      // A lone server has nobody to wait for: it joins what answers and carries on.
      for (let attempt = 1; !closed; attempt++) {
        const results = await Promise.allSettled(addresses.map(join))
        if (results.some((r) => r.status === 'fulfilled')) return true
        if (opts.max > 0 && attempt >= opts.max) return false
        await o.clock.sleep(opts.intervalMs)
      }
      return false
    },
    introduce: () => undefined,
    leave: () => Promise.resolve(),
    forceLeave: (name, prune) => membership.forceLeave(name, prune),
    onServerChange: () => undefined,
    close: async () => {
      closed = true
      await serverCluster.close()
    },
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

/**
 * A port whose implementation is bound later: calls made before `bind` wait for it (or for their
 * signal to abort); later calls go straight to it.
 */
function lateBound(): { port: AliasTargetReader; bind(impl: AliasTargetReader): void } {
  let current: AliasTargetReader | undefined
  const waiters = new Set<() => void>()
  const ready = (signal: AbortSignal): Promise<AliasTargetReader> => {
    if (current !== undefined) return Promise.resolve(current)
    return new Promise<AliasTargetReader>((resolve, reject) => {
      const onAbort = (): void => {
        waiters.delete(wake)
        reject(signal.reason as Error)
      }
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort)
        if (current !== undefined) resolve(current)
      }
      if (signal.aborted) {
        reject(signal.reason as Error)
        return
      }
      waiters.add(wake)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
  return {
    port: { nodeHealth: async (node, opts) => (await ready(opts.signal)).nodeHealth(node, opts) },
    bind: (impl) => {
      current = impl
      for (const wake of [...waiters]) wake()
      waiters.clear()
    },
  }
}
