/**
 * A server's presence and the leader election among servers sharing one store (servers.md §3,
 * docs/cluster.md "Several servers"). Each server holds one store lease, kept alive every third
 * of its TTL; on it hang the server's row (`cluster/servers/<name>`), the liveness keys of the
 * members heartbeating to it (membership.ts) and, on the leader, the leader key
 * (`cluster/leader`). A server becomes leader by creating the leader key when it is absent; the
 * key's create revision is its fence: every leader-task write compares it, so a server that lost
 * the key (its lease expired while it was cut off) cannot write as leader any more. When the
 * leader dies its lease expires and another server creates the key: takeover within the TTL.
 *
 * With one server (the embedded or memory store) the same code elects it at once. A restarted
 * server finds its own previous leader key on its old lease and removes it rather than wait for
 * the lease to expire.
 *
 * The lease's keep-alives are also the server's contact with the store: what it says of its
 * leader (`leaderContact`, the `X-Consul-KnownLeader` and `X-Consul-LastContact` headers) and
 * whether requests that need the store are held (`storeReachable`) follow them. A loss of contact
 * is logged once, when first noticed, and its end once.
 *
 * Concurrency contract: campaigns run one at a time (a change during one runs another after it);
 * `onLeadership` calls are serialized and awaited — a loss is reported, and its handler finished,
 * before a later gain, and `close()` reports the loss before it resolves.
 */
import type { Catalog, Fence } from '../catalog/catalog.js'
import type { ClusterRow } from '../catalog/cluster-tables.js'
import type { Clock } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import { Trigger } from '../lib/trigger.js'
import { StoreUnavailableError, type LeaseId, type Store } from '../store/store.js'
import type { LeaderContact, ServerDirectory } from './ports.js'
import type { ServerAddress } from './wire.js'

/** A server as stored in its row and in the leader key. */
export type ServerInfo = Readonly<{
  name: string
  /** The cluster (server RPC) address clients reach it on. */
  addr: string
  port: number
  /** Its node ID. */
  id: string
  version: string
}>

/** How long a server's lease lives without a keep-alive: a dead leader is replaced within it. */
export const SERVER_LEASE_TTL_MS = 5_000

export interface ElectionLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface ServerSessionOptions {
  readonly store: Store
  readonly catalog: Catalog
  readonly clock: Clock
  readonly self: ServerInfo
  readonly logger: ElectionLogger
  /** Lease TTL (default `SERVER_LEASE_TTL_MS`). */
  readonly ttlMs?: number
  /** Leadership gained (with the fence its writes carry) or lost (null). Awaited. */
  readonly onLeadership: (fence: Fence | null) => Promise<void>
  /** A new lease replaced a lost one: keys kept on the old one must be written again. */
  readonly onNewLease?: (lease: LeaseId) => void
}

/** Decodes a server row's value; undefined when it is not one. */
export function decodeServerInfo(value: unknown): ServerInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Partial<Record<keyof ServerInfo, unknown>>
  if (typeof v.name !== 'string' || typeof v.addr !== 'string' || typeof v.port !== 'number') return undefined
  return {
    name: v.name,
    addr: v.addr,
    port: v.port,
    id: typeof v.id === 'string' ? v.id : '',
    version: typeof v.version === 'string' ? v.version : '',
  }
}

/** Every server with a live row in the catalog's view, by name. */
export function liveServers(catalog: Catalog): readonly ServerInfo[] {
  return catalog.state.cluster
    .rows('servers')
    .map((r) => decodeServerInfo(r.value))
    .filter((s): s is ServerInfo => s !== undefined)
}

/** `"<ip>:<port>"` as `/v1/status/leader` and `peers` show a server (IPv6 bracketed). */
export function serverEndpoint(s: Pick<ServerAddress, 'addr' | 'port'>): string {
  return s.addr.includes(':') ? `[${s.addr}]:${s.port}` : `${s.addr}:${s.port}`
}

export class ServerSession implements ServerDirectory {
  readonly #opts: ServerSessionOptions
  readonly #ttlMs: number
  readonly #trigger = new Trigger()
  readonly #abort = new AbortController()
  #lease: LeaseId | undefined
  /** When the lease was last confirmed alive (granted or kept alive). */
  #lastOk = Number.NEGATIVE_INFINITY
  #fence: Fence | null = null
  /** Leadership as last reported to `onLeadership`, and the report in progress. */
  #reported: Fence | null = null
  #reporting: Promise<void> = Promise.resolve()
  #loop: Promise<void> | undefined
  #keepAlive: Promise<void> | undefined
  #unsubscribe: (() => void) | undefined
  #campaigning: Promise<void> = Promise.resolve()
  #closing: Promise<void> | undefined
  /** Requests held until the link to the store is confirmed again (`storeReachable`). */
  readonly #contactWaiters = new Set<(ok: boolean) => void>()
  /** When the loss of contact in progress was noticed (and logged); undefined while in contact. */
  #lostSince: number | undefined

  constructor(opts: ServerSessionOptions) {
    this.#opts = opts
    this.#ttlMs = opts.ttlMs ?? SERVER_LEASE_TTL_MS
  }

  /** The lease this server's keys hang on (undefined before `start`). */
  get lease(): LeaseId | undefined {
    return this.#lease
  }

  /** The fence of this server's leadership, or null while it does not lead. */
  get fence(): Fence | null {
    return this.#fence
  }

  /** Whether this server holds the leader key, as of its view. */
  get isLeader(): boolean {
    return this.#fence !== null
  }

  /** The leader as this server's view sees it, or undefined while there is none. */
  leaderInfo(): ServerInfo | undefined {
    return decodeServerInfo(this.#opts.catalog.state.cluster.leader()?.value)
  }

  /** Every server with a live row, by name. */
  servers(): readonly ServerInfo[] {
    return liveServers(this.#opts.catalog)
  }

  /** The leader's endpoint while this server knows a leader (`leaderContact`), else '' (Consul's answer). */
  leader(): string {
    const l = this.leaderInfo()
    return l === undefined || !this.leaderContact().knownLeader ? '' : serverEndpoint(l)
  }

  peers(): readonly string[] {
    return this.servers()
      .map((s) => serverEndpoint(s))
      .sort()
  }

  /**
   * True and 0 while this server leads; elsewhere, whether its view shows a leader and its link to
   * the store is confirmed (a server cut off from the store cannot trust its view), and the age of
   * its last confirmed keep-alive.
   */
  leaderContact(): LeaderContact {
    const healthy = this.#leaseHealthy()
    if (this.#fence !== null && healthy) return { knownLeader: true, lastContactMs: 0 }
    const age = this.#opts.clock.now() - this.#lastOk
    return {
      knownLeader: healthy && this.leaderInfo() !== undefined,
      lastContactMs: Number.isFinite(age) ? Math.max(0, Math.floor(age)) : 0,
    }
  }

  storeReachable(maxMs: number): Promise<boolean> {
    if (this.#leaseHealthy()) return Promise.resolve(true)
    if (this.#abort.signal.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        if (!this.#contactWaiters.delete(done)) return
        timer.cancel()
        resolve(ok)
      }
      this.#contactWaiters.add(done)
      const timer = this.#opts.clock.setTimer(maxMs, () => {
        done(false)
      })
    })
  }

  storeUnavailable(err: unknown): void {
    this.#lostContact(err)
  }

  configuration(): ReturnType<ServerDirectory['configuration']> {
    const leader = this.leaderInfo()?.name.toLowerCase()
    return {
      servers: this.servers().map((s) => ({
        id: s.id !== '' ? s.id : serverEndpoint(s),
        node: s.name,
        address: serverEndpoint(s),
        leader: s.name.toLowerCase() === leader,
      })),
      index: Math.max(1, this.#opts.catalog.revision),
    }
  }

  /** Takes a lease, writes this server's row and starts campaigning. */
  async start(): Promise<void> {
    await this.#renewLease()
    const mine = `servers/${this.#opts.self.name.toLowerCase()}`
    this.#unsubscribe = this.#opts.catalog.onClusterChange((changed) => {
      if (changed === null || changed.has('leader/') || changed.has(mine)) this.#trigger.notify()
    })
    const signal = this.#abort.signal
    this.#loop = this.#campaignLoop(signal)
    this.#keepAlive = this.#keepAliveLoop(signal)
    // The first campaign runs before start resolves: a lone server leads once started.
    await this.#campaign()
  }

  /**
   * Steps down (the leader tasks stop first), removes this server's row and the leader key, and
   * stops. The lease is left to expire: the liveness keys of members heartbeating here stay
   * until they have moved to another server, so a server's restart fails nobody.
   */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      this.#abort.abort(new Error('server session closed'))
      this.#trigger.notify()
      for (const done of [...this.#contactWaiters]) done(false)
      this.#unsubscribe?.()
      await this.#loop
      await this.#keepAlive
      this.#fence = null
      await this.#report()
      const lease = this.#lease
      if (lease === undefined) return
      const keys = this.#opts.catalog.state.keys
      const mine = [keys.leader(), keys.server(this.#opts.self.name)]
      await Promise.all(
        mine.map((key) =>
          this.#opts.catalog
            .commitRaw({
              compare: [{ key, target: 'lease', op: '=', value: lease }],
              success: [{ type: 'delete', key }],
            })
            .catch((err: unknown) => {
              this.#opts.logger.warn({ key, error: errorMessage(err) }, 'Could not remove a server key')
            }),
        ),
      )
    })())
  }

  /** Grants a lease and writes this server's row on it. */
  async #renewLease(): Promise<void> {
    const { store, catalog, self } = this.#opts
    const lease = await store.grantLease(this.#ttlMs)
    await catalog.commitRaw({
      compare: [],
      success: [
        { type: 'put', key: catalog.state.keys.server(self.name), value: JSON.stringify(self), lease },
      ],
    })
    const renewed = this.#lease !== undefined
    this.#lease = lease
    this.#confirmed(this.#opts.clock.now())
    if (renewed) this.#opts.onNewLease?.(lease)
  }

  async #keepAliveLoop(signal: AbortSignal): Promise<void> {
    const { store, clock, logger } = this.#opts
    const intervalMs = Math.max(100, Math.floor(this.#ttlMs / 3))
    let delayMs = intervalMs
    while (!signal.aborted) {
      try {
        await clock.sleep(delayMs, signal)
      } catch {
        return
      }
      delayMs = intervalMs
      const lease = this.#lease
      if (lease === undefined) continue
      try {
        const sent = clock.now()
        if (await store.keepAlive(lease)) {
          this.#confirmed(sent)
          // A keep-alive that took most of the lease to answer (the store just came back)
          // confirms too old a moment: confirm again at once.
          if (!this.#leaseHealthy()) delayMs = 0
          continue
        }
        logger.warn({ lease }, 'Server lease expired; taking a new one')
        this.#stepDown()
        await this.#renewLease()
        this.#trigger.notify()
      } catch (err) {
        if (isAborted(signal)) return
        // Cut off from the store for most of the lease: step down before another server can lead.
        if (!this.#leaseHealthy()) this.#stepDown()
        this.#lostContact(err)
      }
    }
  }

  /** The store answered a call sent at `at`: contact confirmed as of then. */
  #confirmed(at: number): void {
    const wasHealthy = this.#leaseHealthy()
    this.#lastOk = Math.max(this.#lastOk, at)
    if (!this.#leaseHealthy()) return
    if (!wasHealthy) this.#trigger.notify()
    for (const done of [...this.#contactWaiters]) done(true)
    if (this.#lostSince !== undefined) {
      const lostMs = this.#opts.clock.now() - this.#lostSince
      this.#lostSince = undefined
      this.#opts.logger.info({ lostMs }, 'Contact with the store restored')
    }
  }

  /** A call to the store failed: logged when contact was not already known to be lost. */
  #lostContact(err: unknown): void {
    if (this.#lostSince !== undefined) return
    this.#lostSince = this.#opts.clock.now()
    this.#opts.logger.warn(
      { error: errorMessage(err) },
      'Lost contact with the store; requests that need it answer "No cluster leader" until it is back',
    )
  }

  /**
   * Whether the lease is surely still alive: confirmed less than two thirds of its TTL ago. A
   * server cut off from the store longer than that neither leads nor believes its (stale) view
   * that says it does.
   */
  #leaseHealthy(): boolean {
    return this.#opts.clock.now() - this.#lastOk < (this.#ttlMs * 2) / 3
  }

  #stepDown(): void {
    if (this.#fence === null) return
    this.#fence = null
    this.#opts.logger.warn({}, 'cluster leadership lost')
    void this.#report()
  }

  async #campaignLoop(signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.#opts
    while (!signal.aborted) {
      try {
        await this.#trigger.wait(clock, { maxMs: this.#ttlMs, signal })
      } catch {
        return
      }
      try {
        await this.#campaign()
      } catch (err) {
        if (isAborted(signal)) return
        if (err instanceof StoreUnavailableError) this.#lostContact(err)
        else logger.warn({ error: errorMessage(err) }, 'Leader election failed; retrying')
      }
    }
  }

  /** Runs a campaign after the one in progress (campaigns never overlap). */
  #campaign(): Promise<void> {
    const next = this.#campaigning.catch(() => undefined).then(() => this.#campaignOnce())
    this.#campaigning = next
    return next
  }

  /** One campaign: takes the leader key when free, or learns who holds it. */
  async #campaignOnce(): Promise<void> {
    const { catalog, self } = this.#opts
    const key = catalog.state.keys.leader()
    // This server's row, deleted under it (a snapshot restore replaces the whole prefix): put back.
    const own = this.#lease
    if (own !== undefined && catalog.state.cluster.get('servers', self.name) === undefined) {
      await catalog.commitRaw({
        compare: [],
        success: [
          { type: 'put', key: catalog.state.keys.server(self.name), value: JSON.stringify(self), lease: own },
        ],
      })
    }
    for (let round = 0; round < 3 && !this.#abort.signal.aborted; round++) {
      const lease = this.#lease
      if (lease === undefined) return
      const row = catalog.state.cluster.leader()
      if (row === undefined) {
        await catalog.commitRaw({
          compare: [{ key, target: 'version', op: '=', value: 0 }],
          success: [{ type: 'put', key, value: JSON.stringify(self), lease }],
        })
        continue // the view now shows who won
      }
      if (row.lease === lease) {
        if (this.#leaseHealthy()) this.#lead(row)
        else this.#stepDown()
        return
      }
      this.#follow()
      // This server's key from before a restart, on a lease it no longer keeps alive.
      if (decodeServerInfo(row.value)?.name.toLowerCase() === self.name.toLowerCase()) {
        await catalog.commitRaw({
          compare: [{ key, target: 'modRevision', op: '=', value: row.modRevision }],
          success: [{ type: 'delete', key }],
        })
        continue
      }
      return
    }
  }

  #lead(row: ClusterRow): void {
    const revision = row.createRevision
    if (this.#fence !== null) return
    const key = this.#opts.catalog.state.keys.leader()
    this.#fence = {
      compare: { key, target: 'createRevision', op: '=', value: revision },
      holds: (state) => state.cluster.leader()?.createRevision === revision,
    }
    this.#opts.logger.info({ leader: this.#opts.self.name }, 'cluster leadership acquired')
    void this.#report()
  }

  #follow(): void {
    if (this.#fence === null) return
    this.#fence = null
    this.#opts.logger.info({}, 'cluster leadership lost')
    void this.#report()
  }

  /** Tells `onLeadership` the current state, once per change, one call at a time. */
  #report(): Promise<void> {
    this.#reporting = this.#reporting.then(async () => {
      const now = this.#fence
      if (now === this.#reported) return
      this.#reported = now
      try {
        await this.#opts.onLeadership(now)
      } catch (err) {
        this.#opts.logger.warn({ error: errorMessage(err) }, 'Leadership change handler failed')
      }
    })
    return this.#reporting
  }
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
