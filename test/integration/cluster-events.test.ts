/**
 * User events across a real cluster: one server and two client agents, each a `vigil agent`
 * process. An event fired on any agent reaches every agent whose filters it matches, in one order
 * and with one Lamport time; `vigil event` works against a client; a blocking list on a client
 * wakes when an event fired elsewhere arrives.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { runVigil, startAgentProcess, type AgentProcess } from '../support/agent-process.js'
import { waitFor, within } from '../support/wait.js'

type Json = Record<string, unknown>

/** Delivery to a client takes one heartbeat (1–2 s at the default liveness timeout). */
const DELIVERY_MS = 5_000

async function list(agent: AgentProcess, query = ''): Promise<Json[]> {
  const res = await fetch(`${agent.url}/v1/event/list${query}`)
  assert.equal(res.status, 200, await res.clone().text())
  return (await res.json()) as Json[]
}

async function fire(agent: AgentProcess, name: string, query = '', body?: string): Promise<Json> {
  const res = await fetch(`${agent.url}/v1/event/fire/${name}${query}`, {
    method: 'PUT',
    ...(body === undefined ? {} : { body }),
  })
  const text = await res.text()
  assert.equal(res.status, 200, text)
  return JSON.parse(text) as Json
}

async function memberCount(agent: AgentProcess): Promise<number> {
  const res = await fetch(`${agent.url}/v1/agent/members`)
  return ((await res.json()) as Json[]).filter((m) => m['Status'] === 1).length
}

/** Waits until `agent` lists an event with `id`; returns the listed event. */
async function arrived(agent: AgentProcess, id: unknown, what: string): Promise<Json> {
  let found: Json | undefined
  await waitFor(
    async () => {
      found = (await list(agent)).find((e) => e['ID'] === id)
      return found !== undefined
    },
    { what, timeoutMs: DELIVERY_MS, intervalMs: 50 },
  )
  assert.ok(found)
  return found
}

async function register(agent: AgentProcess, service: Json): Promise<void> {
  const res = await fetch(`${agent.url}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify(service),
  })
  assert.equal(res.status, 200, await res.text())
}

test('cluster events: fired on any agent, delivered to every agent whose filters match, in one order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-events-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const server = await startAgentProcess({
    t,
    host: '127.0.0.21',
    dataDir: join(dir, 'ev1'),
    args: ['-node', 'ev1', '-server', '-bootstrap'],
  })
  const [a, b] = await Promise.all(
    ['ev2', 'ev3'].map((name, i) =>
      startAgentProcess({
        t,
        host: `127.0.0.${22 + i}`,
        dataDir: join(dir, name),
        args: ['-node', name, '-retry-join', '127.0.0.21'],
      }),
    ),
  )
  assert.ok(a !== undefined && b !== undefined)
  const agents = [server, a, b]
  for (const agent of agents) {
    await waitFor(async () => (await memberCount(agent)) === 3, {
      what: 'every agent lists three members',
      timeoutMs: 10_000,
      intervalMs: 50,
    })
  }
  await register(a, { Name: 'web', Tags: ['blue'], Port: 80 })
  await register(b, { Name: 'db', Tags: ['green'], Port: 5432 })

  // Fired on a client: every agent lists it, with the same ID, payload and Lamport time.
  const firedAt = Date.now()
  const fired = await fire(a, 'deploy', '', 'v1')
  assert.equal(fired['LTime'], 0)
  const copies = await Promise.all(
    agents.map(async (x) => {
      const copy = await arrived(x, fired['ID'], `deploy on ${x.url}`)
      t.diagnostic(`deploy listed on ${x.url} ${Date.now() - firedAt} ms after the fire`)
      return copy
    }),
  )
  for (const copy of copies) {
    assert.equal(copy['Name'], 'deploy')
    assert.equal(copy['Payload'], Buffer.from('v1').toString('base64'))
    assert.ok(Number(copy['LTime']) > 0)
    assert.equal(copy['LTime'], copies[0]?.['LTime'], 'one Lamport time on every agent')
  }

  // Filters apply on each agent: a node filter, a service filter, a service and tag filter.
  const toB = await fire(a, 'only-ev3', '?node=^ev3$')
  const web = await fire(server, 'web-blue', '?service=^web$&tag=^blue$')
  const green = await fire(b, 'web-green', '?service=^web$&tag=^green$')
  // A later unfiltered event: once an agent has it, it has had every earlier one it will get.
  const marker = await fire(b, 'marker')
  for (const x of agents) await arrived(x, marker['ID'], `marker on ${x.url}`)
  const names = async (x: AgentProcess): Promise<unknown[]> => (await list(x)).map((e) => e['Name'])
  assert.deepEqual(await names(server), ['deploy', 'marker'])
  assert.deepEqual(await names(a), ['deploy', 'web-blue', 'marker'])
  assert.deepEqual(await names(b), ['deploy', 'only-ev3', 'marker'])
  assert.ok(toB['ID'] !== web['ID'] && green['ID'] !== marker['ID'])

  // Events fired on different agents in a row: one order, increasing Lamport times, everywhere.
  const burst: unknown[] = []
  for (const [i, x] of [a, b, server, a, b].entries()) burst.push((await fire(x, `burst-${i}`))['ID'])
  for (const x of agents) {
    await arrived(x, burst[burst.length - 1], `the burst on ${x.url}`)
    const seen = (await list(x)).filter((e) => String(e['Name']).startsWith('burst-'))
    assert.deepEqual(
      seen.map((e) => e['ID']),
      burst,
      'in the order fired',
    )
    const times = seen.map((e) => Number(e['LTime']))
    assert.ok(
      times.every((v, i) => i === 0 || v > (times[i - 1] ?? 0)),
      `increasing Lamport times: ${times.join(',')}`,
    )
  }

  // A blocking list on a client wakes when an event fired on another agent arrives.
  const current = await fetch(`${b.url}/v1/event/list?name=wake`)
  const index = current.headers.get('X-Consul-Index')
  assert.equal(index, '1')
  const blocked = fetch(`${b.url}/v1/event/list?name=wake&index=1&wait=30s`)
  const wake = await fire(server, 'wake')
  const woke = await within(blocked, DELIVERY_MS, 'a blocking list on a client')
  assert.deepEqual(
    ((await woke.json()) as Json[]).map((e) => e['ID']),
    [wake['ID']],
  )

  // `vigil event` against a client agent.
  const cli = await runVigil(['event', '-http-addr', b.url, '-name', 'from-cli', '-node', '^ev2$', 'hello'])
  assert.equal(cli.code, 0, cli.stderr)
  const id = /^Event ID: (\S+)$/m.exec(cli.stdout)?.[1]
  assert.ok(id !== undefined, cli.stdout)
  const got = await arrived(a, id, 'the CLI event on ev2')
  assert.equal(got['Payload'], Buffer.from('hello').toString('base64'))
  assert.equal(got['NodeFilter'], '^ev2$')
})
