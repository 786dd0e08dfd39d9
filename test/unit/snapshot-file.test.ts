import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeFrame, frameAt, FRAME_HEADER } from '../../src/store/frame.js'
import type { StateSnapshot } from '../../src/store/kv-state.js'
import { readSnapshot, writeSnapshot } from '../../src/store/snapshot-file.js'
import { PowerLossFs } from '../support/power-loss-fs.js'

const state: StateSnapshot = {
  revision: 42,
  nextLease: 3,
  leases: [
    { id: '1', ttlMs: 10_000 },
    { id: '2', ttlMs: 15_000 },
  ],
  kvs: Array.from({ length: 50 }, (_, i) => ({
    key: `k/${i}`,
    value: `{"n":${i},"text":"line\\nbreak é"}`,
    createRevision: i + 2,
    modRevision: 40,
    version: 3,
    lease: i % 7 === 0 ? '2' : null,
  })),
}

async function written(opts: {
  chunkBytes: number
  syncEveryBytes?: number
}): Promise<{ fs: PowerLossFs; buf: Buffer }> {
  const fs = new PowerLossFs()
  await fs.mkdir('/d')
  const file = await fs.createFile('/d/snap')
  const bytes = await writeSnapshot(file, state, opts)
  const buf = fs.peek('/d/snap')!
  assert.equal(bytes, buf.length)
  return { fs, buf }
}

/** The offset of every frame in `buf`. */
function offsets(buf: Buffer): number[] {
  const out: number[] = []
  for (let off = 0; off < buf.length; off += FRAME_HEADER + frameAt(buf, off)!.length) out.push(off)
  return out
}

test('snapshot file reads back the state it was written from, in frames of about chunkBytes', async () => {
  const { fs, buf } = await written({ chunkBytes: 300, syncEveryBytes: 1000 })
  assert.deepEqual(readSnapshot(buf), state)
  const frames = offsets(buf)
  assert.ok(frames.length > 10, `${frames.length} frames`)
  // A sync once at least 1,000 more bytes were written: after the frame that passes the mark.
  const trace = fs.trace.filter((t) => t.endsWith(' /d/snap'))
  let pos = 0
  let synced = 0
  for (const [i, t] of trace.entries()) {
    if (t === 'sync /d/snap') {
      assert.ok(pos - synced >= 1000 && pos - synced < 1000 + 400, `a sync after ${pos - synced} bytes`)
      synced = pos
    } else if (t === 'write /d/snap') pos = frames[frames.indexOf(pos) + 1] ?? buf.length
    else assert.equal(i, 0, t)
  }
  assert.ok(buf.length - synced < 1000 && synced > 0)
})

test('snapshot file in format 1 (the whole state in one frame) is still read', () => {
  assert.deepEqual(readSnapshot(encodeFrame(JSON.stringify(state))), state)
})

test('snapshot file is refused whole when any part is wrong', async () => {
  const { buf } = await written({ chunkBytes: 300 })
  const frames = offsets(buf)
  const middle = frames[3]!
  const flipped = Buffer.from(buf)
  flipped[middle + FRAME_HEADER + 2]! ^= 0x01
  assert.throws(() => readSnapshot(flipped), {
    message: `its frame at byte ${middle} of ${buf.length} is damaged`,
  })
  assert.throws(() => readSnapshot(Buffer.concat([buf, Buffer.from([0])])), {
    message: '1 bytes follow its trailer',
  })
  const withoutTrailer = buf.subarray(0, frames.at(-1))
  assert.throws(() => readSnapshot(withoutTrailer), { message: 'it ends before its trailer' })
  // A frame dropped from the middle: every frame left is intact, the trailer's counts tell.
  const dropped = Buffer.concat([buf.subarray(0, frames[3]), buf.subarray(frames[4])])
  assert.throws(
    () => readSnapshot(dropped),
    /^Error: its trailer counts 50 keys, 2 leases in \d+ frames; it holds \d+, 2 in \d+$/,
  )
  const head = Buffer.from(buf)
  head[4]! ^= 0x01
  assert.throws(() => readSnapshot(head), { message: 'its first frame is damaged' })
})
