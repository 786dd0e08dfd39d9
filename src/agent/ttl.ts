import { NotTtlCheckError, ShuttingDownError, UnknownCheckError } from '../lib/errors.js'
import type { Status } from '../structs/check.js'
import { effectiveOutputLimit, truncateHead } from './checks/output.js'
import { TtlRunner } from './checks/ttl-check.js'
import { checkKey, type AgentCore } from './core.js'
import type { CheckEntry } from './local/local-state.js'

/**
 * pass/warn/fail/update of a TTL check (checks.md §5): writes status and (truncated) output for
 * the check's current registration, then restarts the TTL of that registration's runner.
 *
 * Contract: unknown and non-TTL checks are refused before anything is queued. With a data dir the
 * state is written to disk first (agent-state.md §12, rename without fsync, as Consul) under the
 * check's lock, so updates of one check, its registration and its deregistration are ordered and
 * disk and memory agree on the last one. Refused once the agent is shutting down.
 */
export async function updateTtl(
  core: AgentCore,
  checkId: string,
  status: Status,
  output: string,
): Promise<void> {
  if (core.locks.closed) throw new ShuttingDownError()
  const store = core.store
  if (store === null) {
    applyTtl(core, ttlEntry(core, checkId), status, output)
    return
  }
  ttlEntry(core, checkId)
  await core.locks.withKeys(
    () => [checkKey(checkId)],
    async () => {
      const entry = ttlEntry(core, checkId)
      await store.saveTtlState({
        checkId,
        status,
        output: ttlOutput(core, entry, output),
        expiresMs: core.clock.now() + entry.definition.ttlMs,
      })
      applyTtl(core, entry, status, output)
    },
  )
}

function ttlEntry(core: AgentCore, checkId: string): CheckEntry {
  const entry = core.state.check(checkId)
  if (entry === undefined) throw new UnknownCheckError(checkId)
  if (entry.definition.type !== 'ttl') throw new NotTtlCheckError(checkId)
  return entry
}

function ttlOutput(core: AgentCore, entry: CheckEntry, output: string): string {
  // LocalState blanks every stored output under discard_check_output; this keeps it off disk too.
  if (core.config.discardCheckOutput) return ''
  return truncateHead(
    output,
    effectiveOutputLimit(entry.definition.outputMaxSize, core.config.checkOutputMaxSize),
  )
}

function applyTtl(core: AgentCore, entry: CheckEntry, status: Status, output: string): void {
  const checkId = entry.check.checkId
  const stored = ttlOutput(core, entry, output)
  core.state.updateCheck(checkId, entry.generation, status, stored)
  const live = core.checks.runner(checkId)
  if (live !== undefined && live.generation === entry.generation && live.runner instanceof TtlRunner) {
    live.runner.rearm(stored)
  }
}
