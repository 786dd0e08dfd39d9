/**
 * `?filter=… matches …` with pathological regular expressions against a real `vigil agent`
 * process over HTTP: each request answers at once, and meanwhile the agent keeps serving other
 * requests and keeps running its checks. (With JavaScript's backtracking RegExp, `(a+)+$` against
 * a 28-character service name held the event loop for 9.3 s.)
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { MAX_PATTERN_LENGTH } from '../../src/filter/index.js'
import { startAgentProcess } from '../support/agent-process.js'
import { eventually } from '../support/runner-context.js'

/** A filter request, or a ping, must answer within this (the old engine took 9.3 s and more). */
const ANSWER_MS = 2_000

/** The longest the agent may go without serving a ping while pathological filters run. */
const PING_MS = 1_000

/** How long pathological filters are sent back to back: several check intervals. */
const BARRAGE_MS = 4_000

const pathological: readonly string[] = [
  'Service matches "(a+)+$"',
  'Service matches "(a|aa)*b"',
  'Service matches "^(a|a?)+$"',
  'Service matches "(?:(?:a+)+)+c"',
  'Service matches "^(a*)*$" and ID matches "(x+x+)+y"',
  'not Service matches "(.*a){5}!"',
  'Service matches "(?i)(A+)+$" or ID matches "(\\\\w+\\\\s?)+$"',
]

async function get(url: string): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now()
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  const body = await res.text()
  return { status: res.status, body, ms: performance.now() - started }
}

async function put(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'PUT', body: JSON.stringify(body) })
  assert.equal(res.status, 200, await res.text())
}

function filterUrl(base: string, filter: string): string {
  return `${base}/v1/agent/services?filter=${encodeURIComponent(filter)}`
}

/** An HTTP endpoint for the agent's check; records when each probe arrived. */
async function startHealthServer(t: TestContext): Promise<{ url: string; hits: number[] }> {
  const hits: number[] = []
  const server = http.createServer((_req, res) => {
    hits.push(performance.now())
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, hits }
}

test('pathological filter regexps answer at once while the agent keeps serving and checking', async (t) => {
  const agent = await startAgentProcess({ t })
  const health = await startHealthServer(t)
  const services = [
    { ID: 'short', Name: 'a'.repeat(27) + '!' },
    { ID: 'long', Name: 'a'.repeat(100_000) + '!' },
    { ID: 'plain', Name: 'aaa' },
  ]
  for (const s of services) await put(`${agent.url}/v1/agent/service/register`, s)
  await put(`${agent.url}/v1/agent/check/register`, {
    ID: 'probe',
    Name: 'probe',
    HTTP: health.url,
    Interval: '1s',
  })
  await eventually(() => health.hits.length >= 2, 5_000, 'the HTTP check to run twice')

  // The filters are correct, not only fast.
  const first = await get(filterUrl(agent.url, 'Service matches "(a+)+$"'))
  assert.equal(first.status, 200, first.body)
  assert.deepEqual(Object.keys(JSON.parse(first.body) as object), ['plain'])

  const pings: number[] = []
  const answers: { filter: string; status: number; ms: number }[] = []
  const until = performance.now() + BARRAGE_MS
  const barrageStart = performance.now()
  const hitsBefore = health.hits.length
  const sender = async (offset: number): Promise<void> => {
    for (let i = offset; performance.now() < until; i++) {
      const filter = pathological[i % pathological.length] ?? ''
      const res = await get(filterUrl(agent.url, filter))
      answers.push({ filter, status: res.status, ms: res.ms })
    }
  }
  const pinger = async (): Promise<void> => {
    while (performance.now() < until) {
      pings.push((await get(`${agent.url}/v1/agent/self`)).ms)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  await Promise.all([sender(0), sender(3), sender(5), pinger()])
  const barrageEnd = performance.now()

  assert.ok(answers.length >= pathological.length, `${answers.length} answers`)
  for (const a of answers) {
    assert.equal(a.status, 200, a.filter)
    assert.ok(a.ms < ANSWER_MS, `${a.filter} took ${a.ms.toFixed(0)} ms`)
  }
  assert.ok(pings.length > 10, `${pings.length} pings`)
  const slowest = Math.max(...pings)
  assert.ok(slowest < PING_MS, `a ping took ${slowest.toFixed(0)} ms`)

  // The 1 s check kept its rhythm through the barrage.
  const during = health.hits.filter((h) => h >= barrageStart && h <= barrageEnd)
  assert.ok(health.hits.length - hitsBefore >= 3, `${health.hits.length - hitsBefore} probes`)
  const times = [barrageStart, ...during, barrageEnd]
  const gaps = times.slice(1).map((h, i) => h - (times[i] ?? h))
  assert.ok(Math.max(...gaps) < 2_000, `check gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`)
  const checks = JSON.parse((await get(`${agent.url}/v1/agent/checks`)).body) as Record<
    string,
    { Status: string }
  >
  assert.equal(checks['probe']?.Status, 'passing')
  t.diagnostic(
    `${answers.length} filter requests, slowest ${Math.max(...answers.map((a) => a.ms)).toFixed(0)} ms; ` +
      `${pings.length} pings, slowest ${slowest.toFixed(0)} ms; check gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`,
  )
})

test('filters over the limits are refused at once with a clear error; the costliest accepted one answers promptly', async (t) => {
  const agent = await startAgentProcess({ t })
  await put(`${agent.url}/v1/agent/service/register`, { ID: 'long', Name: 'a'.repeat(100_000) })

  const refused = async (filter: string, status: number, text: RegExp): Promise<void> => {
    const res = await get(filterUrl(agent.url, filter))
    assert.equal(res.status, status, `${filter.slice(0, 60)}: ${res.body.slice(0, 200)}`)
    assert.match(res.body, text)
    assert.ok(res.ms < ANSWER_MS, `${filter.slice(0, 60)} took ${res.ms.toFixed(0)} ms`)
  }
  // 1,003 instructions over 100,001 positions: seconds of NFA work, refused before it starts.
  await refused(
    'Service matches "\\\\pL{1000}\\\\pN"',
    500,
    /^Failed to evaluate filter: its regular expressions need more than 4194304 steps/,
  )
  await refused(
    `Service matches "${'a{1000}'.repeat(8)}"`,
    500,
    /^Failed to create boolean expression evaluator: Failed to compile regular expression "(a\{1000\})+": error parsing regexp: expression too large: more than 5000 instructions$/,
  )
  await refused(
    `Service matches "${'a'.repeat(MAX_PATTERN_LENGTH + 1)}"`,
    500,
    /^Failed to create boolean expression evaluator: Failed to compile regular expression: pattern is 4097 characters long, the limit is 4096$/,
  )
  // Just within the budget: the most regexp work one request may do still answers promptly.
  const worstId = 'a'.repeat(4_000)
  await put(`${agent.url}/v1/agent/service/register`, { ID: worstId, Name: 'worst' })
  const worst = await get(filterUrl(agent.url, 'ID matches "\\\\pL{1000}\\\\pN"'))
  assert.equal(worst.status, 200, worst.body)
  assert.deepEqual(JSON.parse(worst.body), {})
  assert.ok(worst.ms < ANSWER_MS, `the costliest accepted filter took ${worst.ms.toFixed(0)} ms`)
  t.diagnostic(`the costliest accepted filter took ${worst.ms.toFixed(0)} ms`)
  // A 64 KiB pattern does not fit Node's 16 KiB request head: refused before vigil reads it.
  await refused(`Service matches "${'(a+)+'.repeat(13_108)}$"`, 431, /Request Header Fields Too Large/)
  const ping = await get(`${agent.url}/v1/agent/self`)
  assert.equal(ping.status, 200)
})
