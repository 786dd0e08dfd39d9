import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { Clock } from '../lib/clock.js'
import { errorMessage } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { KvState, type JournalRecord, type StateSnapshot } from './kv-state.js'
import { MemoryStore, type Journal } from './memory.js'
import { nodeStoreFs, type LogHandle, type StoreFs } from './store-fs.js'
import type { WatchBatch } from './store.js'

/**
 * The embedded store (DESIGN.md "Storage", docs/store.md): the state lives in memory
 * (KvState behind a MemoryStore) and every change is appended to a write-ahead log before it is
 * acknowledged. Concurrent writes share one durable write (group commit). When the
 * log grows past `snapshotBytes` the whole state is written to a snapshot and a new log starts.
 *
 * Files in the directory, `N` a generation number:
 *   LOCK       the pid of the process that has the store open
 *   snap-N     the state up to the start of wal-N (absent for generation 0)
 *   wal-N      frames appended since snap-N
 * A frame is [u32 LE payload length][u32 LE crc32 of payload][payload: JSON array of records];
 * a snapshot file is one frame holding the state. The log is preallocated with zeros in chunks
 * of `preallocateBytes`, so that a commit's O_DSYNC write syncs data only, not the file's size
 * (measured in docs/store.md); a zero length marks the end of the log.
 *
 * Recovery: the newest snapshot must be intact (it was synced before it was renamed into place);
 * the log is replayed frame by frame. A bad frame with no intact frame after it is the torn
 * tail of the last write, which was never acknowledged: it is cut. A bad frame followed by an
 * intact one is corruption of acknowledged data: the store refuses to open.
 */

export interface EmbeddedStoreOptions {
  readonly clock: Clock
  readonly fs?: StoreFs
  readonly logger?: Logger
  /** Start a new log generation once the log is larger than this (default 64 MiB). */
  readonly snapshotBytes?: number
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

const HEADER = 8
const DEFAULT_SNAPSHOT_BYTES = 64 * 2 ** 20
const DEFAULT_PREALLOCATE_BYTES = 4 * 2 ** 20
/** Every log write is durable when it returns (O_DSYNC): a commit is one write. */
const LOG_FLAGS = { dsync: true } as const

/** Directories open in this process, per file system (a pid lock cannot tell them apart). */
const openHere = new WeakMap<StoreFs, Set<string>>()

export function encodeFrame(payload: string): Buffer {
  // The payload is encoded straight into the frame: one buffer, no copy (a snapshot's payload is
  // the whole state, hundreds of MB for a large catalog).
  const length = Buffer.byteLength(payload, 'utf8')
  const frame = Buffer.allocUnsafe(HEADER + length)
  frame.write(payload, HEADER, length, 'utf8')
  frame.writeUInt32LE(length, 0)
  frame.writeUInt32LE(crc32(frame.subarray(HEADER)), 4)
  return frame
}

/** The frame at `off` when it is intact, else undefined. */
function frameAt(buf: Buffer, off: number): Buffer | undefined {
  if (buf.length - off < HEADER) return undefined
  const len = buf.readUInt32LE(off)
  if (len === 0 || off + HEADER + len > buf.length) return undefined
  const body = buf.subarray(off + HEADER, off + HEADER + len)
  return crc32(body) === buf.readUInt32LE(off + 4) ? body : undefined
}

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
    off += HEADER + body.length
  }
  let last = buf.length - 1
  while (last >= off && buf[last] === 0) last--
  if (last < off) return { frames, end: off, dirtyEnd: off }
  for (let p = off + 1; p + HEADER < buf.length; p++) {
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

class LogJournal implements Journal {
  #generation: number
  #wal: LogHandle
  /** Where the next frame goes. */
  #pos: number
  /** The file's length: zeros from #pos on. */
  #allocated: number

  constructor(
    readonly dir: string,
    readonly fs: StoreFs,
    readonly snapshotBytes: number,
    readonly preallocateBytes: number,
    generation: number,
    wal: LogHandle,
    pos: number,
    allocated: number,
    readonly release: () => Promise<void>,
  ) {
    this.#generation = generation
    this.#wal = wal
    this.#pos = pos
    this.#allocated = allocated
  }

  async commit(records: readonly JournalRecord[], state: KvState): Promise<void> {
    const frame = encodeFrame(JSON.stringify(records))
    if (this.#pos + frame.length > this.#allocated) await this.#grow(frame.length)
    await this.#wal.write(frame, this.#pos)
    this.#pos += frame.length
    if (this.#pos >= this.snapshotBytes) await this.#snapshot(state.snapshot())
  }

  async close(): Promise<void> {
    await this.#wal.close()
    await this.release()
  }

  /** Appends zeros (durably) so that at least `need` bytes are free after #pos. */
  async #grow(need: number): Promise<void> {
    const grow = Math.max(this.preallocateBytes, this.#pos + need - this.#allocated)
    await this.#wal.write(Buffer.alloc(grow), this.#allocated)
    this.#allocated += grow
  }

  /** Preallocates the log before the first commit, so that no commit waits for it. */
  async prepare(): Promise<void> {
    if (this.#allocated - this.#pos >= this.preallocateBytes / 2) return
    await this.#grow(this.preallocateBytes)
  }

  /** Writes the state as snap-(N+1), starts wal-(N+1), then removes generation N. */
  async #snapshot(snapshot: StateSnapshot): Promise<void> {
    const old = this.#generation
    const next = old + 1
    const snap = join(this.dir, `snap-${next}`)
    await this.fs.writeSynced(`${snap}.tmp`, encodeFrame(JSON.stringify(snapshot)))
    await this.fs.rename(`${snap}.tmp`, snap)
    const wal = await this.fs.openLog(join(this.dir, `wal-${next}`), LOG_FLAGS)
    const previous = this.#wal
    this.#wal = wal
    this.#pos = 0
    this.#allocated = 0
    this.#generation = next
    await this.prepare()
    // One directory sync makes both the snapshot's name and the new log durable before the old
    // generation is removed; if only the log's entry survives a crash it holds only zeros.
    await this.fs.syncDir(this.dir)
    await previous.close()
    await this.fs.unlink(join(this.dir, `wal-${old}`))
    if (old > 0) await this.fs.unlink(join(this.dir, `snap-${old}`))
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

async function recover(
  dir: string,
  fs: StoreFs,
  opts: EmbeddedStoreOptions,
  release: () => Promise<void>,
): Promise<MemoryStore> {
  const names = await fs.readdir(dir)
  for (const n of names) if (n.endsWith('.tmp')) await fs.unlink(join(dir, n))
  const snaps = generationFiles(names, 'snap-')
  const generation = snaps.at(-1) ?? 0
  let state = new KvState()
  if (generation > 0) {
    const file = join(dir, `snap-${generation}`)
    const buf = await fs.readFile(file)
    const body = frameAt(buf, 0)
    if (body === undefined || HEADER + body.length !== buf.length) {
      throw new StoreOpenError(
        `Store snapshot ${file} is corrupt; refusing to start: restore the data dir from a backup`,
      )
    }
    state = new KvState(JSON.parse(body.toString('utf8')) as StateSnapshot)
  }
  const walPath = join(dir, `wal-${generation}`)
  const historyRevisions = opts.historyRevisions ?? 10_000
  const history: WatchBatch[] = []
  let end = 0
  let allocated = 0
  let scan: LogScan = { frames: [], end: 0, dirtyEnd: 0 }
  if (names.includes(`wal-${generation}`)) {
    const buf = await fs.readFile(walPath)
    scan = scanLog(buf, walPath)
    allocated = buf.length
    for (const frame of scan.frames) {
      for (const rec of JSON.parse(frame.toString('utf8')) as JournalRecord[]) {
        const batch = state.replay(rec)
        if (batch === undefined) continue
        history.push(batch)
        if (history.length > 2 * historyRevisions) history.splice(0, history.length - historyRevisions)
      }
    }
    end = scan.end
  }
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
    for (const g of generationFiles(names, 'wal-'))
      if (g !== generation) await fs.unlink(join(dir, `wal-${g}`))
    for (const g of snaps) if (g < generation) await fs.unlink(join(dir, `snap-${g}`))
  } catch (err) {
    await wal.close().catch(() => undefined)
    throw err
  }
  const journal = new LogJournal(
    dir,
    fs,
    opts.snapshotBytes ?? DEFAULT_SNAPSHOT_BYTES,
    opts.preallocateBytes ?? DEFAULT_PREALLOCATE_BYTES,
    generation,
    wal,
    end,
    allocated,
    release,
  )
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
  opts: Pick<EmbeddedStoreOptions, 'fs' | 'logger' | 'processAlive'> = {},
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
    await fs.writeSynced(`${snap}.tmp`, encodeFrame(JSON.stringify(state)))
    await fs.rename(`${snap}.tmp`, snap)
    await fs.syncDir(dir)
  } finally {
    await release()
  }
}
