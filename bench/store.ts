/**
 * Store benchmark: durable txns/s of the embedded store with 1 writer and with 64 concurrent
 * writers, side by side with etcd puts on the same disk (a single etcd member on loopback, the
 * etcd3 client). Rounds alternate between the two so that disk noise hits both alike.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { systemClock } from '../src/lib/clock.js'
import { openEmbeddedStore } from '../src/store/embedded.js'
import { startEtcd, type EtcdMember } from '../test/support/etcd.js'
import { log, median, rate } from './lib.js'

/** A catalog-sized value: a service registration as JSON. */
export const VALUE = JSON.stringify({
  ID: 'web-1',
  Service: 'web',
  Tags: ['primary', 'v2'],
  Address: '10.0.0.12',
  Port: 8080,
  Meta: { version: '2.4.1' },
  EnableTagOverride: false,
  Weights: { Passing: 1, Warning: 1 },
})

export interface StoreBenchResult {
  readonly embedded1: number
  readonly etcd1: number
  readonly embedded64: number
  readonly etcd64: number
  /** Txns per round with 1 writer and with 64. */
  readonly counts: readonly [number, number]
  /** Every round's rates, in the order above. */
  readonly rounds: readonly (readonly [number, number, number, number])[]
}

async function embeddedRate(count: number, width: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-store-'))
  const store = await openEmbeddedStore(dir, { clock: systemClock })
  try {
    return await rate(count, width, (i) =>
      store.txn({ compare: [], success: [{ type: 'put', key: `services/node/${i}`, value: VALUE }] }),
    )
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export async function etcdRate(
  etcd: EtcdMember,
  round: number,
  count: number,
  width: number,
): Promise<number> {
  const prefix = `r${round}-${width}/services/node/`
  return rate(count, width, (i) => etcd.client.put(`${prefix}${i}`).value(VALUE).exec())
}

/**
 * Durable puts/s on etcd with `width` in flight for `seconds` (fresh keys under `r<round>-t/`):
 * the etcd side of every HTTP throughput row (catalog registrations, KV puts), the same shape as
 * autocannon's `seconds` with `width` connections on vigil. The etcd3 client runs in the
 * benchmark process, as autocannon does for vigil, and costs about twice etcd's own CPU per put.
 */
export async function etcdTimedRate(
  etcd: EtcdMember,
  round: number,
  seconds: number,
  width: number,
): Promise<number> {
  const prefix = `r${round}-t/services/node/`
  let n = 0
  const started = performance.now()
  const until = started + seconds * 1000
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (performance.now() < until) await etcd.client.put(`${prefix}${n++}`).value(VALUE).exec()
    }),
  )
  return n / ((performance.now() - started) / 1000)
}

/**
 * Medians over `rounds`. One etcd member serves every round (fresh keys each time); the embedded
 * store opens a fresh data dir each time. The two alternate within each round so that the
 * shared disk's load hits both alike.
 */
export async function storeThroughput(rounds: number, quick: boolean): Promise<StoreBenchResult> {
  const one = quick ? 200 : 500
  const many = quick ? 2000 : 6000
  const e1: number[] = []
  const d1: number[] = []
  const e64: number[] = []
  const d64: number[] = []
  const etcd = await startEtcd()
  try {
    for (let r = 0; r < rounds; r++) {
      e1.push(await embeddedRate(one, 1))
      d1.push(await etcdRate(etcd, r, one, 1))
      e64.push(await embeddedRate(many, 64))
      d64.push(await etcdRate(etcd, r, many, 64))
      log(
        `store round ${r + 1}/${rounds}: 1 writer ${e1.at(-1)?.toFixed(0)} vs etcd ${d1.at(-1)?.toFixed(0)}; ` +
          `64 writers ${e64.at(-1)?.toFixed(0)} vs etcd ${d64.at(-1)?.toFixed(0)}`,
      )
    }
  } finally {
    await etcd.stop()
  }
  return {
    embedded1: median(e1),
    etcd1: median(d1),
    embedded64: median(e64),
    etcd64: median(d64),
    counts: [one, many],
    rounds: e1.map((_, r) => [e1[r] ?? 0, d1[r] ?? 0, e64[r] ?? 0, d64[r] ?? 0] as const),
  }
}
