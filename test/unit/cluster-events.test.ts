import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import type { UserEvent } from '../../src/agent/events.js'
import { ClusterClient } from '../../src/cluster/client.js'
import { EVENTS_PER_HEARTBEAT, EventStream } from '../../src/cluster/event-stream.js'
import { Membership } from '../../src/cluster/membership.js'
import type { ClusterResponse, ClusterTransport, Endpoint } from '../../src/cluster/transport.js'
import {
  decodeEventFire,
  decodeHeartbeat,
  decodeHeartbeatReply,
  encodeUserEvent,
} from '../../src/cluster/wire.js'
import { DecodeError } from '../../src/lib/errors.js'
import { openCatalog } from '../support/catalog.js'
import { member, nodeInfo } from '../support/cluster.js'
import type { FakeClock } from '../support/fake-clock.js'
import { waitFor } from '../support/wait.js'

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined }

function event(name: string, ltime = 1): UserEvent {
  return Object.freeze({
    id: randomUUID(),
    name,
    payload: null,
    nodeFilter: '',
    serviceFilter: '',
    tagFilter: '',
    version: 1,
    ltime,
  })
}

test('event stream: increasing sequence numbers and Lamport times, delivered to the server at once, bounded', () => {
  const delivered: UserEvent[] = []
  const stream = new EventStream({ onAppend: (e) => delivered.push(e), capacity: 4 })
  assert.equal(stream.head, 0)
  const a = stream.append(event('a', 1))
  const b = stream.append(event('b', 1))
  const c = stream.append(event('c', 40))
  const d = stream.append(event('d', 2))
  assert.deepEqual(
    [a, b, c, d].map((x) => [x.seq, x.event.ltime]),
    [
      [1, 1],
      [2, 2],
      [3, 40],
      [4, 41],
    ],
    'each time above every earlier one, and at least the time it was fired with',
  )
  assert.deepEqual(
    delivered.map((e) => e.name),
    ['a', 'b', 'c', 'd'],
  )
  assert.equal(delivered[2], c.event, 'the server delivers what the stream holds')

  // A cursor: the events after it, in order; the head when it is current, new or unknown.
  assert.deepEqual(
    stream.since(1).events.map((e) => e.name),
    ['b', 'c', 'd'],
  )
  assert.equal(stream.since(1).cursor, 4)
  assert.deepEqual(stream.since(4), { events: [], cursor: 4 })
  assert.deepEqual(stream.since(-1), { events: [], cursor: 4 }, 'a new agent starts at the head')
  assert.deepEqual(stream.since(99), { events: [], cursor: 4 }, 'a cursor beyond the head')
  assert.deepEqual(stream.since(1.5), { events: [], cursor: 4 })

  // Bounded: the oldest go; a cursor behind them gets what is left.
  stream.append(event('e'))
  stream.append(event('f'))
  assert.deepEqual(
    stream.since(0).events.map((e) => e.name),
    ['c', 'd', 'e', 'f'],
  )
  // A batch limit: the cursor stops at the last event sent.
  const first = stream.since(2, 2)
  assert.deepEqual(
    first.events.map((e) => e.name),
    ['c', 'd'],
  )
  assert.equal(first.cursor, 4)
  assert.deepEqual(
    stream.since(first.cursor, 2).events.map((e) => e.name),
    ['e', 'f'],
  )
})

test('event messages are checked: UUID, name, size limit, integer times; absent fields from older agents', () => {
  const e = { ...event('deploy', 3), payload: Buffer.from('v1') }
  const back = decodeEventFire(JSON.stringify(encodeUserEvent(e)))
  assert.deepEqual({ ...back, payload: back.payload?.toString() }, { ...e, payload: 'v1' })
  const bad = (patch: Record<string, unknown>): void => {
    assert.throws(() => decodeEventFire(JSON.stringify({ ...encodeUserEvent(e), ...patch })), DecodeError)
  }
  bad({ id: 'not-a-uuid' })
  bad({ name: '' })
  bad({ ltime: -1 })
  bad({ ltime: 1.5 })
  bad({ payload: Buffer.alloc(600).toString('base64') })
  bad({ nodeFilter: 'x'.repeat(600) })

  const hb = {
    member: member('c1'),
    node: nodeInfo('c1'),
    knownEpoch: '',
    knownVersion: -1,
  }
  assert.equal(decodeHeartbeat(JSON.stringify(hb)).eventSeq, -1, 'absent: a client new to events')
  assert.equal(decodeHeartbeat(JSON.stringify({ ...hb, eventSeq: 7 })).eventSeq, 7)
  assert.throws(() => decodeHeartbeat(JSON.stringify({ ...hb, eventSeq: 'x' })), DecodeError)
  const reply = decodeHeartbeatReply({ epoch: 'e', version: 1, members: null, servers: [] })
  assert.deepEqual([reply.events, reply.eventSeq], [[], -1])
})

/** A server on a fake network: hello on 8301, heartbeats answered by a real Membership. */
class FakeServer implements ClusterTransport {
  membership: Membership
  stream: EventStream
  readonly delivered: UserEvent[] = []

  constructor(
    private readonly opts: {
      clock: FakeClock
      catalog: ConstructorParameters<typeof Membership>[0]['catalog']
    },
  ) {
    ;[this.membership, this.stream] = this.boot('boot-1')
  }

  /** A restart: a new lifetime (epoch) with an empty stream. */
  async restart(): Promise<void> {
    await this.membership.close()
    ;[this.membership, this.stream] = this.boot('boot-2')
  }

  boot(epoch: string): [Membership, EventStream] {
    const stream = new EventStream({ onAppend: (e) => this.delivered.push(e) })
    const membership = new Membership({
      ...this.opts,
      self: () => member('s1', true),
      selfNode: () => nodeInfo('s1'),
      // No lease: this harness keeps no member records, only the event stream is under test.
      lease: () => undefined,
      address: { name: 's1', addr: '10.0.0.1', port: 8300 },
      livenessTimeoutMs: 10_000,
      reconnectTimeoutMs: 3_600_000,
      logger: silent,
      epoch,
      events: stream,
    })
    return [membership, stream]
  }

  send(to: Endpoint, req: { target: string; body?: string | Buffer }): Promise<ClusterResponse> {
    const ok = (body: string): Promise<ClusterResponse> => Promise.resolve({ status: 200, headers: {}, body })
    if (to.port === 8301) {
      return ok(
        JSON.stringify({
          name: 's1',
          datacenter: 'dc1',
          server: true,
          servers: [{ name: 's1', addr: '10.0.0.1', port: 8300 }],
        }),
      )
    }
    if (req.target.endsWith('/heartbeat'))
      return ok(this.membership.heartbeatJson(decodeHeartbeat(req.body?.toString() ?? '')))
    return Promise.reject(new Error(`unexpected ${req.target}`))
  }
}

test('heartbeat delivery: new events within one heartbeat, in order; no replay after a client restart; none lost when the server restarts', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const { clock } = h
  const server = new FakeServer({ clock, catalog: h.catalog })
  t.after(() => server.membership.close())
  const start = async (name: string): Promise<[ClusterClient, string[]]> => {
    const got: string[] = []
    const client = new ClusterClient({
      transport: server,
      clock,
      random: () => 0,
      logger: silent,
      self: () => member(name),
      node: () => nodeInfo(name),
      defaultJoinPort: 8301,
      livenessTimeoutMs: 10_000,
      onEvents: (events) => got.push(...events.map((e) => `${e.name}@${e.ltime}`)),
    })
    t.after(() => client.close())
    client.start()
    await client.join(['10.0.0.1'])
    await waitFor(() => server.membership.table.get(name) !== undefined, { what: `${name} heartbeating` })
    return [client, got]
  }

  server.stream.append(event('before-join'))
  const [c1, got1] = await start('c1')
  assert.deepEqual(got1, [], 'events fired before an agent joined are not replayed to it')
  server.stream.append(event('one'))
  server.stream.append(event('two'))
  await clock.advance(999)
  assert.deepEqual(got1, [], 'not before the next heartbeat')
  await clock.advance(1)
  assert.deepEqual(got1, ['one@2', 'two@3'])
  await clock.advance(1_000)
  assert.deepEqual(got1, ['one@2', 'two@3'], 'each event once')

  // A client that fired an event asks for it at once.
  server.stream.append(event('fired-here'))
  c1.heartbeatSoon()
  await waitFor(() => got1.length === 3, { what: 'a heartbeat right after a fire' })

  // A restarted client (a new process: no cursor) starts at the head.
  const [, got2] = await start('c2')
  server.stream.append(event('three'))
  await clock.advance(1_000)
  assert.deepEqual(got2, ['three@5'])
  assert.deepEqual(got1.slice(-1), ['three@5'])

  // A client behind by more than one answer carries: the rest comes with the next heartbeats.
  const many = EVENTS_PER_HEARTBEAT + 10
  for (let i = 0; i < many; i++) server.stream.append(event(`m${i}`))
  await clock.advance(1_000)
  assert.equal(got2.length, 1 + EVENTS_PER_HEARTBEAT)
  await clock.advance(1_000)
  assert.deepEqual(
    got2.slice(1),
    Array.from({ length: many }, (_, i) => `m${i}@${6 + i}`),
  )

  // The server restarts: events fired in its new lifetime before a client's next heartbeat arrive.
  await server.restart()
  server.stream.append(event('after-restart'))
  await clock.advance(1_000)
  assert.equal(got1[got1.length - 1], 'after-restart@1')
  assert.equal(got2[got2.length - 1], 'after-restart@1')
  assert.equal(server.delivered.at(-1)?.name, 'after-restart', 'the server delivered its own at once')
})
