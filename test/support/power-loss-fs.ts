import { dirname } from 'node:path'
import type { LogHandle, StoreFs } from '../../src/store/store-fs.js'

interface Inode {
  data: Buffer
  /** The bytes a power loss keeps: what the last sync saw. */
  synced: Buffer
}

/** The error every operation fails with once the power is out. */
export class PowerLostError extends Error {
  constructor() {
    super('power lost')
    this.name = 'PowerLostError'
  }
}

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${syscall} '${path}'`)
  err.code = code
  return err
}

/** How the unsynced part of a file (its last write) looks after the power loss. */
export type TornTail = 'none' | 'prefix' | 'zeros' | 'garbage'

/**
 * An in-memory StoreFs that models what a power loss keeps: file contents up to their last
 * sync (a write to a log opened with `dsync` is synced when it returns, any other file's bytes at
 * its handle's `sync`; the write in flight when the power goes may be torn), directory entries (creations, renames, unlinks) up to their directory's last
 * fsync. Directories themselves are durable at mkdir. After `cutPowerAfter(n)` operations every
 * operation fails; `reboot()` then returns the disk as it would be found at the next start,
 * with a possibly torn last write in each file: a prefix of the bytes from the first one that
 * differs from the synced file (the store writes one frame per sync, so that is its last write).
 */
export class PowerLossFs implements StoreFs {
  /** The namespace the running process sees. */
  readonly #entries: Map<string, Inode>
  /** The namespace on disk: what survives. */
  readonly #durable: Map<string, Inode>
  readonly #dirs: Set<string>
  #opsLeft = Infinity
  /** Counts mutating operations, to choose a crash point. */
  ops = 0
  /** Every mutating operation done, as `<op> <path>` (a test names the steps it crashes at). */
  readonly trace: string[] = []

  constructor(entries?: Map<string, Inode>, dirs?: Set<string>) {
    this.#entries = new Map(entries)
    this.#durable = new Map(entries)
    this.#dirs = new Set(dirs ?? ['/'])
  }

  /** The power goes out just before the (n+1)-th mutating operation from now. */
  cutPowerAfter(n: number): void {
    this.#opsLeft = n
  }

  get powerLost(): boolean {
    return this.#opsLeft <= 0
  }

  /** The disk at the next boot; `tail` chooses, per file, what is left of its unsynced bytes. */
  reboot(
    tail: (path: string, unsynced: number) => { keep: number; kind: TornTail } = () => ({
      keep: 0,
      kind: 'none',
    }),
  ): PowerLossFs {
    const kept = new Map<string, Inode>()
    for (const [path, inode] of this.#durable) {
      let data = inode.synced
      // The unsynced bytes: from the first byte that differs from the synced file to the end.
      let from = 0
      while (
        from < inode.data.length &&
        from < inode.synced.length &&
        inode.data[from] === inode.synced[from]
      )
        from++
      const unsynced = inode.data.length - from
      if (unsynced > 0) {
        const { keep, kind } = tail(path, unsynced)
        const n = Math.min(keep, unsynced)
        if (kind !== 'none' && n > 0) {
          const piece = Buffer.from(inode.data.subarray(from, from + n))
          if (kind === 'zeros') piece.fill(0)
          if (kind === 'garbage') for (let i = 0; i < piece.length; i += 7) piece[i] = (piece[i]! + 1) & 0xff
          data = Buffer.alloc(Math.max(inode.synced.length, from + n))
          inode.synced.copy(data)
          piece.copy(data, from)
        }
      }
      kept.set(path, { data, synced: data })
    }
    return new PowerLossFs(kept, this.#dirs)
  }

  /** The current bytes of a file (tests corrupt logs through `poke`). */
  peek(path: string): Buffer | undefined {
    return this.#entries.get(path)?.data
  }

  /** Replaces a file's bytes, durably (a bit flip on disk). */
  poke(path: string, data: Buffer): void {
    const inode = this.#entries.get(path)
    if (inode === undefined) throw errno('ENOENT', 'poke', path)
    inode.data = Buffer.from(data)
    inode.synced = inode.data
  }

  #step(op: string, path: string): void {
    if (this.#opsLeft <= 0) throw new PowerLostError()
    this.#opsLeft--
    this.ops++
    this.trace.push(`${op} ${path}`)
  }

  async mkdir(path: string): Promise<void> {
    this.#step('mkdir', path)
    for (let p = path; !this.#dirs.has(p); p = dirname(p)) this.#dirs.add(p)
    await Promise.resolve()
  }

  readdir(path: string): Promise<string[]> {
    if (this.powerLost) return Promise.reject(new PowerLostError())
    if (!this.#dirs.has(path)) return Promise.reject(errno('ENOENT', 'scandir', path))
    const prefix = `${path}/`
    return Promise.resolve(
      [...this.#entries.keys()].filter((p) => dirname(p) === path).map((p) => p.slice(prefix.length)),
    )
  }

  readFile(path: string): Promise<Buffer> {
    if (this.powerLost) return Promise.reject(new PowerLostError())
    const inode = this.#entries.get(path)
    return inode === undefined
      ? Promise.reject(errno('ENOENT', 'open', path))
      : Promise.resolve(Buffer.from(inode.data))
  }

  async createExclusive(path: string, data: Uint8Array): Promise<void> {
    this.#step('create', path)
    this.#parent(path)
    if (this.#entries.has(path)) throw errno('EEXIST', 'open', path)
    const bytes = Buffer.from(data)
    this.#entries.set(path, { data: bytes, synced: bytes })
    await Promise.resolve()
  }

  async openLog(path: string, opts: { readonly dsync: boolean }): Promise<LogHandle> {
    this.#step('open', path)
    this.#parent(path)
    let inode = this.#entries.get(path)
    if (inode === undefined) {
      inode = { data: Buffer.alloc(0), synced: Buffer.alloc(0) }
      this.#entries.set(path, inode)
    }
    await Promise.resolve()
    return this.#handle(path, inode, opts.dsync)
  }

  async createFile(path: string): Promise<LogHandle> {
    this.#step('create', path)
    this.#parent(path)
    let inode = this.#entries.get(path)
    if (inode === undefined) {
      inode = { data: Buffer.alloc(0), synced: Buffer.alloc(0) }
      this.#entries.set(path, inode)
    } else inode.data = Buffer.alloc(0)
    await Promise.resolve()
    return this.#handle(path, inode, false)
  }

  #handle(path: string, file: Inode, dsync: boolean): LogHandle {
    return {
      write: async (data, position) => {
        const next = Buffer.alloc(Math.max(file.data.length, position + data.length))
        file.data.copy(next)
        next.set(data, position)
        // The write that the power cuts is in flight: `reboot` may keep part of it.
        file.data = next
        this.#step('write', path)
        if (dsync) file.synced = file.data
        await Promise.resolve()
      },
      sync: async () => {
        this.#step('sync', path)
        file.synced = file.data
        await Promise.resolve()
      },
      close: () => Promise.resolve(),
    }
  }

  async rename(from: string, to: string): Promise<void> {
    this.#step('rename', `${from} ${to}`)
    const inode = this.#entries.get(from)
    if (inode === undefined) throw errno('ENOENT', 'rename', from)
    this.#entries.delete(from)
    this.#entries.set(to, inode)
    await Promise.resolve()
  }

  async unlink(path: string): Promise<void> {
    this.#step('unlink', path)
    if (!this.#entries.delete(path)) throw errno('ENOENT', 'unlink', path)
    await Promise.resolve()
  }

  async syncDir(path: string): Promise<void> {
    this.#step('syncdir', path)
    for (const p of [...this.#durable.keys()]) if (dirname(p) === path) this.#durable.delete(p)
    for (const [p, inode] of this.#entries) if (dirname(p) === path) this.#durable.set(p, inode)
    await Promise.resolve()
  }

  #parent(path: string): void {
    if (!this.#dirs.has(dirname(path))) throw errno('ENOENT', 'open', path)
  }
}
