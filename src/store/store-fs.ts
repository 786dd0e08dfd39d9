import { constants, readFileSync } from 'node:fs'
import * as fsp from 'node:fs/promises'

/** An open file, written at explicit positions. */
export interface LogHandle {
  /**
   * Writes all of `data` at `position`, extending the file when needed. With `dsync` the bytes
   * (and the size) are on disk when it resolves (O_DSYNC: one system call instead of a write
   * and an fdatasync).
   */
  write(data: Uint8Array, position: number): Promise<void>
  /** fsync: everything written so far, and the size, is on disk. */
  sync(): Promise<void>
  close(): Promise<void>
}

/**
 * The file-system operations the embedded store uses. Production passes `nodeStoreFs`; tests
 * pass a file system that drops whatever was not synced at a simulated power loss.
 */
export interface StoreFs {
  mkdir(path: string): Promise<void>
  readdir(path: string): Promise<string[]>
  readFile(path: string): Promise<Buffer>
  /** Creates `path` holding `data`, synced; rejects with EEXIST when it exists. */
  createExclusive(path: string, data: Uint8Array): Promise<void>
  /** Opens `path` for writing, creating it when absent (the entry is not synced). */
  openLog(path: string, opts: { readonly dsync: boolean }): Promise<LogHandle>
  /** Creates `path` empty (truncating it when it exists) for writing; the entry is not synced. */
  createFile(path: string): Promise<LogHandle>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  /** fsync of a directory: entries created, renamed or removed in it are on disk. */
  syncDir(path: string): Promise<void>
}

async function writeAll(fh: fsp.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done)
    done += bytesWritten
  }
}

function handle(fh: fsp.FileHandle): LogHandle {
  return {
    write: (data, position) => writeAll(fh, data, position),
    sync: () => fh.sync(),
    close: () => fh.close(),
  }
}

export const nodeStoreFs: StoreFs = {
  mkdir: async (path) => {
    await fsp.mkdir(path, { recursive: true, mode: 0o700 })
  },
  readdir: (path) => fsp.readdir(path),
  // Read once at open, before the store serves anything.
  readFile: (path) =>
    new Promise((resolve) => {
      resolve(readFileSync(path))
    }),
  async createExclusive(path, data) {
    const fh = await fsp.open(path, 'wx', 0o600)
    try {
      await writeAll(fh, data, 0)
      await fh.sync()
    } finally {
      await fh.close()
    }
  },
  async openLog(path, opts) {
    const flags = constants.O_WRONLY | constants.O_CREAT | (opts.dsync ? constants.O_DSYNC : 0)
    return handle(await fsp.open(path, flags, 0o600))
  },
  async createFile(path) {
    return handle(await fsp.open(path, 'w', 0o600))
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  async syncDir(path) {
    const fh = await fsp.open(path, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  },
}
