import { KV_MAX_VALUE_SIZE, type TxnOp, type TxnResultItem } from '../../catalog/kv-types.js'
import type { RegisterRequest } from '../../catalog/types.js'
import { VigilError } from '../../lib/errors.js'
import { decodeCatalogRegister } from '../catalog-body.js'
import { leaderHeaders } from '../leader.js'
import { renderCatalogCheck, renderNode, renderNodeService } from '../render-catalog.js'
import { headerValue, type ApiRequest } from '../request.js'
import { jsonResponse, textResponse, type ApiResponse } from '../response.js'
import type { RouteSpec } from '../routing.js'
import type { RouteDeps } from './deps.js'
import { kvOf, parseUint64, renderDirEntry } from './kv.js'

/** Consul's `txn_max_req_len`. */
const TXN_MAX_REQ_LEN = 524_288

/** A body `/v1/txn` cannot decode: `400 Failed to parse body: …`. */
class TxnParseError extends VigilError {
  readonly code = 'VIGIL_ERR_DECODE'
  readonly statusCode = 400
  constructor(detail: string) {
    super(`Failed to parse body: ${detail}`)
  }
}

const KV_FIELDS = new Set(['Verb', 'Key', 'Value', 'Flags', 'Index', 'Session', 'Namespace', 'Partition'])

function decodeKvOp(raw: Record<string, unknown>): TxnOp {
  for (const k of Object.keys(raw))
    if (!KV_FIELDS.has(k)) throw new TxnParseError(`json: unknown field "${k}"`)
  const str = (name: string): string => {
    const v = raw[name]
    if (v === undefined || v === null) return ''
    if (typeof v !== 'string')
      throw new TxnParseError(
        `json: cannot unmarshal ${typeof v} into Go struct field KVTxnOp.${name} of type string`,
      )
    return v
  }
  const uint = (name: string): bigint => {
    const v = raw[name]
    if (v === undefined || v === null) return 0n
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new TxnParseError(
        `json: cannot unmarshal ${typeof v} into Go struct field KVTxnOp.${name} of type uint64`,
      )
    }
    return parseUint64(String(v))
  }
  const b64 = str('Value')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new TxnParseError('illegal base64 data at input byte 0')
  }
  return {
    kv: {
      verb: str('Verb'),
      key: str('Key'),
      value: b64 === '' ? null : Buffer.from(b64, 'base64'),
      flags: uint('Flags'),
      index: Number(uint('Index')),
      session: str('Session'),
    },
  }
}

/** The body: an array of operations, each with exactly one of `KV`, `Node`, `Service`, `Check`. */
export function decodeTxnBody(body: string): TxnOp[] {
  let raw: unknown
  try {
    raw = JSON.parse(body === '' ? 'null' : body) as unknown
  } catch (err) {
    throw new TxnParseError(err instanceof Error ? err.message : String(err))
  }
  if (raw === null) return []
  if (!Array.isArray(raw))
    throw new TxnParseError('json: cannot unmarshal object into Go value of type api.TxnOps')
  return raw.map((op: unknown) => {
    if (typeof op !== 'object' || op === null || Array.isArray(op)) {
      throw new TxnParseError('json: cannot unmarshal into Go value of type api.TxnOp')
    }
    const o = op as Record<string, unknown>
    for (const k of Object.keys(o)) {
      if (!['KV', 'Node', 'Service', 'Check'].includes(k))
        throw new TxnParseError(`json: unknown field "${k}"`)
    }
    const keys = Object.keys(o).filter((k) => o[k] !== null && o[k] !== undefined)
    if (keys.length !== 1)
      throw new TxnParseError('an operation must have exactly one of KV, Node, Service, Check')
    const kind = keys[0] ?? ''
    const inner = asObject(o[kind], kind)
    switch (kind) {
      case 'KV':
        return decodeKvOp(inner)
      case 'Node':
        return decodeNodeOp(inner)
      case 'Service':
        return decodeServiceOp(inner)
      default:
        return decodeCheckOp(inner)
    }
  })
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TxnParseError(`json: cannot unmarshal into Go struct field TxnOp.${what}`)
  }
  return v as Record<string, unknown>
}

function verbOf(o: Record<string, unknown>): string {
  const v = o['Verb']
  if (v === undefined || v === null) return ''
  if (typeof v !== 'string')
    throw new TxnParseError('json: cannot unmarshal into Go struct field Verb of type string')
  return v
}

function indexOf(o: Record<string, unknown>): number {
  const v = o['ModifyIndex']
  if (v === undefined || v === null) return 0
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new TxnParseError('json: cannot unmarshal into Go struct field ModifyIndex of type uint64')
  }
  return v
}

/** Decodes a catalog object through the register body's decoder (Go-style, unknown fields refused). */
function viaRegister(body: Record<string, unknown>): RegisterRequest {
  try {
    return decodeCatalogRegister(JSON.stringify(body)).request
  } catch (err) {
    if (err instanceof VigilError && err.statusCode === 400) {
      throw new TxnParseError(err.message.replace(/^Request decode failed: /, ''))
    }
    throw err
  }
}

function decodeNodeOp(o: Record<string, unknown>): TxnOp {
  const node = asObject(o['Node'] ?? {}, 'Node')
  const { Meta, ModifyIndex: _m, CreateIndex: _c, ...rest } = node
  const req = viaRegister({ ...rest, ...(Meta !== undefined ? { NodeMeta: Meta } : {}) })
  return {
    node: {
      verb: verbOf(o),
      node: {
        id: req.id,
        node: req.node,
        address: req.address,
        datacenter: req.datacenter,
        taggedAddresses: req.taggedAddresses,
        meta: req.nodeMeta,
      },
      modifyIndex: indexOf(node),
    },
  }
}

function decodeServiceOp(o: Record<string, unknown>): TxnOp {
  const service = asObject(o['Service'] ?? {}, 'Service')
  const node = typeof o['Node'] === 'string' ? o['Node'] : ''
  const req = viaRegister({ Node: node, SkipNodeUpdate: true, Service: service })
  if (req.service === null) throw new TxnParseError('missing Service')
  return { service: { verb: verbOf(o), node, service: req.service, modifyIndex: indexOf(service) } }
}

function decodeCheckOp(o: Record<string, unknown>): TxnOp {
  const check = asObject(o['Check'] ?? {}, 'Check')
  const node = typeof check['Node'] === 'string' ? check['Node'] : ''
  const req = viaRegister({ Node: node, SkipNodeUpdate: true, Check: check })
  const input = req.checks[0]
  if (input === undefined) throw new TxnParseError('missing Check')
  return { check: { verb: verbOf(o), check: input, modifyIndex: indexOf(check) } }
}

function renderResult(item: TxnResultItem): Record<string, unknown> {
  if ('kv' in item) return { KV: renderDirEntry(item.kv) }
  if ('node' in item) return { Node: renderNode(item.node) }
  if ('service' in item) return { Service: renderNodeService(item.service) }
  return { Check: renderCatalogCheck(item.check) }
}

/** `PUT /v1/txn` (kv-session-txn.md §6). */
export function txnRoutes(deps: RouteDeps): RouteSpec[] {
  const txn = async (req: ApiRequest): Promise<ApiResponse> => {
    const max = Math.max(TXN_MAX_REQ_LEN, KV_MAX_VALUE_SIZE)
    const declared = Number(headerValue(req.headers, 'content-length') || '0')
    if (declared > max) {
      return textResponse(
        413,
        `Request body(${declared} bytes) too large, max size: ${max} bytes. See https://www.consul.io/docs/agent/config/config-files#txn_max_req_len.`,
      )
    }
    const ops = decodeTxnBody(req.body)
    const r = await kvOf(deps).txn(ops)
    if (!r.ok) {
      return jsonResponse(
        { Results: null, Errors: r.errors.map((e) => ({ OpIndex: e.opIndex, What: e.what })) },
        409,
      )
    }
    return jsonResponse({ Results: r.results.map(renderResult), Errors: null }, 200, leaderHeaders(deps))
  }
  return [{ pattern: '/v1/txn', methods: ['PUT'], handler: txn }]
}
