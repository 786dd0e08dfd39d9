/**
 * A server among the servers sharing one store (docs/cluster.md "Several servers"): its session
 * (lease, row, election), membership on every server, and — while it leads — the leader tasks
 * (session expiry, tombstone and lock-delay reaping) and the member reconciler, all fenced by the
 * leader key. A lone server runs the same code and leads at once.
 *
 * Concurrency contract: leadership changes are handled one at a time; a loss stops the leader
 * tasks (awaited) before a later gain starts new ones.
 */
import type { Member } from '../agent/member.js'
import type { NodeInfo } from '../agent/sync/catalog-port.js'
import type { Catalog, Fence } from '../catalog/catalog.js'
import { LeaderTasks } from '../catalog/leader.js'
import type { EventSink } from '../agent/events.js'
import { ServerSession, type ServerInfo } from '../cluster/election.js'
import { EventShare } from '../cluster/event-share.js'
import type { EventStream } from '../cluster/event-stream.js'
import { MemberReconciler, Membership, type MembershipLogger } from '../cluster/membership.js'
import type { ServerAddress } from '../cluster/wire.js'
import type { Clock } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import type { Store } from '../store/store.js'

export interface ServerClusterOptions {
  readonly catalog: Catalog
  readonly store: Store
  readonly clock: Clock
  readonly self: () => Member
  readonly selfNode: () => NodeInfo
  readonly address: ServerAddress
  readonly info: ServerInfo
  readonly livenessTimeoutMs: number
  readonly reconnectTimeoutMs: number
  readonly logger: MembershipLogger
  readonly epoch: string
  readonly events?: EventStream
  /** Lease TTL of this server (default: the election's). */
  readonly leaseTtlMs?: number
}

export interface ServerCluster {
  readonly session: ServerSession
  readonly membership: Membership
  /** Where events fired on this server (or forwarded to it) go: shared with every server. */
  readonly eventSink: EventSink | null
  close(): Promise<void>
}

export async function startServerCluster(o: ServerClusterOptions): Promise<ServerCluster> {
  let leading: { tasks: LeaderTasks; members: MemberReconciler } | undefined
  const stopLeading = async (): Promise<void> => {
    const l = leading
    leading = undefined
    if (l === undefined) return
    await Promise.all([l.tasks.stop(), l.members.close()])
  }
  // The leader's member reconciler reads the member list: it starts once this server's own
  // record is in it.
  let membershipReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => {
    membershipReady = resolve
  })
  const onLeadership = async (fence: Fence | null): Promise<void> => {
    await stopLeading()
    if (fence === null) return
    await ready
    const tasks = new LeaderTasks({
      catalog: o.catalog,
      clock: o.clock,
      fence,
      onError: (err) => {
        o.logger.warn({ error: errorMessage(err) }, 'Leader task failed; retrying')
      },
    })
    tasks.start()
    const members = new MemberReconciler({
      catalog: o.catalog,
      clock: o.clock,
      fence,
      reconnectTimeoutMs: o.reconnectTimeoutMs,
      logger: o.logger,
    })
    leading = { tasks, members }
  }
  /** Set once the membership exists (a lease renewal before that has nothing to rewrite). */
  const late: { membership?: Membership } = {}
  const session = new ServerSession({
    store: o.store,
    catalog: o.catalog,
    clock: o.clock,
    self: o.info,
    logger: o.logger,
    ...(o.leaseTtlMs === undefined ? {} : { ttlMs: o.leaseTtlMs }),
    onLeadership,
    onNewLease: () => {
      late.membership?.leaseChanged()
    },
  })
  await session.start()
  const membership = new Membership({
    catalog: o.catalog,
    clock: o.clock,
    self: o.self,
    selfNode: o.selfNode,
    address: o.address,
    lease: () => session.lease,
    livenessTimeoutMs: o.livenessTimeoutMs,
    reconnectTimeoutMs: o.reconnectTimeoutMs,
    logger: o.logger,
    epoch: o.epoch,
    ...(o.events === undefined ? {} : { events: o.events }),
  })
  late.membership = membership
  await membership.ready()
  membershipReady()
  const share =
    o.events === undefined
      ? null
      : new EventShare({ catalog: o.catalog, store: o.store, stream: o.events, logger: o.logger })
  return {
    session,
    membership,
    eventSink: share,
    close: async () => {
      share?.close()
      await membership.close()
      await session.close()
      await stopLeading()
    },
  }
}
