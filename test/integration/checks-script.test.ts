import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ScriptRunner } from '../../src/agent/checks/script-check.js'
import type { CheckDefinition } from '../../src/structs/check.js'
import { CountingClock } from '../support/counting-clock.js'
import {
  eventually,
  firstWrite,
  runnerContext,
  type RunnerContextOptions,
  type Write,
} from '../support/runner-context.js'
import { settleEventLoop } from '../support/wait.js'

function scriptRunner(def: Partial<CheckDefinition>, opts: RunnerContextOptions = {}) {
  const { ctx, sink } = runnerContext({ type: 'script', timeoutMs: 5_000, ...def }, opts)
  return { runner: new ScriptRunner(ctx), sink }
}

async function probeOnce(
  t: TestContext,
  def: Partial<CheckDefinition>,
  opts: { outputMaxSize?: number } = {},
): Promise<Write> {
  return firstWrite(t, scriptRunner(def, opts))
}

function sh(script: string): readonly string[] {
  return ['sh', '-c', script]
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-script-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** True once `pid` no longer runs: gone, or a zombie waiting for a reaper (this container's init may not reap). */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

/** Kills `pid` if a failing test left it running. */
function reap(t: TestContext, pids: () => readonly number[]): void {
  t.after(() => {
    for (const pid of pids()) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

function pidsIn(text: string): number[] {
  return [...text.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]))
}

test('script check passes on exit 0 with the combined output', async (t) => {
  assert.deepEqual(
    await probeOnce(t, { args: sh('echo hello; sleep 0.05; echo oops >&2; sleep 0.05; echo bye') }),
    {
      status: 'passing',
      output: 'hello\noops\nbye\n',
    },
  )
})

test('script check maps exit 1 to warning and other codes to critical', async (t) => {
  assert.deepEqual(await probeOnce(t, { args: sh('echo degraded; exit 1') }), {
    status: 'warning',
    output: 'degraded\n',
  })
  assert.deepEqual(await probeOnce(t, { args: sh('echo down >&2; exit 2') }), {
    status: 'critical',
    output: 'down\n',
  })
  assert.deepEqual(await probeOnce(t, { args: sh('kill -9 $$') }), { status: 'critical', output: '' })
})

test('script check runs Args directly, without a shell', async (t) => {
  const args = [
    process.execPath,
    '-e',
    'process.stdout.write(JSON.stringify(process.argv.slice(1)))',
    '$HOME',
    'a b',
    '*',
  ]
  assert.deepEqual(await probeOnce(t, { args }), { status: 'passing', output: '["$HOME","a b","*"]' })
})

test('script check keeps the last bytes of long output with the Captured prefix', async (t) => {
  const short = await probeOnce(t, { args: sh("printf '0123456789abcdefghij'") }, { outputMaxSize: 8 })
  assert.deepEqual(short, { status: 'passing', output: 'Captured 8 of 20 bytes\n...\ncdefghij' })
  const big = await probeOnce(t, { args: sh("head -c 1000000 /dev/zero | tr '\\0' a; printf END") })
  assert.equal(big.output, `Captured 4096 of 1000003 bytes\n...\n${'a'.repeat(4093)}END`)
})

test('script check is critical with the start error when the command cannot be run', async (t) => {
  assert.deepEqual(await probeOnce(t, { args: ['/nonexistent/vigil-check'] }), {
    status: 'critical',
    output: 'fork/exec /nonexistent/vigil-check: no such file or directory',
  })
  assert.deepEqual(await probeOnce(t, { args: ['vigil-no-such-command'] }), {
    status: 'critical',
    output: 'exec: "vigil-no-such-command": executable file not found in $PATH',
  })
})

test('script check timeout kills the whole process subtree and reports the output so far', async (t) => {
  let pids: number[] = []
  reap(t, () => pids)
  const started = Date.now()
  const result = await probeOnce(t, {
    args: sh('sleep 30 & echo "pid=$$ pid=$!"; wait'),
    timeoutMs: 300,
  })
  assert.ok(Date.now() - started < 2_000)
  pids = pidsIn(result.output)
  assert.equal(pids.length, 2)
  assert.deepEqual(result, {
    status: 'critical',
    output: `Timed out (300ms) running check\n\npid=${pids[0]} pid=${pids[1]}\n`,
  })
  await eventually(() => pids.every(processGone), 2_000, 'the script and its child to be killed')
})

test('script check timeout without output has no output section', async (t) => {
  assert.deepEqual(await probeOnce(t, { args: ['sleep', '30'], timeoutMs: 100 }), {
    status: 'critical',
    output: 'Timed out (100ms) running check',
  })
})

test('script check timeout bypasses failures_before_critical', async (t) => {
  const dir = tempDir(t)
  const { runner, sink } = scriptRunner({
    args: sh(`if [ -e ${dir}/ran ]; then exec sleep 30; fi; touch ${dir}/ran`),
    timeoutMs: 200,
    intervalMs: 20,
    failuresBeforeCritical: 3,
  })
  t.after(() => runner.stop())
  runner.start()
  await sink.waitFor(2)
  await runner.stop()
  assert.deepEqual(
    sink.writes.slice(0, 2).map((w) => w.status),
    ['passing', 'critical'],
  )
  assert.equal(sink.writes[1]!.output, 'Timed out (200ms) running check')
})

test('script check timeout settles even when a descendant left the group holding the pipes', async (t) => {
  let pids: number[] = []
  reap(t, () => pids)
  const result = await probeOnce(t, { args: sh('setsid sleep 30 & echo "pid=$!"; exit 0'), timeoutMs: 300 })
  pids = pidsIn(result.output)
  assert.equal(result.status, 'critical')
  assert.match(result.output, /^Timed out \(300ms\) running check\n\npid=\d+\n$/)
})

test('script runner stop kills a running script and resolves only after it exited', async (t) => {
  const dir = tempDir(t)
  let pids: number[] = []
  reap(t, () => pids)
  const clock = new CountingClock()
  const { runner, sink } = scriptRunner(
    {
      args: sh(`sleep 30 & echo "pid=$$ pid=$!" > ${dir}/pids.tmp; mv ${dir}/pids.tmp ${dir}/pids; wait`),
      timeoutMs: 10_000,
    },
    { clock },
  )
  t.after(() => runner.stop())
  runner.start()
  await eventually(
    () => {
      try {
        pids = pidsIn(readFileSync(join(dir, 'pids'), 'utf8'))
        return pids.length === 2
      } catch {
        return false
      }
    },
    3_000,
    'the script to start',
  )
  const [script, grandchild] = pids as [number, number]
  assert.equal(processGone(script), false)
  const started = Date.now()
  await runner.stop()
  assert.ok(Date.now() - started < 1_000, 'stop waited for the timeout')
  assert.ok(processGone(script), 'the script still runs after stop resolved')
  assert.equal(clock.pendingTimers(), 0, 'a timer outlives stop')
  await eventually(() => processGone(grandchild), 2_000, 'the grandchild to be killed')
  // No timer and no process left: nothing is left that could write.
  await settleEventLoop()
  assert.deepEqual(sink.writes, [])
})

test('script runner probes again every interval and stops cleanly between probes', async (t) => {
  const clock = new CountingClock()
  const { runner, sink } = scriptRunner({ args: sh('echo tick'), intervalMs: 20 }, { clock })
  t.after(() => runner.stop())
  runner.start()
  await sink.waitFor(3)
  await runner.stop()
  const count = sink.writes.length
  assert.ok(sink.writes.every((w) => w.status === 'passing' && w.output === 'tick\n'))
  // No next probe is scheduled: nothing is left that could write.
  assert.equal(clock.pendingTimers(), 0, 'a timer outlives stop')
  await settleEventLoop()
  assert.equal(sink.writes.length, count)
})
