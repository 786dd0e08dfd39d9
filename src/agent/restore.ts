import { errorMessage } from '../lib/errors.js'
import type { AgentCore } from './core.js'
import type { LoadedState } from './persistence/agent-store.js'
import {
  decodeCheckEntry,
  decodeServiceEntry,
  type ContextFor,
  type PersistedCheck,
  type PersistedService,
} from './persistence/entries.js'
import { applyCheckRegistration, applyServiceRegistration } from './registration.js'
import { normalizeConfig } from './reload.js'

/**
 * Start-up registration (agent-state.md §12): config-file services, then persisted services
 * (a config service with the same ID wins and the file is deleted), then config-file checks,
 * then persisted checks (forced critical, unless a TTL check's saved state is still valid,
 * which is restored together with the remaining TTL).
 *
 * Persisted entries are definitions decoded through the normalizer, as API registrations are:
 * an entry it refuses (a hand-edited file, a script check while `enable_script_checks` is off) is
 * logged with its file and the reason and skipped, and the others load; its file stays.
 *
 * Contract: runs once, before the API opens, under the agent's exclusive lock. Files that no
 * longer apply (shadowed by config, orphaned checks, expired or stray TTL state) are deleted.
 */
export async function restore(core: AgentCore): Promise<void> {
  const { services: configServices, checks: configChecks } = normalizeConfig(core, core.config)
  const store = core.store
  const loaded: LoadedState =
    store !== null ? await store.load() : { services: [], checks: [], ttlStates: new Map() }
  const ctxFor: ContextFor = (origin) => core.normalizeContext(origin)
  const services = decodeAll(core, loaded.services, (s): PersistedService => {
    const p = decodeServiceEntry(s.path, s.entry, ctxFor)
    if (p.service.id !== s.serviceId) {
      throw new Error(
        `Invalid service in ${s.path}: ID ${JSON.stringify(p.service.id)} is not ${JSON.stringify(s.serviceId)}`,
      )
    }
    return p
  })
  const checks = decodeAll(core, loaded.checks, (c): PersistedCheck => {
    const p = decodeCheckEntry(c.path, c.entry, ctxFor)
    if (p.check.checkId !== c.checkId) {
      throw new Error(
        `Invalid check in ${c.path}: ID ${JSON.stringify(p.check.checkId)} is not ${JSON.stringify(c.checkId)}`,
      )
    }
    return p
  })
  await core.locks.exclusive(async () => {
    for (const reg of configServices)
      await applyServiceRegistration(core, reg, { replaceExistingChecks: false, persist: false })
    for (const p of services) {
      if (core.state.service(p.service.id) !== undefined) {
        await store?.deleteService(p.service.id)
        continue
      }
      core.state.apply({ service: p })
    }
    for (const reg of configChecks) await applyCheckRegistration(core, reg, { persist: false })
    const now = core.clock.now()
    const restoredTtl = new Set<string>()
    for (const p of checks) {
      const id = p.check.checkId
      const serviceId = p.check.serviceId
      if (
        core.state.check(id) !== undefined ||
        (serviceId !== '' && core.state.service(serviceId) === undefined)
      ) {
        await store?.deleteCheck(id)
        continue
      }
      const ttl = p.definition.type === 'ttl' ? loaded.ttlStates.get(id) : undefined
      const valid = ttl !== undefined && ttl.expiresMs > now
      if (ttl !== undefined && !valid) await store?.deleteTtlState(id)
      if (valid) restoredTtl.add(id)
      await applyCheckRegistration(core, p, {
        persist: false,
        initial: valid ? { status: ttl.status, output: ttl.output } : { status: 'critical', output: '' },
        ...(valid ? { resume: { ttlRemainingMs: ttl.expiresMs - now, lastOutput: ttl.output } } : {}),
      })
    }
    for (const id of loaded.ttlStates.keys()) {
      if (!restoredTtl.has(id) && core.state.check(id)?.definition.type !== 'ttl')
        await store?.deleteTtlState(id)
    }
  })
}

/** Decodes each entry; one that fails is logged with its file and left out. */
function decodeAll<S extends { readonly path: string }, T>(
  core: AgentCore,
  stored: readonly S[],
  decode: (s: S) => T,
): T[] {
  const out: T[] = []
  for (const s of stored) {
    try {
      out.push(decode(s))
    } catch (err) {
      core.log.error({ file: s.path, err: errorMessage(err) }, 'Not restoring a persisted definition')
    }
  }
  return out
}
