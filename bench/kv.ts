/**
 * KV benchmarks: durable puts and gets against etcd on the same machine and disk (over HTTP on
 * `vigil agent -server -bootstrap -data-dir`, and in process through `Catalog` on the embedded
 * store), CAS contention on one key, and the wake-all of many blocking list reads on one prefix.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type autocannon from 'autocannon'
import { Catalog } from '../src/catalog/catalog.js'
import { kvGetQuery, kvListQuery } from '../src/catalog/kv-queries.js'
import type { KvPutRequest } from '../src/catalog/kv-types.js'
import { systemClock } from '../src/lib/clock.js'
import { catalogPrefix } from '../src/roles/server.js'
import { openEmbeddedStore } from '../src/store/embedded.js'
import { MemoryStore } from '../src/store/memory.js'
import type { Store } from '../src/store/store.js'
import { startEtcd, type EtcdMember } from '../test/support/etcd.js'
import { metricsHeap, percentile, wakeAll, type CatalogRow, type WakeResult } from './catalog.js'
import {
  capture,
  fmt,
  freePort,
  inParallel,
  load,
  log,
  median,
  rate,
  startBare,
  startVigil,
  type Proc,
} from './lib.js'
import { VALUE, etcdTimedRate } from './store.js'

export interface KvBenchOptions {
  readonly quick: boolean
  readonly rounds: number
  readonly seconds: number
}

export interface KvBenchResult {
  readonly rows: CatalogRow[]
  readonly sections: string[]
}

const WIDTH = 64
/**
 * No DNS interface and free Serf LAN and server ports: the benchmarks use none of them, and the default ports
 * may be taken on a shared machine.
 */
async function ownPorts(): Promise<string[]> {
  return [
    '-dns-port',
    '-1',
    '-serf-lan-port',
    String(await freePort()),
    '-server-port',
    String(await freePort()),
  ]
}
const VALUE_BYTES = Buffer.from(VALUE)

function setRequest(key: string): KvPutRequest {
  return { key, value: VALUE_BYTES, flags: 0n, mode: { kind: 'set' } }
}

async function openCatalog(store: Store): Promise<Catalog> {
  return Catalog.open({ store, prefix: catalogPrefix('dc1'), datacenter: 'dc1', clock: systemClock })
}

/**
 * One round in process: `count` durable puts over `WIDTH` writers on a fresh embedded data dir,
 * then `reads` gets of those keys (a read is synchronous: the rate is the evaluation's cost).
 */
async function inProcessRound(round: number, count: number, reads: number): Promise<[number, number]> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-kv-'))
  const store = await openEmbeddedStore(dir, { clock: systemClock })
  const catalog = await openCatalog(store)
  try {
    const puts = await rate(count, WIDTH, (i) => catalog.kvPut(setRequest(`bench/r${round}/${i}`)))
    const started = performance.now()
    let found = 0
    for (let i = 0; i < reads; i++) {
      if (catalog.kvRead(kvGetQuery(`bench/r${round}/${i % count}`)).value !== null) found++
    }
    const gets = reads / ((performance.now() - started) / 1000)
    if (found !== reads) throw new Error(`in process: ${found} of ${reads} gets found their key`)
    return [puts, gets]
  } finally {
    await catalog.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

async function httpPutRate(server: Proc, round: number, seconds: number): Promise<number> {
  let n = 0
  const requests: autocannon.Request[] = [
    {
      method: 'PUT',
      setupRequest: (req) => ({ ...req, path: `/v1/kv/bench/http${round}/${n++}`, body: VALUE }),
    },
  ]
  const res = await load({ url: server.url, seconds, connections: WIDTH, requests })
  if (res.non2xx + res.errors > 0) throw new Error(`PUT /v1/kv: ${res.non2xx} non-2xx, ${res.errors} errors`)
  return res.requestsPerSec
}

async function httpGetRate(server: Proc, keys: number, seconds: number): Promise<number> {
  let n = 0
  const requests: autocannon.Request[] = [
    { method: 'GET', setupRequest: (req) => ({ ...req, path: `/v1/kv/bench/get/${n++ % keys}` }) },
  ]
  const res = await load({ url: server.url, seconds, connections: WIDTH, requests })
  if (res.non2xx + res.errors > 0) throw new Error(`GET /v1/kv: ${res.non2xx} non-2xx, ${res.errors} errors`)
  return res.requestsPerSec
}

/** Linearizable gets (etcd's default) of the preloaded keys, `WIDTH` in flight. */
async function etcdGetRate(etcd: EtcdMember, count: number, keys: number): Promise<number> {
  return rate(count, WIDTH, async (i) => {
    const v = await etcd.client.get(`bench/get/${i % keys}`).string()
    if (v === null) throw new Error('etcd get: missing key')
  })
}

async function throughput(opts: KvBenchOptions, rows: CatalogRow[], sections: string[]): Promise<void> {
  const count = opts.quick ? 1000 : 4000
  const reads = opts.quick ? 20_000 : 200_000
  const keys = 1000
  const etcd = await startEtcd()
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-kv-server-'))
  const server = await startVigil(['-server', '-bootstrap', ...(await ownPorts())], { dataDir: dir })
  const ipPut: number[] = []
  const ipGet: number[] = []
  const hPut: number[] = []
  const hGet: number[] = []
  const ePut: number[] = []
  const eGet: number[] = []
  try {
    const ids = Array.from({ length: keys }, (_, i) => i)
    await inParallel(ids, 16, async (i) => {
      const res = await fetch(`${server.url}/v1/kv/bench/get/${i}`, { method: 'PUT', body: VALUE })
      if ((await res.text()).trim() !== 'true') throw new Error(`PUT /v1/kv → ${res.status}`)
      await etcd.client.put(`bench/get/${i}`).value(VALUE).exec()
    })
    // Warm-up, not counted: the etcd3 client's channel and both processes' JIT.
    await etcdTimedRate(etcd, 2999, 1, WIDTH)
    await httpPutRate(server, 999, 1)
    for (let r = 0; r < opts.rounds; r++) {
      const [p, g] = await inProcessRound(r, count, reads)
      ipPut.push(p)
      ipGet.push(g)
      ePut.push(await etcdTimedRate(etcd, 3000 + r, opts.seconds, WIDTH))
      hPut.push(await httpPutRate(server, r, opts.seconds))
      eGet.push(await etcdGetRate(etcd, count * 2, keys))
      hGet.push(await httpGetRate(server, keys, opts.seconds))
      log(
        `kv round ${r + 1}/${opts.rounds}: put in process ${p.toFixed(0)}, etcd ${ePut.at(-1)?.toFixed(0)}, ` +
          `HTTP ${hPut.at(-1)?.toFixed(0)}; get in process ${g.toFixed(0)}, etcd ${eGet.at(-1)?.toFixed(0)}, ` +
          `HTTP ${hGet.at(-1)?.toFixed(0)}`,
      )
    }
  } finally {
    await server.stop()
    await etcd.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const row = (what: string, mine: readonly number[], theirs: readonly number[], verb: string): void => {
    const ratio = median(mine) / median(theirs)
    rows.push({
      name: `KV ${what}, ${WIDTH} in flight: ${verb}`,
      value: `${fmt(median(mine))} / ${fmt(median(theirs))} = **${ratio.toFixed(2)}**`,
      goal: 'ratio ≥ 1.0',
      met: ratio >= 1,
    })
  }
  row('durable puts/s', hPut, ePut, 'PUT /v1/kv/<key> on `-server -bootstrap -data-dir` / etcd put')
  row('durable puts/s', ipPut, ePut, '`Catalog.kvPut` on the embedded store (in process) / etcd put')
  row('gets/s', hGet, eGet, 'GET /v1/kv/<key> on the same server / etcd get (linearizable)')
  row('gets/s', ipGet, eGet, '`Catalog.kvRead` in process / etcd get (linearizable)')
  sections.push(
    [
      '## KV: puts and gets vs etcd, per round',
      '',
      `Puts of a ${VALUE.length}-byte value to fresh keys, each acknowledged once durable: ${fmt(count)} per round in`,
      `process (a fresh data dir each round); ${opts.seconds} s with ${WIDTH} in flight on etcd (the etcd3 client) and over HTTP`,
      `(autocannon with ${WIDTH} connections), after a 1 s warm-up of each.`,
      `Gets of ${fmt(keys)} preloaded keys: ${fmt(count * 2)} on etcd, ${fmt(reads)} in process, ${opts.seconds} s over HTTP.`,
      '',
      '| round | put: in process | put: etcd | put: HTTP | get: in process | get: etcd | get: HTTP |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...ipPut.map(
        (v, i) =>
          `| ${i + 1} | ${[v, ePut[i], hPut[i], ipGet[i], eGet[i], hGet[i]].map((x) => fmt(x ?? Number.NaN)).join(' | ')} |`,
      ),
      `| **median** | ${[ipPut, ePut, hPut, ipGet, eGet, hGet].map((l) => fmt(median(l))).join(' | ')} |`,
      '',
      `Load average after the KV throughput rounds: ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores.`,
      '',
    ].join('\n'),
  )
}

interface CasResult {
  readonly ok: number
  readonly failed: number
  readonly seconds: number
}

/** `writers` loops of read-then-cas on one key for `seconds`, over HTTP. */
async function vigilCas(server: Proc, writers: number, seconds: number): Promise<CasResult> {
  const url = `${server.url}/v1/kv/bench/cas`
  const first = await fetch(url, { method: 'PUT', body: 'start' })
  if ((await first.text()).trim() !== 'true') throw new Error('cas: initial put failed')
  let ok = 0
  let failed = 0
  const started = performance.now()
  const until = started + seconds * 1000
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      let n = 0
      while (performance.now() < until) {
        const res = await fetch(url)
        const [entry] = (await res.json()) as { ModifyIndex: number }[]
        if (entry === undefined) throw new Error('cas: key missing')
        const put = await fetch(`${url}?cas=${entry.ModifyIndex}`, { method: 'PUT', body: `${w}-${n++}` })
        if ((await put.text()).trim() === 'true') ok++
        else failed++
      }
    }),
  )
  return { ok, failed, seconds: (performance.now() - started) / 1000 }
}

/** The same on etcd: get the key's mod revision, then a txn comparing it before the put. */
async function etcdCas(etcd: EtcdMember, writers: number, seconds: number): Promise<CasResult> {
  const key = 'bench/cas'
  await etcd.client.put(key).value('start').exec()
  let ok = 0
  let failed = 0
  const started = performance.now()
  const until = started + seconds * 1000
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      let n = 0
      while (performance.now() < until) {
        const got = await etcd.client.get(key).exec()
        const rev = got.kvs[0]?.mod_revision
        if (rev === undefined) throw new Error('cas: key missing')
        const res = await etcd.client
          .if(key, 'Mod', '==', rev)
          .then(etcd.client.put(key).value(`${w}-${n++}`))
          .commit()
        if (res.succeeded) ok++
        else failed++
      }
    }),
  )
  return { ok, failed, seconds: (performance.now() - started) / 1000 }
}

async function casContention(opts: KvBenchOptions, rows: CatalogRow[], sections: string[]): Promise<void> {
  const writers = 10
  const seconds = opts.quick ? 1 : 3
  const rounds = opts.quick ? 1 : 3
  const etcd = await startEtcd()
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-kv-cas-'))
  const server = await startVigil(['-server', '-bootstrap', ...(await ownPorts())], { dataDir: dir })
  const v: CasResult[] = []
  const e: CasResult[] = []
  try {
    for (let r = 0; r < rounds; r++) {
      v.push(await vigilCas(server, writers, seconds))
      e.push(await etcdCas(etcd, writers, seconds))
      const show = (c: CasResult | undefined): string =>
        `${c?.ok} ok / ${c?.failed} failed in ${c?.seconds.toFixed(1)} s`
      log(`cas round ${r + 1}/${rounds}: vigil ${show(v.at(-1))}; etcd ${show(e.at(-1))}`)
    }
  } finally {
    await server.stop()
    await etcd.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const okRate = (c: CasResult): number => c.ok / c.seconds
  const failRatio = (c: CasResult): number => c.failed / Math.max(1, c.ok + c.failed)
  const mv = median(v.map(okRate))
  const me = median(e.map(okRate))
  rows.push({
    name: `CAS contention, ${writers} writers on one key for ${seconds} s (read, then a conditional write): successful CAS/s and failure ratio — PUT /v1/kv/<key>?cas=<ModifyIndex> on \`-server -bootstrap -data-dir\`; etcd txn comparing the mod revision`,
    value: `${fmt(mv)}/s, ${(median(v.map(failRatio)) * 100).toFixed(0)}% failed; etcd ${fmt(me)}/s, ${(median(e.map(failRatio)) * 100).toFixed(0)}% failed (**${(mv / me).toFixed(2)}**)`,
    goal: '—',
    met: null,
  })
  sections.push(
    [
      '## KV: CAS contention, per round',
      '',
      `${writers} writers, each looping read → conditional write on one key for ${seconds} s.`,
      '',
      '| round | vigil ok / failed | vigil CAS/s | etcd ok / failed | etcd CAS/s |',
      '| --- | --- | --- | --- | --- |',
      ...v.map((c, i) => {
        const d = e[i] ?? { ok: 0, failed: 0, seconds: 1 }
        return `| ${i + 1} | ${fmt(c.ok)} / ${fmt(c.failed)} | ${fmt(okRate(c))} | ${fmt(d.ok)} / ${fmt(d.failed)} | ${fmt(okRate(d))} |`
      }),
      '',
    ].join('\n'),
  )
}

const PREFIX = 'svc/config/'

/** One round over HTTP on `vigil agent -dev`, then the bare hold server replaying its answer. */
async function wakeRound(
  count: number,
  keys: number,
): Promise<{ vigil: WakeResult; bare: WakeResult; bodyBytes: number }> {
  const vigil = await startVigil(await ownPorts())
  let vigilResult: WakeResult
  let answer: Awaited<ReturnType<typeof capture>>
  const putKey = async (key: string): Promise<void> => {
    const res = await fetch(`${vigil.url}/v1/kv/${key}`, { method: 'PUT', body: VALUE })
    if ((await res.text()).trim() !== 'true') throw new Error(`PUT /v1/kv/${key} → ${res.status}`)
  }
  try {
    for (let i = 0; i < keys; i++) await putKey(`${PREFIX}k${i}`)
    const first = await capture(`${vigil.url}/v1/kv/${PREFIX}?recurse`)
    const index = Number(first.headers.get('x-consul-index'))
    vigilResult = await wakeAll({
      port: vigil.port,
      pid: vigil.child.pid ?? 0,
      path: `/v1/kv/${PREFIX}?recurse&index=${index}&wait=5m`,
      count,
      minIndex: index,
      change: () => putKey(`${PREFIX}new`),
      heap: () => metricsHeap(vigil),
    })
    answer = await capture(`${vigil.url}/v1/kv/${PREFIX}?recurse`)
  } finally {
    await vigil.stop()
  }
  const bare = await startBare(answer, 'bare-hold-server.js')
  try {
    const bareResult = await wakeAll({
      port: bare.port,
      pid: bare.child.pid ?? 0,
      path: `/v1/kv/${PREFIX}?recurse&index=1&wait=5m`,
      count,
      minIndex: 0,
      change: async () => {
        const res = await fetch(`${bare.url}/`, { method: 'PUT' })
        await res.arrayBuffer()
      },
    })
    return { vigil: vigilResult, bare: bareResult, bodyBytes: answer.body.length }
  } finally {
    await bare.stop()
  }
}

/** `count` waiters through `Catalog.kvBlock` on one prefix (memory store), one put under it. */
async function wakeInProcess(count: number, keys: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const store = new MemoryStore({ clock: systemClock })
  const catalog = await openCatalog(store)
  try {
    for (let i = 0; i < keys; i++) await catalog.kvPut(setRequest(`${PREFIX}k${i}`))
    const index = catalog.kvRead(kvListQuery(PREFIX)).index
    const times: number[] = []
    const pending: Promise<void>[] = []
    for (let i = 0; i < count; i++) {
      // A fresh query object per waiter, as the HTTP route builds one per request.
      pending.push(
        catalog.kvBlock(kvListQuery(PREFIX), { index, waitMs: 300_000 }).then((res) => {
          if (res.index <= index) throw new Error('kvBlock answered without a change')
          times.push(performance.now())
        }),
      )
    }
    await new Promise((r) => setImmediate(r))
    await catalog.kvPut(setRequest(`${PREFIX}new`))
    const ackAt = performance.now()
    await Promise.all(pending)
    const lat = times.map((t) => Math.max(0, t - ackAt))
    return { p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) }
  } finally {
    await catalog.close()
    await store.close()
  }
}

async function blockingWake(opts: KvBenchOptions, rows: CatalogRow[], sections: string[]): Promise<void> {
  const count = opts.quick ? 1000 : 10_000
  const keys = 3
  const rounds = opts.quick ? 1 : 3
  const http: WakeResult[] = []
  const bare: WakeResult[] = []
  const inproc: { p50Ms: number; p99Ms: number }[] = []
  let bodyBytes = 0
  for (let r = 0; r < rounds; r++) {
    const round = await wakeRound(count, keys)
    http.push(round.vigil)
    bare.push(round.bare)
    bodyBytes = round.bodyBytes
    inproc.push(await wakeInProcess(count, keys))
    const show = (w: WakeResult): string =>
      `p50 ${w.p50Ms.toFixed(1)} p99 ${w.p99Ms.toFixed(1)} max ${w.maxMs.toFixed(1)} ms, early ${w.early}`
    log(
      `kv wake-all round ${r + 1}/${rounds}: vigil ${show(round.vigil)}; bare ${show(round.bare)}; ` +
        `in process p50 ${inproc.at(-1)?.p50Ms.toFixed(1)} p99 ${inproc.at(-1)?.p99Ms.toFixed(1)} ms`,
    )
  }
  const m = (list: readonly WakeResult[], f: (w: WakeResult) => number): number => median(list.map(f))
  rows.push({
    name: `${fmt(count)} blocking GET /v1/kv/${PREFIX}?recurse&index=N (${keys} keys, ${fmt(bodyBytes)} B answer) on \`-dev\`, one loopback connection each, one put under the prefix: wake-all p50 / p99 from the put's ack — vigil; bare node:http holding as many`,
    value: `${m(http, (w) => w.p50Ms).toFixed(0)} ms / ${m(http, (w) => w.p99Ms).toFixed(0)} ms; bare ${m(bare, (w) => w.p50Ms).toFixed(0)} ms / ${m(bare, (w) => w.p99Ms).toFixed(0)} ms`,
    goal: 'p99 < 200 ms',
    met: m(http, (w) => w.p99Ms) < 200,
  })
  const ip50 = median(inproc.map((w) => w.p50Ms))
  const ip99 = median(inproc.map((w) => w.p99Ms))
  rows.push({
    name: `${fmt(count)} waiters through Catalog.kvBlock on one prefix in process (${keys} keys), one put under it: wake-all p50 / p99`,
    value: `${ip50.toFixed(1)} ms / ${ip99.toFixed(1)} ms`,
    goal: 'p99 < 200 ms',
    met: ip99 < 200,
  })
  sections.push(
    [
      '## KV: wake-all of blocking list reads, per round',
      '',
      `${fmt(count)} waiting GETs of one prefix, one connection each, read by the catalog wake-all's reader (the`,
      'C++ epoll client when g++ built it); latency from the acknowledgement of the put to the last byte of',
      'each answer.',
      '',
      '| round | vigil p50 / p99 / max ms | bare p50 / p99 / max ms | vigil RSS / heap B per waiter | in process p50 / p99 ms |',
      '| --- | --- | --- | --- | --- |',
      ...http.map((h, i) => {
        const b = bare[i]
        const p = inproc[i]
        const t = (w: WakeResult | undefined): string =>
          `${w?.p50Ms.toFixed(0)} / ${w?.p99Ms.toFixed(0)} / ${w?.maxMs.toFixed(0)}`
        return `| ${i + 1} | ${t(h)} | ${t(b)} | ${fmt(h.rssPerWaiter)} / ${fmt(h.heapPerWaiter)} | ${p?.p50Ms.toFixed(1)} / ${p?.p99Ms.toFixed(1)} |`
      }),
      '',
      `Load average after the KV wake-all rounds: ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores.`,
      '',
    ].join('\n'),
  )
}

export type KvSuite = 'throughput' | 'cas' | 'blocking'

export async function kvBenchmarks(
  opts: KvBenchOptions,
  parts: readonly KvSuite[] = ['throughput', 'cas', 'blocking'],
): Promise<KvBenchResult> {
  const rows: CatalogRow[] = []
  const sections: string[] = []
  if (parts.includes('throughput')) await throughput(opts, rows, sections)
  if (parts.includes('cas')) await casContention(opts, rows, sections)
  if (parts.includes('blocking')) await blockingWake(opts, rows, sections)
  return { rows, sections }
}
