import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Agent } from '../../src/agent/agent.js'
import type { RunnerFactory } from '../../src/agent/checks/factory.js'
import { createRunner } from '../../src/agent/checks/factory.js'
import type { CheckSink } from '../../src/agent/local/local-state.js'
import { RULES, type LifecycleRules } from '../../src/agent/rules.js'
import { drainMicrotasks, FakeClock } from '../../src/lib/fake-clock.js'
import { startTestAgent } from '../support/agent-harness.js'
import { Gates } from '../support/gates.js'
import { checkRegistration, serviceRegistration } from '../support/records.js'

/**
 * The seed race (seed-race.md §4–§5), replayed step by step against the real Agent, CheckManager,
 * LocalState and AliasRunner, with a fake clock and gates at the lifecycle's yield points.
 */

const U = 'service:web'
const A = 'service:web-sidecar-proxy:2'
const R1_WRITE = `alias.beforeWrite:${A}`
const BEFORE_START = `registry.beforeStart:${A}`

const PRE_FIX: LifecycleRules = {
  stopAwaits: false,
  fencing: false,
  reconcile: false,
  unsubscribeByIdentity: false,
  cowSnapshots: true,
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
async function fixture(rules: LifecycleRules): Promise<Fixture> {
  const clock = new FakeClock()
  const gates = new Gates()
  const aliasSinks: CheckSink[] = []
  const factory: RunnerFactory = (ctx) => {
    if (ctx.definition.type === 'alias') aliasSinks.push(ctx.sink)
    return createRunner(ctx)
  }
  const agent = await startTestAgent({ clock, yieldPoint: gates.yieldPoint, rules, runnerFactory: factory })
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
async function scheduleS1(f: Fixture, rules: LifecycleRules): Promise<void> {
  const { agent, gates } = f
  // 1–2: re-registering web wakes R1, which reads `critical` and is held before writing it.
  gates.hold(R1_WRITE)
  await agent.registerService(webRegistration, { replaceExistingChecks: false })
  await gates.arrival(R1_WRITE)
  // 3: re-register the sidecar: A's record is replaced and R1 is asked to stop.
  gates.hold(BEFORE_START)
  const reRegistration = agent.registerService(sidecarRegistration, { replaceExistingChecks: false })
  await drainMicrotasks()
  if (rules.stopAwaits) {
    // The fixed rule makes the hold impossible: the registration waits for R1 to finish.
    assert.equal(gates.reached(BEFORE_START), false, 'R2 cannot start while R1 is still running')
  } else {
    await gates.arrival(BEFORE_START)
  }
  // 4: U turns passing.
  await agent.updateTtl(U, 'passing', 'ok')
  await drainMicrotasks()
  if (rules.stopAwaits) {
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
  const f = await fixture(RULES)
  await scheduleS1(f, RULES)
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
  const rules: LifecycleRules = { ...RULES, stopAwaits: false, fencing: false }
  const f = await fixture(rules)
  await scheduleS1(f, rules)
  assert.equal(f.status(A), 'critical')
  await f.agent.shutdown()
})

test('rule 3 (generation fencing) is load-bearing: a write that escaped its stop is rejected', async () => {
  // A runner that escapes stop (a probe ignoring cancellation) writes through its old sink. With
  // fencing the write is rejected as stale; without it, it lands and A reads `critical` while U is
  // `passing` — the second assertion below would then fail.
  for (const fencing of [true, false]) {
    const rules: LifecycleRules = { ...RULES, fencing }
    const f = await fixture(rules)
    await scheduleS1(f, rules)
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
    const rules: LifecycleRules = { ...RULES, stopAwaits: false, reconcile: false, unsubscribeByIdentity }
    const f = await fixture(rules)
    await scheduleS1(f, rules)
    assert.equal(f.status(A), 'passing', 'fencing dropped R1’s stale write')
    await f.agent.updateTtl(U, 'critical', 'down')
    await drainMicrotasks()
    assert.equal(f.status(A), unsubscribeByIdentity ? 'critical' : 'passing')
    await f.agent.shutdown()
  }
})

test('rule 2 (reconcile) is load-bearing: a dropped notification heals within one interval', async () => {
  // S4: U changes while the notification is lost. Purely edge-triggered, A would never move
  // (the `reconcile: false` case below); with the reconcile timer it is right after ≤ 60 s.
  for (const reconcile of [true, false]) {
    let dropping = false
    const clock = new FakeClock()
    const agent = await startTestAgent({
      clock,
      rules: { ...RULES, reconcile },
      dropNotification: () => dropping,
    })
    await agent.registerService(webRegistration, { replaceExistingChecks: false })
    await agent.registerService(sidecarRegistration, { replaceExistingChecks: false })
    await agent.updateTtl(U, 'passing', '')
    await clock.advance(0)
    assert.equal(agent.state.check(A)?.check.status, 'passing')
    dropping = true
    await agent.updateTtl(U, 'critical', 'lost edge')
    dropping = false
    await clock.advance(59_999)
    assert.equal(agent.state.check(A)?.check.status, 'passing', 'the edge was lost')
    await clock.advance(1)
    assert.equal(agent.state.check(A)?.check.status, reconcile ? 'critical' : 'passing')
    await agent.shutdown()
    assert.equal(clock.pendingTimers(), 0)
  }
})

test('rule 1 (immutable snapshots) is load-bearing: a held snapshot never changes (S3)', async () => {
  // S3: a reader holds a snapshot while a writer updates the check. Editing records in place,
  // the reader would see status and output change under it (the first assertion fails).
  for (const cowSnapshots of [true, false]) {
    const agent = await startTestAgent({ clock: new FakeClock(), rules: { ...RULES, cowSnapshots } })
    await agent.registerService(webRegistration, { replaceExistingChecks: false })
    await agent.updateTtl(U, 'critical', 'connection refused')
    const snapshot = agent.state.check(U)!.check
    await agent.updateTtl(U, 'passing', 'HTTP GET /: 200 OK Output: ok')
    if (cowSnapshots) {
      assert.deepEqual([snapshot.status, snapshot.output], ['critical', 'connection refused'])
      assert.ok(Object.isFrozen(snapshot))
    } else {
      assert.deepEqual([snapshot.status, snapshot.output], ['passing', 'HTTP GET /: 200 OK Output: ok'])
    }
    await agent.shutdown()
  }
})
