/**
 * The agent's runtime configuration: one typed, validated, deep-frozen object built by
 * `loadConfig` from defaults, `-dev` defaults, config files, `-hcl` fragments and flags
 * (cli.md §2–§5). Durations are milliseconds; disabled ports are -1.
 */

import type { LogLevel } from '../lib/log.js'

export type { LogLevel }

/** A service or check definition from a config source, as written; `source` names the file. */
export type ConfigDefinition = Readonly<{ source: string; definition: unknown }>

export interface PortsConfig {
  readonly http: number
  readonly https: number
  readonly dns: number
  readonly grpc: number
  readonly grpcTls: number
  readonly serfLan: number
  readonly serfWan: number
  readonly server: number
  readonly sidecarMinPort: number
  readonly sidecarMaxPort: number
  readonly exposeMinPort: number
  readonly exposeMaxPort: number
}

/** The IPs (or `unix://` paths) each client listener binds: `addresses.<x>` or `client_addr`. */
export interface ListenerAddresses {
  readonly http: readonly string[]
  readonly https: readonly string[]
  readonly dns: readonly string[]
  readonly grpc: readonly string[]
  readonly grpcTls: readonly string[]
}

export interface LimitsConfig {
  readonly httpMaxConnsPerClient: number
  readonly kvMaxValueSize: number
  readonly txnMaxReqLen: number
  /** Requests per second; `Infinity` when unlimited (`rpc_rate = -1`). */
  readonly rpcRate: number
  readonly rpcMaxBurst: number
}

export interface HttpConfig {
  readonly responseHeaders: Readonly<Record<string, string>>
  readonly blockEndpoints: readonly string[]
  /** CIDRs; when non-empty, non-GET requests from elsewhere are refused. */
  readonly allowWriteHttpFrom: readonly string[]
  readonly useCache: boolean
}

export interface AclTokensConfig {
  readonly initialManagement: string
  readonly default: string
  readonly agent: string
  readonly agentRecovery: string
  readonly replication: string
}

export interface TelemetryConfig {
  /** 0 disables the Prometheus format of `/v1/agent/metrics`. */
  readonly prometheusRetentionTimeMs: number
  readonly disableHostname: boolean
  readonly metricsPrefix: string
}

/** Consul's `dns_config` (agent/config `DNS*` fields); durations in milliseconds. */
export interface DnsConfig {
  readonly allowStale: boolean
  readonly maxStaleMs: number
  readonly nodeTtlMs: number
  /** Service name, or prefix ending in `*` (`*` alone: every service) → TTL. */
  readonly serviceTtlMs: Readonly<Record<string, number>>
  readonly onlyPassing: boolean
  /** 0: no limit. */
  readonly aRecordLimit: number
  readonly udpAnswerLimit: number
  readonly enableTruncate: boolean
  readonly enableAdditionalNodeMetaTxt: boolean
  readonly recursorStrategy: 'sequential' | 'random'
  readonly recursorTimeoutMs: number
  readonly soa: Readonly<{ refresh: number; retry: number; expire: number; minTtl: number }>
}

/** Where a server keeps its catalog (`store` block, `-store`, `-etcd-*` flags; vigil's own keys). */
export interface StoreConfig {
  /** `embedded` (default): on local disk under the data dir; `etcd`: on an etcd cluster. */
  readonly backend: 'embedded' | 'etcd'
  readonly etcd: EtcdConfig
}

export interface EtcdConfig {
  /** Client URLs, all `http://` or all `https://`. */
  readonly endpoints: readonly string[]
  /** The catalog's key prefix in etcd (default `/vigil/<datacenter>`). */
  readonly prefix: string
  /** PEM files; "" when unset. */
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
}

export interface AgentConfig {
  readonly dev: boolean
  readonly server: boolean
  /** True with `-bootstrap` (or `bootstrap_expect = 1`), and in `-dev`. */
  readonly bootstrap: boolean
  readonly bootstrapExpect: number
  /** "" in `-dev` without `-data-dir`: nothing is written then. */
  readonly dataDir: string
  readonly nodeName: string
  /** Lower-case UUID, or "" when the agent must generate (and persist) one. */
  readonly nodeId: string
  readonly nodeMeta: Readonly<Record<string, string>>
  readonly datacenter: string
  readonly primaryDatacenter: string
  readonly bindAddr: string
  /** The LAN address told to others (member `Addr`, node `Address`). */
  readonly advertiseAddr: string
  readonly advertiseAddrWan: string
  readonly clientAddrs: readonly string[]
  readonly addresses: ListenerAddresses
  readonly ports: PortsConfig
  /** LAN join addresses (`ADDR[:port]`): `-join`, `-retry-join`, `start_join`, `retry_join`. */
  readonly retryJoin: readonly string[]
  readonly retryIntervalMs: number
  readonly retryMax: number
  readonly rejoinAfterLeave: boolean
  readonly reconnectTimeoutMs: number
  /**
   * How long a server waits for a member's heartbeat before it marks the member failed and its
   * `serfHealth` critical (vigil's own key `member_liveness_timeout`, default 10 s).
   */
  readonly memberLivenessTimeoutMs: number
  /** "" when no pid file is wanted. */
  readonly pidFile: string
  readonly logLevel: LogLevel
  readonly logJson: boolean
  readonly logFile: string
  readonly enableScriptChecks: boolean
  readonly enableLocalScriptChecks: boolean
  readonly checkOutputMaxSize: number
  readonly checkUpdateIntervalMs: number
  readonly discardCheckOutput: boolean
  /** How often every alias check re-reconciles without a notification (vigil's own key). */
  readonly aliasReconcileIntervalMs: number
  /** Every JSON response indented as with `?pretty` (true in `-dev`). */
  readonly prettyJson: boolean
  readonly uiEnabled: boolean
  readonly uiDir: string
  readonly uiContentPath: string
  readonly defaultQueryTimeMs: number
  readonly maxQueryTimeMs: number
  readonly discoveryMaxStaleMs: number
  readonly sessionTtlMinMs: number
  readonly store: StoreConfig
  readonly limits: LimitsConfig
  readonly httpConfig: HttpConfig
  readonly aclEnabled: boolean
  readonly aclDefaultPolicy: 'allow' | 'deny'
  readonly aclDownPolicy: string
  readonly aclEnableTokenPersistence: boolean
  readonly aclTokens: AclTokensConfig
  /** SIGTERM leaves gracefully (exit 0) when true, else exits 1. */
  readonly leaveOnTerminate: boolean
  /** SIGINT exits 1 without a graceful leave when true. */
  readonly skipLeaveOnInterrupt: boolean
  readonly disableUpdateCheck: boolean
  readonly disableRemoteExec: boolean
  readonly disableHostNodeId: boolean
  readonly enableDebug: boolean
  readonly disableHttpUnprintableCharFilter: boolean
  readonly disableKvKeyValidation: boolean
  readonly connectEnabled: boolean
  readonly encrypt: string
  readonly domain: string
  readonly altDomain: string
  readonly recursors: readonly string[]
  readonly dnsConfig: DnsConfig
  readonly telemetry: TelemetryConfig
  readonly autoReloadConfig: boolean
  readonly translateWanAddrs: boolean
  /** Service definitions from config sources (`service` = one, `services` = list), in order. */
  readonly services: readonly ConfigDefinition[]
  /** Check definitions from config sources (`check` = one, `checks` = list), in order. */
  readonly checks: readonly ConfigDefinition[]
  readonly watches: readonly ConfigDefinition[]
  /** The config files that were read, in load order (for reload and error messages). */
  readonly configFiles: readonly string[]
  /** Non-fatal findings to log at start (deprecations, accepted-but-unused settings). */
  readonly warnings: readonly string[]
}
