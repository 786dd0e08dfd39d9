import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig, type LoadEnvironment } from '../../src/config/load.js'
import { DnsResolver } from '../../src/dns/resolver.js'
import { DEFAULT_DNS_SETTINGS, dnsSettingsFrom } from '../../src/dns/settings.js'
import { ConfigError } from '../../src/lib/errors.js'
import { MemoryDnsCatalog } from '../support/dns-catalog.js'
import { ask, ttlOf } from '../support/dns-query.js'

const env: LoadEnvironment = { hostname: () => 'host1' }

test('dns config has Consul defaults, and they are the DNS defaults', () => {
  const c = loadConfig(['-dev'], env)
  assert.equal(c.ports.dns, 8600)
  assert.equal(c.domain, 'consul.')
  assert.deepEqual(dnsSettingsFrom(c), { ...DEFAULT_DNS_SETTINGS, datacenter: 'dc1' })
})

test('dns config reads dns_config, domain, alt_domain, -recursor and -dns-port', () => {
  const hcl = `dns_config {
    allow_stale = false
    max_stale = "5s"
    node_ttl = "30s"
    service_ttl = { "*" = "5s", "web*" = "10s", "db" = "1m" }
    only_passing = true
    a_record_limit = 4
    udp_answer_limit = 6
    enable_truncate = true
    enable_additional_node_meta_txt = false
    recursor_strategy = "random"
    recursor_timeout = "500ms"
    soa { refresh = 1 retry = 2 expire = 3 min_ttl = 4 }
  }
  alt_domain = "Example.Internal"`
  const c = loadConfig(
    [
      '-dev',
      '-hcl',
      hcl,
      '-domain',
      'vigil',
      '-recursor',
      '8.8.8.8',
      '-recursor',
      '[::1]:5353',
      '-dns-port',
      '8653',
    ],
    env,
  )
  assert.equal(c.ports.dns, 8653)
  assert.deepEqual(c.recursors, ['8.8.8.8', '[::1]:5353'])
  assert.deepEqual(c.dnsConfig, {
    allowStale: false,
    maxStaleMs: 5_000,
    nodeTtlMs: 30_000,
    serviceTtlMs: { '*': 5_000, 'web*': 10_000, db: 60_000 },
    onlyPassing: true,
    aRecordLimit: 4,
    udpAnswerLimit: 6,
    enableTruncate: true,
    enableAdditionalNodeMetaTxt: false,
    recursorStrategy: 'random',
    recursorTimeoutMs: 500,
    soa: { refresh: 1, retry: 2, expire: 3, minTtl: 4 },
  })
  assert.ok(!c.warnings.some((w) => w.includes('dns_config')), c.warnings.join('\n'))
  const settings = dnsSettingsFrom(c)
  assert.equal(settings.domain, 'vigil.')
  assert.equal(settings.altDomain, 'example.internal.')

  const catalog = new MemoryDnsCatalog()
  catalog.add({ node: 'n1', address: '10.0.0.1', service: 'web-api' })
  const resolver = new DnsResolver({ catalog, settings })
  assert.equal(ttlOf(ask(resolver, 'web-api.service.Example.Internal', 'A').answers?.[0]), 10)
})

test('dns config reports bad values', () => {
  const problems = (hcl: string): readonly string[] => {
    try {
      loadConfig(['-dev', '-hcl', hcl], env)
    } catch (err) {
      if (err instanceof ConfigError) return err.problems
      throw err
    }
    return assert.fail('expected a ConfigError')
  }
  assert.ok(problems('dns_config { service_ttl = { web = "soon" } }').some((p) => p.includes('service_ttl')))
  assert.ok(
    problems('dns_config { recursor_strategy = "fastest" }').some((p) => p.includes('recursor_strategy')),
  )
  assert.ok(problems('dns_config { a_record_limit = -1 }').some((p) => p.includes('a_record_limit')))
  assert.ok(problems('dns_config { bogus = 1 }').some((p) => p.includes('dns_config.bogus')))
})
