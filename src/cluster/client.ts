/**
 * A client agent's side of the cluster (servers.md §5, DESIGN.md "Roles and processes"): joining
 * (contact an agent's cluster listener, learn its servers), heartbeats to a server every 1–2 s
 * (the server turns them into this node's `serfHealth` and the member list, which comes back in
 * the answer), leave, and the requests a client sends a server (anti-entropy RPCs, forwarded
 * public API requests) with fail-over between the servers it knows.
 *
 * Concurrency contract: one heartbeat loop; `close()` resolves once it has exited, and no
 * heartbeat starts afterwards. Nothing here holds the agent's local state.
 */
import type { UserEvent } from '../agent/events.js'
import type { Member } from '../agent/member.js'
import type { NodeInfo } from '../agent/sync/catalog-port.js'
import type { Clock } from '../lib/clock.js'
import { errorMessage, JoinError, NoServersError } from '../lib/errors.js'
import { Trigger } from '../lib/trigger.js'
import {
  callJson,
  endpointText,
  parseJoinAddress,
  RemoteError,
  type ClusterResponse,
  type ClusterTransport,
} from './transport.js'
import {
  CLUSTER_PREFIX,
  decodeHeartbeatReply,
  decodeHelloReply,
  type HeartbeatReply,
  type ServerAddress,
} from './wire.js'

export interface ClusterLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface ClusterClientOptions {
  readonly transport: ClusterTransport
  readonly clock: Clock
  readonly random: () => number
  readonly logger: ClusterLogger
  /** This agent as a member, as it announces itself. */
  readonly self: () => Member
  /** This agent's node fields (sent with each heartbeat). */
  readonly node: () => NodeInfo
  /** The port a join address without one gets (`ports.serf_lan` default, 8301). */
  readonly defaultJoinPort: number
  /** The servers' liveness timeout: heartbeats go every tenth of it (1–2 s at the default 10 s). */
  readonly livenessTimeoutMs: number
  /** A server was reached for the first time, or restarted: anti-entropy should resync. */
  readonly onServerChange?: () => void
  /** User events from a heartbeat answer, oldest first (docs/events.md). Must not throw. */
  readonly onEvents?: (events: readonly UserEvent[]) => void
}

/** Heartbeat period bounds (servers.md §5: every 1–2 s at the default timeout). */
const MAX_INTERVAL_MS = 1_000
const MIN_INTERVAL_MS = 50
/** Longest wait between heartbeats while no server answers. */
const MAX_BACKOFF_MS = 5_000

/** The delay before the next heartbeat after `failures` failures in a row (0: a success). */
export function heartbeatDelayMs(livenessTimeoutMs: number, failures: number, random: number): number {
  const interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, livenessTimeoutMs / 10))
  if (failures === 0) return interval + random * interval
  const cap = Math.max(interval, Math.min(MAX_BACKOFF_MS, livenessTimeoutMs / 2))
  const backoff = Math.min(cap, interval * 2 ** Math.min(failures, 20))
  return backoff / 2 + (random * backoff) / 2
}

export class ClusterClient {
  readonly #opts: ClusterClientOptions
  readonly #trigger = new Trigger()
  readonly #abort = new AbortController()
  #servers: ServerAddress[] = []
  #current = 0
  #members: readonly Member[] | null = null
  #membersVersion = -1
  #epoch: string | null = null
  #eventSeq = -1
  #failures = 0
  #lastError: string | null = null
  #loop: Promise<void> | undefined
  #closed: Promise<void> | undefined

  constructor(opts: ClusterClientOptions) {
    this.#opts = opts
  }

  /** The servers this agent knows. */
  servers(): readonly ServerAddress[] {
    return [...this.#servers]
  }

  /** Heartbeats failed in a row, and the last failure. */
  health(): Readonly<{ failures: number; lastError: string | null }> {
    return { failures: this.#failures, lastError: this.#lastError }
  }

  /** The LAN members as the server last answered, this agent as it is now; itself alone before. */
  members(): readonly Member[] {
    const self = this.#opts.self()
    if (this.#members === null) return [self]
    return [self, ...this.#members.filter((m) => m.name !== self.name)]
  }

  /** Starts heartbeating (to nobody until a join or an introduction names a server). Idempotent. */
  start(): void {
    if (this.#loop !== undefined || this.#abort.signal.aborted) return
    this.#loop = this.#run(this.#abort.signal).catch((err: unknown) => {
      if (!this.#abort.signal.aborted)
        this.#opts.logger.warn({ error: errorMessage(err) }, 'Heartbeats stopped')
    })
  }

  /**
   * Contacts each address's cluster listener and learns the servers it knows. Resolves with the
   * number of agents contacted; throws JoinError when none answered.
   */
  async join(addresses: readonly string[], signal?: AbortSignal): Promise<number> {
    const errors: string[] = []
    let contacted = 0
    for (const text of addresses) {
      const at = parseJoinAddress(text, this.#opts.defaultJoinPort)
      if (at === undefined) {
        errors.push(`Failed to join ${text}: invalid address`)
        continue
      }
      try {
        const hello = decodeHelloReply(
          await callJson(this.#opts.transport, at, 'GET', `${CLUSTER_PREFIX}/hello`, undefined, {
            timeoutMs: 5_000,
            ...(signal === undefined ? {} : { signal }),
          }),
        )
        contacted++
        this.#learn(hello.servers)
      } catch (err) {
        errors.push(`Failed to join ${endpointText(at)}: ${errorMessage(err)}`)
      }
    }
    if (contacted === 0) {
      const n = errors.length
      throw new JoinError(
        `${n} error${n === 1 ? '' : 's'} occurred:\n${errors.map((e) => `\t* ${e}`).join('\n')}\n\n`,
      )
    }
    this.#opts.logger.info({ addresses, contacted }, 'Join cluster completed')
    return contacted
  }

  /**
   * `retry_join`: joins `addresses`, retrying every `intervalMs` until one answers, at most
   * `max` attempts (0: forever). Resolves true once joined, false when the attempts ran out.
   */
  async retryJoin(
    addresses: readonly string[],
    opts: Readonly<{ intervalMs: number; max: number }>,
  ): Promise<boolean> {
    const signal = this.#abort.signal
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.join(addresses, signal)
        return true
      } catch (err) {
        if (isAborted(signal)) return false
        if (opts.max > 0 && attempt >= opts.max) {
          this.#opts.logger.warn(
            { error: errorMessage(err) },
            'Retry join is giving up, max attempts exceeded',
          )
          return false
        }
        this.#opts.logger.warn(
          { error: errorMessage(err), retry_interval: `${opts.intervalMs}ms` },
          'Join cluster failed, will retry',
        )
      }
      try {
        await this.#opts.clock.sleep(opts.intervalMs, signal)
      } catch {
        return false
      }
    }
    return false
  }

  /** A server told this agent about the servers (the server side of `join` with our address). */
  introduce(servers: readonly ServerAddress[]): void {
    this.#learn(servers)
  }

  /**
   * Graceful leave: stops heartbeating (a heartbeat after the leave would make the member alive
   * again), then tells a server this member left. Best effort when no server answers.
   */
  async leave(): Promise<void> {
    const name = this.#opts.self().name
    this.#abort.abort(new Error('leaving the cluster'))
    await this.#loop
    try {
      // Bounded well inside the 15 s a graceful leave may take (cli.md §6).
      await this.rpc('POST', '/leave', { name }, { timeoutMs: 3_000 })
      this.#opts.logger.info({}, 'Left the cluster')
    } catch (err) {
      this.#opts.logger.warn({ error: errorMessage(err) }, 'Graceful leave could not reach a server')
    }
  }

  /** `force-leave` through a server; its error (unknown node) comes back as thrown. */
  async forceLeave(name: string, prune: boolean): Promise<void> {
    await this.rpc('POST', '/force-leave', { name, prune })
  }

  /**
   * A cluster RPC (`/v1/internal/cluster<path>`) to a server, trying each known server once on
   * network failures. An error status from a server is thrown as is (RemoteError).
   */
  async rpc(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    opts: Readonly<{ signal?: AbortSignal; timeoutMs?: number }> = {},
  ): Promise<unknown> {
    return this.#withServer(async (server) =>
      callJson(this.#opts.transport, server, method, `${CLUSTER_PREFIX}${path}`, body, opts),
    )
  }

  /** Sends a public API request to a server's cluster listener, as is; says which server answered. */
  async forward(
    req: Readonly<{
      method: string
      target: string
      headers: Readonly<Record<string, string>>
      body: string
      signal?: AbortSignal
      timeoutMs: number
    }>,
  ): Promise<ClusterResponse & { server: string }> {
    return this.#withServer(async (server) => {
      const res = await this.#opts.transport.send(server, req)
      return { ...res, server: endpointText(server) }
    })
  }

  /** Heartbeats now rather than at the next interval (a forwarded event comes back sooner). */
  heartbeatSoon(): void {
    this.#trigger.notify()
  }

  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#abort.abort(new Error('cluster client closed'))
      await this.#loop
    })())
  }

  async #withServer<T>(fn: (server: ServerAddress) => Promise<T>): Promise<T> {
    const n = this.#servers.length
    if (n === 0) throw new NoServersError()
    let last: unknown
    for (let i = 0; i < n; i++) {
      const server = this.#servers[(this.#current + i) % n]
      if (server === undefined) break
      try {
        const out = await fn(server)
        this.#current = (this.#current + i) % n
        return out
      } catch (err) {
        if (err instanceof RemoteError) throw err
        last = err
      }
    }
    this.#current = (this.#current + 1) % Math.max(1, this.#servers.length)
    throw last instanceof Error ? last : new Error(errorMessage(last))
  }

  #learn(servers: readonly ServerAddress[]): void {
    let added = false
    for (const s of servers) {
      if (this.#servers.some((k) => k.addr === s.addr && k.port === s.port)) continue
      this.#servers.push(s)
      added = true
      this.#opts.logger.info({ server: s.name, address: endpointText(s) }, 'Adding server')
    }
    if (added) this.#trigger.notify()
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { clock, random } = this.#opts
    while (!signal.aborted) {
      if (this.#servers.length > 0) {
        try {
          const reply = await this.#heartbeat(signal)
          this.#apply(reply)
          this.#failures = 0
          this.#lastError = null
        } catch (err) {
          if (isAborted(signal)) return
          this.#failures++
          const message = errorMessage(err)
          if (this.#failures === 1 || message !== this.#lastError)
            this.#opts.logger.warn({ error: message }, 'Heartbeat to the servers failed')
          this.#lastError = message
        }
      }
      const delay =
        this.#servers.length === 0
          ? MAX_BACKOFF_MS
          : heartbeatDelayMs(this.#opts.livenessTimeoutMs, this.#failures, random())
      try {
        await this.#trigger.wait(clock, { maxMs: delay, signal })
      } catch {
        return
      }
    }
  }

  async #heartbeat(signal: AbortSignal): Promise<HeartbeatReply> {
    const body = {
      member: this.#opts.self(),
      node: this.#opts.node(),
      knownEpoch: this.#epoch ?? '',
      knownVersion: this.#membersVersion,
      eventSeq: this.#eventSeq,
      delta: true,
    }
    const timeoutMs = Math.max(500, this.#opts.livenessTimeoutMs / 2)
    return this.#withServer(async (server) => {
      const reply = decodeHeartbeatReply(
        await callJson(this.#opts.transport, server, 'POST', `${CLUSTER_PREFIX}/heartbeat`, body, {
          signal,
          timeoutMs,
        }),
      )
      this.#opts.logger.debug({ server: endpointText(server) }, 'Heartbeat answered')
      return reply
    })
  }

  #apply(reply: HeartbeatReply): void {
    if (reply.members !== null) {
      this.#members = reply.members
      this.#membersVersion = reply.version
    } else if (reply.version !== this.#membersVersion && this.#members !== null) {
      this.#members = applyMemberChanges(this.#members, reply.changed, reply.removed)
      this.#membersVersion = reply.version
    }
    this.#learn(reply.servers)
    if (reply.epoch !== this.#epoch) {
      const first = this.#epoch === null
      this.#epoch = reply.epoch
      this.#opts.logger.info({ first }, first ? 'Reached a server' : 'Server restarted; resyncing')
      this.#opts.onServerChange?.()
    }
    this.#eventSeq = reply.eventSeq
    if (reply.events.length > 0) this.#opts.onEvents?.(reply.events)
  }
}

/**
 * A member list with the changes of a heartbeat answer applied: changed members replace their
 * entry (by name, case-insensitively) or are added at the end; removed names go.
 */
export function applyMemberChanges(
  members: readonly Member[],
  changed: readonly Member[],
  removed: readonly string[],
): readonly Member[] {
  const next = new Map(members.map((m) => [m.name.toLowerCase(), m]))
  for (const name of removed) next.delete(name.toLowerCase())
  for (const m of changed) next.set(m.name.toLowerCase(), m)
  return Object.freeze([...next.values()])
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted
}
