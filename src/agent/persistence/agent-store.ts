import { createHash, randomUUID } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { PersistenceError, errorMessage } from '../../lib/errors.js'
import { isStatus, type CheckDefinition, type HealthCheck, type Status } from '../../structs/check.js'
import type { Service } from '../../structs/service.js'
import type { RunnerLogger } from '../checks/runner.js'
import {
  checkEntryId,
  encodeCheckEntry,
  encodeServiceEntry,
  isRecord,
  type Entry,
  type PersistedCheck,
  type PersistedService,
} from './entries.js'
import { isNotFound, nodeFs, type FsPort } from './fs-port.js'

export type { PersistedCheck, PersistedService } from './entries.js'

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

/** A persisted service entry as read (decode it with `decodeServiceEntry`), and its file. */
export interface StoredService {
  readonly path: string
  readonly serviceId: string
  readonly entry: Entry
}

/** A persisted check entry as read (decode it with `decodeCheckEntry`), and its file. */
export interface StoredCheck {
  readonly path: string
  readonly checkId: string
  readonly entry: Entry
}

export interface LoadedState {
  readonly services: readonly StoredService[]
  readonly checks: readonly StoredCheck[]
  readonly ttlStates: ReadonlyMap<string, PersistedTtlState>
}

/**
 * The persisted objects of one service ID, kept in one file `services/<sha256hex(id)>`: the
 * service entry (null when the service itself is not persisted, e.g. a config-file service with
 * API-registered checks) and the entries of its checks.
 */
interface Home {
  service: Entry | null
  readonly checks: Map<string, Entry>
}

/** The file operations of one `apply`, and how to forget its changes of the mirror. */
interface Plan {
  readonly steps: readonly (readonly FileOp[])[]
  readonly revert: () => void
}

/** Format 1: one file per service and per check, vigil's records (read and migrated on load). */
const FORMAT_V1 = 1
const FORMAT = 2
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
 * Agent persistence in the data dir (agent-state.md §12). One JSON file per service ID,
 * `services/<sha256hex(id)>`, holds the service and every persisted check of that service; a
 * node-level check has its own file `checks/<sha256hex(id)>`; TTL check state lives in
 * `checks/state/`. Each file is written atomically (temp file, fsync, rename, directory fsync),
 * so a crash or power loss at any moment leaves either the old or the new file — and a service
 * and its checks change together: registering a service with its checks costs one file, one
 * file fsync and one directory fsync. A second agent on the same dir is refused through a lock
 * file. Entries are definitions the normalizer reads (entries.ts).
 *
 * The store keeps a mirror of what its files hold, so a change of one check rewrites its
 * service's file from the mirror. Every file carries `Seq`, the number of the `apply` that wrote
 * it. A check that moves between files (another service, or node level) is written to its new
 * file first and removed from the old one after; a power loss in between leaves it in both, and
 * `load` keeps the copy with the higher `Seq`.
 *
 * Durability contract: `apply` (and the save/delete methods) resolves only after every file it
 * wrote and every directory it changed is fsynced. Steps of one commit become durable in order:
 * nothing of step n+1 is visible on disk before step n is durable. Concurrent commits share the
 * syncs (group commit): the commits queued while the previous group was syncing form the next
 * group (each commit wrote and fsynced its temp files before queueing); step by step, the renames
 * and unlinks of that step of every commit are applied and made durable with one fsync per
 * changed directory, the directories fsynced concurrently.
 *
 * Concurrency contract: changes of one service ID (the service and its checks) and of one check
 * are serialized by the caller (the agent's key locks); others may run concurrently. Methods
 * throw PersistenceError with the file and the cause; a failed `apply` leaves the mirror as it
 * was, and the files it touched hold the old or the new content (the caller writes them again).
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
  /** What `services/` holds, by service ID. */
  readonly #homes = new Map<string, Home>()
  /** Where each persisted check lives: its service's ID, or null for `checks/<sha256hex(id)>`. */
  readonly #checkHome = new Map<string, string | null>()
  /** The `Seq` of the latest `apply`. */
  #seq = 0

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
   * Applies `changes` (in order, to the mirror) and makes them durable: the files that gain an
   * entry first, then those that only lose entries and the removed files (see the class comment).
   */
  async apply(changes: readonly StoreChange[]): Promise<void> {
    const plan = this.#plan(changes)
    try {
      await this.#commitFiles(plan.steps)
    } catch (err) {
      plan.revert()
      throw err
    }
  }

  saveService(entry: PersistedService): Promise<void> {
    return this.apply([{ op: 'saveService', entry }])
  }

  deleteService(id: string): Promise<void> {
    return this.apply([{ op: 'deleteService', id }])
  }

  saveCheck(entry: PersistedCheck): Promise<void> {
    return this.apply([{ op: 'saveCheck', entry }])
  }

  /** Deletes a check's entry and its TTL state. */
  deleteCheck(id: string): Promise<void> {
    return this.apply([{ op: 'deleteCheck', id }])
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
   * Reads everything persisted and fills the mirror; call once, before any change. Leftover temp
   * files are removed; a file that cannot be parsed is logged with its name, moved to
   * `<data-dir>/corrupt/`, and skipped. Files of format 1 are rewritten in the current layout, and
   * a check found in two files keeps only its newer copy (both durably, before this resolves).
   */
  async load(): Promise<LoadedState> {
    this.#homes.clear()
    this.#checkHome.clear()
    const nodeChecks = new Map<string, { path: string; entry: Entry }>()
    const seqOf = new Map<string, number>()
    const step1 = new Set<string>()
    const step1Node = new Set<string>()
    const step2 = new Set<string>()
    const unlinks: string[] = []
    let maxSeq = 0
    const homeOf = (id: string): Home => {
      let home = this.#homes.get(id)
      if (home === undefined) {
        home = { service: null, checks: new Map() }
        this.#homes.set(id, home)
      }
      return home
    }
    const drop = (id: string): void => {
      const at = this.#checkHome.get(id)
      if (at === null) {
        unlinks.push(this.#path(CHECKS, id))
        nodeChecks.delete(id)
      } else if (at !== undefined) {
        this.#homes.get(at)?.checks.delete(id)
        step2.add(at)
      }
      this.#checkHome.delete(id)
    }
    /** Places a check read from `path` unless a newer copy is known; false if it lost. */
    const place = (id: string, at: string | null, entry: Entry, seq: number, path: string): boolean => {
      const known = seqOf.get(id)
      if (known !== undefined && known >= seq) {
        this.#log.warn({ file: path, check: id }, 'Dropping an older copy of a check found in two files')
        if (at === null) unlinks.push(path)
        else step2.add(at)
        return false
      }
      if (known !== undefined) drop(id)
      seqOf.set(id, seq)
      this.#checkHome.set(id, at)
      if (at === null) nodeChecks.set(id, { path, entry })
      else homeOf(at).checks.set(id, entry)
      return true
    }

    for (const { path, value } of await this.#readAll(SERVICES)) {
      if (value['Format'] === FORMAT) {
        const { ServiceID: id, Seq: seq, Service: service, Checks: checks } = value
        if (typeof id !== 'string' || typeof seq !== 'number' || !Array.isArray(checks)) {
          await this.#quarantine(path, SERVICES)
          continue
        }
        if (service !== null && !isRecord(service)) {
          await this.#quarantine(path, SERVICES)
          continue
        }
        maxSeq = Math.max(maxSeq, seq)
        const home = homeOf(id)
        home.service =
          service === null
            ? null
            : {
                Service: service,
                Source: value['Source'],
                ...(value['LocallyRegisteredAsSidecar'] === true ? { LocallyRegisteredAsSidecar: true } : {}),
              }
        for (const entry of checks as unknown[]) {
          const checkId = isRecord(entry) ? checkEntryId(entry) : undefined
          if (isRecord(entry) && checkId !== undefined) place(checkId, id, entry, seq, path)
          else this.#log.error({ file: path }, 'Skipping a persisted check without an ID or Name')
        }
        continue
      }
      const old = value['Format'] === FORMAT_V1 ? decodeServiceV1(value) : undefined
      if (old === undefined) {
        await this.#quarantine(path, SERVICES)
        continue
      }
      homeOf(old.service.id).service = encodeServiceEntry(old)
      step1.add(old.service.id)
      if (path !== this.#path(SERVICES, old.service.id)) unlinks.push(path)
    }

    for (const { path, value } of await this.#readAll(CHECKS)) {
      if (value['Format'] === FORMAT) {
        const seq = value['Seq']
        const checkId = checkEntryId(value)
        if (typeof seq !== 'number' || checkId === undefined) {
          await this.#quarantine(path, CHECKS)
          continue
        }
        maxSeq = Math.max(maxSeq, seq)
        const { Format: _format, Seq: _seq, ...entry } = value
        place(checkId, null, entry, seq, path)
        continue
      }
      const old = value['Format'] === FORMAT_V1 ? decodeCheckV1(value) : undefined
      if (old === undefined) {
        await this.#quarantine(path, CHECKS)
        continue
      }
      const id = old.check.checkId
      const at = old.check.serviceId === '' ? null : old.check.serviceId
      if (!place(id, at, encodeCheckEntry(old), 0, path)) continue
      if (at === null) step1Node.add(id)
      else {
        step1.add(at)
        unlinks.push(path)
      }
    }

    this.#seq = maxSeq
    const ttl = await this.#readAll(CHECK_STATE)
    const ttlStates = new Map<string, PersistedTtlState>()
    for (const { path, value } of ttl) {
      const state = decodeTtlState(value)
      if (state === undefined) await this.#quarantine(path, CHECK_STATE)
      else ttlStates.set(state.checkId, state)
    }

    if (step1.size + step1Node.size + step2.size + unlinks.length > 0) {
      const seq = ++this.#seq
      const first: FileOp[] = [
        ...[...step1].map((id) => this.#homeOp(id, seq)),
        ...[...step1Node].flatMap((id) => {
          const node = nodeChecks.get(id)
          return node === undefined ? [] : [this.#nodeCheckOp(id, node.entry, seq)]
        }),
      ]
      const second: FileOp[] = [
        ...[...step2].filter((id) => !step1.has(id)).map((id) => this.#homeOp(id, seq)),
        ...unlinks.map((path): FileOp => ({ kind: 'unlink', path, data: '' })),
      ]
      this.#log.info(
        { files: first.length + second.length },
        'Rewriting persisted files in the current format',
      )
      await this.#commitFiles([first, second])
    }

    const services: StoredService[] = []
    const checks: StoredCheck[] = []
    for (const [serviceId, home] of this.#homes) {
      const path = this.#path(SERVICES, serviceId)
      if (home.service !== null) services.push({ path, serviceId, entry: home.service })
      for (const [checkId, entry] of home.checks) checks.push({ path, checkId, entry })
    }
    for (const [checkId, { entry }] of nodeChecks) {
      checks.push({ path: this.#path(CHECKS, checkId), checkId, entry })
    }
    return { services, checks, ttlStates }
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

  /** Applies `changes` to the mirror and returns the file operations that make them durable. */
  #plan(changes: readonly StoreChange[]): Plan {
    const seq = ++this.#seq
    const homesBefore = new Map<string, Home | undefined>()
    const placesBefore = new Map<string, string | null | undefined>()
    const gained = new Set<string>()
    const lost = new Set<string>()
    const nodeWrites = new Map<string, Entry>()
    const unlinks = new Set<string>()
    const home = (id: string): Home => {
      const current = this.#homes.get(id)
      if (!homesBefore.has(id)) {
        homesBefore.set(id, current && { service: current.service, checks: new Map(current.checks) })
      }
      if (current !== undefined) return current
      const created: Home = { service: null, checks: new Map() }
      this.#homes.set(id, created)
      return created
    }
    const setPlace = (id: string, at: string | null | undefined): void => {
      if (!placesBefore.has(id)) placesBefore.set(id, this.#checkHome.get(id))
      if (at === undefined) this.#checkHome.delete(id)
      else this.#checkHome.set(id, at)
    }
    const removeCheck = (id: string): void => {
      const at = this.#checkHome.get(id)
      if (at === undefined || at === null) {
        // Node level, or not in the mirror (e.g. the file of a failed write): remove its file.
        nodeWrites.delete(id)
        unlinks.add(this.#path(CHECKS, id))
      } else {
        home(at).checks.delete(id)
        lost.add(at)
      }
      setPlace(id, undefined)
    }
    for (const change of changes) {
      switch (change.op) {
        case 'saveService': {
          const id = change.entry.service.id
          home(id).service = encodeServiceEntry(change.entry)
          gained.add(id)
          break
        }
        case 'deleteService':
          if (this.#homes.has(change.id)) {
            home(change.id).service = null
            lost.add(change.id)
          } else {
            unlinks.add(this.#path(SERVICES, change.id))
          }
          break
        case 'saveCheck': {
          const id = change.entry.check.checkId
          const at = change.entry.check.serviceId === '' ? null : change.entry.check.serviceId
          if (this.#checkHome.get(id) !== at) removeCheck(id)
          const entry = encodeCheckEntry(change.entry)
          if (at === null) {
            unlinks.delete(this.#path(CHECKS, id))
            nodeWrites.set(id, entry)
          } else {
            home(at).checks.set(id, entry)
            gained.add(at)
          }
          setPlace(id, at)
          break
        }
        case 'deleteCheck':
          removeCheck(change.id)
          unlinks.add(this.#path(CHECK_STATE, change.id))
          break
      }
    }
    const first: FileOp[] = []
    const second: FileOp[] = []
    for (const id of new Set([...gained, ...lost])) {
      ;(gained.has(id) ? first : second).push(this.#homeOp(id, seq))
    }
    for (const [id, entry] of nodeWrites) first.push(this.#nodeCheckOp(id, entry, seq))
    for (const path of unlinks) second.push({ kind: 'unlink', path, data: '' })
    const revert = (): void => {
      for (const [id, before] of homesBefore) {
        if (before === undefined) this.#homes.delete(id)
        else this.#homes.set(id, before)
      }
      for (const [id, at] of placesBefore) {
        if (at === undefined) this.#checkHome.delete(id)
        else this.#checkHome.set(id, at)
      }
    }
    return { steps: [first, second], revert }
  }

  /** Writes the file of service ID `id` from the mirror, or removes it once it holds nothing. */
  #homeOp(id: string, seq: number): FileOp {
    const path = this.#path(SERVICES, id)
    const home = this.#homes.get(id)
    if (home === undefined || (home.service === null && home.checks.size === 0)) {
      this.#homes.delete(id)
      return { kind: 'unlink', path, data: '' }
    }
    const data = JSON.stringify({
      Format: FORMAT,
      Seq: seq,
      ServiceID: id,
      ...(home.service ?? { Service: null }),
      Checks: [...home.checks.values()],
    })
    return { kind: 'write', path, data }
  }

  #nodeCheckOp(id: string, entry: Entry, seq: number): FileOp {
    return {
      kind: 'write',
      path: this.#path(CHECKS, id),
      data: JSON.stringify({ Format: FORMAT, Seq: seq, ...entry }),
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

  /**
   * The JSON objects in `<data-dir>/<sub>`, in name order. Leftover temp files are removed;
   * directories are skipped; a file that is not a JSON object is moved aside.
   */
  async #readAll(sub: string): Promise<{ path: string; value: Record<string, unknown> }[]> {
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
    const results = new Array<{ path: string; value: Record<string, unknown> } | undefined>(names.length)
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
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        value = undefined
      }
      if (isRecord(value)) results[index] = { path, value }
      else await this.#quarantine(path, sub)
    }
    await Promise.all(
      Array.from({ length: Math.min(READ_CONCURRENCY, names.length) }, async () => {
        while (next < names.length) await readOne(next++)
      }),
    )
    return results.filter((v) => v !== undefined)
  }

  /** Moves a file that cannot be read aside to `<data-dir>/corrupt/`, and logs it. */
  async #quarantine(path: string, sub: string): Promise<void> {
    const name = basename(path)
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

function isSource(v: unknown): v is PersistedService['source'] {
  return v === 'remote' || v === 'local'
}

/** A format-1 service file (vigil's record); the shape is checked, the content is re-encoded. */
function decodeServiceV1(v: Record<string, unknown>): PersistedService | undefined {
  if (!isRecord(v['service']) || !isSource(v['source'])) return undefined
  const service = v['service'] as unknown as Service
  if (typeof service.id !== 'string' || typeof service.name !== 'string') return undefined
  return { service, token: typeof v['token'] === 'string' ? v['token'] : '', source: v['source'] }
}

/** A format-1 check file (vigil's record); the shape is checked, the content is re-encoded. */
function decodeCheckV1(v: Record<string, unknown>): PersistedCheck | undefined {
  if (!isRecord(v['check']) || !isRecord(v['definition']) || !isSource(v['source'])) return undefined
  const check = v['check'] as unknown as HealthCheck
  const definition = v['definition'] as unknown as CheckDefinition
  if (typeof check.checkId !== 'string' || typeof check.serviceId !== 'string') return undefined
  if (typeof definition.type !== 'string') return undefined
  return { check, definition, token: typeof v['token'] === 'string' ? v['token'] : '', source: v['source'] }
}

function decodeTtlState(v: Record<string, unknown>): PersistedTtlState | undefined {
  if (v['Format'] !== FORMAT && v['Format'] !== FORMAT_V1) return undefined
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
