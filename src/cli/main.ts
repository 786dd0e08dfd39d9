/**
 * The `vigil` command line: dispatches to subcommands (`vigil services register …` matches the
 * longest command name) and returns the exit code. `bin/vigil.js` calls `main`.
 */
import { agentCommand } from './agent-command.js'
import { catalogDatacentersCommand, catalogNodesCommand, catalogServicesCommand } from './catalog-command.js'
import { processIo, type CliIo, type Command } from './io.js'
import { checkExplainCommand } from './check-explain-command.js'
import { forceLeaveCommand, joinCommand, leaveCommand, syncStatusCommand } from './cluster-commands.js'
import {
  kvDeleteCommand,
  kvExportCommand,
  kvGetCommand,
  kvImportCommand,
  kvPutCommand,
} from './kv-command.js'
import { eventCommand } from './event-command.js'
import { lockCommand } from './lock-command.js'
import { membersCommand } from './members-command.js'
import { operatorRaftListPeersCommand } from './operator-command.js'
import { reloadCommand } from './reload-command.js'
import { servicesDeregisterCommand, servicesRegisterCommand } from './services-command.js'
import { snapshotInspectCommand, snapshotRestoreCommand, snapshotSaveCommand } from './snapshot-command.js'
import {
  sessionCreateCommand,
  sessionDeleteCommand,
  sessionListCommand,
  sessionReadCommand,
  sessionRenewCommand,
} from './session-command.js'
import { versionCommand } from './version-command.js'
import { watchCommand } from './watch-command.js'

/** Every subcommand by its (possibly multi-word) name. */
export const commands: Readonly<Record<string, Command>> = {
  agent: agentCommand,
  'catalog datacenters': catalogDatacentersCommand,
  'catalog nodes': catalogNodesCommand,
  'catalog services': catalogServicesCommand,
  'check explain': checkExplainCommand,
  'force-leave': forceLeaveCommand,
  join: joinCommand,
  leave: leaveCommand,
  event: eventCommand,
  'kv delete': kvDeleteCommand,
  'kv export': kvExportCommand,
  'kv get': kvGetCommand,
  'kv import': kvImportCommand,
  'kv put': kvPutCommand,
  lock: lockCommand,
  members: membersCommand,
  'operator raft list-peers': operatorRaftListPeersCommand,
  reload: reloadCommand,
  'services register': servicesRegisterCommand,
  'services deregister': servicesDeregisterCommand,
  'sync status': syncStatusCommand,
  'session create': sessionCreateCommand,
  'session delete': sessionDeleteCommand,
  'session list': sessionListCommand,
  'session read': sessionReadCommand,
  'session renew': sessionRenewCommand,
  'snapshot inspect': snapshotInspectCommand,
  'snapshot restore': snapshotRestoreCommand,
  'snapshot save': snapshotSaveCommand,
  version: versionCommand,
  watch: watchCommand,
}

/** Command groups that only have subcommands, with their synopsis. */
const groups: Readonly<Record<string, string>> = {
  catalog: 'Interact with the catalog',
  check: 'Inspect health checks',
  kv: 'Interact with the key-value store',
  operator: 'Provides cluster-level tools for operators',
  'operator raft': 'Provides tools for the servers sharing the store',
  services: 'Interact with services',
  sync: "Inspect the agent's anti-entropy",
  session: 'Interact with sessions',
  snapshot: 'Saves, restores and inspects snapshots of the catalog',
}

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const first = argv[0]
  if (first === undefined) {
    io.stderr.write(usage())
    return 1
  }
  if (first === '-h' || first === '-help' || first === '--help' || first === 'help') {
    io.stdout.write(usage())
    return 0
  }
  if (first === '-v' || first === '-version' || first === '--version') return versionCommand.run([], io)

  for (let n = Math.min(argv.length, 3); n >= 1; n--) {
    const name = argv.slice(0, n).join(' ')
    const command = commands[name]
    if (command !== undefined) return command.run(argv.slice(n), io)
  }
  const group = groups[first]
  if (group !== undefined) {
    const help = argv[1] === '-h' || argv[1] === '-help' || argv[1] === '--help'
    ;(help ? io.stdout : io.stderr).write(groupUsage(first, group))
    return help ? 0 : 1
  }
  io.stderr.write(usage())
  return 1
}

function usage(): string {
  const top = new Map<string, string>()
  for (const [name, cmd] of Object.entries(commands)) if (!name.includes(' ')) top.set(name, cmd.synopsis)
  for (const [name, synopsis] of Object.entries(groups)) top.set(name, synopsis)
  const names = [...top.keys()].sort()
  const width = Math.max(...names.map((n) => n.length)) + 4
  const lines = names.map((n) => `    ${n.padEnd(width)} ${top.get(n) ?? ''}`)
  return `Usage: vigil [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n${lines.join('\n')}\n`
}

function groupUsage(group: string, synopsis: string): string {
  const subs = Object.entries(commands)
    .filter(([name]) => name.startsWith(`${group} `))
    .map(([name, cmd]) => [name.slice(group.length + 1), cmd.synopsis] as const)
    .sort(([a], [b]) => a.localeCompare(b))
  const width = Math.max(...subs.map(([n]) => n.length)) + 4
  const lines = subs.map(([n, s]) => `    ${n.padEnd(width)} ${s}`)
  return `Usage: vigil ${group} <subcommand> [options] [args]\n\n  ${synopsis}.\n\nSubcommands:\n${lines.join('\n')}\n`
}
