import { VIGIL_VERSION, type AgentSettings } from './agent-settings.js'

/** Serf member status. */
export type MemberStatus = 'none' | 'alive' | 'leaving' | 'left' | 'failed'

/** A gossip pool member as this agent sees it (Consul's `serf.Member`). Frozen. */
export type Member = Readonly<{
  name: string
  addr: string
  port: number
  tags: Readonly<Record<string, string>>
  status: MemberStatus
  protocolMin: number
  protocolMax: number
  protocolCur: number
  delegateMin: number
  delegateMax: number
  delegateCur: number
}>

type MemberSettings = Pick<
  AgentSettings,
  'nodeName' | 'datacenter' | 'server' | 'bootstrap' | 'bindAddr' | 'advertiseAddr' | 'ports'
>

/**
 * This agent as a LAN member, with the tags Consul gossips (http-api.md §14). A lone agent that
 * joined nobody lists only itself, alive.
 */
export function localMember(config: MemberSettings, nodeId: string): Member {
  const common = { dc: config.datacenter, id: nodeId, segment: '', vsn: '2', vsn_min: '2', vsn_max: '3' }
  const build = `${VIGIL_VERSION}:`
  const tags: Record<string, string> = config.server
    ? {
        ...common,
        role: 'consul',
        port: String(config.ports.server),
        raft_vsn: '3',
        build,
        ...(config.bootstrap ? { bootstrap: '1' } : {}),
      }
    : { ...common, role: 'node', build }
  return Object.freeze({
    name: config.nodeName,
    addr: config.advertiseAddr !== '' ? config.advertiseAddr : config.bindAddr,
    port: config.ports.serfLan,
    tags: Object.freeze(tags),
    status: 'alive',
    protocolMin: 1,
    protocolMax: 5,
    protocolCur: 2,
    delegateMin: 2,
    delegateMax: 5,
    delegateCur: 4,
  })
}
