/**
 * The DNS interface's catalog port on a client agent: an in-memory copy of a server's catalog as
 * DNS reads it, kept current by long-polling the `catalog/dns-dump` RPC (dns-dump.ts).
 *
 * Contract: level-triggered. Each answer replaces the whole mirror and moves `index()`; the next
 * request asks with the answer's index, so a server whose index went backwards (a new store) is
 * followed too. While no server answers, the loop retries with capped, jittered backoff and the
 * mirror keeps answering from its last copy. Before the first answer the mirror is empty (every
 * name is NXDOMAIN). `stop()` aborts the request in flight and resolves once the loop has exited.
 */
import { lower } from '../catalog/keys.js'
import type { DnsCatalog, DnsInstance, DnsNode } from '../dns/catalog-port.js'
import type { Clock } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import { deepFreeze } from '../lib/object.js'
import type { DnsDump, DnsDumpReader } from './dns-dump.js'

export interface DnsMirrorLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface DnsMirrorOptions {
  readonly read: DnsDumpReader
  readonly clock: Clock
  readonly random: () => number
  readonly logger: DnsMirrorLogger
  /** The blocking wait of each request (default 5 min, Consul's default query time). */
  readonly waitMs?: number
}

const DEFAULT_WAIT_MS = 5 * 60_000
const MIN_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 5_000

/** The delay before retrying after `failures` failed requests in a row (≥ 1): capped, jittered. */
export function mirrorBackoffMs(failures: number, random: number): number {
  const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(failures - 1, 20))
  return backoff / 2 + (random * backoff) / 2
}

interface View {
  readonly nodes: ReadonlyMap<string, DnsNode>
  readonly byName: ReadonlyMap<string, readonly DnsInstance[]>
  readonly connect: ReadonlyMap<string, readonly DnsInstance[]>
}

const EMPTY: View = { nodes: new Map(), byName: new Map(), connect: new Map() }
const NONE: readonly DnsInstance[] = Object.freeze([])

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k)
  if (list === undefined) m.set(k, [v])
  else list.push(v)
}

/** Builds the lookup tables of one dump; instances keep the dump's node-then-ID order. */
function viewOf(dump: DnsDump): View {
  const nodes = new Map<string, DnsNode>()
  const nodeChecks = new Map<
    string,
    readonly Readonly<{ status: DnsDump['nodes'][number]['checks'][number] }>[]
  >()
  for (const n of dump.nodes) {
    const key = lower(n.name)
    nodes.set(
      key,
      deepFreeze({
        name: n.name,
        address: n.address,
        datacenter: n.datacenter,
        taggedAddresses: n.taggedAddresses,
        meta: n.meta,
      }),
    )
    nodeChecks.set(
      key,
      n.checks.map((status) => ({ status })),
    )
  }
  const byName = new Map<string, DnsInstance[]>()
  const connect = new Map<string, DnsInstance[]>()
  for (const s of dump.instances) {
    const key = lower(s.node)
    const node = nodes.get(key)
    if (node === undefined) continue
    const instance: DnsInstance = deepFreeze({
      node,
      service: {
        id: s.id,
        name: s.name,
        tags: s.tags,
        address: s.address,
        port: s.port,
        taggedAddresses: s.taggedAddresses,
        kind: s.kind,
        weights: s.weights,
      },
      checks: [...(nodeChecks.get(key) ?? []), ...s.checks.map((status) => ({ status }))],
    })
    push(byName, lower(s.name), instance)
    if (s.proxyDestination !== '') push(connect, lower(s.proxyDestination), instance)
    else if (s.connectNative) push(connect, lower(s.name), instance)
  }
  const byNodeThenId = (a: DnsInstance, b: DnsInstance): number => {
    const ka = `${lower(a.node.name)}\u0000${lower(a.service.id)}`
    const kb = `${lower(b.node.name)}\u0000${lower(b.service.id)}`
    return ka < kb ? -1 : ka > kb ? 1 : 0
  }
  for (const list of connect.values()) list.sort(byNodeThenId)
  for (const list of [...byName.values(), ...connect.values()]) Object.freeze(list)
  return { nodes, byName, connect }
}

export class DnsMirror implements DnsCatalog {
  readonly #opts: DnsMirrorOptions
  readonly #abort = new AbortController()
  #view: View = EMPTY
  #generation = 0
  #serverIndex = 0
  #failures = 0
  #loop: Promise<void> | undefined
  #stopped: Promise<void> | undefined

  constructor(opts: DnsMirrorOptions) {
    this.#opts = opts
  }

  index(): number {
    return this.#generation
  }

  serviceInstances(name: string): readonly DnsInstance[] {
    return this.#view.byName.get(lower(name)) ?? NONE
  }

  connectInstances(name: string): readonly DnsInstance[] {
    return this.#view.connect.get(lower(name)) ?? NONE
  }

  /** The catalog keeps no ingress-gateway configuration entries yet: no gateway exposes a name. */
  ingressGateways(): readonly DnsInstance[] {
    return NONE
  }

  node(name: string): DnsNode | undefined {
    return this.#view.nodes.get(lower(name))
  }

  /** The server index of the last answer (0 before the first), and failed requests in a row. */
  status(): Readonly<{ serverIndex: number; failures: number }> {
    return { serverIndex: this.#serverIndex, failures: this.#failures }
  }

  /** Starts the loop. Idempotent. */
  start(): void {
    if (this.#loop !== undefined || this.#abort.signal.aborted) return
    this.#loop = this.#run(this.#abort.signal)
  }

  stop(): Promise<void> {
    return (this.#stopped ??= (async () => {
      this.#abort.abort(new Error('DNS mirror stopped'))
      await this.#loop
    })())
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { clock, random, logger } = this.#opts
    const waitMs = this.#opts.waitMs ?? DEFAULT_WAIT_MS
    while (!signal.aborted) {
      try {
        const dump = await this.#opts.read({ index: this.#serverIndex, waitMs }, signal)
        if (this.#failures > 0 || this.#serverIndex === 0)
          logger.info({ index: dump.index }, 'DNS catalog mirror is current')
        this.#view = viewOf(dump)
        this.#serverIndex = dump.index
        this.#generation++
        this.#failures = 0
        continue
      } catch (err) {
        if (isAborted(signal)) return
        this.#failures++
        if (this.#failures === 1) {
          const error = errorMessage(err)
          if (this.#serverIndex === 0) logger.info({ error }, 'DNS catalog mirror is waiting for a server')
          else
            logger.warn({ error }, 'DNS catalog mirror cannot reach a server; answering from its last copy')
        }
      }
      try {
        await clock.sleep(mirrorBackoffMs(this.#failures, random()), signal)
      } catch {
        return
      }
    }
  }
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
