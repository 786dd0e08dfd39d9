/**
 * What the agent core reads of its configuration and environment. AgentConfig (src/config)
 * satisfies AgentSettings; tests build smaller ones.
 */
import type { RunnerLogger } from './checks/runner.js'

/** The Consul version vigil reports (`Config.Version`, member `build` tag). */
export const VIGIL_VERSION = '1.22.0'

/** The logger the agent needs; pino loggers satisfy it. */
export interface AgentLogger extends RunnerLogger {
  child(bindings: Record<string, unknown>): AgentLogger
}

/** The part of the agent configuration the agent core reads (AgentConfig satisfies it). */
export interface AgentSettings {
  readonly nodeName: string
  readonly nodeId: string
  readonly datacenter: string
  readonly server: boolean
  readonly bootstrap: boolean
  readonly dev: boolean
  /** "" or ignored in dev mode: state is kept in memory only. */
  readonly dataDir: string
  readonly enableScriptChecks: boolean
  readonly enableLocalScriptChecks: boolean
  readonly checkOutputMaxSize: number
  readonly discardCheckOutput: boolean
  readonly nodeMeta: Readonly<Record<string, string>>
  readonly bindAddr: string
  readonly advertiseAddr: string
  readonly ports: Readonly<{
    serfLan: number
    server: number
    sidecarMinPort: number
    sidecarMaxPort: number
  }>
  /** How often alias checks re-derive their status without notifications (default 1 minute). */
  readonly aliasReconcileIntervalMs: number
  /** Raw service definitions from config files, normalized at start. */
  readonly services: readonly ConfigDefinition[]
  /** Raw check definitions from config files, normalized at start. */
  readonly checks: readonly ConfigDefinition[]
}

/** A definition from a config file, with the file it came from for error messages. */
export type ConfigDefinition = Readonly<{ source: string; definition: unknown }>
