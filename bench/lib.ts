import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'

export interface Proc {
  readonly child: ChildProcess
  readonly port: number
  readonly url: string
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => {
        resolve(port)
      })
    })
  })
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}`)
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      return
    } catch {
      await new Promise((r) => setTimeout(r, 5))
    }
  }
  throw new Error(`${url} did not become ready`)
}

/**
 * Starts `vigil agent` as a child process (the real binary, as users run it): `-dev`, or with
 * `dataDir` a persistent agent. Resolves once the HTTP API answers, with the time that took.
 */
export async function startVigil(
  extraArgs: readonly string[] = [],
  opts: { dataDir?: string; nodeArgs?: readonly string[] } = {},
): Promise<Proc & { readyMs: number }> {
  const port = await freePort()
  const mode = opts.dataDir === undefined ? ['-dev'] : ['-data-dir', opts.dataDir, '-bind', '127.0.0.1']
  // Every listener on a free port, so a benchmark never collides with another agent on the host.
  const ports = ['-dns-port', '-serf-lan-port', '-server-port']
  const listeners: string[] = []
  for (const flag of ports) if (!extraArgs.includes(flag)) listeners.push(flag, String(await freePort()))
  const started = performance.now()
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      'bin/vigil.js',
      'agent',
      ...mode,
      '-http-port',
      String(port),
      ...listeners,
      '-log-level',
      'warn',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const url = `http://127.0.0.1:${port}`
  await waitReady(`${url}/v1/agent/self`, child)
  return { child, port, url, stop: () => stopChild(child), readyMs: performance.now() - started }
}

/**
 * Starts a bare node:http server answering with a captured response (`script`: the server in
 * dist/bench/, bare-server.js by default).
 */
export async function startBare(
  response: { status: number; headers: Headers; body: Buffer },
  script = 'bare-server.js',
  nodeArgs: readonly string[] = [],
): Promise<Proc> {
  const port = await freePort()
  const file = join(tmpdir(), `vigil-bench-${process.pid}-${port}.json`)
  const headers: Record<string, string> = {}
  response.headers.forEach((v, k) => {
    if (!['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(k))
      headers[k] = v
  })
  writeFileSync(
    file,
    JSON.stringify({ status: response.status, headers, body: response.body.toString('base64') }),
  )
  const child = spawn(process.execPath, [...nodeArgs, `dist/bench/${script}`, String(port), file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  await waitReady(url, child)
  return { child, port, url, stop: () => stopChild(child) }
}

/** Captures one response exactly, for the bare server to replay. */
export async function capture(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, init)
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

export interface LoadResult {
  readonly requestsPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly non2xx: number
  readonly errors: number
}

/** Drives `url` with autocannon (keep-alive, `connections` connections) for `seconds`. */
export async function load(opts: {
  url: string
  seconds: number
  connections: number
  requests?: autocannon.Request[]
  method?: autocannon.Request['method']
}): Promise<LoadResult> {
  const result = await autocannon({
    url: opts.url,
    duration: opts.seconds,
    connections: opts.connections,
    pipelining: 1,
    ...(opts.method !== undefined ? { method: opts.method } : {}),
    ...(opts.requests !== undefined ? { requests: opts.requests } : {}),
  })
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** CPU seconds (user+system) and resident set size of a process, from /proc. */
export function procUsage(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return { cpuSeconds: ticks / 100, rssBytes: rssKb * 1024 }
}

/** Node flags that preload the GC probe (bench/gc-probe.ts) into a server process. */
export const GC_PROBE_ARGS: readonly string[] = ['--expose-gc', '--import', './dist/bench/gc-probe.js']

/**
 * The memory a process started with GC_PROBE_ARGS retains: full collections first, then its heap
 * in use and its resident set.
 */
export async function retained(pid: number): Promise<{ heapUsed: number; rssBytes: number }> {
  const file = join(tmpdir(), `vigil-gc-probe-${pid}.json`)
  rmSync(file, { force: true })
  process.kill(pid, 'SIGUSR2')
  for (let i = 0; i < 300 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 50))
  // The file is written in one call; wait for the process to settle after the collections.
  await new Promise((r) => setTimeout(r, 200))
  const usage = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number }
  rmSync(file, { force: true })
  return { heapUsed: usage.heapUsed, rssBytes: procUsage(pid).rssBytes }
}

export async function put(url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'PUT',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`PUT ${url} → ${res.status} ${text}`)
}

/** Calls `fn(0…count-1)` with at most `width` in flight; the completed calls per second. */
export async function rate(
  count: number,
  width: number,
  fn: (i: number) => Promise<unknown>,
): Promise<number> {
  const ids = Array.from({ length: count }, (_, i) => i)
  const started = performance.now()
  await inParallel(ids, width, async (i) => {
    await fn(i)
  })
  return count / ((performance.now() - started) / 1000)
}

/** A count rounded, with thousands separators. */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** Runs `fn` over `items` with at most `width` in flight. */
export async function inParallel<T>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++] as T
        await fn(item)
      }
    }),
  )
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`)
}
