/**
 * DNS benchmarks: UDP queries per second for a service with 100 instances, vigil's DnsServer
 * against a bare node:dgram server replaying vigil's reply bytes (each in its own process, the
 * load generated here), and the answer time for 10, 1,000 and 10,000 instances of one name, both
 * in process (the resolver alone) and over UDP on loopback (one query in flight).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createSocket, type Socket } from 'node:dgram'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import * as dnsPacket from 'dns-packet'
import { DnsResolver } from '../src/dns/resolver.js'
import { DEFAULT_DNS_SETTINGS } from '../src/dns/settings.js'
import { benchCatalog } from './dns-catalog.js'
import { median } from './lib.js'

interface Target {
  readonly port: number
  stop(): Promise<void>
}

function query(id: number, type: 'A' | 'SRV', edns?: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name: 'web.service.consul', type, class: 'IN' }],
    additionals:
      edns === undefined
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: edns,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
  })
}

async function startTarget(args: readonly string[]): Promise<Target> {
  const child: ChildProcess = spawn(process.execPath, ['dist/bench/dns-target.js', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /ready (\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`dns target exited with ${code}`)))
  })
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve()
          return
        }
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
        setTimeout(() => child.kill('SIGKILL'), 5000).unref()
      }),
  }
}

function ask(socket: Socket, port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    socket.once('message', (reply) => resolve(reply))
    socket.send(msg, port, '127.0.0.1')
  })
}

/**
 * Replies per second with `inFlight` queries outstanding; a query unanswered after 200 ms is
 * counted lost and replaced, so drops do not stall the run.
 */
async function udpQps(port: number, seconds: number, inFlight = 32): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r))
  const sentAt = new Map<number, number>()
  let nextId = 0
  let replies = 0
  let running = true
  const send = (): void => {
    if (!running) return
    const id = nextId++ & 0xffff
    sentAt.set(id, performance.now())
    socket.send(query(id, 'A'), port, '127.0.0.1')
  }
  socket.on('message', (msg) => {
    const id = msg.readUInt16BE(0)
    if (!sentAt.delete(id)) return
    replies++
    send()
  })
  const sweeper = setInterval(() => {
    const now = performance.now()
    for (const [id, t] of sentAt) {
      if (now - t > 200) {
        sentAt.delete(id)
        send()
      }
    }
  }, 50)
  for (let i = 0; i < inFlight; i++) send()
  await new Promise((r) => setTimeout(r, 300)) // warm-up
  const start = replies
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const rate = ((replies - start) * 1000) / (performance.now() - t0)
  running = false
  clearInterval(sweeper)
  await new Promise<void>((r) => socket.close(() => r()))
  return rate
}

export interface DnsRow {
  readonly name: string
  readonly value: string
  readonly goal: string
  readonly met: boolean | null
}

export async function dnsBenchmarks(opts: {
  quick: boolean
  rounds: number
  seconds: number
}): Promise<DnsRow[]> {
  const rows: DnsRow[] = []
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

  // Throughput: vigil vs bare, alternately, 100 instances.
  const vigil = await startTarget(['vigil', '100'])
  const probe = createSocket('udp4')
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r))
  const captured = await ask(probe, vigil.port, query(1, 'A'))
  await new Promise<void>((r) => probe.close(() => r()))
  const file = join(tmpdir(), `vigil-bench-dns-${process.pid}.bin`)
  writeFileSync(file, captured)
  const bare = await startTarget(['bare', file])
  try {
    const v: number[] = []
    const b: number[] = []
    for (let r = 0; r < opts.rounds; r++) {
      v.push(await udpQps(vigil.port, opts.seconds))
      b.push(await udpQps(bare.port, opts.seconds))
      process.stderr.write(
        `dns round ${r + 1}/${opts.rounds}: ${fmt(v.at(-1) ?? 0)} vs ${fmt(b.at(-1) ?? 0)}\n`,
      )
    }
    const ratio = median(v) / median(b)
    rows.push({
      name: 'DNS A query over UDP, service with 100 instances, queries/s: vigil / bare node:dgram',
      value: `${fmt(median(v))} / ${fmt(median(b))} = **${ratio.toFixed(2)}**`,
      goal: 'ratio ≥ 0.5',
      met: ratio >= 0.5,
    })
  } finally {
    await vigil.stop()
    await bare.stop()
  }

  // Answer time by instance count: A without EDNS (3 answers whatever the count) is the like-for-
  // like comparison; SRV with EDNS 4096 carries all 10 instances, or as many as fit (~40).
  const counts = [10, 1000, 10_000]
  const kinds = [
    { label: 'A (512 bytes, 3 answers)', q: (id: number) => query(id, 'A'), goal: true },
    { label: 'SRV (EDNS 4096, all that fit)', q: (id: number) => query(id, 'SRV', 4096), goal: false },
  ]
  const inProcess = kinds.map(() => [] as number[])
  const overUdp = kinds.map(() => [] as number[])
  const warm = new DnsResolver({ catalog: benchCatalog(100), settings: DEFAULT_DNS_SETTINGS })
  for (let i = 0; i < 20_000; i++) warm.resolve(kinds[i % 2]!.q(i & 0xffff), 'udp')
  // In process: the counts measured alternately, best of the rounds (least disturbed by others).
  const resolvers = counts.map(
    (count) => new DnsResolver({ catalog: benchCatalog(count), settings: DEFAULT_DNS_SETTINGS }),
  )
  kinds.forEach((kind, k) => {
    const q = kind.q(7)
    const best = counts.map(() => Infinity)
    for (let r = 0; r < 7; r++) {
      resolvers.forEach((resolver, c) => {
        const n = opts.quick ? 1000 : 10_000
        resolver.resolve(q, 'udp')
        const t0 = performance.now()
        for (let i = 0; i < n; i++) resolver.resolve(q, 'udp')
        best[c] = Math.min(best[c]!, ((performance.now() - t0) * 1000) / n)
      })
    }
    inProcess[k]!.push(...best)
  })

  for (const count of counts) {
    const target = await startTarget(['vigil', String(count)])
    const socket = createSocket('udp4')
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r))
    try {
      for (const [k, kind] of kinds.entries()) {
        const times: number[] = []
        const n = opts.quick ? 300 : 3000
        for (let i = 0; i < n + 100; i++) {
          const t0 = performance.now()
          await ask(socket, target.port, kind.q(i & 0xffff))
          if (i >= 100) times.push((performance.now() - t0) * 1000)
        }
        overUdp[k]!.push(median(times))
      }
    } finally {
      await new Promise<void>((r) => socket.close(() => r()))
      await target.stop()
    }
  }
  const flat = (xs: readonly number[]): boolean => Math.max(...xs) <= 2 * Math.min(...xs)
  kinds.forEach((kind, k) => {
    rows.push({
      name: `DNS ${kind.label} in process, 10 / 1,000 / 10,000 instances: µs per query (best of 7)`,
      value: inProcess[k]!.map((x) => x.toFixed(1)).join(' / '),
      goal: kind.goal ? 'flat (max ≤ 2 × min)' : '—',
      met: kind.goal ? flat(inProcess[k]!) : null,
    })
    rows.push({
      name: `DNS ${kind.label} over UDP, one in flight, 10 / 1,000 / 10,000 instances: p50 µs`,
      value: overUdp[k]!.map((x) => x.toFixed(0)).join(' / '),
      goal: kind.goal ? 'flat (max ≤ 2 × min)' : '—',
      met: kind.goal ? flat(overUdp[k]!) : null,
    })
  })
  return rows
}
