/**
 * Moving a datacenter between stores with `vigil snapshot` (docs/snapshot.md): a real server on
 * the embedded store is saved, restored offline into etcd, served from etcd, saved again and
 * restored offline into a fresh data dir, served from there. After each move the catalog and KV
 * are the same and no X-Consul-Index a client saw before the move is above what it reads after
 * (spec/servers.md §7 item 5). A corrupt snapshot is refused by the CLI and the API and changes
 * nothing.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { runVigil, startAgentProcess, type AgentProcess } from '../support/agent-process.js'
import { startEtcd } from '../support/etcd.js'

/** The reads whose indexes are compared across a move, and whose bodies must survive it. */
const READS = [
  '/v1/catalog/services',
  '/v1/catalog/service/web',
  '/v1/health/service/web',
  '/v1/kv/?recurse',
  '/v1/kv/app/config',
  '/v1/kv/app/removed',
  '/v1/kv/none/?recurse',
] as const

type Seen = Map<string, { index: number; body: unknown }>

/** Every read's index and body, without the per-row indexes (those move on a move to etcd). */
async function read(agent: AgentProcess): Promise<Seen> {
  const seen: Seen = new Map()
  for (const path of READS) {
    const res = await fetch(`${agent.url}${path}`)
    const index = Number(res.headers.get('x-consul-index'))
    assert.ok(index > 0, `${path} has an index`)
    const text = await res.text()
    seen.set(path, { index, body: res.status === 404 ? 404 : stripIndexes(JSON.parse(text) as unknown) })
  }
  return seen
}

function stripIndexes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripIndexes)
  if (typeof v !== 'object' || v === null) return v
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k]) => k !== 'CreateIndex' && k !== 'ModifyIndex')
      .map(([k, x]) => [k, stripIndexes(x)]),
  )
}

function assertMoved(before: Seen, after: Seen, move: string): void {
  for (const path of READS) {
    const b = before.get(path)
    const a = after.get(path)
    assert.ok(b !== undefined && a !== undefined)
    assert.deepEqual(a.body, b.body, `${move}: ${path} answers the same`)
    assert.ok(a.index >= b.index, `${move}: ${path} index ${a.index} ≥ ${b.index} seen before`)
  }
}

async function put(agent: AgentProcess, path: string, body: string): Promise<void> {
  const res = await fetch(`${agent.url}${path}`, { method: 'PUT', body })
  assert.equal(res.status, 200, `${path}: ${await res.text()}`)
}

test('a datacenter moves embedded → etcd → embedded with the same content and indexes that never go back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-snapshot-move-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const etcd = await startEtcd()
  t.after(() => etcd.stop())
  // One server identity for every store, so its own node is the same row after each move.
  const server = ['-server', '-bootstrap', '-node', 'srv1', '-node-id', randomUUID()]
  const etcdFlags = ['-store', 'etcd', '-etcd-endpoints', etcd.endpoint]

  // 1. The datacenter on the embedded store.
  const a = await startAgentProcess({ t, dataDir: join(dir, 'a'), args: server })
  for (let i = 1; i <= 3; i++) {
    await put(
      a,
      '/v1/catalog/register',
      JSON.stringify({
        Node: `web-${i}`,
        Address: `10.0.0.${i}`,
        Service: { Service: 'web', Port: 8080 + i, Tags: ['v1'] },
        Check: { CheckID: 'web', Name: 'web', Status: i === 3 ? 'critical' : 'passing', ServiceID: 'web' },
      }),
    )
  }
  await put(a, '/v1/kv/app/config', 'v1')
  await put(a, '/v1/kv/app/removed', 'soon gone')
  await put(a, '/v1/kv/other/x', 'y')
  assert.equal((await fetch(`${a.url}/v1/kv/app/removed`, { method: 'DELETE' })).status, 200)
  const seenA = await read(a)

  const file = join(dir, 'dc1.snap')
  const saved = await runVigil(['snapshot', 'save', '-http-addr', a.url, file])
  assert.equal(saved.code, 0, saved.stderr)
  const savedIndex = Number(/^Saved and verified snapshot to index (\d+)\n$/.exec(saved.stdout)?.[1])
  assert.ok(savedIndex >= Math.max(...[...seenA.values()].map((s) => s.index)))
  const inspect = await runVigil(['snapshot', 'inspect', file])
  assert.equal(inspect.code, 0, inspect.stderr)
  assert.match(inspect.stdout, new RegExp(`^ Index {11}${savedIndex}$`, 'm'))
  assert.match(inspect.stdout, /^ KVS {12}2 /m)

  // A corrupt snapshot is refused by the CLI and by the API, and changes nothing.
  const bytes = readFileSync(file)
  const cut = join(dir, 'cut.snap')
  writeFileSync(cut, bytes.subarray(0, bytes.length - 10))
  const refused = await runVigil(['snapshot', 'restore', '-http-addr', a.url, cut])
  assert.deepEqual(refused, {
    code: 1,
    stdout: '',
    stderr:
      'Error restoring snapshot: Unexpected response code: 500 (failed to decompress snapshot: unexpected EOF)\n',
  })
  const garbage = await fetch(`${a.url}/v1/snapshot`, { method: 'PUT', body: 'not a snapshot' })
  assert.equal(garbage.status, 500)
  assert.equal(await garbage.text(), 'failed to decompress snapshot: gzip: invalid header')
  assert.deepEqual(await read(a), seenA, 'nothing changed')
  await a.stop()

  // 2. Offline into etcd; a server on etcd serves the same datacenter.
  const toEtcd = await runVigil(['snapshot', 'restore', ...etcdFlags, file])
  assert.equal(toEtcd.code, 0, toEtcd.stderr)
  assert.match(toEtcd.stdout, /^Restored snapshot to etcd prefix \/vigil\/dc1: \d+ keys of datacenter dc1/)
  const again = await runVigil(['snapshot', 'restore', ...etcdFlags, file])
  assert.match(again.stderr, /already holds \d+ keys; restore into an empty prefix/)
  const b = await startAgentProcess({ t, dataDir: join(dir, 'b'), args: [...server, ...etcdFlags] })
  const seenB = await read(b)
  assertMoved(seenA, seenB, 'embedded → etcd')
  await put(b, '/v1/kv/app/config', 'v2')
  const seenB2 = await read(b)

  const file2 = join(dir, 'dc1-etcd.snap')
  const saved2 = await runVigil(['snapshot', 'save', '-stale', '-http-addr', b.url, file2])
  assert.equal(saved2.code, 0, saved2.stderr)
  await b.stop()

  // 3. Offline into a fresh data dir; a server on the embedded store serves it.
  const toDir = await runVigil(['snapshot', 'restore', '-data-dir', join(dir, 'c'), file2])
  assert.equal(toDir.code, 0, toDir.stderr)
  const c = await startAgentProcess({ t, dataDir: join(dir, 'c'), args: server })
  const seenC = await read(c)
  assertMoved(seenB2, seenC, 'etcd → embedded')
  assert.equal(await (await fetch(`${c.url}/v1/kv/app/config?raw`)).text(), 'v2')

  // 4. Online: the first snapshot restored into the running server (its index is above it).
  const online = await runVigil(['snapshot', 'restore', '-http-addr', c.url, file])
  assert.deepEqual(online, { code: 0, stdout: 'Restored snapshot\n', stderr: '' })
  const seenD = await read(c)
  assert.equal(await (await fetch(`${c.url}/v1/kv/app/config?raw`)).text(), 'v1')
  for (const path of READS) {
    assert.deepEqual(seenD.get(path)?.body, seenA.get(path)?.body, `online restore: ${path}`)
    assert.ok(
      (seenD.get(path)?.index ?? 0) > (seenC.get(path)?.index ?? 0),
      `online restore: ${path} index moves`,
    )
  }
  await c.stop()

  // 5. A server refuses an etcd prefix that an offline restore left half-written.
  await etcd.client.put('/vigil/dc1/meta/restore').value('{"snapshot":"x"}')
  await assert.rejects(
    startAgentProcess({ t, dataDir: join(dir, 'e'), args: [...server, ...etcdFlags] }),
    /holds an unfinished snapshot restore .*refusing to start/,
  )
})
