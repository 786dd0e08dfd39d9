import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { loadConfig, type LoadEnvironment } from '../../src/config/load.js'
import { ConfigError } from '../../src/lib/errors.js'

const env: LoadEnvironment = {
  hostname: () => 'host1',
  networkInterfaces: () => ({
    eth0: [
      {
        address: '10.1.2.3',
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '00:00:00:00:00:00',
        internal: false,
        cidr: '10.1.2.3/24',
      },
    ],
  }),
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-store-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function problems(argv: string[]): readonly string[] {
  try {
    loadConfig(argv, env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  assert.fail(`expected a ConfigError for ${argv.join(' ')}`)
}

test('store: embedded by default, with the etcd prefix defaulting to /vigil/<datacenter>', (t) => {
  const c = loadConfig(['-server', '-data-dir', tempDir(t), '-datacenter', 'East'], env)
  assert.deepEqual(c.store, {
    backend: 'embedded',
    etcd: { endpoints: [], prefix: '/vigil/east', caFile: '', certFile: '', keyFile: '' },
  })
})

test('store: -store etcd with comma-separated endpoints, a prefix and TLS files', (t) => {
  const c = loadConfig(
    [
      '-server',
      '-data-dir',
      tempDir(t),
      '-store',
      'etcd',
      '-etcd-endpoints',
      'https://10.0.0.1:2379, https://10.0.0.2:2379',
      '-etcd-prefix',
      '/prod/dc1',
      '-etcd-ca-file',
      '/etc/ca.pem',
      '-etcd-cert-file',
      '/etc/c.pem',
      '-etcd-key-file',
      '/etc/k.pem',
    ],
    env,
  )
  assert.deepEqual(c.store, {
    backend: 'etcd',
    etcd: {
      endpoints: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'],
      prefix: '/prod/dc1',
      caFile: '/etc/ca.pem',
      certFile: '/etc/c.pem',
      keyFile: '/etc/k.pem',
    },
  })
})

test('store: the store block of an HCL config file; flags override it', (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'store.hcl')
  writeFileSync(
    file,
    'store {\n  backend = "etcd"\n  etcd {\n    endpoints = ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]\n    prefix = "/x"\n  }\n}\n',
  )
  const c = loadConfig(['-server', '-data-dir', dir, '-config-file', file], env)
  assert.equal(c.store.backend, 'etcd')
  assert.deepEqual(c.store.etcd.endpoints, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'])
  assert.equal(c.store.etcd.prefix, '/x')
  const d = loadConfig(['-server', '-data-dir', dir, '-config-file', file, '-etcd-prefix', '/y'], env)
  assert.equal(d.store.etcd.prefix, '/y')
})

test('store: etcd on a client agent is a warning', (t) => {
  const c = loadConfig(['-data-dir', tempDir(t), '-store', 'etcd', '-etcd-endpoints', 'http://a:1'], env)
  assert.ok(
    c.warnings.includes("store: backend 'etcd' has no effect on a client agent"),
    c.warnings.join('\n'),
  )
})

test('store: bad settings are load problems', (t) => {
  const dir = tempDir(t)
  assert.deepEqual(problems(['-server', '-data-dir', dir, '-store', 'raft']), [
    `store: invalid backend "raft": must be 'embedded' or 'etcd'`,
  ])
  assert.deepEqual(problems(['-server', '-data-dir', dir, '-store', 'etcd']), [
    "store: backend 'etcd' needs etcd endpoints (-etcd-endpoints)",
  ])
  assert.deepEqual(problems(['-server', '-data-dir', dir, '-store', 'etcd', '-etcd-endpoints', 'h:1']), [
    'store: invalid etcd endpoint "h:1": must be http://host:port or https://host:port',
  ])
  assert.deepEqual(
    problems([
      '-server',
      '-data-dir',
      dir,
      '-etcd-endpoints',
      'http://a:1,https://b:2',
      '-etcd-key-file',
      'k',
    ]),
    [
      'store: etcd endpoints must be all http:// or all https://',
      'store: -etcd-cert-file and -etcd-key-file must be given together',
    ],
  )
})
