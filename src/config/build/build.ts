/**
 * A merged config tree → `AgentConfig`: every section read, defaulted and validated; problems
 * and warnings are collected in the load report, never thrown.
 */
import type { AgentConfig, LogLevel } from '../agent-config.js'
import { isCidr } from '../network.js'
import type { Tree } from '../schema.js'
import { readAcl } from './acl.js'
import { readAddresses } from './addresses.js'
import { readDnsConfig } from './dns.js'
import type { BuildContext } from './context.js'
import { readIdentity } from './identity.js'
import { readPorts } from './ports.js'
import { TreeReader } from './reader.js'
import { readRoles } from './roles.js'
import { readStore } from './store.js'
import { readUi } from './ui.js'

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error']

export function buildAgentConfig(tree: Tree, ctx: BuildContext): AgentConfig {
  const { dev, report } = ctx
  const { problems, warnings } = report
  const r = new TreeReader(tree, warnings)
  const roles = readRoles(r, ctx)
  const identity = readIdentity(r, ctx)
  const addresses = readAddresses(r, ctx)
  const ports = readPorts(r, ctx)

  // logging
  const rawLevel = r.str('log_level', 'INFO')
  const logLevel = LOG_LEVELS.find((l) => l === rawLevel.toLowerCase())
  if (logLevel === undefined) {
    problems.push(
      `Invalid log level: ${JSON.stringify(rawLevel)}. Valid log levels are: [TRACE DEBUG INFO WARN ERROR]`,
    )
  }

  // checks
  const checkOutputMaxSize = r.num('check_output_max_size', 4096)
  if (checkOutputMaxSize < 1) {
    problems.push(
      'check_output_max_size must be positive, to discard check output use the discard_check_output flag',
    )
  }
  const enableScriptChecks = r.bool('enable_script_checks')
  const ui = readUi(r, ctx)
  const acl = readAcl(r, ctx)

  // HTTP
  const allowWriteHttpFrom = r.strs('http_config.allow_write_http_from').map((c) => c.trim())
  for (const c of allowWriteHttpFrom)
    if (!isCidr(c)) problems.push(`allow_write_http_from: invalid cidr: ${c}`)
  const rpcRate = r.num('limits.rpc_rate', -1)

  const encrypt = r.str('encrypt')
  if (encrypt !== '' && !isGossipKey(encrypt)) {
    problems.push('encrypt has invalid key: must be a base64-encoded 16, 24 or 32-byte key')
  }

  if (report.ignored.size > 0) {
    warnings.push(
      `vigil accepts but does not implement these settings yet; they have no effect: ${[...report.ignored].join(', ')}`,
    )
  }

  return {
    dev,
    ...roles,
    ...identity,
    ...addresses,
    ports,
    retryJoin: [...r.strs('retry_join'), ...r.strs('start_join')],
    retryIntervalMs: r.num('retry_interval', 30_000),
    retryMax: r.num('retry_max', 0),
    rejoinAfterLeave: r.bool('rejoin_after_leave'),
    reconnectTimeoutMs: r.num('reconnect_timeout', 72 * 3_600_000),
    memberLivenessTimeoutMs: r.num('member_liveness_timeout', 10_000),
    pidFile: r.str('pid_file'),
    logLevel: logLevel ?? 'info',
    logJson: r.bool('log_json'),
    logFile: r.str('log_file'),
    enableScriptChecks,
    enableLocalScriptChecks: r.optBool('enable_local_script_checks') ?? enableScriptChecks,
    checkOutputMaxSize,
    checkUpdateIntervalMs: r.num('check_update_interval', 5 * 60_000),
    discardCheckOutput: r.bool('discard_check_output'),
    aliasReconcileIntervalMs: r.num('alias_reconcile_interval', 60_000),
    prettyJson: dev,
    ...ui,
    defaultQueryTimeMs: r.num('default_query_time', 300_000),
    maxQueryTimeMs: r.num('max_query_time', 600_000),
    discoveryMaxStaleMs: r.num('discovery_max_stale', 0),
    sessionTtlMinMs: r.num('session_ttl_min', 10_000),
    ...readStore(r, ctx, identity.datacenter),
    limits: {
      httpMaxConnsPerClient: r.num('limits.http_max_conns_per_client', 200),
      kvMaxValueSize: r.num('limits.kv_max_value_size', 524288),
      txnMaxReqLen: r.num('limits.txn_max_req_len', 524288),
      rpcRate: rpcRate < 0 ? Infinity : rpcRate,
      rpcMaxBurst: r.num('limits.rpc_max_burst', 1000),
    },
    httpConfig: {
      responseHeaders: r.smap('http_config.response_headers'),
      blockEndpoints: r.strs('http_config.block_endpoints'),
      allowWriteHttpFrom,
      useCache: r.bool('http_config.use_cache', true),
    },
    aclEnabled: r.bool('acl.enabled'),
    ...acl,
    aclEnableTokenPersistence: r.bool('acl.enable_token_persistence'),
    leaveOnTerminate: r.optBool('leave_on_terminate') ?? !roles.server,
    skipLeaveOnInterrupt: r.optBool('skip_leave_on_interrupt') ?? roles.server,
    disableUpdateCheck: r.bool('disable_update_check'),
    disableRemoteExec: r.bool('disable_remote_exec', true),
    disableHostNodeId: r.bool('disable_host_node_id', true),
    enableDebug: r.bool('enable_debug'),
    disableHttpUnprintableCharFilter: r.bool('disable_http_unprintable_char_filter'),
    disableKvKeyValidation: r.bool('disable_kv_key_validation'),
    connectEnabled: r.bool('connect.enabled', true),
    encrypt,
    domain: r.str('domain', 'consul.'),
    altDomain: r.str('alt_domain'),
    recursors: r.strs('recursors'),
    dnsConfig: readDnsConfig(r, ctx),
    telemetry: {
      prometheusRetentionTimeMs: r.num('telemetry.prometheus_retention_time', 0),
      disableHostname: r.bool('telemetry.disable_hostname'),
      metricsPrefix: r.str('telemetry.metrics_prefix', 'consul'),
    },
    autoReloadConfig: r.bool('auto_reload_config'),
    translateWanAddrs: r.bool('translate_wan_addrs'),
    services: r.definitions('services'),
    checks: r.definitions('checks'),
    watches: r.definitions('watches'),
    configFiles: ctx.configFiles,
    warnings,
  }
}

function isGossipKey(key: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) return false
  return [16, 24, 32].includes(Buffer.from(key, 'base64').length)
}
