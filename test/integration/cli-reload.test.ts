import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { runVigil, startAgentProcess, type AgentProcess } from '../support/agent-process.js'

async function checks(agent: AgentProcess): Promise<Record<string, { Status: string; Output: string }>> {
  return (await (await fetch(`${agent.url}/v1/agent/checks`)).json()) as Record<
    string,
    { Status: string; Output: string }
  >
}

async function eventually(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

test('SIGHUP and `vigil reload` apply config changes; unchanged checks keep their status; API registrations stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-reload-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const config = join(dir, 'services.hcl')
  writeFileSync(
    config,
    `service {\n  name = "web"\n  port = 80\n  check {\n    ttl = "1h"\n  }\n}\nservice {\n  name = "old"\n}\n`,
  )
  const agent = await startAgentProcess({ dataDir: join(dir, 'data'), args: ['-config-file', config], t })
  const env = { CONSUL_HTTP_ADDR: agent.url }
  await fetch(`${agent.url}/v1/agent/check/pass/service:web?note=fine`, { method: 'PUT' })
  await fetch(`${agent.url}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify({ Name: 'api-svc' }),
  })

  writeFileSync(
    config,
    `service {\n  name = "web"\n  port = 80\n  check {\n    ttl = "1h"\n  }\n}\nservice {\n  name = "new"\n}\n`,
  )
  process.kill(agent.pid, 'SIGHUP')
  await eventually('the reload to apply', async () => {
    const services = (await (await fetch(`${agent.url}/v1/agent/services`)).json()) as Record<string, unknown>
    return 'new' in services && !('old' in services)
  })
  const services = (await (await fetch(`${agent.url}/v1/agent/services`)).json()) as Record<string, unknown>
  assert.deepEqual(Object.keys(services).sort(), ['api-svc', 'new', 'web'])
  const afterHup = await checks(agent)
  assert.equal(afterHup['service:web']?.Status, 'passing', 'an unchanged check keeps its status')
  assert.equal(afterHup['service:web'].Output, 'fine')

  writeFileSync(config, `service {\n  name = "web"\n  port = 8080\n}\n`)
  const reload = await runVigil(['reload'], env)
  assert.equal(reload.code, 0, reload.stderr)
  assert.equal(reload.stdout, 'Configuration reload triggered\n')
  const web = (await (await fetch(`${agent.url}/v1/agent/service/web`)).json()) as { Port: number }
  assert.equal(web.Port, 8080)
  assert.equal((await checks(agent))['service:web'], undefined, 'a check removed from the config is gone')

  writeFileSync(config, `service {\n  port = 1\n}\n`)
  const bad = await runVigil(['reload'], env)
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /Service name missing/)
  assert.ok(
    ((await (await fetch(`${agent.url}/v1/agent/services`)).json()) as Record<string, unknown>)['web'],
  )
})

test('`vigil check explain` prints the alias chain of a sidecar', async (t) => {
  const agent = await startAgentProcess({ t })
  await fetch(`${agent.url}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify({
      ID: 'web-1',
      Name: 'web',
      Port: 80,
      Check: { TTL: '1h' },
      Connect: { SidecarService: {} },
    }),
  })
  await fetch(`${agent.url}/v1/agent/check/fail/service:web-1?note=down`, { method: 'PUT' })
  await eventually(
    'the alias to follow',
    async () => (await checks(agent))['service:web-1-sidecar-proxy:2']?.Status === 'critical',
  )
  const out = await runVigil(['check', 'explain', 'service:web-1-sidecar-proxy:2'], {
    CONSUL_HTTP_ADDR: agent.url,
  })
  assert.equal(out.code, 0, out.stderr)
  assert.match(out.stdout, /service:web-1-sidecar-proxy:2 \(alias\): CRITICAL/)
  assert.match(out.stdout, /└─ service:web-1 \(ttl\): CRITICAL since .* <- decides\n.*why:.*\n.*output: down/)
  const missing = await runVigil(['check', 'explain', 'nope'], { CONSUL_HTTP_ADDR: agent.url })
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /Unknown check ID "nope"/)
})

test('a second agent on the same data dir refuses to start with a clear message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lock-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const first = await startAgentProcess({ dataDir: dir, t })
  const second = await runVigil([
    'agent',
    '-data-dir',
    dir,
    '-bind',
    '127.0.0.1',
    '-http-port',
    String(first.port + 1),
  ])
  assert.equal(second.code, 1)
  assert.match(
    second.stderr,
    new RegExp(
      `==> Error starting agent: Data dir ${dir} is in use by another vigil agent \\(pid ${first.pid}\\)`,
    ),
  )
  const res = await fetch(`${first.url}/v1/agent/self`)
  assert.equal(res.status, 200, 'the first agent is unaffected')
  await res.arrayBuffer()
})
