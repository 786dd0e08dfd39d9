/**
 * User events across the servers sharing a store (docs/events.md "Several servers"). An event
 * fired on any server — from its API or forwarded by a client agent — is written to the store as
 * `events/<id>` on a lease of its own (60 s: long enough for every server's view to see it, short
 * enough that the table stays small). Every server appends the events its view sees to its own
 * event stream, in the store's revision order, so each server's clients get every event, and in
 * the same order on every server. A server remembers the IDs it appended (the last few thousand):
 * an event is delivered once, even when a resync shows it again.
 *
 * A fire answers once the event is stored; when the store refuses it, the fire request fails.
 */
import type { EventSink, UserEvent } from '../agent/events.js'
import type { Catalog } from '../catalog/catalog.js'
import type { ClusterRow } from '../catalog/cluster-tables.js'
import { errorMessage } from '../lib/errors.js'
import type { Store } from '../store/store.js'
import type { EventStream } from './event-stream.js'
import { decodeStoredEvent, encodeUserEvent } from './wire.js'

/** How long a fired event stays in the store. */
export const SHARED_EVENT_TTL_MS = 60_000
/** Event IDs remembered as delivered. */
const SEEN_LIMIT = 4_096

export interface EventShareLogger {
  warn(obj: object, msg: string): void
}

export class EventShare implements EventSink {
  readonly #catalog: Catalog
  readonly #store: Store
  readonly #stream: EventStream
  readonly #logger: EventShareLogger
  readonly #seen = new Set<string>()
  readonly #unsubscribe: () => void

  constructor(opts: { catalog: Catalog; store: Store; stream: EventStream; logger: EventShareLogger }) {
    this.#catalog = opts.catalog
    this.#store = opts.store
    this.#stream = opts.stream
    this.#logger = opts.logger
    // Events already in the store when this server starts were fired before it: not replayed.
    for (const r of this.#catalog.state.cluster.rows('events')) this.#remember(r.name)
    this.#unsubscribe = this.#catalog.onClusterChange((changed) => {
      this.#pick(changed)
    })
  }

  /**
   * Fires an event: stores it; every server (this one included) delivers it from its view.
   * Settles once stored; a rejection is the fire request's error.
   */
  async deliver(event: UserEvent): Promise<void> {
    try {
      await this.#fire(event)
    } catch (err) {
      this.#logger.warn({ event: event.name, error: errorMessage(err) }, 'Could not share a user event')
      throw err
    }
  }

  close(): void {
    this.#unsubscribe()
  }

  async #fire(event: UserEvent): Promise<void> {
    const lease = await this.#store.grantLease(SHARED_EVENT_TTL_MS)
    await this.#catalog.commitRaw({
      compare: [],
      success: [
        {
          type: 'put',
          key: this.#catalog.state.keys.event(event.id),
          value: JSON.stringify(encodeUserEvent(event)),
          lease,
        },
      ],
    })
  }

  /** Appends the events the view shows that were not delivered yet, in revision order. */
  #pick(changed: ReadonlySet<string> | null): void {
    const tables = this.#catalog.state.cluster
    const rows: ClusterRow[] = []
    if (changed === null) rows.push(...tables.rows('events'))
    else {
      for (const c of changed) {
        if (!c.startsWith('events/')) continue
        const row = tables.get('events', c.slice('events/'.length))
        if (row !== undefined) rows.push(row)
      }
    }
    rows.sort((a, b) => a.modRevision - b.modRevision || (a.name < b.name ? -1 : 1))
    for (const row of rows) {
      if (this.#seen.has(row.name)) continue
      this.#remember(row.name)
      let event: UserEvent
      try {
        event = decodeStoredEvent(row.value)
      } catch (err) {
        this.#logger.warn({ event: row.name, error: errorMessage(err) }, 'Skipped a malformed shared event')
        continue
      }
      this.#stream.append(event)
    }
  }

  #remember(id: string): void {
    this.#seen.add(id)
    if (this.#seen.size > SEEN_LIMIT) {
      const oldest = this.#seen.values().next().value
      if (oldest !== undefined) this.#seen.delete(oldest)
    }
  }
}
