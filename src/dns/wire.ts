/**
 * DNS wire format through `dns-packet`: every record is encoded by the package, once, when an
 * answer is prepared; a reply is then the package's header and question followed by those
 * prepared record bytes. Two small steps are ours and stated here: a record owned by the
 * question's name is encoded with the root name and its first byte replaced by a compression
 * pointer to offset 12 (where the question's name starts, RFC 1035 §4.1.4), so one prepared
 * record serves every spelling of the question; and the section counts of the header are set
 * after the records are chosen.
 */
import * as dnsPacket from 'dns-packet'

export type Answer = dnsPacket.Answer
export type Question = dnsPacket.Question

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const

export const FLAG_AA = dnsPacket.AUTHORITATIVE_ANSWER
export const FLAG_TC = dnsPacket.TRUNCATED_RESPONSE
export const FLAG_RD = dnsPacket.RECURSION_DESIRED
export const FLAG_RA = dnsPacket.RECURSION_AVAILABLE

const HEADER_BYTES = 12
const POINTER_TO_QUESTION = Buffer.from([0xc0, 0x0c])

/** Records already in wire format, concatenated, with how many there are. */
export interface Records {
  readonly bytes: Buffer
  readonly count: number
}

export const NO_RECORDS: Records = Object.freeze({ bytes: Buffer.alloc(0), count: 0 })

/** Encodes records with their own owner names. */
export function encodeRecords(records: readonly Answer[]): Records {
  if (records.length === 0) return NO_RECORDS
  return { bytes: dnsPacket.encode({ answers: [...records] }).subarray(HEADER_BYTES), count: records.length }
}

/** Encodes records owned by the question's name (whatever its spelling in the query). */
export function encodeAtQuestion(records: readonly Answer[]): Records {
  if (records.length === 0) return NO_RECORDS
  const parts: Buffer[] = []
  for (const rr of records) {
    // The root name encodes as the single byte 0; the pointer takes its place.
    const one = dnsPacket.encode({ answers: [{ ...rr, name: '.' }] }).subarray(HEADER_BYTES + 1)
    parts.push(POINTER_TO_QUESTION, one)
  }
  return { bytes: Buffer.concat(parts), count: records.length }
}

export function joinRecords(list: readonly Records[]): Records {
  const nonEmpty = list.filter((r) => r.count > 0)
  if (nonEmpty.length === 0) return NO_RECORDS
  if (nonEmpty.length === 1) return nonEmpty[0] ?? NO_RECORDS
  return {
    bytes: Buffer.concat(nonEmpty.map((r) => r.bytes)),
    count: nonEmpty.reduce((n, r) => n + r.count, 0),
  }
}

/** Header (id, flags with opcode and rcode) and the one question, all counts but QDCOUNT 0. */
export function encodeHead(id: number, flags: number, question: Question | undefined): Buffer {
  return dnsPacket.encode({
    id,
    type: 'response',
    flags,
    questions: question === undefined ? [] : [question],
  })
}

/** A reply: `head` followed by the sections, with the counts written into the header. */
export function assemble(
  head: Buffer,
  answer: readonly Records[],
  authority: readonly Records[],
  additional: readonly Records[],
): Buffer {
  const parts: Buffer[] = [head]
  let an = 0
  let ns = 0
  let ar = 0
  for (const r of answer) {
    parts.push(r.bytes)
    an += r.count
  }
  for (const r of authority) {
    parts.push(r.bytes)
    ns += r.count
  }
  for (const r of additional) {
    parts.push(r.bytes)
    ar += r.count
  }
  const out = Buffer.concat(parts)
  out.writeUInt16BE(an, 6)
  out.writeUInt16BE(ns, 8)
  out.writeUInt16BE(ar, 10)
  return out
}

/** The OPT record of a reply to an EDNS query (Consul echoes the client's buffer size). */
export function encodeOpt(udpPayloadSize: number): Records {
  return encodeRecords([
    {
      type: 'OPT',
      name: '.',
      udpPayloadSize,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: 0,
      flag_do: false,
      options: [],
    },
  ])
}

export function decodePacket(raw: Buffer): dnsPacket.DecodedPacket {
  return dnsPacket.decode(raw)
}
