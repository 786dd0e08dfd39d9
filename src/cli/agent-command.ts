/**
 * `vigil agent …` (cli.md §6): load the configuration, print the banner, start the agent and
 * the HTTP API, then run until a signal. SIGINT/SIGTERM shut down (close the HTTP API, then
 * `agent.shutdown()`, both awaited) with Consul's exit codes; a second signal exits 1 at once;
 * SIGHUP (and `PUT /v1/agent/reload`) re-reads the configuration and applies its services and
 * checks; SIGPIPE is ignored.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { pino } from 'pino'
import type { AgentConfig } from '../config/agent-config.js'
import { buildInfo } from '../config/build-info.js'
import { loadConfig } from '../config/load.js'
import { ConfigError, errorMessage } from '../lib/errors.js'
import { createLogger, LogGate, type LogDestination, type Logger } from '../lib/log.js'
import { startNode, type VigilNode } from '../roles/node.js'
import { formatBanner, STARTING_LINE } from './banner.js'
import type { CliIo, Command } from './io.js'
import { reportFlagError } from './run.js'

/** How long a shutdown may take before the process exits 1 anyway (Consul's leave timeout). */
const SHUTDOWN_TIMEOUT_MS = 15_000
/** After shutdown, how long the process may linger before it is ended explicitly. */
const EXIT_GRACE_MS = 3_000

/** The process facilities the agent command uses; tests of the command run it as a child process. */
export interface AgentProcessHooks {
  /** Subscribes to a signal; returns the unsubscribe function. */
  onSignal(signal: NodeJS.Signals, handler: () => void): () => void
  /** Ends the process now (second signal, stuck shutdown). */
  exit(code: number): void
  readonly pid: number
}

const processHooks: AgentProcessHooks = {
  onSignal(signal, handler) {
    process.on(signal, handler)
    return () => process.off(signal, handler)
  },
  exit: (code) => process.exit(code),
  pid: process.pid,
}

export const agentCommand: Command = {
  synopsis: 'Runs a vigil agent',
  run: (args, io) => runAgent(args, io, processHooks),
}

/** Runs the agent until a signal ends it; resolves with the exit code. */
export async function runAgent(
  args: readonly string[],
  io: CliIo,
  hooks: AgentProcessHooks,
): Promise<number> {
  let config: AgentConfig
  try {
    config = loadConfig(args)
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.stderr.write(`==> ${p}\n`)
      return 1
    }
    return reportFlagError(err, io)
  }

  const out: LogDestination =
    io.stdout === process.stdout
      ? pino.destination({ dest: 1, sync: true })
      : { write: (s) => io.stdout.write(s) }
  const gate = new LogGate(out)
  const logger = createLogger({ level: config.logLevel, json: config.logJson, destination: gate })
  const log = logger.child({ module: 'agent' })
  if (config.logJson) gate.open()
  else out.write(STARTING_LINE)
  for (const warning of config.warnings) log.warn(warning)
  const unserved = unservedListeners(config)
  if (unserved.length > 0) {
    log.warn(`vigil does not serve these listeners yet; nothing listens on them: ${unserved.join(', ')}`)
  }

  const signals = new SignalQueue(hooks)
  const pidFile = config.pidFile
  const removePid = (): void => {
    if (pidFile !== '') rmSync(pidFile, { force: true })
  }
  let node: VigilNode
  try {
    if (pidFile !== '') {
      mkdirSync(dirname(pidFile), { recursive: true })
      writeFileSync(pidFile, String(hooks.pid))
    }
    node = await startNode({ config, logger, loadConfig: () => loadConfig(args) })
    for (const address of node.httpAddresses) log.info({ address, network: 'tcp' }, 'Started HTTP server')
    const dns = node.dns?.addresses()
    for (const address of dns?.udp ?? []) log.info({ address, network: 'udp' }, 'Started DNS server')
    for (const address of dns?.tcp ?? []) log.info({ address, network: 'tcp' }, 'Started DNS server')
  } catch (err) {
    gate.open()
    io.stderr.write(`==> Error starting agent: ${describeStartError(err)}\n`)
    removePid()
    signals.dispose()
    return 1
  }

  if (!config.logJson) {
    const info = buildInfo()
    out.write(
      formatBanner({ version: info.version, buildDate: info.buildDate, nodeId: node.agent.nodeId, config }),
    )
  }
  gate.open()
  log.info('Consul agent running!')

  let code = 1
  try {
    code = await untilSignal(config, log, signals, node, (exitCode) => {
      removePid()
      hooks.exit(exitCode)
    })
    return code
  } finally {
    removePid()
    signals.dispose()
    // Everything is closed; should a stray handle still hold the event loop, exit anyway.
    setTimeout(() => hooks.exit(code), EXIT_GRACE_MS).unref()
  }
}

async function untilSignal(
  config: AgentConfig,
  log: Logger,
  signals: SignalQueue,
  node: Pick<VigilNode, 'shutdown' | 'leave' | 'reload' | 'exitRequested'>,
  exitNow: (code: number) => void,
): Promise<number> {
  const { reload } = node
  const requested = node.exitRequested.then((r) => ({ kind: 'exit' as const, ...r }))
  for (;;) {
    const next = await Promise.race([
      signals.next().then((sig) => ({ kind: 'signal' as const, sig })),
      requested,
    ])
    if (next.kind === 'exit') {
      // A graceful leave through the API (0), or retry_join ran out of attempts (1).
      if (next.code !== 0) log.error({ reason: next.reason }, 'Exiting')
      else log.info('Graceful leave complete; shutting down')
      await node.shutdown().catch((err: unknown) => {
        log.error({ error: err instanceof Error ? err.message : String(err) }, 'Error on shutdown')
      })
      return next.code
    }
    const sig = next.sig
    log.info({ signal: goSignalName(sig) }, 'Caught')
    if (sig === 'SIGHUP') {
      await reload().catch((err: unknown) => {
        log.error({ error: errorMessage(err) }, 'Failed to reload configs')
      })
      continue
    }
    const graceful =
      (sig === 'SIGINT' && !config.skipLeaveOnInterrupt) || (sig === 'SIGTERM' && config.leaveOnTerminate)
    log.info(graceful ? 'Gracefully shutting down agent...' : 'Graceful shutdown disabled. Exiting')
    let timer: NodeJS.Timeout | undefined
    const outcome = await Promise.race([
      (graceful ? node.leave() : node.shutdown()).then(
        () => 'done' as const,
        (err: unknown) => {
          log.error({ error: errorMessage(err) }, 'Error on shutdown')
          return 'failed' as const
        },
      ),
      signals.next().then(() => 'signal' as const),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), SHUTDOWN_TIMEOUT_MS)
      }),
    ])
    clearTimeout(timer)
    if (outcome === 'signal') {
      log.info('Caught second signal, Exiting')
      exitNow(1)
      return 1
    }
    if (outcome === 'timeout') {
      log.info('Timeout on graceful leave. Exiting')
      exitNow(1)
      return 1
    }
    if (outcome === 'failed' || !graceful) return 1
    log.info('Graceful exit completed')
    return 0
  }
}

/** Queues the signals the agent handles, so none is lost between two awaits. */
class SignalQueue {
  readonly #pending: NodeJS.Signals[] = []
  #waiter: ((sig: NodeJS.Signals) => void) | undefined
  readonly #unsubscribe: (() => void)[] = []

  constructor(hooks: AgentProcessHooks) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      this.#unsubscribe.push(hooks.onSignal(sig, () => this.#push(sig)))
    }
    this.#unsubscribe.push(hooks.onSignal('SIGPIPE', () => undefined))
  }

  #push(sig: NodeJS.Signals): void {
    const waiter = this.#waiter
    if (waiter !== undefined) {
      this.#waiter = undefined
      waiter(sig)
    } else {
      this.#pending.push(sig)
    }
  }

  next(): Promise<NodeJS.Signals> {
    const queued = this.#pending.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return new Promise((resolve) => {
      this.#waiter = resolve
    })
  }

  dispose(): void {
    for (const off of this.#unsubscribe.splice(0)) off()
  }
}

function goSignalName(sig: NodeJS.Signals): string {
  switch (sig) {
    case 'SIGINT':
      return 'interrupt'
    case 'SIGTERM':
      return 'terminated'
    case 'SIGHUP':
      return 'hangup'
    default:
      return sig
  }
}

/** Listeners Consul would open that vigil does not serve yet, with their addresses. */
export function unservedListeners(config: AgentConfig): string[] {
  const out: string[] = []
  const at = (addrs: readonly string[], port: number): string =>
    addrs.map((a) => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`)).join(' ')
  if (config.ports.grpc > 0) out.push(`gRPC (${at(config.addresses.grpc, config.ports.grpc)})`)
  if (config.ports.grpcTls > 0) out.push(`gRPC-TLS (${at(config.addresses.grpcTls, config.ports.grpcTls)})`)
  if (config.ports.serfWan > 0) out.push(`serf WAN (${at([config.bindAddr], config.ports.serfWan)})`)
  return out
}

/** Go-style text for listener errors: `listen tcp 127.0.0.1:8500: bind: address already in use`. */
function describeStartError(err: unknown): string {
  const e = findErrno(err)
  const bindText: Record<string, string> = {
    EADDRINUSE: 'address already in use',
    EACCES: 'permission denied',
    EADDRNOTAVAIL: 'cannot assign requested address',
  }
  const known = e?.code === undefined ? undefined : bindText[e.code]
  if (e !== undefined && known !== undefined) {
    const where = e.address !== undefined ? `${e.address}:${String(e.port ?? '')}` : ''
    return `listen tcp ${where}: bind: ${known}`
  }
  return errorMessage(err)
}

type ListenError = NodeJS.ErrnoException & { address?: string; port?: number }

function findErrno(err: unknown): ListenError | undefined {
  let cur: unknown = err
  for (let depth = 0; depth < 5 && typeof cur === 'object' && cur !== null; depth++) {
    if (typeof (cur as ListenError).code === 'string' && (cur as ListenError).syscall !== undefined) {
      return cur as ListenError
    }
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}
