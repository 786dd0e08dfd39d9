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
 * crash at any moment leaves either the old or the new file. A second agent on the same dir is
 * refused through a lock file.
 *
 * Concurrency contract: writes of one object are serialized by the caller (the agent's lock for
 * services and checks; a per-check queue for TTL state). Methods throw PersistenceError with the
 * file and the cause; nothing in memory changes here.
 */
export class AgentStore {
  readonly dir: string
  readonly #fs: FsPort
  readonly #log: RunnerLogger
  #locked = false

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
      await this.#writeAtomic(path, configured, true)
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
    await this.#writeAtomic(path, id, true)
    return id
  }

  saveService(entry: PersistedService): Promise<void> {
    return this.#writeAtomic(this.#path(SERVICES, entry.service.id), encode(entry), true)
  }

  deleteService(id: string): Promise<void> {
    return this.#delete(this.#path(SERVICES, id))
  }

  saveCheck(entry: PersistedCheck): Promise<void> {
    return this.#writeAtomic(this.#path(CHECKS, entry.check.checkId), encode(entry), true)
  }

  /** Deletes a check's file and its TTL state. */
  async deleteCheck(id: string): Promise<void> {
    await this.#delete(this.#path(CHECKS, id))
    await this.#delete(this.#path(CHECK_STATE, id))
  }

  /** TTL state; written with rename but, like Consul, without fsync (survives process crashes). */
  saveTtlState(state: PersistedTtlState): Promise<void> {
    return this.#writeAtomic(this.#path(CHECK_STATE, state.checkId), encode(state), false)
  }

  deleteTtlState(id: string): Promise<void> {
    return this.#delete(this.#path(CHECK_STATE, id))
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

  async #writeAtomic(path: string, data: string, durable: boolean): Promise<void> {
    const tmp = `${path}-${randomUUID()}.tmp`
    try {
      const fh = await this.#fs.open(tmp, 'w', 0o600)
      try {
        await fh.writeFile(data)
        if (durable) await fh.sync()
      } finally {
        await fh.close()
      }
      await this.#fs.rename(tmp, path)
      if (durable) await this.#syncDir(dirname(path))
    } catch (err) {
      await this.#fs.unlink(tmp).catch(() => undefined)
      throw new PersistenceError(`Failed to persist ${path}: ${errorMessage(err)}`, { cause: err })
    }
  }

  async #delete(path: string): Promise<void> {
    try {
      await this.#fs.unlink(path)
    } catch (err) {
      if (isNotFound(err)) return
      throw new PersistenceError(`Failed to remove ${path}: ${errorMessage(err)}`, { cause: err })
    }
    try {
      await this.#syncDir(dirname(path))
    } catch (err) {
      throw new PersistenceError(`Failed to sync ${dirname(path)}: ${errorMessage(err)}`, { cause: err })
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
