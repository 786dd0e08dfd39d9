/**
 * Fenced locks under chaos: five `vigil lock` processes compete for one lock on a real
 * `vigil agent -dev` (session TTL 10 s, lock-delay 500 ms). Each child acts on a "resource" (an
 * HTTP endpoint in this process, so its check-and-append is atomic) with `start`/`end` calls that
 * carry its VIGIL_FENCING_TOKEN; the resource rejects any token lower than the highest it has
 * seen. One holder is SIGKILLed (its child runs on, orphaned) and one is SIGSTOPped (lock process
 * and child) for longer than 2 × TTL, then SIGCONTed, child first, so it acts after its session
 * died and before its lock process can kill it.
 *
 * Checked: the woken holder's lock process kills its child and exits; accepted actions never interleave and tokens never go backwards; every rejected call
 * comes from a holder that was killed or paused (a healthy holder is never fenced off, so two
 * healthy holders never overlapped); every acquisition has its own token; the lock is taken
 * again within 2 × TTL + lock-delay (plus scheduling slack) after a holder dies.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { REPO_ROOT, startAgentProcess, VIGIL_BIN } from '../support/agent-process.js'
import { waitFor } from '../support/wait.js'

const TTL_MS = 10_000
const LOCK_DELAY_MS = 500
const SLACK_MS = 2_000
const WORKERS = 5

const WORKER = `
const [token, who, url] = [process.env.VIGIL_FENCING_TOKEN, process.argv[2], process.argv[3]]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function act(op) {
  const q = new URLSearchParams({ token, op, who, pid: String(process.pid), ppid: String(process.ppid) })
  const res = await fetch(url + '/act?' + q)
  if ((await res.text()) !== 'ok') process.exit(3)
}
const n = 2 + Math.floor(Math.random() * 3)
for (let i = 0; i < n; i++) {
  await act('start')
  await sleep(50 + Math.random() * 150)
  await act('end')
}
`

interface Action {
  readonly at: number
  readonly token: number
  readonly op: 'start' | 'end'
  readonly who: string
  readonly accepted: boolean
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** mulberry32: a small seeded PRNG so a failing schedule can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

test(
  'vigil lock: fenced holders never act at once under SIGKILL and SIGSTOP',
  { timeout: 90_000 },
  async (t) => {
    const seed = Number(process.env['LOCK_FENCING_SEED'] ?? Date.now() % 100_000)
    const random = prng(seed)
    t.diagnostic(`seed ${seed}`)
    const dir = mkdtempSync(join(tmpdir(), 'vigil-lock-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'worker.mjs'), WORKER)

    const agent = await startAgentProcess({ t })

    // The resource: rejects tokens below the highest seen; records every call.
    const log: Action[] = []
    let highest = 0
    let onStart: ((token: number, pid: number, ppid: number) => void) | undefined
    const resource = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams
      const token = Number(q.get('token'))
      const op = q.get('op') === 'end' ? 'end' : 'start'
      const accepted = Number.isInteger(token) && token >= highest
      if (accepted) highest = token
      log.push({ at: Date.now(), token, op, who: q.get('who') ?? '', accepted })
      const pid = Number(q.get('pid'))
      const ppid = Number(q.get('ppid'))
      if (accepted && op === 'start' && onStart !== undefined) {
        const fire = onStart
        onStart = undefined
        fire(token, pid, ppid)
      }
      res.end(accepted ? 'ok' : 'stale')
    })
    await new Promise<void>((resolve) => resource.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => resource.close(() => resolve())))
    const resourceUrl = `http://127.0.0.1:${(resource.address() as AddressInfo).port}`

    // Five competitors; each respawns its `vigil lock` when it exits, until the test stops.
    let stopping = false
    const groups = new Set<number>()
    const exits: string[] = []
    const exitedPids = new Set<number>()
    const stderrOf = new Map<number, () => string>()
    const compete = (i: number): void => {
      if (stopping) return
      const child: ChildProcess = spawn(
        process.execPath,
        [
          VIGIL_BIN,
          'lock',
          '-http-addr',
          agent.url,
          '-name',
          `worker-${i}`,
          '-session-ttl',
          `${TTL_MS}ms`,
          '-lock-delay',
          `${LOCK_DELAY_MS}ms`,
          '-shell=false',
          'stress/lock',
          process.execPath,
          join(dir, 'worker.mjs'),
          `worker-${i}`,
          resourceUrl,
        ],
        { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      const pgid = child.pid ?? 0
      groups.add(pgid)
      let err = ''
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d))
      stderrOf.set(pgid, () => err)
      child.once('exit', (code, signal) => {
        exitedPids.add(pgid)
        exits.push(`worker-${i} ${String(code ?? signal)} ${err.trim()}`)
        compete(i)
      })
    }
    t.after(() => {
      stopping = true
      for (const g of groups) {
        try {
          process.kill(-g, 'SIGCONT')
          process.kill(-g, 'SIGKILL')
        } catch {
          // group already gone
        }
      }
    })
    for (let i = 0; i < WORKERS; i++) compete(i)

    const started = Date.now()
    const acceptedStarts = (): Action[] => log.filter((a) => a.accepted && a.op === 'start')
    await waitFor(() => acceptedStarts().length >= 3, { timeoutMs: 15_000, what: 'first holders' })

    // The chaos: a SIGKILL of a holder's lock process and a SIGSTOP of a holder (lock process and
    // child), in random order, each armed after a random delay and fired at a holder's next start.
    const victims = new Set<number>()
    const reacquire: number[] = []
    const order = random() < 0.5 ? (['kill', 'stop'] as const) : (['stop', 'kill'] as const)
    t.diagnostic(`order ${order.join(', ')}`)
    for (const kind of order) {
      await new Promise((resolve) => setTimeout(resolve, 300 + random() * 1_500))
      const hit = await new Promise<{ token: number; pid: number; ppid: number; at: number }>((resolve) => {
        onStart = (token, pid, ppid) => {
          const pgid = ppid // the lock process leads the group its child runs in
          if (kind === 'kill') process.kill(ppid, 'SIGKILL')
          else process.kill(-pgid, 'SIGSTOP')
          resolve({ token, pid, ppid, at: Date.now() })
        }
      })
      victims.add(hit.token)
      await waitFor(() => acceptedStarts().some((a) => a.token > hit.token), {
        timeoutMs: 2 * TTL_MS + LOCK_DELAY_MS + 10_000,
        intervalMs: 20,
        what: `a new holder after ${kind}`,
      })
      const next = acceptedStarts().find((a) => a.token > hit.token)
      reacquire.push((next?.at ?? Date.now()) - hit.at)
      if (kind === 'stop') {
        // Wake the paused holder after its session died and someone else holds the lock.
        await waitFor(() => Date.now() - hit.at > 2 * TTL_MS + LOCK_DELAY_MS + 1_000, {
          timeoutMs: 30_000,
          intervalMs: 50,
        })
        // The child first, its lock process a moment later: the holder resumes acting before its
        // watchdog notices the loss, so only the fence stands between it and the resource.
        process.kill(hit.pid, 'SIGCONT')
        await waitFor(() => log.some((a) => a.token === hit.token && !a.accepted), {
          timeoutMs: 3_000,
          what: 'the woken holder to be fenced off',
        })
        process.kill(-hit.ppid, 'SIGCONT')
        // Its lock process notices the loss, kills the child and exits.
        await waitFor(() => exitedPids.has(hit.ppid) && !alive(hit.pid), {
          timeoutMs: 10_000,
          what: 'the woken holder to notice the loss and kill its child',
        }).catch((err: unknown) => {
          const state = `lock exited ${String(exitedPids.has(hit.ppid))}, child alive ${String(alive(hit.pid))}, stderr ${stderrOf.get(hit.ppid)?.() ?? ''}`
          throw new Error(`${String(err)}: ${state}; ${exits.join(' | ')}`)
        })
      }
    }
    // A few more hand-offs after the chaos.
    const after = acceptedStarts().length
    await waitFor(
      () =>
        new Set(
          acceptedStarts()
            .slice(after)
            .map((a) => a.token),
        ).size >= 2,
      {
        timeoutMs: 10_000,
        what: 'hand-offs after the chaos',
      },
    )
    stopping = true

    // Accepted actions: tokens never go backwards, and a start is followed by its own end or by
    // a higher token's start (its holder was killed or paused), never by another start's end.
    const accepted = log.filter((a) => a.accepted)
    let open: number | undefined
    let last = 0
    for (const a of accepted) {
      assert.ok(a.token >= last, `token went backwards: ${a.token} after ${last}`)
      last = a.token
      if (a.op === 'start') {
        if (open !== undefined && open !== a.token) {
          assert.ok(victims.has(open), `holder ${open} was overtaken by ${a.token} while healthy`)
        }
        open = a.token
      } else {
        assert.equal(a.token, open, `end of ${a.token} while ${String(open)} was acting`)
        open = undefined
      }
    }
    // Only killed or paused holders are ever fenced off.
    const rejected = log.filter((a) => !a.accepted)
    for (const r of rejected)
      assert.ok(victims.has(r.token), `healthy holder ${r.token} (${r.who}) was rejected`)
    // Each acquisition has its own token: one worker name per token.
    const whoByToken = new Map<number, string>()
    for (const a of log) {
      const prev = whoByToken.get(a.token)
      assert.ok(prev === undefined || prev === a.who, `token ${a.token} held by ${prev ?? ''} and ${a.who}`)
      whoByToken.set(a.token, a.who)
    }
    const bound = 2 * TTL_MS + LOCK_DELAY_MS + SLACK_MS
    for (const ms of reacquire) assert.ok(ms <= bound, `re-acquired after ${ms} ms > ${bound} ms`)

    t.diagnostic(
      `holders ${new Set(log.map((a) => a.who)).size}, acquisitions ${whoByToken.size}, accepted ${accepted.length}, ` +
        `rejected ${rejected.length}, re-acquire ms ${reacquire.join('/')}, total ${Date.now() - started} ms`,
    )
  },
)
