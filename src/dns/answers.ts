/**
 * Prepared answers: what one question (name and type) answers at one catalog index, with every
 * record already encoded. A prepared answer is a list of entries (one per instance or node); the
 * resolver picks entries per query (shuffled for services), so the work that grows with the
 * number of instances happens here, once per index, and a query costs only what it returns.
 */
import { isIP } from 'node:net'
import type { DnsCatalog, DnsInstance, DnsNode } from './catalog-port.js'
import { decodeAddrLabel, encodeAddrLabel, isValidDnsLabel, type Lookup } from './names.js'
import { seconds, serviceTtlSeconds, type DnsSettings } from './settings.js'
import { encodeAtQuestion, encodeRecords, NO_RECORDS, RCODE, type Answer, type Records } from './wire.js'

/** One instance's (or node's) records: its answer records and the additional records they need. */
export interface Entry {
  readonly answer: Records
  readonly extra: Records
  /** Entries with the same non-empty key share their additional records: sent once. */
  readonly extraKey: string
}

/** Numbers per entry in {@link Prepared.table}. */
export const ENTRY_FIELDS = 7
/** Offsets in an entry's row of {@link Prepared.table}. */
export const F = {
  answerAt: 0,
  answerLen: 1,
  answerCount: 2,
  extraAt: 3,
  extraLen: 4,
  extraCount: 5,
  extraKey: 6,
} as const

export interface Prepared {
  readonly rcode: number
  /** How many entries. */
  readonly count: number
  /**
   * Entry i is the row at i × ENTRY_FIELDS (fields {@link F}) locating its records in `bytes`;
   * `extraKey` 0 means none. Rows and bytes are packed so that a query touches little memory
   * whatever the number of entries.
   */
  readonly table: Uint32Array
  readonly bytes: Buffer
  /** Entries are returned in random order, a different one per query. */
  readonly shuffle: boolean
  /** Most entries one reply carries before size limits (0: no limit). */
  readonly maxEntries: number
  /** Where entries' answer records go: `authority` for an SOA query's NS records. */
  readonly section: 'answer' | 'authority'
  /** An SOA record: the answer of an SOA query, or the authority of NXDOMAIN and NODATA. */
  readonly soa: 'none' | 'answer' | 'authority'
  /** The domain (`consul.` or the alt domain) the question was asked in. */
  readonly domain: string
  /** Smallest entry in bytes (to bound how many a reply may take). */
  readonly minEntryBytes: number
}

interface Draft extends Omit<Prepared, 'count' | 'table' | 'bytes' | 'minEntryBytes'> {
  readonly entries: readonly Entry[]
}

/**
 * Packs the entries: all their bytes in one buffer, their offsets in one typed array. Thousands of
 * small buffers and objects scattered over the heap make both garbage collection and a query's
 * random picks slower as the number of instances grows; one packed answer keeps them flat.
 */
function prepared(d: Draft): Prepared {
  const { entries, ...rest } = d
  let total = 0
  let min = Infinity
  for (const e of entries) {
    total += e.answer.bytes.length + e.extra.bytes.length
    min = Math.min(min, e.answer.bytes.length + e.extra.bytes.length)
  }
  const bytes = Buffer.allocUnsafeSlow(total)
  const table = new Uint32Array(entries.length * ENTRY_FIELDS)
  const keys = new Map<string, number>()
  let at = 0
  entries.forEach((e, i) => {
    const row = i * ENTRY_FIELDS
    table[row + F.answerAt] = at
    table[row + F.answerLen] = e.answer.bytes.length
    table[row + F.answerCount] = e.answer.count
    at += e.answer.bytes.copy(bytes, at)
    table[row + F.extraAt] = at
    table[row + F.extraLen] = e.extra.bytes.length
    table[row + F.extraCount] = e.extra.count
    at += e.extra.bytes.copy(bytes, at)
    if (e.extraKey !== '') {
      let key = keys.get(e.extraKey)
      if (key === undefined) keys.set(e.extraKey, (key = keys.size + 1))
      table[row + F.extraKey] = key
    }
  })
  return Object.freeze({
    ...rest,
    count: entries.length,
    table,
    bytes,
    minEntryBytes: min === Infinity ? 0 : min,
  })
}

/** How a question's type selects addresses. */
type AddrMode = 'v4' | 'v6' | 'any' | 'srv' | 'none'

function addrMode(qtype: string): AddrMode {
  switch (qtype) {
    case 'A':
      return 'v4'
    case 'AAAA':
      return 'v6'
    case 'SRV':
      return 'srv'
    // Consul answers ANY, TXT (and NS, handled before) on a service with its addresses.
    case 'ANY':
    case 'TXT':
      return 'any'
    default:
      return 'none'
  }
}

export interface PrepareContext {
  readonly catalog: DnsCatalog
  readonly settings: DnsSettings
}

/** NXDOMAIN with the SOA, as for every name Consul does not know. */
export function nameError(domain: string): Prepared {
  return prepared({
    rcode: RCODE.NXDOMAIN,
    entries: [],
    shuffle: false,
    maxEntries: 0,
    section: 'answer',
    soa: 'authority',
    domain,
  })
}

function answerWith(
  domain: string,
  entries: Entry[],
  opts: { shuffle?: boolean; maxEntries?: number; soaWhenEmpty?: boolean } = {},
): Prepared {
  const empty = entries.every((e) => e.answer.count === 0)
  return prepared({
    rcode: RCODE.NOERROR,
    entries,
    shuffle: opts.shuffle ?? false,
    maxEntries: opts.maxEntries ?? 0,
    section: 'answer',
    soa: empty && (opts.soaWhenEmpty ?? true) ? 'authority' : 'none',
    domain,
  })
}

/** Prepares the answer to `qtype` for a name in `domain` (NS and SOA queries included). */
export function prepare(ctx: PrepareContext, lookup: Lookup, qtype: string, domain: string): Prepared {
  if (qtype === 'NS' || qtype === 'SOA') {
    const entries = nameServerEntries(ctx, domain)
    if (qtype === 'NS')
      return answerWith(domain, entries, { shuffle: true, maxEntries: 3, soaWhenEmpty: false })
    return prepared({
      rcode: RCODE.NOERROR,
      entries,
      shuffle: true,
      maxEntries: 3,
      section: 'authority',
      soa: 'answer',
      domain,
    })
  }
  switch (lookup.kind) {
    case 'invalid':
      return nameError(domain)
    case 'addr':
      return addrAnswer(ctx.settings, lookup.hex, qtype, domain)
    case 'node':
      return nodeAnswer(ctx, lookup.node, lookup.datacenter, qtype, domain)
    case 'service':
    case 'connect':
    case 'ingress':
      return serviceAnswer(ctx, lookup, qtype, domain)
  }
}

function addrAnswer(settings: DnsSettings, hex: string, qtype: string, domain: string): Prepared {
  const ip = decodeAddrLabel(hex)
  if (ip === undefined) return nameError(domain)
  const v6 = hex.length === 32
  const rr: Answer = { type: v6 ? 'AAAA' : 'A', name: '.', ttl: seconds(settings.nodeTtlMs), data: ip }
  const wanted = qtype === 'ANY' || qtype === (v6 ? 'AAAA' : 'A')
  // Consul puts the record in the additional section when the type does not match.
  const entry: Entry = wanted
    ? { answer: encodeAtQuestion([rr]), extra: NO_RECORDS, extraKey: '' }
    : { answer: NO_RECORDS, extra: encodeAtQuestion([rr]), extraKey: '' }
  return answerWith(domain, [entry], { soaWhenEmpty: false })
}

function nodeAnswer(ctx: PrepareContext, name: string, dc: string, qtype: string, domain: string): Prepared {
  const { settings } = ctx
  // Consul answers only these types for a node, and other types with an empty NOERROR.
  if (qtype !== 'A' && qtype !== 'AAAA' && qtype !== 'ANY' && qtype !== 'TXT') {
    return answerWith(domain, [], { soaWhenEmpty: false })
  }
  if (dc !== settings.datacenter) return nameError(domain)
  const node = ctx.catalog.node(name)
  if (node === undefined) return nameError(domain)
  const ttl = seconds(settings.nodeTtlMs)
  const answer: Answer[] = []
  if (qtype !== 'TXT') answer.push(...nodeAddressRecords(node, qtype, ttl))
  const txt =
    qtype === 'TXT' || qtype === 'ANY' || settings.enableAdditionalNodeMetaTxt ? metaTxt(node, ttl) : []
  const inAnswer = qtype === 'TXT' || qtype === 'ANY'
  const entry: Entry = {
    answer: encodeAtQuestion(inAnswer ? [...answer, ...txt] : answer),
    extra: inAnswer ? NO_RECORDS : encodeAtQuestion(txt),
    extraKey: '',
  }
  return answerWith(domain, [entry], { soaWhenEmpty: false })
}

/** A/AAAA (or a CNAME for a host name) for a node, owned by the question. */
function nodeAddressRecords(node: DnsNode, qtype: string, ttl: number): Answer[] {
  const addr = pickAddress(
    node.address,
    node.taggedAddresses,
    qtype === 'A' ? 'v4' : qtype === 'AAAA' ? 'v6' : 'any',
  )
  const family = isIP(addr)
  if (family === 0) {
    return addr === '' ? [] : [{ type: 'CNAME', name: '.', ttl, data: fqdn(addr) }]
  }
  const rr = addressRecord(addr, family, qtype === 'A' ? 'v4' : qtype === 'AAAA' ? 'v6' : 'any', ttl)
  return rr === undefined ? [] : [rr]
}

function addressRecord(addr: string, family: number, mode: AddrMode, ttl: number): Answer | undefined {
  if (family === 4 && (mode === 'v4' || mode === 'any' || mode === 'srv'))
    return { type: 'A', name: '.', ttl, data: addr }
  if (family === 6 && (mode === 'v6' || mode === 'any' || mode === 'srv')) {
    return { type: 'AAAA', name: '.', ttl, data: addr }
  }
  return undefined
}

/**
 * The address to answer with: `address`, or for A (AAAA) queries the `lan_ipv4` (`lan_ipv6`)
 * tagged address when `address` is not of that family (Consul's address translation, local DC).
 */
function pickAddress(address: string, tagged: Readonly<Record<string, string>>, mode: AddrMode): string {
  if (mode === 'v4' && isIP(address) !== 4) {
    const alt = tagged['lan_ipv4']
    if (alt !== undefined && isIP(alt) === 4) return alt
  }
  if (mode === 'v6' && isIP(address) !== 6) {
    const alt = tagged['lan_ipv6']
    if (alt !== undefined && isIP(alt) === 6) return alt
  }
  return address
}

/** Node meta as TXT records, one per pair, RFC 1464 `key=value` (`rfc1035-` keys: the value). */
function metaTxt(node: DnsNode, ttl: number, owner = '.'): Answer[] {
  return Object.keys(node.meta)
    .sort()
    .map((key) => {
      const value = node.meta[key] ?? ''
      const text = key.toLowerCase().startsWith('rfc1035-') ? value : encodeRfc1464(key, value)
      return { type: 'TXT', name: owner, ttl, data: [Buffer.from(text).subarray(0, 255)] }
    })
}

function encodeRfc1464(key: string, value: string): string {
  let k = key.replaceAll('`', '``').replaceAll('=', '`=')
  const lead = k.length - k.trimStart().length
  k = '` '.repeat(lead) + k.trimStart()
  const trail = k.length - k.trimEnd().length
  k = k.trimEnd() + '` '.repeat(trail)
  return `${k}=${value.replaceAll('`', '``')}`
}

function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`
}

function healthy(inst: DnsInstance, onlyPassing: boolean): boolean {
  for (const c of inst.checks) {
    if (c.status === 'critical' || c.status === 'maintenance') return false
    if (onlyPassing && c.status !== 'passing') return false
  }
  return true
}

function srvWeight(inst: DnsInstance): number {
  const w = inst.service.weights ?? { passing: 1, warning: 1 }
  const warning = inst.checks.some((c) => c.status === 'warning')
  return Math.max(0, Math.min(0xffff, warning ? w.warning : w.passing))
}

function serviceAnswer(
  ctx: PrepareContext,
  lookup: Extract<Lookup, { kind: 'service' | 'connect' | 'ingress' }>,
  qtype: string,
  domain: string,
): Prepared {
  const { catalog, settings } = ctx
  if (lookup.datacenter !== settings.datacenter) return nameError(domain)
  const all =
    lookup.kind === 'connect'
      ? catalog.connectInstances(lookup.service)
      : lookup.kind === 'ingress'
        ? catalog.ingressGateways(lookup.service)
        : catalog.serviceInstances(lookup.service)
  const tag = lookup.kind === 'service' ? lookup.tag : ''
  const instances = all.filter(
    (i) =>
      healthy(i, settings.onlyPassing) && (tag === '' || i.service.tags.some((t) => t.toLowerCase() === tag)),
  )
  if (instances.length === 0) return nameError(domain)
  const ttl = serviceTtlSeconds(settings, lookup.service)
  const mode = addrMode(qtype)
  if (mode === 'none') return answerWith(domain, [])
  if (mode === 'srv') return srvAnswer(settings, instances, ttl, domain)

  const entries: Entry[] = []
  const seen = new Set<string>()
  let cname: Entry | undefined
  for (const inst of instances) {
    const addr = pickAddress(
      inst.service.address === '' ? inst.node.address : inst.service.address,
      inst.service.address === '' ? inst.node.taggedAddresses : inst.service.taggedAddresses,
      mode,
    )
    if (addr === '') continue
    const family = isIP(addr)
    if (family === 0) {
      // A host name: a CNAME, used only when no instance has an address (as Consul).
      cname ??= {
        answer: encodeAtQuestion([{ type: 'CNAME', name: '.', ttl, data: fqdn(addr) }]),
        extra: NO_RECORDS,
        extraKey: '',
      }
      continue
    }
    const rr = addressRecord(addr, family, mode, ttl)
    if (rr === undefined || seen.has(addr)) continue
    seen.add(addr)
    entries.push({ answer: encodeAtQuestion([rr]), extra: NO_RECORDS, extraKey: '' })
  }
  if (entries.length === 0 && cname !== undefined) entries.push(cname)
  return answerWith(domain, entries, { shuffle: true, maxEntries: settings.aRecordLimit })
}

function srvAnswer(
  settings: DnsSettings,
  instances: readonly DnsInstance[],
  ttl: number,
  domain: string,
): Prepared {
  const entries: Entry[] = []
  const seen = new Set<string>()
  for (const inst of instances) {
    const svcAddr = inst.service.address
    const tuple = `${inst.node.name}\u0000${svcAddr}\u0000${inst.service.port}`
    if (seen.has(tuple)) continue
    seen.add(tuple)
    const nodeName = `${inst.node.name}.node.${inst.node.datacenter}.${domain}`.toLowerCase()
    const addr = svcAddr === '' ? inst.node.address : svcAddr
    const family = isIP(addr)
    let target: string
    const extra: Answer[] = []
    if (family !== 0) {
      target =
        svcAddr === ''
          ? nodeName
          : `${encodeAddrLabel(addr, family === 4 ? 4 : 6)}.addr.${settings.datacenter}.${domain}`
      const rr = addressRecord(addr, family, 'srv', ttl)
      if (rr !== undefined) extra.push({ ...rr, name: target })
    } else if (addr !== '') {
      target = fqdn(addr)
    } else {
      continue
    }
    if (settings.enableAdditionalNodeMetaTxt) extra.push(...metaTxt(inst.node, ttl, nodeName))
    entries.push({
      answer: encodeAtQuestion([
        {
          type: 'SRV',
          name: '.',
          ttl,
          data: { priority: 1, weight: srvWeight(inst), port: inst.service.port & 0xffff, target },
        },
      ]),
      extra: encodeRecords(extra),
      extraKey: `${target}\u0000${nodeName}`,
    })
  }
  return answerWith(domain, entries, { shuffle: true })
}

/** NS records for the domain: the healthy `consul` servers, each with its address as glue. */
function nameServerEntries(ctx: PrepareContext, domain: string): Entry[] {
  const { catalog, settings } = ctx
  const ttl = seconds(settings.nodeTtlMs)
  const entries: Entry[] = []
  for (const inst of catalog.serviceInstances('consul')) {
    if (!healthy(inst, settings.onlyPassing) || !isValidDnsLabel(inst.node.name)) continue
    const name = `${inst.node.name}.node.${inst.node.datacenter}.${domain}`.toLowerCase()
    const family = isIP(inst.node.address)
    const glue = family === 0 ? undefined : addressRecord(inst.node.address, family, 'any', ttl)
    entries.push({
      answer: encodeRecords([{ type: 'NS', name: domain, ttl, data: name }]),
      extra: glue === undefined ? NO_RECORDS : encodeRecords([{ ...glue, name }]),
      extraKey: name,
    })
  }
  return entries
}

/** The SOA of `domain` (Consul's `makeSOARecord`: serial = now in seconds). */
export function soaRecords(settings: DnsSettings, domain: string, nowMs: number): Records {
  const { soa } = settings
  return encodeRecords([
    {
      type: 'SOA',
      name: domain,
      ttl: soa.minTtl,
      data: {
        mname: `ns.${domain}`,
        rname: `hostmaster.${domain}`,
        serial: Math.floor(nowMs / 1000) >>> 0,
        refresh: soa.refresh,
        retry: soa.retry,
        expire: soa.expire,
        minimum: soa.minTtl,
      },
    },
  ])
}
