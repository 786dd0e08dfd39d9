import { setImmediate as nextTurn } from 'node:timers/promises'
import { encodeFrame, frameAt, FRAME_HEADER } from './frame.js'
import type { StateSnapshot } from './kv-state.js'
import type { LogHandle } from './store-fs.js'
import type { KeyValue, LeaseId, Revision } from './store.js'

/**
 * The embedded store's snapshot file, format 2: frames (frame.ts), in this order
 *
 *   {"snapshot":2,"revision":R,"nextLease":L}       the header
 *   {"leases":[{"id":…,"ttlMs":…},…]}               zero or more
 *   {"kvs":[{"key":…,"value":…,…},…]}               zero or more
 *   {"end":{"leases":n,"kvs":m,"frames":f}}         the trailer: what came before it
 *
 * Each frame holds about `chunkBytes` of JSON, so that neither writing nor reading builds one
 * string of the whole state (V8 caps a string at ~512 MiB), and the writer yields to the event
 * loop after every frame. A file is trusted whole or not at all: every frame intact, the
 * trailer's counts right, nothing after it.
 *
 * Format 1, written before: one frame whose payload is the StateSnapshot as one JSON document.
 * It is still read; the store's next snapshot is written in format 2.
 */

/** What a snapshot holds: a StateSnapshot, or a KvState capture read while the state moves on. */
export interface SnapshotSource {
  readonly revision: Revision
  readonly nextLease: number
  readonly leases: Iterable<Readonly<{ id: LeaseId; ttlMs: number }>>
  readonly kvs: Iterable<KeyValue>
}

export interface SnapshotWriteOptions {
  /** About how many bytes of JSON go into one frame. */
  readonly chunkBytes: number
  /**
   * Sync the file each time this many more bytes were written (default: never), so that the
   * disk takes the file a piece at a time instead of all at the final sync, while the store's
   * log writes queue behind it.
   */
  readonly syncEveryBytes?: number
  /** Checked before every frame: writing stops with its reason. */
  readonly signal?: AbortSignal
}

/**
 * Writes `source` into `file` (empty) from position 0, a frame at a time, yielding to the event
 * loop after each. The end is not synced (the caller's). Resolves with the number of bytes
 * written.
 */
export async function writeSnapshot(
  file: LogHandle,
  source: SnapshotSource,
  opts: SnapshotWriteOptions,
): Promise<number> {
  let pos = 0
  let frames = 0
  let synced = 0
  const put = async (payload: string): Promise<void> => {
    opts.signal?.throwIfAborted()
    const frame = encodeFrame(payload)
    await file.write(frame, pos)
    pos += frame.length
    frames++
    if (pos - synced >= (opts.syncEveryBytes ?? Infinity)) {
      await file.sync()
      synced = pos
    }
    // A write to a real file already waits for the thread pool; a file that answers at once
    // (or a fast disk) must not let the next frame's encoding hold the loop too.
    await nextTurn()
  }
  /** Frames of `{"<name>":[…]}` of about chunkBytes each; resolves with the item count. */
  const putChunks = async <T>(
    name: string,
    items: Iterable<T>,
    size: (item: T) => number,
  ): Promise<number> => {
    let count = 0
    let batch: T[] = []
    let bytes = 0
    for (const item of items) {
      batch.push(item)
      count++
      bytes += size(item)
      if (bytes >= opts.chunkBytes) {
        await put(`{"${name}":${JSON.stringify(batch)}}`)
        batch = []
        bytes = 0
      }
    }
    if (batch.length > 0) await put(`{"${name}":${JSON.stringify(batch)}}`)
    return count
  }
  await put(JSON.stringify({ snapshot: 2, revision: source.revision, nextLease: source.nextLease }))
  const leases = await putChunks('leases', source.leases, (l) => 24 + l.id.length)
  const kvs = await putChunks('kvs', source.kvs, (kv) => 96 + kv.key.length + kv.value.length)
  await put(JSON.stringify({ end: { leases, kvs, frames } }))
  return pos
}

interface Header {
  readonly snapshot?: unknown
  readonly revision?: unknown
  readonly nextLease?: unknown
}

interface Chunk {
  readonly leases?: Readonly<{ id: LeaseId; ttlMs: number }>[]
  readonly kvs?: KeyValue[]
  readonly end?: Readonly<{ leases: number; kvs: number; frames: number }>
}

/** The state in a snapshot file of either format; throws an Error saying what is wrong. */
export function readSnapshot(buf: Buffer): StateSnapshot {
  const first = frameAt(buf, 0)
  if (first === undefined) throw new Error('its first frame is damaged')
  if (FRAME_HEADER + first.length === buf.length) {
    const v1 = JSON.parse(first.toString('utf8')) as Partial<StateSnapshot>
    if (typeof v1.revision !== 'number' || !Array.isArray(v1.kvs) || !Array.isArray(v1.leases))
      throw new Error('it is not a snapshot')
    return v1 as StateSnapshot
  }
  const header = JSON.parse(first.toString('utf8')) as Header
  if (header.snapshot !== 2 || typeof header.revision !== 'number' || typeof header.nextLease !== 'number')
    throw new Error(`its header is not a format 2 snapshot header`)
  const kvs: KeyValue[] = []
  const leases: { id: LeaseId; ttlMs: number }[] = []
  let frames = 1
  for (let off = FRAME_HEADER + first.length; off < buf.length; frames++) {
    const body = frameAt(buf, off)
    if (body === undefined) throw new Error(`its frame at byte ${off} of ${buf.length} is damaged`)
    off += FRAME_HEADER + body.length
    const chunk = JSON.parse(body.toString('utf8')) as Chunk
    if (chunk.kvs !== undefined) for (const kv of chunk.kvs) kvs.push(kv)
    else if (chunk.leases !== undefined) for (const l of chunk.leases) leases.push(l)
    else if (chunk.end !== undefined) {
      const { end } = chunk
      if (end.kvs !== kvs.length || end.leases !== leases.length || end.frames !== frames)
        throw new Error(
          `its trailer counts ${end.kvs} keys, ${end.leases} leases in ${end.frames} frames; ` +
            `it holds ${kvs.length}, ${leases.length} in ${frames}`,
        )
      if (off !== buf.length) throw new Error(`${buf.length - off} bytes follow its trailer`)
      return { revision: header.revision, nextLease: header.nextLease, kvs, leases }
    } else throw new Error(`its frame at byte ${off - FRAME_HEADER - body.length} is not a snapshot frame`)
  }
  throw new Error('it ends before its trailer')
}
