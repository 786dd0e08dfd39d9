/** The catalog the DNS benchmarks answer from: <instances> passing instances of `web`. */
import { MemoryDnsCatalog } from '../test/support/dns-catalog.js'

export function benchCatalog(instances: number): MemoryDnsCatalog {
  const catalog = new MemoryDnsCatalog()
  for (let i = 0; i < instances; i++) {
    catalog.add({
      node: `node-${i}`,
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      nodeMeta: { rack: `r${i % 7}` },
      service: 'web',
      id: `web-${i}`,
      port: 8000 + (i % 1000),
      checks: ['passing'],
    })
  }
  return catalog
}
