import type { IncomingHttpHeaders } from 'node:http'
import { InvalidDurationError, parseGoDurationMs } from '../lib/duration.js'
import { BadRequestError } from '../lib/errors.js'
import { headerValue } from './request.js'

/** Go's `strconv.ParseBool`; undefined when the text is not one of its twelve spellings. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false
  return undefined
}

/** `?enable=` of the maintenance endpoints: required, a Go bool. */
export function parseEnable(query: URLSearchParams): boolean {
  const raw = query.get('enable')
  if (raw === null) throw new BadRequestError('Missing value for enable')
  const enable = parseGoBool(raw)
  if (enable === undefined) throw new BadRequestError(`Invalid value for enable: ${JSON.stringify(raw)}`)
  return enable
}

/**
 * `?wait` and `?index` as Consul's `parseWait` reads them: both validated when non-empty
 * (`Invalid wait time`, `Invalid index`). Returns the wait in ms (0 when absent).
 */
export function parseWaitMs(query: URLSearchParams): number {
  const wait = query.get('wait') ?? ''
  let waitMs = 0
  if (wait !== '') {
    try {
      waitMs = parseGoDurationMs(wait)
    } catch (err) {
      if (err instanceof InvalidDurationError) throw new BadRequestError('Invalid wait time')
      throw err
    }
  }
  const index = query.get('index') ?? ''
  if (index !== '' && !(/^\d+$/.test(index) && BigInt(index) <= 0xffff_ffff_ffff_ffffn)) {
    throw new BadRequestError('Invalid index')
  }
  return waitMs
}

/**
 * Namespaces and partitions are Consul Enterprise features: vigil accepts only an empty value or
 * `default`, and answers CE's 400 texts otherwise (header checked before query, as CE does).
 */
export function checkEnterpriseMeta(query: URLSearchParams, headers: IncomingHttpHeaders): void {
  const checks = [
    ['X-Consul-Namespace', 'ns', 'Namespaces'],
    ['X-Consul-Partition', 'partition', 'Partitions'],
  ] as const
  for (const [header, param, feature] of checks) {
    const fromHeader = headerValue(headers, header)
    if (fromHeader !== '' && fromHeader !== 'default') {
      throw new BadRequestError(`Invalid header: "${header}" - ${feature} are a Consul Enterprise feature`)
    }
    const fromQuery = query.get(param) ?? ''
    if (fromQuery !== '' && fromQuery !== 'default') {
      throw new BadRequestError(
        `Invalid query parameter: "${param}" - ${feature} are a Consul Enterprise feature`,
      )
    }
  }
}

/** The consistency mode of a read (`X-Consul-Effective-Consistency`): `leader` is the default. */
export type Consistency = 'leader' | 'stale' | 'consistent'

/** `stale`/`consistent`/`cached`/`max_stale` as Consul's parseConsistency reads them. */
export function parseConsistency(query: URLSearchParams): Consistency {
  const stale = query.has('stale')
  const consistent = query.has('consistent')
  if (stale && consistent) {
    throw new BadRequestError('Cannot specify ?stale with ?consistent, conflicting semantics.')
  }
  if (query.has('cached') && consistent) {
    throw new BadRequestError('Cannot specify ?cached with ?consistent, conflicting semantics.')
  }
  const maxStaleMs = parseMaxStaleMs(query)
  if (consistent) return 'consistent'
  return stale || maxStaleMs > 0 ? 'stale' : 'leader'
}

/** `?max_stale` in ms; 0 when absent, empty or not positive. Bad → `Invalid max_stale value "x"`. */
export function parseMaxStaleMs(query: URLSearchParams): number {
  const raw = query.get('max_stale') ?? ''
  if (raw === '') return 0
  try {
    return Math.max(0, parseGoDurationMs(raw))
  } catch (err) {
    if (err instanceof InvalidDurationError)
      throw new BadRequestError(`Invalid max_stale value ${JSON.stringify(raw)}`)
    throw err
  }
}
