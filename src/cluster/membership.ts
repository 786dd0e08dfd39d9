/**
 * The server side of membership (servers.md §5): the member table, fed by heartbeats, leaves and
 * force-leaves, and the catalog kept level-triggered from it. Each member's catalog entries are
 * recomputed from its current row whenever it changes (and every member once a minute): alive →
 * node and `serfHealth` passing; failed → `serfHealth` critical; left, reaped or pruned → the
 * node deregistered (Consul's leader `handleLeftMember`/`handleReapMember`). Writes that change
 * nothing cost nothing: the catalog skips no-op writes.
 *
 * Concurrency contract: one loop does every catalog write, so writes for one node never race;
 * table changes only mark names dirty. `close()` resolves once the loop has exited.
 */
import type { Member } from '../agent/member.js'
import type { Catalog } from '../catalog/catalog.js'
import { nodeRegistration } from '../catalog/types.js'
import type { Clock } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import { Trigger } from '../lib/trigger.js'
import { MemberTable, type MemberChange } from './member-table.js'
import { serfHealthCheck } from './serf-health.js'
import type { EventBatch, EventStream } from './event-stream.js'
import { encodeUserEvent, type HeartbeatRequest, type ServerAddress } from './wire.js'

/** How often every member's catalog entries are re-derived even without a change. */
const FULL_RECONCILE_MS = 60_000
/** After a failed catalog write, how long before the next attempt. */
const RETRY_MS = 1_000

export interface MembershipLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  debug(obj: object, msg: string): void
}

export interface MembershipOptions {
  readonly catalog: Catalog
  readonly clock: Clock
  /** This server as a member (always alive in its own list). */
  readonly self: () => Member
  /** This server as clients reach it. */
  readonly address: ServerAddress
  readonly livenessTimeoutMs: number
  readonly reconnectTimeoutMs: number
  readonly logger: MembershipLogger
  /** Identifies this server's lifetime; a client that sees it change resyncs. */
  readonly epoch: string
  /**
   * Called after a member failed, left or was reaped (the leader's session invalidation hangs
   * here once sessions exist). Must not throw.
   */
  readonly onMemberDown?: (name: string) => void
  /** The datacenter's user events, handed to clients in heartbeat answers (docs/events.md). */
  readonly events?: EventStream
}

export class Membership {
  readonly table: MemberTable
  readonly #opts: MembershipOptions
  readonly #dirty = new Set<string>()
  readonly #trigger = new Trigger()
  readonly #abort = new AbortController()
  readonly #loop: Promise<void>
  #closed: Promise<void> | undefined
  #encoded: Readonly<{ version: number; json: string }> | undefined

  constructor(opts: MembershipOptions) {
    this.#opts = opts
    this.table = new MemberTable({
      clock: opts.clock,
      livenessTimeoutMs: opts.livenessTimeoutMs,
      reconnectTimeoutMs: opts.reconnectTimeoutMs,
      onChange: (change) => {
        this.#changed(change)
      },
    })
    this.#loop = this.#run(this.#abort.signal).catch((err: unknown) => {
      if (!this.#abort.signal.aborted)
        opts.logger.warn({ error: errorMessage(err) }, 'Membership loop stopped')
    })
  }

  /** Every member: this server first, then the table (without a stale row for this server). */
  members(): readonly Member[] {
    const self = this.#opts.self()
    return [
      self,
      ...this.table
        .rows()
        .map((r) => r.member)
        .filter((m) => m.name !== self.name),
    ]
  }

  /**
   * Records a heartbeat and answers a `HeartbeatReply` as JSON text, with the member list only
   * when the client's copy is out of date. The list is encoded once per version and shared by
   * every heartbeat that needs it: with a thousand members, encoding it per heartbeat dominated
   * the server's CPU whenever the list changed.
   */
  heartbeatJson(req: HeartbeatRequest): string {
    this.table.heartbeat(req.member, req.node)
    const { epoch } = this.#opts
    const version = this.table.version
    const current = req.knownEpoch === epoch && req.knownVersion === version
    let members = 'null'
    if (!current) {
      if (this.#encoded?.version !== version) {
        this.#encoded = { version, json: JSON.stringify(this.members()) }
      }
      members = this.#encoded.json
    }
    const batch = this.#eventBatch(req)
    const head = JSON.stringify({
      epoch,
      version,
      servers: [this.#opts.address],
      events: batch.events.map(encodeUserEvent),
      eventSeq: batch.cursor,
    })
    return `${head.slice(0, -1)},"members":${members}}`
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

  /** A graceful leave; false for an unknown member. */
  leave(name: string): boolean {
    return this.table.leave(name)
  }

  forceLeave(name: string, prune: boolean): void {
    this.table.forceLeave(name, prune)
  }

  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.table.close()
      this.#abort.abort(new Error('membership closed'))
      await this.#loop
    })())
  }

  #changed(change: MemberChange): void {
    const { logger } = this.#opts
    if (change.status === 'alive') {
      logger.info(
        { member: change.name, previous: change.previous ?? 'none' },
        'member joined, marking health alive',
      )
    } else if (change.status === 'failed') {
      logger.info({ member: change.name }, 'member failed, marking health critical')
    } else if (change.status === 'left') {
      logger.info({ member: change.name }, 'member left, deregistering')
    } else if (change.status === null) {
      logger.info({ member: change.name }, 'member reaped, deregistering')
    }
    if (change.status !== 'alive') this.#opts.onMemberDown?.(change.name)
    this.#dirty.add(change.name)
    this.#trigger.notify()
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#opts
    let nextFull = clock.now() + FULL_RECONCILE_MS
    while (!signal.aborted) {
      const wait = this.#dirty.size > 0 ? 0 : Math.max(0, nextFull - clock.now())
      if (wait > 0) await this.#trigger.wait(clock, { maxMs: wait, signal })
      if (clock.now() >= nextFull) {
        for (const r of this.table.rows()) this.#dirty.add(r.member.name)
        nextFull = clock.now() + FULL_RECONCILE_MS
      }
      let failed = false
      for (const name of [...this.#dirty]) {
        if (isAborted(signal)) return
        // Taken off before the write: a change during it marks the name again.
        this.#dirty.delete(name)
        try {
          await this.#reconcile(name)
        } catch (err) {
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

  /** Makes the catalog match the member's current row. */
  async #reconcile(name: string): Promise<void> {
    const { catalog } = this.#opts
    if (name === this.#opts.self().name) return
    const row = this.table.get(name)
    if (row === undefined || row.member.status === 'left') {
      await catalog.deregister({ node: row?.node.node ?? name, serviceId: '', checkId: '' })
      return
    }
    if (row.member.status !== 'alive' && row.member.status !== 'failed') return
    const { node } = row
    await catalog.register({
      ...nodeRegistration(node, null, [
        serfHealthCheck(node.node, row.member.status === 'alive' ? 'passing' : 'critical'),
      ]),
      // A failed node keeps its last known address and meta; only its serfHealth changes.
      skipNodeUpdate: row.member.status === 'failed',
    })
  }
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
