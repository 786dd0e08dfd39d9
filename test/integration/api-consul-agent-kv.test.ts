/**
 * The `consul` npm client's kv, session, txn and event calls against a real `vigil agent -dev`
 * process (kv-session-txn.md §7 "node-consul client usage", http-api.md §13).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Consul from 'consul'
import { startAgentProcess } from '../support/agent-process.js'
import { within } from '../support/wait.js'

type Json = Record<string, unknown>

test('node-consul against vigil agent -dev: kv, sessions and locks, txn, events', async (t) => {
  const agent = await startAgentProcess({ t })
  const consul = new Consul({ host: '127.0.0.1', port: agent.port })
  t.after(() => {
    consul.destroy()
  })

  // kv
  assert.equal(await consul.kv.set('app/a', 'one'), true)
  await consul.kv.set('app/b', 'two')
  const got = (await consul.kv.get('app/a')) as unknown as Json
  assert.equal(got['Value'], 'one')
  assert.deepEqual(await consul.kv.keys('app/'), ['app/a', 'app/b'])
  assert.equal(await consul.kv.get('app/none'), undefined)
  const modify = got['ModifyIndex'] as number
  // A refused cas answers `false`, which node-consul hands back as undefined.
  assert.notEqual(await consul.kv.set({ key: 'app/a', value: 'x', cas: modify + 1000 }), true)
  assert.equal(await consul.kv.set({ key: 'app/a', value: 'three', cas: modify }), true)

  // a blocking get wakes on a change
  const current = (await consul.kv.get('app/b')) as unknown as Json
  const blocked = consul.kv.get({
    key: 'app/b',
    index: current['ModifyIndex'] as number,
    wait: '5s',
  } as never)
  await consul.kv.set('app/b', 'changed')
  assert.equal(((await within(blocked, 5_000, 'blocking get')) as unknown as Json)['Value'], 'changed')

  // sessions and locks
  const created = (await consul.session.create({
    ttl: '10s',
    lockdelay: '1ms',
    behavior: 'release',
  })) as unknown as Json
  assert.deepEqual(Object.keys(created), ['ID'])
  const sid = created['ID'] as string
  assert.equal(await consul.kv.set({ key: 'app/leader', value: 'me', acquire: sid }), true)
  const held = (await consul.kv.get('app/leader')) as unknown as Json
  assert.equal(held['Session'], sid)
  assert.equal(held['LockIndex'], 1)
  const renewed = (await consul.session.renew(sid)) as unknown as Json[]
  assert.equal(renewed[0]?.['ID'], sid)
  assert.equal(((await consul.session.info(sid)) as unknown as Json)['TTL'], '10s')
  assert.ok(((await consul.session.list()) as unknown as Json[]).some((s) => s['ID'] === sid))
  assert.deepEqual(await consul.session.node('no-such-node'), [])
  const other = ((await consul.session.create()) as unknown as Json)['ID'] as string
  assert.notEqual(await consul.kv.set({ key: 'app/leader', value: 'you', acquire: other }), true)
  await consul.session.destroy(sid)
  assert.equal(await consul.session.info(sid), undefined)
  const released = (await consul.kv.get('app/leader')) as unknown as Json
  assert.equal(released['Session'], undefined, 'destroying the session releases the lock')
  await assert.rejects(consul.session.renew(sid), /not found/)
  await consul.session.destroy(other)

  // txn
  const txn = (await consul.transaction.create([
    { KV: { Verb: 'set', Key: 'tx/1', Value: Buffer.from('a').toString('base64') } },
    { KV: { Verb: 'set', Key: 'tx/2', Value: Buffer.from('b').toString('base64') } },
  ] as never)) as unknown as Json
  const results = txn['Results'] as Json[]
  assert.equal(results.length, 2)
  for (const k of ['CreateIndex', 'ModifyIndex', 'LockIndex', 'Key', 'Flags'])
    assert.ok(k in (results[0]?.['KV'] as Json))
  await assert.rejects(
    consul.transaction.create([{ KV: { Verb: 'get', Key: 'tx/none' } }] as never),
    (err: Error & { response?: { statusCode?: number } }) => err.response?.statusCode === 409,
  )

  // events
  const fired = (await consul.event.fire('deploy', 'v1.2')) as unknown as Json
  assert.equal(fired['Name'], 'deploy')
  assert.equal(fired['Payload'], 'v1.2')
  assert.equal(fired['Version'], 1)
  assert.match(fired['ID'] as string, /^[0-9a-f-]{36}$/)
  await consul.event.fire({ name: 'elsewhere', node: '^no-such-node$' } as never)
  const listed = (await consul.event.list()) as unknown as Json[]
  assert.deepEqual(
    listed.map((e) => e['Name']),
    ['deploy'],
    'an event whose node filter does not match this agent is not kept',
  )
  const first: Json = listed[0] ?? {}
  assert.equal(first['Payload'], 'v1.2')
  assert.ok(Number(first['LTime']) >= 1)
  assert.deepEqual(await consul.event.list({ name: 'nothing' }), [])
})

test('event list: the index is the XOR of the newest ID halves, and a blocking list wakes on fire', async (t) => {
  const agent = await startAgentProcess({ t })
  const empty = await fetch(`${agent.url}/v1/event/list`)
  assert.equal(empty.headers.get('x-consul-index'), '1')
  assert.deepEqual(await empty.json(), [])

  const fired = (await (
    await fetch(`${agent.url}/v1/event/fire/one`, { method: 'PUT', body: 'p' })
  ).json()) as Json
  assert.equal(fired['LTime'], 0, 'fire answers before the event has a Lamport time')
  const hex = (fired['ID'] as string).replaceAll('-', '')
  const expected = (BigInt(`0x${hex.slice(0, 16)}`) ^ BigInt(`0x${hex.slice(16)}`)).toString()
  const listed = await fetch(`${agent.url}/v1/event/list`)
  assert.equal(listed.headers.get('x-consul-index'), expected)
  await listed.arrayBuffer()

  const started = Date.now()
  const timedOut = await fetch(`${agent.url}/v1/event/list?index=${expected}&wait=300ms`)
  await timedOut.arrayBuffer()
  assert.ok(Date.now() - started >= 250, 'an unchanged index blocks until the wait ends')

  const blocked = fetch(`${agent.url}/v1/event/list?index=${expected}&wait=10s`)
  await fetch(`${agent.url}/v1/event/fire/two`, { method: 'PUT' })
  const woke = await within(blocked, 5_000, 'blocking event list')
  const names = ((await woke.json()) as Json[]).map((e) => e['Name'])
  assert.deepEqual(names, ['one', 'two'])

  const bad = async (path: string): Promise<[number, string]> => {
    const res = await fetch(`${agent.url}${path}`, { method: 'PUT' })
    return [res.status, (await res.text()).trim()]
  }
  assert.deepEqual(await bad('/v1/event/fire/'), [400, 'Missing name'])
  assert.deepEqual(await bad('/v1/event/fire/x?tag=a'), [
    500,
    'Cannot provide tag filter without service filter',
  ])
  const [status, text] = await bad('/v1/event/fire/x?service=(')
  assert.equal(status, 500)
  assert.match(text, /^Invalid service filter: error parsing regexp: missing closing \)/)
  const big = await fetch(`${agent.url}/v1/event/fire/big`, { method: 'PUT', body: 'x'.repeat(600) })
  assert.equal(big.status, 500)
  await big.arrayBuffer()
})
