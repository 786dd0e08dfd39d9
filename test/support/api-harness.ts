import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { Agent, type AgentSettings } from '../../src/agent/agent.js'
import { buildHttpApi } from '../../src/api/server.js'
import type { HttpApiSettings } from '../../src/api/settings.js'
import { sleepOn, systemClock, type Clock } from '../../src/lib/clock.js'
import { silentLogger, testSettings } from './agent-harness.js'
import { settleEventLoop, track, waitFor } from './wait.js'

/** HTTP API settings as `loadConfig` would produce them for a plain (non-dev) agent. */
export function apiSettings(overrides: Partial<HttpApiSettings> = {}): HttpApiSettings {
  return {
    primaryDatacenter: 'dc1',
    addresses: { http: ['127.0.0.1'] },
    ports: { http: 0, serfWan: 8302 },
    prettyJson: false,
    uiEnabled: false,
    uiContentPath: '/ui/',
    disableHttpUnprintableCharFilter: false,
    disableKvKeyValidation: false,
    httpConfig: { responseHeaders: {}, blockEndpoints: [], allowWriteHttpFrom: [] },
    aclDefaultPolicy: 'allow',
    telemetry: { prometheusRetentionTimeMs: 60_000, metricsPrefix: 'consul' },
    ...overrides,
  }
}

/**
 * The system clock with ref'd timers: an in-process `inject()` has no socket keeping the event
 * loop alive while a blocking query waits on a timer (systemClock unrefs its timers).
 */
export const refTimerClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms))
    return { cancel: () => clearTimeout(handle) }
  },
  sleep: (ms, signal) => sleepOn(refTimerClock, ms, signal),
}

export interface ApiHarness {
  readonly agent: Agent
  readonly app: FastifyInstance
  inject(opts: InjectOptions | string): Promise<LightMyRequestResponse>
  /** A JSON GET that must answer 200. */
  getJson<T = unknown>(url: string): Promise<T>
  /** Services and checks as the API lists them, for before/after comparisons. */
  snapshot(): Promise<string>
}

/** A real agent (system clock, in memory) behind an in-process API; both closed after the test. */
export async function startApiHarness(
  t: TestContext,
  opts: { agent?: Partial<AgentSettings>; api?: Partial<HttpApiSettings> } = {},
): Promise<ApiHarness> {
  const agent = await Agent.start({
    config: testSettings({ dev: false, ...opts.agent }),
    logger: silentLogger,
    clock: systemClock,
  })
  const app = buildHttpApi({
    agent,
    config: apiSettings(opts.api),
    logger: silentLogger,
    clock: refTimerClock,
  })
  await app.ready()
  t.after(async () => {
    await app.close()
    await agent.shutdown()
  })
  const inject = (o: InjectOptions | string): Promise<LightMyRequestResponse> => app.inject(o)
  const getJson = async <T>(url: string): Promise<T> => {
    const res = await inject(url)
    if (res.statusCode !== 200) throw new Error(`GET ${url} → ${res.statusCode} ${res.body}`)
    return res.json<T>()
  }
  return {
    agent,
    app,
    inject,
    getJson,
    snapshot: async () =>
      JSON.stringify([await getJson('/v1/agent/services'), await getJson('/v1/agent/checks')]),
  }
}

/** A PUT with a raw text body. */
export function put(url: string, body?: string | object): InjectOptions {
  if (body === undefined) return { method: 'PUT', url }
  return { method: 'PUT', url, payload: typeof body === 'string' ? body : JSON.stringify(body) }
}

/**
 * Sends a request that must block (a blocking query holding the current hash) and resolves once
 * it waits on `agent`: subscribed to its changes, and still unanswered a few event-loop turns
 * later. Fails if it answers first. Await `response` after the change that should wake it.
 */
export async function startBlocked<T>(
  agent: Agent,
  send: () => Promise<T>,
): Promise<{ response: Promise<T> }> {
  const before = agent.state.subscriberCount()
  const request = track(send())
  await waitFor(() => request.settled() || agent.state.subscriberCount() > before, {
    what: 'the blocking query to wait',
  })
  await settleEventLoop()
  assert.equal(request.settled(), false, 'the blocking query answered before any change')
  return { response: request.promise }
}
