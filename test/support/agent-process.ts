/**
 * Runs the real `vigil agent` binary as a child process for integration tests: picks a free
 * HTTP port on 127.0.0.1 (others if one was taken before the agent bound it), waits (at most
 * 10 s, polling `GET /v1/agent/self` every 50 ms) until it answers, and collects its output.
 * Pass the test context as `t` to have the process killed in `t.after`; every child still alive
 * when the test process exits is SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export const VIGIL_BIN = fileURLToPath(new URL('../../../bin/vigil.js', import.meta.url))
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export interface AgentProcessOptions {
  /** Extra agent arguments, after the defaults (so they override them). */
  readonly args?: readonly string[]
  /** Runs a client agent with this data dir (and `-bind 127.0.0.1`) instead of `-dev`. */
  readonly dataDir?: string
  /** Added to the child's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Registers `kill()` in `t.after`. */
  readonly t?: { after(fn: () => Promise<void> | void): void }
  /** Readiness deadline; default and maximum 10 s. */
  readonly readyTimeoutMs?: number
  /**
   * Run on this loopback address with Consul's default ports (`-bind` and `-client` set to it,
   * HTTP 8500, serf LAN 8301, server 8300), as cluster harnesses do. Without it the agent runs on
   * 127.0.0.1 with free ports for HTTP, serf LAN and the server port.
   */
  readonly host?: string
}

export interface AgentProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  readonly pid: number
  /** Everything written to stdout and stderr so far, interleaved as received. */
  output(): string
  /** Sends `signal` (default SIGTERM) and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>
  /** SIGKILL, then waits for the exit. Idempotent. */
  kill(): Promise<void>
  /** Resolves with the exit code once the process has exited. */
  exited(): Promise<number | null>
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Spawns `node bin/vigil.js` with `args` and collects its output (no readiness wait). */
export function spawnVigil(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [VIGIL_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d))
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => {
      live.delete(child)
      resolve(code)
    })
  })
  return { child, output: () => out, exited }
}

/**
 * A port picked free a moment ago can be taken before the agent binds it (by a test running beside
 * this one, or as the local port of any outgoing connection): such a start is tried again on new
 * ports, a few times.
 */
export async function startAgentProcess(opts: AgentProcessOptions = {}): Promise<AgentProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAgentProcessOnce(opts)
    } catch (err) {
      const taken = err instanceof Error && /bind: address already in use/.test(err.message)
      if (!taken || opts.host !== undefined || attempt >= 3) throw err
    }
  }
}

async function startAgentProcessOnce(opts: AgentProcessOptions): Promise<AgentProcess> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.host === undefined ? await freePort() : 8500
  const network =
    opts.host === undefined
      ? [
          '-http-port',
          String(port),
          '-serf-lan-port',
          String(await freePort()),
          '-server-port',
          String(await freePort()),
        ]
      : ['-bind', host, '-client', host]
  // Tests run side by side: the DNS listener takes a free port unless the test names one.
  const dnsPort = opts.args?.includes('-dns-port') === true ? [] : ['-dns-port', String(await freePort())]
  const base =
    opts.dataDir === undefined
      ? ['agent', '-dev', ...network, ...dnsPort]
      : ['agent', '-data-dir', opts.dataDir, '-bind', '127.0.0.1', ...network, ...dnsPort]
  const { child, output, exited } = spawnVigil([...base, ...(opts.args ?? [])], opts.env)
  let exitCode: number | null | undefined
  void exited.then((code) => (exitCode = code))

  const kill = async (): Promise<void> => {
    if (exitCode === undefined) child.kill('SIGKILL')
    await exited
  }
  opts.t?.after(kill)

  const url = `http://${host}:${port}`
  const deadline = Date.now() + Math.min(opts.readyTimeoutMs ?? 10_000, 10_000)
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(`vigil agent exited with code ${String(exitCode)} before answering:\n${output()}`)
    }
    try {
      const res = await fetch(`${url}/v1/agent/self`, { signal: AbortSignal.timeout(1_000) })
      await res.arrayBuffer()
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await kill()
      throw new Error(`vigil agent did not answer on ${url} within the deadline:\n${output()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  return {
    url,
    port,
    pid: child.pid ?? -1,
    output,
    exited: () => exited,
    kill,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitCode === undefined) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

/** Runs a short-lived vigil command (bounded to 10 s); resolves with its exit code and output. */
export async function runVigil(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { child, exited } = spawnVigil(args, env)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: string) => (stdout += d))
  child.stderr?.on('data', (d: string) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  const code = await exited
  clearTimeout(timer)
  return { code, stdout, stderr }
}
