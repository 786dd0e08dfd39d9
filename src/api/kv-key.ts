/**
 * KV key validation as Consul has it since 1.21.6 (kv-session-txn.md §2): a key holding a
 * path-traversal sequence, plainly or URL-encoded (once or twice, any case), or with leading or
 * trailing whitespace, is refused with 400; everything else is a legal key (spaces inside, `:`,
 * `%`, unicode, `*.json`). `disable_kv_key_validation` turns it off. The stricter character set
 * of Consul 1.21.5 broke clients and was withdrawn: vigil does not restrict further.
 */
import { BadRequestError } from '../lib/errors.js'

const TRAVERSAL = ['../', '..\\'] as const
const ENCODED_TRAVERSAL = ['%2e%2e%2f', '%2e%2e/', '..%2f', '%2e%2e%5c', '%252e%252e%252f'] as const

/** Consul's refusal of `key`, or undefined when it is a legal key. */
export function kvKeyProblem(key: string): string | undefined {
  if (TRAVERSAL.some((t) => key.includes(t))) return 'key contains path traversal sequence'
  const lower = key.toLowerCase()
  if (ENCODED_TRAVERSAL.some((t) => lower.includes(t))) return 'key contains encoded path traversal sequence'
  if (key !== key.trim()) return 'key must not have leading or trailing whitespace'
  return undefined
}

/** Throws Consul's 400 for a key `kvKeyProblem` refuses, unless validation is disabled. */
export function checkKvKey(key: string, disabled: boolean): void {
  if (disabled || key === '') return
  const problem = kvKeyProblem(key)
  if (problem !== undefined) throw new BadRequestError(problem)
}
