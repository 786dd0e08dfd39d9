/**
 * The resolver core: one query's bytes in, the reply's bytes (or "forward to a recursor", or
 * "drop") out. Pure apart from its ports: catalog reads, `random` for the per-query order and
 * `now` for the SOA serial. No I/O: src/dns/server.ts carries the bytes and the forwarding.
 *
 * Cost model: answers are prepared once per (catalog index, name, type) and cached until
 * `catalog.index()` moves; a query then picks at most as many entries as its reply can carry,
 * so answering does not grow with the number of instances of a name.
 */
import type { DnsCatalog } from './catalog-port.js'
import { ENTRY_FIELDS, F, nameError, prepare, soaRecords, type Prepared } from './answers.js'
import { parseLookup, splitDomain } from './names.js'
import type { DnsSettings } from './settings.js'
import {
  assemble,
  decodePacket,
  encodeHead,
  encodeOpt,
  FLAG_AA,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  NO_RECORDS,
  RCODE,
  type Question,
  type Records,
} from './wire.js'

export type Transport = 'udp' | 'tcp'

export type Outcome =
  | { readonly kind: 'reply'; readonly bytes: Buffer }
  /** Send `query` to the recursors; answer with `servfail` if none answers. */
  | { readonly kind: 'forward'; readonly query: Buffer; readonly servfail: Buffer }
  /** Nothing to answer (too short to carry an ID, or not a query). */
  | { readonly kind: 'drop' }

export interface ResolverOptions {
  readonly catalog: DnsCatalog
  readonly settings: DnsSettings
  /** In [0, 1); the per-query order of instances. Default Math.random. */
  readonly random?: () => number
  /** Epoch ms, for the SOA serial. Default Date.now. */
  readonly now?: () => number
}

/** Queries larger than this are answered FORMERR: no real question needs more. */
export const MAX_QUERY_BYTES = 4096
/** RFC 1035: a UDP reply to a client without EDNS0 carries at most 512 bytes. */
const DEFAULT_UDP_SIZE = 512
/** Consul caps the EDNS0 buffer size (the IP and UDP headers must fit in 64 KiB). */
const MAX_UDP_SIZE = 65535 - 68
/** A DNS message over TCP: its length is a 16-bit prefix. */
const MAX_TCP_SIZE = 65535
/** Consul's `maxUDPAnswerLimit`: the most answers a UDP reply without EDNS0 carries. */
const MAX_UDP_ANSWER_LIMIT = 8
/** Bound on cached answers (names are chosen by clients); the cache empties when full. */
const MAX_CACHED = 4096
const KNOWN_CLASSES = new Set(['IN', 'CS', 'CH', 'HS', 'ANY'])

export class DnsResolver {
  readonly #catalog: DnsCatalog
  readonly #settings: DnsSettings
  readonly #random: () => number
  readonly #now: () => number
  readonly #cache = new Map<string, Prepared>()
  #cacheIndex = Number.NaN

  constructor(opts: ResolverOptions) {
    this.#catalog = opts.catalog
    this.#settings = opts.settings
    this.#random = opts.random ?? Math.random
    this.#now = opts.now ?? Date.now
  }

  /** Answers one query. Never throws for any input. */
  resolve(raw: Buffer, transport: Transport): Outcome {
    if (raw.length < 12) return { kind: 'drop' }
    const id = raw.readUInt16BE(0)
    const reqFlags = raw.readUInt16BE(2)
    if ((reqFlags & 0x8000) !== 0) return { kind: 'drop' }
    const rd = reqFlags & FLAG_RD
    const ra = this.#settings.recursors.length > 0 ? FLAG_RA : 0
    const opcode = (reqFlags >> 11) & 0xf
    const bare = (rcode: number): Outcome => ({
      kind: 'reply',
      bytes: encodeHead(id, (opcode << 11) | rd | ra | rcode, undefined),
    })
    if (opcode !== 0) return bare(RCODE.NOTIMP)
    if (raw.length > MAX_QUERY_BYTES) return bare(RCODE.FORMERR)
    let packet
    try {
      packet = decodePacket(raw)
    } catch {
      return bare(RCODE.FORMERR)
    }
    const question = packet.questions?.[0]
    if (packet.questions?.length !== 1 || question === undefined) return bare(RCODE.FORMERR)
    if (!KNOWN_CLASSES.has(question.class ?? 'IN')) return bare(RCODE.NOTIMP)
    const opt = packet.additionals?.find((a) => a.type === 'OPT')
    const ednsSize = opt !== undefined && 'udpPayloadSize' in opt ? opt.udpPayloadSize : undefined

    const name = question.name === '' ? '.' : `${question.name.toLowerCase()}.`
    const inDomain = splitDomain(name, this.#settings.domain, this.#settings.altDomain)
    const reply = (flags: number, p: Prepared): Outcome => ({
      kind: 'reply',
      bytes: this.#reply(id, flags, question, p, transport, ednsSize),
    })
    if (inDomain === undefined) {
      if (ra !== 0) {
        return {
          kind: 'forward',
          query: raw,
          servfail: this.#reply(id, rd | ra | RCODE.SERVFAIL, question, undefined, transport, ednsSize),
        }
      }
      // Consul answers reverse names it does not know with NXDOMAIN, others with SERVFAIL.
      if (name.endsWith('.arpa.')) {
        const p = nameError(this.#settings.domain)
        return reply(FLAG_AA | rd | p.rcode, p)
      }
      return {
        kind: 'reply',
        bytes: this.#reply(id, rd | RCODE.SERVFAIL, question, undefined, transport, ednsSize),
      }
    }
    if (question.type === 'AXFR' || question.type === 'IXFR') {
      return {
        kind: 'reply',
        bytes: this.#reply(id, FLAG_AA | rd | ra | RCODE.NOTIMP, question, undefined, transport, ednsSize),
      }
    }
    try {
      const prepared = this.#prepared(name, question.type, inDomain.domain, inDomain.labels)
      return reply(FLAG_AA | rd | ra | prepared.rcode, prepared)
    } catch {
      // Catalog content DNS cannot encode (or a port that throws) fails this query only.
      return {
        kind: 'reply',
        bytes: this.#reply(id, rd | ra | RCODE.SERVFAIL, question, undefined, transport, ednsSize),
      }
    }
  }

  #prepared(name: string, qtype: string, domain: string, labels: readonly string[]): Prepared {
    const index = this.#catalog.index()
    if (index !== this.#cacheIndex) {
      this.#cache.clear()
      this.#cacheIndex = index
    }
    const key = `${qtype} ${name}`
    let p = this.#cache.get(key)
    if (p === undefined) {
      const lookup = parseLookup(labels, qtype, this.#settings.datacenter)
      p = prepare({ catalog: this.#catalog, settings: this.#settings }, lookup, qtype, domain)
      if (this.#cache.size >= MAX_CACHED) this.#cache.clear()
      this.#cache.set(key, p)
    }
    return p
  }

  #reply(
    id: number,
    flags: number,
    question: Question,
    p: Prepared | undefined,
    transport: Transport,
    ednsSize: number | undefined,
  ): Buffer {
    const head = encodeHead(id, flags, question)
    const opt = ednsSize === undefined ? NO_RECORDS : encodeOpt(ednsSize)
    if (p === undefined) return assemble(head, [], [], [opt])
    const soa = p.soa === 'none' ? NO_RECORDS : soaRecords(this.#settings, p.domain, this.#now())

    const udp = transport === 'udp'
    const maxSize = udp
      ? ednsSize === undefined
        ? DEFAULT_UDP_SIZE
        : Math.min(MAX_UDP_SIZE, Math.max(DEFAULT_UDP_SIZE, ednsSize))
      : MAX_TCP_SIZE
    const hardMax = udp ? MAX_UDP_SIZE : MAX_TCP_SIZE
    const n = p.count
    const offered = p.maxEntries > 0 ? Math.min(n, p.maxEntries) : n
    let cap = offered
    // Consul applies the answer limit whenever the reply is held to 512 bytes, EDNS0 or not.
    if (udp && maxSize === DEFAULT_UDP_SIZE) {
      cap = Math.min(cap, Math.max(0, Math.min(MAX_UDP_ANSWER_LIMIT, this.#settings.udpAnswerLimit)))
    }
    const fixed = head.length + soa.bytes.length + opt.bytes.length
    const budget = maxSize - fixed
    if (p.minEntryBytes > 0) cap = Math.min(cap, Math.floor(Math.max(0, budget) / p.minEntryBytes) + 1)

    const order = p.shuffle ? sample(n, cap, this.#random) : firstIndices(cap)
    const answers: Records[] = []
    const extras: Records[] = []
    const seenExtra = new Set<number>()
    let used = 0
    const { table, bytes } = p
    for (const i of order) {
      const row = i * ENTRY_FIELDS
      const answerAt = table[row + F.answerAt] ?? 0
      const answerLen = table[row + F.answerLen] ?? 0
      const extraAt = table[row + F.extraAt] ?? 0
      const extraLen = table[row + F.extraLen] ?? 0
      const key = table[row + F.extraKey] ?? 0
      const shared = key !== 0 && seenExtra.has(key)
      const size = answerLen + (shared ? 0 : extraLen)
      // Consul sends one entry even when it alone exceeds the client's size.
      const fits = used + size <= budget || (answers.length === 0 && fixed + size <= hardMax)
      if (!fits) break
      used += size
      answers.push({
        bytes: bytes.subarray(answerAt, answerAt + answerLen),
        count: table[row + F.answerCount] ?? 0,
      })
      if (!shared && extraLen > 0) {
        extras.push({
          bytes: bytes.subarray(extraAt, extraAt + extraLen),
          count: table[row + F.extraCount] ?? 0,
        })
        if (key !== 0) seenExtra.add(key)
      }
    }
    const truncated = answers.length < offered
    const finalHead =
      truncated && udp && this.#settings.enableTruncate ? encodeHead(id, flags | FLAG_TC, question) : head
    const answerSection = p.soa === 'answer' ? [soa] : p.section === 'answer' ? answers : []
    const authority = p.soa === 'authority' ? [soa] : p.section === 'authority' ? answers : []
    return assemble(finalHead, answerSection, authority, [...extras, opt])
  }
}

function firstIndices(k: number): number[] {
  return Array.from({ length: k }, (_, i) => i)
}

/** `k` distinct indices below `n` in uniformly random order, in O(k) (O(n) when k > n/2). */
export function sample(n: number, k: number, random: () => number): number[] {
  const count = Math.min(n, Math.max(0, k))
  if (count * 2 > n) {
    const all = firstIndices(n)
    for (let i = 0; i < count; i++) {
      const j = Math.min(n - 1, i + Math.floor(random() * (n - i)))
      const t = all[i] as number
      all[i] = all[j] as number
      all[j] = t
    }
    return all.slice(0, count)
  }
  const out: number[] = []
  const seen = new Set<number>()
  while (out.length < count) {
    // Linear probing on a collision: terminates whatever `random` returns.
    let j = Math.min(n - 1, Math.floor(random() * n))
    while (seen.has(j)) j = (j + 1) % n
    seen.add(j)
    out.push(j)
  }
  return out
}
