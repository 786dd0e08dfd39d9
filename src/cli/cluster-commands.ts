/**
 * `vigil join`, `vigil leave`, `vigil force-leave` (cli.md §7, Consul's texts) and
 * `vigil sync status` (vigil's own: anti-entropy's state, hashicorp/consul#6119).
 */
import type { FlagSet } from '../config/flags.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import type { Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

const wanFlag = {
  name: 'wan',
  type: 'bool',
  usage: 'Joins a server to another server in the WAN pool.',
} as const

const joinFlags: FlagSet = {
  usageLine: 'vigil join [options] address ...',
  help: 'Tells a running agent to join the cluster by specifying at least one existing member.',
  groups: [httpApiFlags, { title: 'Command Options', flags: [wanFlag] }],
}

export const joinCommand: Command = {
  synopsis: 'Tell a running agent to join the cluster',
  run: (args, io) =>
    runWithFlags(joinFlags, args, io, async (flags) => {
      if (flags.args.length === 0) {
        io.stderr.write('At least one address to join must be specified.\n')
        return 1
      }
      const client = new ApiClient(clientSettings(flags, io.env))
      const query = flags.values.get('wan') === true ? '?wan=1' : ''
      let joins = 0
      for (const addr of flags.args) {
        try {
          await client.put(`/v1/agent/join/${encodeURIComponent(addr)}${query}`)
          joins++
        } catch (err) {
          io.stderr.write(`Error joining address '${addr}': ${describeError(err)}\n`)
        }
      }
      if (joins === 0) {
        io.stderr.write('Failed to join any nodes.\n')
        return 1
      }
      io.stdout.write(`Successfully joined cluster by contacting ${joins} nodes.\n`)
      return 0
    }),
}

const leaveFlags: FlagSet = {
  usageLine: 'vigil leave [options]',
  help: 'Causes the agent to gracefully leave the cluster and shut down.',
  groups: [httpApiFlags],
}

export const leaveCommand: Command = {
  synopsis: 'Gracefully leaves the cluster and shuts down',
  run: (args, io) =>
    runWithFlags(leaveFlags, args, io, async (flags) => {
      if (flags.args.length > 0) {
        io.stderr.write('This command takes no arguments\n')
        return 1
      }
      try {
        await new ApiClient(clientSettings(flags, io.env)).put('/v1/agent/leave')
      } catch (err) {
        io.stderr.write(`Error leaving: ${describeError(err)}\n`)
        return 1
      }
      io.stdout.write('Graceful leave complete\n')
      return 0
    }),
}

const forceLeaveFlags: FlagSet = {
  usageLine: 'vigil force-leave [options] name',
  help: 'Forces a member of the cluster to enter the "left" state. The true purpose of this\nmethod is to force remove "failed" nodes.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'prune',
          type: 'bool',
          usage: 'Remove agent forcibly from list of members',
        },
        wanFlag,
      ],
    },
  ],
}

export const forceLeaveCommand: Command = {
  synopsis: 'Forces a member of the cluster to enter the "left" state',
  run: (args, io) =>
    runWithFlags(forceLeaveFlags, args, io, async (flags) => {
      const [node] = flags.args
      if (node === undefined || flags.args.length > 1) {
        io.stderr.write('A single node name must be specified to force leave.\n')
        return 1
      }
      const query: string[] = []
      if (flags.values.get('prune') === true) query.push('prune=1')
      if (flags.values.get('wan') === true) query.push('wan=1')
      try {
        await new ApiClient(clientSettings(flags, io.env)).put(
          `/v1/agent/force-leave/${encodeURIComponent(node)}${query.length > 0 ? `?${query.join('&')}` : ''}`,
        )
      } catch (err) {
        io.stderr.write(`Error force leaving: ${describeError(err)}\n`)
        return 1
      }
      return 0
    }),
}

const syncFlags: FlagSet = {
  usageLine: 'vigil sync status [options]',
  help: "Shows the agent's anti-entropy state: whether its services, checks and node are in sync with\nthe catalog, what is pending and why, and the last error.",
  groups: [httpApiFlags],
}

/** `GET /v1/agent/sync` as returned (render-agent.ts renderSyncStatus). */
interface SyncWire {
  readonly Enabled: boolean
  readonly State?: string
  readonly InSync?: boolean
  readonly LastFullSync?: string | null
  readonly LastSync?: string | null
  readonly NextFullSync?: string | null
  readonly LastError?: string | null
  readonly LastErrorAt?: string | null
  readonly Pending?: Readonly<Record<string, string>>
  readonly Deferred?: Readonly<Record<string, string | null>>
}

const REASONS: Readonly<Record<string, string>> = {
  missing: 'not in the catalog yet',
  differs: 'differs from the catalog',
  output: 'output change held back by check_update_interval',
  'remote-only': 'in the catalog only; to be removed',
  node: 'node address, tagged addresses or meta differ',
}

export const syncStatusCommand: Command = {
  synopsis: "Shows the agent's anti-entropy state",
  run: (args, io) =>
    runWithFlags(syncFlags, args, io, async (flags) => {
      let s: SyncWire
      try {
        s = (await new ApiClient(clientSettings(flags, io.env)).getJson('/v1/agent/sync')) as SyncWire
      } catch (err) {
        io.stderr.write(`Error reading sync status: ${describeError(err)}\n`)
        return 1
      }
      if (!s.Enabled) {
        io.stdout.write('Anti-entropy: not running on this agent\n')
        return 0
      }
      const pending = Object.entries(s.Pending ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      const lines = [
        `State:          ${s.State ?? ''}${s.InSync === true ? ' (in sync)' : ''}`,
        `Last full sync: ${s.LastFullSync ?? 'never'}`,
        `Last sync:      ${s.LastSync ?? 'never'}`,
        `Next full sync: ${s.NextFullSync ?? '-'}`,
        `Last error:     ${s.LastError ?? 'none'}${s.LastError != null && s.LastErrorAt != null ? ` (at ${s.LastErrorAt})` : ''}`,
        `Pending:        ${pending.length === 0 ? 'nothing' : String(pending.length)}`,
        ...pending.map(([what, why]) => {
          const due = s.Deferred?.[what]
          return `    ${what}: ${REASONS[why] ?? why}${due != null ? ` (due ${due})` : ''}`
        }),
      ]
      io.stdout.write(`${lines.join('\n')}\n`)
      return 0
    }),
}
