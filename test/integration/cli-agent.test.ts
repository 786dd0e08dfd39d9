/**
 * The agent command in-process, with recorded signal and exit hooks, so that signal sequences
 * (a second signal during shutdown, SIGHUP) are delivered deterministically.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { runAgent, type AgentProcessHooks } from '../../src/cli/agent-command.js'
import type { CliIo } from '../../src/cli/io.js'
import { freePort } from '../support/agent-process.js'

class Harness implements AgentProcessHooks {
  readonly pid = 4242
  readonly exits: number[] = []
  readonly #handlers = new Map<NodeJS.Signals, Set<() => void>>()
  out = ''
  err = ''
  readonly io: CliIo = {
    stdout: { write: (s: string) => (this.out += s) },
    stderr: { write: (s: string) => (this.err += s) },
    env: {},
  }

  onSignal(signal: NodeJS.Signals, handler: () => void): () => void {
    const set = this.#handlers.get(signal) ?? new Set()
    set.add(handler)
    this.#handlers.set(signal, set)
    return () => set.delete(handler)
  }

  exit(code: number): void {
    this.exits.push(code)
  }

  send(signal: NodeJS.Signals): void {
    for (const h of this.#handlers.get(signal) ?? []) h()
  }

  listening(signal: NodeJS.Signals): number {
    return this.#handlers.get(signal)?.size ?? 0
  }

  async waitFor(text: string): Promise<void> {
    const deadline = Date.now() + 5_000
    while (!this.out.includes(text)) {
      if (Date.now() > deadline) assert.fail(`never saw ${JSON.stringify(text)}:\n${this.out}${this.err}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-agent-cmd-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Free DNS, serf and server ports: these agents run beside the cluster tests' default ports. */
async function quietPorts(): Promise<string[]> {
  const out: string[] = []
  for (const flag of ['-dns-port', '-serf-lan-port', '-server-port']) out.push(flag, String(await freePort()))
  return out
}

test('agent command exits 0 after a graceful leave on SIGTERM (client) and releases its signals', async (t) => {
  const h = new Harness()
  const port = await freePort()
  const dir = tempDir(t)
  const done = runAgent(
    ['-data-dir', dir, '-bind', '127.0.0.1', '-http-port', String(port), ...(await quietPorts())],
    h.io,
    h,
  )
  await h.waitFor('agent: Consul agent running!')
  const res = await fetch(`http://127.0.0.1:${port}/v1/agent/self`)
  assert.equal(res.status, 200)
  await res.arrayBuffer()
  h.send('SIGTERM')
  assert.equal(await done, 0)
  assert.match(h.out, /agent: Gracefully shutting down agent\.\.\.\n[^]*agent: Graceful exit completed\n/)
  assert.deepEqual(h.exits, [])
  assert.equal(
    h.listening('SIGTERM') + h.listening('SIGINT') + h.listening('SIGHUP') + h.listening('SIGPIPE'),
    0,
  )
  await assert.rejects(fetch(`http://127.0.0.1:${port}/v1/agent/self`))
})

test('agent command exits 1 at once on a second signal during shutdown', async () => {
  const h = new Harness()
  const port = await freePort()
  const done = runAgent(['-dev', '-http-port', String(port), ...(await quietPorts())], h.io, h)
  await h.waitFor('agent: Consul agent running!')
  h.send('SIGINT')
  h.send('SIGINT')
  assert.equal(await done, 1)
  assert.deepEqual(h.exits, [1])
  assert.match(
    h.out,
    /agent: Graceful shutdown disabled. Exiting\n[^]*agent: Caught second signal, Exiting\n/,
  )
})

test('agent command reloads on SIGHUP and keeps serving', async () => {
  const h = new Harness()
  const port = await freePort()
  const done = runAgent(['-dev', '-http-port', String(port), ...(await quietPorts())], h.io, h)
  await h.waitFor('agent: Consul agent running!')
  h.send('SIGHUP')
  await h.waitFor('agent: Reloaded configuration')
  const res = await fetch(`http://127.0.0.1:${port}/v1/agent/self`)
  assert.equal(res.status, 200)
  await res.arrayBuffer()
  h.send('SIGTERM')
  assert.equal(await done, 1)
  assert.match(h.out, /agent: Caught: signal=hangup\n/)
})

test('agent command prints each configuration problem on stderr', async () => {
  const h = new Harness()
  const code = await runAgent(['-bind', '127.0.0.1', '-bootstrap-expect', '3', '-log-level', 'x'], h.io, h)
  assert.equal(code, 1)
  assert.equal(
    h.err,
    [
      "==> 'bootstrap_expect > 0' requires 'server = true'",
      '==> data_dir cannot be empty',
      '==> Invalid log level: "x". Valid log levels are: [TRACE DEBUG INFO WARN ERROR]',
      '',
    ].join('\n'),
  )
  assert.equal(h.out, '')
  assert.equal(h.listening('SIGINT'), 0)
})
