/**
 * `vigil kv get|put|delete|export|import` (cli.md §7): the KV store through `/v1/kv`, with
 * `consul kv`'s flags, argument rules, output and error texts.
 */
import { readFile } from 'node:fs/promises'
import type { FlagDef, FlagSet, ParsedFlags } from '../config/flags.js'
import { errorMessage } from '../lib/errors.js'
import { stringFlag } from './flag-values.js'
import { ApiClient, ApiError, clientSettings, httpApiFlags } from './http-client.js'
import type { CliIo, Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

/** A KV entry as `/v1/kv` returns it (Value base64 or null). */
export interface DirEntry {
  readonly Key: string
  readonly CreateIndex: number
  readonly ModifyIndex: number
  readonly LockIndex: number
  readonly Flags: number
  readonly Value: string | null
  readonly Session?: string
}

const casFlag: FlagDef = {
  name: 'cas',
  type: 'bool',
  usage:
    'Perform a Check-And-Set operation. Specifying this value also requires the -modify-index flag to be set. The default value is false.',
}
const modifyIndexFlag: FlagDef = {
  name: 'modify-index',
  type: 'int',
  placeholder: 'int',
  usage:
    'Unsigned integer representing the ModifyIndex of the key. This is used in combination with the -cas flag.',
}

const getFlags: FlagSet = {
  usageLine: 'vigil kv get [options] [KEY_OR_PREFIX]',
  help: 'Retrieves the value from the key-value store at the given key name. If no key exists with that name, an error is returned. If a key exists with that name but has no data, nothing is returned. If the name or prefix is omitted, it defaults to "" which is the root of the key-value store.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        { name: 'base64', type: 'bool', usage: 'Base64 encode the value. The default value is false.' },
        {
          name: 'detailed',
          type: 'bool',
          usage:
            'Provide additional metadata about the key in addition to the value such as the ModifyIndex and any flags that may have been set on the key. The default value is false.',
        },
        {
          name: 'keys',
          type: 'bool',
          usage:
            'List keys which start with the given prefix, but not their values. This is especially useful if you only need the key names themselves. This option is commonly combined with the -separator option. The default value is false.',
        },
        {
          name: 'recurse',
          type: 'bool',
          usage: 'Recursively look at all keys prefixed with the given path. The default value is false.',
        },
        {
          name: 'separator',
          type: 'string',
          placeholder: 'string',
          usage:
            'String to use as a separator between keys. The default value is "/", but this option is only taken into account when paired with the -keys flag.',
        },
      ],
    },
  ],
}

const putFlags: FlagSet = {
  usageLine: 'vigil kv put [options] KEY [DATA]',
  help: 'Writes the data to the given path in the key-value store. DATA may be "@file" (read the file) or "-" (read stdin); without DATA the key is written empty.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'acquire',
          type: 'bool',
          usage:
            'Obtain a lock on the key. If the key does not exist, this operation will create the key and obtain the lock. The session must already exist and be specified via the -session flag. The default value is false.',
        },
        {
          name: 'base64',
          type: 'bool',
          usage: 'Treat the data as base 64 encoded. The default value is false.',
        },
        casFlag,
        {
          name: 'flags',
          type: 'int',
          placeholder: 'int',
          usage:
            'Unsigned integer value to assign to this key-value pair. This value is not read by Consul, so clients can use this value however makes sense for their use case. The default value is 0 (no flags).',
        },
        modifyIndexFlag,
        {
          name: 'release',
          type: 'bool',
          usage:
            'Forfeit the lock on the key at the given path. This requires the -session flag to be set. The key must be held by the session in order to be unlocked. The default value is false.',
        },
        {
          name: 'session',
          type: 'string',
          placeholder: 'string',
          usage:
            'User-defined identifer for this session as a string. This is commonly used with the -acquire and -release operations to build robust locking, but it can be set on any key. The default value is empty (no session).',
        },
      ],
    },
  ],
}

const deleteFlags: FlagSet = {
  usageLine: 'vigil kv delete [options] KEY_OR_PREFIX',
  help: 'Removes the value from the key-value store at the given path. If no key exists at the path, no action is taken.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        casFlag,
        modifyIndexFlag,
        {
          name: 'recurse',
          type: 'bool',
          usage: 'Recursively delete all keys with the path. The default value is false.',
        },
      ],
    },
  ],
}

const exportFlags: FlagSet = {
  usageLine: 'vigil kv export [options] [PREFIX]',
  help: 'Retrieves key-value pairs for the given prefix from the key-value store, and writes a JSON representation to stdout. This can be used with the command "vigil kv import" to move entire trees between datacenters.',
  groups: [httpApiFlags],
}

const importFlags: FlagSet = {
  usageLine: 'vigil kv import [options] [DATA]',
  help: 'Imports key-value pairs to the key-value store from the JSON representation generated by "vigil kv export". DATA may be the JSON itself, "@file" or "-" (stdin, also when DATA is omitted).',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'prefix',
          type: 'string',
          placeholder: 'string',
          usage: 'Key prefix for imported data. The default value is empty meaning root.',
        },
      ],
    },
  ],
}

/** Keys may not start with `/`; as Consul's CLI, strip one for the user. */
function keyArg(args: readonly string[], io: CliIo): string | undefined {
  if (args.length > 1) {
    io.stderr.write(`Too many arguments (expected 1, got ${args.length})\n`)
    return undefined
  }
  const key = args[0] ?? ''
  return key.startsWith('/') ? key.slice(1) : key
}

/** `/v1/kv/<key>` with each segment escaped as Go's api escapes a path. */
function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`
}

function decodeValue(entry: DirEntry): Buffer {
  return Buffer.from(entry.Value ?? '', 'base64')
}

function showValue(entry: DirEntry, base64: boolean): string {
  return base64 ? (entry.Value ?? '') : decodeValue(entry).toString('utf8')
}

/** Go's tabwriter(minwidth 0, tabwidth 2, padding 6): labels padded to the widest + 6. */
function detailed(entry: DirEntry, base64: boolean): string {
  const rows: [string, string][] = [
    ['CreateIndex', String(entry.CreateIndex)],
    ['Flags', String(entry.Flags)],
    ['Key', entry.Key],
    ['LockIndex', String(entry.LockIndex)],
    ['ModifyIndex', String(entry.ModifyIndex)],
    ['Session', entry.Session !== undefined && entry.Session !== '' ? entry.Session : '-'],
    ['Value', showValue(entry, base64)],
  ]
  const width = Math.max(...rows.map(([k]) => k.length)) + 6
  return rows.map(([k, v]) => `${k.padEnd(width)}${v}`).join('\n')
}

function client(flags: ParsedFlags, io: CliIo): ApiClient {
  return new ApiClient(clientSettings(flags, io.env))
}

async function readStdin(io: CliIo): Promise<Buffer> {
  const chunks: Buffer[] = []
  if (io.stdin !== undefined) {
    for await (const chunk of io.stdin)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk))
  }
  return Buffer.concat(chunks)
}

/** `consul kv put`'s DATA: literal, `@file`, `-` (stdin), or absent (empty). */
async function dataArg(data: string | undefined, io: CliIo): Promise<Buffer> {
  if (data === undefined || data === '') return Buffer.alloc(0)
  if (data.startsWith('@')) {
    try {
      return await readFile(data.slice(1))
    } catch (err) {
      throw new Error(`Failed to read file: ${errorMessage(err)}`, { cause: err })
    }
  }
  if (data === '-') {
    try {
      return await readStdin(io)
    } catch (err) {
      throw new Error(`Failed to read stdin: ${errorMessage(err)}`, { cause: err })
    }
  }
  return Buffer.from(data, 'utf8')
}

/** Go's StdEncoding: padded standard alphabet, nothing else. */
function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined
  return Buffer.from(text, 'base64')
}

export const kvGetCommand: Command = {
  synopsis: 'Retrieves or lists data from the KV store',
  run: (args, io) =>
    runWithFlags(getFlags, args, io, async (flags) => {
      const key = keyArg(flags.args, io)
      if (key === undefined) return 1
      const recurse = flags.values.get('recurse') === true
      const keys = flags.values.get('keys') === true
      const base64 = flags.values.get('base64') === true
      const isDetailed = flags.values.get('detailed') === true
      if (key === '' && !recurse && !keys) {
        io.stderr.write('Error! Missing KEY argument\n')
        return 1
      }
      try {
        const api = client(flags, io)
        if (keys) {
          const sep = flags.values.has('separator') ? stringFlag(flags, 'separator') : '/'
          const res = await api.send('GET', kvPath(key), { query: { keys: '', separator: sep } })
          if (res.status === 404) return 0
          if (res.status !== 200) throw new ApiError(res.status, res.text)
          for (const k of JSON.parse(res.text) as string[]) io.stdout.write(`${k}\n`)
          return 0
        }
        if (recurse) {
          const res = await api.send('GET', kvPath(key), { query: { recurse: '' } })
          if (res.status === 404) return 0
          if (res.status !== 200) throw new ApiError(res.status, res.text)
          const entries = JSON.parse(res.text) as DirEntry[]
          entries.forEach((e, i) => {
            if (isDetailed) io.stdout.write(`${detailed(e, base64)}\n${i < entries.length - 1 ? '\n' : ''}`)
            else io.stdout.write(`${e.Key}:${showValue(e, base64)}\n`)
          })
          return 0
        }
        const res = await api.send('GET', kvPath(key))
        if (res.status === 404) {
          io.stderr.write(`Error! No key exists at: ${key}\n`)
          return 1
        }
        if (res.status !== 200) throw new ApiError(res.status, res.text)
        const entry = (JSON.parse(res.text) as DirEntry[])[0]
        if (entry === undefined) {
          io.stderr.write(`Error! No key exists at: ${key}\n`)
          return 1
        }
        if (isDetailed) io.stdout.write(`${detailed(entry, base64)}\n`)
        else if (base64) io.stdout.write(`${entry.Value ?? ''}\n`)
        else io.stdout.write(`${decodeValue(entry).toString('utf8')}\n`)
        return 0
      } catch (err) {
        io.stderr.write(`Error querying Consul agent: ${describeError(err)}\n`)
        return 1
      }
    }),
}

export const kvPutCommand: Command = {
  synopsis: 'Sets or updates data in the KV store',
  run: (args, io) =>
    runWithFlags(putFlags, args, io, async (flags) => {
      const rest = flags.args
      if (rest.length === 0) {
        io.stderr.write('Error! Missing KEY argument\n')
        return 1
      }
      if (rest.length > 2) {
        io.stderr.write(`Error! Too many arguments (expected 1 or 2, got ${rest.length})\n`)
        return 1
      }
      const key = rest[0] ?? ''
      let data: Buffer
      try {
        data = await dataArg(rest[1], io)
      } catch (err) {
        io.stderr.write(`Error! ${errorMessage(err)}\n`)
        return 1
      }
      if (flags.values.get('base64') === true) {
        const decoded = decodeBase64Strict(data.toString('utf8'))
        if (decoded === undefined) {
          io.stderr.write('Error! Cannot base 64 decode data: illegal base64 data\n')
          return 1
        }
        data = decoded
      }
      const session = stringFlag(flags, 'session')
      const acquire = flags.values.get('acquire') === true
      const release = flags.values.get('release') === true
      const cas = flags.values.get('cas') === true
      const modifyIndex = Number(flags.values.get('modify-index') ?? 0)
      const kvFlags = Number(flags.values.get('flags') ?? 0)
      if (modifyIndex < 0 || kvFlags < 0) {
        io.stderr.write('Error! -flags and -modify-index take unsigned integers\n')
        return 1
      }
      if ((acquire || release) && session === '') {
        io.stderr.write('Error! Missing -session (required with -acquire and -release)\n')
        return 1
      }
      if (cas && modifyIndex === 0) {
        io.stderr.write('Must specify -modify-index with -cas!\n')
        return 1
      }
      const query: Record<string, string> = {}
      if (kvFlags !== 0) query['flags'] = String(kvFlags)
      if (cas) query['cas'] = String(modifyIndex)
      else if (acquire) query['acquire'] = session
      else if (release) query['release'] = session
      let ok: boolean
      try {
        const text = await client(flags, io).request('PUT', kvPath(key), { query, rawBody: data })
        ok = text.trim() === 'true'
      } catch (err) {
        if (cas) io.stderr.write(`Error! Did not write to ${key}: ${describeError(err)}\n`)
        else if (release) io.stderr.write(`Error! Failed writing data: ${key}\n`)
        else io.stderr.write(`Error! Failed writing data: ${describeError(err)}\n`)
        return 1
      }
      if (cas) {
        if (!ok) {
          io.stderr.write(`Error! Did not write to ${key}: CAS failed\n`)
          return 1
        }
      } else if (acquire) {
        if (!ok) {
          io.stderr.write('Error! Did not acquire lock\n')
          return 1
        }
        io.stdout.write(`Success! Lock acquired on: ${key}\n`)
        return 0
      } else if (release) {
        if (!ok) {
          io.stderr.write('Error! Did not release lock\n')
          return 1
        }
        io.stdout.write(`Success! Lock released on: ${key}\n`)
        return 0
      }
      io.stdout.write(`Success! Data written to: ${key}\n`)
      return 0
    }),
}

export const kvDeleteCommand: Command = {
  synopsis: 'Removes data from the KV store',
  run: (args, io) =>
    runWithFlags(deleteFlags, args, io, async (flags) => {
      const key = keyArg(flags.args, io)
      if (key === undefined) return 1
      const recurse = flags.values.get('recurse') === true
      const cas = flags.values.get('cas') === true
      const modifyIndex = Number(flags.values.get('modify-index') ?? 0)
      if (key === '' && !recurse) {
        io.stderr.write('Error! Missing KEY argument\n')
        return 1
      }
      if (cas && modifyIndex === 0) {
        io.stderr.write(
          'Cannot delete a key that does not exist. Provide a -modify-index greater than than 0.\n',
        )
        return 1
      }
      if (modifyIndex !== 0 && !cas) {
        io.stderr.write('Cannot specify -modify-index without -cas!\n')
        return 1
      }
      if (recurse && cas) {
        io.stderr.write('Cannot specify both -cas and -recurse!\n')
        return 1
      }
      const api = client(flags, io)
      if (recurse) {
        try {
          await api.request('DELETE', kvPath(key), { query: { recurse: '' } })
        } catch (err) {
          io.stderr.write(`Error! Did not delete prefix ${key}: ${describeError(err)}\n`)
          return 1
        }
        io.stdout.write(`Success! Deleted keys with prefix: ${key}\n`)
        return 0
      }
      if (cas) {
        let text: string
        try {
          text = await api.request('DELETE', kvPath(key), { query: { cas: String(modifyIndex) } })
        } catch (err) {
          io.stderr.write(`Error! Did not delete key ${key}: ${describeError(err)}\n`)
          return 1
        }
        if (text.trim() !== 'true') {
          io.stderr.write(`Error! Did not delete key ${key}: CAS failed\n`)
          return 1
        }
        io.stdout.write(`Success! Deleted key: ${key}\n`)
        return 0
      }
      try {
        await api.request('DELETE', kvPath(key))
      } catch (err) {
        io.stderr.write(`Error deleting key ${key}: ${describeError(err)}\n`)
        return 1
      }
      io.stdout.write(`Success! Deleted key: ${key}\n`)
      return 0
    }),
}

/** One exported entry, as `consul kv export` writes it. */
interface ExportedEntry {
  readonly key: string
  readonly flags: number
  readonly value: string
}

export const kvExportCommand: Command = {
  synopsis: 'Exports a tree from the KV store as JSON',
  run: (args, io) =>
    runWithFlags(exportFlags, args, io, async (flags) => {
      const key = keyArg(flags.args, io)
      if (key === undefined) return 1
      let entries: DirEntry[] = []
      try {
        const res = await client(flags, io).send('GET', kvPath(key), { query: { recurse: '' } })
        if (res.status === 200) entries = JSON.parse(res.text) as DirEntry[]
        else if (res.status !== 404) throw new ApiError(res.status, res.text)
      } catch (err) {
        io.stderr.write(`Error querying Consul agent: ${describeError(err)}\n`)
        return 1
      }
      const exported: ExportedEntry[] = entries.map((e) => ({
        key: e.Key,
        flags: e.Flags,
        value: e.Value ?? '',
      }))
      io.stdout.write(`${JSON.stringify(exported, null, '\t')}\n`)
      return 0
    }),
}

export const kvImportCommand: Command = {
  synopsis: 'Imports a tree stored as JSON to the KV store',
  run: (args, io) =>
    runWithFlags(importFlags, args, io, async (flags) => {
      if (flags.args.length > 1) {
        io.stderr.write(`Error! Too many arguments (expected 1, got ${flags.args.length})\n`)
        return 1
      }
      let data: string
      try {
        const arg = flags.args[0]
        data = (await dataArg(arg === undefined ? '-' : arg, io)).toString('utf8')
      } catch (err) {
        io.stderr.write(`Error! ${errorMessage(err)}\n`)
        return 1
      }
      let entries: unknown
      try {
        entries = JSON.parse(data)
      } catch (err) {
        io.stderr.write(`Cannot unmarshal data: ${errorMessage(err)}\n`)
        return 1
      }
      if (!Array.isArray(entries)) {
        io.stderr.write('Cannot unmarshal data: expected a JSON array of {"key","flags","value"}\n')
        return 1
      }
      const prefix = stringFlag(flags, 'prefix')
      const api = client(flags, io)
      for (const raw of entries as unknown[]) {
        const entry = raw as Partial<ExportedEntry> | null
        if (entry === null || typeof entry !== 'object' || typeof entry.key !== 'string') {
          io.stderr.write('Cannot unmarshal data: every entry needs a string "key"\n')
          return 1
        }
        const key = `${prefix}${entry.key}`
        const value = decodeBase64Strict(typeof entry.value === 'string' ? entry.value : '')
        if (value === undefined) {
          io.stderr.write(`Error base 64 decoding value for key ${entry.key}: illegal base64 data\n`)
          return 1
        }
        const kvFlags = typeof entry.flags === 'number' && entry.flags > 0 ? entry.flags : 0
        try {
          await api.request('PUT', kvPath(key), {
            query: kvFlags !== 0 ? { flags: String(kvFlags) } : {},
            rawBody: value,
          })
        } catch (err) {
          io.stderr.write(`Error! Failed writing data for key ${key}: ${describeError(err)}\n`)
          return 1
        }
        io.stdout.write(`Imported: ${key}\n`)
      }
      return 0
    }),
}
