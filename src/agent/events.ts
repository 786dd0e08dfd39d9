/**
 * User events as an agent holds them (http-api.md §13): the last 256 events this agent received
 * whose filters matched it, oldest first, with a Lamport clock and waiters for blocking lists.
 *
 * Delivery is the seam with the cluster: `fire` on a single node delivers to itself; a cluster
 * transport calls `deliver` on every agent it reaches with the event as fired (`EventSink`).
 */
import { randomUUID } from 'node:crypto'
import type { Clock } from '../lib/clock.js'
import type { GoRegexp } from '../filter/index.js'

/** Consul keeps this many events per agent (agent.userEventsSize). */
export const EVENT_BUFFER_SIZE = 256

/** A user event as fired; `payload` is the raw bytes (null when none). */
export type UserEvent = Readonly<{
  id: string
  name: string
  payload: Buffer | null
  nodeFilter: string
  serviceFilter: string
  tagFilter: string
  version: number
  ltime: number
}>

/** What receives fired events: the local buffer, or a cluster transport that reaches every agent. */
export interface EventSink {
  /** Settles once the event was handed on; a rejection is the fire request's error. */
  deliver(event: UserEvent): void | Promise<void>
}

/** Serf's limit on a user event (name plus encoded payload). */
export const USER_EVENT_SIZE_LIMIT = 512
/** Bytes the encoding adds around name, payload and filters (msgpack field names and headers, the `consul:event:` prefix). */
const EVENT_ENCODING_OVERHEAD = 120

/** An event's size as serf's limit counts it (with an allowance for the encoding). */
export function userEventSize(
  e: Pick<UserEvent, 'name' | 'payload' | 'nodeFilter' | 'serviceFilter' | 'tagFilter'>,
): number {
  return (
    EVENT_ENCODING_OVERHEAD +
    2 * e.name.length +
    (e.payload?.length ?? 0) +
    e.nodeFilter.length +
    e.serviceFilter.length +
    e.tagFilter.length
  )
}

/** The agent's own identity, against which event filters are matched. */
export interface EventTarget {
  nodeName(): string
  /** The agent's local services: name and tags. */
  services(): readonly Readonly<{ service: string; tags: readonly string[] }>[]
}

/** Compiled filters of an event (compile with compileGoRegexp: RE2, linear time). */
export interface EventFilters {
  readonly node?: GoRegexp
  readonly service?: GoRegexp
  readonly tag?: GoRegexp
}

/**
 * Consul's index for an event list: the newest event's ID without dashes, first 16 hex digits
 * XOR last 16, as uint64 (a decimal string; it may exceed 2^53). `1` when there is none.
 */
export function eventIndex(events: readonly UserEvent[]): string {
  const last = events[events.length - 1]
  if (last === undefined) return '1'
  const hex = last.id.replaceAll('-', '')
  const idx = BigInt(`0x${hex.slice(0, 16)}`) ^ BigInt(`0x${hex.slice(16, 32)}`)
  return idx.toString()
}

export class EventBuffer implements EventSink {
  readonly #events: UserEvent[] = []
  readonly #waiters = new Set<() => void>()
  #ltime = 0

  constructor(
    private readonly opts: {
      readonly clock: Clock
      readonly target: EventTarget
      /** Compiles an event's filters; events with filters that do not compile are dropped. */
      readonly compile: (event: UserEvent) => EventFilters | undefined
    },
  ) {}

  /** A new event from this agent: stamped with the next Lamport time and a fresh ID. */
  create(fields: Omit<UserEvent, 'id' | 'version' | 'ltime'>): UserEvent {
    this.#ltime += 1
    return Object.freeze({ ...fields, id: randomUUID(), version: 1, ltime: this.#ltime })
  }

  /** Receives an event: keeps it when its filters match this agent (Consul's shouldProcessUserEvent). */
  deliver(event: UserEvent): void {
    this.#ltime = Math.max(this.#ltime, event.ltime)
    if (!this.#matches(event)) return
    this.#events.push(event)
    if (this.#events.length > EVENT_BUFFER_SIZE) this.#events.shift()
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
  }

  /** The kept events, oldest first, optionally of one name. */
  list(name = ''): readonly UserEvent[] {
    return name === '' ? [...this.#events] : this.#events.filter((e) => e.name === name)
  }

  /** Resolves at the next delivery, after `maxMs`, or when `signal` aborts. */
  wait(maxMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        timer.cancel()
        signal?.removeEventListener('abort', done)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = this.opts.clock.setTimer(maxMs, done)
      signal?.addEventListener('abort', done, { once: true })
      this.#waiters.add(done)
      if (signal?.aborted === true) done()
    })
  }

  #matches(event: UserEvent): boolean {
    const filters = this.opts.compile(event)
    if (filters === undefined) return false
    if (filters.node !== undefined && !filters.node.test(this.opts.target.nodeName())) return false
    if (filters.service === undefined) return true
    const service = filters.service
    const tag = filters.tag
    return this.opts.target
      .services()
      .some((s) => service.test(s.service) && (tag === undefined || s.tags.some((t) => tag.test(t))))
  }
}
