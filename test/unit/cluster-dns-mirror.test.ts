/**
 * The DNS mirror of client agents (cluster/dns-mirror.ts) and the `catalog/dns-dump` RPC it
 * long-polls (cluster/dns-dump.ts): the mirror answers what the in-process DNS catalog answers,
 * follows changes level-triggered, keeps its last copy while no server answers (retrying with
 * capped backoff on the clock), and stops with nothing left pending.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  catalogDnsDump,
  decodeDnsDump,
  type DnsDump,
  type DnsDumpReader,
  type DnsDumpRequest,
} from '../../src/cluster/dns-dump.js'
import { DnsMirror, mirrorBackoffMs } from '../../src/cluster/dns-mirror.js'
import type { DnsCatalog, DnsInstance, DnsNode } from '../../src/dns/catalog-port.js'
import { localDnsCatalog } from '../../src/roles/dns-catalog.js'
import { chk, openCatalog, reg, settle, svc } from '../support/catalog.js'
import { FakeClock } from '../support/fake-clock.js'

const quiet = { info: () => undefined, warn: () => undefined }

/** An instance as DNS sees it; check statuses sorted (their order carries no meaning to DNS). */
function shape(i: DnsInstance): unknown {
  return { node: i.node, service: i.service, checks: i.checks.map((c) => c.status).sort() }
}

function answers(c: DnsCatalog, name: string): unknown {
  return {
    service: c.serviceInstances(name).map(shape),
    connect: c.connectInstances(name).map(shape),
  }
}

function nodeOf(c: DnsCatalog, name: string): DnsNode | undefined {
  return c.node(name)
}

test('dns mirror: answers as the in-process catalog does, and follows its changes', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const { catalog } = h
  await catalog.register(
    reg('n1', {
      address: '10.0.0.1',
      taggedAddresses: { wan: '192.0.2.1' },
      nodeMeta: { rack: 'a' },
      service: svc('web', { id: 'web1', port: 80, tags: ['v1'], weights: { passing: 3, warning: 1 } }),
      checks: [chk('web alive', { serviceId: 'web1', status: 'passing' })],
    }),
  )
  await catalog.register(
    reg('n2', {
      address: '10.0.0.2',
      service: svc('Web', { id: 'web2', address: '10.1.0.2', port: 81 }),
      checks: [
        chk('node up', { status: 'warning' }),
        chk('web2 alive', { serviceId: 'web2', status: 'critical' }),
      ],
    }),
  )
  await catalog.register(
    reg('n2', {
      address: '10.0.0.2',
      service: svc('web-sidecar-proxy', {
        id: 'web2-proxy',
        kind: 'connect-proxy',
        port: 21000,
        taggedAddresses: { lan: { address: '10.2.0.2', port: 21000 } },
        proxy: {
          destinationServiceName: 'web',
          destinationServiceId: 'web2',
          localServiceAddress: '',
          localServicePort: 0,
          mode: '',
          config: {},
          upstreams: [],
          extra: {},
        },
      }),
    }),
  )
  await catalog.register(reg('n1', { service: svc('api', { id: 'api1', port: 90, connectNative: true }) }))

  const source = catalogDnsDump(catalog)
  const requests: DnsDumpRequest[] = []
  const read: DnsDumpReader = async (req, signal) => {
    requests.push(req)
    return decodeDnsDump(JSON.parse(await source.dump(req, signal)))
  }
  const local = localDnsCatalog(catalog)
  const mirror = new DnsMirror({ read, clock: h.clock, random: () => 0, logger: quiet, waitMs: 60_000 })
  assert.deepEqual(mirror.serviceInstances('web'), [], 'empty before the first answer')
  mirror.start()
  await settle()
  assert.equal(mirror.index(), 1)

  const names = ['web', 'WEB', 'api', 'web-sidecar-proxy', 'none']
  const compare = (): void => {
    for (const name of names) assert.deepEqual(answers(mirror, name), answers(local, name), name)
    for (const n of ['n1', 'N2', 'n3']) assert.deepEqual(nodeOf(mirror, n), nodeOf(local, n), n)
  }
  compare()
  assert.equal(mirror.serviceInstances('web').length, 2)
  assert.equal(mirror.connectInstances('web').length, 1)
  assert.equal(mirror.connectInstances('api').length, 1)
  assert.ok(Object.isFrozen(mirror.serviceInstances('web')[0]?.node))

  // The loop is blocked at the dump's index; a change wakes it, and the mirror follows.
  const first = requests[1]
  assert.ok(first !== undefined && first.index > 0, 'the second request blocks on the first index')
  await catalog.register(
    reg('n1', { address: '10.0.0.1', checks: [chk('web alive', { serviceId: 'web1', status: 'critical' })] }),
  )
  await settle()
  assert.equal(mirror.index(), 2)
  compare()
  assert.deepEqual(
    mirror.serviceInstances('web')[0]?.checks.map((c) => c.status),
    ['critical'],
  )
  await catalog.register(reg('n3', { address: '10.0.0.3' }))
  await settle()
  compare()

  await mirror.stop()
  assert.equal(h.clock.pendingTimers(), 0, 'the blocking read in flight was abandoned')
  assert.equal(catalog.blockingStats().waiters, 0)
})

test('dns dump: waiters at one index share an evaluation and the encoded text; a client ahead is answered at once', async (t) => {
  const h = await openCatalog()
  t.after(() => h.close())
  const { catalog } = h
  await catalog.register(reg('n1', { service: svc('web', { port: 80 }) }))
  const source = catalogDnsDump(catalog)
  const now = JSON.parse(await source.dump({ index: 0, waitMs: 0 })) as DnsDump
  assert.ok(now.index > 0)

  const before = catalog.blockingStats().evaluations
  const a = source.dump({ index: now.index, waitMs: 60_000 })
  const b = source.dump({ index: now.index, waitMs: 60_000 })
  await settle()
  assert.equal(catalog.blockingStats().waiters, 2)
  await catalog.register(reg('n2', { service: svc('web', { port: 81 }) }))
  const [ta, tb] = await Promise.all([a, b])
  assert.equal(ta, tb)
  assert.equal(catalog.blockingStats().evaluations - before, 2, 'one first evaluation, one on the change')
  assert.equal(decodeDnsDump(JSON.parse(ta)).instances.length, 2)

  // A request with an index this catalog never reached (a server on a new store) answers now.
  const ahead = await source.dump({ index: now.index + 1_000, waitMs: 60_000 })
  assert.equal(decodeDnsDump(JSON.parse(ahead)).instances.length, 2)
})

test('dns mirror: keeps its last copy while no server answers, retries with backoff on the clock', async () => {
  const clock = new FakeClock()
  const requests: DnsDumpRequest[] = []
  const pending: { resolve: (d: DnsDump) => void; reject: (e: Error) => void }[] = []
  const read: DnsDumpReader = (req, signal) => {
    requests.push(req)
    return new Promise<DnsDump>((resolve, reject) => {
      pending.push({ resolve, reject })
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })
    })
  }
  const dump = (index: number, address: string): DnsDump => ({
    index,
    nodes: [{ name: 'n1', address, datacenter: 'dc1', taggedAddresses: {}, meta: {}, checks: ['passing'] }],
    instances: [
      {
        node: 'n1',
        id: 'web1',
        name: 'web',
        tags: [],
        address: '',
        port: 80,
        taggedAddresses: {},
        kind: '',
        weights: { passing: 1, warning: 1 },
        proxyDestination: '',
        connectNative: false,
        checks: [],
      },
    ],
  })
  const mirror = new DnsMirror({ read, clock, random: () => 0, logger: quiet, waitMs: 1_000 })
  mirror.start()
  await settle()
  pending.shift()?.resolve(dump(5, '10.0.0.1'))
  await settle()
  assert.equal(mirror.node('n1')?.address, '10.0.0.1')
  assert.deepEqual(
    requests.map((r) => r.index),
    [0, 5],
  )

  // Two failures in a row: the copy stays, and each retry waits its backoff on the clock.
  pending.shift()?.reject(new Error('connection refused'))
  await settle()
  assert.equal(mirror.status().failures, 1)
  assert.equal(mirror.node('n1')?.address, '10.0.0.1')
  assert.equal(mirror.serviceInstances('web').length, 1)
  await clock.advance(mirrorBackoffMs(1, 0) - 1)
  assert.equal(requests.length, 2, 'no retry before the backoff')
  await clock.advance(1)
  assert.equal(requests.length, 3)
  pending.shift()?.reject(new Error('connection refused'))
  await settle()
  await clock.advance(mirrorBackoffMs(2, 0) - 1)
  assert.equal(requests.length, 3)
  await clock.advance(1)
  assert.equal(requests.length, 4)
  assert.deepEqual(
    requests.map((r) => r.index),
    [0, 5, 5, 5],
    'retries ask with the last index',
  )
  const indexBefore = mirror.index()
  pending.shift()?.resolve(dump(3, '10.0.0.9'))
  await settle()
  assert.equal(mirror.index(), indexBefore + 1)
  assert.equal(mirror.node('n1')?.address, '10.0.0.9', 'replaced whole, whatever the index')
  assert.equal(requests.at(-1)?.index, 3, 'follows the server index backwards')
  assert.equal(mirror.status().failures, 0)

  // Backoff is capped.
  assert.ok(mirrorBackoffMs(50, 0.999) <= 5_000)

  await mirror.stop()
  assert.equal(clock.pendingTimers(), 0)
  assert.equal(requests.length, 5, 'nothing after stop')
})
