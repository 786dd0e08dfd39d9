import type { KeyValue } from './store.js'

/**
 * The keys of a KvState: a Map that a capture can freeze in O(1), so that a snapshot reads the
 * state as of one instant while writes go on (copy-on-write of the changed keys only).
 *
 * While frozen, the base Map is never touched: a change goes to the delta (`undefined` for a
 * deleted key) and reads look there first. After `thaw` changes go to the base again (dropping
 * the key's delta entry), and `fold` moves the remaining delta into the base a slice at a time,
 * so that no single step costs more than the slice. Synchronous; one owner.
 */
export class KeyTable {
  readonly #base = new Map<string, KeyValue>()
  /** Keys changed since the last freeze and not folded back yet; they win over the base. */
  #delta: Map<string, KeyValue | undefined> | undefined
  #frozen = false
  /** The number of keys while a delta exists (the base's size otherwise). */
  #size = 0

  get size(): number {
    return this.#delta === undefined ? this.#base.size : this.#size
  }

  get(key: string): KeyValue | undefined {
    const delta = this.#delta
    if (delta !== undefined) {
      const kv = delta.get(key)
      if (kv !== undefined || delta.has(key)) return kv
    }
    return this.#base.get(key)
  }

  set(key: string, kv: KeyValue): void {
    const delta = this.#delta
    if (delta === undefined) {
      this.#base.set(key, kv)
      return
    }
    if (this.get(key) === undefined) this.#size++
    if (this.#frozen) delta.set(key, kv)
    else {
      delta.delete(key)
      this.#base.set(key, kv)
    }
  }

  delete(key: string): void {
    const delta = this.#delta
    if (delta === undefined) {
      this.#base.delete(key)
      return
    }
    if (this.get(key) === undefined) return
    this.#size--
    if (this.#frozen) delta.set(key, undefined)
    else {
      delta.delete(key)
      this.#base.delete(key)
    }
  }

  /** Every current value, in no order. Do not change the table while iterating. */
  *values(): Generator<KeyValue, void, undefined> {
    const delta = this.#delta
    if (delta === undefined) {
      yield* this.#base.values()
      return
    }
    for (const [key, kv] of this.#base) if (!delta.has(key)) yield kv
    for (const kv of delta.values()) if (kv !== undefined) yield kv
  }

  /**
   * Freezes the table and returns its values as of now: an iterable that stays valid, across
   * awaits and later changes, until `thaw`. A delta left from an earlier freeze is folded first
   * (in one step). Throws while already frozen.
   */
  freeze(): { readonly size: number; readonly values: Iterable<KeyValue> } {
    if (this.#frozen) throw new Error('the key table is already frozen')
    this.fold(Infinity)
    this.#frozen = true
    this.#size = this.#base.size
    this.#delta = new Map()
    const base = this.#base
    return { size: base.size, values: { [Symbol.iterator]: () => base.values() } }
  }

  /** Ends the freeze: changes go to the base again; `fold` moves the delta back. */
  thaw(): void {
    this.#frozen = false
  }

  /** Folds up to `max` delta entries into the base (none while frozen); true once none is left. */
  fold(max: number): boolean {
    const delta = this.#delta
    if (delta === undefined) return true
    if (this.#frozen) return false
    let n = 0
    for (const [key, kv] of delta) {
      if (n++ >= max) return false
      if (kv === undefined) this.#base.delete(key)
      else this.#base.set(key, kv)
      delta.delete(key)
    }
    this.#delta = undefined
    return true
  }
}
