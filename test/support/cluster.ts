import { localMember, type Member } from '../../src/agent/member.js'
import type { NodeInfo } from '../../src/agent/sync/catalog-port.js'

/** A member as a lone agent on 127.0.0.2 describes itself (a server when `server`). */
export function member(name: string, server = false): Member {
  return localMember(
    {
      nodeName: name,
      datacenter: 'dc1',
      server,
      bootstrap: server,
      bindAddr: '127.0.0.2',
      advertiseAddr: '127.0.0.2',
      ports: { serfLan: 8301, server: 8300, sidecarMinPort: 21000, sidecarMaxPort: 21255 },
    },
    '00000000-0000-0000-0000-000000000002',
  )
}

/** The catalog node fields such a member heartbeats with. */
export function nodeInfo(name: string): NodeInfo {
  return Object.freeze({
    id: '00000000-0000-0000-0000-000000000002',
    node: name,
    address: '127.0.0.2',
    datacenter: 'dc1',
    taggedAddresses: Object.freeze({ lan: '127.0.0.2' }),
    meta: Object.freeze({}),
  })
}
