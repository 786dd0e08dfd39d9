/**
 * A vigil server whose etcd stops answering, with real processes (docs/cluster.md "Several
 * servers", api/leader.ts): one etcd member and one `vigil agent -server -store etcd` on it. The
 * member is frozen (SIGSTOP: its sockets stay open, nothing answers), then killed (SIGKILL:
 * connections refused). Each time, once the server noticed: default and `consistent` reads and
 * writes answer Consul's 500 `No cluster leader` (text/plain; the `consul` npm client reports
 * exactly that) within the hold timeout, `stale` reads answer from the server's view with
 * `X-Consul-KnownLeader: false` and the age of its last contact, and the store's error is logged
 * once per outage. Then etcd comes back and the server answers everything again, as leader.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import Consul from 'consul'
import { startAgentProcess } from '../support/agent-process.js'
import { VIGIL_ETCD_FLAGS } from '../support/etcd-cluster.js'
import { startEtcd } from '../support/etcd.js'
import { waitFor } from '../support/wait.js'

interface Answer {
  readonly status: number
  readonly body: string
  readonly ms: number
  readonly contentType: string | null
  readonly knownLeader: string | null
  readonly lastContact: number
}

/** Consul's rpc_hold_timeout (7 s), plus room for a loaded machine. */
const ANSWER_MS = 10_000

test(
  'etcd frozen, then killed: reads and writes answer 500 No cluster leader, stale reads answer with KnownLeader false; etcd back, the server recovers',
  { timeout: 150_000 },
  async (t) => {
    const etcd = await startEtcd(VIGIL_ETCD_FLAGS)
    t.after(() => etcd.stop())
    const dir = await mkdtemp(join(tmpdir(), 'vigil-outage-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const server = await startAgentProcess({
      t,
      dataDir: dir,
      args: [
        '-server',
        '-node',
        's1',
        '-store',
        'etcd',
        '-etcd-endpoints',
        etcd.endpoint,
        '-etcd-prefix',
        '/outage/dc1',
      ],
    })
    const consul = new Consul({ host: '127.0.0.1', port: server.port })
    const call = async (path: string, init: RequestInit = {}): Promise<Answer> => {
      const started = Date.now()
      const res = await fetch(`${server.url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) })
      const body = await res.text()
      return {
        status: res.status,
        body,
        ms: Date.now() - started,
        contentType: res.headers.get('content-type'),
        knownLeader: res.headers.get('x-consul-knownleader'),
        lastContact: Number(res.headers.get('x-consul-lastcontact')),
      }
    }
    const valueOf = (a: Answer): string =>
      Buffer.from((JSON.parse(a.body) as { Value: string }[])[0]?.Value ?? '', 'base64').toString()
    await waitFor(async () => (await call('/v1/kv/k?consistent')).knownLeader === 'true', {
      timeoutMs: 15_000,
      what: 'the server to lead',
    })
    let value = 'v1'
    assert.equal((await call('/v1/kv/k', { method: 'PUT', body: value })).body, 'true')
    const healthy = await call('/v1/kv/k')
    assert.equal(healthy.knownLeader, 'true')
    assert.equal(healthy.lastContact, 0, 'the leader answers LastContact 0')
    const lostLogs = (): number =>
      server
        .output()
        .split('\n')
        .filter((l) => l.includes('Lost contact with the store')).length

    const faults: { name: string; stop: () => void | Promise<void>; back: () => void | Promise<void> }[] = [
      {
        name: 'SIGSTOP',
        stop: () => {
          etcd.pause()
        },
        back: () => {
          etcd.resume()
        },
      },
      { name: 'SIGKILL', stop: () => etcd.kill(), back: () => etcd.restart() },
    ]
    for (const [n, fault] of faults.entries()) {
      const stoppedAt = Date.now()
      await fault.stop()
      // Sent before the server noticed: still bounded by the hold timeout.
      const first = await call('/v1/kv/k')
      assert.equal(first.status, 500, `${fault.name}: ${first.body}`)
      assert.equal(first.body, 'No cluster leader')
      assert.ok(first.ms <= ANSWER_MS, `${fault.name}: first read answered in ${first.ms} ms`)
      await waitFor(async () => (await call('/v1/kv/k?stale')).knownLeader === 'false', {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: `${fault.name}: the server to notice`,
      })
      const noticedMs = Date.now() - stoppedAt

      const [read, consistent, write, register, viaClient] = await Promise.all([
        call('/v1/kv/k'),
        call('/v1/kv/k?consistent'),
        call('/v1/kv/k', { method: 'PUT', body: 'lost' }),
        call('/v1/catalog/register', {
          method: 'PUT',
          body: JSON.stringify({ Node: 'n9', Address: '10.9.9.9' }),
        }),
        consul.kv.get('k').then(
          () => 'answered',
          (err: unknown) => (err instanceof Error ? err.message : String(err)),
        ),
      ])
      for (const [what, a] of Object.entries({ read, consistent, write, register })) {
        assert.equal(a.status, 500, `${fault.name} ${what}: ${a.body}`)
        assert.equal(a.body, 'No cluster leader', `${fault.name} ${what}`)
        assert.match(a.contentType ?? '', /^text\/plain/, `${fault.name} ${what}`)
        assert.ok(a.ms <= ANSWER_MS, `${fault.name} ${what}: answered in ${a.ms} ms`)
      }
      assert.equal(
        viaClient,
        'consul: kv.get: No cluster leader',
        `${fault.name}: what the consul npm client reports`,
      )
      const stale = await call('/v1/kv/k?stale')
      assert.equal(stale.status, 200)
      assert.equal(valueOf(stale), value, 'the view as it was')
      assert.equal(stale.knownLeader, 'false')
      assert.ok(stale.lastContact >= 3_000, `${fault.name}: LastContact ${stale.lastContact} ms`)
      assert.equal(lostLogs(), n + 1, `${fault.name}: the lost contact is logged once`)
      assert.equal((await call('/v1/status/leader')).body, '""', `${fault.name}: no leader known`)

      const backAt = Date.now()
      await fault.back()
      await waitFor(async () => (await call('/v1/kv/k')).status === 200, {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: `${fault.name}: the server to answer again`,
      })
      const recoveredMs = Date.now() - backAt
      value = `v${n + 2}`
      assert.equal((await call('/v1/kv/k', { method: 'PUT', body: value })).body, 'true')
      assert.equal(valueOf(await call('/v1/kv/k?consistent')), value)
      await waitFor(async () => (await call('/v1/kv/k')).lastContact === 0, {
        timeoutMs: 15_000,
        what: `${fault.name}: the server to lead again`,
      })
      assert.equal((await call('/v1/kv/k')).knownLeader, 'true')
      assert.notEqual((await call('/v1/status/leader')).body, '""')
      const held = [read, consistent, write, register].map((a) => a.ms)
      t.diagnostic(
        `${fault.name}: noticed after ${noticedMs} ms; held requests answered in ${Math.min(...held)}–${Math.max(...held)} ms; recovered ${recoveredMs} ms after etcd was back`,
      )
    }
    assert.equal(lostLogs(), faults.length, 'one log line per outage')
    assert.doesNotMatch(
      server.output(),
      /Request failed unexpectedly/,
      'no request logged as an unexpected failure',
    )
  },
)
