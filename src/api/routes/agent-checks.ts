import { explainCheck, type CheckExplanation } from '../../agent/explain.js'
import type { CheckEntry } from '../../agent/local/local-state.js'
import type { Status } from '../../structs/check.js'
import { decodeJsonBody } from '../../structs/go-json.js'
import { normalizeCheckDefinition, normalizeCheckUpdate } from '../../structs/normalize.js'
import { compileFilter, healthCheckSchema } from '../../filter/index.js'
import { encodeRecordMap, FragmentCache } from '../json.js'
import { renderHealthCheck } from '../render-check.js'
import type { ApiRequest } from '../request.js'
import { EMPTY_OK, encodedJsonResponse, jsonResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/** `/v1/agent/checks`, `/v1/agent/check/...` (http-api.md §9). */
export function agentCheckRoutes(deps: RouteDeps): RouteSpec[] {
  const { agent } = deps

  // Entries are immutable, so each version of a check is rendered once, and the whole unfiltered
  // document is reused until local state changes (the hot read of the agent API).
  const rendered = new FragmentCache<CheckEntry>(renderHealthCheck)
  let whole: { version: number; compact?: Buffer; pretty?: Buffer } = { version: -1 }
  const pairs = (keep: ((wire: unknown) => boolean) | null): [string, CheckEntry][] => {
    const out: [string, CheckEntry][] = []
    for (const entry of agent.read.checks()) {
      if (keep === null || keep(rendered.wire(entry))) out.push([entry.check.checkId, entry])
    }
    return out
  }
  const list = (req: ApiRequest): ApiResponse => {
    const filter = req.query.get('filter') ?? ''
    if (filter !== '') {
      const out = pairs(compileFilter(filter, healthCheckSchema))
      return encodedJsonResponse((pretty) => encodeRecordMap(out, rendered, pretty))
    }
    const version = agent.read.version
    if (whole.version !== version) whole = { version }
    const doc = whole
    // The document is encoded from the state current when it is first sent, which is at least
    // `version`; a later change raises the version, so a newer reader never gets this document.
    return encodedJsonResponse((pretty) =>
      pretty
        ? (doc.pretty ??= Buffer.from(encodeRecordMap(pairs(null), rendered, true)))
        : (doc.compact ??= Buffer.from(encodeRecordMap(pairs(null), rendered, false))),
    )
  }

  const register = async (req: ApiRequest): Promise<ApiResponse> => {
    const reg = normalizeCheckDefinition(decodeJsonBody(req.body), agent.commands.normalizeContext('api'))
    await agent.commands.registerCheck(reg)
    return EMPTY_OK
  }

  const deregister = async (req: ApiRequest): Promise<ApiResponse> => {
    await agent.commands.deregisterCheck(req.rest)
    return EMPTY_OK
  }

  const ttl =
    (status: Status) =>
    async (req: ApiRequest): Promise<ApiResponse> => {
      await agent.commands.updateTtl(req.rest, status, req.query.get('note') ?? '')
      return EMPTY_OK
    }

  const update = async (req: ApiRequest): Promise<ApiResponse> => {
    const { status, output } = normalizeCheckUpdate(decodeJsonBody(req.body))
    await agent.commands.updateTtl(req.rest, status, output)
    return EMPTY_OK
  }

  /** vigil's own: why a check has its status, down an alias chain (no Consul equivalent). */
  const explain = (req: ApiRequest): ApiResponse =>
    jsonResponse(renderExplanation(explainCheck(agent.read, req.rest)))

  return [
    { pattern: '/v1/agent/checks', methods: ['GET'], handler: list },
    { pattern: '/v1/agent/check/explain/', methods: ['GET'], handler: explain },
    { pattern: '/v1/agent/check/register', methods: ['PUT'], handler: register },
    { pattern: '/v1/agent/check/deregister/', methods: ['PUT'], handler: deregister },
    { pattern: '/v1/agent/check/pass/', methods: ['PUT'], handler: ttl('passing') },
    { pattern: '/v1/agent/check/warn/', methods: ['PUT'], handler: ttl('warning') },
    { pattern: '/v1/agent/check/fail/', methods: ['PUT'], handler: ttl('critical') },
    { pattern: '/v1/agent/check/update/', methods: ['PUT'], handler: update },
  ]
}

/** An explanation as `GET /v1/agent/check/explain/:id` answers it. */
export function renderExplanation(e: CheckExplanation): unknown {
  return {
    CheckID: e.checkId,
    Name: e.name,
    Type: e.type,
    ServiceID: e.serviceId,
    Status: e.status,
    Output: e.output,
    StatusChanged: new Date(e.statusChangedMs).toISOString(),
    Reason: e.reason,
    Remote: e.remote === null ? null : { Node: e.remote.node, ServiceID: e.remote.serviceId },
    Alias:
      e.alias === null
        ? null
        : {
            TargetServiceID: e.alias.targetServiceId,
            TargetExists: e.alias.targetExists,
            EvaluatedStatus: e.alias.evaluatedStatus,
            EvaluatedOutput: e.alias.evaluatedOutput,
            DecidedBy: e.alias.decidedBy,
            Cycle: e.alias.cycle,
            Checks: e.alias.checks.map(renderExplanation),
          },
  }
}
