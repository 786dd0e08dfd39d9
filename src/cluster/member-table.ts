/**
 * A server's member table: membership and failure detection without gossip (servers.md §5).
 * Every member heartbeats; each heartbeat renews its liveness deadline. A member whose deadline
 * passes is failed (4); a heartbeat from a failed or left member makes it alive again. A graceful
 * leave marks it left (3) at once. Failed members are reaped after `reconnect_timeout`, left ones
 * after `leftRetentionMs` (Consul's tombstone timeout), and `force-leave -prune` drops one at once.
 *
 * Concurrency contract: synchronous and single-threaded; time comes only from the injected clock.
 * Every status change is reported through `onChange` after the table changed, synchronously;
 * the listener must only record "look again" (the catalog writer re-reads `get(name)`).
 */
import { isDeepStrictEqual } from 'node:util'
import type { Member, MemberStatus } from '../agent/member.js'
import type { NodeInfo } from '../agent/sync/catalog-port.js'
import type { Clock, Timer } from '../lib/clock.js'
import { lower } from '../catalog/keys.js'
import { UnknownMemberError } from '../lib/errors.js'

/** One row: the member as it announced itself, its node's catalog fields, and its timers. */
export type MemberRow = Readonly<{
  member: Member
  node: NodeInfo
  /** Epoch ms of the last heartbeat. */
  lastSeenMs: number
  /** Epoch ms of the last status change. */
  sinceMs: number
}>

export type MemberChange = Readonly<{
  name: string
  /** null when the row was removed (reaped, pruned). */
  status: MemberStatus | null
  previous: MemberStatus | null
}>

export interface MemberTableOptions {
  readonly clock: Clock
  /** No heartbeat for this long → failed. */
  readonly livenessTimeoutMs: number
  /** Failed for this long → reaped (`reconnect_timeout`, default 72 h). */
  readonly reconnectTimeoutMs: number
  /** Left for this long → removed from the list (default 24 h, Consul's tombstone timeout). */
  readonly leftRetentionMs?: number
  readonly onChange: (change: MemberChange) => void
}

/** Left members stay listed this long (Consul's tombstone timeout). */
export const LEFT_RETENTION_MS = 24 * 3_600_000

export class MemberTable {
  readonly #opts: MemberTableOptions
  readonly #rows = new Map<string, MemberRow>()
  #timer: Timer | undefined
  #nextSweepMs = Number.POSITIVE_INFINITY
  #closed = false
  #version = 0

  constructor(opts: MemberTableOptions) {
    this.#opts = opts
  }

  /** Every member, by name. Frozen rows. */
  rows(): readonly MemberRow[] {
    return [...this.#rows.values()]
  }

  get(name: string): MemberRow | undefined {
    return this.#rows.get(lower(name))
  }

  get size(): number {
    return this.#rows.size
  }

  /** Moves whenever the member list changes (a member added, changed, removed, or its status). */
  get version(): number {
    return this.#version
  }

  /**
   * A heartbeat: records the member as it describes itself, alive, with a fresh deadline.
   * Returns the status it had before (null for a new member).
   */
  heartbeat(member: Member, node: NodeInfo): MemberStatus | null {
    const key = lower(member.name)
    const now = this.#opts.clock.now()
    const prev = this.#rows.get(key)
    const previous = prev?.member.status ?? null
    const alive = previous === 'alive'
    const next = Object.freeze({ ...member, status: 'alive' as const })
    if (!alive || prev === undefined || !isDeepStrictEqual(prev.member, next)) this.#version++
    this.#rows.set(
      key,
      Object.freeze({
        member: next,
        node,
        lastSeenMs: now,
        sinceMs: alive && prev !== undefined ? prev.sinceMs : now,
      }),
    )
    this.#schedule(now + this.#opts.livenessTimeoutMs)
    if (!alive) this.#opts.onChange({ name: member.name, status: 'alive', previous })
    return previous
  }

  /** A graceful leave: left at once. False for an unknown member. */
  leave(name: string): boolean {
    const row = this.get(name)
    if (row === undefined) return false
    this.#setStatus(row, 'left')
    return true
  }

  /**
   * `force-leave`: a failed member becomes left; an alive one too (it comes back with its next
   * heartbeat, as Consul's refutation); `prune` removes the row at once. Unknown → throws.
   */
  forceLeave(name: string, prune: boolean): void {
    const row = this.get(name)
    if (row === undefined) throw new UnknownMemberError(name)
    if (prune) {
      this.#rows.delete(lower(name))
      this.#version++
      this.#opts.onChange({ name: row.member.name, status: null, previous: row.member.status })
      return
    }
    this.#setStatus(row, 'left')
  }

  /** Applies every deadline that has passed. Runs by itself on the clock; callable directly. */
  sweep(): void {
    const { clock, livenessTimeoutMs, reconnectTimeoutMs } = this.#opts
    const retention = this.#opts.leftRetentionMs ?? LEFT_RETENTION_MS
    const now = clock.now()
    let next = Number.POSITIVE_INFINITY
    for (const row of [...this.#rows.values()]) {
      const status = row.member.status
      if (status === 'alive') {
        const due = row.lastSeenMs + livenessTimeoutMs
        if (due <= now) {
          this.#setStatus(row, 'failed', now)
          next = Math.min(next, now + reconnectTimeoutMs)
        } else next = Math.min(next, due)
      } else if (status === 'failed' || status === 'left') {
        const due = row.sinceMs + (status === 'failed' ? reconnectTimeoutMs : retention)
        if (due <= now) {
          this.#rows.delete(lower(row.member.name))
          this.#version++
          this.#opts.onChange({ name: row.member.name, status: null, previous: status })
        } else next = Math.min(next, due)
      }
    }
    this.#nextSweepMs = Number.POSITIVE_INFINITY
    this.#timer?.cancel()
    this.#timer = undefined
    this.#schedule(next)
  }

  /** Cancels the timer; nothing changes afterwards by itself. */
  close(): void {
    this.#closed = true
    this.#timer?.cancel()
    this.#timer = undefined
  }

  #setStatus(row: MemberRow, status: MemberStatus, now = this.#opts.clock.now()): void {
    const previous = row.member.status
    if (previous === status) return
    this.#version++
    this.#rows.set(
      lower(row.member.name),
      Object.freeze({ ...row, member: Object.freeze({ ...row.member, status }), sinceMs: now }),
    )
    const retention = this.#opts.leftRetentionMs ?? LEFT_RETENTION_MS
    this.#schedule(now + (status === 'failed' ? this.#opts.reconnectTimeoutMs : retention))
    this.#opts.onChange({ name: row.member.name, status, previous })
  }

  /**
   * Makes sure a sweep runs no later than `atMs`, rounded up to a tenth of the liveness timeout
   * (at least 50 ms): a sweep visits every row, and with a thousand members heartbeating some
   * deadline is always near, so sweeping at each one would cost O(N) per heartbeat. A failure is
   * thus seen within the timeout plus a tenth of it.
   */
  #schedule(deadlineMs: number): void {
    const grain = Math.max(50, this.#opts.livenessTimeoutMs / 10)
    const atMs = Math.ceil(deadlineMs / grain) * grain
    if (this.#closed || !Number.isFinite(atMs) || atMs >= this.#nextSweepMs) return
    this.#timer?.cancel()
    this.#nextSweepMs = atMs
    this.#timer = this.#opts.clock.setTimer(atMs - this.#opts.clock.now(), () => {
      this.#timer = undefined
      this.sweep()
    })
  }
}
