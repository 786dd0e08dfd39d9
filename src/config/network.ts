/**
 * Address helpers for the agent configuration: IP checks, the go-sockaddr templates people put
 * in `bind_addr`/`client_addr` (the common subset), and the private-IPv4 detection Consul does
 * when bound to `0.0.0.0`.
 */
import { isIP, isIPv4 } from 'node:net'
import type { NetworkInterfaceInfo } from 'node:os'

export type InterfaceTable = Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>

/** Thrown for a template vigil cannot expand; the message says which ones it can. */
export class AddressTemplateError extends Error {}

/** `0.0.0.0`, `::` or `[::]`. */
export function isAnyAddr(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::' || addr === '[::]'
}

/** An IP literal (`[::]` allowed), normalized: brackets dropped. */
export function parseIp(addr: string): string | undefined {
  const bare = addr.startsWith('[') && addr.endsWith(']') ? addr.slice(1, -1) : addr
  return isIP(bare) === 0 ? undefined : bare
}

/**
 * Expands `{{ GetPrivateIP }}`, `{{ GetPrivateIPs }}`, `{{ GetPublicIP }}`, `{{ GetPublicIPs }}`,
 * `{{ GetInterfaceIP "eth0" }}` and `{{ GetInterfaceIPs "eth0" }}`, then splits on whitespace.
 * Text without `{{` is only split.
 */
export function expandAddrTemplate(input: string, interfaces: InterfaceTable): string[] {
  const expanded = input.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_whole, expr: string) => {
    const m = /^(GetPrivateIPs?|GetPublicIPs?|GetInterfaceIPs?)(?:\s+"([^"]*)")?$/.exec(expr.trim())
    if (m === null) {
      throw new AddressTemplateError(
        `unsupported template {{ ${expr} }}: vigil supports GetPrivateIP(s), GetPublicIP(s) and GetInterfaceIP(s) "name"`,
      )
    }
    const fn = m[1] ?? ''
    const all = fn.endsWith('s')
    let ips: string[]
    if (fn.startsWith('GetPrivate')) ips = privateIPv4s(interfaces)
    else if (fn.startsWith('GetPublic')) ips = publicIps(interfaces)
    else {
      const name = m[2]
      if (name === undefined) throw new AddressTemplateError(`${fn} needs an interface name`)
      const list = interfaces[name]
      if (list === undefined)
        throw new AddressTemplateError(`unable to find interface ${JSON.stringify(name)}`)
      const v4 = list.filter((a) => a.family === 'IPv4').map((a) => a.address)
      ips = v4.length > 0 ? v4 : list.map((a) => a.address)
    }
    return all ? ips.join(' ') : (ips[0] ?? '')
  })
  return expanded.split(/\s+/).filter((x) => x !== '')
}

/** Non-loopback IPv4 addresses in RFC 1918 and RFC 6598 ranges, as go-sockaddr's GetPrivateIP. */
export function privateIPv4s(interfaces: InterfaceTable): string[] {
  return uniqueAddresses(interfaces).filter((a) => isIPv4(a) && isPrivateIPv4(a))
}

/** Global unicast addresses that are neither private nor link-local. */
export function publicIps(interfaces: InterfaceTable): string[] {
  return uniqueAddresses(interfaces).filter((a) =>
    isIPv4(a) ? !isPrivateIPv4(a) && !a.startsWith('169.254.') : isGlobalIPv6(a),
  )
}

/** Global unicast IPv6 addresses (not link-local, not unique-local), for `bind_addr = "::"`. */
export function publicIPv6s(interfaces: InterfaceTable): string[] {
  return uniqueAddresses(interfaces).filter((a) => isIP(a) === 6 && isGlobalIPv6(a))
}

function uniqueAddresses(interfaces: InterfaceTable): string[] {
  const out: string[] = []
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue
      if (!out.includes(a.address)) out.push(a.address)
    }
  }
  return out
}

function isPrivateIPv4(addr: string): boolean {
  const [a = 0, b = 0] = addr.split('.').map(Number)
  return (
    a === 10 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127)
  )
}

function isGlobalIPv6(addr: string): boolean {
  const first = parseInt(addr.split(':')[0] ?? '0', 16)
  return first >= 0x2000 && first <= 0x3fff
}

/** Whether `cidr` is an IPv4 or IPv6 CIDR (`10.0.0.0/8`, `::1/128`). */
export function isCidr(cidr: string): boolean {
  const m = /^(.+)\/(\d{1,3})$/.exec(cidr.trim())
  if (m === null) return false
  const family = isIP(m[1] ?? '')
  const bits = Number(m[2])
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128)
}
