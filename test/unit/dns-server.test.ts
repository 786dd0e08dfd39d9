import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import { connect, createServer } from 'node:net'
import { describe, test, type TestContext } from 'node:test'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { DnsResolver } from '../../src/dns/resolver.js'
import { DnsServer } from '../../src/dns/server.js'
import { DEFAULT_DNS_SETTINGS, type DnsSettings } from '../../src/dns/settings.js'
import { MemoryDnsCatalog } from '../support/dns-catalog.js'
import { datas, decode, query } from '../support/dns-query.js'
import { startUpstream } from '../support/dns-upstream.js'
import { within } from '../support/wait.js'

const run = promisify(execFile)

async function startServer(t: TestContext, catalog: MemoryDnsCatalog, settings: Partial<DnsSettings> = {}) {
  const server = new DnsServer({
    catalog,
    settings: { ...DEFAULT_DNS_SETTINGS, ...settings },
    addresses: ['127.0.0.1'],
    port: 0,
  })
  await server.start()
  t.after(() => server.close())
  return server
}

function udpAsk(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4')
    const timer = setTimeout(() => {
      s.close()
      resolve(undefined)
    }, timeoutMs)
    s.on('message', (reply) => {
      clearTimeout(timer)
      s.close()
      resolve(reply)
    })
    s.send(msg, port, '127.0.0.1')
  })
}

function tcpAsk(port: number, msgs: readonly Buffer[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const c = connect({ port, host: '127.0.0.1' })
    let buf = Buffer.alloc(0)
    const out: Buffer[] = []
    c.on('error', reject)
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        out.push(buf.subarray(2, buf.readUInt16BE(0) + 2))
        buf = buf.subarray(buf.readUInt16BE(0) + 2)
      }
      if (out.length === msgs.length) {
        c.destroy()
        resolve(out)
      }
    })
    c.write(
      Buffer.concat(
        msgs.flatMap((m) => {
          const f = Buffer.alloc(2)
          f.writeUInt16BE(m.length)
          return [f, m]
        }),
      ),
    )
  })
}

function webCatalog(count: number): MemoryDnsCatalog {
  const catalog = new MemoryDnsCatalog()
  for (let i = 0; i < count; i++) {
    catalog.add({
      node: `node-${i}`,
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      nodeMeta: { rack: `r${i % 7}` },
      service: 'web',
      id: `web-${i}`,
      port: 8000 + (i % 1000),
      checks: ['passing'],
    })
  }
  return catalog
}

describe('DNS server with real resolvers', () => {
  test("node's dns.Resolver resolves services, SRV, node TXT, and gets NXDOMAIN for unknown names", async (t) => {
    const catalog = webCatalog(3)
    catalog.addNode('db1', '10.9.9.9', { role: 'db' })
    const server = await startServer(t, catalog)
    const r = new Resolver({ timeout: 2000, tries: 1 })
    r.setServers([`127.0.0.1:${server.port}`])
    assert.deepEqual((await r.resolve4('web.service.consul')).sort(), ['10.0.0.0', '10.0.0.1', '10.0.0.2'])
    const srv = await r.resolveSrv('_web._tcp.service.consul')
    assert.deepEqual(srv.map((s) => s.name).sort(), [
      'node-0.node.dc1.consul',
      'node-1.node.dc1.consul',
      'node-2.node.dc1.consul',
    ])
    assert.deepEqual(await r.resolveTxt('db1.node.consul'), [['role=db']])
    await assert.rejects(r.resolve4('nope.service.consul'), { code: 'ENOTFOUND' })
    await assert.rejects(r.resolve4('example.com'), { code: 'ESERVFAIL' })
  })

  test('dig reads answers over UDP and TCP, with the TC bit and a TCP retry for a large service', async (t) => {
    const server = await startServer(t, webCatalog(40), { enableTruncate: true })
    const dig = async (...args: string[]) =>
      (await run('dig', ['@127.0.0.1', '-p', String(server.port), '+tries=1', '+time=2', ...args])).stdout
    const short = (await dig('+short', 'node-3.node.consul', 'A')).trim()
    assert.equal(short, '10.0.0.3')
    const udpOnly = await dig('+ignore', '+noedns', 'web.service.consul', 'A')
    assert.match(udpOnly, /flags: qr aa tc rd;/)
    assert.match(udpOnly, /ANSWER: 3,/)
    const viaTcp = await dig('+tcp', 'web.service.consul', 'SRV')
    assert.match(viaTcp, /ANSWER: 40,/)
    assert.match(viaTcp, /ADDITIONAL: 81$/m) // 40 A + 40 TXT + OPT
    const retried = await dig('+noedns', 'web.service.consul', 'A')
    assert.match(retried, /ANSWER: 40,/)
    const nx = await dig('nope.service.consul', 'A')
    assert.match(nx, /status: NXDOMAIN/)
    assert.match(nx, /consul\.\s+0\s+IN\s+SOA\s+ns\.consul\. hostmaster\.consul\./)
  })

  test('TCP carries pipelined queries on one connection', async (t) => {
    const server = await startServer(t, webCatalog(2))
    const replies = await within(
      tcpAsk(server.port, [
        query('web.service.consul', 'A', { id: 1 }),
        query('node-1.node.consul', 'A', { id: 2 }),
      ]),
      5000,
      'two replies',
    )
    const byId = new Map(replies.map((b) => [decode(b).id, decode(b)]))
    assert.deepEqual(datas(byId.get(2)?.answers), ['10.0.0.1'])
    assert.equal(byId.get(1)?.answers?.length, 2)
  })

  test('start() rejects when the TCP port is taken, and leaves the UDP port free', async (t) => {
    const taken = createServer()
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r))
    t.after(() => new Promise((r) => taken.close(r)))
    const port = (taken.address() as { port: number }).port
    const server = new DnsServer({
      catalog: webCatalog(1),
      settings: DEFAULT_DNS_SETTINGS,
      addresses: ['127.0.0.1'],
      port,
    })
    await assert.rejects(server.start(), { code: 'EADDRINUSE' })
    const udp = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(port, '127.0.0.1', resolve)
    })
    await new Promise<void>((r) => udp.close(() => r()))
  })

  test('an unparsable recursor address is refused', () => {
    assert.throws(
      () =>
        new DnsServer({
          catalog: webCatalog(1),
          settings: { ...DEFAULT_DNS_SETTINGS, recursors: ['not an address'] },
          addresses: ['127.0.0.1'],
          port: 0,
        }),
      { message: 'Invalid recursor address: not an address' },
    )
  })

  test('close() releases the port and is idempotent', async () => {
    const server = new DnsServer({
      catalog: webCatalog(1),
      settings: DEFAULT_DNS_SETTINGS,
      addresses: ['127.0.0.1'],
      port: 0,
    })
    await server.start()
    const port = server.port
    await Promise.all([server.close(), server.close()])
    const again = createServer()
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject)
      again.listen(port, '127.0.0.1', resolve)
    })
    await new Promise((r) => again.close(r))
  })
})

describe('DNS recursors', () => {
  test('names outside the domain are forwarded over UDP and TCP; a dead recursor is skipped', async (t) => {
    const up = await startUpstream({ address: '192.0.2.7' })
    t.after(() => up.close())
    const dead = createSocket('udp4')
    await new Promise<void>((r) => dead.bind(0, '127.0.0.1', r))
    t.after(() => new Promise<void>((r) => dead.close(() => r())))
    const server = await startServer(t, new MemoryDnsCatalog(), {
      recursors: [`127.0.0.1:${dead.address().port}`, `127.0.0.1:${up.port}`],
      recursorTimeoutMs: 200,
    })
    const udp = decode((await udpAsk(server.port, query('example.com', 'A', { id: 77 })))!)
    assert.equal(udp.id, 77)
    assert.deepEqual(datas(udp.answers), ['192.0.2.7'])
    const [tcp] = await tcpAsk(server.port, [query('example.org', 'A', { id: 78 })])
    assert.deepEqual(datas(decode(tcp!).answers), ['192.0.2.7'])
    assert.equal(decode(tcp!).id, 78)
    assert.equal(up.seen.udp, 1)
    assert.equal(up.seen.tcp, 1)
  })

  test('SERVFAIL when no recursor answers (timeout) or all fail', async (t) => {
    const failing = await startUpstream({ rcode: 2 })
    t.after(() => failing.close())
    const silent = createSocket('udp4')
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r))
    t.after(() => new Promise<void>((r) => silent.close(() => r())))
    const server = await startServer(t, new MemoryDnsCatalog(), {
      recursors: [`127.0.0.1:${silent.address().port}`, `127.0.0.1:${failing.port}`],
      recursorTimeoutMs: 150,
    })
    const reply = decode((await udpAsk(server.port, query('example.com', 'A', { id: 5 })))!)
    assert.equal(reply.rcode, 'SERVFAIL')
    assert.equal(reply.id, 5)
    assert.equal(failing.seen.udp, 1)
  })

  test('close() does not wait for a silent recursor', async () => {
    const silent = createSocket('udp4')
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r))
    let got = 0
    silent.on('message', () => got++)
    const server = new DnsServer({
      catalog: new MemoryDnsCatalog(),
      settings: {
        ...DEFAULT_DNS_SETTINGS,
        recursors: [`127.0.0.1:${silent.address().port}`],
        recursorTimeoutMs: 60_000,
      },
      addresses: ['127.0.0.1'],
      port: 0,
    })
    await server.start()
    const pending = udpAsk(server.port, query('example.com', 'A'), 300)
    const deadline = Date.now() + 2000
    while (got === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r))
    assert.equal(got, 1)
    await within(server.close(), 1000, 'close with a forward in flight')
    assert.equal(await pending, undefined)
    await new Promise<void>((r) => silent.close(() => r()))
  })
})

describe('DNS bad input', () => {
  test('fuzz: random and mutated packets never throw, and every reply decodes and echoes the ID', () => {
    const catalog = webCatalog(30)
    catalog.addNode('n1', '10.1.1.1', { k: 'v' })
    const resolver = new DnsResolver({
      catalog,
      settings: { ...DEFAULT_DNS_SETTINGS, recursors: ['127.0.0.1:1'], altDomain: 'alt.' },
    })
    const seeds = [
      query('web.service.consul', 'SRV', { edns: 1232 }),
      query('_web._tcp.service.dc1.consul', 'SRV'),
      query('n1.node.consul', 'ANY'),
      query('7f000001.addr.consul', 'A'),
      query('consul', 'SOA'),
      query('example.com', 'A'),
    ]
    const mutated = fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat({ max: 80 }),
      )
      .map(([seed, flips, cut]) => {
        const b = Buffer.from(seed)
        for (const [at, v] of flips) b[at % b.length] = v
        return cut > 0 ? b.subarray(0, Math.max(0, b.length - cut)) : b
      })
    const random = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a))
    fc.assert(
      fc.property(
        fc.oneof(mutated, random),
        fc.constantFrom('udp' as const, 'tcp' as const),
        (raw, transport) => {
          const out = resolver.resolve(raw, transport)
          if (out.kind === 'drop') return
          const bytes = out.kind === 'reply' ? out.bytes : out.servfail
          const reply = decode(bytes)
          assert.equal(reply.id, raw.readUInt16BE(0))
          assert.equal(reply.type, 'response')
          assert.ok(bytes.length <= 65535)
        },
      ),
      { numRuns: 20_000 },
    )
  })

  test('fuzz over the socket: the server keeps answering after garbage', async (t) => {
    const server = await startServer(t, webCatalog(3))
    const s = createSocket('udp4')
    t.after(() => new Promise<void>((r) => s.close(() => r())))
    const rng = fc.sample(fc.uint8Array({ maxLength: 1500 }), { numRuns: 500, seed: 42 })
    for (const bytes of rng) s.send(Buffer.from(bytes), server.port, '127.0.0.1')
    const [tcpGarbage] = fc.sample(fc.uint8Array({ minLength: 100, maxLength: 3000 }), {
      numRuns: 1,
      seed: 7,
    })
    await new Promise<void>((resolve) => {
      const c = connect({ port: server.port, host: '127.0.0.1' }, () => c.end(Buffer.from(tcpGarbage!)))
      c.on('close', () => resolve())
      c.on('error', () => resolve())
      c.resume()
    })
    const reply = await udpAsk(server.port, query('web.service.consul', 'A'))
    assert.equal(decode(reply!).answers?.length, 3)
  })
})

describe('DNS with 10,000 instances of one name', () => {
  test('UDP is truncated with TC, TCP carries as many SRV records as fit in 64 KiB', async (t) => {
    const catalog = webCatalog(10_000)
    const server = await startServer(t, catalog, { enableTruncate: true })
    const udp = decode((await udpAsk(server.port, query('web.service.consul', 'SRV', { edns: 4096 })))!)
    assert.equal(udp.flag_tc, true)
    assert.ok((udp.answers?.length ?? 0) > 10)
    const [raw] = await tcpAsk(server.port, [query('web.service.consul', 'SRV')])
    assert.ok(raw!.length <= 65535 && raw!.length > 60_000, `${raw!.length} bytes`)
    const tcp = decode(raw!)
    assert.equal(tcp.rcode, 'NOERROR')
    assert.equal(tcp.flag_tc, false)
    const n = tcp.answers?.length ?? 0
    assert.ok(n > 300, `${n} SRV records`)
    assert.equal(new Set(datas(tcp.answers)).size, n)
    assert.equal(tcp.additionals?.filter((a) => a.type === 'A').length, n)
    const [rawA] = await tcpAsk(server.port, [query('web.service.consul', 'A')])
    assert.ok(decode(rawA!).answers!.length > 3000)
  })

  test('answer time does not grow with the number of instances', () => {
    // Like for like: replies of the same size (A without EDNS: 3 answers; SRV with EDNS 4096: a
    // full buffer from 100 instances on). Alternating rounds, best of each: the machine's other
    // load disturbs both sides alike.
    const cases = [
      { q: query('web.service.consul', 'A'), counts: [10, 10_000] },
      { q: query('web.service.consul', 'SRV', { edns: 4096 }), counts: [100, 10_000] },
    ]
    for (const { q, counts } of cases) {
      const sides = counts.map((count) => {
        const catalog = webCatalog(count)
        const resolver = new DnsResolver({ catalog, settings: DEFAULT_DNS_SETTINGS })
        resolver.resolve(q, 'udp')
        return { catalog, resolver, reads: catalog.reads, bestUs: Infinity }
      })
      for (let round = 0; round < 7; round++) {
        for (const side of sides) {
          const rounds = 1000
          const start = process.hrtime.bigint()
          for (let i = 0; i < rounds; i++) side.resolver.resolve(q, 'udp')
          side.bestUs = Math.min(side.bestUs, Number(process.hrtime.bigint() - start) / 1000 / rounds)
        }
      }
      for (const side of sides) assert.equal(side.catalog.reads, side.reads)
      const [small, large] = sides.map((s) => s.bestUs) as [number, number]
      assert.ok(
        large < small * 3 + 20,
        `${counts[0]} instances: ${small.toFixed(1)} µs, ${counts[1]}: ${large.toFixed(1)} µs`,
      )
    }
  })
})
