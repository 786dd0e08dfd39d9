/**
 * Several servers sharing one store, in process, on a fake clock: each a catalog with its own
 * view and the real server composition (election, membership, leader tasks — roles/server-cluster.ts).
 * A server can be cut off from the store (every call fails, its watch is cancelled) and healed:
 * a network partition between it and the store, injected through the store port.
 */
import type { UserEvent } from '../../src/agent/events.js'
import { Catalog } from '../../src/catalog/catalog.js'
import { EventStream } from '../../src/cluster/event-stream.js'
import { startServerCluster, type ServerCluster } from '../../src/roles/server-cluster.js'
import { StoreUnavailableError, type Store, type Watch, type WatchHandlers } from '../../src/store/store.js'
import { MemoryStore } from '../../src/store/memory.js'
import { PREFIX } from './catalog.js'
import { member, nodeInfo } from './cluster.js'
import { FakeClock } from './fake-clock.js'

const silent = process.env['VIGIL_TEST_LOG']
  ? {
      debug: () => undefined,
      info: (o: object, m: string) => console.log(m, o),
      warn: (o: object, m: string) => console.log(m, o),
    }
  : { debug: () => undefined, info: () => undefined, warn: () => undefined }

/** A store seen through a link that can be cut. */
export class PartitionedStore implements Store {
  #cut = false
  readonly #watches = new Set<{ handlers: WatchHandlers; inner: Watch; dead: boolean }>()

  constructor(private readonly inner: Store) {}

  get isCut(): boolean {
    return this.#cut
  }

  /**
   * Every call fails from now on; the watches are cancelled too, unless `watchesLater` (calls fail
   * before a watch stream notices: call `cut()` again to cancel them).
   */
  cut(opts: { watchesLater?: boolean } = {}): void {
    this.#cut = true
    if (opts.watchesLater === true) return
    for (const w of [...this.#watches]) {
      w.dead = true
      this.#watches.delete(w)
      void w.inner.close()
      w.handlers.onCancel(new StoreUnavailableError('link to the store cut'))
    }
  }

  heal(): void {
    this.#cut = false
  }

  #check(): void {
    if (this.#cut) throw new StoreUnavailableError('link to the store cut')
  }

  async revision(): ReturnType<Store['revision']> {
    this.#check()
    return this.inner.revision()
  }
  async range(prefix: string): ReturnType<Store['range']> {
    this.#check()
    return this.inner.range(prefix)
  }
  async txn(req: Parameters<Store['txn']>[0]): ReturnType<Store['txn']> {
    this.#check()
    return this.inner.txn(req)
  }
  watch(prefix: string, from: number, handlers: WatchHandlers): Watch {
    const entry = { handlers, inner: undefined as unknown as Watch, dead: this.#cut }
    entry.inner = this.inner.watch(prefix, from, {
      onBatch: (b) => {
        if (!entry.dead) handlers.onBatch(b)
      },
      onCancel: (e) => {
        if (!entry.dead) handlers.onCancel(e)
      },
    })
    if (this.#cut) queueMicrotask(() => handlers.onCancel(new StoreUnavailableError('link to the store cut')))
    else this.#watches.add(entry)
    return {
      close: async () => {
        entry.dead = true
        this.#watches.delete(entry)
        await entry.inner.close()
      },
    }
  }
  async grantLease(ttlMs: number): ReturnType<Store['grantLease']> {
    this.#check()
    return this.inner.grantLease(ttlMs)
  }
  async keepAlive(lease: string): ReturnType<Store['keepAlive']> {
    this.#check()
    return this.inner.keepAlive(lease)
  }
  async revokeLease(lease: string): ReturnType<Store['revokeLease']> {
    this.#check()
    return this.inner.revokeLease(lease)
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}

export interface TestServer {
  readonly name: string
  /** The server's event stream, and the events it delivered to its own agent, in order. */
  readonly stream: EventStream
  readonly delivered: UserEvent[]
  readonly link: PartitionedStore
  readonly catalog: Catalog
  readonly cluster: ServerCluster
  close(): Promise<void>
}

export interface ServerGroup {
  readonly clock: FakeClock
  readonly store: MemoryStore
  readonly servers: TestServer[]
  /** Starts one more server on the shared store. */
  start(name: string): Promise<TestServer>
  close(): Promise<void>
}

/** What the servers log: their info and warn lines, as `<server>: <message>`. */
export type ServerLog = string[]

export async function startServers(
  names: readonly string[],
  opts: {
    livenessTimeoutMs?: number
    reconnectTimeoutMs?: number
    leaseTtlMs?: number
    /** Records every server's info and warn lines. */
    log?: ServerLog
  } = {},
): Promise<ServerGroup> {
  const clock = new FakeClock()
  const store = new MemoryStore({ clock })
  const servers: TestServer[] = []
  const start = async (name: string): Promise<TestServer> => {
    const link = new PartitionedStore(store)
    const catalog = await Catalog.open({
      store: link,
      prefix: PREFIX,
      datacenter: 'dc1',
      clock,
      random: () => 0,
    })
    const delivered: UserEvent[] = []
    const stream = new EventStream({ onAppend: (e) => delivered.push(e) })
    const index = servers.length + 1
    const addr = `10.0.0.${index}`
    const cluster = await startServerCluster({
      catalog,
      store: link,
      clock,
      self: () => ({ ...member(name, true), addr }),
      selfNode: () => ({ ...nodeInfo(name), address: addr }),
      address: { name, addr, port: 8300 },
      info: { name, addr, port: 8300, id: '', version: 'test' },
      livenessTimeoutMs: opts.livenessTimeoutMs ?? 10_000,
      reconnectTimeoutMs: opts.reconnectTimeoutMs ?? 3_600_000,
      logger:
        opts.log === undefined
          ? silent
          : {
              debug: () => undefined,
              info: (_o: object, m: string) => opts.log?.push(`${name}: ${m}`),
              warn: (_o: object, m: string) => opts.log?.push(`${name}: ${m}`),
            },
      epoch: `${name}-epoch`,
      events: stream,
      ...(opts.leaseTtlMs === undefined ? {} : { leaseTtlMs: opts.leaseTtlMs }),
    })
    let closed: Promise<void> | undefined
    const server: TestServer = {
      name,
      stream,
      delivered,
      link,
      catalog,
      cluster,
      close: () =>
        (closed ??= (async () => {
          await cluster.close()
          await catalog.close()
        })()),
    }
    servers.push(server)
    return server
  }
  for (const n of names) await start(n)
  return {
    clock,
    store,
    servers,
    start,
    close: async () => {
      // A server cut off retries its resync every second: heal, and let it reconnect first.
      const wasCut = servers.some((s) => s.link.isCut)
      for (const s of servers) s.link.heal()
      if (wasCut) {
        for (let i = 0; i < 4; i++) {
          await clock.advance(500)
          await new Promise((r) => setImmediate(r))
        }
      }
      for (const s of servers) await s.close()
      await store.close()
    },
  }
}
