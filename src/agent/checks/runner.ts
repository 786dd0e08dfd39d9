import type { Clock } from '../../lib/clock.js'
import { RunnerStoppedError, errorMessage } from '../../lib/errors.js'
import type { CheckDefinition, Status } from '../../structs/check.js'
import type { CheckSink, LocalView, WriteResult } from './ports.js'

/** The logging a runner needs; pino loggers satisfy it. */
export interface RunnerLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/** A label-carrying await point; a resolved promise in production, a scheduler hook in tests. */
export type YieldPoint = (label: string) => Promise<void>

export const noYield: YieldPoint = () => Promise.resolve()

/** Everything a runner gets from the agent. Narrow on purpose (STYLE.md practice 2). */
export interface RunnerContext {
  readonly checkId: string
  readonly definition: CheckDefinition
  /** Bound to this check and this registration's generation. */
  readonly sink: CheckSink
  readonly clock: Clock
  /** Uniform in [0, 1); injected so start jitter is reproducible in tests. */
  readonly random: () => number
  readonly logger: RunnerLogger
  /** Effective output limit in bytes (checks.md §3). */
  readonly outputMaxSize: number
  readonly yieldPoint: YieldPoint
  /** Local state, for runners that mirror other checks (alias); required by those. */
  readonly local?: LocalView
  /**
   * `alias_reconcile_interval`: how often an alias re-derives its status without a notification.
   * Required by alias runners; no runner defaults it.
   */
  readonly aliasReconcileMs?: number
  /** Set when a check is restored from the data dir with state that is still valid. */
  readonly resume?: Readonly<{ ttlRemainingMs: number; lastOutput: string }>
}

/** What the check manager needs of a runner; every Runner is one. */
export interface ManagedRunner {
  /** Starts the loop once; later calls do nothing. */
  start(): void
  /** Idempotent. Resolves once the runner can no longer write (see Runner.stop). */
  stop(): Promise<void>
}

/**
 * One runner per registered check (STYLE.md practice 3). `stop()` means "can no longer write":
 * it resolves only after the loop exited and every timer, socket and child process is released,
 * and from the moment it is called `report()` refuses writes.
 */
export abstract class Runner implements ManagedRunner {
  readonly #abort = new AbortController()
  #loop: Promise<void> | undefined
  #stopped: Promise<void> | undefined

  constructor(protected readonly ctx: RunnerContext) {}

  get checkId(): string {
    return this.ctx.checkId
  }

  /** True once `stop()` was called. */
  get stopping(): boolean {
    return this.#abort.signal.aborted
  }

  /** Starts the loop once; later calls do nothing. */
  start(): void {
    if (this.#loop !== undefined || this.stopping) return
    this.#loop = this.run(this.#abort.signal).catch((err: unknown) => {
      if (this.#abort.signal.aborted) return
      this.crashed(err)
    })
  }

  /** Idempotent. Resolves after the loop exited and sockets/children/timers are released. */
  stop(): Promise<void> {
    return (this.#stopped ??= (async () => {
      this.#abort.abort(new RunnerStoppedError())
      try {
        await this.#loop
      } finally {
        await this.release()
      }
    })())
  }

  /** Writes a result for this check, unless the runner is stopping (then 'stopped'). */
  protected report(status: Status, output: string): WriteResult | 'stopped' {
    if (this.stopping) return 'stopped'
    return this.ctx.sink.report(status, output)
  }

  /** The loop. Must re-check `signal` after each await and return (or throw its reason) once aborted. */
  protected abstract run(signal: AbortSignal): Promise<void>

  /** The loop failed unexpectedly: report critical with the error and log it. */
  protected crashed(err: unknown): void {
    const message = errorMessage(err)
    this.ctx.logger.error({ checkId: this.ctx.checkId, err: message }, 'Check runner failed')
    this.report('critical', `vigil: check runner failed: ${message}`)
  }

  /** Releases resources that outlive the loop (servers, pools). Default: nothing. */
  protected async release(): Promise<void> {}
}

/** The outcome of one probe, before thresholds. */
export interface ProbeResult {
  readonly status: Status
  readonly output: string
  /** Script timeouts and setup errors bypass the thresholds (checks.md §4.3). */
  readonly bypassThresholds?: boolean
}

/**
 * Consul's success_before_passing / failures_before_warning / failures_before_critical
 * (checks.md §4.3). Counters start at their thresholds, so the first result after a (re)start is
 * always reported. Returns the result to write, or null to keep the current status.
 */
export class Thresholds {
  #succ: number
  #fail: number

  constructor(
    readonly successBeforePassing: number,
    readonly failuresBeforeWarning: number,
    readonly failuresBeforeCritical: number,
  ) {
    this.#succ = successBeforePassing
    this.#fail = failuresBeforeCritical
  }

  observe(result: ProbeResult): ProbeResult | null {
    if (result.bypassThresholds === true) return result
    if (result.status === 'passing' || result.status === 'warning') {
      this.#succ++
      this.#fail = 0
      return this.#succ >= this.successBeforePassing ? result : null
    }
    this.#fail++
    this.#succ = 0
    if (this.#fail >= this.failuresBeforeCritical) return result
    if (this.#fail >= this.failuresBeforeWarning) return { status: 'warning', output: result.output }
    return null
  }
}

/**
 * Base of every probing runner (HTTP, TCP, UDP, gRPC, H2PING, script…): first probe after a
 * random delay in [0, interval), then `interval` after each probe *finished*; probes never
 * overlap; each probe gets a signal that aborts at the timeout or at stop.
 */
export abstract class IntervalRunner extends Runner {
  /** Runs one probe. Must settle promptly once `signal` aborts and leave no socket or child behind. */
  protected abstract probe(signal: AbortSignal): Promise<ProbeResult>

  /** Default timeout when the definition has none (10 s; script and OS service: 30 s). */
  protected defaultTimeoutMs(): number {
    return 10_000
  }

  protected async run(signal: AbortSignal): Promise<void> {
    const { clock, definition: def } = this.ctx
    const intervalMs = Math.max(def.intervalMs, 1)
    const timeoutMs = def.timeoutMs > 0 ? def.timeoutMs : this.defaultTimeoutMs()
    const thresholds = new Thresholds(
      def.successBeforePassing,
      def.failuresBeforeWarning,
      def.failuresBeforeCritical,
    )
    await clock.sleep(Math.floor(this.ctx.random() * intervalMs), signal)
    for (;;) {
      const result = await this.#probeOnce(signal, timeoutMs)
      await this.ctx.yieldPoint(`probe.done:${this.ctx.checkId}`)
      if (signal.aborted) return
      const decided = thresholds.observe(result)
      if (decided !== null) this.report(decided.status, decided.output)
      await clock.sleep(intervalMs, signal)
    }
  }

  async #probeOnce(signal: AbortSignal, timeoutMs: number): Promise<ProbeResult> {
    const controller = new AbortController()
    const timer = this.ctx.clock.setTimer(timeoutMs, () => controller.abort(new ProbeTimeoutError(timeoutMs)))
    const onStop = (): void => controller.abort(signal.reason)
    signal.addEventListener('abort', onStop, { once: true })
    try {
      return await this.probe(controller.signal)
    } catch (err) {
      return { status: 'critical', output: errorMessage(err) }
    } finally {
      timer.cancel()
      signal.removeEventListener('abort', onStop)
    }
  }
}

/** Abort reason of a probe that ran past its timeout. */
export class ProbeTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timeout after ${timeoutMs}ms`)
    this.name = 'ProbeTimeoutError'
  }
}
