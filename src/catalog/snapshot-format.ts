/**
 * vigil's snapshot file (docs/snapshot.md): a datacenter's catalog as one gzip'd stream of JSON
 * lines, read at one store revision. Consul's snapshots are Raft state (a tar of its FSM's
 * msgpack records): neither side can restore the other's, and vigil says so when given one.
 *
 *   line 1      {"format":"vigil-snapshot","version":1,"id","datacenter","prefix","index","time"}
 *   lines 2…n   {"k": key relative to the prefix, "v": value, "c": createIndex, "m": modifyIndex,
 *                "l"?: lease TTL in ms (the key lived on a lease: a session's TTL key)}
 *   last line   {"end":{"keys": n - 1,"sha256": hex digest of every byte before this line}}
 *
 * The digest and the key count make a cut or altered file fail verification; gzip's own CRC and
 * length catch a cut inside the compressed stream. `decodeSnapshot` checks everything before it
 * returns, so a restore never starts from a snapshot it cannot finish reading.
 */
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { gunzip, gzip } from 'node:zlib'
import { SnapshotInvalidError } from './errors.js'

export const SNAPSHOT_FORMAT = 'vigil-snapshot'
export const SNAPSHOT_VERSION = 1
/** A snapshot larger than this once decompressed is refused (a corrupt or hostile length). */
export const SNAPSHOT_MAX_BYTES = 1024 * 1024 * 1024

export interface SnapshotHeader {
  readonly format: typeof SNAPSHOT_FORMAT
  readonly version: typeof SNAPSHOT_VERSION
  /** `<index>-<epoch ms>`: tells snapshots apart, nothing more. */
  readonly id: string
  readonly datacenter: string
  /** The catalog's key prefix in the store it was taken from (informational). */
  readonly prefix: string
  /** The store revision the snapshot was read at: the highest index any client had seen. */
  readonly index: number
  /** When it was taken, RFC 3339. */
  readonly time: string
}

export interface SnapshotEntry {
  /** The store key without the catalog prefix, e.g. `nodes/web-1`, `kv/app/config`. */
  readonly key: string
  readonly value: string
  readonly createIndex: number
  readonly modifyIndex: number
  /** The key lived on a lease of this TTL; a restore puts it on a fresh lease of the same TTL. */
  readonly leaseTtlMs?: number
}

export interface Snapshot {
  readonly header: SnapshotHeader
  /** Sorted by key. */
  readonly entries: readonly SnapshotEntry[]
}

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)

/** The snapshot as its file's bytes (compressed off the event loop). */
export async function encodeSnapshot(snapshot: Snapshot): Promise<Buffer> {
  const lines: string[] = [JSON.stringify(snapshot.header)]
  for (const e of snapshot.entries) {
    lines.push(
      JSON.stringify(
        e.leaseTtlMs === undefined
          ? { k: e.key, v: e.value, c: e.createIndex, m: e.modifyIndex }
          : { k: e.key, v: e.value, c: e.createIndex, m: e.modifyIndex, l: e.leaseTtlMs },
      ),
    )
  }
  const body = Buffer.from(`${lines.join('\n')}\n`, 'utf8')
  const sha256 = createHash('sha256').update(body).digest('hex')
  const end = Buffer.from(`${JSON.stringify({ end: { keys: snapshot.entries.length, sha256 } })}\n`, 'utf8')
  return gzipAsync(Buffer.concat([body, end]))
}

/**
 * Reads and verifies a snapshot file. Throws SnapshotInvalidError with Consul's shape of text
 * (`failed to decompress snapshot: …`, `failed to read snapshot file: …`) when it is not gzip,
 * cut, altered, of another format or of a newer version.
 */
export async function decodeSnapshot(bytes: Buffer): Promise<Snapshot> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new SnapshotInvalidError(
      bytes.length === 0
        ? 'failed to decompress snapshot: EOF'
        : 'failed to decompress snapshot: gzip: invalid header',
    )
  }
  let raw: Buffer
  try {
    raw = await gunzipAsync(bytes, { maxOutputLength: SNAPSHOT_MAX_BYTES })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const detail =
      code === 'Z_BUF_ERROR'
        ? 'unexpected EOF'
        : code === 'ERR_BUFFER_TOO_LARGE'
          ? `larger than ${SNAPSHOT_MAX_BYTES} bytes`
          : `gzip: ${(err as Error).message}`
    throw new SnapshotInvalidError(`failed to decompress snapshot: ${detail}`, { cause: err })
  }
  return parseSnapshot(raw)
}

function invalid(detail: string): SnapshotInvalidError {
  return new SnapshotInvalidError(`failed to read snapshot file: ${detail}`)
}

function parseLine(line: string, what: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(line) as unknown
  } catch {
    throw invalid(`${what} is not JSON`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${what} is not a JSON object`)
  return v as Record<string, unknown>
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0

function parseHeader(line: string): SnapshotHeader {
  if (!line.startsWith('{')) {
    // A tar (Consul's snapshot) starts with a file name, not a JSON object.
    throw invalid(
      line.includes('meta.json') || line.includes('state.bin')
        ? 'this is a Consul snapshot; vigil restores only snapshots taken by vigil'
        : 'not a vigil snapshot',
    )
  }
  const h = parseLine(line, 'the header')
  if (h['format'] !== SNAPSHOT_FORMAT) throw invalid('not a vigil snapshot')
  if (h['version'] !== SNAPSHOT_VERSION) {
    throw invalid(
      `unsupported snapshot version ${JSON.stringify(h['version'])} (this vigil reads version ${SNAPSHOT_VERSION})`,
    )
  }
  const { id, datacenter, prefix, index, time } = h
  if (
    typeof id !== 'string' ||
    typeof datacenter !== 'string' ||
    datacenter === '' ||
    typeof prefix !== 'string' ||
    !isIndex(index) ||
    typeof time !== 'string'
  ) {
    throw invalid('the header lacks id, datacenter, prefix, index or time')
  }
  return { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, id, datacenter, prefix, index, time }
}

function parseSnapshot(raw: Buffer): Snapshot {
  // The end line is the last complete line; the digest covers everything before it.
  const text = raw.toString('utf8')
  const firstEnd = text.indexOf('\n')
  const header = parseHeader(firstEnd < 0 ? text : text.slice(0, firstEnd))
  const lastStart = text.lastIndexOf('\n', text.length - 2) + 1
  if (!text.endsWith('\n') || lastStart <= firstEnd)
    throw invalid('the snapshot is truncated (no end record)')
  const endRecord = parseLine(text.slice(lastStart, -1), 'the end record')
  const end = endRecord['end'] as { keys?: unknown; sha256?: unknown } | undefined
  if (typeof end !== 'object' || typeof end.sha256 !== 'string' || typeof end.keys !== 'number') {
    throw invalid('the snapshot is truncated (no end record)')
  }
  const body = raw.subarray(0, Buffer.byteLength(text.slice(0, lastStart), 'utf8'))
  const digest = createHash('sha256').update(body).digest('hex')
  if (digest !== end.sha256) {
    throw invalid('failed checking integrity of snapshot: SHA-256 mismatch')
  }
  const lines = text.slice(firstEnd + 1, lastStart - 1)
  const entries: SnapshotEntry[] = []
  let previous: string | undefined
  for (const line of lines === '' ? [] : lines.split('\n')) {
    const r = parseLine(line, `entry ${entries.length + 1}`)
    const { k, v, c, m, l } = r
    if (typeof k !== 'string' || k === '' || typeof v !== 'string' || !isIndex(c) || !isIndex(m)) {
      throw invalid(`entry ${entries.length + 1} lacks k, v, c or m`)
    }
    if (c > header.index || m > header.index || c > m) {
      throw invalid(`entry ${JSON.stringify(k)} has indexes above the snapshot's index ${header.index}`)
    }
    if (previous !== undefined && k <= previous)
      throw invalid(`entries are not sorted at ${JSON.stringify(k)}`)
    previous = k
    if (l !== undefined && !isIndex(l)) throw invalid(`entry ${JSON.stringify(k)} has an invalid lease TTL`)
    entries.push(
      l === undefined
        ? { key: k, value: v, createIndex: c, modifyIndex: m }
        : { key: k, value: v, createIndex: c, modifyIndex: m, leaseTtlMs: l },
    )
  }
  if (entries.length !== end.keys) {
    throw invalid(`the snapshot holds ${entries.length} keys, its end record says ${end.keys}`)
  }
  return { header, entries }
}
