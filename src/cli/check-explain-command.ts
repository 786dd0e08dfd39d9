import type { FlagSet } from '../config/flags.js'
import { ApiClient, clientSettings, httpApiFlags } from './http-client.js'
import type { Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

const flagSet: FlagSet = {
  usageLine: 'vigil check explain [options] CHECK_ID',
  help:
    'Explains why a check has its status. For an alias check (a sidecar mirroring its application,\n' +
    'say) it shows the chain down to the checks that decide it, with their outputs and the time\n' +
    'of their last status change.',
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
  /** Filled in by the command: the remote target's checks, read from the catalog. */
  Catalog?: readonly CatalogCheck[]
  readonly Alias: {
    readonly TargetServiceID: string
    readonly DecidedBy: string | null
    readonly Checks: readonly Explanation[]
  } | null
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

/** Reads, for every alias of another node in the tree, the checks it mirrors from the catalog. */
async function followRemote(client: ApiClient, e: Explanation): Promise<void> {
  if (e.Remote != null) {
    const { Node, ServiceID } = e.Remote
    const checks = (await client.getJson(`/v1/health/node/${encodeURIComponent(Node)}`)) as CatalogCheck[]
    e.Catalog = checks.filter((c) => c.ServiceID === '' || (ServiceID !== '' && c.ServiceID === ServiceID))
  }
  for (const k of e.Alias?.Checks ?? []) await followRemote(client, k)
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
        // An alias of another node: follow it into the catalog (one hop).
        await followRemote(client, e)
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
    const kids = e.Alias?.Checks ?? []
    kids.forEach((k, i) => {
      const last = i === kids.length - 1
      walk(
        k,
        `${childPrefix}  ${last ? '└─ ' : '├─ '}`,
        `${childPrefix}  ${last ? '   ' : '│  '}`,
        k.CheckID === e.Alias?.DecidedBy,
      )
    })
    if (e.Alias !== null && kids.length === 0)
      lines.push(`${childPrefix}  (service ${e.Alias.TargetServiceID} has no checks)`)
    const remote = e.Catalog ?? []
    remote.forEach((c, i) => {
      const branch = `${childPrefix}  ${i === remote.length - 1 ? '└─ ' : '├─ '}`
      const output = c.Output.trimEnd().split('\n').join(' ')
      lines.push(
        `${branch}${c.CheckID} on ${c.Node} (${c.Type || 'no runner'}): ${c.Status.toUpperCase()} in the catalog${output === '' ? '' : ` — ${output}`}`,
      )
    })
    if (e.Catalog !== undefined && remote.length === 0)
      lines.push(`${childPrefix}  (node ${e.Remote?.Node ?? ''} has no such checks in the catalog)`)
  }
  walk(root, '', '', false)
  return `${lines.join('\n')}\n`
}
