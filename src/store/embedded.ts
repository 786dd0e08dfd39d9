import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Clock } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import { encodeFrame, FRAME_HEADER, frameAt } from './frame.js'
import { KvState, type JournalRecord, type StateCapture, type StateSnapshot } from './kv-state.js'
import { MemoryStore, type Journal } from './memory.js'
import { readSnapshot, writeSnapshot, type SnapshotSource } from './snapshot-file.js'
import { nodeStoreFs, type LogHandle, type StoreFs } from './store-fs.js'
import type { WatchBatch } from './store.js'

/**
 * The embedded store (DESIGN.md "Storage", docs/store.md): the state lives in memory
 * (KvState behind a MemoryStore) and every change is appended to a write-ahead log before it is
 * acknowledged. Concurrent writes share one durable write (group commit). When the log grows
 * past `snapshotBytes` a new log generation starts and the state as of its start is written to a
 * snapshot behind it, while commits go on into the new log.
 *
 * Files in the directory, `N` a generation number:
 *   LOCK        the pid of the process that has the store open
 *   snap-N      the state up to the start of wal-N (absent for generation 0); snapshot-file.ts
 *   wal-N       frames appended since the start of generation N, up to the start of wal-(N+1)
 *   *.tmp       a log or snapshot being prepared: never trusted, removed at open
 * A frame (frame.ts) is [u32 LE payload length][u32 LE crc32 of payload][payload]; a log frame's
 * payload is a JSON array of records. The log is preallocated with zeros in chunks of
 * `preallocateBytes`, so that a commit's O_DSYNC write syncs data only, not the file's size
 * (measured in docs/store.md); a zero length marks the end of the log.
 *
 * A new generation, N to N+1, one at a time:
 *   1. wal-(N+1).tmp is created and preallocated, while commits go on into wal-N;
 *   2. at the end of the next commit (wal-N complete, no write in flight) the log switches:
 *      the state is captured (KvState.capture, no copy) and commits go into the new file, each
 *      acknowledged only once 3. is done;
 *   3. wal-(N+1).tmp is renamed to wal-(N+1) and the directory synced: the name is durable, and
 *      so every log but the newest is complete;
 *   4. the capture is written to snap-(N+1).tmp a frame at a time, synced, renamed to snap-(N+1),
 *      and the directory synced;
 *   5. generation N (and anything older) is removed.
 * A log passing `snapshotBytes` while this runs waits for it to finish.
 *
 * Recovery: the newest snapshot snap-G must be intact (it was synced before it was renamed into
 * place); then every log from wal-G on is replayed in order: wal-G alone, or wal-G and
 * wal-(G+1) after a crash or a close during 3. to 5. (more after repeated ones). A log must exist
 * for each generation from G to the newest. In the newest log, a bad frame with no intact frame
 * after it is the torn tail of the last write, which was never acknowledged: it is cut. A bad
 * frame followed by an intact one, or any bad frame in an older (complete) log, is corruption
 * of acknowledged data: the store refuses to open. After an open that replayed more than one
 * log, the first commit begins a new generation.
 */

/** Where the store reports what it cannot tell a caller (a failed snapshot, a stale lock). */
export interface StoreLogger {
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface EmbeddedStoreOptions {
  readonly clock: Clock
  readonly fs?: StoreFs
  readonly logger?: StoreLogger
  /** Start a new log generation once the log is larger than this (default 64 MiB). */
  readonly snapshotBytes?: number
  /** About how much JSON one snapshot frame holds (default 256 KiB). */
  readonly snapshotChunkBytes?: number
  /** How many recent revisions a watch can start from (default 10,000). */
  readonly historyRevisions?: number
  /** The log grows by this many zeroed bytes at a time (default 4 MiB). */
  readonly preallocateBytes?: number
  /** Whether a process holding the lock is alive (default: signal 0). */
  readonly processAlive?: (pid: number) => boolean
}

/** The data dir cannot be used: locked by another process, corrupt, or unreadable. */
export class StoreOpenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'StoreOpenError'
  }
}

const DEFAULT_SNAPSHOT_BYTES = 64 * 2 ** 20
const DEFAULT_SNAPSHOT_CHUNK_BYTES = 256 * 2 ** 10
const DEFAULT_PREALLOCATE_BYTES = 4 * 2 ** 20
/**
 * A snapshot being written is synced every this many bytes: one sync of a whole large snapshot
 * at the end held the log's commits behind it (docs/store.md, measurements).
 */
const SNAPSHOT_SYNC_BYTES = 16 * 2 ** 20
/** How many keys changed during a snapshot are folded back into the state per turn of the loop. */
const FOLD_KEYS = 4096
/** Every log write is durable when it returns (O_DSYNC): a commit is one write. */
const LOG_FLAGS = { dsync: true } as const

/** Directories open in this process, per file system (a pid lock cannot tell them apart). */
const openHere = new WeakMap<StoreFs, Set<string>>()

export interface LogScan {
  readonly frames: Buffer[]
  /** Where the intact frames end: the next frame goes there. */
  readonly end: number
  /** Bytes in [end, dirtyEnd) are the torn last write and must be zeroed. */
  readonly dirtyEnd: number
}

/** Splits a log into frames; throws StoreOpenError on corruption before the tail. */
export function scanLog(buf: Buffer, file: string): LogScan {
  const frames: Buffer[] = []
  let off = 0
  while (off < buf.length) {
    const body = frameAt(buf, off)
    if (body === undefined) break
    frames.push(body)
    off += FRAME_HEADER + body.length
  }
  let last = buf.length - 1
  while (last >= off && buf[last] === 0) last--
  if (last < off) return { frames, end: off, dirtyEnd: off }
  for (let p = off + 1; p + FRAME_HEADER < buf.length; p++) {
    if (frameAt(buf, p) !== undefined) {
      throw new StoreOpenError(
        `Store log ${file} is corrupt at byte ${off} of ${buf.length} (intact data follows at byte ${p}); ` +
          'refusing to start: restore the data dir from a backup or remove it',
      )
    }
  }
  return { frames, end: off, dirtyEnd: last + 1 }
}

function generationFiles(names: readonly string[], prefix: string): number[] {
  const out: number[] = []
  for (const n of names) {
    if (!n.startsWith(prefix)) continue
    const g = Number(n.slice(prefix.length))
    if (Number.isSafeInteger(g) && g >= 0 && `${prefix}${g}` === n) out.push(g)
  }
  return out.sort((a, b) => a - b)
}

function defaultProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Writes `source` to `path` a frame at a time and syncs it; the entry is not synced. */
async function writeSnapshotFile(
  fs: StoreFs,
  path: string,
  source: SnapshotSource,
  opts: { readonly chunkBytes: number; readonly signal?: AbortSignal },
): Promise<void> {
  const file = await fs.createFile(path)
  try {
    await writeSnapshot(file, source, { ...opts, syncEveryBytes: SNAPSHOT_SYNC_BYTES })
    await file.sync()
  } finally {
    await file.close()
  }
}

/** What the switch to a new log generation hands to the rollover that prepared it. */
interface Switched {
  readonly capture: StateCapture
  readonly state: KvState
  /** The previous log: complete, no write in flight. */
  readonly previous: LogHandle
}

/** The next generation's log, preallocated under its temporary name. */
interface PreparedLog {
  readonly wal: LogHandle
  readonly allocated: number
  /** Called at the switch; with undefined when the store closes first. */
  readonly switched: (s: Switched | undefined) => void
}

interface LogJournalOptions {
  readonly dir: string
  readonly fs: StoreFs
  readonly logger: StoreLogger | undefined
  readonly snapshotBytes: number
  readonly snapshotChunkBytes: number
  readonly preallocateBytes: number
  readonly generation: number
  readonly wal: LogHandle
  /** Where the next frame goes. */
  readonly pos: number
  /** The file's length: zeros from `pos` on. */
  readonly allocated: number
  /** Start a new generation at the first commit (the open replayed more than one log). */
  readonly due: boolean
  readonly release: () => Promise<void>
}

/**
 * The write-ahead log and its generations. Commits come one at a time (Journal); a rollover to
 * the next generation runs beside them, and only the switch between two commits is shared.
 */
class LogJournal implements Journal {
  readonly #o: LogJournalOptions
  #generation: number
  #wal: LogHandle
  #pos: number
  #allocated: number
  /** Resolves once the current log's name is durable; its commits are acknowledged after it. */
  #named: Promise<void> = Promise.resolve()
  /** The next log, ready: the end of the next commit switches to it. */
  #next: PreparedLog | undefined
  /** The rollover in flight (it never rejects). */
  #rollover: Promise<void> | undefined
  #due: boolean
  /** Set when a rollover failed: every later commit fails with it. */
  #failed: Error | undefined
  readonly #closing = new AbortController()

  constructor(o: LogJournalOptions) {
    this.#o = o
    this.#generation = o.generation
    this.#wal = o.wal
    this.#pos = o.pos
    this.#allocated = o.allocated
    this.#due = o.due
  }

  async commit(records: readonly JournalRecord[], state: KvState): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed
    const frame = encodeFrame(JSON.stringify(records))
    if (this.#pos + frame.length > this.#allocated) await this.#grow(frame.length)
    await this.#wal.write(frame, this.#pos)
    this.#pos += frame.length
    await this.#named
    if (this.#next !== undefined) this.#switch(state)
    else if (this.#rollover === undefined && (this.#due || this.#pos >= this.#o.snapshotBytes)) {
      this.#due = false
      this.#rollover = this.#roll()
    }
  }

  /** Stops a rollover in flight (its files are left for the next open to remove). */
  async close(): Promise<void> {
    this.#closing.abort()
    this.#next?.switched(undefined)
    this.#next = undefined
    await this.#rollover
    await this.#wal.close()
    await this.#o.release()
  }

  /** Appends zeros (durably) so that at least `need` bytes are free after #pos. */
  async #grow(need: number): Promise<void> {
    const grow = Math.max(this.#o.preallocateBytes, this.#pos + need - this.#allocated)
    await this.#wal.write(Buffer.alloc(grow), this.#allocated)
    this.#allocated += grow
  }

  /** Preallocates the log before the first commit, so that no commit waits for it. */
  async prepare(): Promise<void> {
    if (this.#allocated - this.#pos >= this.#o.preallocateBytes / 2) return
    await this.#grow(this.#o.preallocateBytes)
  }

  /** Between two commits: the prepared log becomes the current one; step 2 of the file comment. */
  #switch(state: KvState): void {
    const next = this.#next
    if (next === undefined) return
    this.#next = undefined
    const previous = this.#wal
    this.#generation++
    this.#wal = next.wal
    this.#pos = 0
    this.#allocated = next.allocated
    const wal = join(this.#o.dir, `wal-${this.#generation}`)
    const named = (async () => {
      await this.#o.fs.rename(`${wal}.tmp`, wal)
      await this.#o.fs.syncDir(this.#o.dir)
    })()
    // Awaited by the rollover and by every commit into the new log; a failure fails both.
    named.catch(() => undefined)
    this.#named = named
    next.switched({ capture: state.capture(), state, previous })
  }

  /** One new generation, steps 1 to 5 of the file comment; a failure fails the journal. */
  async #roll(): Promise<void> {
    const { dir, fs } = this.#o
    const signal = this.#closing.signal
    const generation = this.#generation + 1
    const wal = join(dir, `wal-${generation}`)
    const snap = join(dir, `snap-${generation}`)
    let prepared: LogHandle | undefined
    let capture: StateCapture | undefined
    try {
      prepared = await fs.openLog(`${wal}.tmp`, LOG_FLAGS)
      await prepared.write(Buffer.alloc(this.#o.preallocateBytes), 0)
      signal.throwIfAborted()
      const log = prepared
      const switched = await new Promise<Switched | undefined>((resolve) => {
        this.#next = { wal: log, allocated: this.#o.preallocateBytes, switched: resolve }
      })
      if (switched === undefined) return
      prepared = undefined
      capture = switched.capture
      await switched.previous.close()
      await this.#named
      await writeSnapshotFile(fs, `${snap}.tmp`, capture, { chunkBytes: this.#o.snapshotChunkBytes, signal })
      await fs.rename(`${snap}.tmp`, snap)
      await fs.syncDir(dir)
      capture.release()
      capture = undefined
      while (!switched.state.fold(FOLD_KEYS) && !signal.aborted) await nextTurn()
      const names = await fs.readdir(dir)
      for (const prefix of ['wal-', 'snap-'])
        for (const g of generationFiles(names, prefix))
          if (g < generation) await fs.unlink(join(dir, `${prefix}${g}`))
    } catch (err) {
      if (signal.aborted) return
      this.#failed = new Error(`writing store snapshot snap-${generation} failed: ${errorMessage(err)}`, {
        cause: err,
      })
      this.#o.logger?.error(
        { dir, generation, error: errorMessage(err) },
        'Writing the store snapshot failed; the store is unavailable until it is reopened',
      )
    } finally {
      capture?.release()
      await prepared?.close().catch(() => undefined)
      this.#rollover = undefined
    }
  }
}

/** Opens (creating when needed) the embedded store in `dir`. */
export async function openEmbeddedStore(dir: string, opts: EmbeddedStoreOptions): Promise<MemoryStore> {
  const fs = opts.fs ?? nodeStoreFs
  const release = await holdDir(dir, fs, opts)
  try {
    return await recover(dir, fs, opts, release)
  } catch (err) {
    await release()
    if (err instanceof StoreOpenError) throw err
    throw new StoreOpenError(`Failed to open store data dir ${dir}: ${errorMessage(err)}`, { cause: err })
  }
}

/**
 * Creates `dir` when needed and takes it: refused when this process or another (its LOCK file)
 * holds it. Resolves with the release.
 */
async function holdDir(
  dir: string,
  fs: StoreFs,
  opts: Pick<EmbeddedStoreOptions, 'processAlive' | 'logger'>,
): Promise<() => Promise<void>> {
  const held = openHere.get(fs) ?? new Set<string>()
  openHere.set(fs, held)
  if (held.has(dir)) throw new StoreOpenError(`Store data dir ${dir} is already open in this process`)
  try {
    await fs.mkdir(dir)
  } catch (err) {
    throw new StoreOpenError(`Failed to create store data dir ${dir}: ${errorMessage(err)}`, { cause: err })
  }
  await lock(dir, fs, opts)
  held.add(dir)
  return async () => {
    held.delete(dir)
    await fs.unlink(join(dir, 'LOCK')).catch(() => undefined)
  }
}

async function lock(
  dir: string,
  fs: StoreFs,
  opts: Pick<EmbeddedStoreOptions, 'processAlive' | 'logger'>,
): Promise<void> {
  const path = join(dir, 'LOCK')
  const alive = opts.processAlive ?? defaultProcessAlive
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.createExclusive(path, Buffer.from(`${process.pid}\n`))
      await fs.syncDir(dir)
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StoreOpenError(`Failed to lock store data dir ${dir}: ${errorMessage(err)}`, { cause: err })
      }
    }
    const holder = Number((await fs.readFile(path).catch(() => Buffer.from(''))).toString('utf8').trim())
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new StoreOpenError(
        `Store data dir ${dir} is in use by another process (pid ${holder}); stop it or choose another data dir`,
      )
    }
    opts.logger?.warn(
      { file: path, pid: holder },
      'Removing a stale store lock left by a process that is gone',
    )
    await fs.unlink(path).catch(() => undefined)
  }
  throw new StoreOpenError(`Failed to lock store data dir ${dir}`)
}

/** The newest snapshot's state; a damaged file refuses the open. */
async function loadSnapshot(fs: StoreFs, file: string): Promise<KvState> {
  const buf = await fs.readFile(file)
  try {
    return new KvState(readSnapshot(buf))
  } catch (err) {
    throw new StoreOpenError(
      `Store snapshot ${file} is corrupt (${errorMessage(err)}); refusing to start: restore the data dir from a backup`,
      { cause: err },
    )
  }
}

async function recover(
  dir: string,
  fs: StoreFs,
  opts: EmbeddedStoreOptions,
  release: () => Promise<void>,
): Promise<MemoryStore> {
  const names = await fs.readdir(dir)
  for (const n of names) if (n.endsWith('.tmp')) await fs.unlink(join(dir, n))
  const snaps = generationFiles(names, 'snap-')
  const wals = generationFiles(names, 'wal-')
  const base = snaps.at(-1) ?? 0
  const state = base > 0 ? await loadSnapshot(fs, join(dir, `snap-${base}`)) : new KvState()
  const logs = wals.filter((g) => g >= base)
  for (const [i, g] of logs.entries()) {
    if (g !== base + i) {
      throw new StoreOpenError(
        `Store data dir ${dir} lacks the log wal-${base + i} (snap-${base} is followed by ${logs.map((l) => `wal-${l}`).join(', ')}); ` +
          'refusing to start: restore the data dir from a backup',
      )
    }
  }
  const generation = logs.at(-1) ?? base
  const historyRevisions = opts.historyRevisions ?? 10_000
  const history: WatchBatch[] = []
  let allocated = 0
  let scan: LogScan = { frames: [], end: 0, dirtyEnd: 0 }
  for (const g of logs) {
    const path = join(dir, `wal-${g}`)
    const buf = await fs.readFile(path)
    scan = scanLog(buf, path)
    allocated = buf.length
    if (g !== generation && scan.dirtyEnd > scan.end) {
      throw new StoreOpenError(
        `Store log ${path} is corrupt at byte ${scan.end} of ${buf.length} (a newer log, wal-${g + 1}, follows it); ` +
          'refusing to start: restore the data dir from a backup or remove it',
      )
    }
    for (const frame of scan.frames) {
      for (const rec of JSON.parse(frame.toString('utf8')) as JournalRecord[]) {
        const batch = state.replay(rec)
        if (batch === undefined) continue
        history.push(batch)
        if (history.length > 2 * historyRevisions) history.splice(0, history.length - historyRevisions)
      }
    }
  }
  const walPath = join(dir, `wal-${generation}`)
  const wal = await fs.openLog(walPath, LOG_FLAGS)
  try {
    if (scan.dirtyEnd > scan.end) {
      opts.logger?.warn(
        { file: walPath, at: scan.end, dropped: scan.dirtyEnd - scan.end },
        'Cutting the torn tail of the store log (a write that was never acknowledged)',
      )
      await wal.write(Buffer.alloc(scan.dirtyEnd - scan.end), scan.end)
    }
    await fs.syncDir(dir)
    for (const g of wals) if (g < base) await fs.unlink(join(dir, `wal-${g}`))
    for (const g of snaps) if (g < base) await fs.unlink(join(dir, `snap-${g}`))
  } catch (err) {
    await wal.close().catch(() => undefined)
    throw err
  }
  const journal = new LogJournal({
    dir,
    fs,
    logger: opts.logger,
    snapshotBytes: opts.snapshotBytes ?? DEFAULT_SNAPSHOT_BYTES,
    snapshotChunkBytes: opts.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES,
    preallocateBytes: opts.preallocateBytes ?? DEFAULT_PREALLOCATE_BYTES,
    generation,
    wal,
    pos: scan.end,
    allocated,
    due: logs.length > 1,
    release,
  })
  try {
    await journal.prepare()
  } catch (err) {
    await wal.close().catch(() => undefined)
    throw err
  }
  return new MemoryStore({
    clock: opts.clock,
    journal,
    state,
    history,
    ...(opts.historyRevisions !== undefined ? { historyRevisions: opts.historyRevisions } : {}),
  })
}

/**
 * Creates the store in `dir` holding `state` (a restored snapshot): written to `snap-1.tmp`,
 * synced, renamed to `snap-1` and the directory synced, so a crash leaves either no store or the
 * whole state (a leftover `.tmp` is removed at the next open). Refused when `dir` already holds a
 * store's snapshot or log, or another process has it open.
 */
export async function createEmbeddedStore(
  dir: string,
  state: StateSnapshot,
  opts: Pick<EmbeddedStoreOptions, 'fs' | 'logger' | 'processAlive' | 'snapshotChunkBytes'> = {},
): Promise<void> {
  const fs = opts.fs ?? nodeStoreFs
  const release = await holdDir(dir, fs, opts)
  try {
    const names = await fs.readdir(dir)
    const used = names.filter((n) => /^(snap|wal)-\d+$/.test(n))
    if (used.length > 0) {
      throw new StoreOpenError(
        `Store data dir ${dir} already holds a catalog (${used.sort().join(', ')}); restore into an empty data dir`,
      )
    }
    const snap = join(dir, 'snap-1')
    await writeSnapshotFile(fs, `${snap}.tmp`, state, {
      chunkBytes: opts.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES,
    })
    await fs.rename(`${snap}.tmp`, snap)
    await fs.syncDir(dir)
  } finally {
    await release()
  }
}
