/**
 * `vigil session create|delete|list|read|renew` (Consul's `consul session` commands): the
 * session endpoints, printed in Consul's `pretty` or `json` format.
 */
import type { FlagDef, FlagSet, ParsedFlags } from '../config/flags.js'
import { formatGoDurationNs } from '../lib/duration.js'
import { stringFlag } from './flag-values.js'
import { ApiClient, ApiError, clientSettings, httpApiFlags } from './http-client.js'
import type { CliIo, Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

/** A session as `/v1/session/*` returns it. */
interface SessionEntry {
  readonly ID: string
  readonly Name: string
  readonly Node: string
  readonly LockDelay: number
  readonly Behavior: string
  readonly TTL: string
  readonly NodeChecks: readonly string[] | null
  readonly ServiceChecks: readonly { ID: string; Namespace?: string }[] | null
}

const formatFlag: FlagDef = {
  name: 'format',
  type: 'string',
  placeholder: 'string',
  usage: 'Output format {pretty|json}.',
}

const idSet = (verb: string, help: string, extra: FlagDef[] = []): FlagSet => ({
  usageLine: `vigil session ${verb} [options] SESSIONID`,
  help,
  groups: [httpApiFlags, ...(extra.length > 0 ? [{ title: 'Command Options', flags: extra }] : [])],
})

const createSet: FlagSet = {
  usageLine: 'vigil session create [options]',
  help: 'This endpoint initializes a new session. Sessions must be associated with a node and may be associated with any number of checks.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'behavior',
          type: 'string',
          placeholder: 'string',
          usage: 'Controls the behavior to take when a session is invalidated.',
        },
        {
          name: 'lock-delay',
          type: 'string',
          placeholder: 'string',
          usage: 'Specifies the duration for the lock delay.',
        },
        {
          name: 'name',
          type: 'string',
          placeholder: 'string',
          usage: 'Specifies a human-readable name for the session.',
        },
        { name: 'node', type: 'string', placeholder: 'string', usage: 'Specifies the name of the node.' },
        {
          name: 'node-check',
          type: 'list',
          placeholder: 'string',
          usage:
            'Specifies a node health check ID. May be specified multiple times. It is highly recommended that, if you override this list, you include the default `serfHealth`.',
        },
        {
          name: 'service-check',
          type: 'list',
          placeholder: 'string',
          usage:
            'Specifies a service check. May be specified multiple times. Format is the SERVICECHECKID or SERVICECHECKID:NAMESPACE.',
        },
        {
          name: 'ttl',
          type: 'string',
          placeholder: 'string',
          usage: 'Specifies the duration of a session (between 10s and 86400s).',
        },
      ],
    },
  ],
}

const listSet: FlagSet = {
  usageLine: 'vigil session list [options]',
  help: 'List all the active sessions.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        formatFlag,
        {
          name: 'node',
          type: 'string',
          placeholder: 'string',
          usage: 'List the active sessions for a given node.',
        },
      ],
    },
  ],
}

function pretty(s: SessionEntry): string {
  let out = `ID:          ${s.ID}\n`
  if (s.Name !== '') out += `Name:        ${s.Name}\n`
  out += `Node:        ${s.Node}\n`
  out += `LockDelay:   ${formatGoDurationNs(s.LockDelay)}\n`
  out += `Behavior:    ${s.Behavior}\n`
  if (s.TTL !== '') out += `TTL:         ${s.TTL}\n`
  if (s.NodeChecks !== null && s.NodeChecks.length > 0) out += `Node Checks: ${s.NodeChecks.join(', ')}\n`
  if (s.ServiceChecks !== null && s.ServiceChecks.length > 0) {
    out += 'Service Checks:\n'
    for (const sc of s.ServiceChecks) {
      out += `  - ID: ${sc.ID}\n`
      if (sc.Namespace !== undefined && sc.Namespace !== '') out += `    Namespace: ${sc.Namespace}\n`
    }
  }
  return out
}

/** Checks `-format`; prints Consul's complaint and returns undefined when unknown. */
function formatOf(flags: ParsedFlags, io: CliIo): 'pretty' | 'json' | undefined {
  const format = flags.values.has('format') ? stringFlag(flags, 'format') : 'pretty'
  if (format === 'pretty' || format === 'json') return format
  io.stderr.write(`Failed to get formatter ${JSON.stringify(format)}: Unknown format: ${format}\n`)
  return undefined
}

function oneId(flags: ParsedFlags, io: CliIo): string | undefined {
  if (flags.args.length === 0) {
    io.stderr.write('Must specify a session UUID.\n')
    return undefined
  }
  if (flags.args.length > 1) {
    io.stderr.write('Extra arguments after the session UUID.\n')
    return undefined
  }
  return flags.args[0]
}

const client = (flags: ParsedFlags, io: CliIo): ApiClient => new ApiClient(clientSettings(flags, io.env))

export const sessionCreateCommand: Command = {
  synopsis: 'Create a new session',
  run: (args, io) =>
    runWithFlags(createSet, args, io, async (flags) => {
      const body: Record<string, unknown> = {}
      const name = stringFlag(flags, 'name')
      const node = stringFlag(flags, 'node')
      const behavior = stringFlag(flags, 'behavior')
      const ttl = stringFlag(flags, 'ttl')
      const lockDelay = stringFlag(flags, 'lock-delay')
      if (name !== '') body['Name'] = name
      if (node !== '') body['Node'] = node
      if (behavior !== '') body['Behavior'] = behavior
      if (ttl !== '') body['TTL'] = ttl
      if (lockDelay !== '') body['LockDelay'] = lockDelay
      const nodeChecks = flags.values.get('node-check')
      if (Array.isArray(nodeChecks) && nodeChecks.length > 0) body['NodeChecks'] = nodeChecks
      const serviceChecks = flags.values.get('service-check')
      if (Array.isArray(serviceChecks) && serviceChecks.length > 0) {
        body['ServiceChecks'] = (serviceChecks as string[]).map((sc) => {
          const colon = sc.indexOf(':')
          return colon < 0 ? { ID: sc } : { ID: sc.slice(0, colon), Namespace: sc.slice(colon + 1) }
        })
      }
      try {
        const text = await client(flags, io).request('PUT', '/v1/session/create', { body })
        io.stdout.write(`${(JSON.parse(text) as { ID: string }).ID}\n`)
        return 0
      } catch (err) {
        io.stderr.write(`Error creating session: ${describeError(err)}\n`)
        return 1
      }
    }),
}

export const sessionDeleteCommand: Command = {
  synopsis: 'Delete a session',
  run: (args, io) =>
    runWithFlags(idSet('delete', 'Delete a session by providing the ID.'), args, io, async (flags) => {
      const id = oneId(flags, io)
      if (id === undefined) return 1
      try {
        await client(flags, io).request('PUT', `/v1/session/destroy/${encodeURIComponent(id)}`)
        return 0
      } catch (err) {
        io.stderr.write(`Error destroying session ${JSON.stringify(id)}: ${describeError(err)}\n`)
        return 1
      }
    }),
}

export const sessionRenewCommand: Command = {
  synopsis: 'Renew a session',
  run: (args, io) =>
    runWithFlags(
      idSet(
        'renew',
        'Renew the given session. This can be used for sessions that have a TTL, and it extends the expiration by the TTL.',
      ),
      args,
      io,
      async (flags) => {
        const id = oneId(flags, io)
        if (id === undefined) return 1
        try {
          // As Consul's client: an unknown session (404) is not an error.
          const res = await client(flags, io).send('PUT', `/v1/session/renew/${encodeURIComponent(id)}`)
          if (res.status !== 200 && res.status !== 404) throw new ApiError(res.status, res.text)
          return 0
        } catch (err) {
          io.stderr.write(`Error renewing session: ${describeError(err)}\n`)
          return 1
        }
      },
    ),
}

export const sessionReadCommand: Command = {
  synopsis: 'Read session information',
  run: (args, io) =>
    runWithFlags(
      idSet('read', 'This command will retrieve and print out the details of a single session.', [
        formatFlag,
      ]),
      args,
      io,
      async (flags) => {
        const id = oneId(flags, io)
        if (id === undefined) return 1
        let sessions: SessionEntry[]
        try {
          sessions = (await client(flags, io).getJson(
            `/v1/session/info/${encodeURIComponent(id)}`,
          )) as SessionEntry[]
        } catch (err) {
          io.stderr.write(`Error reading session information: ${describeError(err)}\n`)
          return 1
        }
        const s = sessions[0]
        if (s === undefined) {
          io.stderr.write(`No session ${JSON.stringify(id)} found\n`)
          return 1
        }
        const format = formatOf(flags, io)
        if (format === undefined) return 1
        io.stdout.write(format === 'json' ? `${JSON.stringify(s, null, 4)}\n` : `${pretty(s)}\n`)
        return 0
      },
    ),
}

export const sessionListCommand: Command = {
  synopsis: 'List active sessions',
  run: (args, io) =>
    runWithFlags(listSet, args, io, async (flags) => {
      const node = stringFlag(flags, 'node')
      let sessions: SessionEntry[]
      try {
        const path = node === '' ? '/v1/session/list' : `/v1/session/node/${encodeURIComponent(node)}`
        sessions = (await client(flags, io).getJson(path)) as SessionEntry[]
      } catch (err) {
        io.stderr.write(`Error listing sessions: ${describeError(err)}\n`)
        return 1
      }
      const format = formatOf(flags, io)
      if (format === undefined) return 1
      const out = format === 'json' ? JSON.stringify(sessions, null, 4) : sessions.map(pretty).join('\n')
      if (out !== '') io.stdout.write(`${out}\n`)
      return 0
    }),
}
