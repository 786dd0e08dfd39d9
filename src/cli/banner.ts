/**
 * The text `vigil agent` prints on start (cli.md §6): the info lines under
 * `==> Starting vigil agent...`, labels right-aligned as Consul aligns them.
 */
import type { AgentConfig } from '../config/agent-config.js'

export interface BannerFacts {
  readonly version: string
  readonly buildDate: string
  readonly nodeId: string
  readonly config: AgentConfig
}

export const STARTING_LINE = '==> Starting vigil agent...\n'
export const LOG_STREAM_LINE = '==> Log data will now stream in as it occurs:\n'

/** The aligned info lines, a blank line, then the log-stream headline and a blank line. */
export function formatBanner(facts: BannerFacts): string {
  const { config } = facts
  const lines: [string, string][] = [
    ['Version', `'${facts.version}'`],
    ['Build Date', `'${facts.buildDate}'`],
    ['Node ID', `'${facts.nodeId}'`],
    ['Node name', `'${config.nodeName}'`],
    ['Datacenter', `'${config.datacenter}' (Segment: '${config.server ? '<all>' : ''}')`],
    ['Server', `${config.server} (Bootstrap: ${config.bootstrap})`],
    [
      'Client Addr',
      `[${config.clientAddrs.join(' ')}] (HTTP: ${config.ports.http}, HTTPS: ${config.ports.https}, gRPC: ${config.ports.grpc}, gRPC-TLS: ${config.ports.grpcTls}, DNS: ${config.ports.dns})`,
    ],
    ['Cluster Addr', `${config.advertiseAddr} (LAN: ${config.ports.serfLan}, WAN: ${config.ports.serfWan})`],
    ['Gossip Encryption', 'false'],
    ['Auto-Encrypt-TLS', 'false'],
    ['ACLs Enabled', String(config.aclEnabled)],
    ['HTTPS TLS', 'Verify Incoming: false, Verify Outgoing: false, Min Version: TLSv1_2'],
    ['gRPC TLS', 'Verify Incoming: false, Min Version: TLSv1_2'],
    [
      'Internal RPC TLS',
      'Verify Incoming: false, Verify Outgoing: false (Verify Hostname: false), Min Version: TLSv1_2',
    ],
  ]
  const width = 4 + Math.max(...lines.map(([label]) => label.length))
  const body = lines.map(([label, value]) => `${label.padStart(width)}: ${value}\n`).join('')
  return `${body}\n${LOG_STREAM_LINE}\n`
}
