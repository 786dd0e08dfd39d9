/**
 * `vigil watch -type … [handler]` (cli.md §7): a blocking-query loop on the endpoint of the
 * watch type. Without a handler the first result is printed as 4-space-indented JSON and the
 * command exits; with one, the handler runs (via `sh -c` unless `-shell=false`) with the JSON
 * on stdin and `CONSUL_INDEX` in its environment, once per changed result, until interrupted
 * or until the handler fails (exit 1).
 */
import { spawn } from 'node:child_process'
import type { FlagSet, ParsedFlags } from '../config/flags.js'
import { systemClock } from '../lib/clock.js'
import { stringFlag } from './flag-values.js'
import { ApiClient, ApiError, clientSettings, httpApiFlags } from './http-client.js'
import type { CliIo, Command } from './io.js'
import { describeError, runWithFlags } from './run.js'

const flagSet: FlagSet = {
  usageLine: 'vigil watch [options] [child...]',
  help: 'Watches for changes in a given data view from the agent. If a child process is specified, it will be invoked with the latest results on changes. Otherwise, the latest values are dumped to stdout and the watch terminates.',
  groups: [
    httpApiFlags,
    {
      title: 'Command Options',
      flags: [
        { name: 'filter', type: 'string', placeholder: 'string', usage: 'Filter to use with the request' },
        {
          name: 'key',
          type: 'string',
          placeholder: 'string',
          usage: "Specifies the key to watch. Only for 'key' type.",
        },
        {
          name: 'name',
          type: 'string',
          placeholder: 'string',
          usage: "Specifies an event name to watch. Only for 'event' type.",
        },
        {
          name: 'passingonly',
          type: 'string',
          placeholder: 'bool',
          usage:
            "Specifies if only hosts passing all checks are displayed. Optional for 'service' type, defaults false.",
        },
        {
          name: 'prefix',
          type: 'string',
          placeholder: 'string',
          usage: "Specifies the key prefix to watch. Only for 'keyprefix' type.",
        },
        {
          name: 'service',
          type: 'string',
          placeholder: 'string',
          usage: "Specifies the service to watch. Required for 'service' type, optional for 'checks' type.",
        },
        {
          name: 'shell',
          type: 'bool',
          usage:
            'Use a shell to run the command (can set a custom shell via the SHELL environment variable). The default value is true.',
        },
        {
          name: 'state',
          type: 'string',
          placeholder: 'string',
          usage: "Specifies the states to watch. Optional for 'checks' type.",
        },
        {
          name: 'tag',
          type: 'list',
          placeholder: 'string',
          usage: "Specifies the service tag(s) to filter on. Optional for 'service' type.",
        },
        {
          name: 'type',
          type: 'string',
          placeholder: 'string',
          usage:
            'Specifies the watch type. One of key, keyprefix, services, nodes, service, checks, or event.',
        },
      ],
    },
  ],
}

/** One watch type: the request, and how a 404 reads. */
interface View {
  readonly path: string
  readonly query: Record<string, string | readonly string[]>
  /** The result a 404 stands for (`null` for a missing key, `[]` for an empty prefix). */
  readonly notFound?: unknown
  /** Shapes the response body into the result handed to the handler. */
  readonly shape?: (body: unknown) => unknown
}

function view(flags: ParsedFlags, io: CliIo): View | undefined {
  const type = stringFlag(flags, 'type')
  const fail = (msg: string): undefined => {
    io.stderr.write(`${msg}\n`)
    return undefined
  }
  const filter = stringFlag(flags, 'filter')
  const withFilter = (
    q: Record<string, string | readonly string[]>,
  ): Record<string, string | readonly string[]> => (filter !== '' ? { ...q, filter } : q)
  const seg = (s: string): string => s.split('/').map(encodeURIComponent).join('/')
  switch (type) {
    case '': {
      fail('Must specify watch type')
      return
    }
    case 'key': {
      const key = stringFlag(flags, 'key')
      if (key === '') {
        fail('Must specify a single key to watch')
        return
      }
      return {
        path: `/v1/kv/${seg(key)}`,
        query: {},
        notFound: null,
        shape: (b) => (b as unknown[])[0] ?? null,
      }
    }
    case 'keyprefix': {
      const prefix = stringFlag(flags, 'prefix')
      if (prefix === '') {
        fail('Must specify a single prefix to watch')
        return
      }
      return { path: `/v1/kv/${seg(prefix)}`, query: { recurse: '' }, notFound: [] }
    }
    case 'services':
      return { path: '/v1/catalog/services', query: withFilter({}) }
    case 'nodes':
      return { path: '/v1/catalog/nodes', query: withFilter({}) }
    case 'service': {
      const service = stringFlag(flags, 'service')
      if (service === '') {
        fail('Must specify a single service to watch')
        return
      }
      const q: Record<string, string | readonly string[]> = {}
      const tags = flags.values.get('tag')
      if (Array.isArray(tags) && tags.length > 0) q['tag'] = tags as string[]
      if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(stringFlag(flags, 'passingonly')))
        q['passing'] = '1'
      return { path: `/v1/health/service/${encodeURIComponent(service)}`, query: withFilter(q) }
    }
    case 'checks': {
      const service = stringFlag(flags, 'service')
      const state = stringFlag(flags, 'state')
      if (service !== '' && state !== '') {
        fail('Cannot specify service and state')
        return
      }
      if (service !== '')
        return { path: `/v1/health/checks/${encodeURIComponent(service)}`, query: withFilter({}) }
      return { path: `/v1/health/state/${encodeURIComponent(state || 'any')}`, query: withFilter({}) }
    }
    case 'event': {
      const name = stringFlag(flags, 'name')
      return { path: '/v1/event/list', query: name !== '' ? { name } : {} }
    }
    default: {
      fail(`Unsupported watch type: ${type}`)
      return
    }
  }
}

function runHandler(
  args: readonly string[],
  shell: boolean,
  input: string,
  index: string,
  io: CliIo,
): Promise<boolean> {
  const env = { ...process.env, CONSUL_INDEX: index }
  const sh =
    process.env['SHELL'] !== undefined && process.env['SHELL'] !== '' ? process.env['SHELL'] : '/bin/sh'
  const [file, ...rest] = args
  const child = shell
    ? spawn(sh, ['-c', args.join(' ')], { env, stdio: ['pipe', 'inherit', 'inherit'] })
    : spawn(file ?? '', rest, { env, stdio: ['pipe', 'inherit', 'inherit'] })
  child.stdin.on('error', () => undefined)
  child.stdin.end(input)
  return new Promise((resolve) => {
    child.once('error', (err) => {
      io.stderr.write(`Error executing handler: ${err.message}\n`)
      resolve(false)
    })
    child.once('exit', (code, signal) => {
      if (code === 0) {
        resolve(true)
        return
      }
      io.stderr.write(
        `Error executing handler: ${signal !== null ? `signal: ${signal}` : `exit status ${String(code)}`}\n`,
      )
      resolve(false)
    })
  })
}

export const watchCommand: Command = {
  synopsis: 'Watch for changes in Consul',
  run: (args, io) =>
    runWithFlags(flagSet, args, io, async (flags) => {
      const v = view(flags, io)
      if (v === undefined) return 1
      const api = new ApiClient(clientSettings(flags, io.env))
      const handler = flags.args
      const shell = flags.values.get('shell') !== false
      const abort = new AbortController()
      const onSignal = (): void => abort.abort()
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      try {
        let index = '0'
        let last: string | undefined
        let failures = 0
        while (!abort.signal.aborted) {
          let res
          try {
            res = await api.send('GET', v.path, {
              query: index === '0' ? v.query : { ...v.query, index },
              signal: abort.signal,
            })
          } catch (err) {
            // SIGINT/SIGTERM abort the request in flight.
            if ((abort.signal as { aborted: boolean }).aborted) break
            throw err
          }
          if (res.status !== 200 && res.status !== 404) {
            if (handler.length === 0 || ++failures > 5) throw new ApiError(res.status, res.text)
            await systemClock.sleep(1_000 * failures, abort.signal).catch(() => undefined)
            continue
          }
          failures = 0
          const next = res.headers.get('x-consul-index') ?? '0'
          // An index that goes backwards resets the watch (Consul's rule for blocking loops).
          index = BigInt(next) < BigInt(index) ? '0' : next
          const body: unknown = res.status === 404 ? (v.notFound ?? null) : JSON.parse(res.text)
          const result = res.status === 200 && v.shape !== undefined ? v.shape(body) : body
          const json = JSON.stringify(result, null, 4)
          if (json === last) continue
          last = json
          if (handler.length === 0) {
            io.stdout.write(`${json}\n`)
            return 0
          }
          if (!(await runHandler(handler, shell, json, index, io))) return 1
        }
        return 0
      } catch (err) {
        io.stderr.write(`Error querying Consul agent: ${describeError(err)}\n`)
        return 1
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    }),
}
