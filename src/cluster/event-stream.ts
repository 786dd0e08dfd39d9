/**
 * The datacenter's user-event stream, kept on the server (docs/events.md): every fired event, from
 * this server's API or forwarded by a client agent, gets the next sequence number and a Lamport
 * time, is delivered at once to the server's own buffer, and reaches client agents in the answers
 * to their heartbeats (`since`). The stream keeps the last `capacity` events, in order.
 *
 * Delivery contract (best effort, as serf's user events): an agent gets the events appended after
 * its first heartbeat answer; one that restarts, or joins late, does not get older ones; one that
 * falls more than `capacity` events behind loses the oldest it missed.
 */
import type { EventSink, UserEvent } from '../agent/events.js'

/** Events the stream keeps (serf keeps 512 for its own replay; an agent lists 256). */
export const EVENT_STREAM_SIZE = 256
/** Events one heartbeat answer carries at most; a client behind by more gets the rest next time. */
export const EVENTS_PER_HEARTBEAT = 64

export type StreamedEvent = Readonly<{ seq: number; event: UserEvent }>

/** What a heartbeat answer carries: events in order, and the cursor the client sends next. */
export type EventBatch = Readonly<{ events: readonly UserEvent[]; cursor: number }>

export class EventStream implements EventSink {
  readonly #entries: StreamedEvent[] = []
  readonly #capacity: number
  readonly #onAppend: (event: UserEvent) => void
  #seq = 0
  #ltime = 0

  constructor(
    opts: Readonly<{
      /** The server's own delivery (its buffer); must not throw. */
      onAppend: (event: UserEvent) => void
      capacity?: number
    }>,
  ) {
    this.#capacity = Math.max(1, opts.capacity ?? EVENT_STREAM_SIZE)
    this.#onAppend = opts.onAppend
  }

  /** The sequence number of the newest event (0: none yet). */
  get head(): number {
    return this.#seq
  }

  /** Appends `event` with the next sequence number and a Lamport time above every earlier one. */
  deliver(event: UserEvent): void {
    this.append(event)
  }

  append(event: UserEvent): StreamedEvent {
    this.#seq += 1
    this.#ltime = Math.max(this.#ltime + 1, event.ltime)
    const entry = Object.freeze({
      seq: this.#seq,
      event: Object.freeze({ ...event, ltime: this.#ltime }),
    })
    this.#entries.push(entry)
    if (this.#entries.length > this.#capacity) this.#entries.shift()
    this.#onAppend(entry.event)
    return entry
  }

  /**
   * The events after `cursor` (at most `limit`, oldest first) and the cursor to send next. A
   * negative cursor, or one beyond the head, is an agent new to this stream: nothing, and the head.
   */
  since(cursor: number, limit = EVENTS_PER_HEARTBEAT): EventBatch {
    if (!Number.isSafeInteger(cursor) || cursor < 0 || cursor >= this.#seq) {
      return { events: [], cursor: this.#seq }
    }
    const first = this.#entries[0]?.seq ?? this.#seq + 1
    const start = Math.max(0, cursor + 1 - first)
    const picked = this.#entries.slice(start, start + Math.max(1, limit))
    const last = picked[picked.length - 1]
    return { events: picked.map((e) => e.event), cursor: last?.seq ?? this.#seq }
  }
}
