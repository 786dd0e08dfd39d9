/** `ports.*`: zero or negative disables a listener (-1); the rest must be valid TCP ports. */
import type { PortsConfig } from '../agent-config.js'
import type { BuildContext } from './context.js'
import type { TreeReader } from './reader.js'

export function readPorts(r: TreeReader, ctx: BuildContext): PortsConfig {
  const { problems } = ctx.report
  const port = (key: string, def: number): number => {
    const v = r.num(`ports.${key}`, def)
    if (v <= 0) return -1
    if (v > 65535) problems.push(`ports.${key}: invalid port: ${v}`)
    return v
  }
  const ports = {
    http: port('http', 8500),
    https: port('https', -1),
    dns: port('dns', 8600),
    grpc: port('grpc', -1),
    grpcTls: port('grpc_tls', -1),
    serfLan: port('serf_lan', 8301),
    serfWan: port('serf_wan', 8302),
    server: port('server', 8300),
    sidecarMinPort: port('sidecar_min_port', 21000),
    sidecarMaxPort: port('sidecar_max_port', 21255),
    exposeMinPort: port('expose_min_port', 21500),
    exposeMaxPort: port('expose_max_port', 21755),
  }
  if (ports.server <= 0) problems.push('server-port must be greater than zero')
  if (ports.serfLan <= 0) problems.push('serf-lan-port must be greater than zero')
  if (ports.sidecarMaxPort < ports.sidecarMinPort) {
    problems.push('sidecar_min_port must be less than sidecar_max_port. To disable, set both to zero.')
  }
  if (ports.exposeMaxPort < ports.exposeMinPort) {
    problems.push('expose_min_port must be less than expose_max_port. To disable, set both to zero.')
  }
  return ports
}
