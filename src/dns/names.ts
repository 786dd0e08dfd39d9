/**
 * Query names in the DNS domain, as Consul reads them (agent/dns.go `dispatch`): the last label
 * among `service connect ingress node addr query virtual` names the kind, the labels before it
 * the object, the labels after it the datacenter (`<dc>` or `<dc>.dc`). An SRV query whose
 * labels start with `_` needs no `service` label (RFC 2782). Everything is lower case here.
 */

export type Lookup =
  | { readonly kind: 'service'; readonly service: string; readonly tag: string; readonly datacenter: string }
  | { readonly kind: 'connect' | 'ingress'; readonly service: string; readonly datacenter: string }
  | { readonly kind: 'node'; readonly node: string; readonly datacenter: string }
  | { readonly kind: 'addr'; readonly hex: string }
  | { readonly kind: 'invalid' }

const KINDS = new Set(['service', 'connect', 'virtual', 'ingress', 'node', 'query', 'addr'])
const INVALID: Lookup = Object.freeze({ kind: 'invalid' })

/**
 * The domain (`consul.` or the alt domain) `name` (lower case, with the trailing dot) falls in,
 * and the labels before it; undefined when it is outside both.
 */
export function splitDomain(
  name: string,
  domain: string,
  altDomain: string,
): { readonly domain: string; readonly labels: readonly string[] } | undefined {
  // The longer domain first, so that `consul.` does not swallow `alt.consul.`.
  const candidates = [domain, altDomain].filter((d) => d !== '').sort((a, b) => b.length - a.length)
  for (const d of candidates) {
    if (name === d) return { domain: d, labels: [] }
    if (name.endsWith(`.${d}`)) {
      const rest = name.slice(0, name.length - d.length - 1)
      return { domain: d, labels: rest === '' ? [] : rest.split('.') }
    }
  }
  return undefined
}

/** Reads the labels before the domain; `qtype` matters only for RFC 2782 SRV names. */
export function parseLookup(labels: readonly string[], qtype: string, localDc: string): Lookup {
  let kindAt = -1
  let rfc2782 = false
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i] ?? ''
    if (KINDS.has(label)) {
      kindAt = i
      break
    }
    if (qtype === 'SRV' && label.startsWith('_')) {
      kindAt = i + 1
      rfc2782 = true
      break
    }
  }
  if (kindAt < 0) return INVALID
  const kind = rfc2782 ? 'service' : (labels[kindAt] ?? '')
  const parts = labels.slice(0, kindAt)
  const suffixes = labels.slice(rfc2782 ? kindAt : kindAt + 1)
  if (parts.length === 0) return INVALID

  if (kind === 'addr') {
    // Consul ignores the datacenter of an addr name.
    return parts.length === 1 ? { kind: 'addr', hex: parts[0] ?? '' } : INVALID
  }
  const datacenter = parseDatacenter(suffixes, localDc)
  if (datacenter === undefined) return INVALID
  switch (kind) {
    case 'service': {
      const n = parts.length
      const first = parts[0] ?? ''
      const last = parts[n - 1] ?? ''
      if (n === 2 && first.startsWith('_') && last.startsWith('_')) {
        const tag = last.slice(1)
        return { kind: 'service', service: first.slice(1), tag: tag === 'tcp' ? '' : tag, datacenter }
      }
      return { kind: 'service', service: last, tag: parts.slice(0, n - 1).join('.'), datacenter }
    }
    case 'connect':
    case 'ingress':
      return { kind, service: parts[parts.length - 1] ?? '', datacenter }
    case 'node':
      return { kind: 'node', node: parts.join('.'), datacenter }
    default:
      // `query` (prepared queries) and `virtual` (virtual IPs) are not implemented.
      return INVALID
  }
}

function parseDatacenter(suffixes: readonly string[], localDc: string): string | undefined {
  if (suffixes.length === 0) return localDc
  if (suffixes.length === 1) return suffixes[0]
  if (suffixes.length === 2 && suffixes[1] === 'dc') return suffixes[0]
  return undefined
}

/** The 4 or 16 bytes an `addr` label spells in hex, or undefined. */
export function decodeAddrLabel(hex: string): string | undefined {
  if (!/^[0-9a-f]+$/.test(hex)) return undefined
  if (hex.length === 8) {
    return [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.')
  }
  if (hex.length === 32) {
    const groups: string[] = []
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4))
    return groups.join(':')
  }
  return undefined
}

/** Hex of an IP address, as `addr` names spell it (`7f000001`). */
export function encodeAddrLabel(ip: string, family: 4 | 6): string {
  if (family === 4) {
    return ip
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('')
  }
  return expandIpv6(ip).join('')
}

/** The eight 4-hex-digit groups of an IPv6 address (already validated by `net.isIP`). */
export function expandIpv6(ip: string): string[] {
  let text = ip
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const o = (v4[1] ?? '').split('.').map(Number)
    const g1 = (((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)
    const g2 = (((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)
    text = `${text.slice(0, text.length - (v4[1] ?? '').length)}${g1}:${g2}`
  }
  const [head = '', tail] = text.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0')
  return [...h, ...fill, ...t].map((g) => g.toLowerCase().padStart(4, '0'))
}

/** Consul's `InvalidNameRe`: a node name DNS cannot carry. */
export function isValidDnsLabel(name: string): boolean {
  return /^[A-Za-z0-9-]+$/.test(name) && name.length <= 63
}
