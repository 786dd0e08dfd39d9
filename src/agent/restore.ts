import type { CheckRegistration } from '../structs/check.js'
import type { AgentCore } from './core.js'
import type { LoadedState } from './persistence/agent-store.js'
import { applyCheckRegistration, applyServiceRegistration } from './registration.js'
import { normalizeConfig } from './reload.js'

/**
 * Start-up registration (agent-state.md §12): config-file services, then persisted services
 * (a config service with the same ID wins and the file is deleted), then config-file checks,
 * then persisted checks (forced critical, unless a TTL check's saved state is still valid,
 * which is restored together with the remaining TTL).
 *
 * Contract: runs once, before the API opens, under the agent's exclusive lock. Files that no
 * longer apply (shadowed by config, orphaned checks, expired or stray TTL state) are deleted.
 */
export async function restore(core: AgentCore): Promise<void> {
  const { services: configServices, checks: configChecks } = normalizeConfig(core, core.config)
  const store = core.store
  const loaded: LoadedState =
    store !== null ? await store.load() : { services: [], checks: [], ttlStates: new Map() }
  await core.locks.exclusive(async () => {
    for (const reg of configServices)
      await applyServiceRegistration(core, reg, { replaceExistingChecks: false, persist: false })
    for (const p of loaded.services) {
      if (core.state.service(p.service.id) !== undefined) {
        await store?.deleteService(p.service.id)
        continue
      }
      core.state.apply({ service: p })
    }
    for (const reg of configChecks) await applyCheckRegistration(core, reg, { persist: false })
    const now = core.clock.now()
    const restoredTtl = new Set<string>()
    for (const p of loaded.checks) {
      const id = p.check.checkId
      const serviceId = p.check.serviceId
      if (
        core.state.check(id) !== undefined ||
        (serviceId !== '' && core.state.service(serviceId) === undefined)
      ) {
        await store?.deleteCheck(id)
        continue
      }
      if (p.definition.type === 'script' && !core.config.enableScriptChecks && p.source === 'remote') {
        core.log.error({ check: id }, 'Not restoring a script check: enable_script_checks is off')
        continue
      }
      const ttl = p.definition.type === 'ttl' ? loaded.ttlStates.get(id) : undefined
      const valid = ttl !== undefined && ttl.expiresMs > now
      if (ttl !== undefined && !valid) await store?.deleteTtlState(id)
      if (valid) restoredTtl.add(id)
      const reg: CheckRegistration = {
        check: p.check,
        definition: p.definition,
        token: p.token,
        source: p.source,
      }
      await applyCheckRegistration(core, reg, {
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
