import type { SyncStatus } from '../agent/sync/anti-entropy.js'
import { availableParallelism } from 'node:os'
import { VIGIL_VERSION } from '../agent/agent-settings.js'
import type { AgentPort } from '../agent/ports.js'
import { localMember, type Member, type MemberStatus } from '../agent/member.js'
import { buildInfo } from '../config/build-info.js'
import { goMap } from './json.js'
import type { WireObject } from './render-service.js'
import type { HttpApiSettings } from './settings.js'

const MEMBER_STATUS: Readonly<Record<MemberStatus, number>> = {
  none: 0,
  alive: 1,
  leaving: 2,
  left: 3,
  failed: 4,
}

/** A member as `/v1/agent/members` and `Self.Member` return it (Consul's `serf.Member`). */
export function renderMember(m: Member): WireObject {
  return {
    Name: m.name,
    Addr: m.addr,
    Port: m.port,
    Tags: goMap(m.tags),
    Status: MEMBER_STATUS[m.status],
    ProtocolMin: m.protocolMin,
    ProtocolMax: m.protocolMax,
    ProtocolCur: m.protocolCur,
    DelegateMin: m.delegateMin,
    DelegateMax: m.delegateMax,
    DelegateCur: m.delegateCur,
  }
}

/**
 * `/v1/agent/self` (http-api.md §9): `Config` is the stable part clients read; `DebugConfig` is
 * a small, unstable view of the runtime configuration; no coordinates (`Coord` null).
 */
export function renderSelf(agent: AgentPort, settings: HttpApiSettings): WireObject {
  const c = agent.config
  const entries = agent.read.checks()
  return {
    Config: {
      Datacenter: c.datacenter,
      PrimaryDatacenter: settings.primaryDatacenter !== '' ? settings.primaryDatacenter : c.datacenter,
      NodeName: c.nodeName,
      NodeID: agent.nodeId,
      Revision: buildInfo().revision,
      Server: c.server,
      Version: VIGIL_VERSION,
      BuildDate: buildInfo().buildDate,
    },
    DebugConfig: {
      AdvertiseAddrLAN: c.advertiseAddr,
      BindAddr: c.bindAddr,
      Bootstrap: c.bootstrap,
      ClientAddrs: [...settings.addresses.http],
      Datacenter: c.datacenter,
      DevMode: c.dev,
      EnableLocalScriptChecks: c.enableLocalScriptChecks,
      EnableRemoteScriptChecks: c.enableScriptChecks,
      HTTPPort: settings.ports.http,
      NodeID: agent.nodeId,
      NodeName: c.nodeName,
      PrimaryDatacenter: settings.primaryDatacenter,
      ServerMode: c.server,
      UIConfig: { Enabled: settings.uiEnabled },
    },
    Coord: null,
    Member: renderMember(localMember(c, agent.nodeId)),
    Stats: goMap({
      agent: goMap({
        check_monitors: String(entries.filter((e) => e.definition.type === 'script').length),
        check_ttls: String(entries.filter((e) => e.definition.type === 'ttl').length),
        checks: String(entries.length),
        services: String(agent.read.serviceCount()),
      }),
      build: goMap({
        prerelease: '',
        revision: buildInfo().revision,
        version: VIGIL_VERSION,
        version_metadata: '',
      }),
      consul: goMap(
        c.server
          ? { bootstrap: String(c.bootstrap), known_datacenters: '1', leader: 'true', server: 'true' }
          : { known_servers: '0', server: 'false' },
      ),
      runtime: goMap({
        arch: goArch(process.arch),
        cpu_count: String(availableParallelism()),
        max_procs: String(availableParallelism()),
        os: process.platform,
        version: process.version,
      }),
    }),
    Meta: goMap({ ...c.nodeMeta, 'consul-network-segment': '', 'consul-version': VIGIL_VERSION }),
  }
}

function goArch(arch: string): string {
  return arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch
}

/** RFC 3339 with milliseconds, or null. */
function instant(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

/**
 * `GET /v1/agent/sync` (vigil's own, hashicorp/consul#6119): anti-entropy's state, what is not in
 * sync and why (`missing`, `differs`, `output` held back by check_update_interval, `remote-only`
 * to be removed, `node`), and the last error. `Enabled` is false on an agent without a catalog.
 */
export function renderSyncStatus(status: SyncStatus | null): WireObject {
  if (status === null) return { Enabled: false }
  const pending: [string, string][] = [...status.pending].map(([k, v]) => [k, v])
  const deferred: [string, unknown][] = [...status.deferred].map(([k, v]) => [`check:${k}`, instant(v)])
  return {
    Enabled: true,
    State: status.state,
    InSync: status.pending.size === 0,
    LastFullSync: instant(status.lastFullSyncMs),
    LastSync: instant(status.lastSyncMs),
    NextFullSync: instant(status.nextFullSyncMs),
    LastError: status.lastError,
    LastErrorAt: instant(status.lastErrorMs),
    Pending: goMap(pending),
    Deferred: goMap(deferred),
  }
}
