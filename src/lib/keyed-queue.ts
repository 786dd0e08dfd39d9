/**
 * Serializes async work per key: tasks for one key run one after another, in call order;
 * tasks for different keys run independently. A failing task does not block its successors.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>()

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve()
    const next = prev.then(task, task)
    const tail = next.catch(() => undefined)
    this.#tails.set(key, tail)
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    })
    return next
  }

  /** Keys with queued or running work. */
  get size(): number {
    return this.#tails.size
  }
}

/** A single async mutex: `run` executes tasks one at a time in call order. */
export class Mutex {
  readonly #queue = new KeyedQueue()
  run<T>(task: () => Promise<T>): Promise<T> {
    return this.#queue.run('', task)
  }
}

/**
 * Exclusive locks on sets of keys, and on everything at once. A task holding some keys starts
 * after every earlier task that holds any of them and after every earlier `runAll` task; a
 * `runAll` task starts after every earlier task. "Earlier" is call order: a call enqueues on all
 * its keys at once, synchronously, so no two tasks can wait on each other (no deadlock). A failing
 * task releases its keys like a successful one.
 */
export class KeyedLocks {
  readonly #tails = new Map<string, Promise<void>>()
  #barrier: Promise<void> = Promise.resolve()

  run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)]
    const before: Promise<void>[] = [this.#barrier]
    for (const k of unique) {
      const tail = this.#tails.get(k)
      if (tail !== undefined) before.push(tail)
    }
    const result = Promise.all(before).then(task)
    const done = result.then(ignore, ignore)
    for (const k of unique) {
      this.#tails.set(k, done)
      void done.then(() => {
        if (this.#tails.get(k) === done) this.#tails.delete(k)
      })
    }
    return result
  }

  runAll<T>(task: () => Promise<T>): Promise<T> {
    const result = Promise.all([this.#barrier, ...this.#tails.values()]).then(task)
    // Later tasks wait for the barrier, which comes after everything held now.
    this.#tails.clear()
    this.#barrier = result.then(ignore, ignore)
    return result
  }

  /** Keys held or waited for (not counting `runAll` tasks). */
  get size(): number {
    return this.#tails.size
  }
}

function ignore(): void {}
