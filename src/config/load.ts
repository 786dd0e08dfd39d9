/**
 * `loadConfig`: the `vigil agent` command line → one validated, deep-frozen {@link AgentConfig}
 * (cli.md §2–§5). Sources merge in this order: built-in defaults, `-dev` defaults,
 * `-config-file`/`-config-dir` in command-line order (a directory's files by name), `-hcl`
 * fragments, then the other flags; scalars later-wins, lists appended, maps merged. Every
 * problem found is reported at once in a {@link ConfigError}.
 */
import { statSync } from 'node:fs'
import { hostname as osHostname, networkInterfaces as osNetworkInterfaces } from 'node:os'
import { ConfigError } from '../lib/errors.js'
import type { AgentConfig, ConfigDefinition, LogLevel } from './agent-config.js'
import { parseFlags, type FlagDef, type FlagSet, type ParsedFlags } from './flags.js'
import {
  AddressTemplateError,
  expandAddrTemplate,
  isAnyAddr,
  isCidr,
  parseIp,
  privateIPv4s,
  publicIPv6s,
  type InterfaceTable,
} from './network.js'
import { isPlainObject, mergeTrees, normalizeSource, type Tree } from './schema.js'
import { buildDnsConfig } from './dns-config.js'
import {
  newReport,
  parseConfigText,
  readConfigPath,
  type ConfigFormat,
  type LoadReport,
  type Source,
} from './sources.js'

/** Host facts `loadConfig` reads; tests replace them. */
export interface LoadEnvironment {
  readonly hostname?: () => string
  readonly networkInterfaces?: () => InterfaceTable
}

type AgentFlag = FlagDef & { readonly key?: string }

const f = (
  name: string,
  type: FlagDef['type'],
  usage: string,
  key?: string,
  placeholder?: string,
): AgentFlag => ({
  name,
  type,
  usage,
  ...(key === undefined ? {} : { key }),
  ...(placeholder === undefined ? {} : { placeholder }),
})

/** The `agent` flags (cli.md §2); `key` is the config key a flag sets. */
const agentFlagTable: readonly AgentFlag[] = [
  f('advertise', 'string', 'Sets the advertise address to use.', 'advertise_addr', 'ip'),
  f(
    'advertise-wan',
    'string',
    'Sets address to advertise on WAN instead of -advertise address.',
    'advertise_addr_wan',
    'ip',
  ),
  f(
    'allow-write-http-from',
    'list',
    'Only allow write endpoint calls from given network. CIDR format, can be specified multiple times.',
    'http_config.allow_write_http_from',
    'cidr',
  ),
  f('alt-domain', 'string', 'Alternate domain to use for DNS interface.', 'alt_domain', 'domain'),
  f(
    'auto-reload-config',
    'bool',
    'Watches config files for changes and auto reloads the files when modified.',
    'auto_reload_config',
  ),
  f('bind', 'string', 'Sets the bind address for cluster communication.', 'bind_addr', 'ip'),
  f('bootstrap', 'bool', 'Sets server to bootstrap mode.', 'bootstrap'),
  f('bootstrap-expect', 'int', 'Sets server to expect bootstrap mode.', 'bootstrap_expect', 'n'),
  f(
    'check_output_max_size',
    'int',
    'Sets the maximum output size for checks on this agent.',
    'check_output_max_size',
    'bytes',
  ),
  f(
    'client',
    'string',
    'Sets the address to bind for client access. This includes DNS, HTTP, HTTPS and gRPC (if configured).',
    'client_addr',
    'ip',
  ),
  f(
    'config-dir',
    'list',
    "Path to a directory to read configuration files from. This will read every file ending in '.json' or '.hcl' as configuration in this directory in alphabetical order. Can be specified multiple times.",
    undefined,
    'path',
  ),
  f(
    'config-file',
    'list',
    'Path to a file in JSON or HCL format with a matching file extension. Can be specified multiple times.',
    undefined,
    'path',
  ),
  f(
    'config-format',
    'string',
    "Config files are in this format irrespective of their extension. Must be 'hcl' or 'json'.",
    undefined,
    'format',
  ),
  f('data-dir', 'string', 'Path to a data directory to store agent state.', 'data_dir', 'path'),
  f('datacenter', 'string', 'Datacenter of the agent.', 'datacenter', 'name'),
  f(
    'default-query-time',
    'duration',
    'The amount of time a blocking query will wait before Consul will force a response. This value can be overridden by the "wait" query parameter.',
    'default_query_time',
    'duration',
  ),
  f('dev', 'bool', 'Starts the agent in development mode.'),
  f(
    'disable-host-node-id',
    'bool',
    'Setting this to true will prevent the agent from using information from the host to generate a node ID, and will cause it to generate a random node ID instead.',
    'disable_host_node_id',
  ),
  f(
    'disable-keyring-file',
    'bool',
    'Disables the backing up of the keyring to a file.',
    'disable_keyring_file',
  ),
  f('dns-port', 'int', 'DNS port to use.', 'ports.dns', 'port'),
  f('domain', 'string', 'Domain to use for DNS interface.', 'domain', 'domain'),
  f(
    'enable-local-script-checks',
    'bool',
    'Enables health check scripts from configuration file.',
    'enable_local_script_checks',
  ),
  f('enable-script-checks', 'bool', 'Enables health check scripts.', 'enable_script_checks'),
  f('encrypt', 'string', 'Provides the gossip encryption key.', 'encrypt', 'key'),
  f('grpc-port', 'int', 'Sets the gRPC API port to listen on.', 'ports.grpc', 'port'),
  f('grpc-tls-port', 'int', 'Sets the gRPC-TLS API port to listen on.', 'ports.grpc_tls', 'port'),
  f('hcl', 'list', 'hcl config fragment. Can be specified multiple times.', undefined, 'hcl'),
  f('http-port', 'int', 'Sets the HTTP API port to listen on.', 'ports.http', 'port'),
  f('https-port', 'int', 'Sets the HTTPS API port to listen on.', 'ports.https', 'port'),
  f(
    'join',
    'list',
    'Address of an agent to join at start time. Can be specified multiple times.',
    'start_join',
    'address',
  ),
  f(
    'join-wan',
    'list',
    'Address of an agent to join -wan at start time. Can be specified multiple times.',
    'start_join_wan',
    'address',
  ),
  f('log-file', 'string', 'Path to the file the logs get written to.', 'log_file', 'path'),
  f('log-json', 'bool', 'Output logs in JSON format.', 'log_json'),
  f('log-level', 'string', 'Log level of the agent.', 'log_level', 'level'),
  f(
    'log-rotate-bytes',
    'int',
    'Maximum number of bytes that should be written to a log file.',
    'log_rotate_bytes',
    'bytes',
  ),
  f(
    'log-rotate-duration',
    'duration',
    'Time after which log rotation needs to be performed.',
    'log_rotate_duration',
    'duration',
  ),
  f(
    'log-rotate-max-files',
    'int',
    'Maximum number of log file archives to keep.',
    'log_rotate_max_files',
    'n',
  ),
  f(
    'max-query-time',
    'duration',
    'The maximum amount of time a blocking query can wait before Consul will force a response.',
    'max_query_time',
    'duration',
  ),
  f('node', 'string', 'Name of this node. Must be unique in the cluster.', 'node_name', 'name'),
  f(
    'node-id',
    'string',
    'A unique ID for this node across space and time. Defaults to a randomly-generated ID that persists in the data-dir.',
    'node_id',
    'uuid',
  ),
  f(
    'node-meta',
    'list',
    'An arbitrary metadata key/value pair for this node, of the format `key:value`. Can be specified multiple times.',
    undefined,
    'key:value',
  ),
  f('non-voting-server', 'bool', '(Enterprise-only) Accepted and ignored.', 'non_voting_server'),
  f('pid-file', 'string', 'Path to file to store agent PID.', 'pid_file', 'path'),
  f(
    'primary-gateway',
    'list',
    'Address of a mesh gateway in the primary datacenter. Can be specified multiple times.',
    'primary_gateways',
    'address',
  ),
  f('protocol', 'int', 'Sets the protocol version. Defaults to latest.', 'protocol', 'n'),
  f('raft-protocol', 'int', 'Sets the Raft protocol version. Defaults to latest.', 'raft_protocol', 'n'),
  f('read-replica', 'bool', '(Enterprise-only) Accepted and ignored.', 'read_replica'),
  f(
    'recursor',
    'list',
    'Address of an upstream DNS server. Can be specified multiple times.',
    'recursors',
    'address',
  ),
  f('rejoin', 'bool', 'Ignores a previous leave and attempts to rejoin the cluster.', 'rejoin_after_leave'),
  f('retry-interval', 'duration', 'Time to wait between join attempts.', 'retry_interval', 'duration'),
  f(
    'retry-interval-wan',
    'duration',
    'Time to wait between join -wan attempts.',
    'retry_interval_wan',
    'duration',
  ),
  f(
    'retry-join',
    'list',
    'Address of an agent to join at start time with retries enabled. Can be specified multiple times.',
    'retry_join',
    'address',
  ),
  f(
    'retry-join-wan',
    'list',
    'Address of an agent to join -wan at start time with retries enabled. Can be specified multiple times.',
    'retry_join_wan',
    'address',
  ),
  f(
    'retry-max',
    'int',
    'Maximum number of join attempts. Defaults to 0, which will retry indefinitely.',
    'retry_max',
    'n',
  ),
  f(
    'retry-max-wan',
    'int',
    'Maximum number of join -wan attempts. Defaults to 0, which will retry indefinitely.',
    'retry_max_wan',
    'n',
  ),
  f('segment', 'string', '(Enterprise-only) Accepted and ignored.', 'segment', 'name'),
  f('serf-lan-bind', 'string', 'Address to bind Serf LAN listeners to.', 'serf_lan', 'ip'),
  f('serf-lan-port', 'int', 'Sets the Serf LAN port to listen on.', 'ports.serf_lan', 'port'),
  f('serf-wan-bind', 'string', 'Address to bind Serf WAN listeners to.', 'serf_wan', 'ip'),
  f('serf-wan-port', 'int', 'Sets the Serf WAN port to listen on.', 'ports.serf_wan', 'port'),
  f('server', 'bool', 'Switches agent to server mode.', 'server'),
  f('server-port', 'int', 'Sets the server port to listen on.', 'ports.server', 'port'),
  f('syslog', 'bool', 'Enables logging to syslog.', 'enable_syslog'),
  f('ui', 'bool', 'Enables the built-in static web UI server.', 'ui_config.enabled'),
  f(
    'ui-content-path',
    'string',
    'Sets the external UI path to a string. Defaults to: /ui/',
    'ui_config.content_path',
    'path',
  ),
  f('ui-dir', 'string', 'Path to directory containing the web UI resources.', 'ui_config.dir', 'path'),
]

/** The `vigil agent` flag set (for usage output and parsing). */
export const agentFlagSet: FlagSet = {
  usageLine: 'vigil agent [options]',
  help: 'Starts the vigil agent and runs until an interrupt is received. The\nagent represents a single node in a cluster.',
  groups: [{ title: 'Command Options', flags: agentFlagTable }],
}

const JOIN_FLAGS = new Set(['join', 'retry-join', 'join-wan', 'retry-join-wan'])
const JOIN_KEYS = ['retry_join', 'start_join', 'retry_join_wan', 'start_join_wan'] as const

const DEV_DEFAULTS = {
  bind_addr: '127.0.0.1',
  disable_anonymous_signature: true,
  disable_keyring_file: true,
  enable_debug: true,
  ui_config: { enabled: true },
  log_level: 'DEBUG',
  server: true,
  connect: { enabled: true },
  ports: { grpc: 8502 },
}

/**
 * Builds the agent configuration from `vigil agent` arguments (without the `agent` word).
 * Throws `FlagError`/`HelpRequested` for a command line that does not parse, and
 * {@link ConfigError} listing every problem of a configuration that is not valid.
 */
export function loadConfig(argv: readonly string[], env: LoadEnvironment = {}): AgentConfig {
  const flags = parseFlags(agentFlagSet, argv)
  const report = newReport()
  if (flags.args.length > 0) report.problems.push(`Unexpected extra arguments: [${flags.args.join(' ')}]`)

  const dev = flags.values.get('dev') === true
  const formatFlag = flags.values.get('config-format')
  let format: ConfigFormat | undefined
  if (typeof formatFlag === 'string' && formatFlag !== '') {
    if (formatFlag === 'json' || formatFlag === 'hcl') format = formatFlag
    else report.problems.push("config: -config-format must be either 'hcl' or 'json'")
  }

  const sources: Source[] = []
  if (dev)
    sources.push({ name: 'dev defaults', tree: normalizeSource(DEV_DEFAULTS, 'dev defaults', newReport()) })
  const configFiles: string[] = []
  const fileSources: Source[] = []
  for (const occ of flags.occurrences) {
    if (occ.name !== 'config-file' && occ.name !== 'config-dir') continue
    const { sources: read, files } = readConfigPath(String(occ.value), format, report)
    fileSources.push(...read)
    configFiles.push(...files)
  }
  sources.push(...fileSources)
  const fragments = flags.occurrences.filter((o) => o.name === 'hcl')
  fragments.forEach((occ, n) => {
    const src = parseConfigText(String(occ.value), 'hcl', `-hcl fragment ${n + 1}`, report)
    if (src !== undefined) sources.push(src)
  })
  sources.push({
    name: 'command-line flags',
    tree: normalizeSource(flagsToDocument(flags), 'command-line flags', report),
  })

  const joins = [
    ...flags.occurrences.filter((o) => JOIN_FLAGS.has(o.name)).map((o) => `-${o.name} ${String(o.value)}`),
    ...sources
      .filter((s) => s.name !== 'command-line flags')
      .flatMap((s) =>
        JOIN_KEYS.flatMap((k) => ((s.tree[k] as string[] | undefined) ?? []).map((a) => `${k} ${a}`)),
      ),
  ]
  if (joins.length > 0) {
    report.problems.push(
      `vigil does not support joining a cluster yet (${joins.join(' ')}): run a single agent, e.g. vigil agent -dev`,
    )
  }

  const merged = mergeTrees(sources.map((s) => s.tree))
  const config = build(merged, { dev, configFiles, report, env })
  if (report.problems.length > 0) throw new ConfigError(report.problems)
  return deepFreeze(config)
}

/** The flags that set config keys, as a config document (`a.b` keys nested). */
function flagsToDocument(flags: ParsedFlags): Record<string, unknown> {
  const byName = new Map(agentFlagTable.map((d) => [d.name, d]))
  const doc: Record<string, unknown> = {}
  for (const [name, value] of flags.values) {
    const def = byName.get(name)
    if (def === undefined) continue
    if (name === 'node-meta') {
      const meta: Record<string, string> = {}
      for (const pair of value as readonly string[]) {
        const colon = pair.indexOf(':')
        const key = colon === -1 ? pair : pair.slice(0, colon)
        Object.defineProperty(meta, key, {
          value: colon === -1 ? '' : pair.slice(colon + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        })
      }
      doc['node_meta'] = meta
      continue
    }
    if (def.key === undefined) continue
    const path = def.key.split('.')
    let target = doc
    for (const part of path.slice(0, -1)) {
      const next = target[part]
      target = isPlainObject(next) ? next : (target[part] = {})
    }
    target[path[path.length - 1] ?? ''] = def.type === 'duration' ? `${String(value)}ms` : value
  }
  return doc
}

// ---- build and validate --------------------------------------------------------------------

interface BuildContext {
  readonly dev: boolean
  readonly configFiles: readonly string[]
  readonly report: LoadReport
  readonly env: LoadEnvironment
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error']
const BASIC_NAME = /^[a-z0-9_-]+$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const META_KEY = /^[A-Za-z0-9_-]+$/

function build(tree: Tree, ctx: BuildContext): AgentConfig {
  const { dev, report } = ctx
  const problems = report.problems
  const warnings = report.warnings
  const get = (path: string): unknown => {
    let cur: unknown = tree
    for (const part of path.split('.')) cur = isPlainObject(cur) ? cur[part] : undefined
    return cur
  }
  const str = (path: string, def = ''): string => {
    const v = get(path)
    return typeof v === 'string' ? v : def
  }
  const optStr = (path: string): string | undefined => {
    const v = get(path)
    return typeof v === 'string' ? v : undefined
  }
  const bool = (path: string, def = false): boolean => {
    const v = get(path)
    return typeof v === 'boolean' ? v : def
  }
  const optBool = (path: string): boolean | undefined => {
    const v = get(path)
    return typeof v === 'boolean' ? v : undefined
  }
  const num = (path: string, def: number): number => {
    const v = get(path)
    return typeof v === 'number' ? v : def
  }
  const strs = (path: string): string[] => {
    const v = get(path)
    return Array.isArray(v) ? (v as string[]) : []
  }
  const smap = (path: string): Record<string, string> => {
    const v = get(path)
    return isPlainObject(v) ? (v as Record<string, string>) : {}
  }
  const definitions = (path: string): ConfigDefinition[] => {
    const v = get(path)
    return Array.isArray(v) ? (v as ConfigDefinition[]) : []
  }
  const deprecated = (oldKey: string, newKey: string): void => {
    warnings.push(`The '${oldKey}' field is deprecated. Use the '${newKey}' field instead.`)
  }
  const legacy = (oldKey: string, newKey: string): string | undefined => {
    const old = optStr(oldKey)
    if (old === undefined) return optStr(newKey)
    deprecated(oldKey, newKey)
    return optStr(newKey) ?? old
  }

  // roles
  const server = bool('server')
  let bootstrap = bool('bootstrap')
  let bootstrapExpect = num('bootstrap_expect', 0)
  if (bootstrapExpect === 1) {
    bootstrap = true
    bootstrapExpect = 0
    warnings.push('BootstrapExpect is set to 1; this is the same as Bootstrap mode.')
  }
  if (bootstrap && !server) problems.push("'bootstrap = true' requires 'server = true'")
  if (bootstrapExpect < 0) {
    problems.push(`bootstrap_expect cannot be ${bootstrapExpect}. Must be greater than or equal to zero`)
  }
  if (bootstrapExpect > 0 && !server) problems.push("'bootstrap_expect > 0' requires 'server = true'")
  if (bootstrapExpect > 0 && dev) problems.push("'bootstrap_expect > 0' not allowed in dev mode")
  if (bootstrapExpect > 0 && bootstrap) {
    problems.push("'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive")
  }
  if (server && !dev && !bootstrap && bootstrapExpect === 2) {
    warnings.push(
      'bootstrap_expect = 2: A cluster with 2 servers will provide no failure tolerance. See https://www.consul.io/docs/internals/consensus.html#deployment-table',
    )
  }
  if (server && !bootstrap && bootstrapExpect > 2 && bootstrapExpect % 2 === 0) {
    warnings.push(
      'bootstrap_expect is even number: A cluster with an even number of servers does not achieve optimum fault tolerance. See https://www.consul.io/docs/internals/consensus.html#deployment-table',
    )
  }
  if (server && bootstrap && bootstrapExpect === 0)
    warnings.push('bootstrap = true: do not enable unless necessary')
  if (server && !dev && !bootstrap && bootstrapExpect > 1) {
    warnings.push(`bootstrap_expect > 0: expecting ${bootstrapExpect} servers`)
  }

  // identity
  const datacenter = str('datacenter', 'dc1').toLowerCase()
  validateBasicName('datacenter', datacenter, false, problems)
  const primaryGiven = (legacy('acl_datacenter', 'primary_datacenter') ?? '').toLowerCase()
  validateBasicName('primary_datacenter', primaryGiven, true, problems)
  const primaryDatacenter = primaryGiven || datacenter

  const dataDir = str('data_dir')
  if (dataDir === '' && !dev) problems.push('data_dir cannot be empty')
  if (dataDir !== '' && !dev) {
    try {
      if (!statSync(dataDir).isDirectory())
        problems.push(`data_dir ${JSON.stringify(dataDir)} is not a directory`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        problems.push(`Error getting info on data_dir: ${(err as Error).message}`)
      }
    }
  }

  let nodeName = str('node_name').trim()
  if (nodeName === '') {
    try {
      nodeName = (ctx.env.hostname ?? osHostname)().trim()
    } catch (err) {
      problems.push(`node_name: ${(err as Error).message}`)
    }
  }
  if (nodeName === '') problems.push('node_name cannot be empty')
  else if (/[^A-Za-z0-9-]/.test(nodeName)) {
    warnings.push(
      `Node name ${JSON.stringify(nodeName)} will not be discoverable via DNS due to invalid characters. Valid characters include all alpha-numerics and dashes.`,
    )
    if (/[\s'"`]/.test(nodeName)) {
      warnings.push(
        `Found invalid characters in node name ${JSON.stringify(nodeName)} - whitespace and quotes (', ", \`) cannot be used with auto-config.`,
      )
    }
  } else if (nodeName.length > 63) {
    warnings.push(
      `Node name ${JSON.stringify(nodeName)} will not be discoverable via DNS due to it being too long. Valid lengths are between 1 and 63 bytes.`,
    )
  }

  const nodeId = str('node_id').trim().toLowerCase()
  if (nodeId !== '' && !UUID.test(nodeId)) {
    problems.push(
      `node_id ${JSON.stringify(str('node_id'))} is invalid: ${nodeId.length !== 36 ? 'uuid string is wrong length' : 'uuid is improperly formatted'}`,
    )
  }

  const nodeMeta = smap('node_meta')
  validateNodeMeta(nodeMeta, problems)

  // addresses
  const interfaces = (): InterfaceTable => (ctx.env.networkInterfaces ?? osNetworkInterfaces)()
  const expand = (key: string, raw: string): string[] | undefined => {
    try {
      return expandAddrTemplate(raw, interfaces())
    } catch (err) {
      if (!(err instanceof AddressTemplateError)) throw err
      problems.push(`${key}: error parsing ${JSON.stringify(raw)}: ${err.message}`)
      return undefined
    }
  }
  const expandIps = (key: string, raw: string): string[] => {
    const out: string[] = []
    for (const a of expand(key, raw) ?? []) {
      if (a.startsWith('unix://')) {
        out.push(a)
        continue
      }
      const ip = parseIp(a)
      if (ip === undefined) problems.push(`${key}: invalid ip address: ${a}`)
      else out.push(ip)
    }
    return out
  }

  let bindAddr = '0.0.0.0'
  let addrsOk = true
  const bindExpanded = expand('bind_addr', str('bind_addr', '0.0.0.0'))
  if (bindExpanded === undefined) addrsOk = false
  else if (bindExpanded.length === 0) {
    problems.push('bind_addr cannot be empty')
    addrsOk = false
  } else if (bindExpanded.length > 1) {
    problems.push("bind_addr cannot contain multiple addresses. Use 'addresses.{dns,http,https}' instead.")
    addrsOk = false
  } else if ((bindExpanded[0] ?? '').startsWith('unix://')) {
    problems.push('bind_addr cannot be a unix socket')
    addrsOk = false
  } else {
    const ip = parseIp(bindExpanded[0] ?? '')
    if (ip === undefined) {
      problems.push('bind_addr must be an ip address')
      addrsOk = false
    } else bindAddr = ip
  }

  const firstIp = (key: string): string | undefined => {
    const raw = optStr(key)
    if (raw === undefined || raw === '') return undefined
    const first = expand(key, raw)?.[0]
    if (first === undefined) return undefined
    const ip = parseIp(first)
    if (ip === undefined) problems.push(`${key}: invalid ip address: ${first}`)
    return ip
  }
  const advertiseGiven = firstIp('advertise_addr')
  const advertiseWanGiven = firstIp('advertise_addr_wan')
  if (advertiseGiven !== undefined && isAnyAddr(advertiseGiven)) {
    problems.push('Advertise address cannot be 0.0.0.0, :: or [::]')
    addrsOk = false
  }
  if (advertiseWanGiven !== undefined && isAnyAddr(advertiseWanGiven)) {
    problems.push('Advertise WAN address cannot be 0.0.0.0, :: or [::]')
  }
  let advertiseAddr = advertiseGiven ?? bindAddr
  if (addrsOk && isAnyAddr(advertiseAddr)) {
    const v4 = advertiseAddr === '0.0.0.0'
    const kind = v4 ? 'private IPv4' : 'public IPv6'
    const found = v4 ? privateIPv4s(interfaces()) : publicIPv6s(interfaces())
    if (found.length === 0) problems.push(`No ${kind} address found`)
    else if (found.length > 1) {
      problems.push(`Multiple ${kind} addresses found. Please configure one with 'bind' and/or 'advertise'.`)
    } else advertiseAddr = found[0] ?? advertiseAddr
  }
  const advertiseAddrWan = advertiseWanGiven ?? advertiseAddr

  const clientAddrs = expandIps('client_addr', str('client_addr', '127.0.0.1'))
  if (clientAddrs.length === 0) {
    warnings.push(
      'client_addr is empty, client services (DNS, HTTP, HTTPS, GRPC) will not be listening for connections',
    )
  }
  const listener = (key: string): string[] => {
    const raw = optStr(`addresses.${key}`)
    return raw === undefined || raw === '' ? clientAddrs : expandIps(`addresses.${key}`, raw)
  }

  const port = (key: string, def: number): number => {
    const v = num(`ports.${key}`, def)
    if (v <= 0) return -1
    if (v > 65535) problems.push(`ports.${key}: invalid port: ${v}`)
    return v
  }
  const ports = {
    http: port('http', 8500),
    https: port('https', -1),
    dns: port('dns', 8600),
    grpc: port('grpc', -1),
    grpcTls: port('grpc_tls', -1),
    serfLan: port('serf_lan', 8301),
    serfWan: port('serf_wan', 8302),
    server: port('server', 8300),
    sidecarMinPort: port('sidecar_min_port', 21000),
    sidecarMaxPort: port('sidecar_max_port', 21255),
    exposeMinPort: port('expose_min_port', 21500),
    exposeMaxPort: port('expose_max_port', 21755),
  }
  if (ports.server <= 0) problems.push('server-port must be greater than zero')
  if (ports.serfLan <= 0) problems.push('serf-lan-port must be greater than zero')
  if (ports.sidecarMaxPort < ports.sidecarMinPort) {
    problems.push('sidecar_min_port must be less than sidecar_max_port. To disable, set both to zero.')
  }
  if (ports.exposeMaxPort < ports.exposeMinPort) {
    problems.push('expose_min_port must be less than expose_max_port. To disable, set both to zero.')
  }

  // logging
  const rawLevel = str('log_level', 'INFO')
  const logLevel = LOG_LEVELS.find((l) => l === rawLevel.toLowerCase())
  if (logLevel === undefined) {
    problems.push(
      `Invalid log level: ${JSON.stringify(rawLevel)}. Valid log levels are: [TRACE DEBUG INFO WARN ERROR]`,
    )
  }

  // checks
  const checkOutputMaxSize = num('check_output_max_size', 4096)
  if (checkOutputMaxSize < 1) {
    problems.push(
      'check_output_max_size must be positive, to discard check output use the discard_check_output flag',
    )
  }
  const enableScriptChecks = bool('enable_script_checks')

  // UI (with the pre-1.9 top-level spellings)
  if (get('ui') !== undefined) deprecated('ui', 'ui_config.enabled')
  if (get('ui_dir') !== undefined) deprecated('ui_dir', 'ui_config.dir')
  if (get('ui_content_path') !== undefined) deprecated('ui_content_path', 'ui_config.content_path')
  const uiEnabled = optBool('ui_config.enabled') ?? optBool('ui') ?? false
  const uiDir = optStr('ui_config.dir') ?? str('ui_dir')
  const uiContentPath = normalizeContentPath(
    optStr('ui_config.content_path') ?? str('ui_content_path', '/ui/'),
  )
  if (!dev && uiEnabled && uiDir !== '') {
    problems.push(
      'Both the ui_config.enabled and ui_config.dir (or -ui and -ui-dir) were specified, please provide only one.\n' +
        'If trying to use your own web UI resources, use ui_config.dir or the -ui-dir flag.\n' +
        'The web UI is included in the binary so use ui_config.enabled or the -ui flag to enable it',
    )
  }

  // ACLs
  const aclDefaultPolicy = legacy('acl_default_policy', 'acl.default_policy') ?? 'allow'
  if (aclDefaultPolicy !== 'allow' && aclDefaultPolicy !== 'deny') {
    problems.push(
      `acl.default_policy: invalid value ${JSON.stringify(aclDefaultPolicy)}: must be "allow" or "deny"`,
    )
  }
  const aclDownPolicy = legacy('acl_down_policy', 'acl.down_policy') ?? 'extend-cache'
  if (!['allow', 'deny', 'extend-cache', 'async-cache'].includes(aclDownPolicy)) {
    problems.push(
      `acl.down_policy: invalid value ${JSON.stringify(aclDownPolicy)}: must be "allow", "deny", "extend-cache" or "async-cache"`,
    )
  }
  const aclTokens = {
    initialManagement: legacy('acl_master_token', 'acl.tokens.initial_management') ?? '',
    default: legacy('acl_token', 'acl.tokens.default') ?? '',
    agent: legacy('acl_agent_token', 'acl.tokens.agent') ?? '',
    agentRecovery: legacy('acl_agent_master_token', 'acl.tokens.agent_recovery') ?? '',
    replication: legacy('acl_replication_token', 'acl.tokens.replication') ?? '',
  }

  // HTTP
  const allowWriteHttpFrom = strs('http_config.allow_write_http_from').map((c) => c.trim())
  for (const c of allowWriteHttpFrom)
    if (!isCidr(c)) problems.push(`allow_write_http_from: invalid cidr: ${c}`)
  const rpcRate = num('limits.rpc_rate', -1)

  const encrypt = str('encrypt')
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
    server,
    bootstrap: bootstrap || dev,
    bootstrapExpect,
    dataDir,
    nodeName,
    nodeId: UUID.test(nodeId) ? nodeId : '',
    nodeMeta,
    datacenter,
    primaryDatacenter,
    bindAddr,
    advertiseAddr,
    advertiseAddrWan,
    clientAddrs,
    addresses: {
      http: listener('http'),
      https: listener('https'),
      dns: listener('dns'),
      grpc: listener('grpc'),
      grpcTls: listener('grpc_tls'),
    },
    ports,
    retryJoin: [...strs('retry_join'), ...strs('start_join')],
    retryIntervalMs: num('retry_interval', 30_000),
    retryMax: num('retry_max', 0),
    rejoinAfterLeave: bool('rejoin_after_leave'),
    reconnectTimeoutMs: num('reconnect_timeout', 72 * 3_600_000),
    pidFile: str('pid_file'),
    logLevel: logLevel ?? 'info',
    logJson: bool('log_json'),
    logFile: str('log_file'),
    enableScriptChecks,
    enableLocalScriptChecks: optBool('enable_local_script_checks') ?? enableScriptChecks,
    checkOutputMaxSize,
    checkUpdateIntervalMs: num('check_update_interval', 5 * 60_000),
    discardCheckOutput: bool('discard_check_output'),
    aliasReconcileIntervalMs: num('alias_reconcile_interval', 60_000),
    prettyJson: dev,
    uiEnabled,
    uiDir,
    uiContentPath,
    defaultQueryTimeMs: num('default_query_time', 300_000),
    maxQueryTimeMs: num('max_query_time', 600_000),
    discoveryMaxStaleMs: num('discovery_max_stale', 0),
    sessionTtlMinMs: num('session_ttl_min', 10_000),
    limits: {
      httpMaxConnsPerClient: num('limits.http_max_conns_per_client', 200),
      kvMaxValueSize: num('limits.kv_max_value_size', 524288),
      txnMaxReqLen: num('limits.txn_max_req_len', 524288),
      rpcRate: rpcRate < 0 ? Infinity : rpcRate,
      rpcMaxBurst: num('limits.rpc_max_burst', 1000),
    },
    httpConfig: {
      responseHeaders: smap('http_config.response_headers'),
      blockEndpoints: strs('http_config.block_endpoints'),
      allowWriteHttpFrom,
      useCache: bool('http_config.use_cache', true),
    },
    aclEnabled: bool('acl.enabled'),
    aclDefaultPolicy: aclDefaultPolicy === 'deny' ? 'deny' : 'allow',
    aclDownPolicy,
    aclEnableTokenPersistence: bool('acl.enable_token_persistence'),
    aclTokens,
    leaveOnTerminate: optBool('leave_on_terminate') ?? !server,
    skipLeaveOnInterrupt: optBool('skip_leave_on_interrupt') ?? server,
    disableUpdateCheck: bool('disable_update_check'),
    disableRemoteExec: bool('disable_remote_exec', true),
    disableHostNodeId: bool('disable_host_node_id', true),
    enableDebug: bool('enable_debug'),
    disableHttpUnprintableCharFilter: bool('disable_http_unprintable_char_filter'),
    disableKvKeyValidation: bool('disable_kv_key_validation'),
    connectEnabled: bool('connect.enabled', true),
    encrypt,
    domain: str('domain', 'consul.'),
    altDomain: str('alt_domain'),
    recursors: strs('recursors'),
    dnsConfig: buildDnsConfig(get, problems),
    telemetry: {
      prometheusRetentionTimeMs: num('telemetry.prometheus_retention_time', 0),
      disableHostname: bool('telemetry.disable_hostname'),
      metricsPrefix: str('telemetry.metrics_prefix', 'consul'),
    },
    autoReloadConfig: bool('auto_reload_config'),
    translateWanAddrs: bool('translate_wan_addrs'),
    services: definitions('services'),
    checks: definitions('checks'),
    watches: definitions('watches'),
    configFiles: ctx.configFiles,
    warnings,
  }
}

function validateBasicName(field: string, value: string, allowEmpty: boolean, problems: string[]): void {
  if (value === '') {
    if (!allowEmpty) problems.push(`${field} cannot be empty`)
    return
  }
  if (!BASIC_NAME.test(value)) {
    problems.push(
      `${field} can only contain lowercase alphanumeric, - or _ characters. received: ${JSON.stringify(value)}`,
    )
  }
}

/** Consul's `ValidateNodeMetadata` without the `consul-` prefix allowance. */
function validateNodeMeta(meta: Readonly<Record<string, string>>, problems: string[]): void {
  const entries = Object.entries(meta)
  if (entries.length > 64) {
    problems.push('node_meta invalid: Node metadata cannot contain more than 64 key/value pairs')
    return
  }
  for (const [key, value] of entries) {
    let reason: string | undefined
    if (key === '') reason = 'Key cannot be blank'
    else if (!META_KEY.test(key)) reason = 'Key contains invalid characters'
    else if (key.length > 128) reason = 'Key is too long (limit: 128 characters)'
    else if (key.startsWith('consul-')) reason = "Key prefix 'consul-' is reserved for internal use"
    else if (value.length > 512) reason = 'Value is too long (limit: 512 characters)'
    if (reason !== undefined) {
      problems.push(`node_meta invalid: Couldn't load metadata pair ('${key}', '${value}'): ${reason}`)
    }
  }
}

function normalizeContentPath(path: string): string {
  let p = path.startsWith('/') ? path : `/${path}`
  if (!p.endsWith('/')) p += '/'
  return p
}

function isGossipKey(key: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) return false
  return [16, 24, 32].includes(Buffer.from(key, 'base64').length)
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/**
 * Reads service definition files (JSON or HCL, as `consul services register FILE…` takes them:
 * `{"Service": {...}}`, `service { }`, `services = [...]`). Throws {@link ConfigError}.
 */
export function loadServiceDefinitions(paths: readonly string[], format?: ConfigFormat): ConfigDefinition[] {
  const report = newReport()
  const out: ConfigDefinition[] = []
  for (const path of paths) {
    for (const source of readConfigPath(path, format, report).sources) {
      out.push(...((source.tree['services'] as ConfigDefinition[] | undefined) ?? []))
    }
  }
  if (report.problems.length > 0) throw new ConfigError(report.problems)
  return out
}
