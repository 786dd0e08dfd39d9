/**
 * `vigil lock [options] PREFIX CHILD...` (cli.md §7, docs/locks.md): acquires a lock (`-n 1`,
 * key `<prefix>/.lock`) or a semaphore slot (`-n N`, contender key `<prefix>/<session>` plus
 * the holder set in `<prefix>/.lock`, Consul's layout), runs the child while it holds it, and
 * releases on exit. When the lock is lost (session invalidated, key taken or deleted) the child
 * gets SIGTERM, then SIGKILL after a 5 s grace period, as `consul lock` does.
 *
 * Beyond Consul: the child's environment carries a fencing token (`VIGIL_FENCING_TOKEN`, the
 * lock key's ModifyIndex at acquisition, read atomically with the acquisition in one txn) plus
 * `VIGIL_LOCK_KEY`, `VIGIL_LOCK_SESSION`, `VIGIL_LOCK_INDEX` (LockIndex) and
 * `VIGIL_LOCK_MODIFY_INDEX`. Tokens of successive holders of one key strictly increase.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { FlagSet, ParsedFlags } from '../config/flags.js'
import { systemClock } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import { stringFlag } from './flag-values.js'
import { ApiClient, ApiError, clientSettings, httpApiFlags } from './http-client.js'
import type { CliIo, Command } from './io.js'
import type { DirEntry } from './kv-command.js'
import { describeError, runWithFlags } from './run.js'

/** Consul api's LockFlagValue and SemaphoreFlagValue (flags that mark lock/semaphore keys). */
const LOCK_FLAG = 0x2ddccbc058a50c18n
const SEMAPHORE_FLAG = 0xe0f69a2baa414de0n
const LOCK_KEY = '.lock'
const KILL_GRACE_MS = 5_000
const MONITOR_RETRY_MS = 1_000

const flagSet: FlagSet = {
  usageLine: 'vigil lock [options] prefix child...',
  help: 'Acquires a lock or semaphore at a given path, and invokes a child process when successful. The child process can assume the lock is held while it executes. If the lock is lost or communication is disrupted the child process will be sent a SIGTERM signal and given time to gracefully exit. After the grace period expires the process will be hard terminated. When -n=1, only a single lock holder or leader exists providing mutual exclusion. Setting a higher value switches to a semaphore allowing multiple holders to coordinate. The child receives VIGIL_FENCING_TOKEN and VIGIL_LOCK_* in its environment (docs/locks.md).',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'child-exit-code',
          type: 'bool',
          usage:
            "Exit 2 if the child process exited with an error if this is true, otherwise this doesn't propagate an error from the child. The default value is false.",
        },
        {
          name: 'lock-delay',
          type: 'duration',
          placeholder: 'duration',
          usage:
            'The lock-delay of the lock session: after the lock is lost through session invalidation, nobody can take it for this long. The default value is 15s.',
        },
        {
          name: 'monitor-retry',
          type: 'int',
          placeholder: 'int',
          usage:
            'Number of times to retry if the agent returns a 500 error while monitoring the lock. The default value is 3, with a 1s wait between retries. Set this value to 0 to disable retires.',
        },
        {
          name: 'n',
          type: 'int',
          placeholder: 'int',
          usage:
            'Optional limit on the number of concurrent lock holders. The underlying implementation switches from a lock to a semaphore when the value is greater than 1. The default value is 1.',
        },
        {
          name: 'name',
          type: 'string',
          placeholder: 'string',
          usage:
            'Optional name to associate with the lock session. It not provided, one is generated based on the provided child command.',
        },
        { name: 'pass-stdin', type: 'bool', usage: 'Pass stdin to the child process.' },
        {
          name: 'session-ttl',
          type: 'duration',
          placeholder: 'duration',
          usage:
            'The TTL of the lock session (renewed every TTL/2; the server invalidates it 2×TTL after the last renewal). The default value is 15s.',
        },
        {
          name: 'shell',
          type: 'bool',
          usage:
            'Use a shell to run the command (can set a custom shell via the SHELL environment variable).',
        },
        {
          name: 'timeout',
          type: 'duration',
          placeholder: 'duration',
          usage:
            'Maximum amount of time to wait to acquire the lock, specified as a duration like "1s" or "3h". The default value is 0.',
        },
        {
          name: 'try',
          type: 'duration',
          placeholder: 'duration',
          usage: 'DEPRECATED. Use -timeout instead.',
        },
        { name: 'verbose', type: 'bool', usage: 'Enable verbose (debugging) output.' },
      ],
    },
  ],
}

/** What the holder tells its child. */
interface Held {
  readonly key: string
  readonly session: string
  readonly lockIndex: number
  readonly modifyIndex: number
}

interface TxnKvResult {
  readonly KV?: DirEntry
}

function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`
}

function joinKey(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix.replace(/\/+$/, '')}/${name}`
}

function durationFlag(flags: ParsedFlags, name: string, fallbackMs: number): number {
  const v = flags.values.get(name)
  return typeof v === 'number' ? v : fallbackMs
}

/** One lock or semaphore holder: session, acquisition, monitoring, release. */
class Holder {
  readonly #api: ApiClient
  readonly #abort = new AbortController()
  session = ''
  #renewTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    api: ApiClient,
    readonly opts: {
      readonly prefix: string
      readonly limit: number
      readonly name: string
      readonly ttlMs: number
      readonly lockDelayMs: number
      readonly monitorRetry: number
      readonly verbose: (msg: string) => void
    },
  ) {
    this.#api = api
  }

  get signal(): AbortSignal {
    return this.#abort.signal
  }

  get lockKey(): string {
    return joinKey(this.opts.prefix, LOCK_KEY)
  }

  async createSession(): Promise<void> {
    const text = await this.#api.request('PUT', '/v1/session/create', {
      body: {
        Name: this.opts.name,
        TTL: `${this.opts.ttlMs / 1000}s`,
        LockDelay: `${this.opts.lockDelayMs}ms`,
        Behavior: 'release',
      },
    })
    this.session = (JSON.parse(text) as { ID: string }).ID
    this.#scheduleRenew()
  }

  #scheduleRenew(): void {
    this.#renewTimer = setTimeout(() => {
      void this.#api
        .send('PUT', `/v1/session/renew/${this.session}`, {})
        .then((res) => {
          if (res.status === 404) this.lost('session invalidated')
        })
        .catch(() => undefined)
        .finally(() => {
          if (!this.#abort.signal.aborted) this.#scheduleRenew()
        })
    }, this.opts.ttlMs / 2)
  }

  /** Marks the lock lost (idempotent); the command kills the child. */
  lost(why: string): void {
    if (this.#abort.signal.aborted) return
    this.opts.verbose(`Lock lost: ${why}`)
    this.#abort.abort(new Error(why))
  }

  /** Stops monitoring after the child is gone (not a loss). */
  finish(): void {
    this.#abort.abort(new Error('finished'))
  }

  stopRenewing(): void {
    clearTimeout(this.#renewTimer)
  }

  /**
   * Tries once to take `key` with the session through a txn (lock + the entry it produced, in one
   * atomic write), so the ModifyIndex handed out as a fencing token is the acquisition's own.
   */
  async tryLock(key: string, flags: bigint, value: string): Promise<Held | undefined> {
    const res = await this.#api.send('PUT', '/v1/txn', {
      body: [
        {
          KV: {
            Verb: 'lock',
            Key: key,
            Value: Buffer.from(value).toString('base64'),
            Flags: Number(flags),
            Session: this.session,
          },
        },
      ],
    })
    if (res.status === 409) {
      const errors = (JSON.parse(res.text) as { Errors: { What: string }[] | null }).Errors ?? []
      if (errors.some((e) => e.What.startsWith('invalid session'))) throw new Error(errors[0]?.What ?? '')
      return undefined
    }
    if (res.status !== 200) throw new ApiError(res.status, res.text)
    const entry = (JSON.parse(res.text) as { Results: TxnKvResult[] }).Results[0]?.KV
    if (entry === undefined) return undefined
    return { key, session: this.session, lockIndex: entry.LockIndex, modifyIndex: entry.ModifyIndex }
  }

  /** Blocks until the key looks free (no session) or changed, or `deadline`. */
  async waitFree(key: string, index: number, deadline: number): Promise<number> {
    const waitMs = Math.max(1, Math.min(15_000, deadline - Date.now()))
    const res = await this.#api
      .send('GET', kvPath(key), {
        query: { index: String(index), wait: `${waitMs}ms` },
        signal: this.#abort.signal,
      })
      .catch((err: unknown) => {
        if (this.#abort.signal.aborted) return { headers: new Headers() }
        throw err
      })
    return Number(res.headers.get('x-consul-index') ?? '0')
  }

  /** Acquires the lock (n = 1), retrying until `deadline`. */
  async acquireLock(deadline: number): Promise<Held | undefined> {
    let backoff = 100
    while (Date.now() < deadline && !this.#abort.signal.aborted) {
      const got = await this.tryLock(this.lockKey, LOCK_FLAG, '')
      if (got !== undefined) return got
      const res = await this.#api.send('GET', kvPath(this.lockKey))
      const entry = res.status === 200 ? (JSON.parse(res.text) as DirEntry[])[0] : undefined
      // Flags travel as JSON numbers: compare them as the doubles both sides read.
      if (entry !== undefined && entry.Flags !== Number(LOCK_FLAG)) {
        throw new Error('Existing key does not match lock use')
      }
      const current = Number(res.headers.get('x-consul-index') ?? '0')
      if (entry?.Session !== undefined && entry.Session !== '') {
        await this.waitFree(this.lockKey, current, deadline)
        backoff = 100
      } else {
        // Free but refused: a lock-delay is running; look again soon.
        await systemClock
          .sleep(Math.min(backoff, Math.max(1, deadline - Date.now())), this.#abort.signal)
          .catch(() => undefined)
        backoff = Math.min(backoff * 2, 2_000)
      }
    }
    return undefined
  }

  /** Acquires a semaphore slot (n > 1) with Consul's layout, retrying until `deadline`. */
  async acquireSemaphore(deadline: number): Promise<Held | undefined> {
    const contender = joinKey(this.opts.prefix, this.session)
    const mine = await this.tryLock(contender, SEMAPHORE_FLAG, '')
    if (mine === undefined) throw new Error('failed to make contender entry')
    while (Date.now() < deadline && !this.#abort.signal.aborted) {
      const res = await this.#api.send('GET', kvPath(this.opts.prefix.replace(/\/*$/, '/')), {
        query: { recurse: '' },
      })
      const entries = res.status === 200 ? (JSON.parse(res.text) as DirEntry[]) : []
      const alive = new Set(
        entries
          .filter((e) => e.Session !== undefined && e.Session !== '' && e.Key !== this.lockKey)
          .map((e) => e.Session),
      )
      const lockEntry = entries.find((e) => e.Key === this.lockKey)
      const state = lockEntry?.Value
        ? (JSON.parse(Buffer.from(lockEntry.Value, 'base64').toString('utf8')) as {
            Limit: number
            Holders: Record<string, boolean>
          })
        : { Limit: this.opts.limit, Holders: {} }
      if (state.Limit !== this.opts.limit) {
        throw new Error(`semaphore limit conflict (lock: ${state.Limit}, local: ${this.opts.limit})`)
      }
      const holders: Record<string, boolean> = {}
      for (const s of Object.keys(state.Holders)) if (alive.has(s)) holders[s] = true
      if (Object.keys(holders).length < this.opts.limit) {
        holders[this.session] = true
        const body = JSON.stringify({ Limit: this.opts.limit, Holders: holders })
        const cas = lockEntry?.ModifyIndex ?? 0
        const text = await this.#api.request('PUT', kvPath(this.lockKey), {
          query: { cas: String(cas), flags: SEMAPHORE_FLAG.toString() },
          rawBody: body,
        })
        if (text.trim() === 'true') return mine
        continue
      }
      await this.waitFree(
        joinKey(this.opts.prefix, ''),
        Number(res.headers.get('x-consul-index') ?? '0'),
        deadline,
      )
    }
    return undefined
  }

  /** Watches the held key; marks the lock lost when it is no longer ours. */
  async monitor(key: string): Promise<void> {
    let index = 0
    let failures = 0
    while (!this.#abort.signal.aborted) {
      let res
      try {
        res = await this.#api.send('GET', kvPath(key), {
          query: { index: String(index), wait: '15s' },
          signal: this.#abort.signal,
        })
      } catch (err) {
        // The abort may have come from the signal handler while the request was in flight.
        if ((this.#abort.signal as { aborted: boolean }).aborted) return
        res = { status: 500, text: errorMessage(err), headers: new Headers() }
      }
      if (res.status !== 200 && res.status !== 404) {
        if (++failures > this.opts.monitorRetry) {
          this.lost(`monitor failed: ${res.text}`)
          return
        }
        await systemClock.sleep(MONITOR_RETRY_MS).catch(() => undefined)
        continue
      }
      failures = 0
      const entry = res.status === 200 ? (JSON.parse(res.text) as DirEntry[])[0] : undefined
      if (entry?.Session !== this.session) {
        this.lost(
          entry === undefined
            ? 'lock key deleted'
            : entry.Session === undefined || entry.Session === ''
              ? 'lock released (session invalidated)'
              : 'lock held by another session',
        )
        return
      }
      index = Number(res.headers.get('x-consul-index') ?? '0')
    }
  }

  /** Releases what is held, destroys the session, and deletes an unused lock key (Consul's Destroy). */
  async release(held: Held | undefined): Promise<void> {
    this.stopRenewing()
    this.#abort.abort(new Error('released'))
    if (held !== undefined) {
      if (this.opts.limit > 1) await this.#releaseSlot()
      await this.#api.request('PUT', kvPath(held.key), { query: { release: this.session }, rawBody: '' })
    }
    if (this.session !== '') await this.#api.request('PUT', `/v1/session/destroy/${this.session}`)
    await this.#cleanup(held)
  }

  async #releaseSlot(): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const res = await this.#api.send('GET', kvPath(this.lockKey))
      if (res.status !== 200) return
      const entry = (JSON.parse(res.text) as DirEntry[])[0]
      if (entry?.Value == null) return
      const state = JSON.parse(Buffer.from(entry.Value, 'base64').toString('utf8')) as {
        Limit: number
        Holders: Record<string, boolean>
      }
      if (state.Holders[this.session] === undefined) return
      const rest = Object.fromEntries(Object.entries(state.Holders).filter(([s]) => s !== this.session))
      const text = await this.#api.request('PUT', kvPath(this.lockKey), {
        query: { cas: String(entry.ModifyIndex), flags: SEMAPHORE_FLAG.toString() },
        rawBody: JSON.stringify({ Limit: state.Limit, Holders: rest }),
      })
      if (text.trim() === 'true') return
    }
  }

  async #cleanup(held: Held | undefined): Promise<void> {
    if (held !== undefined && this.opts.limit > 1) {
      await this.#api.request('DELETE', kvPath(held.key))
    }
    const res = await this.#api.send('GET', kvPath(this.lockKey))
    if (res.status !== 200) return
    const entry = (JSON.parse(res.text) as DirEntry[])[0]
    if (entry === undefined || (entry.Session ?? '') !== '') return
    if (this.opts.limit > 1) {
      const state = JSON.parse(Buffer.from(entry.Value ?? '', 'base64').toString('utf8') || '{}') as {
        Holders?: Record<string, boolean>
      }
      if (Object.keys(state.Holders ?? {}).length > 0) return
    }
    await this.#api.request('DELETE', kvPath(this.lockKey), { query: { cas: String(entry.ModifyIndex) } })
  }
}

function startChild(
  args: readonly string[],
  shell: boolean,
  passStdin: boolean,
  env: NodeJS.ProcessEnv,
): ChildProcess {
  const stdio: ['inherit' | 'ignore', 'inherit', 'inherit'] = [
    passStdin ? 'inherit' : 'ignore',
    'inherit',
    'inherit',
  ]
  if (shell) {
    const sh =
      process.env['SHELL'] !== undefined && process.env['SHELL'] !== '' ? process.env['SHELL'] : '/bin/sh'
    return spawn(sh, ['-c', args.join(' ')], { env, stdio })
  }
  const [file, ...rest] = args
  return spawn(file ?? '', rest, { env, stdio })
}

/** `vigil lock`. */
export const lockCommand: Command = {
  synopsis: 'Execute a command holding a lock',
  run: (args, io) => runWithFlags(flagSet, args, io, (flags) => runLock(flags, io)),
}

async function runLock(flags: ParsedFlags, io: CliIo): Promise<number> {
  const limit = Number(flags.values.get('n') ?? 1)
  if (limit <= 0) {
    io.stderr.write('Lock holder limit must be positive\n')
    return 1
  }
  const extra = flags.args
  if (extra.length < 2) {
    io.stderr.write('Key prefix and child command must be specified\n')
    return 1
  }
  const prefix = (extra[0] ?? '').replace(/^\//, '')
  const timeoutMs = flags.values.has('timeout')
    ? durationFlag(flags, 'timeout', 0)
    : durationFlag(flags, 'try', 0)
  if (timeoutMs < 0) {
    io.stderr.write('Timeout must be positive\n')
    return 1
  }
  const monitorRetry = Number(flags.values.get('monitor-retry') ?? 3)
  if (monitorRetry < 0) {
    io.stderr.write("Number for 'monitor-retry' must be >= 0\n")
    return 1
  }
  const childArgs = extra.slice(1)
  const name = stringFlag(flags, 'name') || `Consul lock for '${childArgs.join(' ')}' at '${prefix}'`
  const verboseOn = flags.values.get('verbose') === true
  const verbose = (msg: string): void => {
    if (verboseOn) io.stdout.write(`${msg}\n`)
  }
  const ttlMs = durationFlag(flags, 'session-ttl', 15_000)
  const lockDelayMs = durationFlag(flags, 'lock-delay', 15_000)

  const api = new ApiClient(clientSettings(flags, io.env))
  try {
    await api.getJson('/v1/agent/self')
  } catch (err) {
    io.stderr.write(`Error querying Consul agent: ${describeError(err)}\n`)
    return 1
  }
  const holder = new Holder(api, { prefix, limit, name, ttlMs, lockDelayMs, monitorRetry, verbose })

  // Written by the signal handler, read after awaits.
  const state: { shutdown: boolean; child: ChildProcess | undefined } = { shutdown: false, child: undefined }
  const onSignal = (sig: NodeJS.Signals): void => {
    state.shutdown = true
    if (state.child !== undefined) state.child.kill(sig)
    else holder.lost('shutdown')
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const cleanupSignals = (): void => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  let held: Held | undefined
  let failed = false
  try {
    await holder.createSession()
    verbose('Attempting lock acquisition')
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY
    held = limit === 1 ? await holder.acquireLock(deadline) : await holder.acquireSemaphore(deadline)
  } catch (err) {
    failed = true
    if (!state.shutdown) io.stderr.write(`Lock acquisition failed: ${describeError(err)}\n`)
  }
  if (held === undefined || state.shutdown) {
    if (state.shutdown) io.stderr.write('Shutdown triggered during lock acquisition\n')
    else if (!failed) io.stderr.write('Shutdown triggered or timeout during lock acquisition\n')
    await holder.release(held).catch(() => undefined)
    cleanupSignals()
    return 1
  }

  const monitoring = holder.monitor(held.key)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONSUL_LOCK_HELD: 'true',
    VIGIL_LOCK_KEY: held.key,
    VIGIL_LOCK_SESSION: held.session,
    VIGIL_LOCK_INDEX: String(held.lockIndex),
    VIGIL_LOCK_MODIFY_INDEX: String(held.modifyIndex),
    VIGIL_FENCING_TOKEN: String(held.modifyIndex),
  }
  verbose('Starting handler')
  const started = startChild(
    childArgs,
    flags.values.get('shell') !== false,
    flags.values.get('pass-stdin') === true,
    env,
  )
  state.child = started
  const childExited = new Promise<number | null>((resolve) => {
    started.once('error', (err) => {
      io.stderr.write(`Error starting handler: ${err.message}\n`)
      resolve(127)
    })
    started.once('exit', (code, signal) => resolve(signal !== null ? 128 : code))
  })
  const lostOrDone = await Promise.race([
    childExited.then((code) => ({ kind: 'child' as const, code })),
    new Promise<{ kind: 'lost' }>((resolve) => {
      if (holder.signal.aborted) resolve({ kind: 'lost' })
      holder.signal.addEventListener('abort', () => resolve({ kind: 'lost' }), { once: true })
    }),
  ])
  let childCode = 0
  if (lostOrDone.kind === 'child') {
    if (lostOrDone.code !== 0) {
      childCode = 2
      io.stderr.write(`Error running handler: exit status ${String(lostOrDone.code)}\n`)
    }
    verbose('Child terminated, releasing lock')
  } else {
    verbose('Lock lost, killing child')
    started.kill('SIGTERM')
    const timer = setTimeout(() => started.kill('SIGKILL'), KILL_GRACE_MS)
    await childExited
    clearTimeout(timer)
  }
  holder.finish()
  await monitoring.catch(() => undefined)
  try {
    await holder.release(held)
  } catch (err) {
    io.stderr.write(`Lock release failed: ${describeError(err)}\n`)
    cleanupSignals()
    return 1
  }
  cleanupSignals()
  return flags.values.get('child-exit-code') === true ? childCode : 0
}
