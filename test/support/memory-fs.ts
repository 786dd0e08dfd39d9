import { dirname } from 'node:path'
import type { FileHandlePort, FsPort } from '../../src/agent/persistence/fs-port.js'

function enoent(syscall: string, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ENOENT: no such file or directory, ${syscall} '${path}'`)
  err.code = 'ENOENT'
  return err
}

/**
 * An in-memory file system behind the persistence port, for simulations that restart the agent
 * thousands of times. Renames are atomic and a file exists only after its handle is closed or
 * renamed into place, as on a real disk after a process crash. Real-disk behaviour (fsync,
 * torn files, kill -9) is tested against the real file system elsewhere.
 */
export class MemoryFs implements FsPort {
  readonly files = new Map<string, Buffer>()
  readonly dirs = new Set<string>(['/'])

  mkdir(path: string): Promise<unknown> {
    let p = path
    while (p !== '/' && p !== '.' && !this.dirs.has(p)) {
      this.dirs.add(p)
      p = dirname(p)
    }
    return Promise.resolve(undefined)
  }

  open(path: string, flags: string): Promise<FileHandlePort> {
    if (flags === 'r') {
      if (!this.dirs.has(path) && !this.files.has(path)) return Promise.reject(enoent('open', path))
      return Promise.resolve({
        writeFile: () => Promise.resolve(),
        sync: () => Promise.resolve(),
        close: () => Promise.resolve(),
      })
    }
    if (flags === 'wx' && this.files.has(path)) {
      const err: NodeJS.ErrnoException = new Error(`EEXIST: file already exists, open '${path}'`)
      err.code = 'EEXIST'
      return Promise.reject(err)
    }
    if (!this.dirs.has(dirname(path))) return Promise.reject(enoent('open', path))
    this.files.set(path, Buffer.alloc(0))
    return Promise.resolve({
      writeFile: (data) => {
        this.files.set(path, Buffer.from(data))
        return Promise.resolve()
      },
      sync: () => Promise.resolve(),
      close: () => Promise.resolve(),
    })
  }

  rename(from: string, to: string): Promise<void> {
    const data = this.files.get(from)
    if (data === undefined) return Promise.reject(enoent('rename', from))
    this.files.delete(from)
    this.files.set(to, data)
    return Promise.resolve()
  }

  unlink(path: string): Promise<void> {
    if (!this.files.delete(path)) return Promise.reject(enoent('unlink', path))
    return Promise.resolve()
  }

  readdir(path: string): Promise<string[]> {
    if (!this.dirs.has(path)) return Promise.reject(enoent('scandir', path))
    const names = new Set<string>()
    for (const p of [...this.files.keys(), ...this.dirs]) {
      if (p !== path && dirname(p) === path) names.add(p.slice(path.length + 1))
    }
    return Promise.resolve([...names])
  }

  readFile(path: string): Promise<Buffer> {
    if (this.dirs.has(path)) {
      const err: NodeJS.ErrnoException = new Error(`EISDIR: illegal operation on a directory, read`)
      err.code = 'EISDIR'
      return Promise.reject(err)
    }
    const data = this.files.get(path)
    return data === undefined ? Promise.reject(enoent('open', path)) : Promise.resolve(data)
  }

  stat(path: string): Promise<{ isDirectory(): boolean }> {
    if (this.dirs.has(path)) return Promise.resolve({ isDirectory: () => true })
    if (this.files.has(path)) return Promise.resolve({ isDirectory: () => false })
    return Promise.reject(enoent('stat', path))
  }
}
