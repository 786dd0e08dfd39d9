/**
 * What a server answers about its leader, decided here for every route that serves the catalog,
 * KV, sessions, txns and snapshots (http-api.md §3, §5, §7; docs/cluster.md "Several servers"):
 *
 * - `X-Consul-KnownLeader` and `X-Consul-LastContact` (`leaderHeaders`) come from the servers'
 *   directory (election.ts `leaderContact`): true and 0 on the leader; elsewhere whether the view
 *   shows a leader and the link to the store is confirmed, and the age of the last confirmed
 *   keep-alive. An API without a directory (a catalog in process, in tests) is its own leader.
 * - Requests answered from the store need contact with it, as Consul's need a leader: every write
 *   and the freshness wait of reads in the default and `consistent` modes (`storeGated`, applied
 *   to the ports the routes get). While this server's link to the store is lost they are held up
 *   to Consul's `rpc_hold_timeout` (7 s) for it to come back, then answered 500 `No cluster
 *   leader` without reaching the store: nothing was applied. A store call that fails anyway (the
 *   store stopped answering before the server noticed) is answered the same way — a write cut off
 *   in flight may have been applied, as with any lost answer — and its error is logged once per
 *   loss of contact, not per request.
 * - `stale` reads answer from the view whatever the store does; with `max_stale`, a server whose
 *   last contact is older than it answers as a default read instead (Consul asks the leader again).
 *
 * Concurrency contract: stateless; the directory keeps the state.
 */
import { NotLeaderError } from '../catalog/errors.js'
import type { KvPort } from '../catalog/kv-port.js'
import type { CatalogPort } from '../catalog/port.js'
import type { LeaderContact, ServerDirectory } from '../cluster/ports.js'
import { StoreUnavailableError } from '../store/store.js'
import { parseConsistency, parseMaxStaleMs, type Consistency } from './params.js'
import type { RouteDeps } from './routes/deps.js'

/**
 * Consul's `rpc_hold_timeout`: how long a request that needs the leader (here: the store) waits
 * for it; also the bound of a fresh read (the store's answer and the view reaching it).
 */
export const RPC_HOLD_TIMEOUT_MS = 7_000

/** A catalog served in process with no directory of servers: it is the leader. */
const ALONE: LeaderContact = Object.freeze({ knownLeader: true, lastContactMs: 0 })

/** What this server knows of its leader, now. */
export function leaderContact(deps: Pick<RouteDeps, 'servers'>): LeaderContact {
  return deps.servers?.leaderContact() ?? ALONE
}

/** `X-Consul-KnownLeader` and `X-Consul-LastContact`, as of now (compute them when answering). */
export function leaderHeaders(deps: Pick<RouteDeps, 'servers'>): Record<string, string> {
  const c = leaderContact(deps)
  return {
    'X-Consul-KnownLeader': c.knownLeader ? 'true' : 'false',
    'X-Consul-LastContact': String(c.lastContactMs),
  }
}

/**
 * A call that needs the store: held while this server has no contact with it (up to the hold
 * timeout, then `No cluster leader` without calling), and `No cluster leader` when the store does
 * not answer it (its error logged once per loss of contact).
 */
export async function viaStore<T>(servers: ServerDirectory | undefined, call: () => Promise<T>): Promise<T> {
  if (servers === undefined) return call()
  if (!(await servers.storeReachable(RPC_HOLD_TIMEOUT_MS))) throw new NotLeaderError()
  try {
    return await call()
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err
    servers.storeUnavailable(err)
    throw new NotLeaderError({ cause: err })
  }
}

/**
 * The catalog and KV ports as the routes of a server use them: every write, and the freshness
 * wait of reads not in `stale` mode, go `viaStore`; reads of the view go straight through.
 */
export function storeGated(
  ports: Readonly<{ catalog?: CatalogPort; kv?: KvPort }>,
  servers: ServerDirectory,
): { catalog?: CatalogPort; kv?: KvPort } {
  const { catalog, kv } = ports
  const gated: { catalog?: CatalogPort; kv?: KvPort } = {}
  if (catalog !== undefined) {
    gated.catalog = {
      datacenter: catalog.datacenter,
      datacenters: () => catalog.datacenters(),
      register: (req) => viaStore(servers, () => catalog.register(req)),
      deregister: (req) => viaStore(servers, () => catalog.deregister(req)),
      read: (query) => catalog.read(query),
      block: (query, opts) => catalog.block(query, opts),
      fresh: (maxMs) => viaStore(servers, async () => catalog.fresh?.(maxMs)),
    }
  }
  if (kv !== undefined) {
    gated.kv = {
      datacenters: () => kv.datacenters(),
      kvPut: (req) => viaStore(servers, () => kv.kvPut(req)),
      kvDelete: (req) => viaStore(servers, () => kv.kvDelete(req)),
      kvRead: (query) => kv.kvRead(query),
      kvBlock: (query, opts) => kv.kvBlock(query, opts),
      txn: (ops) => viaStore(servers, () => kv.txn(ops)),
      sessionCreate: (req) => viaStore(servers, () => kv.sessionCreate(req)),
      sessionDestroy: (id) => viaStore(servers, () => kv.sessionDestroy(id)),
      sessionRenew: (id) => viaStore(servers, () => kv.sessionRenew(id)),
      read: (query) => kv.read(query),
      block: (query, opts) => kv.block(query, opts),
      fresh: (maxMs) => viaStore(servers, async () => kv.fresh?.(maxMs)),
    }
  }
  return gated
}

/**
 * Freshness across servers (servers.md §4, pitfalls 5 and 8): a read in the default or
 * `consistent` mode waits until this server's view has every write acknowledged before it, by any
 * server sharing the store, so a client that moves between servers never sees an index go back
 * (Consul gets this by sending such reads to its leader). A `stale` read answers from the view as
 * it is, unless `max_stale` is exceeded by this server's last contact. With one server in process
 * the view is always current and this costs one await. Returns the consistency the read is
 * answered with (`X-Consul-Effective-Consistency`).
 */
export async function beFresh(
  deps: Pick<RouteDeps, 'servers'>,
  port: { fresh?(maxMs: number): Promise<void> },
  query: URLSearchParams,
): Promise<Consistency> {
  let consistency = parseConsistency(query)
  if (consistency === 'stale') {
    const maxStaleMs = parseMaxStaleMs(query)
    if (maxStaleMs === 0 || leaderContact(deps).lastContactMs <= maxStaleMs) return 'stale'
    consistency = 'leader'
  }
  await port.fresh?.(RPC_HOLD_TIMEOUT_MS)
  return consistency
}
