/**
 * Addresses: `bind_addr`, `advertise_addr`(`_wan`), `client_addr` and the per-listener
 * `addresses.*`, each a go-sockaddr template expanded against the host's interfaces.
 */
import { networkInterfaces as osNetworkInterfaces } from 'node:os'
import type { AgentConfig } from '../agent-config.js'
import {
  AddressTemplateError,
  expandAddrTemplate,
  isAnyAddr,
  parseIp,
  privateIPv4s,
  publicIPv6s,
  type InterfaceTable,
} from '../network.js'
import type { BuildContext } from './context.js'
import type { TreeReader } from './reader.js'

export function readAddresses(
  r: TreeReader,
  ctx: BuildContext,
): Pick<AgentConfig, 'bindAddr' | 'advertiseAddr' | 'advertiseAddrWan' | 'clientAddrs' | 'addresses'> {
  const { problems, warnings } = ctx.report
  const interfaces = (): InterfaceTable => (ctx.env.networkInterfaces ?? osNetworkInterfaces)()
  const expand = (key: string, raw: string): string[] | undefined => {
    try {
      return expandAddrTemplate(raw, interfaces())
    } catch (err) {
      if (!(err instanceof AddressTemplateError)) throw err
      problems.push(`${key}: error parsing ${JSON.stringify(raw)}: ${err.message}`)
      return undefined
    }
  }
  const expandIps = (key: string, raw: string): string[] => {
    const out: string[] = []
    for (const a of expand(key, raw) ?? []) {
      if (a.startsWith('unix://')) {
        out.push(a)
        continue
      }
      const ip = parseIp(a)
      if (ip === undefined) problems.push(`${key}: invalid ip address: ${a}`)
      else out.push(ip)
    }
    return out
  }

  let bindAddr = '0.0.0.0'
  let addrsOk = true
  const bindExpanded = expand('bind_addr', r.str('bind_addr', '0.0.0.0'))
  if (bindExpanded === undefined) addrsOk = false
  else if (bindExpanded.length === 0) {
    problems.push('bind_addr cannot be empty')
    addrsOk = false
  } else if (bindExpanded.length > 1) {
    problems.push("bind_addr cannot contain multiple addresses. Use 'addresses.{dns,http,https}' instead.")
    addrsOk = false
  } else if ((bindExpanded[0] ?? '').startsWith('unix://')) {
    problems.push('bind_addr cannot be a unix socket')
    addrsOk = false
  } else {
    const ip = parseIp(bindExpanded[0] ?? '')
    if (ip === undefined) {
      problems.push('bind_addr must be an ip address')
      addrsOk = false
    } else bindAddr = ip
  }

  const firstIp = (key: string): string | undefined => {
    const raw = r.optStr(key)
    if (raw === undefined || raw === '') return undefined
    const first = expand(key, raw)?.[0]
    if (first === undefined) return undefined
    const ip = parseIp(first)
    if (ip === undefined) problems.push(`${key}: invalid ip address: ${first}`)
    return ip
  }
  const advertiseGiven = firstIp('advertise_addr')
  const advertiseWanGiven = firstIp('advertise_addr_wan')
  if (advertiseGiven !== undefined && isAnyAddr(advertiseGiven)) {
    problems.push('Advertise address cannot be 0.0.0.0, :: or [::]')
    addrsOk = false
  }
  if (advertiseWanGiven !== undefined && isAnyAddr(advertiseWanGiven)) {
    problems.push('Advertise WAN address cannot be 0.0.0.0, :: or [::]')
  }
  let advertiseAddr = advertiseGiven ?? bindAddr
  if (addrsOk && isAnyAddr(advertiseAddr)) {
    const v4 = advertiseAddr === '0.0.0.0'
    const kind = v4 ? 'private IPv4' : 'public IPv6'
    const found = v4 ? privateIPv4s(interfaces()) : publicIPv6s(interfaces())
    if (found.length === 0) problems.push(`No ${kind} address found`)
    else if (found.length > 1) {
      problems.push(`Multiple ${kind} addresses found. Please configure one with 'bind' and/or 'advertise'.`)
    } else advertiseAddr = found[0] ?? advertiseAddr
  }
  const advertiseAddrWan = advertiseWanGiven ?? advertiseAddr

  const clientAddrs = expandIps('client_addr', r.str('client_addr', '127.0.0.1'))
  if (clientAddrs.length === 0) {
    warnings.push(
      'client_addr is empty, client services (DNS, HTTP, HTTPS, GRPC) will not be listening for connections',
    )
  }
  const listener = (key: string): string[] => {
    const raw = r.optStr(`addresses.${key}`)
    return raw === undefined || raw === '' ? clientAddrs : expandIps(`addresses.${key}`, raw)
  }
  return {
    bindAddr,
    advertiseAddr,
    advertiseAddrWan,
    clientAddrs,
    addresses: {
      http: listener('http'),
      https: listener('https'),
      dns: listener('dns'),
      grpc: listener('grpc'),
      grpcTls: listener('grpc_tls'),
    },
  }
}
