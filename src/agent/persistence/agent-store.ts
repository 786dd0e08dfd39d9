import { createHash, randomUUID } from 'node:crypto'
import { dirname, join } from 'node:path'
import { PersistenceError, errorMessage } from '../../lib/errors.js'
import { deepFreeze } from '../../lib/object.js'
import {
  isStatus,
  type CheckDefinition,
  type HealthCheck,
  type Source,
  type Status,
} from '../../structs/check.js'
import type { Service } from '../../structs/service.js'
import type { RunnerLogger } from '../checks/runner.js'
import { isNotFound, nodeFs, type FsPort } from './fs-port.js'

/** A service as persisted: the record and its registration bookkeeping. */
export type PersistedService = Readonly<{ service: Service; token: string; source: Source }>

/** A check as persisted: the record (status is not trusted on load), its runner definition, bookkeeping. */
export type PersistedCheck = Readonly<{
  check: HealthCheck
  definition: CheckDefinition
  token: string
  source: Source
}>

/** The last TTL update of a check, valid until `expiresMs`. */
export type PersistedTtlState = Readonly<{
  checkId: string
  status: Status
  output: string
  expiresMs: number
}>

/**
 * One change of the persisted objects. `deleteCheck` removes the check's file and its TTL state.
 */
export type StoreChange =
  | Readonly<{ op: 'saveService'; entry: PersistedService }>
  | Readonly<{ op: 'saveCheck'; entry: PersistedCheck }>
  | Readonly<{ op: 'deleteService'; id: string }>
  | Readonly<{ op: 'deleteCheck'; id: string }>

/** A file operation of a commit. */
type FileOp = { readonly kind: 'write' | 'unlink'; readonly path: string; readonly data: string }

/** Where a write's data waits (written and fsynced) until it is renamed into place. */
interface TempFile {
  readonly op: FileOp
  readonly tmp: string
  renamed: boolean
}

/** A commit waiting for the next group commit: its steps and its temp files. */
interface Job {
  readonly steps: readonly (readonly FileOp[])[]
  readonly temps: ReadonlyMap<FileOp, TempFile>
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

export interface LoadedState {
  readonly services: readonly PersistedService[]
  readonly checks: readonly PersistedCheck[]
  readonly ttlStates: ReadonlyMap<string, PersistedTtlState>
}

const FORMAT = 1
const SERVICES = 'services'
const CHECKS = 'checks'
const CHECK_STATE = join('checks', 'state')
const CORRUPT = 'corrupt'
const READ_CONCURRENCY = 64

/** File name of an object: hex SHA-256 of its ID (as Consul CE). */
export function fileNameFor(id: string): string {
  return createHash('sha256').update(id).digest('hex')
}

/**
 * Agent persistence in the data dir (agent-state.md §12): one JSON file per service, check and
 * TTL check state, each written atomically (temp file, fsync, rename, directory fsync) so a
 * crash or power loss at any moment leaves either the old or the new file. A second agent on the
 * same dir is refused through a lock file.
 *
 * Durability contract: `commit` (and the save/delete methods, one-step commits) resolves only
 * after every file it wrote and every directory it changed is fsynced. Steps of one commit become
 * durable in order: nothing of step n+1 is visible on disk before step n is durable. Concurrent
 * commits share the syncs (group commit): the commits queued while the previous group was
 * syncing form the next group (each commit wrote and fsynced its temp files before queueing);
 * step by step, the renames and unlinks of that step of every commit are applied and made
 * durable with one fsync per changed directory.
 *
 * Concurrency contract: changes of one object are serialized by the caller (the agent's key
 * locks); changes of different objects may run concurrently. Methods throw PersistenceError with
 * the file and the cause; nothing in memory changes here.
 */
export class AgentStore {
  readonly dir: string
  readonly #fs: FsPort
  readonly #log: RunnerLogger
  #locked = false
  #jobs: Job[] = []
  #flushing = false
  /** Per step index: done when the latest group finished that step. */
  readonly #stageTails: Promise<void>[] = []

  private constructor(dir: string, fs: FsPort, log: RunnerLogger) {
    this.dir = dir
    this.#fs = fs
    this.#log = log
  }

  /** Creates the directories and takes the data-dir lock. */
  static async open(dir: string, opts: { logger: RunnerLogger; fs?: FsPort }): Promise<AgentStore> {
    const store = new AgentStore(dir, opts.fs ?? nodeFs, opts.logger)
    try {
      for (const sub of ['', SERVICES, CHECKS, CHECK_STATE]) {
        await store.#fs.mkdir(join(dir, sub), { recursive: true, mode: 0o700 })
      }
      // A directory created above exists after a power loss only once its parent is synced.
      for (const parent of [dirname(dir), dir, join(dir, CHECKS)]) await store.#syncDir(parent)
    } catch (err) {
      throw new PersistenceError(`Failed to create data dir ${dir}: ${errorMessage(err)}`, { cause: err })
    }
    await store.#lock()
    return store
  }

  /** Releases the data-dir lock. Idempotent. */
  async close(): Promise<void> {
    if (!this.#locked) return
    this.#locked = false
    await this.#fs.unlink(this.#lockPath()).catch(() => undefined)
  }

  /** The node ID kept in `<data-dir>/node-id`, generated once. `configured` wins when given. */
  async nodeId(configured: string): Promise<string> {
    const path = join(this.dir, 'node-id')
    if (configured !== '') {
      await this.#commitFiles([[{ kind: 'write', path, data: configured }]])
      return configured
    }
    try {
      const text = (await this.#fs.readFile(path)).toString('utf8').trim()
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text))
        return text.toLowerCase()
      this.#log.warn({ file: path }, 'Ignoring an invalid node-id file; generating a new node ID')
    } catch (err) {
      if (!isNotFound(err))
        throw new PersistenceError(`Failed to read ${path}: ${errorMessage(err)}`, { cause: err })
    }
    const id = randomUUID()
    await this.#commitFiles([[{ kind: 'write', path, data: id }]])
    return id
  }

  /**
   * Applies `steps` in order, each durable before anything of the next one reaches the disk (see
   * the class comment). On failure the steps before the failing one stay applied; the failing
   * step may be partly applied.
   */
  commit(steps: readonly (readonly StoreChange[])[]): Promise<void> {
    return this.#commitFiles(steps.map((step) => step.flatMap((c) => this.#fileOps(c))))
  }

  /**
   * Commits `changes` in the two steps that keep restore safe at every instant: check files
   * written and service files removed first, then service files written and check files removed.
   * A crash in between leaves check files without their service (restore discards them), never
   * a service without its checks nor a deregistered service that comes back.
   */
  apply(changes: readonly StoreChange[]): Promise<void> {
    const first = changes.filter((c) => c.op === 'saveCheck' || c.op === 'deleteService')
    const second = changes.filter((c) => c.op === 'saveService' || c.op === 'deleteCheck')
    return this.commit([first, second])
  }

  saveService(entry: PersistedService): Promise<void> {
    return this.commit([[{ op: 'saveService', entry }]])
  }

  deleteService(id: string): Promise<void> {
    return this.commit([[{ op: 'deleteService', id }]])
  }

  saveCheck(entry: PersistedCheck): Promise<void> {
    return this.commit([[{ op: 'saveCheck', entry }]])
  }

  /** Deletes a check's file and its TTL state. */
  deleteCheck(id: string): Promise<void> {
    return this.commit([[{ op: 'deleteCheck', id }]])
  }

  /** TTL state; written with rename but, like Consul, without fsync (survives process crashes). */
  async saveTtlState(state: PersistedTtlState): Promise<void> {
    const path = this.#path(CHECK_STATE, state.checkId)
    const tmp = `${path}-${randomUUID()}.tmp`
    try {
      const fh = await this.#fs.open(tmp, 'w', 0o600)
      try {
        await fh.writeFile(encode(state))
      } finally {
        await fh.close()
      }
      await this.#fs.rename(tmp, path)
    } catch (err) {
      await this.#fs.unlink(tmp).catch(() => undefined)
      throw new PersistenceError(`Failed to persist ${path}: ${errorMessage(err)}`, { cause: err })
    }
  }

  deleteTtlState(id: string): Promise<void> {
    return this.#commitFiles([[{ kind: 'unlink', path: this.#path(CHECK_STATE, id), data: '' }]])
  }

  /**
   * Reads everything persisted. Leftover temp files are removed; a file that cannot be decoded
   * is logged with its name, moved to `<data-dir>/corrupt/`, and skipped.
   */
  async load(): Promise<LoadedState> {
    const services = await this.#readAll(SERVICES, decodeService)
    const checks = await this.#readAll(CHECKS, decodeCheck)
    const ttl = await this.#readAll(CHECK_STATE, decodeTtlState)
    return { services, checks, ttlStates: new Map(ttl.map((s) => [s.checkId, s])) }
  }

  // ---- internals -----------------------------------------------------------------------------

  #path(sub: string, id: string): string {
    return join(this.dir, sub, fileNameFor(id))
  }

  #lockPath(): string {
    return join(this.dir, 'vigil.lock')
  }

  async #lock(): Promise<void> {
    const path = this.#lockPath()
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await this.#fs.open(path, 'wx', 0o600)
        try {
          await fh.writeFile(`${process.pid}\n`)
          await fh.sync()
        } finally {
          await fh.close()
        }
        this.#locked = true
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new PersistenceError(`Failed to lock data dir ${this.dir}: ${errorMessage(err)}`, {
            cause: err,
          })
        }
      }
      const holder = Number(
        (await this.#fs.readFile(path).catch(() => Buffer.from(''))).toString('utf8').trim(),
      )
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new PersistenceError(
          `Data dir ${this.dir} is in use by another vigil agent (pid ${holder}); stop it or choose another -data-dir`,
        )
      }
      this.#log.warn(
        { file: path, pid: holder },
        'Removing a stale data-dir lock left by an agent that is gone',
      )
      await this.#fs.unlink(path).catch(() => undefined)
    }
    throw new PersistenceError(`Failed to lock data dir ${this.dir}`)
  }

  #fileOps(change: StoreChange): FileOp[] {
    switch (change.op) {
      case 'saveService':
        return [
          { kind: 'write', path: this.#path(SERVICES, change.entry.service.id), data: encode(change.entry) },
        ]
      case 'saveCheck':
        return [
          { kind: 'write', path: this.#path(CHECKS, change.entry.check.checkId), data: encode(change.entry) },
        ]
      case 'deleteService':
        return [{ kind: 'unlink', path: this.#path(SERVICES, change.id), data: '' }]
      case 'deleteCheck':
        return [
          { kind: 'unlink', path: this.#path(CHECKS, change.id), data: '' },
          { kind: 'unlink', path: this.#path(CHECK_STATE, change.id), data: '' },
        ]
    }
  }

  async #commitFiles(steps: readonly (readonly FileOp[])[]): Promise<void> {
    const nonEmpty = steps.filter((ops) => ops.length > 0)
    if (nonEmpty.length === 0) return
    const temps = new Map<FileOp, TempFile>()
    for (const op of nonEmpty.flat()) {
      if (op.kind === 'write') {
        temps.set(op, { op, tmp: `${op.path}-${randomUUID()}.tmp`, renamed: false })
      }
    }
    try {
      // Temp files are invisible under their final names: those of every step are written and
      // fsynced now, in parallel with the group commit running meanwhile.
      const written = await Promise.allSettled([...temps.values()].map((t) => this.#writeTemp(t)))
      const failed = written.find((r) => r.status === 'rejected')
      if (failed !== undefined) throw failed.reason
      await new Promise<void>((resolve, reject) => {
        this.#jobs.push({ steps: nonEmpty, temps, resolve, reject })
        if (!this.#flushing) void this.#flush()
      })
    } finally {
      for (const t of temps.values()) {
        if (!t.renamed) await this.#fs.unlink(t.tmp).catch(() => undefined)
      }
    }
  }

  async #writeTemp(t: TempFile): Promise<void> {
    try {
      const fh = await this.#fs.open(t.tmp, 'w', 0o600)
      try {
        await fh.writeFile(t.op.data)
        await fh.sync()
      } finally {
        await fh.close()
      }
    } catch (err) {
      throw new PersistenceError(`Failed to persist ${t.op.path}: ${errorMessage(err)}`, { cause: err })
    }
  }

  /** Starts group commits until no commit waits. */
  async #flush(): Promise<void> {
    this.#flushing = true
    try {
      // The emptiness check and the reset below run in one synchronous stretch: a commit queued
      // while this loop runs is always picked up by it.
      while (this.#jobs.length > 0) {
        const group = this.#jobs
        this.#jobs = []
        await this.#groupCommit(group)
      }
    } finally {
      this.#flushing = false
    }
  }

  /**
   * One group commit: step by step, applies that step of every commit of the group (renames of
   * fsynced temp files, unlinks), fsyncs each changed directory once, and answers each commit
   * after its last step. Groups are pipelined: a group runs step n once its step n-1 is durable
   * and the previous group finished step n. Resolves when the group's first step is done (the
   * next group may start); the later steps go on meanwhile.
   */
  #groupCommit(group: readonly Job[]): Promise<void> {
    const failed = new Map<Job, unknown>()
    const steps = Math.max(...group.map((job) => job.steps.length))
    let previous: Promise<void> = Promise.resolve()
    let first: Promise<void> = Promise.resolve()
    for (let step = 0; step < steps; step++) {
      const ready = Promise.all([previous, this.#stageTails[step]])
      const done = ready.then(() => this.#commitStep(group, step, failed))
      this.#stageTails[step] = done
      previous = done
      if (step === 0) first = done
    }
    return first
  }

  /** Applies step `step` of every commit of `group` and makes it durable; never rejects. */
  async #commitStep(group: readonly Job[], step: number, failed: Map<Job, unknown>): Promise<void> {
    const fail = (job: Job, err: unknown): void => {
      if (!failed.has(job)) failed.set(job, err)
    }
    const dirs = new Map<string, Job[]>()
    await Promise.all(
      group.map(async (job) => {
        if (failed.has(job)) return
        for (const op of job.steps[step] ?? []) {
          try {
            const t = job.temps.get(op)
            if (t !== undefined) {
              await this.#fs.rename(t.tmp, op.path)
              t.renamed = true
            } else {
              await this.#fs.unlink(op.path).catch((err: unknown) => {
                if (!isNotFound(err)) throw err
              })
            }
          } catch (err) {
            const verb = op.kind === 'write' ? 'persist' : 'remove'
            fail(
              job,
              new PersistenceError(`Failed to ${verb} ${op.path}: ${errorMessage(err)}`, { cause: err }),
            )
            return
          }
          const dir = dirname(op.path)
          dirs.set(dir, [...(dirs.get(dir) ?? []), job])
        }
      }),
    )
    await Promise.all(
      [...dirs].map(async ([dir, jobs]) => {
        try {
          await this.#syncDir(dir)
        } catch (err) {
          const e = new PersistenceError(`Failed to sync ${dir}: ${errorMessage(err)}`, { cause: err })
          for (const job of jobs) fail(job, e)
        }
      }),
    )
    for (const job of group) {
      const err = failed.get(job)
      if (err !== undefined) job.reject(err)
      else if (step === job.steps.length - 1) job.resolve()
    }
  }

  async #syncDir(dir: string): Promise<void> {
    const fh = await this.#fs.open(dir, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  }

  async #readAll<T>(sub: string, decode: (value: unknown) => T | undefined): Promise<T[]> {
    const dir = join(this.dir, sub)
    let names: string[]
    try {
      names = (await this.#fs.readdir(dir)).sort()
    } catch (err) {
      if (isNotFound(err)) return []
      throw new PersistenceError(`Failed to read ${dir}: ${errorMessage(err)}`, { cause: err })
    }
    // Files are read concurrently (a large data dir is latency-bound, not CPU-bound), and kept
    // in name order.
    const results: (T | undefined)[] = new Array<T | undefined>(names.length)
    let next = 0
    const readOne = async (index: number): Promise<void> => {
      const name = names[index] ?? ''
      const path = join(dir, name)
      if (name.endsWith('tmp')) {
        await this.#fs.unlink(path).catch(() => undefined)
        return
      }
      let text: string
      try {
        text = (await this.#fs.readFile(path)).toString('utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EISDIR') return // e.g. checks/state
        throw new PersistenceError(`Failed to read ${path}: ${errorMessage(err)}`, { cause: err })
      }
      let value: T | undefined
      try {
        value = decode(JSON.parse(text))
      } catch {
        value = undefined
      }
      if (value === undefined) await this.#quarantine(path, sub, name)
      else results[index] = value
    }
    await Promise.all(
      Array.from({ length: Math.min(READ_CONCURRENCY, names.length) }, async () => {
        while (next < names.length) await readOne(next++)
      }),
    )
    return results.filter((v): v is T => v !== undefined)
  }

  async #quarantine(path: string, sub: string, name: string): Promise<void> {
    const target = join(this.dir, CORRUPT, `${sub.replace(/[\\/]/g, '-')}-${name}-${Date.now()}`)
    try {
      await this.#fs.mkdir(join(this.dir, CORRUPT), { recursive: true, mode: 0o700 })
      await this.#fs.rename(path, target)
      this.#log.error({ file: path, movedTo: target }, 'Skipping a corrupt persisted file')
    } catch (err) {
      this.#log.error(
        { file: path, err: errorMessage(err) },
        'Skipping a corrupt persisted file (could not move it aside)',
      )
    }
  }
}

function encode(value: object): string {
  return JSON.stringify({ Format: FORMAT, ...value })
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isSource(v: unknown): v is Source {
  return v === 'remote' || v === 'local'
}

function decodeService(v: unknown): PersistedService | undefined {
  if (!isRecord(v) || v['Format'] !== FORMAT || !isRecord(v['service']) || !isSource(v['source']))
    return undefined
  const service = v['service'] as unknown as Service
  if (typeof service.id !== 'string' || typeof service.name !== 'string') return undefined
  return deepFreeze({ service, token: typeof v['token'] === 'string' ? v['token'] : '', source: v['source'] })
}

function decodeCheck(v: unknown): PersistedCheck | undefined {
  if (!isRecord(v) || v['Format'] !== FORMAT || !isRecord(v['check']) || !isRecord(v['definition']))
    return undefined
  if (!isSource(v['source'])) return undefined
  const check = v['check'] as unknown as HealthCheck
  const definition = v['definition'] as unknown as CheckDefinition
  if (typeof check.checkId !== 'string' || typeof definition.type !== 'string') return undefined
  return deepFreeze({
    check,
    definition,
    token: typeof v['token'] === 'string' ? v['token'] : '',
    source: v['source'],
  })
}

function decodeTtlState(v: unknown): PersistedTtlState | undefined {
  if (!isRecord(v) || v['Format'] !== FORMAT) return undefined
  const { checkId, status, output, expiresMs } = v
  if (
    typeof checkId !== 'string' ||
    !isStatus(status) ||
    typeof output !== 'string' ||
    typeof expiresMs !== 'number'
  ) {
    return undefined
  }
  return Object.freeze({ checkId, status, output, expiresMs })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
