import type { FlagSet } from '../config/flags.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import type { Command } from './io.js'
import { describeError, runWithFlags } from './run.js'
import { formatTable } from './table.js'

const flagSet: FlagSet = {
  usageLine: 'vigil operator raft list-peers [options]',
  help:
    "Displays the servers sharing this datacenter's store and which one holds the leader tasks. vigil\n" +
    'servers keep no Raft log of their own (the store is etcd or the embedded store); the table has\n' +
    "Consul's shape: every server is a voter.",
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'stale',
          type: 'bool',
          usage:
            'Enables stale query mode: the configuration is read even when no server leads (during an outage).',
        },
      ],
    },
  ],
}

/** A server as `GET /v1/operator/raft/configuration` lists it. */
interface RaftServer {
  readonly ID: string
  readonly Node: string
  readonly Address: string
  readonly Leader: boolean
  readonly Voter: boolean
  readonly ProtocolVersion: string
}

/** `vigil operator raft list-peers` (Consul's command shape). */
export const operatorRaftListPeersCommand: Command = {
  synopsis: 'Display the current server configuration',
  run: (args, io) =>
    runWithFlags(flagSet, args, io, async (flags) => {
      if (flags.args.length > 0) {
        io.stderr.write('This command takes no arguments\n')
        return 1
      }
      let servers: readonly RaftServer[]
      try {
        const client = new ApiClient(clientSettings(flags, io.env))
        const query: Record<string, string> = flags.values.get('stale') === true ? { stale: '' } : {}
        const conf = (await client.getJson('/v1/operator/raft/configuration', query)) as {
          Servers: readonly RaftServer[]
        }
        servers = conf.Servers
      } catch (err) {
        io.stderr.write(`Error getting peers: ${describeError(err)}\n`)
        return 1
      }
      const table = [['Node', 'ID', 'Address', 'State', 'Voter', 'RaftProtocol']]
      for (const s of servers) {
        table.push([
          s.Node,
          s.ID,
          s.Address,
          s.Leader ? 'leader' : 'follower',
          String(s.Voter),
          s.ProtocolVersion,
        ])
      }
      io.stdout.write(formatTable(table))
      return 0
    }),
}
