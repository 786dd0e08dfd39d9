import type { FlagSet } from '../config/flags.js'
import { callJson, endpointText, httpTransport, type Endpoint } from '../cluster/transport.js'
import { CLUSTER_PREFIX } from '../cluster/wire.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import type { Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

const flagSet: FlagSet = {
  usageLine: 'vigil check explain [options] CHECK_ID',
  help:
    'Explains why a check has its status. For an alias check (a sidecar mirroring its application,\n' +
    'say) it shows the chain down to the checks that decide it, with their outputs and the time\n' +
    'of their last status change. An alias of a service on another node is followed to the agent\n' +
    'of that node (its address from the member list), or, when that agent does not answer, into\n' +
    'the catalog.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [{ name: 'json', type: 'bool', usage: 'Print the explanation as JSON.' }],
    },
  ],
}

/** `GET /v1/agent/check/explain/:id` as the API returns it. */
interface Explanation {
  readonly CheckID: string
  readonly Name: string
  readonly Type: string
  readonly Status: string
  readonly Output: string
  readonly StatusChanged: string
  readonly Reason: string
  readonly Remote?: { readonly Node: string; readonly ServiceID: string } | null
  /** Filled in by the command for a remote alias: how its target was explained. */
  Followed?: Followed
  /** Filled in by the command: the remote target's checks in the catalog the agent did not explain. */
  Catalog?: readonly CatalogCheck[]
  readonly Alias: {
    readonly TargetServiceID: string
    readonly DecidedBy: string | null
    readonly Checks: readonly Explanation[]
  } | null
}

/** How the command followed a remote alias to the agent of its target node. */
interface Followed {
  /** `agent`: that node's agent explained it; `catalog`: only the catalog was read; `stop`: not followed. */
  readonly Source: 'agent' | 'catalog' | 'stop'
  /** Where the explanation came from, or why the agent was not asked. */
  readonly Note: string
  readonly ServiceFound?: boolean
  readonly Checks?: readonly Explanation[]
}

/** A check as `/v1/health/node/:node` returns it. */
interface CatalogCheck {
  readonly Node: string
  readonly CheckID: string
  readonly Name: string
  readonly Status: string
  readonly Output: string
  readonly ServiceID: string
  readonly Type: string
}

/** A member as `/v1/agent/members` returns it. */
interface MemberRow {
  readonly Name: string
  readonly Addr: string
  readonly Port: number
  readonly Status: number
}

/** Remote aliases followed from the first check, at most. */
const MAX_HOPS = 8
const AGENT_TIMEOUT_MS = 5_000

interface FollowContext {
  readonly client: ApiClient
  members?: Promise<readonly MemberRow[]>
}

/**
 * Follows every remote alias in the tree to the agent of its target node: that agent's cluster
 * listener (the serf LAN address in the member list) explains the target's checks, and aliases
 * there are followed in turn, up to MAX_HOPS deep, a node and service seen higher on the same
 * branch not again. An agent that cannot be reached leaves what the catalog knows.
 */
async function followRemote(
  ctx: FollowContext,
  e: Explanation,
  hops: number,
  path: ReadonlySet<string>,
): Promise<void> {
  if (e.Remote != null) {
    const { Node, ServiceID } = e.Remote
    const key = `${Node}\u0000${ServiceID}`
    if (path.has(key)) {
      e.Followed = { Source: 'stop', Note: `not followed again: an alias cycle across nodes (${Node})` }
    } else if (hops >= MAX_HOPS) {
      e.Followed = { Source: 'stop', Note: `not followed: more than ${MAX_HOPS} remote aliases deep` }
    } else {
      let catalog: readonly CatalogCheck[] = []
      let catalogError = ''
      try {
        catalog = (
          (await ctx.client.getJson(`/v1/health/node/${encodeURIComponent(Node)}`)) as CatalogCheck[]
        ).filter((c) => c.ServiceID === '' || (ServiceID !== '' && c.ServiceID === ServiceID))
      } catch (err) {
        catalogError = describeError(err)
      }
      const asked = await askAgent(ctx, Node, ServiceID)
      if (typeof asked === 'string') {
        e.Followed = {
          Source: 'catalog',
          Note:
            catalogError === ''
              ? `${asked}; from the catalog`
              : `${asked}; the catalog could not be read either (${catalogError})`,
        }
        e.Catalog = catalog
      } else {
        e.Followed = asked
        const explained = new Set((asked.Checks ?? []).map((c) => c.CheckID))
        e.Catalog = catalog.filter((c) => !explained.has(c.CheckID))
        const next = new Set([...path, key])
        for (const k of asked.Checks ?? []) await followRemote(ctx, k, hops + 1, next)
      }
    }
  }
  for (const k of e.Alias?.Checks ?? []) await followRemote(ctx, k, hops, path)
}

/** The explanation from `node`'s agent, or why it could not be had. */
async function askAgent(ctx: FollowContext, node: string, serviceId: string): Promise<Followed | string> {
  let members: readonly MemberRow[]
  try {
    members = await (ctx.members ??= ctx.client.getJson('/v1/agent/members') as Promise<MemberRow[]>)
  } catch (err) {
    return `the member list could not be read (${describeError(err)})`
  }
  const m = members.find((x) => x.Name === node)
  if (m === undefined) return `node "${node}" is not in the member list`
  if (m.Status !== 1) return `the agent of node "${node}" is not alive`
  const at: Endpoint = { addr: m.Addr, port: m.Port }
  try {
    const reply = (await callJson(
      httpTransport,
      at,
      'POST',
      `${CLUSTER_PREFIX}/explain`,
      { node, serviceId },
      { timeoutMs: AGENT_TIMEOUT_MS },
    )) as { ServiceFound?: unknown; Checks?: unknown } | null
    if (reply === null || typeof reply.ServiceFound !== 'boolean' || !Array.isArray(reply.Checks))
      return `the agent of node "${node}" at ${endpointText(at)} answered no explanation`
    return {
      Source: 'agent',
      Note: `the agent of node "${node}" at ${endpointText(at)}`,
      ServiceFound: reply.ServiceFound,
      Checks: reply.Checks as Explanation[],
    }
  } catch (err) {
    return `the agent of node "${node}" at ${endpointText(at)} did not answer (${describeError(err)})`
  }
}

/** `vigil check explain ID`: why a check has its status (vigil's own; Consul has no equivalent). */
export const checkExplainCommand: Command = {
  synopsis: 'Explains why a check has its status',
  run: (args, io) =>
    runWithFlags(flagSet, args, io, async (flags) => {
      const id = flags.args[0]
      if (id === undefined || flags.args.length > 1) {
        io.stderr.write('This command takes one argument: the check ID\n')
        return 1
      }
      let e: Explanation
      try {
        const client = new ApiClient(clientSettings(flags, io.env))
        e = (await client.getJson(`/v1/agent/check/explain/${encodeURIComponent(id)}`)) as Explanation
        // Aliases of other nodes: follow them to those nodes' agents (or their catalog entries).
        await followRemote({ client }, e, 0, new Set())
      } catch (err) {
        io.stderr.write(`Error explaining check ${id}: ${describeError(err)}\n`)
        return 1
      }
      if (flags.values.get('json') === true) {
        io.stdout.write(`${JSON.stringify(e, null, 4)}\n`)
        return 0
      }
      io.stdout.write(formatExplanation(e))
      return 0
    }),
}

/** A readable tree: each check with status, since when, why, and its output. */
export function formatExplanation(root: Explanation): string {
  const lines: string[] = []
  const walk = (e: Explanation, prefix: string, childPrefix: string, decides: boolean): void => {
    const mark = decides ? '   <- decides' : ''
    lines.push(
      `${prefix}${e.CheckID} (${e.Type || 'no runner'}): ${e.Status.toUpperCase()} since ${e.StatusChanged}${mark}`,
    )
    lines.push(`${childPrefix}  why:    ${e.Reason}`)
    const output = e.Output.trimEnd()
    if (output !== '')
      lines.push(`${childPrefix}  output: ${output.split('\n').join(`\n${childPrefix}          `)}`)
    if (e.Followed !== undefined) lines.push(`${childPrefix}  via:    ${e.Followed.Note}`)
    if (e.Followed?.ServiceFound === false)
      lines.push(
        `${childPrefix}  (service ${e.Remote?.ServiceID ?? ''} is not registered on node ${e.Remote?.Node ?? ''})`,
      )
    const local = e.Alias?.Checks ?? []
    const remote = e.Followed?.Checks ?? []
    const catalog = e.Catalog ?? []
    const total = local.length + remote.length + catalog.length
    let n = 0
    const branch = (): [string, string] => {
      const last = ++n === total
      return [`${childPrefix}  ${last ? '└─ ' : '├─ '}`, `${childPrefix}  ${last ? '   ' : '│  '}`]
    }
    for (const k of local) walk(k, ...branch(), k.CheckID === e.Alias?.DecidedBy)
    if (e.Alias !== null && local.length === 0)
      lines.push(`${childPrefix}  (service ${e.Alias.TargetServiceID} has no checks)`)
    // The remote alias's decider: the first check with its (non-passing) status.
    const decider = e.Status === 'passing' ? undefined : remote.find((k) => k.Status === e.Status)?.CheckID
    for (const k of remote) walk(k, ...branch(), k.CheckID === decider)
    for (const c of catalog) {
      const [b] = branch()
      const out = c.Output.trimEnd().split('\n').join(' ')
      lines.push(
        `${b}${c.CheckID} on ${c.Node} (${c.Type || 'no runner'}): ${c.Status.toUpperCase()} in the catalog${out === '' ? '' : ` — ${out}`}`,
      )
    }
    if (e.Followed?.Source === 'catalog' && catalog.length === 0)
      lines.push(`${childPrefix}  (node ${e.Remote?.Node ?? ''} has no such checks in the catalog)`)
  }
  walk(root, '', '', false)
  return `${lines.join('\n')}\n`
}
