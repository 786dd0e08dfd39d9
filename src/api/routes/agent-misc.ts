import { localMember } from '../../agent/member.js'
import type { ClusterPort } from '../../cluster/ports.js'
import { BadRequestError, UnsupportedMediaTypeError, errorMessage } from '../../lib/errors.js'
import { parseEnable } from '../params.js'
import { renderMember, renderSelf, renderSyncStatus } from '../render-agent.js'
import { headerValue, type ApiRequest } from '../request.js'
import { EMPTY_OK, jsonResponse, textResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'

/** `/v1/agent/self`, `members`, `maintenance`, `metrics` (http-api.md §9). */
export function agentMiscRoutes(deps: RouteDeps): RouteSpec[] {
  const { agent, settings, metrics } = deps

  const self = (): ApiResponse => jsonResponse(renderSelf(agent, settings))

  const members = (req: ApiRequest): ApiResponse => {
    const wan = (req.query.get('wan') ?? '') !== ''
    const segment = req.query.get('segment') ?? ''
    if (wan && segment !== '' && segment !== '_all') {
      throw new BadRequestError('Cannot provide a segment with wan=true')
    }
    const me = localMember(agent.config, agent.nodeId)
    if (!wan) return jsonResponse((deps.cluster?.members() ?? [me]).map(renderMember))
    if (!agent.config.server) return jsonResponse([])
    const wanName = `${me.name}.${agent.config.datacenter}`
    return jsonResponse([renderMember({ ...me, name: wanName, port: settings.ports.serfWan })])
  }

  const maintenance = async (req: ApiRequest): Promise<ApiResponse> => {
    const enable = parseEnable(req.query)
    await agent.commands.setNodeMaintenance(enable, req.query.get('reason') ?? '', req.token)
    return EMPTY_OK
  }

  const metricsHandler = async (req: ApiRequest): Promise<ApiResponse> => {
    if (!wantsPrometheus(req)) return jsonResponse(metrics.summary())
    if (settings.telemetry.prometheusRetentionTimeMs <= 0) {
      throw new UnsupportedMediaTypeError(
        'Prometheus is not enabled since its retention time is not positive',
      )
    }
    return textResponse(200, await metrics.prometheus(), metrics.prometheusContentType)
  }

  const cluster = (): ClusterPort => {
    if (deps.cluster === null) throw new Error('this agent has no cluster membership')
    return deps.cluster
  }

  const join = async (req: ApiRequest): Promise<ApiResponse> => {
    if ((req.query.get('wan') ?? '') !== '') {
      throw new Error('vigil does not support WAN federation: join agents of one datacenter')
    }
    await cluster().join(req.rest)
    return EMPTY_OK
  }

  const forceLeave = async (req: ApiRequest): Promise<ApiResponse> => {
    // Consul: `prune` by presence; `wan` too (no WAN pool here: nothing more to do).
    await cluster().forceLeave(req.rest, req.query.has('prune'))
    return EMPTY_OK
  }

  return [
    { pattern: '/v1/agent/join/', methods: ['PUT'], handler: join },
    {
      pattern: '/v1/agent/leave',
      methods: ['PUT'],
      handler: async () => {
        await cluster().leave()
        return EMPTY_OK
      },
    },
    { pattern: '/v1/agent/force-leave/', methods: ['PUT'], handler: forceLeave },
    {
      pattern: '/v1/agent/sync',
      methods: ['GET'],
      handler: () => jsonResponse(renderSyncStatus(deps.cluster?.syncStatus() ?? null)),
    },
    { pattern: '/v1/agent/self', methods: ['GET'], handler: self },
    { pattern: '/v1/agent/members', methods: ['GET'], handler: members },
    { pattern: '/v1/agent/maintenance', methods: ['PUT'], handler: maintenance },
    { pattern: '/v1/agent/metrics', methods: ['GET'], handler: metricsHandler },
    {
      pattern: '/v1/agent/reload',
      methods: ['PUT'],
      handler: async () => {
        // Consul answers a failed reload with 500 and the error text.
        await deps.reload().catch((err: unknown) => {
          throw new Error(errorMessage(err), { cause: err })
        })
        return EMPTY_OK
      },
    },
  ]
}

/** `?format=prometheus`, or an OpenMetrics / Prometheus 0.4 text `Accept` (Consul's rule). */
function wantsPrometheus(req: ApiRequest): boolean {
  if (req.query.get('format') === 'prometheus') return true
  return headerValue(req.headers, 'accept')
    .split(',')
    .some((v) => {
      const [mime = '', param] = v.split(';')
      const type = mime.trim().toLowerCase()
      return (
        type === 'application/openmetrics-text' ||
        (type === 'text/plain' && param?.trim() === 'version=0.4.0')
      )
    })
}
