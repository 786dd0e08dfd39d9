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
import { TXN_MAX_OPS, type KvEntry, type TxnError, type TxnOp, type TxnResult } from './kv-types.js'
import type { Draft } from './planner.js'

/** Refuses a transaction over Consul's limits before anything runs (413). */
export function checkTxnLimits(ops: readonly TxnOp[], maxValueSize: number): void {
  if (ops.length > TXN_MAX_OPS) {
    throw new KvRequestError(413, `Transaction contains too many operations (${ops.length} > ${TXN_MAX_OPS})`)
  }
  for (const op of ops) checkValueSize(op.kv.key, op.kv.value, maxValueSize, true)
}

/** Whether every operation only reads (api/ may then answer without a write). */
export function isReadOnly(ops: readonly TxnOp[]): boolean {
  return ops.every((op) =>
    ['get', 'get-or-empty', 'get-tree', 'check-index', 'check-session', 'check-not-exists'].includes(
      op.kv.verb,
    ),
  )
}

interface Snapshot {
  readonly entry: KvEntry
  readonly withValue: boolean
}

/** Runs one KV operation; returns the result entries it produces, or the error text. */
function runKv(d: Draft, op: TxnOp['kv'], ctx: KvContext, out: Snapshot[]): string | undefined {
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
        const m = e.modifyIndex === PENDING ? d.state.revision + 1 : e.modifyIndex
        return `failed index check for key ${q(key)}, current modify index ${m} != ${op.index}`
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
export function planTxn(d: Draft, ops: readonly TxnOp[], ctx: KvContext): PlannedWrite<TxnResult> {
  checkTxnLimits(ops, ctx.maxValueSize)
  const snaps: Snapshot[] = []
  const errors: TxnError[] = []
  ops.forEach((op, opIndex) => {
    let what: string | undefined
    try {
      what = runKv(d, op.kv, ctx, snaps)
    } catch (err) {
      if (!(err instanceof KvRequestError)) throw err
      what = err.message
    }
    if (what !== undefined) errors.push(Object.freeze({ opIndex, what }))
  })
  if (errors.length > 0) {
    const reads = d.reads()
    const frozen = Object.freeze(errors)
    return {
      plan: { compares: [], ops: [] },
      reads,
      result: (revision) => ({ ok: false, index: revision, errors: frozen }),
    }
  }
  return planned(d, (revision) => ({
    ok: true,
    index: revision,
    results: Object.freeze(
      snaps.map((s) => Object.freeze({ kv: resolveEntry(s.entry, revision, s.withValue) })),
    ),
  }))
}
