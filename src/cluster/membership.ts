/**
 * Membership across servers (servers.md §5, docs/cluster.md): one member list for the
 * datacenter, in the store, whichever server a member heartbeats to.
 *
 * - `members/<name>`: the member as it announced itself, its node's catalog fields, its status
 *   (alive, failed, left) and since when. Every change also moves `idx/members`, the list's
 *   version in heartbeat answers (the same on every server).
 * - `alive/<name>`: `{server}` on the lease of the server the member heartbeats to. The server
 *   deletes it when the member's heartbeats stop (its local table's liveness timeout); when the
 *   server itself dies the key goes with its lease. A member that moves to another server gets
 *   its key rewritten on that server's lease at its first heartbeat there.
 *
 * `Membership` runs on every server: heartbeats, leaves and force-leaves become writes of those
 * keys, and heartbeat answers carry the list from the view. `MemberReconciler` runs on the leader
 * only, its writes fenced: a member whose liveness key is gone is marked failed, and each member's
 * catalog entries follow its record — alive → node and `serfHealth` passing, failed → `serfHealth`
 * critical, left → node deregistered; failed members are reaped after `reconnect_timeout` and
 * left ones after the retention (Consul's leader `reconcileMember`). A catalog node with a
 * `serfHealth` check and no record is deregistered (`reconcileReaped`).
 *
 * Concurrency contract: each class has one loop doing its writes, so writes for one member from
 * one server never race; changes only mark names dirty and the loop re-reads the view. Writes
 * from different servers are ordered by the store: every write that decides on what it read
 * compares it. `close()` resolves once the loop has exited.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Member } from '../agent/member.js'
import type { NodeInfo } from '../agent/sync/catalog-port.js'
import type { Catalog, Fence } from '../catalog/catalog.js'
import type { ClusterRow } from '../catalog/cluster-tables.js'
import { IDX_MEMBERS, lower } from '../catalog/keys.js'
import { nodeRegistration } from '../catalog/types.js'
import type { Clock, Timer } from '../lib/clock.js'
import { errorMessage, UnknownMemberError } from '../lib/errors.js'
import { Trigger } from '../lib/trigger.js'
import type { Compare, LeaseId, Op } from '../store/store.js'
import { liveServers } from './election.js'
import { LEFT_RETENTION_MS, MemberTable, type MemberChange } from './member-table.js'
import { SERF_HEALTH_CHECK_ID, serfHealthCheck } from './serf-health.js'
import type { EventBatch, EventStream } from './event-stream.js'
import { encodeUserEvent, type HeartbeatRequest, type ServerAddress } from './wire.js'

/** How often every member is looked at again even without a change. */
const FULL_RECONCILE_MS = 60_000
/** After a failed write, how long before the next attempt. */
const RETRY_MS = 1_000
/**
 * How long a catalog node with a `serfHealth` check may be without a member record before the
 * leader deregisters it: a member that just joined, or a datacenter upgraded from a version that
 * kept no records, has its record written within a heartbeat or two.
 */
const ORPHAN_GRACE_MS = 30_000

/** Member-list changes a server remembers for heartbeat answers that carry only what changed. */
const CHANGE_LOG_MAX = 4096
/** Past this many changed members a heartbeat answer carries the whole list instead. */
const DELTA_MAX = 256

/**
 * Which members changed at which store revision, since `floor`: a client whose list is at a
 * version at or after the floor can be told only what changed since. Bounded: the oldest half
 * goes when full, and the floor moves up to the last revision dropped.
 */
export class MemberChangeLog {
  #floor: number
  #entries: { revision: number; name: string }[] = []

  constructor(
    floor: number,
    readonly max = CHANGE_LOG_MAX,
  ) {
    this.#floor = floor
  }

  record(revision: number, name: string): void {
    this.#entries.push({ revision, name })
    if (this.#entries.length <= this.max) return
    const dropped = this.#entries.splice(0, this.#entries.length - Math.floor(this.max / 2))
    this.#floor = Math.max(this.#floor, dropped.at(-1)?.revision ?? this.#floor)
  }

  /** Nothing is known before `revision` (the view was reloaded). */
  reset(revision: number): void {
    this.#entries = []
    this.#floor = revision
  }

  /** The (lower-cased) names changed after `version`; undefined when the log cannot tell. */
  since(version: number): ReadonlySet<string> | undefined {
    if (version < this.#floor) return undefined
    const names = new Set<string>()
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i]
      if (e === undefined || e.revision <= version) break
      names.add(e.name)
    }
    return names
  }
}

export type RecordStatus = 'alive' | 'failed' | 'left'

/** A member's row in the store. */
export type MemberRecord = Readonly<{ member: Member; node: NodeInfo; status: RecordStatus; sinceMs: number }>

export interface MembershipLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  debug(obj: object, msg: string): void
}

/** Decodes a member row's value (written by vigil servers; a foreign value is skipped). */
export function decodeMemberRecord(row: ClusterRow | undefined): MemberRecord | undefined {
  const v = row?.value
  if (typeof v !== 'object' || v === null) return undefined
  const r = v as Partial<Record<keyof MemberRecord, unknown>>
  if (typeof r.member !== 'object' || r.member === null || typeof r.node !== 'object' || r.node === null)
    return undefined
  if (r.status !== 'alive' && r.status !== 'failed' && r.status !== 'left') return undefined
  return {
    member: r.member as Member,
    node: r.node as NodeInfo,
    status: r.status,
    sinceMs: typeof r.sinceMs === 'number' ? r.sinceMs : 0,
  }
}

/** A record as a member of the list: the record's status is the one that counts. */
function memberOf(r: MemberRecord): Member {
  return r.member.status === r.status ? r.member : Object.freeze({ ...r.member, status: r.status })
}

/** The writes that set a member's record (and move the list's version). */
function putRecord(catalog: Catalog, name: string, rec: MemberRecord): Op[] {
  const keys = catalog.state.keys
  return [
    { type: 'put', key: keys.member(name), value: JSON.stringify(rec) },
    { type: 'put', key: keys.idx(IDX_MEMBERS), value: '' },
  ]
}

function deleteRecord(catalog: Catalog, name: string): Op[] {
  const keys = catalog.state.keys
  return [
    { type: 'delete', key: keys.member(name) },
    { type: 'delete', key: keys.alive(name) },
    { type: 'put', key: keys.idx(IDX_MEMBERS), value: '' },
  ]
}

/** The compare that a row is as read (absent: version 0). */
function unchanged(key: string, row: ClusterRow | undefined): Compare {
  return row === undefined
    ? { key, target: 'version', op: '=', value: 0 }
    : { key, target: 'modRevision', op: '=', value: row.modRevision }
}

export interface MembershipOptions {
  readonly catalog: Catalog
  readonly clock: Clock
  /** This server as a member, and its node. */
  readonly self: () => Member
  readonly selfNode: () => NodeInfo
  /** This server as clients reach it (the only server listed before the view has any). */
  readonly address: ServerAddress
  /** The lease this server's liveness keys go on (the server session's). */
  readonly lease: () => LeaseId | undefined
  readonly livenessTimeoutMs: number
  readonly reconnectTimeoutMs: number
  readonly logger: MembershipLogger
  /** Identifies this server's lifetime; a client that sees it change resyncs. */
  readonly epoch: string
  /** The user events this server hands to clients in heartbeat answers (docs/events.md). */
  readonly events?: EventStream
}

/** The server side of heartbeats, leaves and force-leaves, on every server. */
export class Membership {
  /** The members heartbeating to this server, with their local liveness deadlines. */
  readonly table: MemberTable
  readonly #opts: MembershipOptions
  readonly #dirty = new Set<string>()
  readonly #trigger = new Trigger()
  readonly #abort = new AbortController()
  readonly #loop: Promise<void>
  #selfTimer: Timer | undefined
  #closed: Promise<void> | undefined
  #encoded: Readonly<{ version: number; json: string }> | undefined
  readonly #changes: MemberChangeLog
  readonly #unsubscribe: () => void

  constructor(opts: MembershipOptions) {
    this.#opts = opts
    const state = opts.catalog.state
    this.#changes = new MemberChangeLog(state.revision)
    this.#unsubscribe = opts.catalog.onClusterChange((changed) => {
      if (changed === null) {
        this.#changes.reset(state.revision)
        return
      }
      for (const c of changed) {
        if (c.startsWith('members/')) this.#changes.record(state.revision, c.slice('members/'.length))
      }
    })
    this.table = new MemberTable({
      clock: opts.clock,
      livenessTimeoutMs: opts.livenessTimeoutMs,
      reconnectTimeoutMs: opts.reconnectTimeoutMs,
      onChange: (change) => {
        this.#changed(change)
      },
    })
    this.#beatSelf()
    this.#loop = this.#run(this.#abort.signal).catch((err: unknown) => {
      if (!this.#abort.signal.aborted)
        opts.logger.warn({ error: errorMessage(err) }, 'Membership loop stopped')
    })
  }

  /** Resolves once this server's own record and liveness key are written. */
  async ready(): Promise<void> {
    await this.#write(lower(this.#opts.self().name))
  }

  /** Every member, from the datacenter's list: this server first. */
  members(): readonly Member[] {
    const self = this.#opts.self()
    const others = this.#opts.catalog.state.cluster
      .rows('members')
      .map((r) => decodeMemberRecord(r))
      .filter((r): r is MemberRecord => r !== undefined && lower(r.member.name) !== lower(self.name))
      .map(memberOf)
    return [self, ...others]
  }

  /** The servers with a live row in the view (this one alone before the view has any). */
  servers(): readonly ServerAddress[] {
    const rows = liveServers(this.#opts.catalog).map((s) => ({ name: s.name, addr: s.addr, port: s.port }))
    return rows.length === 0 ? [this.#opts.address] : rows
  }

  /**
   * Records a heartbeat and answers a `HeartbeatReply` as JSON text. A client whose list is out
   * of date gets what changed since its version when it takes changes and this server's log goes
   * back that far (a thousand clients are not sent a thousand-member list each time one member
   * joins), else the whole list, encoded once per version and shared by every heartbeat that
   * needs it. A heartbeat writes to the store only when the member's record or liveness key is
   * not already what it says (new member, changed, back, or moved here).
   */
  heartbeatJson(req: HeartbeatRequest): string {
    this.table.heartbeat(req.member, req.node)
    if (this.#needsWrite(req.member.name)) this.#mark(req.member.name)
    const { epoch } = this.#opts
    const version = this.#opts.catalog.state.idx(IDX_MEMBERS) ?? 0
    const sameEpoch = req.knownEpoch === epoch
    let members = 'null'
    let changes = ''
    if (!sameEpoch || req.knownVersion !== version) {
      const names = sameEpoch && req.delta === true ? this.#changes.since(req.knownVersion) : undefined
      if (names !== undefined && names.size <= DELTA_MAX) {
        changes = this.#changesJson(names)
      } else {
        if (this.#encoded?.version !== version) {
          this.#encoded = { version, json: JSON.stringify(this.members()) }
        }
        members = this.#encoded.json
      }
    }
    const batch = this.#eventBatch(req)
    const head = JSON.stringify({
      epoch,
      version,
      servers: this.servers(),
      events: batch.events.map(encodeUserEvent),
      eventSeq: batch.cursor,
    })
    return `${head.slice(0, -1)},"members":${members}${changes}}`
  }

  /** `,"changed":[…],"removed":[…]` for the members named (lower-cased): as they are now, or gone. */
  #changesJson(names: ReadonlySet<string>): string {
    const self = this.#opts.self()
    const changed: Member[] = []
    const removed: string[] = []
    for (const name of names) {
      if (name === lower(self.name)) {
        changed.push(self)
        continue
      }
      const rec = this.#record(name)
      if (rec === undefined) removed.push(name)
      else changed.push(memberOf(rec))
    }
    return `,"changed":${JSON.stringify(changed)},"removed":${JSON.stringify(removed)}`
  }

  /**
   * The events a heartbeat carries: after the client's cursor in this server's lifetime; from the
   * start of the stream when its cursor is from an earlier lifetime (this server restarted); none
   * for a client new to the cluster (it starts at the head: no replay of older events).
   */
  #eventBatch(req: HeartbeatRequest): EventBatch {
    const stream = this.#opts.events
    if (stream === undefined) return { events: [], cursor: -1 }
    const { epoch } = this.#opts
    const fresh = req.knownEpoch === '' || req.eventSeq < 0
    return stream.since(req.knownEpoch === epoch ? req.eventSeq : fresh ? -1 : 0)
  }

  /** A graceful leave, durable when it resolves; false for an unknown member. */
  async leave(name: string): Promise<boolean> {
    const known = this.table.get(name) !== undefined || this.#record(name) !== undefined
    if (!known) return false
    this.table.leave(name)
    const rec = this.#record(name)
    if (rec !== undefined && rec.status !== 'left') {
      await this.#opts.catalog.commitRaw({
        compare: [],
        success: [
          ...putRecord(this.#opts.catalog, name, { ...rec, status: 'left', sinceMs: this.#opts.clock.now() }),
          { type: 'delete', key: this.#opts.catalog.state.keys.alive(name) },
        ],
      })
    }
    return true
  }

  /**
   * `force-leave`: the member becomes left (an alive one comes back with its next heartbeat, as
   * Consul's refutation); `prune` removes it from the list at once. Unknown → UnknownMemberError.
   */
  async forceLeave(name: string, prune: boolean): Promise<void> {
    const { catalog, clock } = this.#opts
    const row = catalog.state.cluster.get('members', name)
    const rec = decodeMemberRecord(row)
    if (rec === undefined) throw new UnknownMemberError(name)
    const key = catalog.state.keys.member(name)
    const ops: Op[] = prune
      ? deleteRecord(catalog, name)
      : [
          ...putRecord(catalog, name, { ...rec, status: 'left', sinceMs: clock.now() }),
          { type: 'delete', key: catalog.state.keys.alive(name) },
        ]
    await catalog.commitRaw({ compare: [unchanged(key, row)], success: ops })
    if (prune) await catalog.deregister({ node: rec.node.node, serviceId: '', checkId: '' })
  }

  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#unsubscribe()
      this.table.close()
      this.#selfTimer?.cancel()
      this.#abort.abort(new Error('membership closed'))
      await this.#loop
    })())
  }

  /** The lease changed (the old one expired): every liveness key of this server is written again. */
  leaseChanged(): void {
    for (const r of this.table.rows()) if (r.member.status === 'alive') this.#mark(r.member.name)
    this.#mark(this.#opts.self().name)
  }

  #record(name: string): MemberRecord | undefined {
    return decodeMemberRecord(this.#opts.catalog.state.cluster.get('members', name))
  }

  /** Whether the store does not yet say what this server knows of an alive member. */
  #needsWrite(name: string): boolean {
    const row = this.table.get(name)
    if (row?.member.status !== 'alive') return false
    const rec = this.#record(name)
    if (
      rec?.status !== 'alive' ||
      !isDeepStrictEqual(rec.member, row.member) ||
      !isDeepStrictEqual(rec.node, row.node)
    )
      return true
    const alive = this.#opts.catalog.state.cluster.get('alive', name)
    return alive === undefined || alive.lease !== this.#opts.lease()
  }

  /** This server heartbeats into its own table, so its record and liveness key are kept like any member's. */
  #beatSelf(): void {
    if (this.#abort.signal.aborted) return
    const self = this.#opts.self()
    this.table.heartbeat(self, this.#opts.selfNode())
    if (this.#needsWrite(self.name)) this.#mark(self.name)
    const every = Math.max(50, this.#opts.livenessTimeoutMs / 10)
    this.#selfTimer = this.#opts.clock.setTimer(every, () => {
      this.#beatSelf()
    })
  }

  #mark(name: string): void {
    this.#dirty.add(lower(name))
    this.#trigger.notify()
  }

  #changed(change: MemberChange): void {
    const { logger } = this.#opts
    if (change.status === 'alive') {
      logger.debug({ member: change.name, previous: change.previous ?? 'none' }, 'member heartbeating here')
    } else if (change.status === 'failed') {
      logger.info({ member: change.name }, 'member stopped heartbeating here')
    }
    this.#mark(change.name)
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#opts
    while (!signal.aborted) {
      if (this.#dirty.size === 0) await this.#trigger.wait(clock, { maxMs: FULL_RECONCILE_MS, signal })
      let failed = false
      for (const name of [...this.#dirty]) {
        if (isAborted(signal)) return
        // Taken off before the write: a change during it marks the name again.
        this.#dirty.delete(name)
        try {
          await this.#write(name)
        } catch (err) {
          failed = true
          this.#dirty.add(name)
          this.#opts.logger.warn({ member: name, error: errorMessage(err) }, 'Recording a member failed')
        }
      }
      if (failed) await clock.sleep(RETRY_MS, signal)
    }
  }

  /** Makes the store say what this server knows of the member. */
  async #write(name: string): Promise<void> {
    const { catalog, clock } = this.#opts
    const lease = this.#opts.lease()
    const row = this.table.get(name)
    const keys = catalog.state.keys
    const aliveKey = keys.alive(name)
    if (row === undefined || lease === undefined) return
    if (row.member.status === 'alive') {
      if (!this.#needsWrite(name)) return
      const rec = this.#record(name)
      const next: MemberRecord = {
        member: row.member,
        node: row.node,
        status: 'alive',
        sinceMs: rec?.status === 'alive' ? rec.sinceMs : clock.now(),
      }
      const ops: Op[] = isDeepStrictEqual(rec, next) ? [] : putRecord(catalog, name, next)
      ops.push({
        type: 'put',
        key: aliveKey,
        value: JSON.stringify({ server: this.#opts.address.name }),
        lease,
      })
      await catalog.commitRaw({ compare: [], success: ops })
      return
    }
    if (row.member.status === 'failed') {
      // Its heartbeats stopped here: drop this server's liveness key (not another server's).
      if (catalog.state.cluster.get('alive', name)?.lease !== lease) return
      await catalog.commitRaw({
        compare: [{ key: aliveKey, target: 'lease', op: '=', value: lease }],
        success: [{ type: 'delete', key: aliveKey }],
      })
    }
  }
}

export interface MemberReconcilerOptions {
  readonly catalog: Catalog
  readonly clock: Clock
  readonly fence: Fence
  readonly reconnectTimeoutMs: number
  /** Left members stay listed this long (default `LEFT_RETENTION_MS`). */
  readonly leftRetentionMs?: number
  readonly logger: MembershipLogger
}

/** The leader's side: member records → failures, reaping, and each member's catalog entries. */
export class MemberReconciler {
  readonly #opts: MemberReconcilerOptions
  readonly #dirty = new Set<string>()
  readonly #trigger = new Trigger()
  readonly #abort = new AbortController()
  readonly #unsubscribe: () => void
  readonly #loop: Promise<void>
  #timer: Timer | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #closed: Promise<void> | undefined
  /** Nodes seen with a `serfHealth` check and no member record, and since when. */
  readonly #orphans = new Map<string, number>()

  constructor(opts: MemberReconcilerOptions) {
    this.#opts = opts
    this.#unsubscribe = opts.catalog.onClusterChange((changed) => {
      if (changed === null) {
        this.#markAll()
        return
      }
      for (const c of changed) {
        const slash = c.indexOf('/')
        const table = c.slice(0, slash)
        if (table === 'members' || table === 'alive') this.#mark(c.slice(slash + 1))
      }
    })
    this.#markAll()
    this.#loop = this.#run(this.#abort.signal).catch((err: unknown) => {
      if (!this.#abort.signal.aborted)
        opts.logger.warn({ error: errorMessage(err) }, 'Member reconciliation stopped')
    })
  }

  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#unsubscribe()
      this.#timer?.cancel()
      this.#abort.abort(new Error('member reconciliation closed'))
      await this.#loop
    })())
  }

  #mark(name: string): void {
    this.#dirty.add(lower(name))
    this.#trigger.notify()
  }

  /** Every member, and every catalog node carrying a `serfHealth` check (reaped members' nodes). */
  #markAll(): void {
    const state = this.#opts.catalog.state
    for (const r of state.cluster.rows('members')) this.#dirty.add(r.name)
    for (const c of state.checksInStatus(undefined)) {
      if (c.check.checkId === SERF_HEALTH_CHECK_ID) this.#dirty.add(lower(c.check.node))
    }
    this.#trigger.notify()
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#opts
    let nextFull = clock.now() + FULL_RECONCILE_MS
    while (!signal.aborted) {
      if (this.#dirty.size === 0) {
        await this.#trigger.wait(clock, { maxMs: Math.max(0, nextFull - clock.now()), signal })
      }
      if (clock.now() >= nextFull) {
        this.#markAll()
        nextFull = clock.now() + FULL_RECONCILE_MS
      }
      let failed = false
      for (const name of [...this.#dirty]) {
        if (isAborted(signal)) return
        this.#dirty.delete(name)
        try {
          await this.#reconcile(name)
        } catch (err) {
          if (isAborted(signal)) return
          failed = true
          this.#dirty.add(name)
          this.#opts.logger.warn(
            { member: name, error: errorMessage(err) },
            'Updating the catalog for a member failed',
          )
        }
      }
      if (failed) await clock.sleep(RETRY_MS, signal)
    }
  }

  /** Looks at every member again at `atMs` (one timer, at the earliest time asked for). */
  #wakeAt(atMs: number): void {
    if (atMs >= this.#timerAt) return
    this.#timer?.cancel()
    this.#timerAt = atMs
    this.#timer = this.#opts.clock.setTimer(Math.max(0, atMs - this.#opts.clock.now()), () => {
      this.#timer = undefined
      this.#timerAt = Number.POSITIVE_INFINITY
      this.#markAll()
    })
  }

  async #reconcile(name: string): Promise<void> {
    const { catalog, clock, fence, logger } = this.#opts
    const state = catalog.state
    const row = state.cluster.get('members', name)
    const rec = decodeMemberRecord(row)
    const now = clock.now()
    if (rec === undefined) {
      // Not a member (reaped, pruned): a node the servers kept for it goes, after a grace.
      if (state.check(name, SERF_HEALTH_CHECK_ID) === undefined) {
        this.#orphans.delete(name)
        return
      }
      const since = this.#orphans.get(name) ?? now
      this.#orphans.set(name, since)
      if (now < since + ORPHAN_GRACE_MS) {
        this.#wakeAt(since + ORPHAN_GRACE_MS)
        return
      }
      this.#orphans.delete(name)
      const node = state.node(name)?.node.node ?? name
      logger.info({ member: node }, 'member reaped, deregistering')
      await catalog.deregister({ node, serviceId: '', checkId: '' }, fence)
      return
    }
    this.#orphans.delete(name)
    const nodeName = rec.node.node
    if (rec.status === 'alive') {
      const alive = state.cluster.get('alive', name)
      if (alive !== undefined) {
        await catalog.register(
          nodeRegistration(rec.node, null, [serfHealthCheck(nodeName, 'passing')]),
          fence,
        )
        return
      }
      logger.info({ member: rec.member.name }, 'member failed, marking health critical')
      await catalog.commitRaw(
        {
          compare: [unchanged(state.keys.member(name), row), unchanged(state.keys.alive(name), undefined)],
          success: putRecord(catalog, name, { ...rec, status: 'failed', sinceMs: now }),
        },
        fence,
      )
      return
    }
    if (rec.status === 'failed') {
      const reapAt = rec.sinceMs + this.#opts.reconnectTimeoutMs
      if (now >= reapAt) {
        logger.info({ member: rec.member.name }, 'member reaped after reconnect_timeout, deregistering')
        await catalog.commitRaw(
          { compare: [unchanged(state.keys.member(name), row)], success: deleteRecord(catalog, name) },
          fence,
        )
        await catalog.deregister({ node: nodeName, serviceId: '', checkId: '' }, fence)
        return
      }
      this.#wakeAt(reapAt)
      await catalog.register(
        {
          ...nodeRegistration(rec.node, null, [serfHealthCheck(nodeName, 'critical')]),
          skipNodeUpdate: true,
        },
        fence,
      )
      return
    }
    // Left: the node goes from the catalog; the record stays listed for the retention.
    const dropAt = rec.sinceMs + (this.#opts.leftRetentionMs ?? LEFT_RETENTION_MS)
    if (now >= dropAt) {
      await catalog.commitRaw(
        { compare: [unchanged(state.keys.member(name), row)], success: deleteRecord(catalog, name) },
        fence,
      )
      return
    }
    this.#wakeAt(dropAt)
    if (state.node(nodeName) !== undefined) {
      logger.info({ member: rec.member.name }, 'member left, deregistering')
      await catalog.deregister({ node: nodeName, serviceId: '', checkId: '' }, fence)
    }
  }
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
