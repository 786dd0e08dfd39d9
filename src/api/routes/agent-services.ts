import { BadRequestError, NotFoundError } from '../../lib/errors.js'
import { decodeJsonBody } from '../../structs/go-json.js'
import { normalizeServiceDefinition } from '../../structs/normalize.js'
import { hashBlockingQuery } from '../blocking.js'
import { agentServiceSchema, compileFilter } from '../../filter/index.js'
import { goMap } from '../json.js'
import { parseEnable, parseWaitMs } from '../params.js'
import { renderAgentService, renderAgentServiceWithHash } from '../render-service.js'
import type { ApiRequest } from '../request.js'
import { EMPTY_OK, jsonResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/** `/v1/agent/services`, `/v1/agent/service/...` (http-api.md §9). */
export function agentServiceRoutes(deps: RouteDeps): RouteSpec[] {
  const { agent } = deps
  const dc = agent.config.datacenter

  const list = (req: ApiRequest): ApiResponse => {
    const keep = compileFilter(req.query.get('filter') ?? '', agentServiceSchema)
    const out: [string, unknown][] = []
    for (const { service } of agent.read.services()) {
      const wire = renderAgentService(service, dc)
      if (keep(wire)) out.push([service.id, wire])
    }
    return jsonResponse(goMap(out))
  }

  const get = async (req: ApiRequest): Promise<ApiResponse> => {
    const waitMs = parseWaitMs(req.query)
    const id = req.rest
    const result = await hashBlockingQuery({
      hash: req.query.get('hash') ?? '',
      waitMs,
      clock: deps.clock,
      random: deps.random,
      signal: req.signal,
      watch: (onChange) =>
        agent.read.subscribe((c) => {
          if (c.kind === 'service' && c.serviceId === id) onChange()
        }),
      compute: () => {
        const entry = agent.read.service(id)
        if (entry === undefined) throw new NotFoundError(`unknown service ID: ${id}`)
        const { hash, body } = renderAgentServiceWithHash(entry.service, dc)
        return { hash, value: body }
      },
    })
    return jsonResponse(result.value, 200, { 'X-Consul-ContentHash': result.hash })
  }

  const register = async (req: ApiRequest): Promise<ApiResponse> => {
    const reg = normalizeServiceDefinition(decodeJsonBody(req.body), agent.commands.normalizeContext('api'))
    await agent.commands.registerService(reg, { replaceExistingChecks: replaceExistingChecks(req.query) })
    return EMPTY_OK
  }

  const deregister = async (req: ApiRequest): Promise<ApiResponse> => {
    await agent.commands.deregisterService(req.rest)
    return EMPTY_OK
  }

  const maintenance = async (req: ApiRequest): Promise<ApiResponse> => {
    if (req.rest === '') throw new BadRequestError('Missing service ID')
    const enable = parseEnable(req.query)
    await agent.commands.setServiceMaintenance(req.rest, enable, req.query.get('reason') ?? '', req.token)
    return EMPTY_OK
  }

  return [
    { pattern: '/v1/agent/services', methods: ['GET'], handler: list },
    { pattern: '/v1/agent/service/', methods: ['GET'], handler: get },
    { pattern: '/v1/agent/service/register', methods: ['PUT'], handler: register },
    { pattern: '/v1/agent/service/deregister/', methods: ['PUT'], handler: deregister },
    { pattern: '/v1/agent/service/maintenance/', methods: ['PUT'], handler: maintenance },
  ]
}

/** True only when present with an empty value or exactly `true` (`=1` is false), http-api.md §9. */
export function replaceExistingChecks(query: URLSearchParams): boolean {
  if (!query.has('replace-existing-checks')) return false
  const value = query.get('replace-existing-checks')
  return value === '' || value === 'true'
}
