import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { createLogger, LogGate, type LogDestination } from '../../src/lib/log.js'
import { waitFor } from '../support/wait.js'

class Lines implements LogDestination {
  readonly lines: string[] = []
  write(line: string): void {
    this.lines.push(line)
  }
}

const TIMESTAMP = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z`

test('log prints Consul line format with module, message and key=value pairs', () => {
  const out = new Lines()
  const log = createLogger({ level: 'info', json: false, destination: out })
  log.child({ module: 'agent.checks' }).info({ checkId: 'x' }, 'Check is now critical')
  assert.equal(out.lines.length, 1)
  assert.match(
    out.lines[0] ?? '',
    new RegExp(`^${TIMESTAMP} \\[INFO\\]  agent\\.checks: Check is now critical: checkId=x\\n$`),
  )
})

test('log pads every level to the same column', () => {
  const out = new Lines()
  const log = createLogger({ level: 'trace', json: false, destination: out }).child({ module: 'agent' })
  log.trace('t')
  log.debug('d')
  log.info('i')
  log.warn('w')
  log.error('e')
  const heads = out.lines.map((l) => l.slice(25, 33))
  assert.deepEqual(heads, ['[TRACE] ', '[DEBUG] ', '[INFO]  ', '[WARN]  ', '[ERROR] '])
  assert.deepEqual(
    out.lines.map((l) => l.slice(33)),
    ['agent: t\n', 'agent: d\n', 'agent: i\n', 'agent: w\n', 'agent: e\n'],
  )
})

test('log quotes values with spaces, quotes or equals signs and prints errors by message', () => {
  const out = new Lines()
  const log = createLogger({ level: 'info', json: false, destination: out })
  log.info(
    { a: 'two words', b: 'k=v', c: '', d: 3, e: true, f: ['x', 'y'], err: new Error('it broke') },
    'msg',
  )
  assert.match(
    out.lines[0] ?? '',
    / \[INFO\] {2}msg: a="two words" b="k=v" c="" d=3 e=true f=\[x y\] err="it broke"\n$/,
  )
})

test('log uses the innermost module of nested children', () => {
  const out = new Lines()
  const log = createLogger({ level: 'info', json: false, destination: out })
  log.child({ module: 'agent' }).child({ module: 'agent.http' }).info('up')
  assert.match(out.lines[0] ?? '', / agent\.http: up\n$/)
})

test('log filters below the configured level', () => {
  const out = new Lines()
  const log = createLogger({ level: 'warn', json: false, destination: out })
  log.info('hidden')
  log.debug('hidden')
  log.warn('shown')
  assert.equal(out.lines.length, 1)
})

test('log JSON mode writes one object per line with Consul keys', () => {
  const out = new Lines()
  const log = createLogger({ level: 'info', json: true, destination: out })
  log.child({ module: 'agent' }).warn({ checkId: 'x', err: new Error('bad') }, 'Check is now critical')
  assert.equal(out.lines.length, 1)
  assert.ok(out.lines[0]?.endsWith('\n'))
  const rec = JSON.parse(out.lines[0] ?? '') as Record<string, unknown>
  assert.deepEqual(Object.keys(rec), ['@level', '@message', '@module', '@timestamp', 'checkId', 'err'])
  assert.equal(rec['@level'], 'warn')
  assert.equal(rec['@message'], 'Check is now critical')
  assert.equal(rec['@module'], 'agent')
  assert.match(String(rec['@timestamp']), new RegExp(`^${TIMESTAMP}$`))
  assert.equal(rec['checkId'], 'x')
  assert.equal(rec['err'], 'bad')
})

test('log gate holds lines until opened, then passes them through in order', () => {
  const out = new Lines()
  const gate = new LogGate(out)
  const log = createLogger({ level: 'info', json: false, destination: gate })
  log.info('one')
  log.info('two')
  assert.equal(out.lines.length, 0)
  gate.open()
  log.info('three')
  gate.open()
  assert.deepEqual(
    out.lines.map((l) => l.slice(33).trim()),
    ['one', 'two', 'three'],
  )
})

test('log writes to any Node writable stream', async () => {
  const stream = new PassThrough()
  const chunks: string[] = []
  stream.setEncoding('utf8').on('data', (d: string) => chunks.push(d))
  const log = createLogger({ level: 'info', json: false, destination: stream })
  log.child({ module: 'agent' }).info({ n: 1 }, 'to a stream')
  await waitFor(() => chunks.join('').endsWith('\n'), { what: 'the line on the stream' })
  assert.match(chunks.join(''), / agent: to a stream: n=1\n$/)
})
