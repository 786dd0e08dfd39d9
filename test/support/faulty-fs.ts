import { nodeFs, type FsPort } from '../../src/agent/persistence/fs-port.js'

/** Which operations fail, and with which errno code. */
export interface Faults {
  /** Fail writes (file contents) whose path matches, e.g. ENOSPC. */
  write?: { code: string; match?: (path: string) => boolean } | undefined
  /** Fail renames, e.g. EROFS. */
  rename?: { code: string } | undefined
  /** Fail unlinks, e.g. EROFS or EIO. */
  unlink?: { code: string } | undefined
}

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: simulated failure, ${syscall} '${path}'`)
  err.code = code
  err.syscall = syscall
  err.path = path
  return err
}

/** The real file system, with faults switched on and off by the test (an injected fs layer). */
export function faultyFs(faults: Faults): FsPort {
  return {
    ...nodeFs,
    async open(path, flags, mode) {
      const fh = await nodeFs.open(path, flags, mode)
      return {
        async writeFile(data) {
          const w = faults.write
          if (w !== undefined && (w.match?.(path) ?? true)) {
            // A torn write: part of the data reaches the temp file before the device fills up.
            await fh.writeFile(typeof data === 'string' ? data.slice(0, data.length >> 1) : data)
            throw errno(w.code, 'write', path)
          }
          await fh.writeFile(data)
        },
        sync: () => fh.sync(),
        close: () => fh.close(),
      }
    },
    async rename(from, to) {
      if (faults.rename !== undefined) throw errno(faults.rename.code, 'rename', from)
      await nodeFs.rename(from, to)
    },
    async unlink(path) {
      if (faults.unlink !== undefined) throw errno(faults.unlink.code, 'unlink', path)
      await nodeFs.unlink(path)
    },
  }
}
