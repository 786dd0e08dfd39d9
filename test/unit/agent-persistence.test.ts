import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { Agent } from '../../src/agent/agent.js'
import { fileNameFor } from '../../src/agent/persistence/agent-store.js'
import { PersistenceError, ShuttingDownError } from '../../src/lib/errors.js'
import { drainMicrotasks, FakeClock } from '../support/fake-clock.js'
import { normalizeCheckDefinition, normalizeServiceDefinition } from '../../src/structs/normalize.js'
import { startTestAgent } from '../support/agent-harness.js'
import { faultyFs, type Faults } from '../support/faulty-fs.js'
import { MemoryFs } from '../support/memory-fs.js'
import type { FsPort } from '../../src/agent/persistence/fs-port.js'

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-agent-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function boot(
  dir: string,
  clock: FakeClock,
  extra: Parameters<typeof startTestAgent>[0] = {},
): Promise<Agent> {
  return startTestAgent({ clock, ...extra, settings: { dev: false, dataDir: dir, ...extra.settings } })
}

async function registerService(agent: Agent, body: unknown, replace = false): Promise<void> {
  await agent.registerService(normalizeServiceDefinition(body, agent.normalizeContext('api')), {
    replaceExistingChecks: replace,
  })
}

test('an agent restores API registrations, maintenance and TTL state with the remaining TTL', async (t) => {
  const dir = await dataDir(t)
  const clock = new FakeClock()
  const first = await boot(dir, clock)
  await registerService(first, { Name: 'web', Port: 80, Check: { TTL: '30s' } })
  await first.registerCheck(
    normalizeCheckDefinition({ Name: 'disk', TTL: '1h' }, first.normalizeContext('api')),
  )
  await first.updateTtl('service:web', 'passing', 'all good')
  await first.setServiceMaintenance('web', true, 'deploying', '')
  const nodeId = first.nodeId
  await first.shutdown()

  await clock.advance(10_000)
  const second = await boot(dir, clock)
  t.after(() => second.shutdown())
  assert.equal(second.nodeId, nodeId, 'the node ID is kept')
  assert.equal(second.state.service('web')?.service.port, 80)
  assert.equal(second.state.check('service:web')?.check.status, 'passing', 'TTL state restored')
  assert.equal(second.state.check('service:web')?.check.output, 'all good')
  assert.equal(
    second.state.check('disk')?.check.status,
    'critical',
    'a check without TTL state starts critical',
  )
  assert.equal(second.state.check('_service_maintenance:web')?.check.notes, 'deploying')
  // 30 s TTL, updated 10 s before the restart: it expires 20 s after the restart, not 30 s.
  await clock.advance(19_999)
  assert.equal(second.state.check('service:web')?.check.status, 'passing')
  await clock.advance(1)
  assert.equal(second.state.check('service:web')?.check.status, 'critical')
  assert.equal(
    second.state.check('service:web')?.check.output,
    'TTL expired (last output before timeout follows): all good',
  )
})

test('deregistration removes the files, so nothing deregistered comes back', async (t) => {
  const dir = await dataDir(t)
  const clock = new FakeClock()
  const first = await boot(dir, clock)
  await registerService(first, {
    Name: 'web',
    Port: 80,
    Check: { TTL: '30s' },
    Connect: { SidecarService: {} },
  })
  await registerService(first, { Name: 'db', Port: 5432 })
  await first.updateTtl('service:web', 'passing', '')
  await first.deregisterService('web')
  await first.shutdown()
  assert.deepEqual(await readdir(join(dir, 'services')), [fileNameFor('db')])
  assert.deepEqual(
    (await readdir(join(dir, 'checks'))).filter((n) => n !== 'state'),
    [],
  )
  assert.deepEqual(await readdir(join(dir, 'checks', 'state')), [])
  const second = await boot(dir, clock)
  t.after(() => second.shutdown())
  assert.deepEqual(
    second.state.services().map((s) => s.service.id),
    ['db'],
  )
})

test('a config-file definition wins over a persisted API registration with the same ID', async (t) => {
  const dir = await dataDir(t)
  const clock = new FakeClock()
  const first = await boot(dir, clock)
  await registerService(first, { Name: 'web', Port: 80 })
  await first.shutdown()
  const second = await boot(dir, clock, {
    settings: { services: [{ source: 'web.json', definition: { name: 'web', port: 9090 } }] },
  })
  t.after(() => second.shutdown())
  assert.equal(second.state.service('web')?.service.port, 9090)
  assert.equal(second.state.service('web')?.source, 'local')
  assert.deepEqual(await readdir(join(dir, 'services')), [], 'the persisted file was deleted')
})

test('a corrupt file is moved aside and the rest is restored', async (t) => {
  const dir = await dataDir(t)
  const clock = new FakeClock()
  const first = await boot(dir, clock)
  await registerService(first, { Name: 'web', Port: 80 })
  await registerService(first, { Name: 'db', Port: 5432 })
  await first.shutdown()
  await writeFile(join(dir, 'services', fileNameFor('db')), '{"Format":1,"serv')
  const second = await boot(dir, clock)
  t.after(() => second.shutdown())
  assert.deepEqual(
    second.state.services().map((s) => s.service.id),
    ['web'],
  )
  assert.equal((await readdir(join(dir, 'corrupt'))).length, 1)
})

test('a full disk fails the request with a clear error and changes nothing', async (t) => {
  const dir = await dataDir(t)
  const clock = new FakeClock()
  const faults: Faults = {}
  const agent = await boot(dir, clock, { fs: faultyFs(faults) })
  await registerService(agent, { Name: 'web', Port: 80, Check: { TTL: '30s' } })
  await agent.updateTtl('service:web', 'passing', 'ok')
  const before = JSON.stringify([agent.state.services(), agent.state.checks()])
  faults.write = { code: 'ENOSPC' }
  await assert.rejects(
    registerService(agent, { Name: 'web', Port: 81, Check: { TTL: '30s' } }),
    PersistenceError,
  )
  await assert.rejects(registerService(agent, { Name: 'new', Port: 1 }), PersistenceError)
  await assert.rejects(agent.updateTtl('service:web', 'critical', 'x'), PersistenceError)
  faults.write = undefined
  faults.unlink = { code: 'EROFS' }
  await assert.rejects(agent.deregisterService('web'), PersistenceError)
  faults.unlink = undefined
  await drainMicrotasks()
  assert.equal(JSON.stringify([agent.state.services(), agent.state.checks()]), before, 'state intact')
  await agent.shutdown()
  const again = await boot(dir, clock)
  t.after(() => again.shutdown())
  assert.equal(again.state.service('web')?.service.port, 80, 'the acknowledged registration survived')
  assert.equal(again.state.service('new'), undefined)
  assert.equal(again.state.check('service:web')?.check.status, 'passing')
})

test('a second agent on the same data dir refuses to start', async (t) => {
  const dir = await dataDir(t)
  const first = await boot(dir, new FakeClock())
  t.after(() => first.shutdown())
  await writeFile(join(dir, 'vigil.lock'), `${process.ppid}\n`)
  await assert.rejects(boot(dir, new FakeClock()), /is in use by another vigil agent/)
})

test('after shutdown resolves nothing writes to the data dir, and new writes are refused', async () => {
  const fs = new MemoryFs()
  const clock = new FakeClock()
  const agent = await boot('/data', clock, { fs })
  await registerService(agent, { Name: 'web', Port: 80, Check: { TTL: '30s' } })
  await registerService(agent, { Name: 'db', Port: 5432, Check: { TTL: '30s' } })
  // Accepted before shutdown: each completes (or is refused) before the data dir is released.
  const inFlight = [
    agent.updateTtl('service:web', 'passing', 'a'),
    registerService(agent, { Name: 'api', Port: 81 }),
    agent.updateTtl('service:db', 'warning', 'b'),
  ].map((p) =>
    p.then(
      () => 'done',
      (err: unknown) => err,
    ),
  )
  const stopped = agent.shutdown()
  await assert.rejects(agent.updateTtl('service:web', 'critical', 'c'), ShuttingDownError)
  await assert.rejects(registerService(agent, { Name: 'late', Port: 82 }), ShuttingDownError)
  await stopped
  const files = (): string[] =>
    [...fs.files()].map(([path, data]) => `${path} ${data.toString('utf8')}`).sort()
  const before = files()
  assert.ok(!before.some((f) => f.startsWith('/data/vigil.lock')), 'the lock is released')
  await assert.rejects(agent.updateTtl('service:web', 'critical', 'd'), ShuttingDownError)
  await assert.rejects(agent.deregisterService('web'), ShuttingDownError)
  for (const outcome of await Promise.all(inFlight)) {
    assert.ok(outcome === 'done' || outcome instanceof ShuttingDownError, String(outcome))
  }
  await drainMicrotasks()
  assert.deepEqual(files(), before, 'no file changed after shutdown resolved')
})

/** MemoryFs whose file fsyncs wait until released; `pending` lists the files waiting. */
function gatedFs(): { fs: FsPort; pending: string[]; release(): void } {
  const mem = new MemoryFs()
  const pending: string[] = []
  let gate: Promise<void> = Promise.resolve()
  let open: () => void = () => {}
  const closeGate = (): void => {
    gate = new Promise((r) => (open = r))
  }
  return {
    pending,
    release: () => {
      pending.length = 0
      open()
      closeGate()
    },
    fs: {
      ...mem.mount(),
      async open(path, flags) {
        const fh = await mem.open(path, flags)
        if (flags === 'r') return fh
        return {
          ...fh,
          sync: async () => {
            pending.push(path)
            await gate
            await fh.sync()
          },
        }
      },
      mkdir: (p) => mem.mkdir(p),
      rename: (a, b) => mem.rename(a, b),
      unlink: (p) => mem.unlink(p),
      readdir: (p) => mem.readdir(p),
      readFile: (p) => mem.readFile(p),
      stat: (p) => mem.stat(p),
    },
  }
}

test('registrations of different services wait for the disk together; one service waits its turn', async (t) => {
  const gated = gatedFs()
  const agent = await boot('/data', new FakeClock(), { fs: gated.fs })
  t.after(() => agent.shutdown())
  const serviceFiles = (): number => gated.pending.filter((p) => p.startsWith('/data/services/')).length
  const waitFor = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 1000 && !cond(); i++) await drainMicrotasks(1)
    assert.ok(cond(), `timed out; pending ${JSON.stringify(gated.pending)}`)
  }
  gated.release()
  const both = [
    registerService(agent, { Name: 'a', Port: 1, Check: { TTL: '1m' } }),
    registerService(agent, { Name: 'b', Port: 2, Check: { TTL: '1m' } }),
    registerService(agent, { Name: 'a', Port: 3, Check: { TTL: '1m' } }),
  ]
  await waitFor(() => serviceFiles() === 2)
  await drainMicrotasks()
  assert.equal(serviceFiles(), 2, 'a and b are on disk at once; the second a waits for the first')
  gated.release()
  await waitFor(() => serviceFiles() === 1)
  gated.release()
  await Promise.all(both)
  assert.equal(agent.state.service('a')?.service.port, 3)
  assert.equal(agent.state.service('b')?.service.port, 2)
})
