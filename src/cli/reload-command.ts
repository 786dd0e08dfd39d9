import type { FlagSet } from '../config/flags.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import type { Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

const flagSet: FlagSet = {
  usageLine: 'vigil reload [options]',
  help: 'Causes the agent to reload its configuration files: services and checks added, changed or removed in them are applied.',
  groups: [httpApiFlags],
}

/** `vigil reload` (cli.md §7): `PUT /v1/agent/reload`. */
export const reloadCommand: Command = {
  synopsis: 'Triggers the agent to reload configuration files',
  run: (args, io) =>
    runWithFlags(flagSet, args, io, async (flags) => {
      try {
        await new ApiClient(clientSettings(flags, io.env)).put('/v1/agent/reload')
      } catch (err) {
        io.stderr.write(`Error reloading: ${describeError(err)}\n`)
        return 1
      }
      io.stdout.write('Configuration reload triggered\n')
      return 0
    }),
}
