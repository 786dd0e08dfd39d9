/**
 * The `vigil agent` command line (cli.md §2): the flag table, and the flags turned into a config
 * document that merges after every file and fragment.
 */
import { setOwn } from '../lib/object.js'
import type { FlagDef, FlagSet, ParsedFlags } from './flags.js'
import { isPlainObject } from './schema.js'

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
  f(
    'etcd-ca-file',
    'string',
    'Path to a PEM CA certificate that verifies the etcd servers (enables TLS to etcd).',
    'store.etcd.ca_file',
    'path',
  ),
  f(
    'etcd-cert-file',
    'string',
    'Path to a PEM client certificate presented to etcd.',
    'store.etcd.cert_file',
    'path',
  ),
  f(
    'etcd-endpoints',
    'string',
    'Comma-separated etcd client URLs, for -store etcd.',
    'store.etcd.endpoints',
    'url[,url...]',
  ),
  f('etcd-key-file', 'string', 'Path to the PEM key of -etcd-cert-file.', 'store.etcd.key_file', 'path'),
  f(
    'etcd-prefix',
    'string',
    "Key prefix of this datacenter's catalog in etcd. Defaults to /vigil/<datacenter>.",
    'store.etcd.prefix',
    'prefix',
  ),
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
  f(
    'store',
    'string',
    "Where a server keeps its catalog: 'embedded' (the data dir, default) or 'etcd'.",
    'store.backend',
    'backend',
  ),
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

/** The flags that set config keys, as a config document (`a.b` keys nested). */
export function flagsToDocument(flags: ParsedFlags): Record<string, unknown> {
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
        setOwn(meta, key, colon === -1 ? '' : pair.slice(colon + 1))
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
