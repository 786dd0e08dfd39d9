/**
 * `vigil kv`, `vigil lock`, `vigil session`, `vigil event` and `vigil watch` against a real `vigil agent -dev`:
 * exit codes, output and error texts as `consul` prints them (cli.md §7), bad input.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { REPO_ROOT, runVigil, startAgentProcess, VIGIL_BIN } from '../support/agent-process.js'
import { waitFor } from '../support/wait.js'

test('vigil kv, lock, event and watch against an agent', async (t) => {
  const agent = await startAgentProcess({ t })
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-kv-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const vigil = (...args: string[]): ReturnType<typeof runVigil> =>
    runVigil(args, { CONSUL_HTTP_ADDR: agent.url })

  // kv put / get
  assert.deepEqual(await vigil('kv', 'put', 'app/config', 'hello'), {
    code: 0,
    stdout: 'Success! Data written to: app/config\n',
    stderr: '',
  })
  writeFileSync(join(dir, 'v.txt'), 'from file')
  assert.equal((await vigil('kv', 'put', '-flags', '42', 'app/file', `@${join(dir, 'v.txt')}`)).code, 0)
  assert.equal((await vigil('kv', 'get', 'app/config')).stdout, 'hello\n')
  assert.equal((await vigil('kv', 'get', '/app/file')).stdout, 'from file\n', 'a leading slash is stripped')
  assert.equal((await vigil('kv', 'get', '-base64', 'app/config')).stdout, 'aGVsbG8=\n')
  assert.equal((await vigil('kv', 'get', '-recurse', 'app')).stdout, 'app/config:hello\napp/file:from file\n')
  assert.equal((await vigil('kv', 'get', '-keys', 'app/')).stdout, 'app/config\napp/file\n')
  const detailed = await vigil('kv', 'get', '-detailed', 'app/file')
  assert.match(
    detailed.stdout,
    /^CreateIndex {6}\d+\nFlags {12}42\nKey {14}app\/file\nLockIndex {8}0\nModifyIndex {6}\d+\nSession {10}-\nValue {12}from file\n$/,
  )
  assert.deepEqual(await vigil('kv', 'get', 'app/none'), {
    code: 1,
    stdout: '',
    stderr: 'Error! No key exists at: app/none\n',
  })
  assert.deepEqual(await vigil('kv', 'get'), { code: 1, stdout: '', stderr: 'Error! Missing KEY argument\n' })
  assert.equal((await vigil('kv', 'get', 'a', 'b')).stderr, 'Too many arguments (expected 1, got 2)\n')
  assert.equal((await vigil('kv', 'put')).stderr, 'Error! Missing KEY argument\n')
  assert.equal((await vigil('kv', 'put', '-base64', 'k', '!!!')).code, 1)
  assert.equal((await vigil('kv', 'put', '-base64', 'app/b64', 'aGk=')).code, 0)
  assert.equal((await vigil('kv', 'get', 'app/b64')).stdout, 'hi\n')

  // cas
  const modify = /ModifyIndex\s+(\d+)/.exec(detailed.stdout)?.[1] ?? ''
  assert.deepEqual(await vigil('kv', 'put', '-cas', 'app/file', 'x'), {
    code: 1,
    stdout: '',
    stderr: 'Must specify -modify-index with -cas!\n',
  })
  assert.deepEqual(await vigil('kv', 'put', '-cas', '-modify-index', '999999', 'app/file', 'x'), {
    code: 1,
    stdout: '',
    stderr: 'Error! Did not write to app/file: CAS failed\n',
  })
  assert.equal(
    (await vigil('kv', 'put', '-cas', '-modify-index', modify, '-flags', '42', 'app/file', 'y')).code,
    0,
  )

  // export / import
  const exported = await vigil('kv', 'export', 'app/')
  assert.equal(exported.code, 0)
  const entries = JSON.parse(exported.stdout) as { key: string; flags: number; value: string }[]
  assert.deepEqual(
    entries.map((e) => [e.key, e.flags, Buffer.from(e.value, 'base64').toString()]),
    [
      ['app/b64', 0, 'hi'],
      ['app/config', 0, 'hello'],
      ['app/file', 42, 'y'],
    ],
  )
  assert.ok(exported.stdout.includes('\n\t{\n\t\t"key"'), 'tab-indented as Go MarshalIndent with "\\t"')
  writeFileSync(join(dir, 'export.json'), exported.stdout)
  const imported = await vigil('kv', 'import', '-prefix', 'copy/', `@${join(dir, 'export.json')}`)
  assert.equal(
    imported.stdout,
    'Imported: copy/app/b64\nImported: copy/app/config\nImported: copy/app/file\n',
  )
  assert.equal((await vigil('kv', 'get', 'copy/app/file')).stdout, 'y\n')
  assert.equal((await vigil('kv', 'import', 'not json')).code, 1)

  // delete
  assert.equal((await vigil('kv', 'delete', '-cas', 'app/file')).code, 1)
  assert.equal(
    (await vigil('kv', 'delete', '-modify-index', '3', 'app/file')).stderr,
    'Cannot specify -modify-index without -cas!\n',
  )
  assert.equal(
    (await vigil('kv', 'delete', '-recurse', '-cas', '-modify-index', '3', 'app')).stderr,
    'Cannot specify both -cas and -recurse!\n',
  )
  assert.deepEqual(await vigil('kv', 'delete', 'app/config'), {
    code: 0,
    stdout: 'Success! Deleted key: app/config\n',
    stderr: '',
  })
  assert.equal(
    (await vigil('kv', 'delete', '-recurse', 'copy')).stdout,
    'Success! Deleted keys with prefix: copy\n',
  )
  assert.equal((await vigil('kv', 'get', '-recurse', 'copy')).stdout, '')

  // lock: the child gets the lock environment and a fencing token; tokens grow
  const env1 = await vigil(
    'lock',
    'jobs/nightly',
    'echo "$CONSUL_LOCK_HELD $VIGIL_LOCK_KEY $VIGIL_FENCING_TOKEN"',
  )
  assert.equal(env1.code, 0)
  const [held, key, token1] = env1.stdout.trim().split(' ')
  assert.equal(held, 'true')
  assert.equal(key, 'jobs/nightly/.lock')
  const env2 = await vigil('lock', '-shell=false', 'jobs/nightly', 'sh', '-c', 'echo $VIGIL_FENCING_TOKEN')
  assert.ok(Number(env2.stdout.trim()) > Number(token1), 'a later holder has a higher token')
  assert.equal((await vigil('kv', 'get', 'jobs/nightly/.lock')).code, 1, 'the unused lock key is cleaned up')
  assert.equal((await vigil('lock', '-child-exit-code', 'jobs/x', 'exit 3')).code, 2)
  assert.equal((await vigil('lock', 'jobs/x', 'exit 3')).code, 0)
  assert.equal((await vigil('lock', 'jobs/x')).stderr, 'Key prefix and child command must be specified\n')
  assert.equal(
    (await vigil('lock', '-n', '0', 'jobs/x', 'true')).stderr,
    'Lock holder limit must be positive\n',
  )

  // lock: while one holder runs, a second with -timeout gives up
  const marker = join(dir, 'holding')
  const holder = spawn(
    process.execPath,
    [VIGIL_BIN, 'lock', '-http-addr', agent.url, 'jobs/busy', `touch ${marker}; sleep 30`],
    { cwd: REPO_ROOT, stdio: 'ignore' },
  )
  t.after(() => {
    holder.kill('SIGKILL')
  })
  await waitFor(
    () => {
      try {
        readFileSync(marker)
        return true
      } catch {
        return false
      }
    },
    { timeoutMs: 10_000, what: 'the first holder' },
  )
  const second = await vigil('lock', '-timeout', '500ms', 'jobs/busy', 'echo never')
  assert.deepEqual(second, {
    code: 1,
    stdout: '',
    stderr: 'Shutdown triggered or timeout during lock acquisition\n',
  })
  // Semaphore with two slots: a second holder gets in while the first runs.
  const sem = spawn(
    process.execPath,
    [VIGIL_BIN, 'lock', '-http-addr', agent.url, '-n', '2', 'jobs/sem', 'sleep 30'],
    {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    },
  )
  t.after(() => {
    sem.kill('SIGKILL')
  })
  const slot = await vigil('lock', '-n', '2', '-timeout', '5s', 'jobs/sem', 'echo $VIGIL_LOCK_KEY')
  assert.equal(slot.code, 0)
  assert.match(slot.stdout, /^jobs\/sem\/[0-9a-f-]{36}\n$/)
  const third = await vigil('lock', '-n', '3', '-timeout', '2s', 'jobs/sem', 'true')
  assert.match(third.stderr, /semaphore limit conflict \(lock: 2, local: 3\)/)

  // session
  const created = await vigil('session', 'create', '-name', 'cli', '-ttl', '30s', '-lock-delay', '5s')
  assert.equal(created.code, 0)
  const sid = created.stdout.trim()
  assert.match(sid, /^[0-9a-f-]{36}$/)
  const read = await vigil('session', 'read', sid)
  assert.match(
    read.stdout,
    new RegExp(
      `^ID: {10}${sid}\nName: {8}cli\nNode: {8}\\S+\nLockDelay: {3}5s\nBehavior: {4}release\nTTL: {9}30s\nNode Checks: serfHealth\n\n$`,
    ),
  )
  const asJson = JSON.parse((await vigil('session', 'read', '-format', 'json', sid)).stdout) as Record<
    string,
    unknown
  >
  assert.equal(asJson['LockDelay'], 5_000_000_000)
  assert.ok((await vigil('session', 'list')).stdout.includes(`ID:          ${sid}\n`))
  assert.equal((await vigil('session', 'renew', sid)).code, 0)
  assert.equal((await vigil('session', 'delete', sid)).code, 0)
  assert.deepEqual(await vigil('session', 'read', sid), {
    code: 1,
    stdout: '',
    stderr: `No session "${sid}" found\n`,
  })
  assert.equal((await vigil('session', 'read')).stderr, 'Must specify a session UUID.\n')
  assert.equal(
    (await vigil('session', 'read', '-format', 'yaml', 'x', 'y')).stderr,
    'Extra arguments after the session UUID.\n',
  )
  assert.match(
    (await vigil('session', 'create', '-ttl', '1s')).stderr,
    /^Error creating session: Unexpected response code: 500 \(Invalid Session TTL/,
  )

  // event
  const fired = await vigil('event', '-name', 'deploy', 'payload')
  assert.equal(fired.code, 0)
  assert.match(fired.stdout, /^Event ID: [0-9a-f-]{36}\n$/)
  assert.equal((await vigil('event')).stderr, 'Event name must be specified\n')
  assert.equal(
    (await vigil('event', '-name', 'x', '-tag', 'a')).stderr,
    'Cannot provide tag filter without service filter.\n',
  )
  assert.match(
    (await vigil('event', '-name', 'x', '-node', '(')).stderr,
    /^Failed to compile node filter regexp: /,
  )

  // watch without a handler prints the current result and exits
  await vigil('kv', 'put', 'w/k', 'v1')
  const once = await vigil('watch', '-type', 'key', '-key', 'w/k')
  assert.equal(once.code, 0)
  const entry = JSON.parse(once.stdout) as Record<string, unknown>
  assert.equal(entry['Key'], 'w/k')
  assert.ok(once.stdout.includes('\n    "Key": "w/k"'), '4-space indent')
  const events = JSON.parse((await vigil('watch', '-type', 'event', '-name', 'deploy')).stdout) as unknown[]
  assert.equal(events.length, 1)
  assert.equal((await vigil('watch')).stderr, 'Must specify watch type\n')
  assert.equal((await vigil('watch', '-type', 'bogus')).stderr, 'Unsupported watch type: bogus\n')

  // watch with a handler: once per change, JSON on stdin, CONSUL_INDEX in the env
  const out = join(dir, 'watch.log')
  const watcher = spawn(
    process.execPath,
    [
      VIGIL_BIN,
      'watch',
      '-http-addr',
      agent.url,
      '-type',
      'key',
      '-key',
      'w/k',
      `{ cat; echo; echo "IDX=$CONSUL_INDEX"; } >> ${out}`,
    ],
    { cwd: REPO_ROOT, stdio: 'ignore' },
  )
  t.after(() => {
    watcher.kill('SIGKILL')
  })
  const lines = (): string[] => {
    try {
      return readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('IDX='))
    } catch {
      return []
    }
  }
  await waitFor(() => lines().length >= 1, { timeoutMs: 10_000, what: 'the first handler run' })
  await vigil('kv', 'put', 'w/k', 'v2')
  await waitFor(() => lines().length >= 2, { timeoutMs: 10_000, what: 'the handler run after a change' })
  const indexes = lines().map((l) => Number(l.slice(4)))
  assert.ok((indexes[1] ?? 0) > (indexes[0] ?? 0), `CONSUL_INDEX grows: ${indexes.join(',')}`)
  assert.ok(readFileSync(out, 'utf8').includes('"Value": "djI="'), 'the changed entry on stdin')
})
