/**
 * The cluster as the HTTP API sees it (DESIGN.md "Seams"): what the agent endpoints for members,
 * join, leave and force-leave need, and what the cluster listener serves to other agents. The
 * composition root (roles/node.ts) implements both for a server and for a client agent.
 */
import type { AliasTargetReader } from '../agent/checks/remote-alias-check.js'
import type { UserEvent } from '../agent/events.js'
import type { Member } from '../agent/member.js'
import type { CatalogSyncPort } from '../agent/sync/catalog-port.js'
import type { SyncStatus } from '../agent/sync/anti-entropy.js'
import type { DnsDumpSource } from './dns-dump.js'
import type { TargetExplanation } from '../agent/explain.js'
import type { ExplainRequest, HeartbeatRequest, HelloReply, ServerAddress } from './wire.js'

/** The agent endpoints' view of the cluster. */
export interface ClusterPort {
  /** The LAN members as this agent knows them (itself included). */
  members(): readonly Member[]
  /** Contacts `address` (`ADDR[:port]`); resolves with the number of agents contacted. */
  join(address: string): Promise<number>
  /** Graceful leave; the process exits 0 once it is done (the caller answers first). */
  leave(): Promise<void>
  forceLeave(node: string, prune: boolean): Promise<void>
  /** Anti-entropy's state, or null when this agent has no sync loop. */
  syncStatus(): SyncStatus | null
}

/**
 * What an agent's cluster listener serves. Every agent answers `hello` and `introduce` on its
 * serf LAN port; a server also serves the rest on its server port.
 */
export interface ClusterRpc {
  hello(): HelloReply
  /** A server joined this agent: start heartbeating to these servers. */
  introduce(servers: readonly ServerAddress[]): void
  /**
   * What a remote alias of this node mirrors, as local state explains it (`vigil check explain`
   * following an alias across nodes). A request naming another node → NotFoundError.
   */
  explain(req: ExplainRequest): TargetExplanation
  readonly server: ClusterServerRpc | null
}

export interface ClusterServerRpc {
  /** A heartbeat, answered with a `HeartbeatReply` as JSON text. */
  heartbeat(req: HeartbeatRequest): string
  /** Durable when it resolves; false for an unknown member. */
  leave(name: string): Promise<boolean>
  forceLeave(name: string, prune: boolean): Promise<void>
  readonly catalog: CatalogSyncPort
  /** Blocking reads of a node's health for remote alias checks on client agents. */
  readonly aliasReader: AliasTargetReader
  /** Blocking reads of what DNS answers from, for the DNS mirrors of client agents. */
  readonly dnsDump: DnsDumpSource
  /** A user event fired on a client agent: handed to the datacenter's events (settles once stored). */
  fireEvent(event: UserEvent): void | Promise<void>
}

/** One server as `/v1/operator/raft/configuration` lists it. */
export type RaftServer = Readonly<{ id: string; node: string; address: string; leader: boolean }>

/**
 * What a server knows of its leader, as `X-Consul-KnownLeader` and `X-Consul-LastContact` say it
 * (Consul: true and 0 on the leader; elsewhere whether raft knows a leader, and the time since the
 * leader was last heard from).
 */
export type LeaderContact = Readonly<{
  /** This server leads, or its view shows a leader and its link to the store is confirmed. */
  knownLeader: boolean
  /** 0 on the leader; elsewhere ms since this server's link to the store was last confirmed. */
  lastContactMs: number
}>

/** The servers sharing this server's store, as its view sees them (election.ts). */
export interface ServerDirectory {
  /** `"<ip>:<port>"` of the leader, '' while there is none. */
  leader(): string
  /** Every live server's `"<ip>:<port>"`, sorted. */
  peers(): readonly string[]
  /** Every live server, and the view's index. */
  configuration(): Readonly<{ servers: readonly RaftServer[]; index: number }>
  /** What this server knows of the leader, now. */
  leaderContact(): LeaderContact
  /**
   * Resolves true at once while this server's link to the store is confirmed, else as soon as it
   * is again; false after `maxMs`, or when the server stops.
   */
  storeReachable(maxMs: number): Promise<boolean>
  /** A request failed because the store did not answer: logged once per loss of contact. */
  storeUnavailable(err: unknown): void
}
