import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js'

/**
 * The seed's scenario with real processes (seed-race.md S2): an agent with a data dir, an
 * application with an HTTP check against a real server whose health the test flips, and its
 * sidecar. Each round: SIGKILL the agent, restart it, and let the application re-register itself
 * and its sidecar over the HTTP API while its health flips. One second after the last flip, the
 * sidecar's alias check must equal the application's status — every round.
 */

const ROUNDS = Number(process.env['VIGIL_SEED_E2E_ROUNDS'] ?? 100)
const ALIAS = 'service:web-sidecar-proxy:2'
const APP_CHECK = 'service:web'

interface App {
  readonly server: Server
  readonly port: number
  healthy: boolean
}

async function startApp(): Promise<App> {
  const app = { healthy: true } as { healthy: boolean; server?: Server; port?: number }
  const server = createServer((_req, res) => {
    res.writeHead(app.healthy ? 200 : 500).end(app.healthy ? 'ok' : 'broken')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  return Object.assign(app, { server, port: typeof addr === 'object' && addr !== null ? addr.port : 0 })
}

function registration(app: App): unknown {
  return {
    ID: 'web',
    Name: 'web',
    Port: app.port,
    Check: { HTTP: `http://127.0.0.1:${app.port}/health`, Interval: '1s', Timeout: '1s' },
    Connect: { SidecarService: {} },
  }
}

async function register(agent: AgentProcess, app: App): Promise<void> {
  const res = await fetch(`${agent.url}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify(registration(app)),
  })
  assert.equal(res.status, 200, await res.text())
}

async function statuses(
  agent: AgentProcess,
): Promise<{ app: string | undefined; alias: string | undefined; aliasOutput: string | undefined }> {
  const res = await fetch(`${agent.url}/v1/agent/checks`)
  const checks = (await res.json()) as Record<string, { Status: string; Output: string } | undefined>
  return { app: checks[APP_CHECK]?.Status, alias: checks[ALIAS]?.Status, aliasOutput: checks[ALIAS]?.Output }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

test(`seed race end to end: ${ROUNDS} kill -9 and re-registration rounds, alias always equals its app`, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-seed-'))
  t.after(() => rm(dataDir, { recursive: true, force: true }))
  const app = await startApp()
  t.after(() => new Promise<void>((r) => app.server.close(() => r())))
  let agent = await startAgentProcess({ dataDir, t, args: ['-log-level', 'warn'] })
  await register(agent, app)

  let seed = 0x5eed
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Health flips while the agent dies, restarts (restoring everything critical) and the app
    // re-registers itself and its sidecar.
    let flipping = true
    let lastFlip = Date.now()
    const flipper = (async () => {
      while (flipping) {
        app.healthy = rnd() < 0.5
        lastFlip = Date.now()
        await sleep(15 + Math.floor(rnd() * 60))
      }
    })()
    try {
      await sleep(Math.floor(rnd() * 100))
      await agent.kill()
      agent = await startAgentProcess({ dataDir, t, args: ['-log-level', 'warn'] })
      await register(agent, app)
      await sleep(Math.floor(rnd() * 150))
    } finally {
      // Stopped on a failure too: a flipper left running kept the test file alive until its timeout.
      flipping = false
      await flipper
    }
    // One second after the last flip, the alias equals the application's status (read from the
    // same snapshot; a second read 50 ms later allows for an evaluation in flight at that instant).
    await sleep(Math.max(0, lastFlip + 1000 - Date.now()))
    let s = await statuses(agent)
    if (s.alias !== s.app) {
      await sleep(50)
      s = await statuses(agent)
    }
    assert.equal(s.alias, s.app, `round ${round}: alias ${s.alias} (${s.aliasOutput}) vs app ${s.app}`)
  }
  // And the chain reaches the truth: the app's check, then the alias, reflect the final health.
  const truth = app.healthy ? 'passing' : 'critical'
  const deadline = Date.now() + 5000
  let final = await statuses(agent)
  while ((final.app !== truth || final.alias !== truth) && Date.now() < deadline) {
    await sleep(50)
    final = await statuses(agent)
  }
  assert.deepEqual([final.app, final.alias], [truth, truth])
  await agent.stop()
})
