/**
 * Catalog server benchmarks: health reads against a bare server, wake-all of many blocking
 * queries on one service, durable catalog writes against etcd puts, and the restart of a server
 * with a large catalog. vigil runs in its own process (`vigil agent -dev`, or
 * `-server -bootstrap -data-dir`); the catalog benchmarks in process use `Catalog.open` over the
 * embedded store, as the server role does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type autocannon from 'autocannon'
import { decodeCatalogRegister } from '../src/api/catalog-body.js'
import { Catalog } from '../src/catalog/catalog.js'
import { serviceHealthQuery } from '../src/catalog/queries.js'
import { systemClock } from '../src/lib/clock.js'
import { catalogDataDir, catalogPrefix } from '../src/roles/server.js'
import { openEmbeddedStore } from '../src/store/embedded.js'
import { MemoryStore } from '../src/store/memory.js'
import type { Store } from '../src/store/store.js'
import { startEtcd } from '../test/support/etcd.js'
import { etcdTimedRate } from './store.js'
import {
  capture,
  fmt,
  freePort,
  inParallel,
  load,
  log,
  median,
  procUsage,
  put,
  rate,
  retained,
  GC_PROBE_ARGS,
  startBare,
  startVigil,
  type Proc,
} from './lib.js'

/** A catalog on `store` as a server of datacenter dc1 opens it. */
export function benchCatalog(store: Store): Promise<Catalog> {
  return Catalog.open({ store, prefix: catalogPrefix('dc1'), datacenter: 'dc1', clock: systemClock })
}

export interface CatalogRow {
  readonly name: string
  readonly value: string
  readonly goal: string
  readonly met: boolean | null
}

export interface CatalogBenchOptions {
  readonly quick: boolean
  readonly rounds: number
  readonly seconds: number
  readonly connections: number
}

export interface CatalogBenchResult {
  readonly rows: CatalogRow[]
  readonly sections: string[]
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0
}

/** A `/v1/catalog/register` body: node `node` with one instance of `service` and its passing check. */
export function registerBody(node: string, service: string, id: string, i: number): Record<string, unknown> {
  return {
    Node: node,
    Address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    Service: { ID: id, Service: service, Tags: ['primary', 'v2'], Port: 8080, Meta: { version: '2.4.1' } },
    Check: { CheckID: `service:${id}`, Name: `${service} alive`, Status: 'passing', ServiceID: id },
  }
}

async function registerInstances(vigil: Proc, service: string, count: number): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => i)
  await inParallel(ids, 16, (i) =>
    put(`${vigil.url}/v1/catalog/register`, registerBody(`node-${i}`, service, `${service}-${i}`, i)),
  )
}

/** `GET /v1/health/service/web?passing` with 100 passing instances, against the bare server. */
async function healthRead(opts: CatalogBenchOptions, rows: CatalogRow[]): Promise<void> {
  const vigil = await startVigil()
  try {
    await registerInstances(vigil, 'web', 100)
    const url = `${vigil.url}/v1/health/service/web?passing`
    const captured = await capture(url)
    const instances = (JSON.parse(captured.body.toString('utf8')) as unknown[]).length
    const bare = await startBare(captured)
    try {
      const v: number[] = []
      const b: number[] = []
      for (let r = 0; r < opts.rounds; r++) {
        v.push((await load({ url, seconds: opts.seconds, connections: opts.connections })).requestsPerSec)
        b.push(
          (await load({ url: bare.url, seconds: opts.seconds, connections: opts.connections }))
            .requestsPerSec,
        )
        log(`health round ${r + 1}/${opts.rounds}: ${v.at(-1)} vs ${b.at(-1)}`)
      }
      const ratio = median(v) / median(b)
      rows.push({
        name: `GET /v1/health/service/web?passing (${instances} instances on ${instances} nodes, ${fmt(captured.body.length)} B), req/s: vigil / bare node:http`,
        value: `${fmt(median(v))} / ${fmt(median(b))} = **${ratio.toFixed(2)}**`,
        goal: 'ratio ≥ 0.5',
        met: ratio >= 0.5,
      })
    } finally {
      await bare.stop()
    }
  } finally {
    await vigil.stop()
  }
}

interface HttpWaiter {
  readonly socket: Socket
  /** performance.now() when the whole response was read, or undefined. */
  doneAt: number | undefined
  status: number
  index: number
}

/**
 * One blocking GET on its own connection, read with a minimal HTTP/1.1 response parser so that
 * the client's own cost per response stays small next to the server's.
 */
function openWaiter(port: number, path: string, onDone: () => void): Promise<HttpWaiter> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const w: HttpWaiter = { socket, doneAt: undefined, status: 0, index: 0 }
    let buf: Buffer = Buffer.alloc(0)
    let need = -1
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
      if (need < 0) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.subarray(0, end).toString('latin1')
        w.status = Number(head.slice(9, 12))
        w.index = Number(/\r\nx-consul-index: (\d+)/i.exec(head)?.[1] ?? 0)
        need = end + 4 + Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0)
      }
      if (buf.length >= need && w.doneAt === undefined) {
        w.doneAt = nowMs()
        onDone()
      }
    })
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, () => resolve(w))
    })
  })
}

export async function metricsHeap(vigil: Proc): Promise<number> {
  const res = await fetch(`${vigil.url}/v1/agent/metrics`)
  const body = (await res.json()) as { Gauges?: { Name: string; Value: number }[] }
  return body.Gauges?.find((g) => g.Name.endsWith('runtime.alloc_bytes'))?.Value ?? 0
}

/** Waits until the process has used less than 2% of a core for two 500 ms windows in a row. */
export async function quiesce(pid: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs
  let calm = 0
  let last = procUsage(pid).cpuSeconds
  while (calm < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500))
    const now = procUsage(pid).cpuSeconds
    calm = now - last <= 0.01 ? calm + 1 : 0
    last = now
  }
}

export interface WakeResult {
  readonly waiting: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly rssPerWaiter: number
  /** NaN when the process does not report its heap. */
  readonly heapPerWaiter: number
  /**
   * After full collections (the process runs the GC probe, bench/gc-probe.ts): heap retained and
   * resident set growth per waiter; NaN without the probe.
   */
  readonly retainedHeapPerWaiter: number
  readonly retainedRssPerWaiter: number
  /** Responses read before the change: must be 0. */
  readonly early: number
  /** The same percentiles measured from the moment the write was sent, and the write's own time. */
  readonly p50FromSendMs: number
  readonly p99FromSendMs: number
  readonly writeMs: number
}

/** Which client reads the answers: the C++ epoll reader (bench/native), or Node sockets. */
export type WakeReader = 'native' | 'node'

/** The readers a wake-all can use here: the native one only when it could be built. */
export function wakeReaders(): readonly WakeReader[] {
  return nativeWakeReader() === undefined ? ['node'] : ['native', 'node']
}

/**
 * `count` blocking GETs of `path`, each on its own loopback connection, then `change()` (a write
 * acknowledged when it resolves). Latency runs from the acknowledgement to each response's last
 * byte (a response read before it counts as 0); a response must carry an index above `minIndex`.
 * Memory is the process's growth from before the first connection to all `count` waiting.
 *
 * The answers are read by `reader`: the native reader (default when built) costs the machine
 * least, so that on 2 cores the latency is the server's; the Node reader is the earlier method.
 */
export async function wakeAll(target: {
  port: number
  pid: number
  /** Spread the waiters round-robin over these ports instead of `port` alone. */
  ports?: readonly number[]
  /** More server processes to let settle before the connections and the change (besides `pid`). */
  otherPids?: readonly number[]
  path: string
  count: number
  minIndex: number
  change: () => Promise<void>
  heap?: () => Promise<number>
  /** Runs once all waiters wait, before the change (e.g. to sample a server's load). */
  whileWaiting?: () => Promise<void>
  reader?: WakeReader
  /** `pid` runs the GC probe: measure what it retains per waiter too. */
  probe?: boolean
}): Promise<WakeResult> {
  const { count, pid } = target
  const ports = target.ports ?? [target.port]
  const pids = [pid, ...(target.otherPids ?? [])]
  const native = target.reader === 'node' ? undefined : nativeWakeReader()
  for (const p of pids) await quiesce(p, 10_000)
  const before = procUsage(pid).rssBytes
  const heapBefore = (await target.heap?.()) ?? Number.NaN
  const keptBefore = target.probe === true ? await retained(pid) : undefined
  const readers =
    native !== undefined
      ? await openNativeWaiters(native, ports, target.path, count)
      : await openNodeWaiters(ports, target.path, count)
  try {
    for (const p of pids) await quiesce(p, 60_000)
    const after = procUsage(pid).rssBytes
    const heapAfter = (await target.heap?.()) ?? Number.NaN
    const keptAfter = keptBefore !== undefined ? await retained(pid) : undefined
    await target.whileWaiting?.()
    const sentAt = nowMs()
    await target.change()
    const ackAt = nowMs()
    const answers = await readers.results(120_000)
    const early = answers.filter((w) => w.doneAt !== undefined && w.doneAt < sentAt).length
    const woken = answers.filter(
      (w) => w.doneAt !== undefined && w.status === 200 && w.index > target.minIndex,
    )
    const lat = woken.map((w) => Math.max(0, (w.doneAt ?? 0) - ackAt))
    const fromSend = woken.map((w) => Math.max(0, (w.doneAt ?? 0) - sentAt))
    if (lat.length !== count) log(`wake-all: ${lat.length} of ${count} answered as expected`)
    return {
      waiting: count,
      p50Ms: percentile(lat, 50),
      p99Ms: lat.length === count ? percentile(lat, 99) : Number.POSITIVE_INFINITY,
      maxMs: lat.length === count ? Math.max(...lat) : Number.POSITIVE_INFINITY,
      rssPerWaiter: (after - before) / count,
      heapPerWaiter: (heapAfter - heapBefore) / count,
      retainedHeapPerWaiter:
        keptBefore !== undefined && keptAfter !== undefined
          ? (keptAfter.heapUsed - keptBefore.heapUsed) / count
          : Number.NaN,
      retainedRssPerWaiter:
        keptBefore !== undefined && keptAfter !== undefined
          ? (keptAfter.rssBytes - keptBefore.rssBytes) / count
          : Number.NaN,
      early,
      p50FromSendMs: percentile(fromSend, 50),
      p99FromSendMs: lat.length === count ? percentile(fromSend, 99) : Number.POSITIVE_INFINITY,
      writeMs: ackAt - sentAt,
    }
  } finally {
    readers.close()
  }
}

/** Milliseconds on the monotonic clock both readers stamp answers with (process.hrtime). */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

interface WaiterSet {
  /** Every answer once all are in or `timeoutMs` passed. */
  results(
    timeoutMs: number,
  ): Promise<readonly { status: number; index: number; doneAt: number | undefined }[]>
  close(): void
}

async function openNodeWaiters(ports: readonly number[], path: string, count: number): Promise<WaiterSet> {
  const waiters: HttpWaiter[] = []
  let done = 0
  let allDone: () => void = () => undefined
  const finished = new Promise<void>((resolve) => (allDone = resolve))
  const onDone = (): void => {
    if (++done === count) allDone()
  }
  const ids = Array.from({ length: count }, (_, i) => i)
  try {
    // Connections are opened 256 at a time: the listen backlog (somaxconn) must not overflow.
    await inParallel(ids, 256, async (i) => {
      waiters.push(await openWaiter(ports[i % ports.length] ?? 0, path, onDone))
    })
  } catch (err) {
    for (const w of waiters) w.socket.destroy()
    throw err
  }
  return {
    results: async (timeoutMs) => {
      await Promise.race([finished, new Promise((r) => setTimeout(r, timeoutMs))])
      return waiters
    },
    close: () => {
      for (const w of waiters) w.socket.destroy()
    },
  }
}

/** The native reader (bench/native/wake-reader.cc), built with g++ on first use; undefined without g++. */
let nativeReader: { path: string | undefined } | undefined
function nativeWakeReader(): string | undefined {
  if (nativeReader !== undefined) return nativeReader.path
  const source = join(import.meta.dirname, '..', '..', 'bench', 'native', 'wake-reader.cc')
  const binary = join(import.meta.dirname, 'native', 'wake-reader')
  mkdirSync(dirname(binary), { recursive: true })
  const stale = !existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs
  const built = !stale || spawnSync('g++', ['-O2', '-o', binary, source], { stdio: 'inherit' }).status === 0
  if (!built) log('wake-all: g++ could not build the native reader; reading answers with Node')
  nativeReader = { path: built ? binary : undefined }
  return nativeReader.path
}

async function openNativeWaiters(
  binary: string,
  ports: readonly number[],
  path: string,
  count: number,
): Promise<WaiterSet> {
  const child = spawn(binary, ['127.0.0.1', ports.join(','), path, String(count), '300000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.setEncoding('latin1')
  child.stdout.on('data', (chunk: string) => (out += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const ready = await Promise.race([
    (async () => {
      while (!out.startsWith('ready\n')) await new Promise((r) => setTimeout(r, 20))
      return true
    })(),
    exited.then(() => false),
  ])
  if (!ready) throw new Error('wake-reader exited before its connections were open')
  return {
    results: async (timeoutMs) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      // The reader prints its answers when all are in; a reader killed on timeout answered nothing.
      await exited
      clearTimeout(timer)
      return out
        .split('\n')
        .slice(1)
        .filter((line) => line !== '')
        .map((line) => {
          const [status = '0', index = '0', ns = '0'] = line.split(' ')
          return {
            status: Number(status),
            index: Number(index),
            doneAt: ns === '0' ? undefined : Number(BigInt(ns)) / 1e6,
          }
        })
    },
    close: () => {
      child.kill('SIGKILL')
    },
  }
}

/**
 * One round: vigil (`-dev`, `instances` instances of web) with `count` waiters and one new
 * instance registered, then the bare hold server replaying vigil's answer with the same client.
 */
async function wakeAllRound(
  count: number,
  instances: number,
  reader: WakeReader,
  /** Run both servers with the GC probe and measure retained memory (a collection before the change). */
  probe: boolean,
): Promise<{ vigil: WakeResult; bare: WakeResult; bodyBytes: number }> {
  const nodeArgs = probe ? GC_PROBE_ARGS : []
  const vigil = await startVigil([], { nodeArgs })
  let vigilResult: WakeResult
  let answer: Awaited<ReturnType<typeof capture>>
  try {
    await registerInstances(vigil, 'web', instances)
    const first = await capture(`${vigil.url}/v1/health/service/web`)
    const index = Number(first.headers.get('x-consul-index'))
    vigilResult = await wakeAll({
      port: vigil.port,
      pid: vigil.child.pid ?? 0,
      path: `/v1/health/service/web?index=${index}&wait=5m`,
      count,
      minIndex: index,
      change: () =>
        put(`${vigil.url}/v1/catalog/register`, registerBody('node-new', 'web', 'web-new', instances)),
      heap: () => metricsHeap(vigil),
      reader,
      probe,
    })
    answer = await capture(`${vigil.url}/v1/health/service/web`)
  } finally {
    await vigil.stop()
  }
  const bare = await startBare(answer, 'bare-hold-server.js', nodeArgs)
  try {
    const bareResult = await wakeAll({
      port: bare.port,
      pid: bare.child.pid ?? 0,
      path: '/v1/health/service/web?index=1&wait=5m',
      count,
      minIndex: 0,
      change: () => put(`${bare.url}/`),
      reader,
      probe,
    })
    return { vigil: vigilResult, bare: bareResult, bodyBytes: answer.body.length }
  } finally {
    await bare.stop()
  }
}

/** The same in process: `count` waiters through `Catalog.block` on a memory store, one change. */
async function wakeAllInProcess(
  count: number,
  instances: number,
): Promise<{ p50Ms: number; p99Ms: number; heapPerWaiter: number }> {
  const store = new MemoryStore({ clock: systemClock })
  const catalog = await benchCatalog(store)
  try {
    for (let i = 0; i < instances; i++) {
      await catalog.register(
        decodeCatalogRegister(JSON.stringify(registerBody(`node-${i}`, 'web', `web-${i}`, i))).request,
      )
    }
    const index = catalog.read(serviceHealthQuery('web')).index
    global.gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    const times: number[] = []
    const pending: Promise<void>[] = []
    for (let i = 0; i < count; i++) {
      // A fresh query object per waiter, as the HTTP route builds one per request.
      pending.push(
        catalog.block(serviceHealthQuery('web'), { index, waitMs: 300_000 }).then(() => {
          times.push(performance.now())
        }),
      )
    }
    await new Promise((r) => setImmediate(r))
    global.gc?.()
    const heapPerWaiter = (process.memoryUsage().heapUsed - heapBefore) / count
    await catalog.register(
      decodeCatalogRegister(JSON.stringify(registerBody('node-new', 'web', 'web-new', instances))).request,
    )
    const ackAt = performance.now()
    await Promise.all(pending)
    const lat = times.map((t) => Math.max(0, t - ackAt))
    return { p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), heapPerWaiter }
  } finally {
    await catalog.close()
    await store.close()
  }
}

async function blocking(opts: CatalogBenchOptions, rows: CatalogRow[], sections: string[]): Promise<void> {
  const count = opts.quick ? 1000 : 10_000
  const instances = 3
  const rounds = opts.quick ? 1 : 3
  const readers = wakeReaders()
  /** Per reader: vigil and bare results per round (the Node reader's rounds run the GC probe). */
  const runs = new Map<WakeReader, { vigil: WakeResult[]; bare: WakeResult[] }>()
  const inproc: Awaited<ReturnType<typeof wakeAllInProcess>>[] = []
  let bodyBytes = 0
  const show = (w: WakeResult): string =>
    `p50 ${w.p50Ms.toFixed(1)} p99 ${w.p99Ms.toFixed(1)} ms, RSS ${w.rssPerWaiter.toFixed(0)} B/heap ${w.heapPerWaiter.toFixed(0)} B, ` +
    `retained heap ${w.retainedHeapPerWaiter.toFixed(0)} B/RSS ${w.retainedRssPerWaiter.toFixed(0)} B per waiter, early ${w.early}`
  for (let r = 0; r < rounds; r++) {
    for (const reader of readers) {
      const round = await wakeAllRound(count, instances, reader, reader === 'node')
      const run = runs.get(reader) ?? { vigil: [], bare: [] }
      runs.set(reader, run)
      run.vigil.push(round.vigil)
      run.bare.push(round.bare)
      bodyBytes = round.bodyBytes
      log(
        `wake-all round ${r + 1}/${rounds} (${reader} reader): vigil ${show(round.vigil)}; bare ${show(round.bare)}`,
      )
    }
    inproc.push(await wakeAllInProcess(count, instances))
    const p = inproc.at(-1)
    log(
      `wake-all in process: p50 ${p?.p50Ms.toFixed(1)} p99 ${p?.p99Ms.toFixed(1)} ms, heap ${p?.heapPerWaiter.toFixed(0)} B`,
    )
  }
  const m = (list: readonly WakeResult[], f: (w: WakeResult) => number): number => median(list.map(f))
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`
  const main = runs.get(readers[0] ?? 'node') ?? { vigil: [], bare: [] }
  const byNode = runs.get('node') ?? main
  const readerName = (reader: WakeReader): string =>
    reader === 'native' ? 'read by a C++ epoll client' : 'read by a Node client'
  for (const reader of readers) {
    const run = runs.get(reader)
    if (run === undefined) continue
    rows.push({
      name: `${fmt(count)} blocking GET /v1/health/service/web?index=N&wait=5m (${instances} instances, ${fmt(bodyBytes)} B answer), one loopback connection each, ${readerName(reader)}, one change: wake-all p50 / p99 from the write's ack — vigil; bare node:http holding as many`,
      value: `${m(run.vigil, (w) => w.p50Ms).toFixed(0)} ms / ${m(run.vigil, (w) => w.p99Ms).toFixed(0)} ms; bare ${m(run.bare, (w) => w.p50Ms).toFixed(0)} ms / ${m(run.bare, (w) => w.p99Ms).toFixed(0)} ms`,
      goal: 'p99 < 200 ms',
      met: m(run.vigil, (w) => w.p99Ms) < 200,
    })
  }
  rows.push({
    name: `Memory per waiting blocking query over HTTP (${fmt(count)} waiting): growth of the server process ÷ ${fmt(count)}, RSS / heap (garbage included); after full collections, heap retained / RSS — vigil; bare node:http`,
    value:
      `${kb(m(main.vigil, (w) => w.rssPerWaiter))} / ${kb(m(main.vigil, (w) => w.heapPerWaiter))}; ` +
      `retained ${kb(m(byNode.vigil, (w) => w.retainedHeapPerWaiter))} / ${kb(m(byNode.vigil, (w) => w.retainedRssPerWaiter))}; ` +
      `bare RSS ${kb(m(main.bare, (w) => w.rssPerWaiter))}, retained ${kb(m(byNode.bare, (w) => w.retainedHeapPerWaiter))} / ${kb(m(byNode.bare, (w) => w.retainedRssPerWaiter))}`,
    goal: '< 8 KB',
    met: m(main.vigil, (w) => w.rssPerWaiter) < 8 * 1024,
  })
  const ip = (f: (w: (typeof inproc)[number]) => number): number => median(inproc.map(f))
  rows.push({
    name: `${fmt(count)} waiters through Catalog.block in process (${instances} instances), one change: wake-all p50 / p99; heap per waiter`,
    value: `${ip((w) => w.p50Ms).toFixed(1)} ms / ${ip((w) => w.p99Ms).toFixed(1)} ms; ${kb(ip((w) => w.heapPerWaiter))}`,
    goal: 'p99 < 200 ms; < 8 KB',
    met: ip((w) => w.p99Ms) < 200 && ip((w) => w.heapPerWaiter) < 8 * 1024,
  })
  const t = (w: WakeResult | undefined): string =>
    `${w?.p50Ms.toFixed(0)} / ${w?.p99Ms.toFixed(0)} / ${w?.maxMs.toFixed(0)}`
  const b = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '—' : fmt(n))
  sections.push(
    [
      '## Catalog: wake-all of blocking queries, per round',
      '',
      `${fmt(count)} waiting GETs, one connection each; latency from the acknowledgement of the write to the`,
      'last byte of each answer. Each round runs vigil and the bare server with each reader: the C++ epoll',
      'client (bench/native/wake-reader.cc) and the Node client of the benchmark process; the Node',
      'rounds also run the GC probe (bench/gc-probe.ts) for the retained columns.',
      '',
      '| round | reader | vigil p50 / p99 / max ms | bare p50 / p99 / max ms | vigil growth RSS / heap B per waiter | vigil retained heap / RSS B | bare growth RSS B | bare retained heap / RSS B | in process p50 / p99 ms |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...Array.from({ length: rounds }, (_, i) =>
        readers.map((reader) => {
          const run = runs.get(reader)
          const h = run?.vigil[i]
          const bare = run?.bare[i]
          const p = inproc[i]
          return `| ${i + 1} | ${reader} | ${t(h)} | ${t(bare)} | ${b(h?.rssPerWaiter)} / ${b(h?.heapPerWaiter)} | ${b(h?.retainedHeapPerWaiter)} / ${b(h?.retainedRssPerWaiter)} | ${b(bare?.rssPerWaiter)} | ${b(bare?.retainedHeapPerWaiter)} / ${b(bare?.retainedRssPerWaiter)} | ${p?.p50Ms.toFixed(1)} / ${p?.p99Ms.toFixed(1)} |`
        }),
      ).flat(),
      '',
      `Load average after the wake-all rounds: ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores.`,
      '',
    ].join('\n'),
  )
}

/** A registration of service `svc-<round>-<i>` on one of 64 nodes (one per writer). */
export function writeBody(round: number, i: number): Record<string, unknown> {
  return registerBody(`node-${i % 64}`, `svc-${round}-${i}`, `svc-${round}-${i}`, i % 64)
}

async function embeddedCatalogRate(round: number, count: number, width: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-catalog-'))
  const store = await openEmbeddedStore(dir, { clock: systemClock })
  const catalog = await benchCatalog(store)
  try {
    const bodies = Array.from(
      { length: count },
      (_, i) => decodeCatalogRegister(JSON.stringify(writeBody(round, i))).request,
    )
    return await rate(count, width, (i) => catalog.register(bodies[i] ?? (bodies[0] as never)))
  } finally {
    await catalog.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * PUT /v1/catalog/register for `seconds` with `width` keep-alive connections (autocannon, the
 * load generator of the KV rows), each request a distinct registration of round `round`.
 */
export async function httpRegisterRate(
  server: Proc,
  round: number,
  seconds: number,
  width: number,
): Promise<number> {
  let n = 0
  const requests: autocannon.Request[] = [
    {
      method: 'PUT',
      setupRequest: (req) => ({ ...req, body: JSON.stringify(writeBody(round, n++)) }),
    },
  ]
  const res = await load({ url: `${server.url}/v1/catalog/register`, seconds, connections: width, requests })
  if (res.non2xx + res.errors > 0)
    throw new Error(`PUT /v1/catalog/register: ${res.non2xx} non-2xx, ${res.errors} errors`)
  return res.requestsPerSec
}

async function durableWrites(
  opts: CatalogBenchOptions,
  rows: CatalogRow[],
  sections: string[],
): Promise<void> {
  const count = opts.quick ? 1000 : 4000
  const rounds = opts.quick ? 1 : 5
  const width = 64
  let etcd: Awaited<ReturnType<typeof startEtcd>> | undefined
  try {
    etcd = await startEtcd()
  } catch (err) {
    log(`etcd: ${err instanceof Error ? err.message : String(err)}`)
  }
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-server-'))
  const server = await startVigil(['-server', '-bootstrap'], { dataDir: dir })
  const inproc: number[] = []
  const http: number[] = []
  const fetched: number[] = []
  const etcdRates: number[] = []
  try {
    // Warm-up, not counted: the etcd3 client's channel and both processes' JIT.
    if (etcd !== undefined) await etcdTimedRate(etcd, 999, 1, width)
    await httpRegisterRate(server, 999, 1, width)
    for (let r = 0; r < rounds; r++) {
      inproc.push(await embeddedCatalogRate(r, count, width))
      if (etcd !== undefined) etcdRates.push(await etcdTimedRate(etcd, 1000 + r, opts.seconds, width))
      http.push(await httpRegisterRate(server, r, opts.seconds, width))
      fetched.push(
        await rate(count, width, (i) => put(`${server.url}/v1/catalog/register`, writeBody(100 + r, i))),
      )
      log(
        `catalog writes round ${r + 1}/${rounds}: in process ${inproc.at(-1)?.toFixed(0)}, ` +
          `etcd ${etcdRates.at(-1)?.toFixed(0)}, HTTP ${http.at(-1)?.toFixed(0)} (fetch ${fetched.at(-1)?.toFixed(0)})`,
      )
    }
  } finally {
    await server.stop()
    await etcd?.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const e = etcdRates.length > 0 ? median(etcdRates) : Number.NaN
  rows.push({
    name: `Durable catalog registrations/s, ${width} concurrent writers: Catalog on the embedded store (in process) / etcd put`,
    value: `${fmt(median(inproc))} / ${fmt(e)} = **${(median(inproc) / e).toFixed(2)}**`,
    goal: 'ratio ≥ 1.0',
    met: Number.isNaN(e) ? null : median(inproc) / e >= 1,
  })
  rows.push({
    name: `Durable catalog registrations/s, ${width} concurrent writers: PUT /v1/catalog/register on \`-server -bootstrap -data-dir\` (autocannon) / etcd put`,
    value: `${fmt(median(http))} / ${fmt(e)} = **${(median(http) / e).toFixed(2)}**`,
    goal: 'ratio ≥ 1.0',
    met: Number.isNaN(e) ? null : median(http) / e >= 1,
  })
  sections.push(
    [
      '## Catalog: durable registrations vs etcd puts, per round',
      '',
      `In process ${fmt(count)} registrations per round over ${width} writers on a fresh data dir; etcd puts and`,
      `HTTP registrations for ${opts.seconds} s with ${width} in flight (the etcd3 client; autocannon with ${width}`,
      `connections, a distinct body per request), after a 1 s warm-up of each; then ${fmt(count)} registrations`,
      `over ${width} fetch writers (the earlier method, for comparison). One server process and one etcd member`,
      'for all rounds (fresh keys and services each round).',
      '',
      '| round | Catalog in process | etcd put | HTTP (autocannon) | HTTP (fetch) |',
      '| --- | --- | --- | --- | --- |',
      ...inproc.map(
        (v, i) =>
          `| ${i + 1} | ${fmt(v)} | ${fmt(etcdRates[i] ?? Number.NaN)} | ${fmt(http[i] ?? 0)} | ${fmt(fetched[i] ?? 0)} |`,
      ),
      `| **median** | ${fmt(median(inproc))} | ${fmt(e)} | ${fmt(median(http))} | ${fmt(median(fetched))} |`,
      '',
      `Load average after the write rounds: ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores.`,
      '',
    ].join('\n'),
  )
}

async function restart(opts: CatalogBenchOptions, rows: CatalogRow[]): Promise<void> {
  const nodes = opts.quick ? 1000 : 10_000
  const rounds = opts.quick ? 1 : 3
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-bench-catalog-restart-'))
  try {
    const storeDir = catalogDataDir(dataDir)
    const open = async (): Promise<{ catalog: Catalog; close: () => Promise<void> }> => {
      const store = await openEmbeddedStore(storeDir, { clock: systemClock })
      const catalog = await benchCatalog(store)
      return {
        catalog,
        close: async () => {
          await catalog.close()
          await store.close()
        },
      }
    }
    const filled = await open()
    const started = performance.now()
    await inParallel(
      Array.from({ length: nodes }, (_, i) => i),
      64,
      async (i) => {
        await filled.catalog.register(
          decodeCatalogRegister(JSON.stringify(registerBody(`node-${i}`, `svc-${i % 100}`, `svc-${i}`, i)))
            .request,
        )
      },
    )
    log(`restart: wrote ${fmt(nodes)} nodes in ${fmt(performance.now() - started)} ms`)
    await filled.close()
    const inproc: number[] = []
    const spawned: number[] = []
    let listed = 0
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now()
      const c = await open()
      inproc.push(performance.now() - t0)
      await c.close()
      const port = await freePort()
      const t1 = performance.now()
      const child = startVigilServer(dataDir, port)
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/v1/catalog/nodes`)
          if (res.status === 200) {
            listed = ((await res.json()) as unknown[]).length
            break
          }
          await res.arrayBuffer()
        } catch {
          // not listening yet
        }
        if (child.exitCode !== null) throw new Error(`vigil exited with ${child.exitCode}`)
        await new Promise((r) => setTimeout(r, 5))
      }
      spawned.push(performance.now() - t1)
      await stopProcess(child)
      log(
        `restart round ${r + 1}/${rounds}: open ${inproc.at(-1)?.toFixed(0)} ms, process ${spawned.at(-1)?.toFixed(0)} ms`,
      )
    }
    rows.push({
      name: `Server restart with ${fmt(nodes)} nodes (a service and a check each) in the embedded store: Catalog.open → ready (in process) / spawn \`vigil agent -server -bootstrap -data-dir\` → first /v1/catalog/nodes (${fmt(listed)} nodes)`,
      value: `${fmt(median(inproc))} ms / ${fmt(median(spawned))} ms`,
      goal: '—',
      met: null,
    })
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

function startVigilServer(dataDir: string, port: number): ChildProcess {
  return spawn(
    process.execPath,
    [
      'bin/vigil.js',
      'agent',
      '-server',
      '-bootstrap',
      '-data-dir',
      dataDir,
      '-bind',
      '127.0.0.1',
      '-http-port',
      String(port),
      '-log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

export type CatalogSuite = 'health' | 'blocking' | 'writes' | 'restart'

export async function catalogBenchmarks(
  opts: CatalogBenchOptions,
  parts: readonly CatalogSuite[] = ['health', 'blocking', 'writes', 'restart'],
): Promise<CatalogBenchResult> {
  const rows: CatalogRow[] = []
  const sections: string[] = []
  if (parts.includes('health')) await healthRead(opts, rows)
  if (parts.includes('blocking')) await blocking(opts, rows, sections)
  if (parts.includes('writes')) await durableWrites(opts, rows, sections)
  if (parts.includes('restart')) await restart(opts, rows)
  return { rows, sections }
}
