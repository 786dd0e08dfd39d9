/** Where a server keeps its catalog (`store` block and `-store`/`-etcd-*` flags; vigil's own keys). */
import type { AgentConfig, StoreConfig } from '../agent-config.js'
import type { BuildContext } from './context.js'
import type { TreeReader } from './reader.js'

export function readStore(r: TreeReader, ctx: BuildContext, datacenter: string): Pick<AgentConfig, 'store'> {
  const { problems } = ctx.report
  const raw = r.str('store.backend', 'embedded')
  const backend = raw === 'embedded' || raw === 'etcd' ? raw : undefined
  if (backend === undefined)
    problems.push(`store: invalid backend ${JSON.stringify(raw)}: must be 'embedded' or 'etcd'`)
  // -etcd-endpoints takes a comma-separated list; the config file a list of URLs.
  const endpoints = r
    .strs('store.etcd.endpoints')
    .flatMap((e) => e.split(','))
    .map((e) => e.trim())
    .filter((e) => e !== '')
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e))
      problems.push(
        `store: invalid etcd endpoint ${JSON.stringify(e)}: must be http://host:port or https://host:port`,
      )
  }
  if (new Set(endpoints.map((e) => e.startsWith('https:'))).size > 1)
    problems.push('store: etcd endpoints must be all http:// or all https://')
  const caFile = r.str('store.etcd.ca_file')
  const certFile = r.str('store.etcd.cert_file')
  const keyFile = r.str('store.etcd.key_file')
  if ((certFile === '') !== (keyFile === ''))
    problems.push('store: -etcd-cert-file and -etcd-key-file must be given together')
  if (backend === 'etcd') {
    if (!r.bool('server')) ctx.report.warnings.push("store: backend 'etcd' has no effect on a client agent")
    if (endpoints.length === 0) problems.push("store: backend 'etcd' needs etcd endpoints (-etcd-endpoints)")
    if (ctx.dev) problems.push("store: backend 'etcd' is not allowed in dev mode")
  }
  const prefix = r.str('store.etcd.prefix', `/vigil/${datacenter}`)
  if (prefix === '') problems.push('store: the etcd prefix cannot be empty')
  const store: StoreConfig = {
    backend: backend ?? 'embedded',
    etcd: { endpoints, prefix, caFile, certFile, keyFile },
  }
  return { store }
}
