import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  FlagError,
  formatUsage,
  HelpRequested,
  parseFlags,
  parseGoBool,
  parseGoInt,
  type FlagSet,
} from '../../src/config/flags.js'

const set: FlagSet = {
  usageLine: 'vigil test [options]',
  help: 'A test command.',
  groups: [
    {
      title: 'Options',
      flags: [
        { name: 'server', type: 'bool', usage: 'Server mode.' },
        { name: 'node', type: 'string', usage: 'Node name.', placeholder: 'name' },
        { name: 'http-port', type: 'int', usage: 'HTTP port.' },
        { name: 'wait', type: 'duration', usage: 'Wait time.' },
        { name: 'retry-join', type: 'list', usage: 'Join address.' },
        { name: 'check_output_max_size', type: 'int', usage: 'Underscores.' },
      ],
    },
  ],
}

test('flags accepts one or two dashes and both value forms', () => {
  const p = parseFlags(set, [
    '-node',
    'a',
    '--http-port=8501',
    '--wait',
    '1m30s',
    '-check_output_max_size=10',
  ])
  assert.equal(p.values.get('node'), 'a')
  assert.equal(p.values.get('http-port'), 8501)
  assert.equal(p.values.get('wait'), 90_000)
  assert.equal(p.values.get('check_output_max_size'), 10)
  assert.deepEqual(p.args, [])
})

test('flags sets a bare boolean to true and does not consume a following "true"', () => {
  const p = parseFlags(set, ['-server', 'true'])
  assert.equal(p.values.get('server'), true)
  assert.deepEqual(p.args, ['true'])
})

test('flags parses -bool=value with Go ParseBool spellings', () => {
  assert.equal(parseFlags(set, ['-server=false']).values.get('server'), false)
  assert.equal(parseFlags(set, ['--server=T']).values.get('server'), true)
  assert.equal(parseFlags(set, ['-server=0']).values.get('server'), false)
  assert.throws(
    () => parseFlags(set, ['-server=yes']),
    (err: unknown) =>
      err instanceof FlagError && err.message === 'invalid boolean value "yes" for -server: parse error',
  )
})

test('flags accumulates repeatable flags and keeps the occurrence order', () => {
  const p = parseFlags(set, ['-retry-join', 'a', '-node', 'x', '-retry-join=b', '-node', 'y'])
  assert.deepEqual(p.values.get('retry-join'), ['a', 'b'])
  assert.equal(p.values.get('node'), 'y')
  assert.deepEqual(
    p.occurrences.map((o) => `${o.name}=${String(o.value)}`),
    ['retry-join=a', 'node=x', 'retry-join=b', 'node=y'],
  )
})

test('flags stops at the first non-flag argument, at "-" and after "--"', () => {
  assert.deepEqual(parseFlags(set, ['-server', 'file.json', '-node', 'x']).args, ['file.json', '-node', 'x'])
  assert.deepEqual(parseFlags(set, ['-', '-server']).args, ['-', '-server'])
  const p = parseFlags(set, ['-server', '--', '-node', 'x'])
  assert.deepEqual(p.args, ['-node', 'x'])
  assert.equal(p.values.has('node'), false)
})

test('flags takes the next argument as the value even when it starts with a dash', () => {
  assert.equal(parseFlags(set, ['-node', '-weird']).values.get('node'), '-weird')
})

test('flags reports an unknown flag with Go text and the usage', () => {
  assert.throws(
    () => parseFlags(set, ['-server', '-x']),
    (err: unknown) =>
      err instanceof FlagError &&
      err.message === 'flag provided but not defined: -x' &&
      err.usage.startsWith('Usage: vigil test [options]'),
  )
})

test('flags reports missing values, bad numbers, bad durations and bad syntax', () => {
  const message = (argv: string[]): string => {
    try {
      parseFlags(set, argv)
    } catch (err) {
      if (err instanceof FlagError) return err.message
      throw err
    }
    return 'no error'
  }
  assert.equal(message(['-node']), 'flag needs an argument: -node')
  assert.equal(message(['-http-port', 'abc']), 'invalid value "abc" for flag -http-port: parse error')
  assert.equal(message(['-wait', '10']), 'invalid value "10" for flag -wait: parse error')
  assert.equal(message(['---node', 'x']), 'bad flag syntax: ---node')
  assert.equal(message(['-=x']), 'bad flag syntax: -=x')
})

test('flags answers -h and -help with the usage', () => {
  for (const h of ['-h', '-help', '--help']) {
    assert.throws(
      () => parseFlags(set, [h]),
      (err: unknown) => err instanceof HelpRequested && err.usage === formatUsage(set),
    )
  }
})

test('flags usage lists every flag with its placeholder', () => {
  const usage = formatUsage(set)
  assert.match(usage, /^Usage: vigil test \[options\]\n\n {2}A test command\.\n/)
  assert.match(usage, /\n {2}-node=<name>\n {5}Node name\.\n/)
  assert.match(usage, /\n {2}-server\n {5}Server mode\.\n/)
})

test('flags integer parsing follows Go ParseInt base 0', () => {
  assert.equal(parseGoInt('8500'), 8500)
  assert.equal(parseGoInt('-1'), -1)
  assert.equal(parseGoInt('0x10'), 16)
  assert.equal(parseGoInt('010'), 8)
  assert.equal(parseGoInt('1.5'), undefined)
  assert.equal(parseGoInt(''), undefined)
  assert.equal(parseGoBool('TRUE'), true)
  assert.equal(parseGoBool('tRUE'), undefined)
})
