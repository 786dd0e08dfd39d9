/**
 * The server role (DESIGN.md "Roles and processes"): the catalog above its store, and the
 * server's own node in it. Election, leader tasks and membership across the servers sharing the
 * store are started on top of it by server-cluster.ts.
 */
import { join } from 'node:path'
import type { AgentSettings } from '../agent/agent-settings.js'
import { VIGIL_VERSION } from '../agent/agent-settings.js'
import type { NodeInfo } from '../agent/sync/catalog-port.js'
import { Catalog } from '../catalog/catalog.js'
import { assertNoRestoreFence, snapshotPort, type SnapshotPort } from '../catalog/snapshot.js'
import { nodeRegistration } from '../catalog/types.js'
import type { Clock } from '../lib/clock.js'
import { serfHealthCheck } from '../cluster/serf-health.js'
import type { Service } from '../structs/service.js'
import type { StoreConfig } from '../config/agent-config.js'
import { openEmbeddedStore, type StoreLogger } from '../store/embedded.js'
import { openEtcdStore } from '../store/etcd.js'
import { MemoryStore } from '../store/memory.js'
import type { Store } from '../store/store.js'

export interface ServerRole {
  readonly catalog: Catalog
  /** The store under the catalog (its leases carry the server's presence). */
  readonly store: Store
  /** `/v1/snapshot`: save and restore this datacenter's catalog (docs/snapshot.md). */
  readonly snapshots: SnapshotPort
  close(): Promise<void>
}

export interface ServerRoleOptions {
  /** `store` absent: the embedded store. */
  readonly config: AgentSettings & { readonly store?: StoreConfig }
  readonly clock: Clock
  readonly random: () => number
  readonly onError: (err: unknown) => void
  /** Where the embedded store logs (a failed snapshot, a stale lock taken over). */
  readonly storeLogger?: StoreLogger
}

/** The catalog's key prefix for a datacenter (shared with the etcd store's layout). */
export function catalogPrefix(datacenter: string): string {
  return `vigil/${datacenter}/`
}

/** This agent as a catalog node (http-api.md §10: tagged addresses and meta an agent owns). */
export function localNodeInfo(
  config: Pick<AgentSettings, 'nodeName' | 'datacenter' | 'advertiseAddr' | 'nodeMeta'> & {
    readonly advertiseAddrWan?: string
  },
  nodeId: string,
): NodeInfo {
  const lan = config.advertiseAddr
  const wan =
    config.advertiseAddrWan !== undefined && config.advertiseAddrWan !== '' ? config.advertiseAddrWan : lan
  const v6 = lan.includes(':')
  return Object.freeze({
    id: nodeId,
    node: config.nodeName,
    address: lan,
    datacenter: config.datacenter,
    taggedAddresses: Object.freeze({
      lan,
      [v6 ? 'lan_ipv6' : 'lan_ipv4']: lan,
      wan,
      [wan.includes(':') ? 'wan_ipv6' : 'wan_ipv4']: wan,
    }),
    meta: Object.freeze({
      ...config.nodeMeta,
      'consul-network-segment': '',
      'consul-version': VIGIL_VERSION,
    }),
  })
}

/** The `consul` service every server node carries (http-api.md §10). */
function serverService(port: number): Service {
  return Object.freeze({
    id: 'consul',
    name: 'consul',
    tags: Object.freeze([]),
    address: '',
    port,
    socketPath: '',
    taggedAddresses: Object.freeze({}),
    meta: Object.freeze({
      non_voter: 'false',
      raft_version: '3',
      read_replica: 'false',
      serf_protocol_current: '2',
      serf_protocol_max: '5',
      serf_protocol_min: '1',
      version: VIGIL_VERSION,
    }),
    weights: Object.freeze({ passing: 1, warning: 1 }),
    enableTagOverride: false,
    kind: '',
    proxy: null,
    connectNative: false,
    locallyRegisteredAsSidecar: false,
  })
}

/** The catalog's directory inside the agent's data dir. */
export function catalogDataDir(dataDir: string): string {
  return join(dataDir, 'catalog')
}

/** The store a server's config asks for, and the catalog's prefix in it. */
async function openStore(opts: ServerRoleOptions): Promise<{ store: Store; prefix: string }> {
  const { config, clock } = opts
  const etcd = config.store?.backend === 'etcd' ? config.store.etcd : undefined
  if (etcd !== undefined) {
    const prefix = etcd.prefix.endsWith('/') ? etcd.prefix : `${etcd.prefix}/`
    const store = await openEtcdStore({
      endpoints: etcd.endpoints,
      prefix,
      caFile: etcd.caFile,
      certFile: etcd.certFile,
      keyFile: etcd.keyFile,
    })
    // A prefix an offline snapshot restore is still writing would serve a partial catalog.
    await assertNoRestoreFence(store, prefix).catch(async (err: unknown) => {
      await store.close()
      throw err
    })
    return { store, prefix }
  }
  const store =
    config.dataDir !== '' && !config.dev
      ? await openEmbeddedStore(catalogDataDir(config.dataDir), {
          clock,
          ...(opts.storeLogger !== undefined ? { logger: opts.storeLogger } : {}),
        })
      : new MemoryStore({ clock })
  return { store, prefix: catalogPrefix(config.datacenter) }
}

/**
 * Opens the store and the catalog: durable in `<data-dir>/catalog` (the embedded store), in
 * memory in `-dev` without a data dir, or on etcd (`-store etcd`).
 */
export async function startServerRole(opts: ServerRoleOptions): Promise<ServerRole> {
  const { config, clock } = opts
  const { store, prefix } = await openStore(opts)
  const catalog = await Catalog.open({
    store,
    prefix,
    datacenter: config.datacenter,
    clock,
    random: opts.random,
    onError: opts.onError,
  })
  return {
    catalog,
    store,
    snapshots: snapshotPort({ store, prefix, datacenter: config.datacenter, now: () => clock.now() }),
    close: async () => {
      await catalog.close()
      await store.close()
    },
  }
}

/**
 * Writes this server's own node: `serfHealth` passing and the `consul` service. Idempotent:
 * an unchanged node writes nothing and moves no index.
 */
export async function registerServerNode(
  catalog: Catalog,
  node: NodeInfo,
  serverPort: number,
): Promise<void> {
  await catalog.register(
    nodeRegistration(node, serverService(serverPort), [serfHealthCheck(node.node, 'passing')]),
  )
}
