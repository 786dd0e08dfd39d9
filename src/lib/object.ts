/**
 * Plain-object helpers shared by every layer: own-property writes that no key can subvert, and
 * deep freezing of values handed to readers.
 */

/** Assigns an own enumerable property, even for keys such as `__proto__`. */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Freezes `value` and everything reachable from it through own enumerable properties, in place,
 * and returns it. Iterative, so a deep value cannot overflow the stack; already-frozen objects are
 * not entered (their contents are taken as frozen).
 */
export function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value]
  while (pending.length > 0) {
    const next = pending.pop()
    if (typeof next !== 'object' || next === null || Object.isFrozen(next)) continue
    Object.freeze(next)
    for (const v of Object.values(next)) pending.push(v)
  }
  return value
}
