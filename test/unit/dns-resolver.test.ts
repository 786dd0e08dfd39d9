import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DnsResolver, sample } from '../../src/dns/resolver.js'
import { DEFAULT_DNS_SETTINGS, serviceTtlSeconds, type DnsSettings } from '../../src/dns/settings.js'
import { MemoryDnsCatalog } from '../support/dns-catalog.js'
import { ask, datas, decode, query, ttlOf } from '../support/dns-query.js'

function setup(settings: Partial<DnsSettings> = {}, random: () => number = Math.random) {
  const catalog = new MemoryDnsCatalog()
  const resolver = new DnsResolver({
    catalog,
    settings: { ...DEFAULT_DNS_SETTINGS, ...settings },
    random,
    now: () => 1_700_000_000_000,
  })
  return { catalog, resolver }
}

/** A deterministic random sequence (LCG). */
function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

describe('DNS resolver: service names', () => {
  test('service lookup answers the addresses of passing and warning instances, not critical ones', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web', checks: ['passing'] })
    catalog.add({ node: 'n2', address: '10.0.0.2', service: 'web', checks: ['warning'] })
    catalog.add({ node: 'n3', address: '10.0.0.3', service: 'web', checks: ['passing', 'critical'] })
    catalog.add({ node: 'n4', address: '10.0.0.4', service: 'web', checks: ['maintenance'] })
    const r = ask(resolver, 'web.service.consul', 'A', { edns: 4096 })
    assert.equal(r.rcode, 'NOERROR')
    assert.equal(r.flag_aa, true)
    assert.deepEqual(datas(r.answers).sort(), ['10.0.0.1', '10.0.0.2'])
    assert.ok(r.answers?.every((a) => a.name === 'web.service.consul'))
  })

  test('service lookup drops warning instances when only_passing', () => {
    const { catalog, resolver } = setup({ onlyPassing: true })
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web', checks: ['passing'] })
    catalog.add({ node: 'n2', address: '10.0.0.2', service: 'web', checks: ['warning'] })
    assert.deepEqual(datas(ask(resolver, 'web.service.consul', 'A').answers), ['10.0.0.1'])
  })

  test('service lookup answers NXDOMAIN with the SOA when the name is unknown or nothing is healthy', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', service: 'db', checks: ['critical'] })
    for (const name of ['nope.service.consul', 'db.service.consul', 'a.b.c.consul', 'x.query.consul']) {
      const r = ask(resolver, name, 'A')
      assert.equal(r.rcode, 'NXDOMAIN', name)
      assert.deepEqual(datas(r.authorities), ['ns.consul hostmaster.consul'])
      assert.equal(r.answers?.length, 0)
    }
  })

  test('names match case-insensitively and the answer keeps the question spelling', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'Web', tags: ['Primary'] })
    const r = ask(resolver, 'PRIMARY.wEb.Service.CONSUL', 'A')
    assert.deepEqual(datas(r.answers), ['10.0.0.1'])
    assert.equal(r.questions?.[0]?.name, 'PRIMARY.wEb.Service.CONSUL')
    assert.equal(r.answers?.[0]?.name, 'PRIMARY.wEb.Service.CONSUL')
  })

  test('tag and RFC 2782 names filter by tag; _tcp means any tag', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web', id: 'w1', tags: ['v1'], port: 80 })
    catalog.add({ node: 'n2', address: '10.0.0.2', service: 'web', id: 'w2', tags: ['v2'], port: 81 })
    assert.deepEqual(datas(ask(resolver, 'v1.web.service.consul', 'A').answers), ['10.0.0.1'])
    assert.deepEqual(datas(ask(resolver, '_web._v2.service.consul', 'SRV').answers), [
      '1 1 81 n2.node.dc1.consul',
    ])
    assert.equal(ask(resolver, '_web._tcp.service.consul', 'SRV', { edns: 4096 }).answers?.length, 2)
    assert.equal(ask(resolver, '_web._tcp.consul', 'SRV', { edns: 4096 }).answers?.length, 2)
    assert.equal(ask(resolver, 'v3.web.service.consul', 'A').rcode, 'NXDOMAIN')
  })

  test('SRV answers target the node name (or the addr name of a service address) with A and meta TXT in additional', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', address: '10.0.0.1', nodeMeta: { rack: 'r1' }, service: 'web', port: 8080 })
    catalog.add({
      node: 'n2',
      address: '10.0.0.2',
      service: 'web',
      id: 'w2',
      serviceAddress: '192.168.0.9',
      port: 9090,
    })
    const r = ask(resolver, 'web.service.consul', 'SRV', { edns: 4096 })
    assert.deepEqual(datas(r.answers).sort(), [
      '1 1 8080 n1.node.dc1.consul',
      '1 1 9090 c0a80009.addr.dc1.consul',
    ])
    const extra = (r.additionals ?? [])
      .filter((a) => a.type !== 'OPT')
      .map((a) => `${a.name} ${a.type} ${datas([a])[0]}`)
    assert.deepEqual(extra.sort(), [
      'c0a80009.addr.dc1.consul A 192.168.0.9',
      'n1.node.dc1.consul A 10.0.0.1',
      'n1.node.dc1.consul TXT rack=r1',
    ])
  })

  test('SRV weights follow the aggregated health', () => {
    const { catalog, resolver } = setup()
    catalog.add({
      node: 'n1',
      service: 'web',
      port: 1,
      checks: ['warning'],
      weights: { passing: 10, warning: 3 },
    })
    assert.deepEqual(datas(ask(resolver, 'web.service.consul', 'SRV').answers), ['1 3 1 n1.node.dc1.consul'])
  })

  test('an address that is a host name is answered with a CNAME', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'ext', address: 'example.com', service: 'search' })
    const r = ask(resolver, 'search.service.consul', 'A')
    assert.deepEqual(
      r.answers?.map((a) => `${a.type} ${datas([a])[0]}`),
      ['CNAME example.com'],
    )
  })

  test('the datacenter label selects this datacenter; another one is NXDOMAIN', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web' })
    assert.deepEqual(datas(ask(resolver, 'web.service.dc1.consul', 'A').answers), ['10.0.0.1'])
    assert.deepEqual(datas(ask(resolver, 'web.service.dc1.dc.consul', 'A').answers), ['10.0.0.1'])
    assert.equal(ask(resolver, 'web.service.dc2.consul', 'A').rcode, 'NXDOMAIN')
  })

  test('a type a service has no record of is NOERROR with no answer and the SOA', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web' })
    for (const type of ['AAAA', 'MX'] as const) {
      const r = ask(resolver, 'web.service.consul', type)
      assert.equal(r.rcode, 'NOERROR')
      assert.equal(r.answers?.length, 0)
      assert.equal(r.authorities?.[0]?.type, 'SOA')
    }
  })

  test('connect and ingress names answer proxies and gateways', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web' })
    catalog.add({
      node: 'n1',
      service: 'web-sidecar-proxy',
      kind: 'connect-proxy',
      destination: 'web',
      serviceAddress: '10.1.1.1',
      port: 21000,
    })
    catalog.add({
      node: 'n2',
      address: '10.0.0.2',
      service: 'gw',
      kind: 'ingress-gateway',
      exposes: ['web'],
      port: 8080,
    })
    assert.deepEqual(datas(ask(resolver, 'web.connect.consul', 'A').answers), ['10.1.1.1'])
    assert.deepEqual(datas(ask(resolver, 'web.connect.consul', 'SRV').answers), [
      '1 1 21000 0a010101.addr.dc1.consul',
    ])
    assert.deepEqual(datas(ask(resolver, 'web.ingress.consul', 'A').answers), ['10.0.0.2'])
    assert.equal(ask(resolver, 'db.connect.consul', 'A').rcode, 'NXDOMAIN')
  })
})

describe('DNS resolver: nodes, addr, SOA, NS', () => {
  test('node lookup answers its address with its meta as TXT in additional', () => {
    const { catalog, resolver } = setup()
    catalog.addNode('Node1', '10.0.0.7', { rack: 'r1', 'a=b': 'c' })
    const r = ask(resolver, 'node1.node.consul', 'A')
    assert.deepEqual(datas(r.answers), ['10.0.0.7'])
    assert.deepEqual(datas(r.additionals, 'TXT'), ['a`=b=c', 'rack=r1'])
    assert.deepEqual(datas(ask(resolver, 'node1.node.dc1.consul', 'TXT').answers, 'TXT'), [
      'a`=b=c',
      'rack=r1',
    ])
    const any = ask(resolver, 'node1.node.consul', 'ANY')
    assert.deepEqual(
      any.answers?.map((a) => a.type),
      ['A', 'TXT', 'TXT'],
    )
  })

  test('node meta TXT is left out of additional when enable_additional_node_meta_txt is false', () => {
    const { catalog, resolver } = setup({ enableAdditionalNodeMetaTxt: false })
    catalog.addNode('n1', '10.0.0.7', { rack: 'r1' })
    assert.deepEqual(datas(ask(resolver, 'n1.node.consul', 'A').additionals, 'TXT'), [])
  })

  test('unknown node is NXDOMAIN; a type it lacks is an empty NOERROR', () => {
    const { catalog, resolver } = setup()
    catalog.addNode('n1', '10.0.0.7')
    assert.equal(ask(resolver, 'n2.node.consul', 'A').rcode, 'NXDOMAIN')
    const r = ask(resolver, 'n1.node.consul', 'AAAA')
    assert.equal(r.rcode, 'NOERROR')
    assert.equal(r.answers?.length, 0)
  })

  test('AAAA on a node uses its lan_ipv6 tagged address', () => {
    const { catalog, resolver } = setup()
    catalog.addNode('n1', '10.0.0.7', {}, { lan_ipv6: '2001:db8::1' })
    assert.deepEqual(datas(ask(resolver, 'n1.node.consul', 'AAAA').answers), ['2001:db8::1'])
  })

  test('addr names decode IPv4 and IPv6 hex; bad hex is NXDOMAIN', () => {
    const { resolver } = setup()
    assert.deepEqual(datas(ask(resolver, '7f000001.addr.dc1.consul', 'A').answers), ['127.0.0.1'])
    assert.deepEqual(datas(ask(resolver, '20010db8000000000000000000000001.addr.consul', 'AAAA').answers), [
      '2001:db8::1',
    ])
    assert.equal(ask(resolver, 'zz000001.addr.consul', 'A').rcode, 'NXDOMAIN')
    assert.equal(ask(resolver, '7f0001.addr.consul', 'A').rcode, 'NXDOMAIN')
  })

  test('SOA and NS queries name the healthy consul servers', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'srv1', address: '10.0.0.10', service: 'consul', port: 8300 })
    const ns = ask(resolver, 'consul', 'NS')
    assert.deepEqual(datas(ns.answers), ['srv1.node.dc1.consul'])
    assert.deepEqual(datas(ns.additionals, 'A'), ['10.0.0.10'])
    const soa = ask(resolver, 'consul', 'SOA')
    assert.equal(soa.answers?.[0]?.type, 'SOA')
    const data = soa.answers[0].data as { serial: number; refresh: number; retry: number; expire: number }
    assert.deepEqual([data.serial, data.refresh, data.retry, data.expire], [1_700_000_000, 3600, 600, 86400])
    assert.deepEqual(datas(soa.authorities), ['srv1.node.dc1.consul'])
  })

  test('alt_domain answers too, and SRV targets stay in the domain the question used', () => {
    const { catalog, resolver } = setup({ altDomain: 'alt.example.' })
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web', port: 80 })
    assert.deepEqual(datas(ask(resolver, 'web.service.alt.example', 'SRV').answers), [
      '1 1 80 n1.node.dc1.alt.example',
    ])
    assert.deepEqual(datas(ask(resolver, 'web.service.consul', 'SRV').answers), ['1 1 80 n1.node.dc1.consul'])
  })

  test('a custom domain replaces consul.', () => {
    const { catalog, resolver } = setup({ domain: 'vigil.internal.' })
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web' })
    assert.deepEqual(datas(ask(resolver, 'web.service.vigil.internal', 'A').answers), ['10.0.0.1'])
    assert.equal(ask(resolver, 'web.service.consul', 'A').rcode, 'SERVFAIL')
  })
})

describe('DNS resolver: TTLs, limits, order, truncation', () => {
  test('node_ttl and service_ttl (exact, then longest prefix wildcard, then *) set TTLs', () => {
    const settings = {
      nodeTtlMs: 10_000,
      serviceTtlMs: { '*': 5_000, 'web*': 7_000, 'web-api': 9_000 },
    }
    const { catalog, resolver } = setup(settings)
    for (const s of ['web-api', 'web-ui', 'db']) catalog.add({ node: 'n1', address: '10.0.0.1', service: s })
    assert.equal(ttlOf(ask(resolver, 'n1.node.consul', 'A').answers?.[0]), 10)
    assert.equal(ttlOf(ask(resolver, 'web-api.service.consul', 'A').answers?.[0]), 9)
    assert.equal(ttlOf(ask(resolver, 'web-ui.service.consul', 'A').answers?.[0]), 7)
    assert.equal(ttlOf(ask(resolver, 'db.service.consul', 'A').answers?.[0]), 5)
    const merged = { ...DEFAULT_DNS_SETTINGS, ...settings }
    assert.equal(serviceTtlSeconds(merged, 'webx'), 7)
    assert.equal(serviceTtlSeconds({ ...DEFAULT_DNS_SETTINGS }, 'web'), 0)
  })

  test('UDP without EDNS carries at most udp_answer_limit answers (3 by default), with TC only when enable_truncate', () => {
    const many = (settings: Partial<DnsSettings>) => {
      const s = setup(settings)
      for (let i = 0; i < 20; i++) s.catalog.add({ node: `n${i}`, address: `10.0.0.${i}`, service: 'web' })
      return s.resolver
    }
    const plain = ask(many({}), 'web.service.consul', 'A')
    assert.equal(plain.answers?.length, 3)
    assert.equal(plain.flag_tc, false)
    const truncating = ask(many({ enableTruncate: true }), 'web.service.consul', 'A')
    assert.equal(truncating.answers?.length, 3)
    assert.equal(truncating.flag_tc, true)
    assert.equal(ask(many({ udpAnswerLimit: 5 }), 'web.service.consul', 'A').answers?.length, 5)
    assert.equal(ask(many({ udpAnswerLimit: 50 }), 'web.service.consul', 'A').answers?.length, 8)
    assert.equal(ask(many({}), 'web.service.consul', 'A', { edns: 4096 }).answers?.length, 20)
    assert.equal(ask(many({}), 'web.service.consul', 'A', { transport: 'tcp' }).answers?.length, 20)
    assert.equal(
      ask(many({ aRecordLimit: 4 }), 'web.service.consul', 'A', { transport: 'tcp' }).answers?.length,
      4,
    )
  })

  test('an EDNS0 reply fits the advertised buffer size, echoes OPT, and keeps each SRV with its additional records', () => {
    const { catalog, resolver } = setup({ enableTruncate: true })
    for (let i = 0; i < 200; i++)
      catalog.add({ node: `node-${i}`, address: `10.0.${i >> 8}.${i & 255}`, service: 'web', port: 80 })
    for (const size of [512, 1232, 4096]) {
      const r = ask(resolver, 'web.service.consul', 'SRV', { edns: size })
      assert.ok(r.bytes.length <= size, `${r.bytes.length} <= ${size}`)
      assert.equal(r.flag_tc, true)
      assert.ok((r.answers?.length ?? 0) > 0)
      const targets = new Set(datas(r.answers).map((d) => d.split(' ')[3]))
      const glue = new Set(
        (r.additionals ?? []).filter((a) => a.type === 'A').map((a) => `${a.name}.`.replace(/\.$/, '')),
      )
      assert.deepEqual([...targets].sort(), [...glue].sort())
      assert.equal(r.additionals?.at(-1)?.type, 'OPT')
    }
  })

  test('instances come in a different random order per query', () => {
    const { catalog, resolver } = setup({}, seeded(7))
    for (let i = 0; i < 10; i++) catalog.add({ node: `n${i}`, address: `10.0.0.${i}`, service: 'web' })
    const orders = new Set<string>()
    for (let q = 0; q < 20; q++)
      orders.add(datas(ask(resolver, 'web.service.consul', 'A', { edns: 4096 }).answers).join(','))
    assert.ok(orders.size > 10, `${orders.size} distinct orders`)
  })

  test('sample returns k distinct indices whatever random returns', () => {
    for (const random of [() => 0, () => 0.999999, seeded(1)]) {
      for (const [n, k] of [
        [10, 3],
        [10, 10],
        [1000, 5],
        [5, 9],
      ] as const) {
        const s = sample(n, k, random)
        assert.equal(s.length, Math.min(n, k))
        assert.equal(new Set(s).size, s.length)
        assert.ok(s.every((i) => i >= 0 && i < n))
      }
    }
  })

  test('answers are computed once per catalog index, not per query', () => {
    const { catalog, resolver } = setup()
    catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web' })
    ask(resolver, 'web.service.consul', 'A')
    const reads = catalog.reads
    for (let i = 0; i < 50; i++) ask(resolver, 'WEB.service.consul', 'A')
    assert.equal(catalog.reads, reads)
    catalog.add({ node: 'n2', address: '10.0.0.2', service: 'web' })
    assert.deepEqual(datas(ask(resolver, 'web.service.consul', 'A', { edns: 4096 }).answers).sort(), [
      '10.0.0.1',
      '10.0.0.2',
    ])
    assert.equal(catalog.reads, reads + 1)
    catalog.setChecks('web', ['critical'])
    assert.equal(ask(resolver, 'web.service.consul', 'A').rcode, 'NXDOMAIN')
  })
})

describe('DNS resolver: other names and bad input', () => {
  test('a name outside the domain is SERVFAIL without recursors and forwarded with them', () => {
    assert.equal(ask(setup().resolver, 'example.com', 'A').rcode, 'SERVFAIL')
    const { resolver } = setup({ recursors: ['127.0.0.1:5353'] })
    const out = resolver.resolve(query('example.com', 'A'), 'udp')
    if (out.kind !== 'forward') assert.fail(`expected forward, got ${out.kind}`)
    const servfail = decode(out.servfail)
    assert.equal(servfail.rcode, 'SERVFAIL')
    assert.equal(servfail.flag_ra, true)
    assert.equal(servfail.id, 4242)
    assert.equal(ask(resolver, 'web.service.consul', 'A').flag_ra, true)
  })

  test('an unknown reverse name is NXDOMAIN without recursors', () => {
    assert.equal(ask(setup().resolver, '1.0.0.127.in-addr.arpa', 'PTR').rcode, 'NXDOMAIN')
  })

  test('malformed input is answered with the right RCODE or dropped', () => {
    const { resolver } = setup()
    assert.equal(resolver.resolve(Buffer.from([1, 2, 3]), 'udp').kind, 'drop')
    const asResponse = query('web.service.consul', 'A')
    asResponse[2] = (asResponse[2] ?? 0) | 0x80
    assert.equal(resolver.resolve(asResponse, 'udp').kind, 'drop')
    const rcode = (raw: Buffer): string | undefined => {
      const out = resolver.resolve(raw, 'udp')
      if (out.kind !== 'reply') assert.fail(`expected a reply, got ${out.kind}`)
      return decode(out.bytes).rcode
    }
    const truncated = query('web.service.consul', 'A').subarray(0, 20)
    assert.equal(rcode(truncated), 'FORMERR')
    const notify = query('web.service.consul', 'A')
    notify[2] = ((notify[2] ?? 0) & 0x87) | (4 << 3)
    assert.equal(rcode(notify), 'NOTIMP')
    const noQuestion = Buffer.from(query('web.service.consul', 'A').subarray(0, 12))
    noQuestion.writeUInt16BE(0, 4)
    assert.equal(rcode(noQuestion), 'FORMERR')
    assert.equal(rcode(Buffer.concat([query('web.service.consul', 'A'), Buffer.alloc(5000)])), 'FORMERR')
    assert.equal(rcode(query('web.service.consul', 'AXFR')), 'NOTIMP')
  })
})
