import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { RunnerLogger } from '../../src/agent/checks/runner.js'
import { AgentStore, fileNameFor, type LoadedState } from '../../src/agent/persistence/agent-store.js'
import {
  decodeCheckEntry,
  decodeServiceEntry,
  type PersistedCheck,
  type PersistedService,
} from '../../src/agent/persistence/entries.js'
import { PersistenceError } from '../../src/lib/errors.js'
import { faultyFs, type Faults } from '../support/faulty-fs.js'
import { checkRegistration, serviceRecord } from '../support/records.js'

interface Logged {
  level: string
  obj: object
  msg: string
}

function recordingLogger(): RunnerLogger & { lines: Logged[] } {
  const lines: Logged[] = []
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      lines.push({ level, obj, msg })
    }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

const ctxFor = (origin: 'api' | 'config') => ({
  nodeName: 'node1',
  origin,
  enableScriptChecks: false,
  enableLocalScriptChecks: false,
})

/** What restore would make of the loaded entries (through the normalizer). */
function decoded(loaded: LoadedState): { services: PersistedService[]; checks: PersistedCheck[] } {
  return {
    services: loaded.services.map((s) => decodeServiceEntry(s.path, s.entry, ctxFor)),
    checks: loaded.checks.map((c) => decodeCheckEntry(c.path, c.entry, ctxFor)),
  }
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-store-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('agent store round-trips services, checks and TTL state', async (t) => {
  const dir = await tempDir(t)
  const store = await AgentStore.open(dir, { logger: recordingLogger() })
  t.after(() => store.close())
  await store.saveService({
    service: serviceRecord('web', { port: 80, tags: ['a'] }),
    token: 't',
    source: 'remote',
  })
  await store.saveCheck(checkRegistration({ id: 'service:web', serviceId: 'web' }))
  await store.saveTtlState({ checkId: 'service:web', status: 'passing', output: 'ok', expiresMs: 123 })
  const loaded = await store.load()
  const { services, checks } = decoded(loaded)
  assert.equal(services[0]!.service.port, 80)
  assert.deepEqual(services[0]!.service.tags, ['a'])
  assert.equal(services[0]!.token, 't')
  assert.equal(checks[0]!.check.checkId, 'service:web')
  assert.equal(checks[0]!.definition.intervalMs, 10_000)
  assert.deepEqual(loaded.ttlStates.get('service:web'), {
    checkId: 'service:web',
    status: 'passing',
    output: 'ok',
    expiresMs: 123,
  })
  assert.ok(Object.isFrozen(services[0]!.service))
  assert.deepEqual(await readdir(join(dir, 'services')), [fileNameFor('web')])
  assert.deepEqual(
    await readdir(join(dir, 'checks')),
    ['state'],
    "a service's checks live in its service's file",
  )
  await store.deleteCheck('service:web')
  const after = await store.load()
  assert.equal(after.checks.length, 0)
  assert.equal(after.ttlStates.size, 0, 'deleting a check deletes its TTL state')
})

test('agent store moves a corrupt or truncated file aside and loads the rest', async (t) => {
  const dir = await tempDir(t)
  const log = recordingLogger()
  const store = await AgentStore.open(dir, { logger: log })
  t.after(() => store.close())
  await store.saveService({ service: serviceRecord('good'), token: '', source: 'remote' })
  await store.saveService({ service: serviceRecord('torn'), token: '', source: 'remote' })
  const tornPath = join(dir, 'services', fileNameFor('torn'))
  const text = await readFile(tornPath, 'utf8')
  await writeFile(tornPath, text.slice(0, text.length >> 1))
  await writeFile(join(dir, 'services', `${fileNameFor('x')}-abc.tmp`), '{')
  const loaded = await store.load()
  assert.deepEqual(
    loaded.services.map((s) => s.serviceId),
    ['good'],
  )
  const corrupt = await readdir(join(dir, 'corrupt'))
  assert.equal(corrupt.length, 1)
  assert.ok(corrupt[0]?.startsWith(`services-${fileNameFor('torn')}-`))
  assert.ok(log.lines.some((l) => l.level === 'error' && JSON.stringify(l.obj).includes(fileNameFor('torn'))))
  assert.deepEqual(
    await readdir(join(dir, 'services')),
    [fileNameFor('good')],
    'leftover temp files are removed',
  )
})

test('agent store refuses a second agent on the same data dir and takes over a stale lock', async (t) => {
  const dir = await tempDir(t)
  const first = await AgentStore.open(dir, { logger: recordingLogger() })
  // The lock names this process, which is alive: pretend it is another agent's.
  await writeFile(join(dir, 'vigil.lock'), `${process.ppid}\n`)
  await assert.rejects(AgentStore.open(dir, { logger: recordingLogger() }), (err: unknown) => {
    assert.ok(err instanceof PersistenceError)
    assert.match(err.message, /is in use by another vigil agent \(pid \d+\)/)
    return true
  })
  await writeFile(join(dir, 'vigil.lock'), '999999999\n')
  const second = await AgentStore.open(dir, { logger: recordingLogger() })
  await second.close()
  await first.close()
})

test('agent store keeps the node ID it generated', async (t) => {
  const dir = await tempDir(t)
  const a = await AgentStore.open(dir, { logger: recordingLogger() })
  const id = await a.nodeId('')
  assert.match(id, /^[0-9a-f-]{36}$/)
  await a.close()
  const b = await AgentStore.open(dir, { logger: recordingLogger() })
  assert.equal(await b.nodeId(''), id)
  await b.close()
})

test('agent store reports disk faults as PersistenceError and leaves the previous file intact', async (t) => {
  const dir = await tempDir(t)
  const faults: Faults = {}
  const store = await AgentStore.open(dir, { logger: recordingLogger(), fs: faultyFs(faults) })
  t.after(() => store.close())
  await store.saveService({ service: serviceRecord('web', { port: 1 }), token: '', source: 'remote' })
  faults.write = { code: 'ENOSPC' }
  await assert.rejects(
    store.saveService({ service: serviceRecord('web', { port: 2 }), token: '', source: 'remote' }),
    (err: unknown) => err instanceof PersistenceError && /ENOSPC/.test(err.message),
  )
  faults.write = undefined
  faults.rename = { code: 'EROFS' }
  await assert.rejects(
    store.saveService({ service: serviceRecord('web', { port: 3 }), token: '', source: 'remote' }),
    (err: unknown) => err instanceof PersistenceError && /EROFS/.test(err.message),
  )
  faults.rename = undefined
  const loaded = await store.load()
  assert.equal(
    decoded(loaded).services[0]!.service.port,
    1,
    'the acknowledged version survives failed writes',
  )
  assert.deepEqual(await readdir(join(dir, 'services')), [fileNameFor('web')], 'no temp file is left behind')
})

test('a check moving between files; after a loss in between, load keeps the copy with the higher Seq', async (t) => {
  const dir = await tempDir(t)
  const store = await AgentStore.open(dir, { logger: recordingLogger() })
  t.after(() => store.close())
  await store.saveService({ service: serviceRecord('a'), token: '', source: 'remote' })
  await store.saveCheck(checkRegistration({ id: 'c' }))
  assert.deepEqual((await readdir(join(dir, 'checks'))).sort(), [fileNameFor('c'), 'state'].sort())
  await store.saveCheck(checkRegistration({ id: 'c', serviceId: 'a' }))
  assert.deepEqual(await readdir(join(dir, 'checks')), ['state'], 'its node-level file is gone')
  assert.deepEqual(
    decoded(await store.load()).checks.map((c) => [c.check.checkId, c.check.serviceId]),
    [['c', 'a']],
  )

  // Both copies on disk, as a power loss between the two steps of a move leaves them.
  const nodeCopy = (seq: number): string =>
    JSON.stringify({ Format: 2, Seq: seq, Check: { ID: 'c', Name: 'c', TTL: '1m' }, Source: 'remote' })
  const serviceSeq = (
    JSON.parse(await readFile(join(dir, 'services', fileNameFor('a')), 'utf8')) as { Seq: number }
  ).Seq
  await writeFile(join(dir, 'checks', fileNameFor('c')), nodeCopy(serviceSeq - 1))
  let loaded = decoded(await store.load())
  assert.deepEqual(
    loaded.checks.map((c) => [c.check.checkId, c.check.serviceId]),
    [['c', 'a']],
    'the older node-level copy loses',
  )
  assert.deepEqual(await readdir(join(dir, 'checks')), ['state'], 'and is removed')

  await writeFile(join(dir, 'checks', fileNameFor('c')), nodeCopy(serviceSeq + 1))
  loaded = decoded(await store.load())
  assert.deepEqual(
    loaded.checks.map((c) => [c.check.checkId, c.check.serviceId]),
    [['c', '']],
    'the newer node-level copy wins',
  )
  const file = JSON.parse(await readFile(join(dir, 'services', fileNameFor('a')), 'utf8')) as {
    Checks: unknown[]
  }
  assert.deepEqual(file.Checks, [], "the service's file no longer holds it")
  assert.equal(loaded.services.length, 1)
})
