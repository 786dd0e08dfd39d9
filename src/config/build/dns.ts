/** `dns_config.*`, with Consul's defaults (agent/config/default.go) and its checks. */
import { parseGoDurationMs } from '../../lib/duration.js'
import type { DnsConfig } from '../agent-config.js'
import type { BuildContext } from './context.js'
import type { TreeReader } from './reader.js'

export function readDnsConfig(r: TreeReader, ctx: BuildContext): DnsConfig {
  const { problems } = ctx.report
  const get = (path: string): unknown => r.get(path)
  const bool = (key: string, def: boolean): boolean => {
    const v = get(`dns_config.${key}`)
    return typeof v === 'boolean' ? v : def
  }
  const num = (key: string, def: number): number => {
    const v = get(`dns_config.${key}`)
    return typeof v === 'number' ? v : def
  }
  const nonNegative = (key: string, def: number): number => {
    const v = num(key, def)
    if (v < 0) problems.push(`dns_config.${key} cannot be negative: ${v}`)
    return v
  }

  const serviceTtlMs: Record<string, number> = {}
  const rawTtls = get('dns_config.service_ttl')
  if (typeof rawTtls === 'object' && rawTtls !== null) {
    for (const [name, text] of Object.entries(rawTtls as Record<string, string>)) {
      try {
        Object.defineProperty(serviceTtlMs, name, {
          value: parseGoDurationMs(text),
          enumerable: true,
          writable: true,
          configurable: true,
        })
      } catch (err) {
        problems.push(
          `dns_config.service_ttl: invalid duration for ${JSON.stringify(name)}: ${(err as Error).message}`,
        )
      }
    }
  }

  const strategy = get('dns_config.recursor_strategy') ?? 'sequential'
  if (strategy !== 'sequential' && strategy !== 'random') {
    problems.push(`dns_config.recursor_strategy: invalid strategy ${JSON.stringify(strategy)}`)
  }

  return {
    allowStale: bool('allow_stale', true),
    maxStaleMs: nonNegative('max_stale', 87_600 * 3_600_000),
    nodeTtlMs: nonNegative('node_ttl', 0),
    serviceTtlMs,
    onlyPassing: bool('only_passing', false),
    aRecordLimit: nonNegative('a_record_limit', 0),
    udpAnswerLimit: nonNegative('udp_answer_limit', 3),
    enableTruncate: bool('enable_truncate', false),
    enableAdditionalNodeMetaTxt: bool('enable_additional_node_meta_txt', true),
    recursorStrategy: strategy === 'random' ? 'random' : 'sequential',
    recursorTimeoutMs: nonNegative('recursor_timeout', 2_000),
    soa: {
      refresh: nonNegative('soa.refresh', 3600),
      retry: nonNegative('soa.retry', 600),
      expire: nonNegative('soa.expire', 86400),
      minTtl: nonNegative('soa.min_ttl', 0),
    },
  }
}
