/**
 * A fake upstream resolver on loopback for recursor tests: UDP and TCP on one port, answering
 * every A question with `address` (or with `rcode`), and counting the queries it saw.
 */
import { createSocket } from 'node:dgram'
import { createServer, type Socket } from 'node:net'
import * as dnsPacket from 'dns-packet'

export interface Upstream {
  readonly port: number
  readonly seen: { udp: number; tcp: number }
  close(): Promise<void>
}

export async function startUpstream(opts: { address?: string; rcode?: number } = {}): Promise<Upstream> {
  const answer = (msg: Buffer): Buffer => {
    const q = dnsPacket.decode(msg)
    const question = q.questions?.[0]
    return dnsPacket.encode({
      id: q.id ?? 0,
      type: 'response',
      flags: dnsPacket.RECURSION_AVAILABLE | (opts.rcode ?? 0),
      questions: question ? [question] : [],
      answers:
        question && opts.rcode === undefined
          ? [{ type: 'A', name: question.name, ttl: 30, data: opts.address ?? '192.0.2.1' }]
          : [],
    })
  }
  const seen = { udp: 0, tcp: 0 }
  const conns = new Set<Socket>()
  // The port UDP got may be taken for TCP by another test's socket: pick again (bounded), and
  // never leave a socket open behind a failed attempt (it would keep the test process alive).
  for (let attempt = 1; ; attempt++) {
    const udp = createSocket('udp4')
    udp.on('message', (msg, rinfo) => {
      seen.udp++
      udp.send(answer(msg), rinfo.port, rinfo.address)
    })
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
    const port = udp.address().port
    const tcp = createServer((c) => {
      conns.add(c)
      c.on('close', () => conns.delete(c))
      c.on('error', () => c.destroy())
      c.on('data', (chunk: Buffer) => {
        seen.tcp++
        const reply = answer(chunk.subarray(2))
        const frame = Buffer.alloc(2)
        frame.writeUInt16BE(reply.length)
        c.write(Buffer.concat([frame, reply]))
      })
    })
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject)
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      await new Promise<void>((r) => udp.close(() => r()))
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue
      throw err
    }
    return {
      port,
      seen,
      close: async () => {
        for (const c of conns) c.destroy()
        await Promise.all([
          new Promise<void>((r) => udp.close(() => r())),
          new Promise<void>((r) => tcp.close(() => r())),
        ])
      },
    }
  }
}
