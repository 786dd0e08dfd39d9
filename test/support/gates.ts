import type { YieldPoint } from '../../src/agent/checks/runner.js'

interface Hold {
  reached: boolean
  released: boolean
  release: () => void
  readonly gate: Promise<void>
  readonly arrivals: (() => void)[]
}

/**
 * Holds chosen actors at chosen `yieldPoint` labels (seed-race.md §5): `hold(label)` makes the
 * next arrival at that label wait until `release(label)`. Every other label passes straight on.
 */
export class Gates {
  readonly #holds = new Map<string, Hold>()
  readonly seen: string[] = []

  readonly yieldPoint: YieldPoint = (label) => {
    this.seen.push(label)
    const h = this.#holds.get(label)
    if (h === undefined || h.reached) return Promise.resolve()
    h.reached = true
    for (const fn of h.arrivals.splice(0)) fn()
    return h.gate
  }

  hold(label: string): void {
    let release = (): void => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    this.#holds.set(label, { reached: false, released: false, release, gate, arrivals: [] })
  }

  /** True once an actor arrived at a held label. */
  reached(label: string): boolean {
    return this.#holds.get(label)?.reached ?? false
  }

  /** Resolves when an actor arrives at the held label. */
  arrival(label: string): Promise<void> {
    const h = this.#holds.get(label)
    if (h === undefined) throw new Error(`no hold on ${label}`)
    if (h.reached) return Promise.resolve()
    return new Promise((resolve) => h.arrivals.push(resolve))
  }

  release(label: string): void {
    const h = this.#holds.get(label)
    if (h === undefined) throw new Error(`no hold on ${label}`)
    h.released = true
    h.release()
  }
}
