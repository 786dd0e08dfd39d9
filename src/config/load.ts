/**
 * `loadConfig`: the `vigil agent` command line → one validated, deep-frozen {@link AgentConfig}
 * (cli.md §2–§5). Sources merge in this order: built-in defaults, `-dev` defaults,
 * `-config-file`/`-config-dir` in command-line order (a directory's files by name), `-hcl`
 * fragments, then the other flags; scalars later-wins, lists appended, maps merged. Every
 * problem found is reported at once in a {@link ConfigError}.
 *
 * The flag table is `agent-flags.ts`; reading the merged tree into `AgentConfig`, section by
 * section, is `build/`.
 */
import { ConfigError } from '../lib/errors.js'
import { deepFreeze } from '../lib/object.js'
import type { AgentConfig, ConfigDefinition } from './agent-config.js'
import { agentFlagSet, flagsToDocument } from './agent-flags.js'
import { buildAgentConfig } from './build/build.js'
import type { LoadEnvironment } from './build/context.js'
import { parseFlags } from './flags.js'
import { mergeTrees, normalizeSource } from './schema.js'
import { newReport, parseConfigText, readConfigPath, type ConfigFormat, type Source } from './sources.js'

export { agentFlagSet } from './agent-flags.js'
export type { LoadEnvironment } from './build/context.js'

/** WAN federation is not implemented: joining a WAN pool is refused at load time. */
const WAN_JOIN_FLAGS = new Set(['join-wan', 'retry-join-wan'])
const WAN_JOIN_KEYS = ['retry_join_wan', 'start_join_wan'] as const

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
    ...flags.occurrences
      .filter((o) => WAN_JOIN_FLAGS.has(o.name))
      .map((o) => `-${o.name} ${String(o.value)}`),
    ...sources
      .filter((s) => s.name !== 'command-line flags')
      .flatMap((s) =>
        WAN_JOIN_KEYS.flatMap((k) => ((s.tree[k] as string[] | undefined) ?? []).map((a) => `${k} ${a}`)),
      ),
  ]
  if (joins.length > 0) {
    report.problems.push(
      `vigil does not support WAN federation (${joins.join(' ')}): join agents of one datacenter with -retry-join`,
    )
  }

  const merged = mergeTrees(sources.map((s) => s.tree))
  const config = buildAgentConfig(merged, { dev, configFiles, report, env })
  if (report.problems.length > 0) throw new ConfigError(report.problems)
  return deepFreeze(config)
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
