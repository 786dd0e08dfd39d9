import { Counter, Gauge, Registry, type Metric } from 'prom-client'
import type { AgentPort } from '../agent/ports.js'
import type { Clock } from '../lib/clock.js'
import { STATUSES } from '../structs/check.js'
import { goMap } from './json.js'
import { LatencySketch } from './latency-sketch.js'
import type { WireObject } from './render-service.js'

type Labels = Readonly<Record<string, string>>
type Value = Readonly<{ labels: Labels; value: number }>

/** A metric read from the agent at scrape time. Names are Consul-style dotted; Prometheus gets `_`. */
interface Reading {
  readonly name: string
  readonly kind: 'gauge' | 'counter'
  readonly help: string
  readonly labelNames: readonly string[]
  readonly read: () => readonly Value[]
}

interface SampleStats {
  readonly labels: Labels
  /** Count, sum, extremes and quantiles of the durations. */
  readonly sketch: LatencySketch
  /** Sum of squares, for go-metrics' standard deviation. */
  sumSq: number
}

/**
 * The agent's metrics, served by `/v1/agent/metrics` as go-metrics JSON or Prometheus text.
 * Gauges and counters are read from the agent when asked (never cached); HTTP request
 * durations are recorded by the server as requests finish. One registry per API instance.
 */
export class ApiMetrics {
  readonly #registry = new Registry()
  readonly #readings: readonly Reading[]
  readonly #samples = new Map<string, SampleStats>()
  readonly #clock: Clock
  readonly #startedMs: number
  readonly #httpSampleName: string

  /** `prefix` is `telemetry.metrics_prefix` (Consul's default `consul`). */
  constructor(agent: AgentPort, clock: Clock, prefix: string) {
    this.#clock = clock
    this.#startedMs = clock.now()
    this.#readings = agentReadings(agent, prefix)
    this.#httpSampleName = `${prefix}.api.http`
    for (const r of this.#readings) this.#register(r)
    this.#registry.registerMetric(this.#httpSummary())
  }

  /**
   * `consul.api.http` as a Prometheus summary (quantiles 0.5, 0.9, 0.99, `_sum`, `_count`) read
   * from the samples' sketches when scraped. The registry reads a metric through `get()` and its
   * name; its TypeScript type lists only prom-client's own classes, hence the cast.
   */
  #httpSummary(): Metric {
    const samples = this.#samples
    const name = promName(this.#httpSampleName)
    const metric = {
      name,
      help: 'HTTP API request duration in milliseconds, by method and route.',
      type: 'summary',
      aggregator: 'sum',
      get: () => {
        const values: { labels: Record<string, string | number>; value: number; metricName?: string }[] = []
        for (const s of samples.values()) {
          for (const q of [0.5, 0.9, 0.99])
            values.push({ labels: { ...s.labels, quantile: q }, value: s.sketch.quantile(q) })
          values.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sketch.sum })
          values.push({ metricName: `${name}_count`, labels: s.labels, value: s.sketch.count })
        }
        return Promise.resolve({ name, help: metric.help, type: 'summary', values, aggregator: 'sum' })
      },
      reset: () => undefined,
    }
    return metric as unknown as Metric
  }

  /** Records one finished request; `path` is the route pattern label (bounded cardinality). */
  observeRequest(method: string, path: string, ms: number): void {
    const key = `${method} ${path}`
    let s = this.#samples.get(key)
    if (s === undefined) {
      s = { labels: { method, path }, sketch: new LatencySketch(), sumSq: 0 }
      this.#samples.set(key, s)
    }
    s.sketch.observe(ms)
    s.sumSq += ms * ms
  }

  get prometheusContentType(): string {
    return this.#registry.contentType
  }

  prometheus(): Promise<string> {
    return this.#registry.metrics()
  }

  /** go-metrics' `DisplayMetrics` shape (http-api.md §9), sorted by name. */
  summary(): WireObject {
    const now = this.#clock.now()
    const elapsedSec = Math.max((now - this.#startedMs) / 1000, 1)
    const gauges: WireObject[] = []
    const counters: WireObject[] = []
    for (const r of this.#readings) {
      for (const v of r.read()) {
        if (r.kind === 'gauge') gauges.push({ Name: r.name, Value: v.value, Labels: goMap(v.labels) })
        else counters.push(aggregate(r.name, v.labels, v.value, v.value, v.value, elapsedSec, 1, 1))
      }
    }
    const samples = [...this.#samples.values()].map((s) =>
      aggregate(
        this.#httpSampleName,
        s.labels,
        s.sketch.count,
        s.sketch.sum,
        s.sumSq,
        elapsedSec,
        s.sketch.min,
        s.sketch.max,
      ),
    )
    return {
      Timestamp: goTimestamp(Math.floor(now / 10_000) * 10_000),
      Gauges: sortByName(gauges),
      Points: [],
      Counters: sortByName(counters),
      Samples: sortByName(samples),
    }
  }

  #register(r: Reading): void {
    const common = {
      name: promName(r.name) + (r.kind === 'counter' ? '_total' : ''),
      help: r.help,
      labelNames: [...r.labelNames],
      registers: [this.#registry],
    }
    if (r.kind === 'gauge') {
      new Gauge({
        ...common,
        collect() {
          this.reset()
          for (const v of r.read()) this.set(v.labels, v.value)
        },
      })
    } else {
      new Counter({
        ...common,
        collect() {
          this.reset()
          for (const v of r.read()) this.inc(v.labels, v.value)
        },
      })
    }
  }
}

function agentReadings(agent: AgentPort, prefix: string): readonly Reading[] {
  const one = (value: number): readonly Value[] => [{ labels: {}, value }]
  return [
    {
      name: `${prefix}.runtime.alloc_bytes`,
      kind: 'gauge',
      help: 'Heap bytes in use.',
      labelNames: [],
      read: () => one(process.memoryUsage().heapUsed),
    },
    {
      name: `${prefix}.runtime.sys_bytes`,
      kind: 'gauge',
      help: 'Resident set size in bytes.',
      labelNames: [],
      read: () => one(process.memoryUsage().rss),
    },
    {
      name: `${prefix}.vigil.services`,
      kind: 'gauge',
      help: 'Services registered on this agent.',
      labelNames: [],
      read: () => one(agent.read.serviceCount()),
    },
    {
      name: `${prefix}.vigil.checks`,
      kind: 'gauge',
      help: 'Checks registered on this agent, by status.',
      labelNames: ['status'],
      read: () => {
        const checks = agent.read.checks()
        return STATUSES.map((status) => ({
          labels: { status },
          value: checks.filter((e) => e.check.status === status).length,
        }))
      },
    },
    {
      name: `${prefix}.vigil.check_runners`,
      kind: 'gauge',
      help: 'Check runners currently running.',
      labelNames: [],
      read: () => one(agent.runnerCount()),
    },
    {
      name: `${prefix}.vigil.stale_writes_rejected`,
      kind: 'counter',
      help: 'Check writes rejected because a newer registration fenced their runner.',
      labelNames: [],
      read: () => one(agent.read.stats.rejectedStaleWrites),
    },
    {
      name: `${prefix}.vigil.check_writes_applied`,
      kind: 'counter',
      help: 'Check status writes applied.',
      labelNames: [],
      read: () => one(agent.read.stats.appliedWrites),
    },
  ]
}

/** go-metrics' `SampledValue` JSON. */
function aggregate(
  name: string,
  labels: Labels,
  count: number,
  sum: number,
  sumSq: number,
  elapsedSec: number,
  min: number,
  max: number,
): WireObject {
  const mean = count > 0 ? sum / count : 0
  const variance = count > 1 ? (sumSq - (sum * sum) / count) / (count - 1) : 0
  return {
    Name: name,
    Count: count,
    Rate: sum / elapsedSec,
    Sum: sum,
    Min: count > 0 ? min : 0,
    Max: count > 0 ? max : 0,
    Mean: mean,
    Stddev: Math.sqrt(Math.max(variance, 0)),
    Labels: goMap(labels),
  }
}

function sortByName(items: WireObject[]): WireObject[] {
  const key = (o: WireObject): string => `${String(o['Name'])} ${JSON.stringify(o['Labels'])}`
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
}

function promName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_')
}

/** Go's `time.Time.String()` for a UTC instant: `2006-01-02 15:04:05 +0000 UTC`. */
function goTimestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`
}
