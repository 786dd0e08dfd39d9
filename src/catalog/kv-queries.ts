/**
 * KV and session reads with Consul's index rules (consul `state/kvs.go` kvsGetTxn, kvsListTxn,
 * kvsKeysTxn; `kvs_endpoint.go`; `state/session.go`):
 * - a present key answers its ModifyIndex; a missing key the max of the `kvs` and `tombstones`
 *   table indexes (never 0);
 * - a list or keys read of a prefix answers the max ModifyIndex of its entries and of the
 *   tombstones under it, else (nothing under it, or prefix "") the table indexes;
 * - session reads answer the `sessions` table index.
 * A key read waits on that key only; a prefix read on changes under its prefix (the catalog wakes
 * `kvp:<prefix>` for every waiting prefix a changed key falls under).
 */
import { IDX_KVS, IDX_SESSIONS, IDX_TOMBSTONES, lower } from './keys.js'
import type { KvEntry, SessionRecord } from './kv-types.js'
import type { CatalogQuery } from './queries.js'
import type { QueryReader } from './reader.js'
import type { CatalogState } from './state.js'

export function kvWakeKey(key: string): string {
  return `kv:${key}`
}

export function kvPrefixWakeKey(prefix: string): string {
  return `kvp:${prefix}`
}

/** A KV read: `prefix` is set for reads that wait on a prefix (the catalog tracks it while waiting). */
export interface KvQuery<T> extends CatalogQuery<T> {
  readonly prefix?: string
}

/** Max of the `kvs` and `tombstones` table indexes. */
export function kvTableIndex(state: CatalogState): number {
  return Math.max(state.idx(IDX_KVS) ?? 0, state.idx(IDX_TOMBSTONES) ?? 0)
}

/** `GET /v1/kv/<key>`: the entry or null. */
export function kvGetQuery(key: string): KvQuery<KvEntry | null> {
  return {
    key: `kv/get ${JSON.stringify(key)}`,
    evaluate(r) {
      r.wakeOn(kvWakeKey(key))
      const e = r.state.kv.entry(key)
      if (e !== undefined) {
        r.atLeast(e.modifyIndex)
        return e
      }
      r.atLeast(kvTableIndex(r.state))
      return null
    },
  }
}

function prefixIndex(r: QueryReader, prefix: string, entries: readonly KvEntry[]): void {
  let lindex = 0
  if (prefix !== '') {
    for (const e of entries) lindex = Math.max(lindex, e.modifyIndex)
    for (const [, t] of r.state.kv.tombstones(prefix)) lindex = Math.max(lindex, t.index)
  }
  r.atLeast(lindex !== 0 ? lindex : kvTableIndex(r.state))
}

/** `GET /v1/kv/<prefix>?recurse`: entries in key order (empty: api/ answers 404). */
export function kvListQuery(prefix: string): KvQuery<readonly KvEntry[]> {
  return {
    key: `kv/list ${JSON.stringify(prefix)}`,
    prefix,
    evaluate(r) {
      r.wakeOn(kvPrefixWakeKey(prefix))
      const entries = [...r.state.kv.entries(prefix)]
      prefixIndex(r, prefix, entries)
      return Object.freeze(entries)
    },
  }
}

/**
 * `GET /v1/kv/<prefix>?keys[&separator=S]`: keys in order; with a separator each key is cut after
 * the first separator following the prefix, duplicates removed.
 */
export function kvKeysQuery(prefix: string, separator = ''): KvQuery<readonly string[]> {
  return {
    key: `kv/keys ${JSON.stringify(prefix)} ${JSON.stringify(separator)}`,
    prefix,
    evaluate(r) {
      r.wakeOn(kvPrefixWakeKey(prefix))
      const entries = [...r.state.kv.entries(prefix)]
      const keys: string[] = []
      let prev: string | undefined
      for (const e of entries) {
        if (separator !== '') {
          const at = e.key.indexOf(separator, prefix.length)
          if (at >= 0) {
            const k = e.key.slice(0, at + separator.length)
            if (k !== prev) keys.push(k)
            prev = k
            continue
          }
        }
        keys.push(e.key)
      }
      prefixIndex(r, prefix, entries)
      return Object.freeze(keys)
    },
  }
}

/** `GET /v1/session/info/<id>`: `[session]` or `[]`. */
export function sessionInfoQuery(id: string): CatalogQuery<readonly SessionRecord[]> {
  return {
    key: `session/info ${JSON.stringify(id)}`,
    evaluate(r) {
      r.table(IDX_SESSIONS)
      const s = r.state.kv.session(id)
      return Object.freeze(s === undefined ? [] : [s])
    },
  }
}

/** `GET /v1/session/list`. */
export function sessionListQuery(): CatalogQuery<readonly SessionRecord[]> {
  return {
    key: 'session/list',
    evaluate(r) {
      r.table(IDX_SESSIONS)
      return Object.freeze(r.state.kv.sessions())
    },
  }
}

/** `GET /v1/session/node/<node>`: that node's sessions (`[]` for an unknown node). */
export function nodeSessionsQuery(node: string): CatalogQuery<readonly SessionRecord[]> {
  return {
    key: `session/node ${JSON.stringify(lower(node))}`,
    evaluate(r) {
      r.table(IDX_SESSIONS)
      const ids = r.state.kv.sessionIdsOnNode(node)
      return Object.freeze(ids.map((id) => r.state.kv.session(id)).filter((s) => s !== undefined))
    },
  }
}
