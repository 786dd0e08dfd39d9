/**
 * The table of configuration keys (cli.md §4) and the two operations on config sources:
 * `normalizeSource` turns one parsed JSON/HCL document into a tree with canonical snake_case
 * keys and typed values (reporting every unknown key and bad value), and `mergeTrees` merges
 * trees in precedence order: scalars later-wins, lists appended, maps merged key by key.
 */
import { parseGoDurationMs } from '../lib/duration.js'
import { errorMessage } from '../lib/errors.js'
import { setOwn as define } from '../lib/object.js'
import type { ConfigDefinition } from './agent-config.js'
import { parseGoBool } from './flags.js'

/**
 * `quiet`: accepted, has no meaning for vigil (gossip/raft tuning…); `warn`: accepted but a
 * feature vigil does not implement yet, listed in a startup warning when set.
 */
export type Ignored = 'quiet' | 'warn'

export type Schema =
  | {
      readonly kind: 'string' | 'bool' | 'int' | 'float' | 'duration' | 'strings' | 'stringMap' | 'any'
      readonly ignored?: Ignored
    }
  | { readonly kind: 'definitions'; readonly ignored?: Ignored }
  | {
      readonly kind: 'object'
      readonly fields: Readonly<Record<string, Field>>
      /** Unknown keys are accepted (as `ignored`) instead of being errors. */
      readonly open?: Ignored
      readonly ignored?: Ignored
    }

/** A field; `aliasOf` stores the value under another key of the same object. */
export type Field = Schema & { readonly aliasOf?: string }

/** A normalized tree: canonical keys, typed values, durations in ms, definitions tagged. */
export type Tree = { readonly [key: string]: unknown }

const s = (ignored?: Ignored): Schema => (ignored ? { kind: 'string', ignored } : { kind: 'string' })
const b = (ignored?: Ignored): Schema => (ignored ? { kind: 'bool', ignored } : { kind: 'bool' })
const i = (ignored?: Ignored): Schema => (ignored ? { kind: 'int', ignored } : { kind: 'int' })
const f = (ignored?: Ignored): Schema => (ignored ? { kind: 'float', ignored } : { kind: 'float' })
const d = (ignored?: Ignored): Schema => (ignored ? { kind: 'duration', ignored } : { kind: 'duration' })
const list = (ignored?: Ignored): Schema => (ignored ? { kind: 'strings', ignored } : { kind: 'strings' })
const map = (ignored?: Ignored): Schema => (ignored ? { kind: 'stringMap', ignored } : { kind: 'stringMap' })
const any = (ignored: Ignored): Schema => ({ kind: 'any', ignored })
const defs = (ignored?: Ignored): Schema =>
  ignored ? { kind: 'definitions', ignored } : { kind: 'definitions' }
const obj = (fields: Record<string, Field>, open?: Ignored, ignored?: Ignored): Schema => ({
  kind: 'object',
  fields,
  ...(open ? { open } : {}),
  ...(ignored ? { ignored } : {}),
})
const alias = (schema: Schema, of: string): Field => ({ ...schema, aliasOf: of })

const ports = obj({
  dns: i(),
  http: i(),
  https: i(),
  grpc: i(),
  grpc_tls: i(),
  serf_lan: i(),
  serf_wan: i(),
  server: i(),
  sidecar_min_port: i(),
  sidecar_max_port: i(),
  expose_min_port: i(),
  expose_max_port: i(),
  proxy_min_port: i('quiet'),
  proxy_max_port: i('quiet'),
})

const addresses = obj({ dns: s(), http: s(), https: s(), grpc: s(), grpc_tls: s() })

const acl = obj(
  {
    enabled: b(),
    default_policy: s(),
    down_policy: s(),
    enable_token_persistence: b(),
    enable_key_list_policy: b('quiet'),
    enable_token_replication: b('quiet'),
    policy_ttl: d('quiet'),
    role_ttl: d('quiet'),
    token_ttl: d('quiet'),
    disabled_ttl: d('quiet'),
    msp_disable_bootstrap: b('quiet'),
    tokens: obj(
      {
        initial_management: s(),
        master: alias(s(), 'initial_management'),
        default: s(),
        agent: s(),
        agent_recovery: s(),
        agent_master: alias(s(), 'agent_recovery'),
        replication: s(),
        config_file_service_registration: s('quiet'),
        dns: s('quiet'),
        managed_service_provider: any('quiet'),
      },
      undefined,
    ),
  },
  undefined,
)

const limits = obj({
  http_max_conns_per_client: i(),
  kv_max_value_size: i(),
  txn_max_req_len: i(),
  rpc_rate: f(),
  rpc_max_burst: i(),
  rpc_max_conns_per_client: i('quiet'),
  rpc_handshake_timeout: d('quiet'),
  rpc_client_timeout: d('quiet'),
  https_handshake_timeout: d('quiet'),
  request_limits: any('quiet'),
})

const httpConfig = obj({
  response_headers: map(),
  block_endpoints: list(),
  allow_write_http_from: list(),
  use_cache: b(),
  max_header_bytes: i('quiet'),
})

const uiConfig = obj(
  {
    enabled: b(),
    dir: s(),
    content_path: s(),
    metrics_provider: s('quiet'),
    metrics_provider_files: list('quiet'),
    metrics_provider_options_json: s('quiet'),
    metrics_proxy: any('quiet'),
    dashboard_url_templates: any('quiet'),
  },
  undefined,
)

const telemetry = obj({ prometheus_retention_time: d(), disable_hostname: b(), metrics_prefix: s() }, 'warn')

/** Consul's `dns_config` block; `service_ttl` values are duration strings, parsed at build. */
const dnsConfig = obj({
  allow_stale: b(),
  max_stale: d(),
  node_ttl: d(),
  service_ttl: map(),
  only_passing: b(),
  a_record_limit: i(),
  udp_answer_limit: i(),
  enable_truncate: b(),
  enable_additional_node_meta_txt: b(),
  recursor_strategy: s(),
  recursor_timeout: d(),
  soa: obj({ refresh: i(), retry: i(), expire: i(), min_ttl: i() }),
  disable_compression: b('quiet'),
  use_cache: b('quiet'),
  cache_max_age: d('quiet'),
  prefer_namespace: b('quiet'),
})

/** vigil's own: where a server keeps its catalog. */
const store = obj({
  backend: s(),
  etcd: obj({ endpoints: list(), prefix: s(), ca_file: s(), cert_file: s(), key_file: s() }),
})

/** Every key an agent config source may contain. */
export const agentSchema: Schema = obj({
  // identity and roles
  datacenter: s(),
  primary_datacenter: s(),
  data_dir: s(),
  node_name: s(),
  node_id: s(),
  node_meta: map(),
  server: b(),
  bootstrap: b(),
  bootstrap_expect: i(),
  store,
  // addresses and ports
  bind_addr: s(),
  advertise_addr: s(),
  advertise_addr_wan: s(),
  advertise_addr_ipv4: s('quiet'),
  advertise_addr_ipv6: s('quiet'),
  advertise_addr_wan_ipv4: s('quiet'),
  advertise_addr_wan_ipv6: s('quiet'),
  client_addr: s(),
  addresses,
  ports,
  serf_lan: s(),
  serf_wan: s(),
  tagged_addresses: map('warn'),
  // joining (the WAN forms are refused at load time)
  retry_join: list(),
  start_join: list(),
  retry_join_wan: list(),
  start_join_wan: list(),
  retry_interval: d(),
  retry_interval_wan: d('quiet'),
  retry_max: i(),
  retry_max_wan: i('quiet'),
  rejoin_after_leave: b(),
  reconnect_timeout: d(),
  reconnect_timeout_wan: d('quiet'),
  advertise_reconnect_timeout: d('quiet'),
  member_liveness_timeout: d(),
  // logging
  log_level: s(),
  log_json: b(),
  log_file: s('warn'),
  log_rotate_bytes: i('warn'),
  log_rotate_duration: d('warn'),
  log_rotate_max_files: i('warn'),
  enable_syslog: b('warn'),
  syslog_facility: s('quiet'),
  // checks
  enable_script_checks: b(),
  enable_local_script_checks: b(),
  check_update_interval: d(),
  check_output_max_size: i(),
  discard_check_output: b(),
  alias_reconcile_interval: d(),
  // services, checks, watches
  service: alias(defs(), 'services'),
  services: defs(),
  check: alias(defs(), 'checks'),
  checks: defs(),
  watches: defs('warn'),
  // HTTP API
  ui: b(),
  ui_dir: s(),
  ui_content_path: s(),
  ui_config: uiConfig,
  session_ttl_min: d(),
  default_query_time: d(),
  max_query_time: d(),
  discovery_max_stale: d(),
  limits,
  http_config: httpConfig,
  disable_http_unprintable_char_filter: b(),
  disable_kv_key_validation: b(),
  // ACLs (and their pre-1.4 top-level spellings)
  acl,
  acl_datacenter: s(),
  acl_default_policy: s(),
  acl_down_policy: s(),
  acl_master_token: s(),
  acl_agent_token: s(),
  acl_agent_master_token: s(),
  acl_token: s(),
  acl_replication_token: s(),
  acl_ttl: d('quiet'),
  acl_enforce_version_8: b('quiet'),
  acl_enable_key_list_policy: b('quiet'),
  acl_disabled_ttl: d('quiet'),
  enable_acl_replication: b('quiet'),
  // lifecycle
  leave_on_terminate: b(),
  skip_leave_on_interrupt: b(),
  pid_file: s(),
  auto_reload_config: b('warn'),
  disable_update_check: b(),
  disable_remote_exec: b(),
  disable_host_node_id: b(),
  disable_anonymous_signature: b('quiet'),
  disable_coordinates: b('quiet'),
  disable_keyring_file: b('quiet'),
  enable_debug: b(),
  enable_central_service_config: b('quiet'),
  enable_agent_tls_for_checks: b('warn'),
  connect: obj({ enabled: b() }, 'quiet'),
  // DNS
  domain: s(),
  alt_domain: s(),
  recursors: list(),
  dns_config: dnsConfig,
  // gossip, raft, TLS and enterprise features vigil does not have
  encrypt: s(),
  encrypt_verify_incoming: b('quiet'),
  encrypt_verify_outgoing: b('quiet'),
  translate_wan_addrs: b(),
  telemetry,
  protocol: i('quiet'),
  raft_protocol: i('quiet'),
  raft_snapshot_threshold: i('quiet'),
  raft_snapshot_interval: d('quiet'),
  raft_trailing_logs: i('quiet'),
  raft_logstore: any('quiet'),
  performance: any('quiet'),
  gossip_lan: any('quiet'),
  gossip_wan: any('quiet'),
  autopilot: any('quiet'),
  segment: s('quiet'),
  segments: any('quiet'),
  segment_limit: i('quiet'),
  segment_name_limit: i('quiet'),
  read_replica: b('quiet'),
  non_voting_server: b('quiet'),
  primary_gateways: list('warn'),
  primary_gateways_interval: d('quiet'),
  serf_lan_allowed_cidrs: list('warn'),
  serf_wan_allowed_cidrs: list('warn'),
  server_name: s('quiet'),
  server_rejoin_age_max: d('quiet'),
  ca_file: s('warn'),
  ca_path: s('warn'),
  cert_file: s('warn'),
  key_file: s('warn'),
  tls: any('warn'),
  tls_cipher_suites: s('warn'),
  tls_min_version: s('quiet'),
  tls_prefer_server_cipher_suites: b('quiet'),
  verify_incoming: b('warn'),
  verify_incoming_https: b('warn'),
  verify_incoming_rpc: b('warn'),
  verify_outgoing: b('warn'),
  verify_server_hostname: b('warn'),
  auto_encrypt: any('warn'),
  auto_config: any('warn'),
  audit: any('warn'),
  config_entries: any('warn'),
  peering: any('quiet'),
  partition: s('quiet'),
  license_path: s('quiet'),
  locality: any('quiet'),
  cloud: any('quiet'),
  reporting: any('quiet'),
  experiments: any('quiet'),
  cache: any('quiet'),
  rpc: any('quiet'),
  xds: any('quiet'),
  unix_sockets: any('warn'),
  use_streaming_backend: b('quiet'),
  snapshot_agent: any('quiet'),
  // values Consul sets internally
  ae_interval: d('quiet'),
  check_deregister_interval_min: d('quiet'),
  check_reap_interval: d('quiet'),
  consul: any('quiet'),
  revision: s('quiet'),
  version: s('quiet'),
  version_prerelease: s('quiet'),
  version_metadata: s('quiet'),
  build_date: s('quiet'),
  sync_coordinate_interval_min: d('quiet'),
  sync_coordinate_rate_target: f('quiet'),
})

/** What normalizing one source found, besides the tree. */
export interface NormalizeReport {
  /** Each problem as `failed to parse <source>: <detail>`. */
  readonly problems: string[]
  /** Dotted keys of `warn`-ignored settings that were given a value. */
  readonly ignored: Set<string>
}

/**
 * Normalizes one parsed document against `schema`. `source` names it in problems and tags its
 * definitions. Never throws for bad input: problems are appended to `report`.
 */
export function normalizeSource(
  doc: unknown,
  source: string,
  report: NormalizeReport,
  schema: Schema = agentSchema,
): Tree {
  const ctx: Ctx = { source, report }
  if (!isPlainObject(doc)) {
    report.problems.push(`failed to parse ${source}: expected an object at the top level`)
    return {}
  }
  const out = normalize(doc, schema, '', ctx)
  return isPlainObject(out) ? out : {}
}

interface Ctx {
  readonly source: string
  readonly report: NormalizeReport
}

function problem(ctx: Ctx, detail: string): unknown {
  ctx.report.problems.push(`failed to parse ${ctx.source}: ${detail}`)
  return undefined
}

function typeError(ctx: Ctx, path: string, expected: string, value: unknown): unknown {
  const got = Array.isArray(value) ? 'slice' : value === null ? 'nil' : typeof value
  return problem(
    ctx,
    `'${path}' expected type '${expected}', got unconvertible type '${got}', value: '${display(value)}'`,
  )
}

function display(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function normalize(value: unknown, schema: Schema, path: string, ctx: Ctx): unknown {
  if (value === null || value === undefined) return undefined
  if (schema.ignored === 'warn' && !isEmpty(value)) ctx.report.ignored.add(path)
  switch (schema.kind) {
    case 'string':
      return toStringValue(unwrapSingle(value), path, ctx)
    case 'bool': {
      const v = unwrapSingle(value)
      if (typeof v === 'boolean') return v
      if (typeof v === 'number') return v !== 0
      if (typeof v === 'string') {
        const parsed = parseGoBool(v)
        if (parsed !== undefined) return parsed
        if (v === '') return false
      }
      return typeError(ctx, path, 'bool', v)
    }
    case 'int': {
      const v = unwrapSingle(value)
      if (typeof v === 'number' && Number.isInteger(v)) return v
      if (typeof v === 'boolean') return v ? 1 : 0
      if (typeof v === 'string' && /^[+-]?\d+$/.test(v.trim())) return Number(v.trim())
      return typeError(ctx, path, 'int', v)
    }
    case 'float': {
      const v = unwrapSingle(value)
      if (typeof v === 'number') return v
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
      return typeError(ctx, path, 'float64', v)
    }
    case 'duration': {
      const v = unwrapSingle(value)
      if (typeof v !== 'string' && typeof v !== 'number') return typeError(ctx, path, 'string', v)
      const text = String(v)
      try {
        return parseGoDurationMs(text)
      } catch (err) {
        return problem(ctx, `${path}: invalid duration: ${JSON.stringify(text)}: ${errorMessage(err)}`)
      }
    }
    case 'strings': {
      const items = Array.isArray(value) ? value : [value]
      const out: string[] = []
      items.forEach((item, n) => {
        const str = toStringValue(item, `${path}[${n}]`, ctx)
        if (str !== undefined) out.push(str)
      })
      return out
    }
    case 'stringMap': {
      const merged = mergeObjectList(value)
      if (merged === undefined) return typeError(ctx, path, 'map[string]string', value)
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(merged)) {
        if (v === null || v === undefined) continue
        const str = toStringValue(v, `${path}[${k}]`, ctx)
        if (str !== undefined) define(out, k, str)
      }
      return out
    }
    case 'definitions': {
      const items = Array.isArray(value) ? value : [value]
      const out: ConfigDefinition[] = []
      for (const item of items) {
        if (item === null || item === undefined) continue
        if (!isPlainObject(item)) {
          typeError(ctx, path, 'object', item)
          continue
        }
        out.push({ source: ctx.source, definition: item })
      }
      return out
    }
    case 'any':
      return value
    case 'object': {
      const merged = mergeObjectList(value)
      if (merged === undefined) return typeError(ctx, path, 'object', value)
      return normalizeObject(merged, schema, path, ctx)
    }
  }
}

function normalizeObject(
  input: Record<string, unknown>,
  schema: Extract<Schema, { kind: 'object' }>,
  path: string,
  ctx: Ctx,
): Tree {
  const byLower = fieldIndex(schema)
  const out: Record<string, unknown> = {}
  for (const [key, raw] of Object.entries(input)) {
    const name = byLower.get(key.toLowerCase())
    const keyPath = path === '' ? key : `${path}.${key}`
    if (name === undefined) {
      if (schema.open === undefined) {
        problem(ctx, `invalid config key ${keyPath}`)
      } else {
        if (schema.open === 'warn' && !isEmpty(raw)) ctx.report.ignored.add(keyPath)
        define(out, key, raw)
      }
      continue
    }
    const field = schema.fields[name] as Field
    const canonical = field.aliasOf ?? name
    const value = normalize(raw, field, path === '' ? name : `${path}.${name}`, ctx)
    if (value === undefined) continue
    const target = schema.fields[canonical] ?? field
    define(out, canonical, Object.hasOwn(out, canonical) ? mergeValue(out[canonical], value, target) : value)
  }
  return out
}

const indexCache = new WeakMap<object, Map<string, string>>()

function fieldIndex(schema: Extract<Schema, { kind: 'object' }>): Map<string, string> {
  let idx = indexCache.get(schema)
  if (idx === undefined) {
    idx = new Map(Object.keys(schema.fields).map((k) => [k.toLowerCase(), k]))
    indexCache.set(schema, idx)
  }
  return idx
}

/** Merges normalized trees in precedence order (later wins for scalars; lists appended). */
export function mergeTrees(trees: readonly Tree[], schema: Schema = agentSchema): Tree {
  let out: unknown = {}
  for (const t of trees) out = mergeValue(out, t, schema)
  return isPlainObject(out) ? out : {}
}

function mergeValue(a: unknown, b: unknown, schema: Schema): unknown {
  if (b === undefined) return a
  if (a === undefined) return b
  switch (schema.kind) {
    case 'strings':
    case 'definitions':
      return [...(a as unknown[]), ...(b as unknown[])]
    case 'stringMap':
      return { ...(a as object), ...(b as object) }
    case 'object': {
      const out: Record<string, unknown> = { ...(a as object) }
      for (const [k, v] of Object.entries(b as object)) {
        const field = schema.fields[k]
        define(out, k, field === undefined ? v : mergeValue(out[k], v, field))
      }
      return out
    }
    default:
      return b
  }
}

/** HCL 1 decodes a block to a list of objects; a one-element list also stands for its element. */
function unwrapSingle(value: unknown): unknown {
  return Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value
}

function mergeObjectList(value: unknown): Record<string, unknown> | undefined {
  if (isPlainObject(value)) return value
  if (Array.isArray(value) && value.every(isPlainObject)) {
    const out: Record<string, unknown> = {}
    for (const item of value) {
      for (const [k, v] of Object.entries(item)) define(out, k, v)
    }
    return out
  }
  return undefined
}

function toStringValue(value: unknown, path: string, ctx: Ctx): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  typeError(ctx, path, 'string', value)
  return undefined
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true
  if (Array.isArray(value)) return value.length === 0
  if (isPlainObject(value)) return Object.keys(value).length === 0
  return false
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
