/**
 * The DNS interface's settings: Consul's `domain`, `alt_domain`, `recursors` and `dns_config`
 * (already parsed and validated by src/config; the shape is structurally the config's
 * `DnsConfig` plus the agent's identity). Durations are milliseconds.
 */

export type RecursorStrategy = 'sequential' | 'random'

export interface DnsSoaSettings {
  readonly refresh: number
  readonly retry: number
  readonly expire: number
  readonly minTtl: number
}

export interface DnsSettings {
  /** Lower case, fully qualified: `consul.` */
  readonly domain: string
  /** Lower case, fully qualified, or "" when none. */
  readonly altDomain: string
  /** This agent's datacenter: names without one, or with this one, are answered. */
  readonly datacenter: string
  /** `host`, `host:port`, `[v6]:port`; port 53 when omitted. */
  readonly recursors: readonly string[]
  readonly recursorStrategy: RecursorStrategy
  readonly recursorTimeoutMs: number
  readonly allowStale: boolean
  readonly maxStaleMs: number
  readonly nodeTtlMs: number
  /** Service name (exact) or prefix ending in `*` (`*` alone matches all) → TTL. */
  readonly serviceTtlMs: Readonly<Record<string, number>>
  readonly onlyPassing: boolean
  /** 0: no limit. */
  readonly aRecordLimit: number
  readonly udpAnswerLimit: number
  readonly enableTruncate: boolean
  readonly enableAdditionalNodeMetaTxt: boolean
  readonly soa: DnsSoaSettings
}

/** Consul's defaults (agent/config/default.go). */
export const DEFAULT_DNS_SETTINGS: DnsSettings = Object.freeze({
  domain: 'consul.',
  altDomain: '',
  datacenter: 'dc1',
  recursors: [],
  recursorStrategy: 'sequential',
  recursorTimeoutMs: 2_000,
  allowStale: true,
  maxStaleMs: 87_600 * 3_600_000,
  nodeTtlMs: 0,
  serviceTtlMs: {},
  onlyPassing: false,
  aRecordLimit: 0,
  udpAnswerLimit: 3,
  enableTruncate: false,
  enableAdditionalNodeMetaTxt: true,
  soa: Object.freeze({ refresh: 3600, retry: 600, expire: 86400, minTtl: 0 }),
} satisfies DnsSettings)

/**
 * The TTL in seconds for a service: an exact key wins, then the longest `prefix*` key; 0 when
 * none matches (Consul's `GetTTLForService`).
 */
export function serviceTtlSeconds(settings: DnsSettings, service: string): number {
  const table = settings.serviceTtlMs
  const exact = Object.hasOwn(table, service) ? table[service] : undefined
  if (exact !== undefined) return seconds(exact)
  let best: number | undefined
  let bestLen = -1
  for (const [key, ttl] of Object.entries(table)) {
    if (!key.endsWith('*')) continue
    const prefix = key.slice(0, -1)
    if (prefix.length > bestLen && service.startsWith(prefix)) {
      best = ttl
      bestLen = prefix.length
    }
  }
  return best === undefined ? 0 : seconds(best)
}

export function seconds(ms: number): number {
  return Math.min(0x7fffffff, Math.max(0, Math.floor(ms / 1000)))
}

/** The agent settings DNS is built from (structurally the agent config's fields of these names). */
export interface AgentDnsInput {
  readonly domain: string
  readonly altDomain: string
  readonly datacenter: string
  readonly recursors: readonly string[]
  readonly dnsConfig: Omit<DnsSettings, 'domain' | 'altDomain' | 'datacenter' | 'recursors'>
}

/** DnsSettings from the agent's config: domains lower case and fully qualified. */
export function dnsSettingsFrom(input: AgentDnsInput): DnsSettings {
  const fq = (d: string): string => {
    const t = d.trim().toLowerCase().replace(/^\.+/, '')
    return t === '' || t === '.' ? '' : t.endsWith('.') ? t : `${t}.`
  }
  return Object.freeze({
    ...input.dnsConfig,
    domain: fq(input.domain) || 'consul.',
    altDomain: fq(input.altDomain),
    datacenter: input.datacenter.toLowerCase(),
    recursors: [...input.recursors],
  })
}
