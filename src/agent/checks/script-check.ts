import { spawn, type ChildProcess } from 'node:child_process'
import { formatGoDurationMs } from '../../lib/duration.js'
import { truncateScriptOutput } from './output.js'
import { IntervalRunner, ProbeTimeoutError, type ProbeResult } from './runner.js'

/**
 * How long a killed script's pipes may take to deliver their last bytes. Only a descendant
 * that left the process group while keeping the pipes open makes this wait run out.
 */
const DRAIN_GRACE_MS = 100

/**
 * Combined stdout+stderr of one script run, bounded: keeps the last `limit` bytes (plus at most
 * one chunk) and counts every byte, which is all `truncateScriptOutput` needs (checks.md §3).
 */
export class OutputTail {
  #chunks: Buffer[] = []
  #kept = 0
  #total = 0

  constructor(readonly limit: number) {}

  /** Bytes written so far. */
  get totalBytes(): number {
    return this.#total
  }

  /** Bytes held in memory: at most `limit` plus one chunk. */
  get retainedBytes(): number {
    return this.#kept
  }

  write(chunk: Buffer): void {
    this.#total += chunk.length
    if (chunk.length >= this.limit) {
      this.#chunks = [Buffer.from(chunk.subarray(chunk.length - this.limit))]
      this.#kept = this.limit
      return
    }
    this.#chunks.push(chunk)
    this.#kept += chunk.length
    for (let first = this.#chunks[0]; first !== undefined && this.#kept - first.length >= this.limit;) {
      this.#chunks.shift()
      this.#kept -= first.length
      first = this.#chunks[0]
    }
  }

  /** The output as the check reports it: the last `limit` bytes, with Consul's prefix when cut. */
  text(): string {
    return truncateScriptOutput(Buffer.concat(this.#chunks), this.limit, this.#total)
  }
}

interface Exit {
  readonly code: number | null
  readonly startError: Error | undefined
}

/** Go's text for a command that could not be started (`exec.Cmd.Start`). */
function startErrorText(err: NodeJS.ErrnoException, command: string): string {
  if (err.code === 'ENOENT' && !command.includes('/'))
    return `exec: ${JSON.stringify(command)}: executable file not found in $PATH`
  if (err.code === 'ENOENT') return `fork/exec ${command}: no such file or directory`
  if (err.code === 'EACCES') return `fork/exec ${command}: permission denied`
  return `fork/exec ${command}: ${err.message}`
}

/**
 * Kills the child's whole process group (the child was spawned detached, so it leads its own
 * group and its descendants are in it unless they left). Falls back to the child alone.
 */
function killProcessGroup(child: ChildProcess): void {
  const pid = child.pid
  if (pid === undefined || pid <= 1) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

/**
 * A script check (checks.md §11): `Args` run directly (no shell) in a process group of its own;
 * exit 0 → passing, 1 → warning, anything else → critical, output = combined stdout+stderr.
 * On timeout the group is killed and the check turns critical with `Timed out (<d>) running
 * check`; on stop the group is killed too. Either way the probe settles only after the child
 * exited and its pipes closed, so a stopped runner leaves no process of its own behind.
 */
export class ScriptRunner extends IntervalRunner {
  protected override defaultTimeoutMs(): number {
    return 30_000
  }

  protected async probe(signal: AbortSignal): Promise<ProbeResult> {
    signal.throwIfAborted()
    const [command, ...args] = this.ctx.definition.args
    if (command === undefined || command === '') {
      return { status: 'critical', output: 'exec: no command', bypassThresholds: true }
    }
    const output = new OutputTail(this.ctx.outputMaxSize)
    let child: ChildProcess
    try {
      child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      return this.#startFailed(err, command)
    }
    let startError: Error | undefined
    child.on('error', (err) => {
      if (child.pid === undefined) startError ??= err
    })
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => output.write(chunk))
      stream?.on('error', () => undefined)
    }
    const closed = new Promise<Exit>((resolve) => {
      child.once('close', (code: number | null) => resolve({ code, startError }))
    })

    const abort = Symbol('abort')
    let onAbort: (() => void) | undefined
    const aborted = new Promise<typeof abort>((resolve) => {
      onAbort = () => resolve(abort)
      signal.addEventListener('abort', onAbort, { once: true })
    })
    let first: Exit | typeof abort
    try {
      first = await Promise.race([closed, aborted])
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
    }
    if (first !== abort) return this.#judge(first, output, command)

    await this.#terminate(child, closed)
    const reason: unknown = signal.reason
    if (!(reason instanceof ProbeTimeoutError)) throw reason
    const duration = formatGoDurationMs(reason.timeoutMs)
    this.ctx.logger.warn({ checkId: this.ctx.checkId, timeout: duration }, 'Timed out running check')
    const text = output.text()
    return {
      status: 'critical',
      output: `Timed out (${duration}) running check${text === '' ? '' : `\n\n${text}`}`,
      bypassThresholds: true,
    }
  }

  /** Kills the process group, then waits for the child's exit and for its pipes to close. */
  async #terminate(child: ChildProcess, closed: Promise<Exit>): Promise<void> {
    killProcessGroup(child)
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve()
      else child.once('exit', () => resolve())
      void closed.then(() => resolve())
    })
    let grace: { cancel(): void } | undefined
    const drained = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => {
        grace = this.ctx.clock.setTimer(DRAIN_GRACE_MS, () => resolve(false))
      }),
    ])
    grace?.cancel()
    if (!drained) {
      child.stdout?.destroy()
      child.stderr?.destroy()
      await closed
    }
  }

  #judge(exit: Exit, output: OutputTail, command: string): ProbeResult {
    if (exit.startError !== undefined) return this.#startFailed(exit.startError, command)
    const text = output.text()
    if (exit.code === 0) return { status: 'passing', output: text }
    if (exit.code === 1) return { status: 'warning', output: text }
    this.ctx.logger.warn({ checkId: this.ctx.checkId, exitCode: exit.code }, 'Check is now critical')
    return { status: 'critical', output: text }
  }

  #startFailed(err: unknown, command: string): ProbeResult {
    const text = err instanceof Error ? startErrorText(err, command) : String(err)
    this.ctx.logger.error({ checkId: this.ctx.checkId, err: text }, 'Failed to invoke')
    return { status: 'critical', output: text, bypassThresholds: true }
  }
}
