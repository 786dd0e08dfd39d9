import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { FakeClock } from '../support/fake-clock.js'
import { openEmbeddedStore, StoreOpenError } from '../../src/store/embedded.js'

const WRITER = fileURLToPath(new URL('../support/store-writer.js', import.meta.url))

interface Writer {
  readonly child: ChildProcess
  readonly acks: Map<string, number>
  readonly ready: boolean
  /** Resolves once `pred` holds on the output so far (bounded: 30 s). */
  until(pred: () => boolean, what: string): Promise<void>
  exited: Promise<void>
}

function startWriter(dir: string, ...args: string[]): Writer {
  const child = spawn(process.execPath, [WRITER, dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const acks = new Map<string, number>()
  let text = ''
  let ready = false
  let stderr = ''
  const waiters = new Set<() => void>()
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8')
    const lines = text.split('\n')
    text = lines.pop() ?? ''
    for (const line of lines) {
      const [word, rev, key] = line.split(' ')
      if (word === 'ready') ready = true
      if (word === 'ack' && rev !== undefined && key !== undefined) acks.set(key, Number(rev))
    }
    for (const w of waiters) w()
  })
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    child,
    acks,
    exited,
    until: (pred, what) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}; stderr: ${stderr}`)),
          30_000,
        )
        const check = (): void => {
          if (pred()) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve()
          }
        }
        waiters.add(check)
        void exited.then(() => check())
        check()
      }),
    get ready() {
      return ready
    },
  }
}

/**
 * Rounds of: a writer process with `args`, killed with SIGKILL once it acknowledged `acks` txns
 * in the round; then the store is reopened here and must hold every txn ever acknowledged.
 */
async function killRounds(
  args: readonly string[],
  acks: number,
  check?: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-store-kill-'))
  try {
    const acked = new Map<string, number>()
    let lastMax = 0
    for (let round = 0; round < 3; round++) {
      const w = startWriter(dir, ...args)
      await w.until(() => w.acks.size >= acks, `${acks} acknowledged txns`)
      w.child.kill('SIGKILL')
      await w.exited
      const revs = [...w.acks.values()]
      assert.ok(Math.min(...revs) > lastMax, 'revisions are not reused after a kill')
      for (const [k, r] of w.acks) acked.set(k, r)
      await check?.(dir)
      const store = await openEmbeddedStore(dir, { clock: new FakeClock() })
      const { kvs, revision } = await store.range('w/')
      const byKey = new Map(kvs.map((kv) => [kv.key, kv.modRevision]))
      for (const [key, rev] of acked) assert.equal(byKey.get(key), rev, `acknowledged ${key} at ${rev}`)
      lastMax = Math.max(...acked.values())
      assert.ok(revision >= lastMax)
      lastMax = revision
      await store.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('kill -9 during concurrent txns: every acknowledged txn is there after reopen', () =>
  killRounds([], 400))

test('kill -9 while snapshots are written behind the log: every acknowledged txn is there after reopen', async () => {
  const seen = new Set<string>()
  // A new generation every 16 KiB of log: the kill lands in the middle of snapshots.
  await killRounds(['64', String(16 * 1024)], 4000, async (dir) => {
    for (const name of await readdir(dir)) seen.add(name.replace(/\d+/, 'N'))
  })
  assert.ok(
    seen.has('snap-N'),
    `snapshots were written (files seen after the kills: ${[...seen].join(', ')})`,
  )
})

test('a second process on the same data dir refuses to start', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-store-lock-'))
  try {
    const holder = startWriter(dir, '--hold')
    await holder.until(() => holder.ready, 'the holder to be ready')
    await assert.rejects(
      openEmbeddedStore(dir, { clock: new FakeClock() }),
      (err) =>
        err instanceof StoreOpenError &&
        err.message.includes(`in use by another process (pid ${holder.child.pid})`),
    )
    holder.child.kill('SIGKILL')
    await holder.exited
    const store = await openEmbeddedStore(dir, { clock: new FakeClock() })
    await store.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
