import { ConfigError, errorMessage } from '../lib/errors.js'
import type { CheckRegistration } from '../structs/check.js'
import { normalizeCheckDefinition, normalizeServiceDefinition } from '../structs/normalize.js'
import type { ServiceRegistration } from '../structs/service.js'
import type { AgentSettings, ConfigDefinition } from './agent-settings.js'
import type { AgentCore } from './core.js'
import type { CheckEntry } from './local/local-state.js'
import {
  applyCheckRegistration,
  applyServiceRegistration,
  isUnchanged,
  unregisterCheck,
  unregisterServices,
} from './registration.js'
import { sidecarIdFor } from './sidecar.js'

/**
 * Applies changed config-file definitions (agent-state.md §13, cli.md §4): services and checks
 * added, changed or removed in the config are registered or removed; API registrations are not
 * touched; a check whose definition did not change keeps its runner, thresholds and status.
 *
 * Contract: invalid definitions fail the whole reload with a ConfigError and change nothing; the
 * rest runs under the agent's exclusive lock and touches no file (config-file definitions are
 * never persisted).
 */
export async function reload(
  core: AgentCore,
  next: Pick<AgentSettings, 'services' | 'checks'>,
): Promise<void> {
  const { services, checks } = normalizeConfig(core, next)
  await core.locks.exclusive(async () => {
    const wantedServices = new Set(services.map((r) => r.service.id))
    for (const r of services) if (r.sidecarService !== null) wantedServices.add(sidecarIdFor(r.service.id))
    const wantedChecks = new Set([
      ...checks.map((c) => c.check.checkId),
      ...services.flatMap((r) => r.checks.map((c) => c.check.checkId)),
    ])
    for (const entry of core.state.services()) {
      if (entry.source !== 'local' || wantedServices.has(entry.service.id)) continue
      await unregisterServices(core, [entry.service.id])
      core.log.info({ service: entry.service.id }, 'Removed service no longer in the configuration')
    }
    for (const entry of core.state.checks()) {
      const id = entry.check.checkId
      if (entry.source !== 'local' || entry.definition.type === 'maintenance' || wantedChecks.has(id))
        continue
      if (!isSidecarDefaultCheck(core, entry)) {
        await unregisterCheck(core, id)
        core.log.info({ check: id }, 'Removed check no longer in the configuration')
      }
    }
    for (const reg of services)
      await applyServiceRegistration(core, reg, {
        replaceExistingChecks: false,
        persist: false,
        keepUnchanged: true,
      })
    for (const reg of checks) {
      if (!isUnchanged(core, reg)) await applyCheckRegistration(core, reg, { persist: false })
    }
    core.log.info({ services: services.length, checks: checks.length }, 'Configuration reloaded')
  })
}

/** Normalizes config-file definitions; any invalid one → ConfigError naming every problem. */
export function normalizeConfig(
  core: AgentCore,
  config: Pick<AgentSettings, 'services' | 'checks'>,
): { services: ServiceRegistration[]; checks: CheckRegistration[] } {
  const ctx = core.normalizeContext('config')
  const problems: string[] = []
  const normalizeAll = <T>(defs: readonly ConfigDefinition[], fn: (d: unknown) => T): T[] =>
    defs.flatMap((d) => {
      try {
        return [fn(d.definition)]
      } catch (err) {
        problems.push(`${d.source}: ${errorMessage(err)}`)
        return []
      }
    })
  const services = normalizeAll(config.services, (d) => normalizeServiceDefinition(d, ctx))
  const checks = normalizeAll(config.checks, (d) => normalizeCheckDefinition(d, ctx))
  if (problems.length > 0) throw new ConfigError(problems)
  return { services, checks }
}

/** Checks a config sidecar got by default are named by the sidecar's ID, not by the config. */
function isSidecarDefaultCheck(core: AgentCore, entry: CheckEntry): boolean {
  return core.state.service(entry.check.serviceId)?.service.locallyRegisteredAsSidecar === true
}
