import { basename, dirname } from 'node:path'
import type { FileHandlePort, FsPort } from '../../src/agent/persistence/fs-port.js'

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: simulated, ${syscall} '${path}'`)
  err.code = code
  err.syscall = syscall
  err.path = path
  return err
}

/** A file's content: what the process sees, and what the device holds (as of its last fsync). */
interface FileNode {
  readonly kind: 'file'
  data: Buffer
  durable: Buffer
}

/** A directory's names: what the process sees, and what the device holds (as of its last fsync). */
interface DirNode {
  readonly kind: 'dir'
  entries: Map<string, Node>
  durable: Map<string, Node>
}

type Node = FileNode | DirNode

function newDir(): DirNode {
  return { kind: 'dir', entries: new Map(), durable: new Map() }
}

/**
 * An in-memory file system behind the persistence port, with a power-loss model.
 *
 * Files are inodes named by directory entries. An fsync of a file handle makes the file's current
 * content durable; an fsync of a directory (opened with `open(dir, 'r')`) makes its current set
 * of names durable (which names exist and which inode each points to). `powerLoss()` throws away
 * everything else, as the most pessimistic device would: every write not fsynced, every create,
 * rename, unlink and mkdir whose directory was not fsynced afterwards. A file renamed into place
 * without a directory fsync reverts to the old name and the old content; a new file whose content
 * was not fsynced survives (if its name does) as an empty file.
 *
 * With `ticks`, every operation first waits that many microtask turns, so concurrent operations
 * (two directory fsyncs, say) complete in an order the test's random source chooses.
 *
 * The FsPort methods of MemoryFs itself always act on the current boot. `mount()` gives the port
 * of one boot: after a power loss, that port and every handle opened through it fail with EIO, as
 * a process that died with the machine cannot write anything more.
 */
export class MemoryFs implements FsPort {
  readonly #root: DirNode = newDir()
  #boot = 0
  #ops = 0
  #powerLossAt = Infinity
  readonly #ticks: () => number
  /** How many power losses happened. */
  powerLosses = 0

  constructor(opts: { ticks?: () => number } = {}) {
    this.#ticks = opts.ticks ?? (() => 1)
  }

  /** The port of the current boot; it goes dead at the next power loss. */
  mount(): FsPort {
    const boot = this.#boot
    const live = (syscall: string, path: string): void => {
      if (boot !== this.#boot) throw errno('EIO', syscall, path)
    }
    const guard =
      <A extends unknown[], R>(syscall: string, fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        live(syscall, String(args[0]))
        return fn(...args)
      }
    return {
      mkdir: guard('mkdir', (path: string) => this.#mkdir(path, boot)),
      open: guard('open', (path: string, flags: string) => this.#open(path, flags, boot)),
      rename: guard('rename', (from: string, to: string) => this.#rename(from, to, boot)),
      unlink: guard('unlink', (path: string) => this.#unlink(path, boot)),
      readdir: guard('scandir', (path: string) => this.readdir(path)),
      readFile: guard('read', (path: string) => this.readFile(path)),
      stat: guard('stat', (path: string) => this.stat(path)),
    }
  }

  /**
   * The device loses power when the `n`-th mutating operation from now (open for writing, write,
   * fsync, rename, unlink, mkdir) is attempted: that operation fails with EIO and changes nothing.
   */
  powerLossAfter(n: number): void {
    this.#powerLossAt = this.#ops + Math.max(1, n)
  }

  /** Drops everything not made durable, and ends the current boot (see the class comment). */
  powerLoss(): void {
    this.powerLosses++
    this.#boot++
    this.#powerLossAt = Infinity
    const revert = (dir: DirNode): void => {
      dir.entries = new Map(dir.durable)
      for (const node of dir.entries.values()) {
        if (node.kind === 'dir') revert(node)
        else node.data = node.durable
      }
    }
    revert(this.#root)
  }

  /** Every file path and its current content. */
  files(): Map<string, Buffer> {
    const out = new Map<string, Buffer>()
    const walk = (dir: DirNode, path: string): void => {
      for (const [name, node] of dir.entries) {
        const p = path === '/' ? `/${name}` : `${path}/${name}`
        if (node.kind === 'dir') walk(node, p)
        else out.set(p, node.data)
      }
    }
    walk(this.#root, '/')
    return out
  }

  mkdir(path: string): Promise<unknown> {
    return this.#mkdir(path, this.#boot)
  }

  open(path: string, flags: string): Promise<FileHandlePort> {
    return this.#open(path, flags, this.#boot)
  }

  rename(from: string, to: string): Promise<void> {
    return this.#rename(from, to, this.#boot)
  }

  unlink(path: string): Promise<void> {
    return this.#unlink(path, this.#boot)
  }

  readdir(path: string): Promise<string[]> {
    const node = this.#lookup(path)
    if (node?.kind !== 'dir') return Promise.reject(errno('ENOENT', 'scandir', path))
    return Promise.resolve([...node.entries.keys()])
  }

  readFile(path: string): Promise<Buffer> {
    const node = this.#lookup(path)
    if (node === undefined) return Promise.reject(errno('ENOENT', 'open', path))
    if (node.kind === 'dir') return Promise.reject(errno('EISDIR', 'read', path))
    return Promise.resolve(node.data)
  }

  stat(path: string): Promise<{ isDirectory(): boolean }> {
    const node = this.#lookup(path)
    if (node === undefined) return Promise.reject(errno('ENOENT', 'stat', path))
    return Promise.resolve({ isDirectory: () => node.kind === 'dir' })
  }

  // ---- internals -----------------------------------------------------------------------------

  async #jitter(): Promise<void> {
    for (let n = this.#ticks(); n > 0; n--) await Promise.resolve()
  }

  /** Counts a mutating operation of `boot`; throws EIO if the power is gone or goes now. */
  #mutate(boot: number, syscall: string, path: string): void {
    if (boot !== this.#boot) throw errno('EIO', syscall, path)
    if (++this.#ops >= this.#powerLossAt) {
      this.powerLoss()
      throw errno('EIO', syscall, path)
    }
  }

  #lookup(path: string): Node | undefined {
    let node: Node = this.#root
    for (const part of path.split('/')) {
      if (part === '' || part === '.') continue
      if (node.kind !== 'dir') return undefined
      const next: Node | undefined = node.entries.get(part)
      if (next === undefined) return undefined
      node = next
    }
    return node
  }

  #parent(path: string, syscall: string): DirNode {
    const dir = this.#lookup(dirname(path))
    if (dir?.kind !== 'dir') throw errno('ENOENT', syscall, path)
    return dir
  }

  async #mkdir(path: string, boot: number): Promise<unknown> {
    await this.#jitter()
    const missing: string[] = []
    let p = path
    while (this.#lookup(p) === undefined) {
      missing.unshift(p)
      p = dirname(p)
    }
    if (this.#lookup(p)?.kind !== 'dir') throw errno('ENOTDIR', 'mkdir', path)
    for (const m of missing) {
      this.#mutate(boot, 'mkdir', m)
      this.#parent(m, 'mkdir').entries.set(basename(m), newDir())
    }
    return missing[0]
  }

  async #open(path: string, flags: string, boot: number): Promise<FileHandlePort> {
    await this.#jitter()
    if (flags === 'r') {
      const node = this.#lookup(path)
      if (node === undefined) throw errno('ENOENT', 'open', path)
      return {
        writeFile: () => Promise.reject(errno('EBADF', 'write', path)),
        sync: async () => {
          await this.#jitter()
          this.#mutate(boot, 'fsync', path)
          if (node.kind === 'dir') node.durable = new Map(node.entries)
          else node.durable = node.data
        },
        close: () => Promise.resolve(),
      }
    }
    this.#mutate(boot, 'open', path)
    const dir = this.#parent(path, 'open')
    const name = basename(path)
    const existing = dir.entries.get(name)
    if (existing !== undefined && flags === 'wx') throw errno('EEXIST', 'open', path)
    if (existing?.kind === 'dir') throw errno('EISDIR', 'open', path)
    const file: FileNode = existing ?? { kind: 'file', data: Buffer.alloc(0), durable: Buffer.alloc(0) }
    file.data = Buffer.alloc(0)
    dir.entries.set(name, file)
    return {
      writeFile: async (data) => {
        await this.#jitter()
        this.#mutate(boot, 'write', path)
        file.data = Buffer.from(data)
      },
      sync: async () => {
        await this.#jitter()
        this.#mutate(boot, 'fsync', path)
        file.durable = file.data
      },
      close: () => Promise.resolve(),
    }
  }

  async #rename(from: string, to: string, boot: number): Promise<void> {
    await this.#jitter()
    const src = this.#parent(from, 'rename')
    const node = src.entries.get(basename(from))
    if (node === undefined) throw errno('ENOENT', 'rename', from)
    const dst = this.#parent(to, 'rename')
    this.#mutate(boot, 'rename', from)
    src.entries.delete(basename(from))
    dst.entries.set(basename(to), node)
  }

  async #unlink(path: string, boot: number): Promise<void> {
    await this.#jitter()
    const dir = this.#parent(path, 'unlink')
    const node = dir.entries.get(basename(path))
    if (node === undefined) throw errno('ENOENT', 'unlink', path)
    if (node.kind === 'dir') throw errno('EISDIR', 'unlink', path)
    this.#mutate(boot, 'unlink', path)
    dir.entries.delete(basename(path))
  }
}
