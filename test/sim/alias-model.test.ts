import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Agent } from '../../src/agent/agent.js'
import { createRunner, type RunnerFactory } from '../../src/agent/checks/factory.js'
import type { CheckEntry } from '../../src/agent/local/local-state.js'
import { FakeClock } from '../support/fake-clock.js'
import type { Status } from '../../src/structs/check.js'
import { startTestAgent } from '../support/agent-harness.js'
import { MemoryFs } from '../support/memory-fs.js'
import { droppingNotifications } from '../support/pre-fix.js'
import { normalizeServiceDefinition } from '../../src/structs/normalize.js'
import { checkRegistration, serviceRegistration } from '../support/records.js'

/**
 * Model-based property test (seed-race.md S7): random sequences of registrations,
 * re-registrations, deregistrations, status changes, maintenance, sidecars and agent restarts,
 * run concurrently under fast-check's scheduler, with a fault injector that drops notifications
 * (a wrapper of the check-state port the runners subscribe through).
 * At every quiescent point each alias equals an independent oracle of its target's aggregate.
 *
 * Runs: VIGIL_SIM_RUNS (default 2000; `npm run soak` sets 100000). On failure fast-check prints
 * the seed and the shrunk counterexample; replay with VIGIL_SIM_SEED and VIGIL_SIM_PATH.
 */

const RECONCILE_MS = 60_000
const TARGETS = ['web', 'db'] as const
type Target = (typeof TARGETS)[number]

type Op =
  | { op: 'registerTarget'; target: Target; checks: readonly number[]; replace: boolean }
  | { op: 'deregisterTarget'; target: Target }
  | { op: 'registerSidecar'; target: Target }
  | { op: 'registerWithSidecar'; target: Target; checks: readonly number[]; replace: boolean }
  | { op: 'deregisterSidecar'; target: Target }
  | { op: 'registerNodeAlias'; target: Target }
  | { op: 'deregisterNodeAlias' }
  | { op: 'setStatus'; target: Target; check: number; status: Status }
  | { op: 'nodeMaintenance'; enable: boolean }
  | { op: 'serviceMaintenance'; target: Target; enable: boolean }
  | { op: 'restart' }

const target = fc.constantFrom<Target>(...TARGETS)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('registerTarget' as const),
      target,
      checks: fc.subarray([1, 2], { minLength: 0 }),
      replace: fc.boolean(),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('deregisterTarget' as const), target }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('registerSidecar' as const), target }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('registerWithSidecar' as const),
      target,
      checks: fc.subarray([1, 2], { minLength: 0 }),
      replace: fc.boolean(),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('deregisterSidecar' as const), target }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('registerNodeAlias' as const), target }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('deregisterNodeAlias' as const) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('setStatus' as const),
      target,
      check: fc.constantFrom(1, 2),
      status: fc.constantFrom<Status>('passing', 'warning', 'critical'),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ op: fc.constant('nodeMaintenance' as const), enable: fc.boolean() }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('serviceMaintenance' as const), target, enable: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('restart' as const) }), weight: 1 },
)

const sidecarId = (t: Target): string => `${t}-sidecar-proxy`
const aliasId = (t: Target): string => `service:${sidecarId(t)}:2`
const targetCheckId = (t: Target, n: number): string => `service:${t}:${n}`

/** The oracle: checks.md §12.2, written independently of the implementation. */
function expectedAlias(
  checks: readonly CheckEntry[],
  self: string,
  targetId: string,
  targetExists: boolean,
): Status {
  let status: Status = 'passing'
  let found = false
  for (const { check } of checks) {
    if (check.checkId === self) continue
    if (check.serviceId !== targetId && check.serviceId !== '') continue
    if (check.serviceId === targetId) found = true
    if (check.status === 'critical') status = 'critical'
    else if (check.status === 'warning' && status === 'passing') status = 'warning'
  }
  if (!found && !targetExists) return 'critical'
  return status
}

/** Aliases aimed at a target whose checks include another alias would need cycle rules; the model avoids them. */
function assertAliasesConverged(agent: Agent, where: string): void {
  const checks = agent.state.checks()
  for (const entry of checks) {
    if (entry.definition.type !== 'alias') continue
    const t = entry.definition.aliasService
    const want = expectedAlias(checks, entry.check.checkId, t, agent.state.service(t) !== undefined)
    assert.equal(entry.check.status, want, `${where}: alias ${entry.check.checkId} of ${t}`)
  }
}

interface World {
  agent: Agent
  readonly clock: FakeClock
  readonly fs: MemoryFs
  readonly violations: string[]
  dropping: boolean
  dropped: number
}

async function startWorld(world: Omit<World, 'agent'> & { agent?: Agent }, s: fc.Scheduler): Promise<Agent> {
  const factory: RunnerFactory = (ctx) => {
    // The view of the agent creating this runner (during a restart's restore, world.agent is
    // still the old one).
    const local = ctx.local
    const generation = local?.check(ctx.checkId)?.generation
    const inner = ctx.sink
    const sink = {
      report: (status: Status, output: string) => {
        const result = inner.report(status, output)
        if (result === 'applied' && local?.check(ctx.checkId)?.generation !== generation) {
          world.violations.push(`a write of generation ${generation ?? '?'} landed on a newer ${ctx.checkId}`)
        }
        return result
      },
    }
    // The model runs no probes: a sidecar's TCP listening check keeps its registered status.
    if (ctx.definition.type === 'tcp') return null
    return createRunner({ ...ctx, sink })
  }
  return startTestAgent({
    clock: world.clock,
    fs: world.fs,
    settings: { dev: false, dataDir: '/data', aliasReconcileIntervalMs: RECONCILE_MS },
    yieldPoint: (label) => s.schedule(Promise.resolve(), label),
    runnerFactory: factory,
    checkState: (state) =>
      droppingNotifications(state, () => {
        if (!world.dropping) return false
        world.dropped++
        return true
      }),
  })
}

async function apply(world: World, s: fc.Scheduler, op: Op): Promise<void> {
  const a = world.agent
  switch (op.op) {
    case 'registerTarget':
      return a.registerService(
        serviceRegistration(
          op.target,
          op.checks.map((n) =>
            checkRegistration({
              id: targetCheckId(op.target, n),
              serviceId: op.target,
              definition: { type: 'ttl', ttlMs: 3_600_000, tcp: '' },
            }),
          ),
        ),
        { replaceExistingChecks: op.replace },
      )
    case 'registerWithSidecar':
      // The real Connect.SidecarService path: derived proxy, port, listening and aliasing checks.
      return a.registerService(
        normalizeServiceDefinition(
          {
            Name: op.target,
            Port: 8080,
            Checks: op.checks.map((n) => ({ CheckID: targetCheckId(op.target, n), TTL: '1h' })),
            Connect: { SidecarService: {} },
          },
          a.normalizeContext('api'),
        ),
        { replaceExistingChecks: op.replace },
      )
    case 'deregisterTarget':
      return a.deregisterService(op.target)
    case 'registerSidecar':
      return a.registerService(
        serviceRegistration(sidecarId(op.target), [
          checkRegistration({
            id: aliasId(op.target),
            serviceId: sidecarId(op.target),
            definition: { type: 'alias', aliasService: op.target, intervalMs: 0, tcp: '' },
          }),
        ]),
        { replaceExistingChecks: false },
      )
    case 'deregisterSidecar':
      return a.deregisterService(sidecarId(op.target))
    case 'registerNodeAlias':
      return a.registerCheck(
        checkRegistration({
          id: 'node-alias',
          definition: { type: 'alias', aliasService: op.target, intervalMs: 0, tcp: '' },
        }),
      )
    case 'deregisterNodeAlias':
      return a.deregisterCheck('node-alias')
    case 'setStatus':
      return a.updateTtl(targetCheckId(op.target, op.check), op.status, `${op.status} by the test`)
    case 'nodeMaintenance':
      return a.setNodeMaintenance(op.enable, '', '')
    case 'serviceMaintenance':
      return a.setServiceMaintenance(op.target, op.enable, '', '')
    case 'restart': {
      await a.shutdown()
      world.agent = await startWorld(world, s)
      return
    }
  }
}

async function scenario(
  s: fc.Scheduler,
  batches: readonly (readonly Op[])[],
  drops: readonly boolean[],
): Promise<void> {
  const world: World = {
    agent: undefined as unknown as Agent,
    clock: new FakeClock(),
    fs: new MemoryFs(),
    violations: [],
    dropping: false,
    dropped: 0,
  }
  world.agent = await s.waitFor(startWorld(world, s))
  for (const [i, batch] of batches.entries()) {
    world.dropping = drops[i] ?? false
    world.dropped = 0
    // A batch runs concurrently: restarts run alone (the agent object changes under them).
    const ops = batch.some((o) => o.op === 'restart')
      ? batch.filter((o) => o.op === 'restart').slice(0, 1)
      : batch
    const done = Promise.allSettled(
      ops.map((op, k) =>
        s.schedule(Promise.resolve(), `batch${i} op${k} ${op.op}`).then(() => apply(world, s, op)),
      ),
    )
    await s.waitFor(done)
    await s.waitIdle()
    world.dropping = false
    if (world.dropped > 0) {
      // A lost notification heals by the next reconcile, at most one interval later.
      await s.waitFor(world.clock.advance(RECONCILE_MS))
      await s.waitIdle()
    }
    assertAliasesConverged(world.agent, `after batch ${i} (${world.dropped} notifications dropped)`)
    const withRunner = world.agent.state
      .checks()
      .filter((e) => e.definition.type !== 'maintenance' && e.definition.type !== 'tcp').length
    assert.equal(world.agent.checks.size, withRunner, 'runners alive equal checks registered')
    assert.equal(
      world.clock.pendingTimers(),
      withRunner + 1,
      'one timer per TTL or alias runner, plus the reaper',
    )
  }
  await s.waitFor(world.agent.shutdown())
  assert.equal(world.agent.checks.size, 0)
  assert.equal(world.clock.pendingTimers(), 0)
  assert.deepEqual(world.violations, [])
}

const runs = Number(process.env['VIGIL_SIM_RUNS'] ?? 2000)
const seed = process.env['VIGIL_SIM_SEED']
const path = process.env['VIGIL_SIM_PATH']

test(`alias model: every alias converges to its target under random interleavings (${runs} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.boolean(), { maxLength: 6 }),
      scenario,
    ),
    {
      numRuns: runs,
      includeErrorInReport: true,
      ...(seed !== undefined ? { seed: Number(seed) } : {}),
      ...(path !== undefined ? { path } : {}),
    },
  )
})
