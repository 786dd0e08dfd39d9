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
