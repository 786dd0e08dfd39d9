import assert from 'node:assert/strict'
import { test } from 'node:test'
import { EVENT_BUFFER_SIZE, eventIndex, type UserEvent } from '../../src/agent/events.js'
import { agentEventBuffer } from '../../src/api/routes/event.js'
import type { AgentPort } from '../../src/agent/ports.js'
import { FakeClock } from '../support/fake-clock.js'
import { track } from '../support/wait.js'

/** An agent with these local services (only the read model's `services()` is used). */
function agentWith(services: { name: string; tags: string[] }[]): Pick<AgentPort, 'read'> {
  return {
    read: {
      services: () => services.map((s) => ({ service: { name: s.name, tags: s.tags } })),
    },
  } as unknown as Pick<AgentPort, 'read'>
}

const fields = { payload: null, nodeFilter: '', serviceFilter: '', tagFilter: '' }

test('the buffer keeps the last 256 events, oldest first, and lists by exact name', () => {
  const buffer = agentEventBuffer(agentWith([]), 'node1', new FakeClock())
  for (let i = 0; i < EVENT_BUFFER_SIZE + 10; i++) {
    buffer.deliver(buffer.create({ ...fields, name: i % 2 === 0 ? 'even' : 'odd' }))
  }
  const all = buffer.list()
  assert.equal(all.length, EVENT_BUFFER_SIZE)
  assert.equal(all[0]?.ltime, 11, 'the ten oldest were dropped')
  assert.equal(all.at(-1)?.ltime, EVENT_BUFFER_SIZE + 10)
  assert.ok(buffer.list('even').every((e) => e.name === 'even'))
  assert.deepEqual(buffer.list('eve'), [])
})

test('filters: node name, local service names and their tags, as Go regexps', () => {
  const buffer = agentEventBuffer(
    agentWith([
      { name: 'web', tags: ['v1', 'blue'] },
      { name: 'db', tags: ['primary'] },
    ]),
    'web-node-3',
    new FakeClock(),
  )
  const fire = (f: Partial<typeof fields>, name: string): void => {
    buffer.deliver(buffer.create({ ...fields, ...f, name }))
  }
  fire({ nodeFilter: '^web-node-\\d$' }, 'node-match')
  fire({ nodeFilter: '^db' }, 'node-miss')
  fire({ serviceFilter: '^we' }, 'service-match')
  fire({ serviceFilter: 'cache' }, 'service-miss')
  fire({ serviceFilter: 'db', tagFilter: '^prim' }, 'tag-match')
  fire({ serviceFilter: 'db', tagFilter: 'blue' }, 'tag-on-other-service')
  fire({ nodeFilter: '(' }, 'bad-filter')
  assert.deepEqual(
    buffer.list().map((e) => e.name),
    ['node-match', 'service-match', 'tag-match'],
  )
})

test('Lamport time: a delivered event from elsewhere moves the clock forward', () => {
  const buffer = agentEventBuffer(agentWith([]), 'n', new FakeClock())
  const remote: UserEvent = {
    ...fields,
    id: '00000000-0000-0000-0000-000000000001',
    name: 'r',
    version: 1,
    ltime: 40,
  }
  buffer.deliver(remote)
  assert.equal(buffer.create({ ...fields, name: 'local' }).ltime, 41)
})

test('index: first 16 hex digits of the newest ID XOR the last 16; 1 when empty', () => {
  assert.equal(eventIndex([]), '1')
  const e = (id: string): UserEvent => ({ ...fields, id, name: 'x', version: 1, ltime: 1 })
  assert.equal(eventIndex([e('00000000-0000-0001-0000-000000000003')]), '2')
  assert.equal(eventIndex([e('ffffffff-ffff-ffff-0000-000000000000')]), (2n ** 64n - 1n).toString())
})

test('wait resolves at the next delivery or at its deadline', async () => {
  const clock = new FakeClock()
  const buffer = agentEventBuffer(agentWith([]), 'n', clock)
  const woken = track(buffer.wait(60_000))
  await clock.advance(1_000)
  assert.equal(woken.settled(), false)
  buffer.deliver(buffer.create({ ...fields, name: 'x' }))
  await clock.advance(0)
  assert.equal(woken.settled(), true)
  const timedOut = track(buffer.wait(5_000))
  await clock.advance(4_999)
  assert.equal(timedOut.settled(), false)
  await clock.advance(1)
  assert.equal(timedOut.settled(), true)
})
