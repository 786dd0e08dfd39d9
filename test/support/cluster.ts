import { createHash } from 'node:crypto'
import { localMember, type Member } from '../../src/agent/member.js'
import type { NodeInfo } from '../../src/agent/sync/catalog-port.js'

/** A node ID of its own for each name (Consul refuses two nodes with one ID). */
export function nodeIdOf(name: string): string {
  const h = createHash('sha256').update(name).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

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
    nodeIdOf(name),
  )
}

/** The catalog node fields such a member heartbeats with. */
export function nodeInfo(name: string): NodeInfo {
  return Object.freeze({
    id: nodeIdOf(name),
    node: name,
    address: '127.0.0.2',
    datacenter: 'dc1',
    taggedAddresses: Object.freeze({ lan: '127.0.0.2' }),
    meta: Object.freeze({}),
  })
}
