/**
 * `/v1/txn` (consul `agent/txn_endpoint.go`, `agent/consul/state/txn.go`): every operation runs
 * in order on ONE planner draft, so the whole transaction is one store txn at one revision, each
 * operation sees the ones before it, and several operations on one key fold into one write. Any
 * failing operation fails the transaction: nothing is sent, and every failure is listed.
 */
import { KvRequestError } from './errors.js'
import {
  PENDING,
  checkValueSize,
  keysUnder,
  kvCas,
  kvDelete,
  kvDeleteCas,
  kvDeleteTree,
  kvLock,
  kvSet,
  kvUnlock,
  planned,
  q,
  readEntry,
  resolveEntry,
  type KvContext,
  type PlannedWrite,
} from './kv-planner.js'
import { CatalogRequestError } from './errors.js'
import {
  TXN_MAX_OPS,
  type KvEntry,
  type TxnError,
  type TxnOp,
  type TxnResult,
  type TxnResultItem,
} from './kv-types.js'
import { deregisterInto, registerInto, type Draft, type PlanDefaults } from './planner.js'
import type { CheckRecord, NodeRecord, RegisterRequest, ServiceRecord } from './types.js'

type KvOp = Extract<TxnOp, { kv: unknown }>['kv']
type NodeOp = Extract<TxnOp, { node: unknown }>['node']
type ServiceOp = Extract<TxnOp, { service: unknown }>['service']
type CheckOp = Extract<TxnOp, { check: unknown }>['check']

/** Refuses a transaction over Consul's limits before anything runs (413). */
export function checkTxnLimits(ops: readonly TxnOp[], maxValueSize: number): void {
  if (ops.length > TXN_MAX_OPS) {
    throw new KvRequestError(413, `Transaction contains too many operations (${ops.length} > ${TXN_MAX_OPS})`)
  }
  for (const op of ops) if ('kv' in op) checkValueSize(op.kv.key, op.kv.value, maxValueSize, true)
}

/** Whether every operation only reads (api/ may then answer without a write). */
export function isReadOnly(ops: readonly TxnOp[]): boolean {
  return ops.every((op) =>
    'kv' in op
      ? ['get', 'get-or-empty', 'get-tree', 'check-index', 'check-session', 'check-not-exists'].includes(
          op.kv.verb,
        )
      : verbOf(op) === 'get',
  )
}

function verbOf(op: TxnOp): string {
  if ('kv' in op) return op.kv.verb
  if ('node' in op) return op.node.verb
  if ('service' in op) return op.service.verb
  return op.check.verb
}

/** A result as planned: indexes of rows the draft writes are `PENDING`. */
type Snapshot =
  | Readonly<{ entry: KvEntry; withValue: boolean }>
  | Readonly<{ node: NodeRecord }>
  | Readonly<{ service: ServiceRecord }>
  | Readonly<{ check: CheckRecord }>

function resolveIndexes<T extends { createIndex: number; modifyIndex: number }>(rec: T, revision: number): T {
  return Object.freeze({
    ...rec,
    createIndex: rec.createIndex === PENDING ? revision : rec.createIndex,
    modifyIndex: rec.modifyIndex === PENDING ? revision : rec.modifyIndex,
  })
}

function resolve(s: Snapshot, revision: number): TxnResultItem {
  if ('entry' in s) return Object.freeze({ kv: resolveEntry(s.entry, revision, s.withValue) })
  if ('node' in s) return Object.freeze({ node: resolveIndexes(s.node, revision) })
  if ('service' in s) return Object.freeze({ service: resolveIndexes(s.service, revision) })
  return Object.freeze({ check: resolveIndexes(s.check, revision) })
}

function indexes(d: Draft, key: string, base: { createIndex: number; modifyIndex: number } | undefined) {
  return {
    createIndex: base?.createIndex ?? PENDING,
    modifyIndex: d.written(key) ? PENDING : (base?.modifyIndex ?? PENDING),
  }
}

function readNode(d: Draft, name: string): NodeRecord | undefined {
  const key = d.keys.node(name)
  const node = d.getNode(key)
  return node === undefined ? undefined : { node, ...indexes(d, key, d.state.node(name)) }
}

function readService(d: Draft, node: string, id: string): ServiceRecord | undefined {
  const key = d.keys.service(node, id)
  const v = d.getService(key)
  return v === undefined ? undefined : { ...v, ...indexes(d, key, d.state.service(node, id)) }
}

function readCheck(d: Draft, node: string, id: string): CheckRecord | undefined {
  const key = d.keys.check(node, id)
  const v = d.getCheck(key)
  return v === undefined ? undefined : { ...v, ...indexes(d, key, d.state.check(node, id)) }
}

/** `cas` on a catalog row: index 0 creates only, otherwise the row's ModifyIndex must match. */
function casHolds(existing: { modifyIndex: number } | undefined, index: number): boolean {
  return index === 0 ? existing === undefined : existing?.modifyIndex === index
}

function baseRequest(node: string): RegisterRequest {
  return {
    id: '',
    node,
    address: '',
    datacenter: '',
    taggedAddresses: {},
    nodeMeta: {},
    service: null,
    checks: [],
    skipNodeUpdate: true,
  }
}

function runNode(d: Draft, op: NodeOp, defaults: PlanDefaults, out: Snapshot[]): string | undefined {
  const name = op.node.node
  const set = (): void => {
    const n = op.node
    registerInto(
      d,
      {
        ...baseRequest(name),
        id: n.id,
        address: n.address,
        datacenter: n.datacenter,
        taggedAddresses: n.taggedAddresses,
        nodeMeta: n.meta,
        skipNodeUpdate: false,
      },
      defaults,
    )
    const rec = readNode(d, name)
    if (rec !== undefined) out.push({ node: rec })
  }
  switch (op.verb) {
    case 'get': {
      const rec = readNode(d, name)
      if (rec === undefined) return `node ${q(name)} doesn't exist`
      out.push({ node: rec })
      return undefined
    }
    case 'set':
      set()
      return undefined
    case 'cas':
      if (!casHolds(readNode(d, name), op.modifyIndex)) return `failed to set node ${q(name)}, index is stale`
      set()
      return undefined
    case 'delete':
      deregisterInto(d, { node: name, serviceId: '', checkId: '' })
      return undefined
    case 'delete-cas': {
      const rec = readNode(d, name)
      if (rec === undefined || rec.modifyIndex !== op.modifyIndex) {
        return `failed to delete node ${q(name)}, index is stale`
      }
      deregisterInto(d, { node: name, serviceId: '', checkId: '' })
      return undefined
    }
    default:
      return `unknown Node verb ${q(op.verb)}`
  }
}

function runService(d: Draft, op: ServiceOp, defaults: PlanDefaults, out: Snapshot[]): string | undefined {
  const id = op.service.id !== '' ? op.service.id : op.service.name
  const set = (): void => {
    registerInto(d, { ...baseRequest(op.node), service: op.service }, defaults)
    const rec = readService(d, op.node, id)
    if (rec !== undefined) out.push({ service: rec })
  }
  switch (op.verb) {
    case 'get': {
      const rec = readService(d, op.node, id)
      if (rec === undefined) return `service ${q(id)} on node ${q(op.node)} doesn't exist`
      out.push({ service: rec })
      return undefined
    }
    case 'set':
      set()
      return undefined
    case 'cas':
      if (!casHolds(readService(d, op.node, id), op.modifyIndex)) {
        return `failed to set service ${q(id)} on node ${q(op.node)}, index is stale`
      }
      set()
      return undefined
    case 'delete':
      deregisterInto(d, { node: op.node, serviceId: id, checkId: '' })
      return undefined
    case 'delete-cas': {
      const rec = readService(d, op.node, id)
      if (rec === undefined || rec.modifyIndex !== op.modifyIndex) {
        return `failed to delete service ${q(id)} on node ${q(op.node)}, index is stale`
      }
      deregisterInto(d, { node: op.node, serviceId: id, checkId: '' })
      return undefined
    }
    default:
      return `unknown Service verb ${q(op.verb)}`
  }
}

function runCheck(d: Draft, op: CheckOp, defaults: PlanDefaults, out: Snapshot[]): string | undefined {
  const c = op.check
  const id = c.checkId !== '' ? c.checkId : c.name
  const set = (): void => {
    registerInto(
      d,
      {
        ...baseRequest(c.node),
        checks: [{ ...c, checkId: id }],
      },
      defaults,
    )
    const rec = readCheck(d, c.node, id)
    if (rec !== undefined) out.push({ check: rec })
  }
  switch (op.verb) {
    case 'get': {
      const rec = readCheck(d, c.node, id)
      if (rec === undefined) return `check ${q(id)} on node ${q(c.node)} doesn't exist`
      out.push({ check: rec })
      return undefined
    }
    case 'set':
      set()
      return undefined
    case 'cas':
      if (!casHolds(readCheck(d, c.node, id), op.modifyIndex)) {
        return `failed to set check ${q(id)} on node ${q(c.node)}, index is stale`
      }
      set()
      return undefined
    case 'delete':
      deregisterInto(d, { node: c.node, serviceId: '', checkId: id })
      return undefined
    case 'delete-cas': {
      const rec = readCheck(d, c.node, id)
      if (rec === undefined || rec.modifyIndex !== op.modifyIndex) {
        return `failed to delete check ${q(id)} on node ${q(c.node)}, index is stale`
      }
      deregisterInto(d, { node: c.node, serviceId: '', checkId: id })
      return undefined
    }
    default:
      return `unknown Check verb ${q(op.verb)}`
  }
}

/**
 * A failed operation's text; a function of the index the transaction would have had when it names
 * the index of a row written earlier in the same transaction (known once the answer is confirmed
 * at the store's revision: the view planned on may be behind it).
 */
type What = string | ((nextIndex: number) => string)

/** Runs one KV operation; returns the result entries it produces, or the error text. */
function runKv(d: Draft, op: KvOp, ctx: KvContext, out: Snapshot[]): What | undefined {
  const key = op.key
  const snap = (withValue: boolean): void => {
    const e = readEntry(d, key)
    if (e !== undefined) out.push({ entry: e, withValue })
  }
  switch (op.verb) {
    case 'set':
      kvSet(d, key, op.value, op.flags)
      snap(false)
      return undefined
    case 'cas':
      if (!kvCas(d, key, op.value, op.flags, op.index)) return `failed to set key ${q(key)}, index is stale`
      snap(false)
      return undefined
    case 'lock': {
      const outcome = kvLock(d, key, op.value, op.flags, op.session, ctx.now)
      if (outcome === 'lock-delay') return `failed to lock key ${q(key)} due to lock delay`
      if (outcome === 'held') return `failed to lock key ${q(key)}, lock is already held`
      snap(false)
      return undefined
    }
    case 'unlock':
      if (!kvUnlock(d, key, op.value, op.flags, op.session)) {
        return `failed to unlock key ${q(key)}, lock isn't held, or is held by another session`
      }
      snap(false)
      return undefined
    case 'get': {
      if (readEntry(d, key) === undefined) return `key ${q(key)} doesn't exist`
      snap(true)
      return undefined
    }
    case 'get-or-empty': {
      const e = readEntry(d, key)
      if (e !== undefined) out.push({ entry: e, withValue: true })
      else {
        out.push({
          entry: { key, value: null, flags: 0n, session: '', lockIndex: 0, createIndex: 0, modifyIndex: 0 },
          withValue: true,
        })
      }
      return undefined
    }
    case 'get-tree':
      for (const k of keysUnder(d, key)) {
        const e = readEntry(d, k)
        if (e !== undefined) out.push({ entry: e, withValue: true })
      }
      return undefined
    case 'check-index': {
      const e = readEntry(d, key)
      if (e === undefined) return `failed to check index, key ${q(key)} doesn't exist`
      if (e.modifyIndex !== op.index) {
        const text = (m: number): string =>
          `failed index check for key ${q(key)}, current modify index ${m} != ${op.index}`
        return e.modifyIndex === PENDING ? text : text(e.modifyIndex)
      }
      snap(false)
      return undefined
    }
    case 'check-session': {
      const e = readEntry(d, key)
      if (e === undefined) return `failed to check session, key ${q(key)} doesn't exist`
      if (e.session !== op.session) {
        return `failed session check for key ${q(key)}, current session ${q(e.session)} != ${q(op.session)}`
      }
      snap(false)
      return undefined
    }
    case 'check-not-exists':
      return readEntry(d, key) === undefined ? undefined : `key ${q(key)} exists`
    case 'delete':
      kvDelete(d, key, ctx.now)
      return undefined
    case 'delete-tree':
      kvDeleteTree(d, key, ctx.now)
      return undefined
    case 'delete-cas':
      return kvDeleteCas(d, key, op.index, ctx.now)
        ? undefined
        : `failed to delete key ${q(key)}, index is stale`
    default:
      return `unknown KV verb ${q(op.verb)}`
  }
}

/** Plans a transaction. On any error the plan writes nothing and the result lists every error. */
export function planTxn(
  d: Draft,
  ops: readonly TxnOp[],
  ctx: KvContext,
  defaults: PlanDefaults,
): PlannedWrite<TxnResult> {
  checkTxnLimits(ops, ctx.maxValueSize)
  const snaps: Snapshot[] = []
  const errors: { opIndex: number; what: What }[] = []
  ops.forEach((op, opIndex) => {
    let what: What | undefined
    try {
      if ('kv' in op) what = runKv(d, op.kv, ctx, snaps)
      else if ('node' in op) what = runNode(d, op.node, defaults, snaps)
      else if ('service' in op) what = runService(d, op.service, defaults, snaps)
      else what = runCheck(d, op.check, defaults, snaps)
    } catch (err) {
      if (!(err instanceof KvRequestError) && !(err instanceof CatalogRequestError)) throw err
      what = err.message
    }
    if (what !== undefined) errors.push(Object.freeze({ opIndex, what }))
  })
  if (errors.length > 0) {
    const reads = d.reads()
    return {
      plan: { compares: [], ops: [] },
      reads,
      result: (revision): TxnResult => ({
        ok: false,
        index: revision,
        errors: Object.freeze(
          errors.map((e): TxnError =>
            Object.freeze({
              opIndex: e.opIndex,
              what: typeof e.what === 'string' ? e.what : e.what(revision + 1),
            }),
          ),
        ),
      }),
    }
  }
  return planned(d, (revision) => ({
    ok: true,
    index: revision,
    results: Object.freeze(snaps.map((s) => resolve(s, revision))),
  }))
}
