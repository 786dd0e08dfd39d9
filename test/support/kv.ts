import type { Catalog } from '../../src/catalog/catalog.js'
import type { KvPutMode, SessionCreateRequest, TxnOp } from '../../src/catalog/kv-types.js'
import { chk, reg } from './catalog.js'
import type { Status } from '../../src/structs/check.js'

export function bytes(s: string): Uint8Array {
  return Buffer.from(s, 'utf8')
}

export function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64')
}

export function put(
  c: Catalog,
  key: string,
  value: string,
  mode: KvPutMode = { kind: 'set' },
  flags = 0n,
): Promise<{ ok: boolean; index: number }> {
  return c.kvPut({ key, value: bytes(value), flags, mode })
}

/** Registers `node` with a serfHealth check in `status` (and any other node checks). */
export async function registerNode(
  c: Catalog,
  node: string,
  status: Status = 'passing',
  more: readonly [string, Status][] = [],
): Promise<number> {
  const w = await c.register(
    reg(node, {
      checks: [
        chk('Serf Health Status', { checkId: 'serfHealth', status }),
        ...more.map(([id, st]) => chk(id, { checkId: id, status: st })),
      ],
    }),
  )
  return w.index
}

export async function session(c: Catalog, req: Partial<SessionCreateRequest> = {}): Promise<string> {
  const r = await c.sessionCreate({ node: 'n1', ...req })
  return r.id
}

export function kvOp(
  verb: string,
  key: string,
  more: Partial<Extract<TxnOp, { kv: unknown }>['kv']> = {},
): TxnOp {
  return { kv: { verb, key, value: null, flags: 0n, index: 0, session: '', ...more } }
}
