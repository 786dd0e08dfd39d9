import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { freePort, runVigil, startAgentProcess, type AgentProcess } from '../support/agent-process.js'

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const run = runVigil

/** The serf LAN port the agent announced in its banner. */
function serfPort(agent: AgentProcess): string {
  return /Cluster Addr: \S+ \(LAN: (\d+),/.exec(agent.output())?.[1] ?? '8301'
}

async function getJson(agent: AgentProcess, path: string): Promise<unknown> {
  const res = await fetch(`${agent.url}${path}`)
  assert.equal(res.status, 200, path)
  return res.json()
}

/** Waits (bounded) until `predicate(agent.output())` holds. */
async function waitForOutput(agent: AgentProcess, predicate: (out: string) => boolean): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!predicate(agent.output())) {
    if (Date.now() > deadline) assert.fail(`output never matched:\n${agent.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('cli version prints version, revision, build date and protocol', async () => {
  const { code, stdout } = await run(['version'])
  assert.equal(code, 0)
  const lines = stdout.split('\n')
  assert.match(lines[0] ?? '', /^vigil v\d+\.\d+\.\d+/)
  assert.match(lines[1] ?? '', /^Revision ([0-9a-f]{8}|unknown)$/)
  assert.match(lines[2] ?? '', /^Build Date \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
  assert.equal(
    lines[3],
    'Protocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)',
  )
  assert.equal((await run(['-version'])).stdout, stdout)
})

test('cli rejects an unknown command and an unknown agent flag with usage, exit 1', async () => {
  const unknown = await run(['frobnicate'])
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /^Usage: vigil \[--version\] \[--help\] <command> \[<args>\]/)
  assert.match(unknown.stderr, /\n {4}agent +Runs a vigil agent\n/)

  const badFlag = await run(['agent', '-dev', '-x'])
  assert.equal(badFlag.code, 1)
  assert.match(badFlag.stderr, /^flag provided but not defined: -x\nUsage: vigil agent \[options\]/)
  assert.equal(badFlag.stdout, '')

  const help = await run(['agent', '-h'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: vigil agent \[options\]/)
})

test('cli agent refuses a WAN join and reports every config problem', async () => {
  const join = await run(['agent', '-dev', '-retry-join-wan', '127.0.0.1'])
  assert.equal(join.code, 1)
  assert.equal(
    join.stderr,
    '==> vigil does not support WAN federation (-retry-join-wan 127.0.0.1): join agents of one datacenter with -retry-join\n',
  )
  const many = await run(['agent', '-bind', '127.0.0.1', '-server', 'true'])
  assert.equal(many.code, 1)
  assert.equal(many.stderr, '==> Unexpected extra arguments: [true]\n==> data_dir cannot be empty\n')
})

test('cli agent prints the banner, then streams logs, and exits 1 on SIGTERM in -dev', async (t) => {
  const agent = await startAgentProcess({ t, args: ['-node', 'banner-node'] })
  await waitForOutput(agent, (out) => out.includes('agent: Consul agent running!'))
  const out = agent.output()
  const start = out.indexOf('==> Starting vigil agent...\n')
  const stream = out.indexOf('==> Log data will now stream in as it occurs:\n')
  const running = out.indexOf('agent: Consul agent running!')
  assert.ok(start === 0 && start < stream && stream < running, out)
  assert.match(out, /\n {14}Version: '\d+\.\d+\.\d+'\n/)
  assert.match(out, /\n {14}Node ID: '[0-9a-f-]{36}'\n/)
  assert.match(out, /\n {12}Node name: 'banner-node'\n/)
  assert.match(out, /\n {11}Datacenter: 'dc1' \(Segment: '<all>'\)\n/)
  assert.match(out, /\n {15}Server: true \(Bootstrap: true\)\n/)
  assert.match(
    out,
    new RegExp(
      `\\n {10}Client Addr: \\[127\\.0\\.0\\.1\\] \\(HTTP: ${agent.port}, HTTPS: -1, gRPC: 8502, gRPC-TLS: -1, DNS: \\d+\\)\\n`,
    ),
  )
  assert.match(out, /\n {9}Cluster Addr: 127\.0\.0\.1 \(LAN: \d+, WAN: 8302\)\n/)
  assert.ok(out.includes('\n         ACLs Enabled: false\n'), out)
  assert.match(out, /\n\d{4}-\d{2}-\d{2}T[\d:.]+Z \[INFO\] {2}agent: Consul agent running!\n/)
  assert.match(
    out,
    /\[WARN\] {2}agent: vigil does not serve these listeners yet; nothing listens on them: gRPC \(127\.0\.0\.1:8502\)/,
  )
  assert.match(
    out,
    new RegExp(`agent: Started HTTP server: address=127\\.0\\.0\\.1:${agent.port} network=tcp`),
  )

  const code = await agent.stop('SIGTERM')
  assert.equal(code, 1)
  assert.match(agent.output(), /agent: Caught: signal=terminated\n/)
  assert.match(agent.output(), /agent: Graceful shutdown disabled. Exiting\n/)
})

test('cli agent -log-json hides the banner and writes JSON lines', async (t) => {
  const agent = await startAgentProcess({ t, args: ['-log-json'] })
  await waitForOutput(agent, (out) => out.includes('Consul agent running!'))
  const lines = agent
    .output()
    .split('\n')
    .filter((l) => l !== '')
  assert.ok(!agent.output().includes('==> '), agent.output())
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  const running = records.find((r) => r['@message'] === 'Consul agent running!')
  assert.equal(running?.['@module'], 'agent')
  assert.equal(running['@level'], 'info')
  assert.equal(typeof running['@timestamp'], 'string')
})

test('cli agent client leaves gracefully on SIGTERM and SIGINT, writes and removes its pid file', async (t) => {
  const dir = tempDir(t)
  const pidFile = join(dir, 'run', 'vigil.pid')
  const agent = await startAgentProcess({ t, dataDir: join(dir, 'data'), args: ['-pid-file', pidFile] })
  assert.equal(readFileSync(pidFile, 'utf8'), String(agent.pid))
  assert.match(agent.output(), /Server: false \(Bootstrap: false\)/)
  assert.match(agent.output(), /Datacenter: 'dc1' \(Segment: ''\)/)
  assert.equal(await agent.stop('SIGTERM'), 0)
  assert.match(agent.output(), /agent: Gracefully shutting down agent\.\.\.\n/)
  assert.match(agent.output(), /agent: Graceful exit completed\n/)
  assert.equal(existsSync(pidFile), false)

  const again = await startAgentProcess({ t, dataDir: join(dir, 'data') })
  assert.equal(await again.stop('SIGINT'), 0)
  assert.match(again.output(), /agent: Caught: signal=interrupt\n/)
})

test('cli agent reloads on SIGHUP and keeps running', async (t) => {
  const agent = await startAgentProcess({ t })
  process.kill(agent.pid, 'SIGHUP')
  await waitForOutput(agent, (out) => out.includes('Reloaded configuration'))
  await getJson(agent, '/v1/agent/self')
  assert.equal(await agent.stop('SIGINT'), 1)
})

test('cli agent reports a port in use and exits 1', async (t) => {
  const port = await freePort()
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const { code, stderr } = await run([
    'agent',
    '-dev',
    '-http-port',
    String(port),
    '-dns-port',
    String(await freePort()),
    '-serf-lan-port',
    String(await freePort()),
    '-server-port',
    String(await freePort()),
  ])
  assert.equal(code, 1)
  assert.equal(
    stderr,
    `==> Error starting agent: listen tcp 127.0.0.1:${port}: bind: address already in use\n`,
  )
})

test('cli agent registers the services of its config files', async (t) => {
  const dir = tempDir(t)
  const json = join(dir, 'web.json')
  writeFileSync(json, JSON.stringify({ service: { name: 'web', port: 80, tags: ['v1'] } }))
  const hcl = join(dir, 'db.hcl')
  writeFileSync(hcl, 'service {\n  name = "db"\n  id = "db-1"\n  port = 5432\n}\n')
  const agent = await startAgentProcess({ t, args: ['-config-file', json, '-config-file', hcl] })
  const services = (await getJson(agent, '/v1/agent/services')) as Record<
    string,
    { Service: string; Port: number }
  >
  assert.deepEqual(
    Object.entries(services)
      .map(([id, s]) => `${id}=${s.Service}:${s.Port}`)
      .sort(),
    ['db-1=db:5432', 'web=web:80'],
  )
})

test('cli services register, deregister and members talk to a running agent', async (t) => {
  const dir = tempDir(t)
  const agent = await startAgentProcess({ t, args: ['-node', 'cli-node'] })
  const addr = ['-http-addr', `127.0.0.1:${agent.port}`]

  const reg = await run([
    'services',
    'register',
    ...addr,
    '-name',
    'web',
    '-id',
    'web-1',
    '-port',
    '8080',
    '-tag',
    'a',
    '-tag',
    'b',
    '-meta',
    'team=core',
  ])
  assert.equal(reg.code, 0, reg.stderr)
  assert.equal(reg.stdout, 'Registered service: web\n')
  const web = (await getJson(agent, '/v1/agent/service/web-1')) as Record<string, unknown>
  assert.equal(web['Service'], 'web')
  assert.equal(web['Port'], 8080)
  assert.deepEqual(web['Tags'], ['a', 'b'])
  assert.deepEqual(web['Meta'], { team: 'core' })

  const json = join(dir, 'api.json')
  writeFileSync(
    json,
    JSON.stringify({
      Service: { Name: 'api', Port: 9000, Check: { TTL: '30s' }, enable_tag_override: true },
    }),
  )
  const hcl = join(dir, 'cache.hcl')
  writeFileSync(
    hcl,
    'service {\n  name = "cache"\n  id = "cache-1"\n  tagged_addresses {\n    lan { address = "10.0.0.1", port = 6379 }\n  }\n  check {\n    name = "cache ttl"\n    ttl = "1m"\n  }\n}\n',
  )
  const fromFiles = await run(['services', 'register', json, hcl], { CONSUL_HTTP_ADDR: agent.url })
  assert.equal(fromFiles.code, 0, fromFiles.stderr)
  assert.equal(fromFiles.stdout, 'Registered service: api\nRegistered service: cache\n')
  const api = (await getJson(agent, '/v1/agent/service/api')) as Record<string, unknown>
  assert.equal(api['EnableTagOverride'], true)
  const cache = (await getJson(agent, '/v1/agent/service/cache-1')) as Record<string, unknown>
  assert.deepEqual(cache['TaggedAddresses'], { lan: { Address: '10.0.0.1', Port: 6379 } })
  const checks = (await getJson(agent, '/v1/agent/checks')) as Record<
    string,
    { Name: string; ServiceID: string }
  >
  assert.equal(checks['service:cache-1']?.Name, 'cache ttl')
  assert.equal(checks['service:api']?.ServiceID, 'api')

  const bad = await run(['services', 'register', ...addr, '-name', 'x', '-meta', 'consul-x=1'])
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /^Error registering service "x": Unexpected response code: 400 \(/)

  const members = await run(['members', ...addr])
  assert.equal(members.code, 0, members.stderr)
  const rows = members.stdout.trimEnd().split('\n')
  assert.match(rows[0] ?? '', /^Node +Address +Status +Type +Build +Protocol +DC +Partition +Segment$/)
  const cols = (rows[1] ?? '').split(/ {2,}/)
  assert.deepEqual(
    [cols[0], cols[1], cols[2], cols[3], cols[5], cols[6], cols[7], cols[8]],
    ['cli-node', `127.0.0.1:${serfPort(agent)}`, 'alive', 'server', '2', 'dc1', 'default', '<all>'],
  )
  assert.equal((rows[0] ?? '').indexOf('Address'), (rows[1] ?? '').indexOf('127.0.0.1'))
  const detailed = await run(['members', ...addr, '-detailed'])
  assert.match(
    detailed.stdout,
    /^Node +Address +Status +Tags\ncli-node +127\.0\.0\.1:\d+ +alive +.*\bdc=dc1\b.*\brole=consul\b/,
  )
  const none = await run(['members', ...addr, '-status', 'failed'])
  assert.equal(none.code, 2)

  const dereg = await run(['services', 'deregister', ...addr, '-id', 'web-1'])
  assert.equal(dereg.code, 0, dereg.stderr)
  assert.equal(dereg.stdout, 'Deregistered service: web-1\n')
  const fromFile = await run(['services', 'deregister', ...addr, json, hcl])
  assert.equal(fromFile.stdout, 'Deregistered service: api\nDeregistered service: cache-1\n')
  assert.deepEqual(await getJson(agent, '/v1/agent/services'), {})

  const missing = await run(['services', 'deregister', ...addr, '-id', 'nope'])
  assert.equal(missing.code, 1)
  assert.equal(
    missing.stderr,
    'Error deregistering service "nope": Unexpected response code: 404 (Unknown service ID "nope". Ensure that the service ID is passed, not the service name.)\n',
  )
})

test('cli client commands report an unreachable agent', async () => {
  const port = await freePort()
  const { code, stderr } = await run(['members', '-http-addr', `http://127.0.0.1:${port}`])
  assert.equal(code, 1)
  assert.equal(
    stderr,
    `Error retrieving members: Get "http://127.0.0.1:${port}/v1/agent/members?segment=_all": dial tcp 127.0.0.1:${port}: connect: connection refused\n`,
  )
  const usage = await run(['services', 'register'])
  assert.equal(usage.code, 1)
  assert.equal(usage.stderr, 'Service registration requires at least one argument or flags.\n')
})
