import { BadRequestError } from '../../lib/errors.js'
import type { AggregateStatus } from '../../structs/check.js'
import type { Service } from '../../structs/service.js'
import { renderApiHealthCheck } from '../render-check.js'
import { renderAgentService } from '../render-service.js'
import { headerValue, type ApiRequest } from '../request.js'
import { jsonResponse, textResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/** Consul answers these with `Content-Type: text/plain` (no charset). */
const TEXT_PLAIN = 'text/plain'

interface InstanceHealth {
  readonly status: AggregateStatus
  readonly code: number
  readonly body: Record<string, unknown>
}

/**
 * `/v1/agent/health/service/id/:id` and `/name/:name` (http-api.md §9): the aggregate of the
 * service's checks plus the node's, as 200 (passing), 429 (warning) or 503 (critical,
 * maintenance); 404 when absent. `X-Consul-Reason` carries the status text.
 */
export function agentHealthRoutes(deps: RouteDeps): RouteSpec[] {
  const { agent } = deps
  const dc = agent.config.datacenter

  const instance = (service: Service): InstanceHealth => {
    const { status } = agent.read.serviceHealth(service.id)
    const checks = agent.read
      .checks()
      .filter((e) => e.check.serviceId === service.id || e.check.serviceId === '')
      .map(renderApiHealthCheck)
    return {
      status,
      code: status === 'passing' ? 200 : status === 'warning' ? 429 : 503,
      body: { AggregatedStatus: status, Service: renderAgentService(service, dc), Checks: checks },
    }
  }

  const byId = (req: ApiRequest): ApiResponse => {
    const id = req.rest
    if (id === '') throw new BadRequestError('Missing serviceID')
    const entry = agent.read.service(id)
    if (entry === undefined) {
      const reason = `ServiceId ${id} not found`
      return answer(req, 404, reason, { AggregatedStatus: 'critical', Service: null, Checks: null })
    }
    const h = instance(entry.service)
    return answer(req, h.code, h.status, h.body)
  }

  const byName = (req: ApiRequest): ApiResponse => {
    const name = req.rest
    if (name === '') throw new BadRequestError('Missing service Name')
    const services = agent.read
      .services()
      .map((e) => e.service)
      .filter((s) => s.name === name)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    let code = 404
    let reason = `ServiceName ${name} Not Found`
    const bodies: Record<string, unknown>[] = []
    for (const s of services) {
      const h = instance(s)
      bodies.push(h.body)
      if (code === 404 || h.code > code) {
        code = h.code
        reason = h.status
      }
    }
    return answer(req, code, reason, bodies)
  }

  return [
    { pattern: '/v1/agent/health/service/id/', methods: ['GET'], handler: byId },
    { pattern: '/v1/agent/health/service/name/', methods: ['GET'], handler: byName },
  ]
}

function answer(req: ApiRequest, code: number, reason: string, body: unknown): ApiResponse {
  const headers = { 'X-Consul-Reason': reason }
  return wantsText(req) ? textResponse(code, reason, TEXT_PLAIN, headers) : jsonResponse(body, code, headers)
}

/** Consul's `returnTextPlain`: an `Accept` starting with text/plain, else `?format=text`. */
function wantsText(req: ApiRequest): boolean {
  if (headerValue(req.headers, 'accept').startsWith('text/plain')) return true
  return (req.query.get('format') ?? '') === 'text'
}
