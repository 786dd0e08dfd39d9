/** Building DNS queries and reading replies in tests, with dns-packet. */
import * as dnsPacket from 'dns-packet'
import type { DnsResolver, Transport } from '../../src/dns/resolver.js'

export type Reply = dnsPacket.DecodedPacket & { rcode?: string }

export interface QueryOptions {
  readonly id?: number
  readonly edns?: number
  readonly rd?: boolean
}

export type QueryType = dnsPacket.RecordType | 'ANY'

export function query(name: string, type: QueryType, opts: QueryOptions = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 4242,
    flags: opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    // dns-packet encodes ANY (255) though its types omit it.
    questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }],
    additionals:
      opts.edns === undefined
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: opts.edns,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
  })
}

export function decode(bytes: Buffer): Reply {
  return dnsPacket.decode(bytes)
}

/** Resolves through the core and decodes; fails when the outcome is not a reply. */
export function ask(
  resolver: DnsResolver,
  name: string,
  type: QueryType,
  opts: QueryOptions & { transport?: Transport } = {},
): Reply & { bytes: Buffer } {
  const out = resolver.resolve(query(name, type, opts), opts.transport ?? 'udp')
  if (out.kind !== 'reply') throw new Error(`expected a reply, got ${out.kind}`)
  return Object.assign(decode(out.bytes), { bytes: out.bytes })
}

/** `data` of the answers of one type, as strings (SRV: `priority weight port target`). */
export function datas(records: readonly dnsPacket.Answer[] | undefined, type?: string): string[] {
  return (records ?? [])
    .filter((a) => type === undefined || a.type === type)
    .map((a) => {
      if (a.type === 'SRV') return `${a.data.priority} ${a.data.weight} ${a.data.port} ${a.data.target}`
      if (a.type === 'TXT') return (Array.isArray(a.data) ? a.data : [a.data]).map(String).join('')
      if (a.type === 'SOA') return `${a.data.mname} ${a.data.rname}`
      if (a.type === 'OPT') return 'OPT'
      return typeof a.data === 'string' ? a.data : JSON.stringify(a.data)
    })
}

/** The TTL of a record (undefined for OPT). */
export function ttlOf(a: dnsPacket.Answer | undefined): number | undefined {
  return a !== undefined && 'ttl' in a ? a.ttl : undefined
}
