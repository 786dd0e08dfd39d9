/**
 * Cluster benchmarks, the `cluster` suite of `npm run bench` (`-- --only=cluster`):
 *
 * 1. Propagation: a TTL check flipped on a client agent, until a blocking
 *    `/v1/health/checks/:service` query on the server answers with the new status (p50/p99).
 *    Real processes: `vigil agent -server` and a client agent joined to it.
 * 2. Load: simulated client agents against one server's cluster listener, each registering its
 *    node, a service and a check (anti-entropy's RPC) and then heartbeating every 1–2 s; the
 *    server's CPU (share of one core) and RSS at 100, 300 and 1,000 agents.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { freePort, log, procUsage, put } from './lib.js'

interface Agent {
  readonly child: ChildProcess
  readonly url: string
  readonly serfPort: number
  readonly serverPort: number
}

/** Starts an agent on free ports; a port taken between the pick and the bind → retried on others. */
async function startAgent(dir: string, args: readonly string[]): Promise<Agent> {
  for (let attempt = 1; ; attempt++) {
    const agent = await startAgentOnce(dir, args)
    if (agent !== undefined) return agent
    if (attempt === 3) throw new Error('the agent exited before answering, 3 times')
  }
}

/** Undefined when the process exited before answering. */
async function startAgentOnce(dir: string, args: readonly string[]): Promise<Agent | undefined> {
  const http = await freePort()
  const serfPort = await freePort()
  const serverPort = await freePort()
  const dnsPort = await freePort()
  const child = spawn(
    process.execPath,
    [
      'bin/vigil.js',
      'agent',
      '-data-dir',
      dir,
      '-bind',
      '127.0.0.1',
      '-http-port',
      String(http),
      '-serf-lan-port',
      String(serfPort),
      '-server-port',
      String(serverPort),
      '-dns-port',
      String(dnsPort),
      '-log-level',
      'warn',
      ...args,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const url = `http://127.0.0.1:${http}`
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/v1/agent/self`)
      await res.arrayBuffer()
      break
    } catch {
      if (child.exitCode !== null) return undefined
      if (i > 2000) throw new Error(`${url} did not start`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }
  return { child, url, serfPort, serverPort }
}

function stop(a: Agent): Promise<void> {
  return new Promise((resolve) => {
    if (a.child.exitCode !== null) {
      resolve()
      return
    }
    a.child.once('exit', () => {
      resolve()
    })
    a.child.kill('SIGKILL')
  })
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
}

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await fn()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function propagation(root: string, rounds: number): Promise<{ p50: number; p99: number }> {
  const server = await startAgent(join(root, 's'), ['-node', 'bench-server', '-server', '-bootstrap'])
  const client = await startAgent(join(root, 'c'), [
    '-node',
    'bench-client',
    '-retry-join',
    `127.0.0.1:${server.serfPort}`,
    '-retry-interval',
    '100ms',
  ])
  try {
    await put(`${client.url}/v1/agent/service/register`, {
      Name: 'web',
      ID: 'web',
      Check: { CheckID: 'web-ttl', Name: 'ttl', TTL: '1h', Status: 'passing' },
    })
    const checksUrl = `${server.url}/v1/health/checks/web`
    await until('the service in the catalog', async () => {
      const res = await fetch(checksUrl)
      return ((await res.json()) as unknown[]).length === 1
    })
    const samples: number[] = []
    let status = 'passing'
    for (let i = 0; i < rounds; i++) {
      const first = await fetch(checksUrl)
      let index = first.headers.get('x-consul-index') ?? '1'
      await first.arrayBuffer()
      status = status === 'passing' ? 'critical' : 'passing'
      const verb = status === 'passing' ? 'pass' : 'fail'
      const started = performance.now()
      const flipped = put(`${client.url}/v1/agent/check/${verb}/web-ttl`)
      for (;;) {
        const res = await fetch(`${checksUrl}?index=${index}&wait=30s`)
        index = res.headers.get('x-consul-index') ?? index
        const checks = (await res.json()) as { Status: string }[]
        if (checks[0]?.Status === status) break
      }
      samples.push(performance.now() - started)
      await flipped
    }
    samples.sort((a, b) => a - b)
    return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) }
  } finally {
    await stop(client)
    await stop(server)
  }
}

/** Requests the simulated agents sent so far. */
let requests = 0

/** One simulated client agent: registers, then heartbeats every 1–2 s until `signal` aborts. */
async function simulate(target: string, n: number, signal: AbortSignal): Promise<void> {
  const name = `sim-${n}`
  const addr = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`
  const node = {
    id,
    node: name,
    address: addr,
    datacenter: 'dc1',
    taggedAddresses: { lan: addr, lan_ipv4: addr, wan: addr, wan_ipv4: addr },
    meta: { 'consul-network-segment': '', 'consul-version': '1.22.0' },
  }
  const member = {
    name,
    addr,
    port: 8301,
    tags: {
      role: 'node',
      dc: 'dc1',
      id,
      segment: '',
      vsn: '2',
      vsn_min: '2',
      vsn_max: '3',
      build: '1.22.0:',
    },
    status: 'alive',
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 4,
  }
  const post = async (path: string, body: unknown): Promise<string> => {
    const res = await fetch(`${target}/v1/internal/cluster${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const text = await res.text()
    requests++
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`)
    return text
  }
  let knownEpoch = ''
  let knownVersion = -1
  const heartbeat = async (): Promise<void> => {
    // As the agent's client: it takes the changes since its version instead of whole lists.
    const reply = JSON.parse(
      await post('/heartbeat', { member, node, knownEpoch, knownVersion, delta: true }),
    ) as { epoch: string; version: number; members: unknown[] | null; changed?: unknown[] }
    if (reply.members !== null || reply.changed !== undefined) {
      knownEpoch = reply.epoch
      knownVersion = reply.version
    }
  }
  const service = {
    id: 'app',
    name: 'app',
    tags: ['v1'],
    address: '',
    port: 8080,
    socketPath: '',
    taggedAddresses: {},
    meta: {},
    weights: { passing: 1, warning: 1 },
    enableTagOverride: false,
    kind: '',
    proxy: null,
    connectNative: false,
    locallyRegisteredAsSidecar: false,
  }
  const check = {
    node: name,
    checkId: 'service:app',
    name: "Service 'app' check",
    status: 'passing',
    notes: '',
    output: '',
    serviceId: 'app',
    serviceName: 'app',
    serviceTags: ['v1'],
    type: 'ttl',
    interval: '',
    timeout: '',
    exposedPort: 0,
  }
  try {
    await heartbeat()
    await post('/catalog/read', { name })
    await post('/catalog/register', { node, service, checks: [check], token: '' })
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 1000))
      if (isAborted(signal)) break
      await heartbeat()
    }
  } catch (err) {
    if (!signal.aborted) throw err
  }
}

interface LoadRow {
  readonly count: number
  readonly heartbeatsPerSec: number
  readonly cpuPct: number
  readonly rssMb: number
}

async function load(
  root: string,
  counts: readonly number[],
  seconds: number,
  warmupMs: number,
): Promise<LoadRow[]> {
  const server = await startAgent(join(root, 'load'), ['-node', 'load-server', '-server', '-bootstrap'])
  const target = `http://127.0.0.1:${server.serverPort}`
  const rows: LoadRow[] = []
  const stopAll = new AbortController()
  const running: Promise<void>[] = []
  let started = 0
  try {
    for (const count of counts) {
      while (started < count) {
        running.push(simulate(target, started, stopAll.signal))
        started++
        if (started % 50 === 0) await new Promise((r) => setTimeout(r, 20))
      }
      await new Promise((r) => setTimeout(r, warmupMs))
      const pid = server.child.pid ?? 0
      const before = procUsage(pid)
      const sent = requests
      const t0 = performance.now()
      await new Promise((r) => setTimeout(r, seconds * 1000))
      const after = procUsage(pid)
      const elapsed = (performance.now() - t0) / 1000
      const cpu = (after.cpuSeconds - before.cpuSeconds) / elapsed
      const rate = (requests - sent) / elapsed
      const row = { count, heartbeatsPerSec: rate, cpuPct: cpu * 100, rssMb: after.rssBytes / 2 ** 20 }
      log(
        `${count} simulated agents: ${rate.toFixed(0)} heartbeats/s, server ${row.cpuPct.toFixed(1)}% / ${row.rssMb.toFixed(0)} MB`,
      )
      rows.push(row)
    }
  } finally {
    stopAll.abort()
    await Promise.allSettled(running)
    await stop(server)
  }
  return rows
}

export interface ClusterRow {
  readonly name: string
  readonly value: string
  readonly goal: string
  readonly met: boolean | null
}

/** Both cluster benchmarks; `quick` shortens rounds and windows (a smoke run). */
export async function clusterBenchmarks(opts: { readonly quick: boolean }): Promise<ClusterRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'vigil-bench-cluster-'))
  try {
    const p = await propagation(root, opts.quick ? 30 : 200)
    log(`propagation: p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms`)
    const rows: ClusterRow[] = [
      {
        name: 'TTL flip on a client agent → a blocking /v1/health/checks/:service on the server answers it (real processes): p50 / p99',
        value: `${p.p50.toFixed(1)} ms / ${p.p99.toFixed(1)} ms`,
        goal: 'p99 < 100 ms',
        met: p.p99 < 100,
      },
    ]
    const counts = opts.quick ? [100] : [100, 300, 1000]
    const load1 = await load(root, counts, opts.quick ? 3 : 10, opts.quick ? 3000 : 15_000)
    for (const r of load1) {
      const last = r.count === 1000
      rows.push({
        name: `${fmtCount(r.count)} simulated client agents (register node, service, check; heartbeat every 1–2 s): heartbeats/s; server CPU (one core) / RSS`,
        value: `${r.heartbeatsPerSec.toFixed(0)}/s; ${r.cpuPct.toFixed(1)}% / ${r.rssMb.toFixed(0)} MB`,
        goal: last ? '< 25% / < 300 MB' : '—',
        met: last ? r.cpuPct < 25 && r.rssMb < 300 : null,
      })
    }
    return rows
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

function fmtCount(n: number): string {
  return n.toLocaleString('en-US')
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
