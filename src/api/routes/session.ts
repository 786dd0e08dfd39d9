import { UnknownDatacenterError } from '../../catalog/errors.js'
import type { QueryResult } from '../../catalog/blocking.js'
import { nodeSessionsQuery, sessionInfoQuery, sessionListQuery } from '../../catalog/kv-queries.js'
import type { ServiceCheckRef, SessionCreateRequest, SessionRecord } from '../../catalog/kv-types.js'
import type { CatalogQuery } from '../../catalog/queries.js'
import { InvalidDurationError, parseGoDurationNs } from '../../lib/duration.js'
import { BadRequestError, DecodeError } from '../../lib/errors.js'
import { beFresh } from '../leader.js'
import { parseConsistency, parseWaitMs } from '../params.js'
import type { ApiRequest } from '../request.js'
import { jsonResponse, textResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'
import { kvOf, readHeaders } from './kv.js'

/** Consul's `structs.Session` on the wire. */
export function renderSession(s: SessionRecord): Record<string, unknown> {
  return {
    ID: s.id,
    Name: s.name,
    Node: s.node,
    LockDelay: s.lockDelayNs,
    Behavior: s.behavior,
    TTL: s.ttl,
    NodeChecks: [...s.nodeChecks],
    ServiceChecks:
      s.serviceChecks === null ? null : s.serviceChecks.map((c) => ({ ID: c.id, Namespace: c.namespace })),
    ...(s.checks !== null ? { Checks: [...s.checks] } : {}),
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  }
}

function stringList(v: unknown, field: string): string[] | null {
  if (v === null) return null
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new DecodeError(
      `json: cannot unmarshal ${typeof v} into Go struct field Session.${field} of type []types.CheckID`,
    )
  }
  return v
}

/** The create body: keys match case-insensitively; unknown keys are ignored (kv-session-txn.md §4). */
export function decodeSessionCreate(body: string, defaultNode: string): SessionCreateRequest {
  let raw: unknown = {}
  if (body.trim() !== '') {
    try {
      raw = JSON.parse(body) as unknown
    } catch (err) {
      throw new DecodeError(err instanceof Error ? err.message : String(err))
    }
  }
  if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new DecodeError('json: cannot unmarshal into Go value of type structs.Session')
  }
  const fields = new Map<string, unknown>()
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) fields.set(k.toLowerCase(), v)
  const str = (name: string, field: string): string | undefined => {
    const v = fields.get(name)
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'string') {
      throw new DecodeError(
        `json: cannot unmarshal ${typeof v} into Go struct field Session.${field} of type string`,
      )
    }
    return v
  }
  let lockDelayNs: number | undefined
  const ld = fields.get('lockdelay')
  if (typeof ld === 'number') lockDelayNs = ld
  else if (typeof ld === 'string') {
    try {
      lockDelayNs = parseGoDurationNs(ld)
    } catch (err) {
      if (err instanceof InvalidDurationError) throw new DecodeError(err.message)
      throw err
    }
  } else if (ld !== undefined && ld !== null) throw new DecodeError('json: invalid LockDelay')
  let serviceChecks: ServiceCheckRef[] | null | undefined
  const sc = fields.get('servicechecks')
  if (Array.isArray(sc)) {
    serviceChecks = sc.map((c: unknown) => {
      const o = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>
      const lower = new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]))
      const id = lower.get('id')
      const ns = lower.get('namespace')
      return { id: typeof id === 'string' ? id : '', namespace: typeof ns === 'string' ? ns : '' }
    })
  } else if (sc === null) serviceChecks = null
  const nodeChecks = fields.has('nodechecks') ? stringList(fields.get('nodechecks'), 'NodeChecks') : undefined
  const checks = fields.has('checks') ? stringList(fields.get('checks'), 'Checks') : undefined
  const name = str('name', 'Name')
  const behavior = str('behavior', 'Behavior')
  const ttl = str('ttl', 'TTL')
  return {
    node: str('node', 'Node') ?? defaultNode,
    ...(name !== undefined ? { name } : {}),
    ...(behavior !== undefined ? { behavior } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...(lockDelayNs !== undefined ? { lockDelayNs } : {}),
    ...(nodeChecks !== undefined ? { nodeChecks } : {}),
    ...(checks !== undefined ? { checks } : {}),
    ...(serviceChecks !== undefined ? { serviceChecks } : {}),
  }
}

/** `/v1/session/*` (kv-session-txn.md §4). */
export function sessionRoutes(deps: RouteDeps): RouteSpec[] {
  const required = (req: ApiRequest, missing: string): string => {
    if (req.rest === '') throw new BadRequestError(missing)
    return req.rest
  }

  const answer = async (
    req: ApiRequest,
    query: CatalogQuery<readonly SessionRecord[]>,
  ): Promise<ApiResponse> => {
    const kv = kvOf(deps)
    parseConsistency(req.query) // a conflicting mode answers 400 before anything else
    const dc = req.query.get('dc') ?? ''
    if (dc !== '' && !kv.datacenters().includes(dc)) throw new UnknownDatacenterError(dc)
    const waitMs = parseWaitMs(req.query)
    const raw = req.query.get('index') ?? ''
    const index = raw === '' ? 0 : Number(raw)
    const consistency = await beFresh(deps, kv, req.query)
    const r: QueryResult<readonly SessionRecord[]> =
      index > 0 ? await kv.block(query, { index, waitMs, signal: req.signal }) : kv.read(query)
    return jsonResponse(r.value.map(renderSession), 200, readHeaders(deps, r.index, consistency))
  }

  const create = async (req: ApiRequest): Promise<ApiResponse> => {
    const body = decodeSessionCreate(req.body, deps.agent.config.nodeName)
    const r = await kvOf(deps).sessionCreate(body)
    return jsonResponse({ ID: r.id })
  }

  const destroy = async (req: ApiRequest): Promise<ApiResponse> => {
    await kvOf(deps).sessionDestroy(required(req, 'Missing session'))
    return jsonResponse(true)
  }

  const renew = async (req: ApiRequest): Promise<ApiResponse> => {
    const id = required(req, 'Missing session')
    const s = await kvOf(deps).sessionRenew(id)
    if (s === null) return textResponse(404, `Session id '${id}' not found`)
    return jsonResponse([renderSession(s)])
  }

  return [
    { pattern: '/v1/session/create', methods: ['PUT'], handler: create },
    { pattern: '/v1/session/destroy/', methods: ['PUT'], handler: destroy },
    { pattern: '/v1/session/renew/', methods: ['PUT'], handler: renew },
    {
      pattern: '/v1/session/info/',
      methods: ['GET'],
      handler: (req) => answer(req, sessionInfoQuery(required(req, 'Missing session'))),
    },
    {
      pattern: '/v1/session/node/',
      methods: ['GET'],
      handler: (req) => answer(req, nodeSessionsQuery(required(req, 'Missing node name'))),
    },
    { pattern: '/v1/session/list', methods: ['GET'], handler: (req) => answer(req, sessionListQuery()) },
  ]
}
