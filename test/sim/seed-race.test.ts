import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Agent } from '../../src/agent/agent.js'
import type { RunnerFactory } from '../../src/agent/checks/factory.js'
import { createRunner } from '../../src/agent/checks/factory.js'
import type { CheckSink } from '../../src/agent/checks/ports.js'
import { startTestAgent } from '../support/agent-harness.js'
import { drainMicrotasks, FakeClock } from '../support/fake-clock.js'
import { Gates } from '../support/gates.js'
import { droppingNotifications, NO_RECONCILE_MS, preFix, type PreFixRules } from '../support/pre-fix.js'
import { checkRegistration, serviceRegistration } from '../support/records.js'

/**
 * The seed race (seed-race.md §4–§5), replayed step by step against the real Agent, CheckManager,
 * LocalState and AliasRunner, with a fake clock and gates at the lifecycle's yield points.
 * A rule is taken away by wrapping the ports the real code is given (test/support/pre-fix.ts),
 * never by a switch in src/.
 */

const U = 'service:web'
const A = 'service:web-sidecar-proxy:2'
const R1_WRITE = `alias.beforeWrite:${A}`
const BEFORE_START = `registry.beforeStart:${A}`

/** What a run takes away: Consul 1.5.0 behaviours, and the reconcile timer (by its setting). */
interface Variant extends PreFixRules {
  readonly noReconcile?: boolean
}

const VIGIL: Variant = {}
const PRE_FIX: Variant = {
  stopReturnsAtOnce: true,
  unfencedWrites: true,
  keyedSubscriptions: true,
  noReconcile: true,
}

const webRegistration = serviceRegistration('web', [
  checkRegistration({ id: U, serviceId: 'web', definition: { type: 'ttl', ttlMs: 3_600_000, tcp: '' } }),
])
const sidecarRegistration = serviceRegistration('web-sidecar-proxy', [
  checkRegistration({
    id: A,
    serviceId: 'web-sidecar-proxy',
    definition: { type: 'alias', aliasService: 'web', intervalMs: 0, tcp: '' },
  }),
])

interface Fixture {
  readonly agent: Agent
  readonly clock: FakeClock
  readonly gates: Gates
  /** The sinks of every alias runner created, in order (R1, R2, …). */
  readonly aliasSinks: CheckSink[]
  status(id: string): string | undefined
}

/** Step 0: U critical, A critical, R1 subscribed (seed-race.md §5, Fixture). */
async function fixture(variant: Variant): Promise<Fixture> {
  const clock = new FakeClock()
  const gates = new Gates()
  const aliasSinks: CheckSink[] = []
  const { runnerFactory, checkState } = preFix(variant, createRunner)
  const factory: RunnerFactory = (ctx) => {
    if (ctx.definition.type === 'alias') aliasSinks.push(ctx.sink)
    return runnerFactory(ctx)
  }
  const agent = await startTestAgent({
    clock,
    yieldPoint: gates.yieldPoint,
    runnerFactory: factory,
    checkState,
    settings: variant.noReconcile === true ? { aliasReconcileIntervalMs: NO_RECONCILE_MS } : {},
  })
  await agent.registerService(webRegistration, { replaceExistingChecks: false })
  await agent.registerService(sidecarRegistration, { replaceExistingChecks: false })
  await agent.updateTtl(U, 'passing', '')
  await drainMicrotasks()
  await agent.updateTtl(U, 'critical', 'down')
  await drainMicrotasks()
  const status = (id: string): string | undefined => agent.state.check(id)?.check.status
  assert.equal(status(U), 'critical')
  assert.equal(status(A), 'critical')
  return { agent, clock, gates, aliasSinks, status }
}

/**
 * Schedule S1. Returns after step 9 (drain, then 10 minutes of fake time).
 * `beforeStep8` runs between R1's release and the final drain.
 */
async function scheduleS1(f: Fixture, variant: Variant): Promise<void> {
  const awaitedStop = variant.stopReturnsAtOnce !== true
  const { agent, gates } = f
  // 1–2: re-registering web wakes R1, which reads `critical` and is held before writing it.
  gates.hold(R1_WRITE)
  await agent.registerService(webRegistration, { replaceExistingChecks: false })
  await gates.arrival(R1_WRITE)
  // 3: re-register the sidecar: A's record is replaced and R1 is asked to stop.
  gates.hold(BEFORE_START)
  const reRegistration = agent.registerService(sidecarRegistration, { replaceExistingChecks: false })
  await drainMicrotasks()
  if (awaitedStop) {
    // The fixed rule makes the hold impossible: the registration waits for R1 to finish.
    assert.equal(gates.reached(BEFORE_START), false, 'R2 cannot start while R1 is still running')
  } else {
    await gates.arrival(BEFORE_START)
  }
  // 4: U turns passing.
  await agent.updateTtl(U, 'passing', 'ok')
  await drainMicrotasks()
  if (awaitedStop) {
    // Releasing R1 lets it leave (it was asked to stop, so it writes nothing); then R2 starts.
    gates.release(R1_WRITE)
    await drainMicrotasks()
    gates.release(BEFORE_START)
  } else {
    // 5–6: R2 starts, takes the slot, reads `passing`, writes it.
    gates.release(BEFORE_START)
    await drainMicrotasks()
    assert.equal(f.status(A), 'passing')
    // 7–8: R1 writes the stale `critical`, sees its stop, and leaves.
    gates.release(R1_WRITE)
  }
  await reRegistration
  // 9: drain everything; advance the clock by 10 minutes.
  await drainMicrotasks()
}

test('seed race: with every rule on, the alias ends equal to its target with no clock advance', async () => {
  const f = await fixture(VIGIL)
  await scheduleS1(f, VIGIL)
  assert.equal(f.status(U), 'passing')
  assert.equal(f.status(A), 'passing', 'A = passing after draining, without waiting for the reconcile')
  // And it keeps following U: R2's subscription is intact.
  await f.agent.updateTtl(U, 'critical', 'down again')
  await drainMicrotasks()
  assert.equal(f.status(A), 'critical')
  await f.agent.shutdown()
  assert.equal(f.agent.state.subscriberCount(), 0, 'every runner removed its own subscription')
})

test('seed race: in pre-fix mode (Consul 1.5.0 rules) the alias stays critical for good', async () => {
  const f = await fixture(PRE_FIX)
  await scheduleS1(f, PRE_FIX)
  await f.clock.advance(10 * 60_000)
  assert.equal(f.status(U), 'passing')
  assert.equal(f.status(A), 'critical', 'the bug this project exists to prevent, reproduced on the real code')
  await f.agent.updateTtl(U, 'critical', 'flip')
  await f.agent.updateTtl(U, 'passing', 'flop')
  await drainMicrotasks()
  assert.equal(f.status(A), 'critical', 'R1 deleted R2’s slot: even a later flip never reaches R2')
  await f.agent.shutdown()
})

test('rule 3 (awaited stop) is load-bearing: without it and fencing, S1 leaves A critical', async () => {
  // Without the awaited stop, R2 starts while R1 is still between "computed" and "written"; R1 then
  // writes its stale `critical` over R2's `passing` and nothing wakes anyone again: this test's
  // final assertion would read `critical`.
  const variant: Variant = { stopReturnsAtOnce: true, unfencedWrites: true }
  const f = await fixture(variant)
  await scheduleS1(f, variant)
  assert.equal(f.status(U), 'passing')
  assert.equal(f.status(A), 'critical')
  await f.agent.shutdown()
})

test('rule 3 (generation fencing) is load-bearing: a write that escaped its stop is rejected', async () => {
  // A runner that escapes stop (a probe ignoring cancellation) writes through its old sink. With
  // fencing the write is rejected as stale; without it, it lands and A reads `critical` while U is
  // `passing` — the second assertion below would then fail.
  for (const fencing of [true, false]) {
    const variant: Variant = { unfencedWrites: !fencing }
    const f = await fixture(variant)
    await scheduleS1(f, variant)
    const r1 = f.aliasSinks[0]!
    const result = r1.report('critical', 'stale view from before the re-registration')
    if (fencing) {
      assert.equal(result, 'stale')
      assert.equal(f.status(A), 'passing')
      assert.ok(f.agent.state.stats.rejectedStaleWrites >= 1)
    } else {
      assert.equal(result, 'applied')
      assert.equal(f.status(A), 'critical', 'without fencing the escaped write lands')
    }
    await f.agent.shutdown()
  }
})

test('unsubscribing by identity is load-bearing: by key, R1 erases R2’s subscription', async () => {
  // With a keyed slot, R1's exit deletes whatever subscription holds the slot — R2's. A later flip
  // of U then reaches nobody and A stays `passing` while U is `critical` (until a reconcile).
  for (const unsubscribeByIdentity of [true, false]) {
    const variant: Variant = {
      stopReturnsAtOnce: true,
      noReconcile: true,
      keyedSubscriptions: !unsubscribeByIdentity,
    }
    const f = await fixture(variant)
    await scheduleS1(f, variant)
    assert.equal(f.status(A), 'passing', 'fencing dropped R1’s stale write')
    await f.agent.updateTtl(U, 'critical', 'down')
    await drainMicrotasks()
    assert.equal(f.status(A), unsubscribeByIdentity ? 'critical' : 'passing')
    await f.agent.shutdown()
  }
})

test('rule 2 (reconcile) is load-bearing: a dropped notification heals after exactly one interval', async () => {
  // S4: U changes while the notification is lost. Purely edge-triggered (no reconcile within the
  // test's horizon), A would never move; with the reconcile timer it is right exactly one
  // `alias_reconcile_interval` later (an interval other than the 60 s default, to show it is the
  // setting that decides).
  const intervalMs = 45_000
  for (const reconcile of [true, false]) {
    let dropping = false
    const clock = new FakeClock()
    const agent = await startTestAgent({
      clock,
      settings: { aliasReconcileIntervalMs: reconcile ? intervalMs : NO_RECONCILE_MS },
      checkState: (state) => droppingNotifications(state, () => dropping),
    })
    await agent.registerService(webRegistration, { replaceExistingChecks: false })
    await agent.registerService(sidecarRegistration, { replaceExistingChecks: false })
    await agent.updateTtl(U, 'passing', '')
    await clock.advance(0)
    assert.equal(agent.state.check(A)?.check.status, 'passing')
    // The alias last evaluated when U turned passing (just now): its next reconcile is one
    // interval from here.
    dropping = true
    await agent.updateTtl(U, 'critical', 'lost edge')
    dropping = false
    await clock.advance(intervalMs - 1)
    assert.equal(agent.state.check(A)?.check.status, 'passing', 'the edge was lost')
    await clock.advance(1)
    assert.equal(agent.state.check(A)?.check.status, reconcile ? 'critical' : 'passing')
    await agent.shutdown()
    assert.equal(clock.pendingTimers(), 0)
  }
})

test('rule 1 (immutable snapshots): what a reader holds never changes after later updates (S3)', async () => {
  // S3: a reader holds a snapshot while a writer updates the check. LocalState's records are
  // frozen, so the in-place variant of Consul 1.5.0 cannot be built around it by a port wrapper;
  // instead this shows every snapshot handed out is frozen and keeps its content.
  const agent = await startTestAgent({ clock: new FakeClock() })
  await agent.registerService(webRegistration, { replaceExistingChecks: false })
  await agent.registerService(sidecarRegistration, { replaceExistingChecks: false })
  await agent.updateTtl(U, 'critical', 'connection refused')
  await drainMicrotasks()
  const entry = agent.state.check(U)!
  const snapshot = entry.check
  const list = agent.state.checks()
  const ofService = agent.state.checksOfService('web')
  const statusChangedMs = entry.statusChangedMs
  for (const held of [entry, snapshot, list, ofService]) assert.ok(Object.isFrozen(held))
  assert.throws(() => {
    ;(snapshot as { status: string }).status = 'passing'
  }, TypeError)
  await agent.updateTtl(U, 'passing', 'HTTP GET /: 200 OK Output: ok')
  await agent.registerService(webRegistration, { replaceExistingChecks: false })
  await drainMicrotasks()
  assert.deepEqual([snapshot.status, snapshot.output], ['critical', 'connection refused'])
  assert.equal(entry.check, snapshot)
  assert.equal(entry.statusChangedMs, statusChangedMs)
  assert.deepEqual(
    list.map((e) => e.check.status),
    ['critical', 'critical'],
    'a listed snapshot keeps the statuses it was taken with',
  )
  assert.equal(ofService[0]?.check.status, 'critical')
  assert.notEqual(agent.state.check(U), entry, 'the write installed a new entry')
  assert.equal(agent.state.check(U)?.check.status, 'passing')
  await agent.shutdown()
})
