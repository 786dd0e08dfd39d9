/**
 * `/v1/event/fire/:name` and `/v1/event/list` (http-api.md §13) over the agent's event buffer.
 * Filters are Go regular expressions compiled with RE2 (linear time); `fire` hands the event to
 * an {@link EventSink}: the server's event stream on a server, a forward to a server on a client
 * agent, the local buffer when nothing else is given.
 */
import { compileGoRegexp, RegexpError, type GoRegexp } from '../../filter/index.js'
import type { AgentPort } from '../../agent/ports.js'
import type { Clock } from '../../lib/clock.js'
import {
  EventBuffer,
  eventIndex,
  USER_EVENT_SIZE_LIMIT,
  userEventSize,
  type EventFilters,
  type EventSink,
  type UserEvent,
} from '../../agent/events.js'
import { BadRequestError } from '../../lib/errors.js'
import { parseWaitMs } from '../params.js'
import { headerValue, type ApiRequest } from '../request.js'
import { jsonResponse, textResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/** Blocking lists wait at most this long, and this long when `wait` is absent. */
const MAX_EVENT_WAIT_MS = 10 * 60_000

/** Consul's `UserEvent` JSON. */
export function renderEvent(e: UserEvent, ltime = e.ltime): Record<string, unknown> {
  return {
    ID: e.id,
    Name: e.name,
    Payload: e.payload === null ? null : e.payload.toString('base64'),
    NodeFilter: e.nodeFilter,
    ServiceFilter: e.serviceFilter,
    TagFilter: e.tagFilter,
    Version: e.version,
    LTime: ltime,
  }
}

/** Compiles an event's filters; throws RegexpError naming the filter (`Invalid node filter: …`). */
export function compileEventFilters(
  e: Pick<UserEvent, 'nodeFilter' | 'serviceFilter' | 'tagFilter'>,
): EventFilters {
  const one = (pattern: string, what: string): GoRegexp | undefined => {
    if (pattern === '') return undefined
    try {
      return compileGoRegexp(pattern)
    } catch (err) {
      if (err instanceof RegexpError)
        throw new RegexpError(`Invalid ${what} filter: ${err.message}`, { cause: err })
      throw err
    }
  }
  const node = one(e.nodeFilter, 'node')
  const service = one(e.serviceFilter, 'service')
  const tag = one(e.tagFilter, 'tag')
  return { ...(node ? { node } : {}), ...(service ? { service } : {}), ...(tag ? { tag } : {}) }
}

export interface EventRouteOptions {
  /** The agent's buffer: source of `list`, and maker of new events (ID, Lamport time). */
  readonly buffer: EventBuffer
  /** Where fired events go; the buffer itself when absent. */
  readonly sink?: EventSink
}

/** The event routes for one agent. */
export function eventRoutes(opts: EventRouteOptions): (deps: RouteDeps) => RouteSpec[] {
  const sink = opts.sink ?? opts.buffer
  return (deps) => {
    const fire = async (req: ApiRequest): Promise<ApiResponse> => {
      const name = req.rest
      if (name === '') throw new BadRequestError('Missing name')
      const q = req.query
      const fields = {
        name,
        nodeFilter: q.get('node') ?? '',
        serviceFilter: q.get('service') ?? '',
        tagFilter: q.get('tag') ?? '',
      }
      if (fields.tagFilter !== '' && fields.serviceFilter === '') {
        return textResponse(500, 'Cannot provide tag filter without service filter')
      }
      try {
        compileEventFilters(fields)
      } catch (err) {
        if (err instanceof RegexpError) return textResponse(500, err.message)
        throw err
      }
      const declared = Number(headerValue(req.headers, 'content-length') || '0')
      const bytes = declared > 0 ? (req.bytes ?? Buffer.from(req.body, 'utf8')) : Buffer.alloc(0)
      const payload = bytes.length > 0 ? bytes : null
      if (userEventSize({ ...fields, payload }) > USER_EVENT_SIZE_LIMIT) {
        return textResponse(
          500,
          `user event exceeds configured limit of ${USER_EVENT_SIZE_LIMIT} bytes before encoding`,
        )
      }
      const event = opts.buffer.create({ ...fields, payload })
      await sink.deliver(event)
      // Consul answers before the event has a Lamport time.
      return jsonResponse(renderEvent(event, 0))
    }

    const list = async (req: ApiRequest): Promise<ApiResponse> => {
      const name = req.query.get('name') ?? ''
      const waitMs = parseWaitMs(req.query)
      const wanted = req.query.get('index') ?? ''
      const deadline =
        deps.clock.now() + (waitMs > 0 ? Math.min(waitMs, MAX_EVENT_WAIT_MS) : MAX_EVENT_WAIT_MS)
      for (;;) {
        const events = opts.buffer.list(name)
        const index = eventIndex(events)
        const left = deadline - deps.clock.now()
        if (wanted === '' || index !== wanted || left <= 0 || req.signal.aborted) {
          return jsonResponse(
            events.map((e) => renderEvent(e)),
            200,
            { 'X-Consul-Index': index },
          )
        }
        await opts.buffer.wait(left, req.signal)
      }
    }

    return [
      { pattern: '/v1/event/fire/', methods: ['PUT'], handler: fire },
      { pattern: '/v1/event/list', methods: ['GET'], handler: list },
    ]
  }
}

/** The buffer of an agent: filters matched against its node name and local services. */
export function agentEventBuffer(
  agent: Pick<AgentPort, 'read'>,
  nodeName: string,
  clock: Clock,
): EventBuffer {
  return new EventBuffer({
    clock,
    target: {
      nodeName: () => nodeName,
      services: () =>
        agent.read.services().map((s) => ({ service: s.service.name, tags: s.service.tags ?? [] })),
    },
    compile: (event) => {
      try {
        return compileEventFilters(event)
      } catch (err) {
        if (err instanceof RegexpError) return undefined
        throw err
      }
    },
  })
}
