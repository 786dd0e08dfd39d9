import assert from 'node:assert/strict'
import type { VigilError } from '../../src/lib/errors.js'
import type { NormalizeContext } from '../../src/structs/normalize.js'

/**
 * A NormalizeContext for node `node-1`, origin `api`, script checks off, with `overrides`;
 * `warnings`, when given, collects every warning.
 */
export function normalizeContext(
  overrides: Partial<NormalizeContext> & { warnings?: string[] } = {},
): NormalizeContext {
  const { warnings, ...rest } = overrides
  return {
    nodeName: 'node-1',
    origin: 'api',
    enableScriptChecks: false,
    enableLocalScriptChecks: false,
    ...(warnings === undefined ? {} : { warn: (m: string) => warnings.push(m) }),
    ...rest,
  }
}

/** The message of the `errorClass` error `fn` throws; fails the test if it throws nothing or another error. */
export function failure(
  fn: () => unknown,
  errorClass: abstract new (...args: never[]) => VigilError,
): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof errorClass, `expected ${errorClass.name}, got ${String(err)}`)
    return err.message
  }
  assert.fail(`expected ${errorClass.name}`)
}

/** Fails the test unless `value` and every object inside it is frozen. */
export function assertDeepFrozen(value: unknown, path = 'value'): void {
  if (typeof value !== 'object' || value === null) return
  assert.ok(Object.isFrozen(value), `${path} is not frozen`)
  for (const [k, v] of Object.entries(value)) assertDeepFrozen(v, `${path}.${k}`)
}
