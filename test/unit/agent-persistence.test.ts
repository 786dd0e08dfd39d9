import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { Agent, AgentLogger } from '../../src/agent/agent.js'
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

/** A logger that keeps its error lines. */
function recordingLogger(): AgentLogger & { errors: { obj: object; msg: string }[] } {
  const errors: { obj: object; msg: string }[] = []
  const logger: AgentLogger & { errors: typeof errors } = {
    errors,
    debug() {},
    info() {},
    warn() {},
    error(obj: object, msg: string) {
      errors.push({ obj, msg })
    },
    child: () => logger,
  }
  return logger
}

test('a data dir written in format 1 (one file per object, records) is restored and rewritten', async (t) => {
  const dir = await dataDir(t)
  const clock = new FakeClock()
  const ctx = {
    nodeName: 'node1',
    origin: 'api' as const,
    enableScriptChecks: false,
    enableLocalScriptChecks: false,
  }
  const web = normalizeServiceDefinition(
    { Name: 'web', Port: 80, Tags: ['v1'], Token: 'tok', Check: { TTL: '30s' } },
    ctx,
  )
  const disk = normalizeCheckDefinition({ Name: 'disk', HTTP: 'http://127.0.0.1:1/', Interval: '10s' }, ctx)
  // The files exactly as the format-1 store wrote them.
  const v1 = (value: object): string => JSON.stringify({ Format: 1, ...value })
  for (const sub of ['services', 'checks', join('checks', 'state')])
    await mkdir(join(dir, sub), { recursive: true })
  await writeFile(
    join(dir, 'services', fileNameFor('web')),
    v1({ service: web.service, token: web.token, source: 'remote' }),
  )
  const webCheck = web.checks[0]!
  await writeFile(join(dir, 'checks', fileNameFor('service:web')), v1(webCheck))
  await writeFile(join(dir, 'checks', fileNameFor('disk')), v1(disk))
  await writeFile(
    join(dir, 'checks', 'state', fileNameFor('service:web')),
    v1({ checkId: 'service:web', status: 'passing', output: 'ok', expiresMs: clock.now() + 30_000 }),
  )

  const agent = await boot(dir, clock)
  assert.deepEqual(agent.state.service('web')?.service, web.service)
  assert.equal(agent.state.service('web')?.token, 'tok')
  assert.equal(agent.state.check('service:web')?.check.status, 'passing', 'TTL state of format 1 is read')
  assert.deepEqual(agent.state.check('disk')?.definition, disk.definition)
  await agent.shutdown()
  assert.deepEqual(
    (await readdir(join(dir, 'checks'))).sort(),
    [fileNameFor('disk'), 'state'].sort(),
    "the service's check moved into its service's file",
  )
  const file = JSON.parse(await readFile(join(dir, 'services', fileNameFor('web')), 'utf8')) as {
    Format: number
    Checks: unknown[]
  }
  assert.equal(file.Format, 2)
  assert.equal(file.Checks.length, 1)

  const again = await boot(dir, clock)
  t.after(() => again.shutdown())
  assert.deepEqual(again.state.service('web')?.service, web.service)
  assert.equal(again.state.check('service:web')?.check.serviceName, 'web')
  assert.deepEqual(again.state.check('disk')?.definition, disk.definition)
})

test('a persisted definition gets the defaults of an API registration', async (t) => {
  const dir = await dataDir(t)
  await mkdir(join(dir, 'services'), { recursive: true })
  // Written by hand: no Weights, no ID, an HTTP check without Method, an interval below 1 s.
  await writeFile(
    join(dir, 'services', fileNameFor('api')),
    JSON.stringify({
      Format: 2,
      Seq: 1,
      ServiceID: 'api',
      Service: { Name: 'api', Port: 8080, Address: '127.0.0.1' },
      Source: 'remote',
      Checks: [
        {
          Check: { Name: 'api-http', ServiceID: 'api', HTTP: 'http://127.0.0.1:1/', Interval: '100ms' },
          Source: 'remote',
        },
      ],
    }),
  )
  const agent = await boot(dir, new FakeClock())
  t.after(() => agent.shutdown())
  const api = agent.state.service('api')?.service
  assert.ok(api !== undefined)
  assert.deepEqual(api.weights, { passing: 1, warning: 1 })
  assert.deepEqual(api.taggedAddresses['lan_ipv4'], { address: '127.0.0.1', port: 8080 })
  const check = agent.state.check('api-http')
  assert.ok(check !== undefined)
  assert.equal(check.definition.method, 'GET')
  assert.equal(check.definition.intervalMs, 1000)
  assert.equal(check.definition.timeoutMs, 10_000)
  assert.equal(check.check.serviceName, 'api')
  assert.equal(check.check.status, 'critical')
})

test('an invalid persisted definition is logged with its file and skipped; the others load', async (t) => {
  const dir = await dataDir(t)
  const clock = new FakeClock()
  const first = await boot(dir, clock)
  await registerService(first, { Name: 'good', Port: 80, Check: { TTL: '1m' } })
  await first.shutdown()
  const file = (id: string, service: object, checks: object[]): string =>
    JSON.stringify({ Format: 2, Seq: 1, ServiceID: id, Service: service, Source: 'remote', Checks: checks })
  await writeFile(
    join(dir, 'services', fileNameFor('bad')),
    file('bad', { Name: 'bad', Address: '0.0.0.0' }, []),
  )
  await writeFile(
    join(dir, 'services', fileNameFor('half')),
    file('half', { Name: 'half' }, [
      { Check: { ID: 'no-ttl', Name: 'no-ttl', ServiceID: 'half' }, Source: 'remote' },
      { Check: { ID: 'ok', Name: 'ok', ServiceID: 'half', TTL: '1m' }, Source: 'remote' },
    ]),
  )
  const logger = recordingLogger()
  const second = await boot(dir, clock, { logger })
  t.after(() => second.shutdown())
  assert.deepEqual(
    second.state
      .services()
      .map((s) => s.service.id)
      .sort(),
    ['good', 'half'],
  )
  assert.deepEqual(
    second.state
      .checks()
      .map((c) => c.check.checkId)
      .sort(),
    ['ok', 'service:good'],
  )
  const logged = logger.errors.map((e) => JSON.stringify(e.obj))
  assert.ok(
    logged.some((l) => l.includes(fileNameFor('bad')) && l.includes('Invalid service address')),
    JSON.stringify(logged),
  )
  assert.ok(
    logged.some((l) => l.includes(fileNameFor('half')) && l.includes('TTL must be > 0')),
    JSON.stringify(logged),
  )
})
