import { readFileSync } from 'node:fs'
import * as fsp from 'node:fs/promises'

/**
 * The file-system operations agent persistence uses. Production passes node's fs/promises;
 * tests inject faults (ENOSPC, EROFS, torn writes) through the same port.
 */
export interface FsPort {
  mkdir(path: string, opts: { recursive: true; mode?: number }): Promise<unknown>
  open(path: string, flags: string, mode?: number): Promise<FileHandlePort>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  readdir(path: string): Promise<string[]>
  readFile(path: string): Promise<Buffer>
  stat(path: string): Promise<{ isDirectory(): boolean }>
}

export interface FileHandlePort {
  writeFile(data: string | Uint8Array): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

export const nodeFs: FsPort = {
  mkdir: (path, opts) => fsp.mkdir(path, opts),
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  readdir: (path) => fsp.readdir(path),
  // Only the loader reads, at start before the API opens; a synchronous read of a small file
  // costs a fraction of the promise API's open/fstat/read/close round trips (10,000 services
  // with 20,000 checks load several times faster).
  readFile: (path) =>
    new Promise((resolve) => {
      resolve(readFileSync(path))
    }),
  stat: (path) => fsp.stat(path),
}

/** True for "no such file" errors. */
export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
