import { readFileSync } from 'node:fs'
import * as fsp from 'node:fs/promises'

/** An open log file: appends go to its end. */
export interface AppendHandle {
  append(data: Uint8Array): Promise<void>
  /** fdatasync: the appended bytes (and the size) are on disk when it resolves. */
  datasync(): Promise<void>
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
  /** Writes `path` (replacing it) and syncs its data; the directory entry is not synced. */
  writeSynced(path: string, data: Uint8Array): Promise<void>
  /** Opens `path` for appending, creating it when absent (the directory entry is not synced). */
  openAppend(path: string): Promise<AppendHandle>
  /** Cuts `path` to `length` bytes and syncs it. */
  truncateSynced(path: string, length: number): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  /** fsync of a directory: entries created, renamed or removed in it are on disk. */
  syncDir(path: string): Promise<void>
}

async function writeAll(fh: fsp.FileHandle, data: Uint8Array, position: number | null): Promise<void> {
  let done = 0
  while (done < data.length) {
    const { bytesWritten } = await fh.write(
      data,
      done,
      data.length - done,
      position === null ? null : position + done,
    )
    done += bytesWritten
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
  async writeSynced(path, data) {
    const fh = await fsp.open(path, 'w', 0o600)
    try {
      await writeAll(fh, data, 0)
      await fh.sync()
    } finally {
      await fh.close()
    }
  },
  async openAppend(path) {
    const fh = await fsp.open(path, 'a', 0o600)
    return {
      append: (data) => writeAll(fh, data, null),
      datasync: () => fh.datasync(),
      close: () => fh.close(),
    }
  },
  async truncateSynced(path, length) {
    const fh = await fsp.open(path, 'r+')
    try {
      await fh.truncate(length)
      await fh.sync()
    } finally {
      await fh.close()
    }
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
