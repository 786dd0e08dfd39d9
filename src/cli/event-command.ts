/**
 * `vigil event [options] [payload]` (cli.md §7): fires a user event through
 * `PUT /v1/event/fire/<name>` and prints `Event ID: <uuid>`.
 */
import type { FlagSet } from '../config/flags.js'
import { compileGoRegexp, RegexpError } from '../filter/index.js'
import { stringFlag } from './flag-values.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import type { Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

const flagSet: FlagSet = {
  usageLine: 'vigil event [options] [payload]',
  help: 'Dispatches a custom user event across a datacenter. An event must provide a name, but a payload is optional. Events support filtering using regular expressions on node name, service, and tag definitions.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        { name: 'name', type: 'string', placeholder: 'string', usage: 'Name of the event.' },
        {
          name: 'node',
          type: 'string',
          placeholder: 'string',
          usage: 'Regular expression to filter on node names.',
        },
        {
          name: 'service',
          type: 'string',
          placeholder: 'string',
          usage: 'Regular expression to filter on service instances.',
        },
        {
          name: 'tag',
          type: 'string',
          placeholder: 'string',
          usage: 'Regular expression to filter on service tags. Must be used with -service.',
        },
      ],
    },
  ],
}

export const eventCommand: Command = {
  synopsis: 'Fire a new event',
  run: (args, io) =>
    runWithFlags(flagSet, args, io, async (flags) => {
      const name = stringFlag(flags, 'name')
      const node = stringFlag(flags, 'node')
      const service = stringFlag(flags, 'service')
      const tag = stringFlag(flags, 'tag')
      if (name === '') {
        io.stderr.write('Event name must be specified\n')
        return 1
      }
      for (const [what, pattern] of [
        ['node', node],
        ['service', service],
        ['tag', tag],
      ] as const) {
        if (pattern === '') continue
        try {
          compileGoRegexp(pattern)
        } catch (err) {
          if (!(err instanceof RegexpError)) throw err
          io.stderr.write(`Failed to compile ${what} filter regexp: ${err.message}\n`)
          return 1
        }
      }
      if (tag !== '' && service === '') {
        io.stderr.write('Cannot provide tag filter without service filter.\n')
        return 1
      }
      if (flags.args.length > 1) {
        io.stderr.write('Too many command line arguments.\n')
        return 1
      }
      const payload = flags.args[0] ?? ''
      const query: Record<string, string> = {}
      if (node !== '') query['node'] = node
      if (service !== '') query['service'] = service
      if (tag !== '') query['tag'] = tag
      let id: string
      try {
        const api = new ApiClient(clientSettings(flags, io.env))
        await api.getJson('/v1/agent/self')
        const text = await api.request('PUT', `/v1/event/fire/${encodeURIComponent(name)}`, {
          query,
          ...(payload !== '' ? { rawBody: payload } : {}),
        })
        id = (JSON.parse(text) as { ID: string }).ID
      } catch (err) {
        io.stderr.write(`Error firing event: ${describeError(err)}\n`)
        return 1
      }
      io.stdout.write(`Event ID: ${id}\n`)
      return 0
    }),
}
