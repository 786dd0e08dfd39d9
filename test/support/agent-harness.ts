import { Agent, type AgentLogger, type AgentSettings } from '../../src/agent/agent.js'
import type { RunnerFactory } from '../../src/agent/checks/factory.js'
import type { CheckStatePort } from '../../src/agent/checks/ports.js'
import type { YieldPoint } from '../../src/agent/checks/runner.js'
import type { LocalState } from '../../src/agent/local/local-state.js'
import type { FsPort } from '../../src/agent/persistence/fs-port.js'
import type { Clock } from '../../src/lib/clock.js'

/** A logger that drops everything (tests assert on state, not logs). */
export const silentLogger: AgentLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
}

export function testSettings(overrides: Partial<AgentSettings> = {}): AgentSettings {
  return {
    nodeName: 'node1',
    nodeId: '6f0d5d1e-8b7a-4c1e-9a57-2f8a9d7f0c11',
    datacenter: 'dc1',
    server: true,
    bootstrap: true,
    dev: true,
    dataDir: '',
    enableScriptChecks: false,
    enableLocalScriptChecks: false,
    checkOutputMaxSize: 4096,
    discardCheckOutput: false,
    nodeMeta: {},
    bindAddr: '127.0.0.1',
    advertiseAddr: '127.0.0.1',
    ports: { serfLan: 8301, server: 8300, sidecarMinPort: 21000, sidecarMaxPort: 21255 },
    aliasReconcileIntervalMs: 60_000,
    services: [],
    checks: [],
    ...overrides,
  }
}

export function startTestAgent(opts: {
  clock?: Clock
  random?: () => number
  yieldPoint?: YieldPoint
  runnerFactory?: RunnerFactory
  settings?: Partial<AgentSettings>
  fs?: FsPort
  logger?: AgentLogger
  /** Wraps the view of local state the check manager and runners get (see pre-fix.ts). */
  checkState?: (state: LocalState) => CheckStatePort
}): Promise<Agent> {
  return Agent.start({
    config: testSettings(opts.settings),
    logger: opts.logger ?? silentLogger,
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
    ...(opts.random !== undefined ? { random: opts.random } : {}),
    ...(opts.yieldPoint !== undefined ? { yieldPoint: opts.yieldPoint } : {}),
    ...(opts.runnerFactory !== undefined ? { runnerFactory: opts.runnerFactory } : {}),
    ...(opts.fs !== undefined ? { fs: opts.fs } : {}),
    ...(opts.checkState !== undefined ? { checkState: opts.checkState } : {}),
  })
}

export { checkRegistration, serviceRecord, serviceRegistration } from './records.js'
