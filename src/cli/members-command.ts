import type { FlagSet } from '../config/flags.js'
import { compileGoRegexp, RegexpError, type GoRegexp } from '../filter/index.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import type { Command } from './io.js'
import { describeError, runWithFlags } from './run.js'
import { formatTable } from './table.js'

const flagSet: FlagSet = {
  usageLine: 'vigil members [options]',
  help: 'Outputs the members of a running agent.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'detailed',
          type: 'bool',
          usage: 'Provides detailed information about nodes.',
        },
        {
          name: 'status',
          type: 'string',
          placeholder: 'string',
          usage: 'If provided, output is filtered to only nodes matching the regular expression for status.',
        },
        {
          name: 'wan',
          type: 'bool',
          usage: 'If this is true, the members of the WAN pool are shown instead of the LAN pool.',
        },
        {
          name: 'segment',
          type: 'string',
          placeholder: 'string',
          usage: '(Enterprise-only) If provided, output is filtered to only nodes in the given segment.',
        },
      ],
    },
  ],
}

/** A member as `GET /v1/agent/members` returns it (http-api.md §14). */
interface Member {
  readonly Name: string
  readonly Addr: string
  readonly Port: number
  readonly Tags: Readonly<Record<string, string>> | null
  readonly Status: number
}

const STATUS = ['none', 'alive', 'leaving', 'left', 'failed'] as const

/** `vigil members`: the agent's view of the cluster (cli.md §7). */
export const membersCommand: Command = {
  synopsis: 'Lists the members of a cluster',
  run: (args, io) =>
    runWithFlags(flagSet, args, io, async (flags) => {
      if (flags.args.length > 0) {
        io.stderr.write(`This command takes no arguments\n`)
        return 1
      }
      let statusRe: GoRegexp
      try {
        statusRe = compileGoRegexp(String(flags.values.get('status') ?? '.*'))
      } catch (err) {
        if (!(err instanceof RegexpError)) throw err
        io.stderr.write(`Failed to compile status regexp: ${err.message}\n`)
        return 1
      }
      const wan = flags.values.get('wan') === true
      const segment = flags.values.get('segment')
      const query: Record<string, string> = wan
        ? { wan: '1' }
        : { segment: typeof segment === 'string' ? segment : '_all' }
      let members: Member[]
      try {
        const client = new ApiClient(clientSettings(flags, io.env))
        members = (await client.getJson('/v1/agent/members', query)) as Member[]
      } catch (err) {
        io.stderr.write(`Error retrieving members: ${describeError(err)}\n`)
        return 1
      }
      const rows = members
        .map((m) => ({ m, status: STATUS[m.Status] ?? String(m.Status), tags: m.Tags ?? {} }))
        .filter((r) => statusRe.test(r.status))
        .sort((a, b) => {
          const sa = a.tags['role'] === 'consul' ? 0 : 1
          const sb = b.tags['role'] === 'consul' ? 0 : 1
          return sa - sb || a.m.Name.localeCompare(b.m.Name)
        })
      if (rows.length === 0) return 2
      const address = (m: Member): string =>
        m.Addr.includes(':') ? `[${m.Addr}]:${m.Port}` : `${m.Addr}:${m.Port}`
      if (flags.values.get('detailed') === true) {
        const table = [['Node', 'Address', 'Status', 'Tags']]
        for (const { m, status, tags } of rows) {
          const pairs = Object.keys(tags)
            .sort()
            .map((k) => `${k}=${tags[k] ?? ''}`)
          table.push([m.Name, address(m), status, pairs.join(',')])
        }
        io.stdout.write(formatTable(table))
        return 0
      }
      const table = [['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC', 'Partition', 'Segment']]
      for (const { m, status, tags } of rows) {
        const server = tags['role'] === 'consul'
        table.push([
          m.Name,
          address(m),
          status,
          server ? 'server' : 'client',
          (tags['build'] ?? '').split(':')[0] ?? '',
          tags['vsn'] ?? '',
          tags['dc'] ?? '',
          'default',
          server ? '<all>' : tags['segment'] || '<default>',
        ])
      }
      io.stdout.write(formatTable(table))
      return 0
    }),
}
