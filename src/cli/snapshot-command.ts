/**
 * `vigil snapshot save|restore|inspect` (docs/snapshot.md), in `consul snapshot`'s shape: save
 * through `GET /v1/snapshot` to `FILE.unverified`, verify, rename; restore through
 * `PUT /v1/snapshot`; inspect a file offline. `restore` also writes offline into an empty
 * embedded data dir (`-data-dir`) or etcd prefix (`-store etcd`), which is how a datacenter moves
 * between stores with indexes that never go backwards.
 */
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { SnapshotInvalidError } from '../catalog/errors.js'
import { embeddedState, restoreIntoEtcd } from '../catalog/snapshot.js'
import { decodeSnapshot, type Snapshot } from '../catalog/snapshot-format.js'
import type { FlagSet, ParsedFlags } from '../config/flags.js'
import { errorMessage } from '../lib/errors.js'
import { catalogDataDir, catalogPrefix } from '../roles/server.js'
import { createEmbeddedStore } from '../store/embedded.js'
import { stringFlag } from './flag-values.js'
import { ApiClient, ApiError, clientSettings, httpApiFlags } from './http-client.js'
import type { CliIo, Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

const saveFlags: FlagSet = {
  usageLine: 'vigil snapshot save [options] FILE',
  help:
    "Retrieves an atomic, point-in-time snapshot of the datacenter's catalog (nodes, services, checks, key/value entries, sessions) from a server and saves it to FILE, after verifying it. " +
    "The file is vigil's own format (Consul's snapshots cannot be restored into vigil, nor vigil's into Consul). To create a potentially stale snapshot from any server: vigil snapshot save -stale backup.snap",
  groups: [httpApiFlags],
}

const restoreFlags: FlagSet = {
  usageLine: 'vigil snapshot restore [options] FILE',
  help:
    "Restores a snapshot taken by vigil snapshot save. Without -data-dir or -store it is sent to a running server (PUT /v1/snapshot), which replaces its catalog in one transaction; that server's index must already be at or above the snapshot's. " +
    'With -data-dir or -store etcd it is written offline into an empty target that a server is then started on: the way to move a datacenter between the embedded store and etcd with indexes that never go backwards. Stop the servers of the target first.',
  groups: [
    httpApiFlags,
    {
      title: 'Offline Restore Options',
      flags: [
        {
          name: 'data-dir',
          type: 'string',
          placeholder: 'path',
          usage:
            "Write the snapshot into the catalog of this agent data dir (<path>/catalog, the embedded store) instead of sending it to a server. The data dir must hold no catalog yet. Start the server with this -data-dir and the snapshot's datacenter.",
        },
        {
          name: 'store',
          type: 'string',
          placeholder: 'embedded|etcd',
          usage:
            "'etcd': write the snapshot into an etcd prefix (-etcd-endpoints, -etcd-prefix) instead of sending it to a server; 'embedded' (needs -data-dir): the same as -data-dir alone.",
        },
        {
          name: 'etcd-endpoints',
          type: 'string',
          placeholder: 'urls',
          usage: 'Comma-separated etcd client URLs, for -store etcd.',
        },
        {
          name: 'etcd-prefix',
          type: 'string',
          placeholder: 'prefix',
          usage:
            "Key prefix of the datacenter's catalog in etcd; it must hold no keys. Defaults to /vigil/<datacenter of the snapshot>.",
        },
        {
          name: 'etcd-ca-file',
          type: 'string',
          placeholder: 'path',
          usage: 'Path to a PEM CA certificate that verifies the etcd servers (enables TLS to etcd).',
        },
        {
          name: 'etcd-cert-file',
          type: 'string',
          placeholder: 'path',
          usage: 'Path to a PEM client certificate presented to etcd.',
        },
        {
          name: 'etcd-key-file',
          type: 'string',
          placeholder: 'path',
          usage: 'Path to the PEM key of -etcd-cert-file.',
        },
      ],
    },
  ],
}

const inspectFlags: FlagSet = {
  usageLine: 'vigil snapshot inspect [options] FILE',
  help: 'Verifies a snapshot file taken by vigil snapshot save and displays its ID, size, index, datacenter, time and format version, and the count and size of its rows per table.',
  groups: [],
}

/** FILE: exactly one argument, Consul's texts otherwise; undefined after printing the error. */
function fileArg(flags: ParsedFlags, io: CliIo): string | undefined {
  if (flags.args.length === 0) {
    io.stderr.write('Missing FILE argument\n')
    return undefined
  }
  if (flags.args.length > 1) {
    io.stderr.write(`Too many arguments (expected 1, got ${flags.args.length})\n`)
    return undefined
  }
  return flags.args[0]
}

export const snapshotSaveCommand: Command = {
  synopsis: 'Saves snapshot of the catalog',
  run: (args, io) =>
    runWithFlags(saveFlags, args, io, async (flags) => {
      const file = fileArg(flags, io)
      if (file === undefined) return 1
      let bytes: Buffer
      let index: string
      try {
        const api = new ApiClient(clientSettings(flags, io.env))
        const res = await api.sendForBytes('GET', '/v1/snapshot')
        if (res.status !== 200) throw new ApiError(res.status, res.bytes.toString('utf8'))
        bytes = res.bytes
        index = res.headers.get('x-consul-index') ?? '0'
      } catch (err) {
        io.stderr.write(`Error saving snapshot: ${describeError(err)}\n`)
        return 1
      }
      const unverified = `${file}.unverified`
      try {
        await writeFile(unverified, bytes, { mode: 0o600, flush: true })
      } catch (err) {
        io.stderr.write(`Error writing unverified snapshot file: ${errorMessage(err)}\n`)
        return 1
      }
      try {
        try {
          await decodeSnapshot(await readFile(unverified))
        } catch (err) {
          io.stderr.write(`Error verifying snapshot file: ${errorMessage(err)}\n`)
          return 1
        }
        try {
          await rename(unverified, file)
        } catch (err) {
          io.stderr.write(
            `Error renaming ${JSON.stringify(unverified)} to ${JSON.stringify(file)}: ${errorMessage(err)}\n`,
          )
          return 1
        }
      } finally {
        await rm(unverified, { force: true })
      }
      io.stdout.write(`Saved and verified snapshot to index ${index}\n`)
      return 0
    }),
}

export const snapshotRestoreCommand: Command = {
  synopsis: 'Restores snapshot of the catalog',
  run: (args, io) =>
    runWithFlags(restoreFlags, args, io, async (flags) => {
      const file = fileArg(flags, io)
      if (file === undefined) return 1
      const dataDir = stringFlag(flags, 'data-dir')
      const store = stringFlag(flags, 'store')
      if (store !== '' && store !== 'embedded' && store !== 'etcd') {
        io.stderr.write(`Invalid -store ${JSON.stringify(store)}: must be 'embedded' or 'etcd'\n`)
        return 1
      }
      if (store === 'etcd' && dataDir !== '') {
        io.stderr.write('-data-dir and -store etcd cannot be used together\n')
        return 1
      }
      if (store === 'embedded' && dataDir === '') {
        io.stderr.write('-store embedded needs -data-dir\n')
        return 1
      }
      let bytes: Buffer
      try {
        bytes = await readFile(file)
      } catch (err) {
        io.stderr.write(`Error opening snapshot file: ${errorMessage(err)}\n`)
        return 1
      }
      if (store === 'etcd') return restoreEtcd(flags, bytes, io)
      if (dataDir !== '') return restoreDataDir(dataDir, bytes, io)
      try {
        const api = new ApiClient(clientSettings(flags, io.env))
        await api.request('PUT', '/v1/snapshot', { rawBody: bytes })
      } catch (err) {
        io.stderr.write(`Error restoring snapshot: ${describeError(err)}\n`)
        return 1
      }
      io.stdout.write('Restored snapshot\n')
      return 0
    }),
}

/** Decodes for an offline restore; prints the error and returns undefined when invalid. */
async function verified(bytes: Buffer, io: CliIo): Promise<Snapshot | undefined> {
  try {
    return await decodeSnapshot(bytes)
  } catch (err) {
    if (!(err instanceof SnapshotInvalidError)) throw err
    io.stderr.write(`Error restoring snapshot: ${err.message}\n`)
    return undefined
  }
}

async function restoreDataDir(dataDir: string, bytes: Buffer, io: CliIo): Promise<number> {
  const snap = await verified(bytes, io)
  if (snap === undefined) return 1
  // Where a server started with this data dir and the snapshot's datacenter reads its catalog.
  const dir = catalogDataDir(dataDir)
  try {
    await createEmbeddedStore(dir, embeddedState(snap, catalogPrefix(snap.header.datacenter)))
  } catch (err) {
    io.stderr.write(`Error restoring snapshot: ${errorMessage(err)}\n`)
    return 1
  }
  io.stdout.write(
    `Restored snapshot to ${dir}: ${snap.entries.length} keys of datacenter ${snap.header.datacenter}, ` +
      `indexes as of index ${snap.header.index}\n`,
  )
  return 0
}

async function restoreEtcd(flags: ParsedFlags, bytes: Buffer, io: CliIo): Promise<number> {
  const endpoints = stringFlag(flags, 'etcd-endpoints')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
  if (endpoints.length === 0) {
    io.stderr.write('-store etcd needs -etcd-endpoints\n')
    return 1
  }
  const snap = await verified(bytes, io)
  if (snap === undefined) return 1
  const prefix = stringFlag(flags, 'etcd-prefix') || `/vigil/${snap.header.datacenter}`
  const optional = (name: string): string | undefined => stringFlag(flags, name) || undefined
  const caFile = optional('etcd-ca-file')
  const certFile = optional('etcd-cert-file')
  const keyFile = optional('etcd-key-file')
  try {
    const done = await restoreIntoEtcd(snap, {
      endpoints,
      prefix,
      ...(caFile === undefined ? {} : { caFile }),
      ...(certFile === undefined ? {} : { certFile }),
      ...(keyFile === undefined ? {} : { keyFile }),
    })
    io.stdout.write(
      `Restored snapshot to etcd prefix ${prefix}: ${done.keys} keys of datacenter ${snap.header.datacenter}, ` +
        `written at indexes ${done.firstRevision}–${done.lastRevision} (above the snapshot's ${snap.header.index})\n`,
    )
    return 0
  } catch (err) {
    io.stderr.write(`Error restoring snapshot: ${errorMessage(err)}\n`)
    return 1
  }
}

export const snapshotInspectCommand: Command = {
  synopsis: 'Displays information about a snapshot file',
  run: (args, io) =>
    runWithFlags(inspectFlags, args, io, async (flags) => {
      const file = fileArg(flags, io)
      if (file === undefined) return 1
      let bytes: Buffer
      try {
        bytes = await readFile(file)
      } catch (err) {
        io.stderr.write(`Error opening snapshot file: ${errorMessage(err)}\n`)
        return 1
      }
      let snap: Snapshot
      try {
        snap = await decodeSnapshot(bytes)
      } catch (err) {
        io.stderr.write(`Error verifying snapshot: ${errorMessage(err)}\n`)
        return 1
      }
      const size = (await stat(file)).size
      io.stdout.write(`${formatInspect(snap, size)}\n`)
      return 0
    }),
}

/** The row kinds of inspect's table, by the key's first segment. */
const TABLE_NAMES: Readonly<Record<string, string>> = {
  nodes: 'Node',
  services: 'Service',
  checks: 'Check',
  kv: 'KVS',
  tomb: 'Tombstone',
  sessions: 'Session',
  'session-ttl': 'SessionTTL',
  lockdelay: 'LockDelay',
  idx: 'Index',
}

/** Consul's inspect output (text/tabwriter: min width 8, padding 6), with vigil's header fields. */
export function formatInspect(snap: Snapshot, fileSize: number): string {
  const h = snap.header
  const head = tabulate([
    [' ID', h.id],
    [' Size', String(fileSize)],
    [' Index', String(h.index)],
    [' Datacenter', h.datacenter],
    [' Time', h.time],
    [' Version', String(h.version)],
  ])
  const stats = new Map<string, { count: number; size: number }>()
  let total = 0
  for (const e of snap.entries) {
    const table = e.key.slice(0, Math.max(0, e.key.indexOf('/')))
    const name = TABLE_NAMES[table] ?? table
    const s = stats.get(name) ?? { count: 0, size: 0 }
    const size = Buffer.byteLength(e.key) + Buffer.byteLength(e.value)
    s.count++
    s.size += size
    total += size
    stats.set(name, s)
  }
  const rows = [...stats].sort(([a, x], [b, y]) => y.size - x.size || (a < b ? -1 : 1))
  const dashes = [' ----', '----', '----', '']
  const table = tabulate([
    [' Type', 'Count', 'Size', ''],
    dashes,
    ...rows.map(([name, s]) => [` ${name}`, String(s.count), formatByteSize(s.size), '']),
    dashes,
    [' Total', '', formatByteSize(total), ''],
  ])
  return `${head}\n\n${table}`
}

/**
 * Go's text/tabwriter as Consul's inspect configures it: every cell but a line's last is padded
 * to its column's widest cell + 6, at least 8.
 */
function tabulate(rows: readonly (readonly string[])[]): string {
  const widths: number[] = []
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 8, cell.length + 6)
    })
  }
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 8))).join(''))
    .join('\n')
}

/** Consul's ByteSize: `0`, `512B`, `1.7KB`, `3MB`. */
export function formatByteSize(bytes: number): string {
  if (bytes === 0) return '0'
  const units: readonly (readonly [number, string])[] = [
    [2 ** 40, 'TB'],
    [2 ** 30, 'GB'],
    [2 ** 20, 'MB'],
    [2 ** 10, 'KB'],
  ]
  for (const [size, unit] of units) {
    if (bytes >= size) return `${(bytes / size).toFixed(1).replace(/\.0$/, '')}${unit}`
  }
  return `${bytes}B`
}
