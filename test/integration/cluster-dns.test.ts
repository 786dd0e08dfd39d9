/**
 * DNS on a client agent (dns.md "Client agents"): a real server and a real client agent, each a
 * `vigil agent` process; the client answers DNS from its mirror of the server's catalog. Services
 * registered on either node resolve through the client (A and SRV, node's resolver); a check
 * turning critical leaves the client's answers; with the server SIGKILLed the client answers from
 * its last copy, and it catches up once the server is back.
 */
import assert from 'node:assert/strict'
import { Resolver } from 'node:dns/promises'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort, startAgentProcess, type AgentProcess } from '../support/agent-process.js'
import { waitFor } from '../support/wait.js'

/** A fresh resolver per question: nothing is cached between attempts. */
function resolverAt(port: number): Resolver {
  const r = new Resolver({ timeout: 1_000, tries: 1 })
  r.setServers([`127.0.0.1:${port}`])
  return r
}

/** The sorted A answers for `name`, or the error code (ENOTFOUND for NXDOMAIN). */
async function a(port: number, name: string): Promise<string> {
  try {
    return (await resolverAt(port).resolve4(name)).sort().join(',')
  } catch (err) {
    return String((err as { code?: unknown }).code)
  }
}

async function srv(port: number, name: string): Promise<string> {
  try {
    const records = await resolverAt(port).resolveSrv(name)
    return records
      .map((r) => `${r.port}`)
      .sort()
      .join(',')
  } catch (err) {
    return String((err as { code?: unknown }).code)
  }
}

async function put(agent: AgentProcess, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${agent.url}${path}`, {
    method: 'PUT',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  assert.equal(res.status, 200, `${path}: ${await res.text()}`)
}

test('cluster DNS: a client agent answers from its mirror of the server catalog', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-dns-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const serfLan = await freePort()
  const serverPort = await freePort()
  const dns = await freePort()
  const common = ['-datacenter', 'dc1', '-hcl', 'member_liveness_timeout = "2s"']
  const serverArgs = [
    '-node',
    'srv1',
    '-server',
    '-bootstrap',
    '-serf-lan-port',
    String(serfLan),
    '-server-port',
    String(serverPort),
    ...common,
  ]
  const startServer = (): Promise<AgentProcess> =>
    startAgentProcess({ t, dataDir: join(dir, 'srv1'), args: serverArgs })
  let server = await startServer()
  const client = await startAgentProcess({
    t,
    dataDir: join(dir, 'cli1'),
    args: ['-node', 'cli1', '-retry-join', `127.0.0.1:${serfLan}`, '-dns-port', String(dns), ...common],
  })
  assert.doesNotMatch(client.output(), /nothing listens on them: .*DNS/, 'DNS is served on a client')
  assert.match(client.output(), new RegExp(`Started DNS server.*127\\.0\\.0\\.1:${dns}`))

  // One service on the client, one on the server: both resolve through the client (A and SRV).
  await put(client, '/v1/agent/service/register', {
    Name: 'web',
    ID: 'web1',
    Address: '127.0.0.10',
    Port: 8080,
    Check: { CheckID: 'web1-ttl', TTL: '60s', Status: 'passing' },
  })
  await put(server, '/v1/agent/service/register', {
    Name: 'db',
    ID: 'db1',
    Address: '127.0.0.11',
    Port: 5432,
  })
  await waitFor(async () => (await a(dns, 'web.service.consul')) === '127.0.0.10', {
    what: 'web resolving through the client',
    timeoutMs: 15_000,
    intervalMs: 50,
  })
  await waitFor(async () => (await a(dns, 'db.service.consul')) === '127.0.0.11', {
    what: 'db (on the server) resolving through the client',
    timeoutMs: 10_000,
    intervalMs: 50,
  })
  assert.equal(await srv(dns, 'web.service.consul'), '8080')
  assert.equal(await srv(dns, 'db.service.consul'), '5432')
  assert.equal(await a(dns, 'cli1.node.consul'), '127.0.0.1')
  assert.equal(await a(dns, 'nothing.service.consul'), 'ENOTFOUND')

  // A check turning critical removes the instance from the client's answers.
  const failedAt = Date.now()
  await put(client, '/v1/agent/check/fail/web1-ttl')
  await waitFor(async () => (await a(dns, 'web.service.consul')) === 'ENOTFOUND', {
    what: 'the critical instance leaving the client answers',
    timeoutMs: 5_000,
    intervalMs: 20,
  })
  t.diagnostic(`critical → gone from the client's DNS in ${Date.now() - failedAt} ms`)
  await put(client, '/v1/agent/check/pass/web1-ttl')
  await waitFor(async () => (await a(dns, 'web.service.consul')) === '127.0.0.10', {
    what: 'the instance back once passing',
    timeoutMs: 5_000,
    intervalMs: 20,
  })

  // The server dies: the client cannot reach it, and answers from its mirror meanwhile.
  await server.kill()
  await waitFor(
    async () => {
      const res = await fetch(`${client.url}/v1/catalog/nodes`)
      await res.arrayBuffer()
      return res.status !== 200
    },
    { what: 'the client losing its server', timeoutMs: 10_000, intervalMs: 50 },
  )
  assert.equal(await a(dns, 'web.service.consul'), '127.0.0.10')
  assert.equal(await a(dns, 'db.service.consul'), '127.0.0.11')
  assert.equal(await srv(dns, 'db.service.consul'), '5432')

  // A service registered while the server is down resolves once it is back.
  await put(client, '/v1/agent/service/register', {
    Name: 'api',
    ID: 'api1',
    Address: '127.0.0.12',
    Port: 9000,
  })
  assert.equal(await a(dns, 'api.service.consul'), 'ENOTFOUND', 'not in the catalog yet')
  const restartedAt = Date.now()
  server = await startServer()
  await waitFor(async () => (await a(dns, 'api.service.consul')) === '127.0.0.12', {
    what: 'the client mirror catching up after the server returns',
    timeoutMs: 20_000,
    intervalMs: 50,
  })
  t.diagnostic(`server restarted → new service in the client's DNS in ${Date.now() - restartedAt} ms`)
  assert.equal(await a(dns, 'db.service.consul'), '127.0.0.11')
  assert.equal(await srv(dns, 'api.service.consul'), '9000')

  // The client's shutdown awaits the mirror's loop; a server exits 1 on SIGTERM, as Consul's.
  assert.equal(await client.stop(), 0, client.output())
  await server.stop()
})
