import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { RunnerFactory } from '../../src/agent/checks/factory.js'
import { IntervalRunner, type ProbeResult, type RunnerContext } from '../../src/agent/checks/runner.js'
import type { CheckSink } from '../../src/agent/checks/ports.js'
import type { Status } from '../../src/structs/check.js'
import { checkRegistration, serviceRegistration, startTestAgent } from '../support/agent-harness.js'
import { SchedulerClock } from '../support/scheduler-clock.js'

/**
 * Deterministic interleavings of register, re-register, deregister, probe completion and
 * shutdown against the real Agent, LocalState, CheckManager and IntervalRunner. Probes and
 * timers complete only when fast-check's scheduler releases them, so every ordering is
 * explored and a failure replays from its seed.
 */

interface RunnerInfo {
  readonly serial: number
  readonly checkId: string
  readonly generation: number
  readonly sink: CheckSink
  stopResolved: boolean
}

const STATUSES: readonly Status[] = ['passing', 'warning', 'critical']

class ScheduledProbeRunner extends IntervalRunner {
  #probes = 0
  constructor(
    ctx: RunnerContext,
    private readonly info: RunnerInfo,
    private readonly s: fc.Scheduler,
  ) {
    super(ctx)
  }

  protected probe(signal: AbortSignal): Promise<ProbeResult> {
    const n = this.#probes++
    const result: ProbeResult = {
      status: STATUSES[(this.info.serial + n) % 3] ?? 'critical',
      output: `runner#${this.info.serial} probe#${n}`,
    }
    return new Promise<ProbeResult>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })
      void this.s
        .schedule(Promise.resolve(), `probe ${this.info.checkId}#${this.info.serial}`)
        .then(() => resolve(result))
    })
  }

  override async stop(): Promise<void> {
    await super.stop()
    this.info.stopResolved = true
  }
}

type Command =
  | { op: 'registerCheck'; id: 'c1' | 'c2'; status: Status }
  | { op: 'deregisterCheck'; id: 'c1' | 'c2' }
  | { op: 'registerService'; checks: readonly number[]; replace: boolean }
  | { op: 'deregisterService' }

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    op: fc.constant('registerCheck' as const),
    id: fc.constantFrom('c1' as const, 'c2' as const),
    status: fc.constantFrom<Status>('passing', 'warning', 'critical'),
  }),
  fc.record({
    op: fc.constant('deregisterCheck' as const),
    id: fc.constantFrom('c1' as const, 'c2' as const),
  }),
  fc.record({
    op: fc.constant('registerService' as const),
    checks: fc.subarray([1, 2, 3], { minLength: 1 }),
    replace: fc.boolean(),
  }),
  fc.record({ op: fc.constant('deregisterService' as const) }),
)

async function runScenario(s: fc.Scheduler, commands: readonly Command[]): Promise<void> {
  const clock = new SchedulerClock(s)
  const runners: RunnerInfo[] = []
  const violations: string[] = []
  let serial = 0
  const holder: { agent?: Awaited<ReturnType<typeof startTestAgent>> } = {}

  const factory: RunnerFactory = (ctx) => {
    const state = holder.agent?.state
    const entry = state?.check(ctx.checkId)
    assert.ok(entry !== undefined, `runner for ${ctx.checkId} created before its check was stored`)
    const live = runners.filter((r) => r.checkId === ctx.checkId && !r.stopResolved)
    if (live.length > 0) violations.push(`two live runners for ${ctx.checkId}`)
    const info: RunnerInfo = {
      serial: serial++,
      checkId: ctx.checkId,
      generation: entry.generation,
      sink: ctx.sink,
      stopResolved: false,
    }
    runners.push(info)
    const spySink: CheckSink = {
      report: (status, output) => {
        const result = ctx.sink.report(status, output)
        if (result === 'applied') {
          if (info.stopResolved) violations.push(`runner#${info.serial} wrote after stop resolved`)
          if (state?.check(ctx.checkId)?.generation !== info.generation) {
            violations.push(
              `runner#${info.serial} (generation ${info.generation}) wrote onto a newer registration`,
            )
          }
        }
        return result
      },
    }
    return new ScheduledProbeRunner({ ...ctx, sink: spySink }, info, s)
  }

  const agent = await startTestAgent({
    clock,
    random: () => 0.5,
    runnerFactory: factory,
    yieldPoint: (label) => s.schedule(Promise.resolve(), label),
  })
  holder.agent = agent

  const run = (c: Command): Promise<void> => {
    switch (c.op) {
      case 'registerCheck':
        return agent.registerCheck(checkRegistration({ id: c.id, status: c.status }))
      case 'deregisterCheck':
        return agent.deregisterCheck(c.id)
      case 'registerService':
        return agent.registerService(
          serviceRegistration(
            'web',
            c.checks.map((n) => checkRegistration({ id: `service:web:${n}`, serviceId: 'web' })),
          ),
          { replaceExistingChecks: c.replace },
        )
      case 'deregisterService':
        return agent.deregisterService('web')
    }
  }

  const ops = commands.map((c, i) =>
    s.schedule(Promise.resolve(), `op#${i} ${JSON.stringify(c)}`).then(() => run(c)),
  )
  await s.waitFor(Promise.allSettled(ops))

  // Quiescence: one live runner per registered check, writing with the check's generation.
  const checks = agent.state.checks()
  assert.equal(agent.checks.size, checks.length, 'runners alive equal checks registered')
  for (const entry of checks) {
    assert.equal(agent.checks.runner(entry.check.checkId)?.generation, entry.generation)
  }
  assert.equal(runners.filter((r) => !r.stopResolved).length, checks.length)

  // A runner that escaped its stop still cannot write: generation fencing rejects it.
  for (const r of runners.filter((x) => x.stopResolved)) {
    assert.notEqual(
      r.sink.report('passing', 'rogue write'),
      'applied',
      `runner#${r.serial} escaped the fence`,
    )
  }

  await s.waitFor(agent.shutdown())
  assert.deepEqual(violations, [])
  assert.equal(agent.checks.size, 0, 'no runner outlives shutdown')
  assert.equal(runners.filter((r) => !r.stopResolved).length, 0, 'every runner stopped')
  assert.equal(clock.liveTimers, 0, 'no timer outlives its runner')
}

test('lifecycle: no stopped runner writes and nothing outlives its check, under any interleaving', async () => {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), fc.array(commandArb, { minLength: 1, maxLength: 8 }), runScenario),
    { numRuns: 300 },
  )
})

test('lifecycle: a probe in flight during re-registration cannot land on the new registration', async () => {
  // Pinned schedule: register c1, let its first probe start, re-register c1, then release the
  // old probe last. Without awaited stop and generation fencing the old result would land.
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), async (s) => {
      await runScenario(s, [
        { op: 'registerCheck', id: 'c1', status: 'passing' },
        { op: 'registerCheck', id: 'c1', status: 'passing' },
        { op: 'deregisterCheck', id: 'c1' },
        { op: 'registerCheck', id: 'c1', status: 'warning' },
      ])
    }),
    { numRuns: 200 },
  )
})
