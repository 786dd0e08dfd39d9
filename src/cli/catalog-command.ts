/**
 * `vigil catalog datacenters|nodes|services` (cli.md §7): reads of the catalog through the HTTP
 * API, printed as `consul catalog …` prints them.
 */
import { readFileSync } from 'node:fs'
import type { FlagDef, FlagSet, ParsedFlags } from '../config/flags.js'
import { pairs, stringFlag } from './flag-values.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import type { CliIo, Command } from './io.js'
import { describeError, runWithFlags } from './run.js'
import { formatTable } from './table.js'

const nodeMetaFlag: FlagDef = {
  name: 'node-meta',
  type: 'list',
  placeholder: 'key=value',
  usage:
    'Metadata to filter nodes with the given `key=value` pairs. This flag may be specified multiple times to filter on multiple sources of metadata.',
}

const datacentersFlags: FlagSet = {
  usageLine: 'vigil catalog datacenters [options]',
  help: 'Retrieves the list of all known datacenters.',
  groups: [httpApiFlags],
}

const nodesFlags: FlagSet = {
  usageLine: 'vigil catalog nodes [options]',
  help: 'Retrieves the list of nodes registered in a given datacenter. By default, the datacenter of the local agent is queried.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'detailed',
          type: 'bool',
          usage: 'Output detailed information about the nodes including their addresses and metadata.',
        },
        { name: 'filter', type: 'string', placeholder: 'string', usage: 'Filter to use with the request' },
        {
          name: 'near',
          type: 'string',
          placeholder: 'string',
          usage:
            'Node name to sort the node list in ascending order based on estimated round-trip time from that node. Passing "_agent" will use this agent\'s node for sorting.',
        },
        nodeMetaFlag,
        {
          name: 'service',
          type: 'string',
          placeholder: 'id or name',
          usage:
            'Service `id or name` to filter nodes. Only nodes which are providing the given service will be returned.',
        },
      ],
    },
  ],
}

const servicesFlags: FlagSet = {
  usageLine: 'vigil catalog services [options]',
  help: 'Retrieves the list services registered in a given datacenter. By default, the datacenter of the local agent is queried.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        {
          name: 'node',
          type: 'string',
          placeholder: 'id or name',
          usage: 'Node `id or name` for which to list services.',
        },
        nodeMetaFlag,
        {
          name: 'tags',
          type: 'bool',
          usage: "Display each service's tags as a comma-separated list beside each service entry.",
        },
      ],
    },
  ],
}

/** A node as the catalog returns it (http-api.md §14); `ServiceNode` rows carry the same fields. */
interface WireNode {
  readonly ID: string
  readonly Node: string
  readonly Address: string
  readonly Datacenter: string
  readonly TaggedAddresses: Readonly<Record<string, string>> | null
  readonly Meta?: Readonly<Record<string, string>> | null
  readonly NodeMeta?: Readonly<Record<string, string>> | null
}

/** Runs a catalog read: no positional arguments, one client, errors as `consul` prints them. */
function catalogCommand(
  synopsis: string,
  set: FlagSet,
  body: (client: ApiClient, flags: ParsedFlags, io: CliIo) => Promise<number>,
): Command {
  return {
    synopsis,
    run: (args, io) =>
      runWithFlags(set, args, io, async (flags) => {
        if (flags.args.length > 0) {
          io.stderr.write(`Too many arguments (expected 0, got ${flags.args.length})\n`)
          return 1
        }
        let client: ApiClient
        try {
          client = new ApiClient(clientSettings(flags, io.env))
        } catch (err) {
          io.stderr.write(`Error connecting to Consul agent: ${describeError(err)}\n`)
          return 1
        }
        return body(client, flags, io)
      }),
  }
}

/** `-node-meta k=v` flags as the API's repeated `node-meta=k:v`; undefined after a bad pair. */
function nodeMetaQuery(flags: ParsedFlags, io: CliIo): Record<string, string[]> | undefined {
  const meta = pairs(flags.values.get('node-meta'), '-node-meta', io)
  if (meta === undefined) return undefined
  const list = Object.entries(meta).map(([k, v]) => `${k}:${v}`)
  return list.length > 0 ? { 'node-meta': list } : {}
}

/** `-filter` takes the expression, `@file`, or `-` for stdin (Consul's LoadDataSource). */
function loadFilter(value: string): string {
  if (value === '-') return readFileSync(0, 'utf8')
  if (value.startsWith('@')) return readFileSync(value.slice(1), 'utf8')
  return value
}

/** `k=v, k2=v2`, sorted by key (Consul's mapToKV). */
function keyValues(m: Readonly<Record<string, string>> | null | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${m?.[k] ?? ''}`)
    .join(', ')
}

export const catalogDatacentersCommand = catalogCommand(
  'Lists all known datacenters',
  datacentersFlags,
  async (client, _flags, io) => {
    try {
      const dcs = (await client.getJson('/v1/catalog/datacenters')) as string[]
      for (const dc of dcs) io.stdout.write(`${dc}\n`)
      return 0
    } catch (err) {
      io.stderr.write(`Error listing datacenters: ${describeError(err)}\n`)
      return 1
    }
  },
)

export const catalogNodesCommand = catalogCommand(
  'Lists all nodes in the given datacenter',
  nodesFlags,
  async (client, flags, io) => {
    const metaQuery = nodeMetaQuery(flags, io)
    if (metaQuery === undefined) return 1
    const query: Record<string, string | string[]> = { ...metaQuery }
    const near = stringFlag(flags, 'near')
    if (near !== '') query['near'] = near
    const filter = stringFlag(flags, 'filter')
    if (filter !== '') {
      try {
        query['filter'] = loadFilter(filter)
      } catch (err) {
        io.stderr.write(`Could not process filter argument: ${describeError(err)}\n`)
        return 1
      }
    }
    const service = stringFlag(flags, 'service')
    let nodes: WireNode[]
    try {
      nodes =
        service !== ''
          ? ((await client.getJson(
              `/v1/catalog/service/${encodeURIComponent(service)}`,
              query,
            )) as WireNode[])
          : ((await client.getJson('/v1/catalog/nodes', query)) as WireNode[])
    } catch (err) {
      io.stderr.write(
        `${service !== '' ? 'Error listing nodes for service' : 'Error listing nodes'}: ${describeError(err)}\n`,
      )
      return 1
    }
    if (nodes.length === 0) {
      io.stderr.write('No nodes match the given query - try expanding your search.\n')
      return 0
    }
    const detailed = flags.values.get('detailed') === true
    const rows: string[][] = [
      detailed ? ['Node', 'ID', 'Address', 'DC', 'TaggedAddresses', 'Meta'] : ['Node', 'ID', 'Address', 'DC'],
    ]
    for (const n of nodes) {
      if (detailed) {
        rows.push([
          n.Node,
          n.ID,
          n.Address,
          n.Datacenter,
          keyValues(n.TaggedAddresses),
          keyValues(n.Meta ?? n.NodeMeta),
        ])
      } else {
        // The short form shows the ID up to its first dash.
        const dash = n.ID.indexOf('-')
        rows.push([n.Node, dash > 0 ? n.ID.slice(0, dash) : n.ID, n.Address, n.Datacenter])
      }
    }
    io.stdout.write(formatTable(rows))
    return 0
  },
)

export const catalogServicesCommand = catalogCommand(
  'Lists all registered services in a datacenter',
  servicesFlags,
  async (client, flags, io) => {
    const query = nodeMetaQuery(flags, io)
    if (query === undefined) return 1
    const node = stringFlag(flags, 'node')
    const services = new Map<string, string[]>()
    try {
      if (node !== '') {
        const found = (await client.getJson(`/v1/catalog/node/${encodeURIComponent(node)}`, query)) as {
          Services: Readonly<Record<string, { Service: string; Tags: readonly string[] | null }>>
        } | null
        for (const s of Object.values(found?.Services ?? {})) {
          services.set(s.Service, [...(services.get(s.Service) ?? []), ...(s.Tags ?? [])])
        }
      } else {
        const all = (await client.getJson('/v1/catalog/services', query)) as Readonly<
          Record<string, readonly string[] | null>
        >
        for (const [name, tags] of Object.entries(all)) services.set(name, [...(tags ?? [])])
      }
    } catch (err) {
      io.stderr.write(
        `${node !== '' ? 'Error listing services for node' : 'Error listing services'}: ${describeError(err)}\n`,
      )
      return 1
    }
    if (services.size === 0) {
      io.stderr.write('No services match the given query - try expanding your search.\n')
      return 0
    }
    const names = [...services.keys()].sort()
    if (flags.values.get('tags') === true) {
      // Go's tabwriter with padding 6: the tags column starts 6 spaces past the longest name,
      // a name without tags keeps its padding, and the whole block is trimmed at its ends.
      const width = Math.max(...names.map((n) => n.length)) + 6
      const lines = names.map((name) => name.padEnd(width) + (services.get(name) ?? []).sort().join(','))
      io.stdout.write(`${lines.join('\n').trim()}\n`)
    } else {
      for (const name of names) io.stdout.write(`${name}\n`)
    }
    return 0
  },
)
