import type { FlagSet, ParsedFlags } from '../config/flags.js'
import { loadServiceDefinitions } from '../config/load.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import { pairs, stringFlag } from './flag-values.js'
import type { CliIo, Command } from './io.js'
import { describeError, runWithFlags } from './run.js'
import { toServiceRegistrationBody } from './service-body.js'

const registerFlags: FlagSet = {
  usageLine: 'vigil services register [options] [FILE...]',
  help:
    'Register one or more services using the local agent API. Services can\n' +
    'be registered from standard Consul configuration files (HCL or JSON) or\n' +
    'using flags. The service is registered and the command returns. The caller\n' +
    'must remember to call "vigil services deregister" or a similar API to\n' +
    'deregister the service when complete.\n\n' +
    '    $ vigil services register web.json\n\n' +
    'Additional flags and more advanced use cases are detailed below.',
  groups: [
    httpApiFlags,
    {
      title: 'Service Options',
      flags: [
        {
          name: 'id',
          type: 'string',
          placeholder: 'id',
          usage:
            "ID of the service to register for arg-based registration. If this isn't set, it will default to the -name value.",
        },
        {
          name: 'name',
          type: 'string',
          placeholder: 'name',
          usage: 'Name of the service to register for arg-based registration.',
        },
        {
          name: 'address',
          type: 'string',
          placeholder: 'addr',
          usage: 'Address of the service to register for arg-based registration.',
        },
        {
          name: 'port',
          type: 'int',
          placeholder: 'port',
          usage: 'Port of the service to register for arg-based registration.',
        },
        {
          name: 'socket',
          type: 'string',
          placeholder: 'path',
          usage:
            'Path to the Unix domain socket to register for arg-based registration (conflicts with address and port).',
        },
        { name: 'kind', type: 'string', placeholder: 'kind', usage: "The services 'kind'" },
        {
          name: 'tag',
          type: 'list',
          placeholder: 'value',
          usage: 'Tag to add to the service. This flag can be specified multiple times to set multiple tags.',
        },
        {
          name: 'meta',
          type: 'list',
          placeholder: 'key=value',
          usage:
            'Metadata to set on the service, formatted as key=value. This flag may be specified multiple times to set multiple meta fields.',
        },
        {
          name: 'tagged-address',
          type: 'list',
          placeholder: 'key=value',
          usage:
            'Tagged address to set on the service, formatted as key=value. This flag may be specified multiple times to set multiple addresses.',
        },
      ],
    },
  ],
}

const deregisterFlags: FlagSet = {
  usageLine: 'vigil services deregister [options] [FILE...]',
  help:
    'Deregister one or more services that were previously registered with\n' +
    'the local agent.\n\n' +
    '    $ vigil services deregister web.json\n\n' +
    'The -id flag may be used to deregister a single service by ID:\n\n' +
    '    $ vigil services deregister -id=web',
  groups: [
    httpApiFlags,
    {
      title: 'Service Options',
      flags: [{ name: 'id', type: 'string', placeholder: 'id', usage: 'ID to deregister service.' }],
    },
  ],
}

/** `vigil services register`: flags or definition files → `PUT /v1/agent/service/register`. */
export const servicesRegisterCommand: Command = {
  synopsis: 'Register services with the local agent',
  run: (args, io) =>
    runWithFlags(registerFlags, args, io, async (flags) => {
      const name = stringFlag(flags, 'name')
      let bodies: Record<string, unknown>[]
      if (flags.args.length === 0) {
        if (name === '') {
          io.stderr.write('Service registration requires at least one argument or flags.\n')
          return 1
        }
        const fromFlags = bodyFromFlags(flags, io)
        if (fromFlags === undefined) return 1
        bodies = [fromFlags]
      } else {
        if (name !== '') {
          io.stderr.write('Service registration requires arguments or -id, not both.\n')
          return 1
        }
        const fromFiles = bodiesFromFiles(flags.args, io)
        if (fromFiles === undefined) return 1
        bodies = fromFiles
      }
      const client = connect(flags, io)
      if (client === undefined) return 1
      for (const body of bodies) {
        const svcName = typeof body['Name'] === 'string' ? body['Name'] : ''
        try {
          await client.put('/v1/agent/service/register', body)
        } catch (err) {
          io.stderr.write(`Error registering service ${JSON.stringify(svcName)}: ${describeError(err)}\n`)
          return 1
        }
        io.stdout.write(`Registered service: ${svcName}\n`)
      }
      return 0
    }),
}

/** `vigil services deregister`: `-id` or definition files → `PUT /v1/agent/service/deregister/<id>`. */
export const servicesDeregisterCommand: Command = {
  synopsis: 'Deregister services with the local agent',
  run: (args, io) =>
    runWithFlags(deregisterFlags, args, io, async (flags) => {
      const flagId = stringFlag(flags, 'id')
      if (flags.args.length === 0 && flagId === '') {
        io.stderr.write('Service deregistration requires at least one argument or -id.\n')
        return 1
      }
      if (flags.args.length > 0 && flagId !== '') {
        io.stderr.write('Service deregistration requires arguments or -id, not both.\n')
        return 1
      }
      let ids: string[] = [flagId]
      if (flags.args.length > 0) {
        const fromFiles = bodiesFromFiles(flags.args, io)
        if (fromFiles === undefined) return 1
        ids = fromFiles.map((body) => {
          const id = typeof body['ID'] === 'string' ? body['ID'] : ''
          return id !== '' ? id : typeof body['Name'] === 'string' ? body['Name'] : ''
        })
      }
      const client = connect(flags, io)
      if (client === undefined) return 1
      for (const id of ids) {
        if (id === '') continue
        try {
          await client.put(`/v1/agent/service/deregister/${encodeURIComponent(id)}`)
        } catch (err) {
          io.stderr.write(`Error deregistering service ${JSON.stringify(id)}: ${describeError(err)}\n`)
          return 1
        }
        io.stdout.write(`Deregistered service: ${id}\n`)
      }
      return 0
    }),
}

/** The registration bodies of the service definition files `paths`, or undefined after writing the error. */
function bodiesFromFiles(paths: readonly string[], io: CliIo): Record<string, unknown>[] | undefined {
  try {
    return loadServiceDefinitions(paths).map((d) => toServiceRegistrationBody(d.definition))
  } catch (err) {
    io.stderr.write(`Error: ${describeError(err)}\n`)
    return undefined
  }
}

/** The API client `flags` and the environment select, or undefined after writing the error. */
function connect(flags: ParsedFlags, io: CliIo): ApiClient | undefined {
  try {
    return new ApiClient(clientSettings(flags, io.env))
  } catch (err) {
    io.stderr.write(`Error connecting to Consul agent: ${describeError(err)}\n`)
    return undefined
  }
}

function bodyFromFlags(flags: ParsedFlags, io: CliIo): Record<string, unknown> | undefined {
  const body: Record<string, unknown> = { Name: stringFlag(flags, 'name') }
  const id = stringFlag(flags, 'id')
  if (id !== '') body['ID'] = id
  const kind = stringFlag(flags, 'kind')
  if (kind !== '') body['Kind'] = kind
  const address = stringFlag(flags, 'address')
  if (address !== '') body['Address'] = address
  const port = flags.values.get('port')
  if (typeof port === 'number' && port !== 0) body['Port'] = port
  const socket = stringFlag(flags, 'socket')
  if (socket !== '') body['SocketPath'] = socket
  const tags = flags.values.get('tag')
  if (Array.isArray(tags) && tags.length > 0) body['Tags'] = tags
  const meta = pairs(flags.values.get('meta'), '-meta', io)
  if (meta === undefined) return undefined
  if (Object.keys(meta).length > 0) body['Meta'] = meta
  const tagged = pairs(flags.values.get('tagged-address'), '-tagged-address', io)
  if (tagged === undefined) return undefined
  if (Object.keys(tagged).length > 0) {
    const addrs: Record<string, { Address: string; Port: number }> = {}
    for (const [k, v] of Object.entries(tagged)) {
      const m = /^(.*):(\d+)$/.exec(v)
      addrs[k] = m === null ? { Address: v, Port: 0 } : { Address: m[1] ?? '', Port: Number(m[2]) }
    }
    body['TaggedAddresses'] = addrs
  }
  return body
}
