import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Agent } from '../../src/agent/agent.js'
import { FakeClock } from '../support/fake-clock.js'
import type { Status } from '../../src/structs/check.js'
import { normalizeCheckDefinition, normalizeServiceDefinition } from '../../src/structs/normalize.js'
import { startTestAgent } from '../support/agent-harness.js'
import { MemoryFs } from '../support/memory-fs.js'

/**
 * Power loss at random moments (MemoryFs drops everything not fsynced, see its class comment)
 * while registrations, TTL updates and deregistrations of several services and checks run
 * concurrently. After each restart on what survived: every acknowledged registration and
 * deregistration holds (or the one in flight on that key took effect), and a check shows either
 * critical (TTL state is written without fsync, agent-state.md §12) or a status reported for its
 * current registration — never one from before a deregistration.
 */

const DATA_DIR = '/data'
const SERVICES = ['svc-0', 'svc-1', 'svc-2']
const CHECKS = ['chk-0', 'chk-1']
const KEYS = [...SERVICES, ...CHECKS]

type Op = 'register' | 'deregister' | 'passing' | 'warning' | 'critical'
const OPS: readonly Op[] = ['register', 'deregister', 'passing', 'warning', 'critical', 'passing']

interface Known {
  readonly registered: boolean
  /** Statuses this registration's check may show after a restart besides critical. */
  readonly statuses: ReadonlySet<Status>
}

interface Track {
  acked: Known
  inFlight: Known | null
}

const ABSENT: Known = { registered: false, statuses: new Set() }

function boot(fs: MemoryFs, clock: FakeClock): Promise<Agent> {
  return startTestAgent({ clock, fs: fs.mount(), settings: { dev: false, dataDir: DATA_DIR } })
}

function checkIdOf(key: string): string {
  return SERVICES.includes(key) ? `service:${key}` : key
}

function call(agent: Agent, key: string, op: Op): Promise<void> {
  const ctx = agent.normalizeContext('api')
  const isService = SERVICES.includes(key)
  switch (op) {
    case 'register':
      return isService
        ? agent.registerService(
            normalizeServiceDefinition({ Name: key, Port: 80, Check: { TTL: '1h' } }, ctx),
            { replaceExistingChecks: false },
          )
        : agent.registerCheck(normalizeCheckDefinition({ Name: key, TTL: '1h' }, ctx))
    case 'deregister':
      return isService ? agent.deregisterService(key) : agent.deregisterCheck(key)
    default:
      return agent.updateTtl(checkIdOf(key), op, op)
  }
}

function next(current: Known, op: Op): Known {
  if (op === 'deregister') return ABSENT
  if (op === 'register') return current.registered ? current : { registered: true, statuses: new Set() }
  return { registered: true, statuses: new Set([...current.statuses, op]) }
}

/** Runs `plan` on one key, one operation at a time, until the power goes. */
async function client(
  agent: Agent,
  fs: MemoryFs,
  lossesBefore: number,
  key: string,
  plan: readonly Op[],
  track: Track,
): Promise<void> {
  for (const wanted of plan) {
    const op: Op = !track.acked.registered ? 'register' : wanted
    const target = next(track.acked, op)
    track.inFlight = target
    try {
      await call(agent, key, op)
    } catch (err) {
      if (fs.powerLosses > lossesBefore) return // its outcome is unknown
      throw err
    }
    track.acked = target
    track.inFlight = null
  }
}

function verify(agent: Agent, tracks: Map<string, Track>, where: string): void {
  for (const key of KEYS) {
    const track = tracks.get(key)!
    const present = SERVICES.includes(key)
      ? agent.state.service(key) !== undefined
      : agent.state.check(key) !== undefined
    const check = agent.state.check(checkIdOf(key))
    const status = check?.check.status
    const options = track.inFlight === null ? [track.acked] : [track.acked, track.inFlight]
    const match = options.find(
      (k) =>
        k.registered === present &&
        (!present || (status !== undefined && (status === 'critical' || k.statuses.has(status)))),
    )
    assert.ok(
      match !== undefined,
      `${where}: ${key} is ${present ? `registered (check ${status ?? 'missing'})` : 'absent'}, allowed ${JSON.stringify(options.map((o) => ({ registered: o.registered, statuses: [...o.statuses] })))}`,
    )
    track.acked = match
    track.inFlight = null
  }
  const expectedChecks = new Set(KEYS.filter((k) => tracks.get(k)!.acked.registered).map(checkIdOf))
  assert.deepEqual(
    new Set(agent.state.checks().map((e) => e.check.checkId)),
    expectedChecks,
    `${where}: no other checks`,
  )
}

test('power loss at any moment loses no acknowledged registration and resurrects no deregistration', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          plans: fc.array(fc.array(fc.constantFrom(...OPS), { maxLength: 8 }), {
            minLength: KEYS.length,
            maxLength: KEYS.length,
          }),
          lossAfter: fc.integer({ min: 1, max: 400 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      fc.integer(),
      async (rounds, seed) => {
        // Concurrent file operations complete in a seed-chosen order.
        const fs = new MemoryFs({ ticks: xorshift(seed, 4) })
        const clock = new FakeClock()
        const tracks = new Map<string, Track>(KEYS.map((k) => [k, { acked: ABSENT, inFlight: null }]))
        let agent = await boot(fs, clock)
        try {
          for (const [r, round] of rounds.entries()) {
            const losses = fs.powerLosses
            fs.powerLossAfter(round.lossAfter)
            await Promise.all(
              KEYS.map((key, i) => client(agent, fs, losses, key, round.plans[i] ?? [], tracks.get(key)!)),
            )
            if (fs.powerLosses === losses) fs.powerLoss()
            await agent.shutdown()
            agent = await boot(fs, clock)
            verify(agent, tracks, `round ${r}`)
          }
        } finally {
          await agent.shutdown()
        }
      },
    ),
    { numRuns: Number(process.env['VIGIL_POWER_LOSS_RUNS'] ?? 300), includeErrorInReport: true },
  )
})

/** A seeded source of integers in [0, n). */
function xorshift(seed: number, n: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
}
