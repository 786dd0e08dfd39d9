import type { LogHandle, StoreFs } from '../../src/store/store-fs.js'

/**
 * A StoreFs over another in which, while `hold()` is on, every write and sync to a file whose
 * path matches waits until `release()`: a disk that hangs on one file (the store's log, or a
 * snapshot being written) while the rest of the file system answers.
 */
export class GatedStoreFs implements StoreFs {
  readonly #disk: StoreFs
  readonly #match: (path: string) => boolean
  #gate: Promise<void> | undefined
  #open = (): void => {}
  /** The paths of the operations that waited at the gate, in order. */
  readonly held: string[] = []

  constructor(disk: StoreFs, match: (path: string) => boolean) {
    this.#disk = disk
    this.#match = match
  }

  /** From now on matching writes and syncs wait. */
  hold(): void {
    this.#gate ??= new Promise<void>((resolve) => {
      this.#open = resolve
    })
  }

  /** Lets every waiting operation go on; later ones pass straight through. */
  release(): void {
    this.#gate = undefined
    this.#open()
  }

  mkdir(path: string): Promise<void> {
    return this.#disk.mkdir(path)
  }
  readdir(path: string): Promise<string[]> {
    return this.#disk.readdir(path)
  }
  readFile(path: string): Promise<Buffer> {
    return this.#disk.readFile(path)
  }
  createExclusive(path: string, data: Uint8Array): Promise<void> {
    return this.#disk.createExclusive(path, data)
  }
  async openLog(path: string, opts: { readonly dsync: boolean }): Promise<LogHandle> {
    return this.#gated(path, await this.#disk.openLog(path, opts))
  }
  async createFile(path: string): Promise<LogHandle> {
    return this.#gated(path, await this.#disk.createFile(path))
  }
  rename(from: string, to: string): Promise<void> {
    return this.#disk.rename(from, to)
  }
  unlink(path: string): Promise<void> {
    return this.#disk.unlink(path)
  }
  syncDir(path: string): Promise<void> {
    return this.#disk.syncDir(path)
  }

  #gated(path: string, file: LogHandle): LogHandle {
    const wait = async (): Promise<void> => {
      const gate = this.#gate
      if (gate === undefined || !this.#match(path)) return
      this.held.push(path)
      await gate
    }
    return {
      write: async (data, position) => {
        await wait()
        await file.write(data, position)
      },
      sync: async () => {
        await wait()
        await file.sync()
      },
      close: () => file.close(),
    }
  }
}
