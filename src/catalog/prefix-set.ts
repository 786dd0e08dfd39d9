/**
 * A counted set of string prefixes answering "which members is this key under?" in time
 * proportional to the number of distinct member lengths, not to the number of members: the
 * prefixes blocking KV list queries wait on, so a change to one key wakes only the lists under
 * which it falls.
 */
export class PrefixSet {
  readonly #counts = new Map<string, number>()
  /** member length → how many members have it */
  readonly #lengths = new Map<number, number>()

  add(prefix: string): void {
    const n = this.#counts.get(prefix) ?? 0
    this.#counts.set(prefix, n + 1)
    if (n === 0) this.#lengths.set(prefix.length, (this.#lengths.get(prefix.length) ?? 0) + 1)
  }

  /** Removes one `add` of the prefix. */
  delete(prefix: string): void {
    const n = this.#counts.get(prefix)
    if (n === undefined) return
    if (n > 1) {
      this.#counts.set(prefix, n - 1)
      return
    }
    this.#counts.delete(prefix)
    const l = (this.#lengths.get(prefix.length) ?? 1) - 1
    if (l === 0) this.#lengths.delete(prefix.length)
    else this.#lengths.set(prefix.length, l)
  }

  get size(): number {
    return this.#counts.size
  }

  /** The members `key` starts with. */
  *under(key: string): Iterable<string> {
    for (const len of this.#lengths.keys()) {
      if (len > key.length) continue
      const p = key.slice(0, len)
      if (this.#counts.has(p)) yield p
    }
  }
}
