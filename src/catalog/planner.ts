/**
 * The write planner: Consul's rules for `/v1/catalog/register` and `/v1/catalog/deregister`
 * (consul `agent/consul/catalog_endpoint.go`, `state/catalog.go` ensureRegistrationTxn,
 * deleteNodeTxn, deleteServiceTxn, deleteCheckTxn) turned into ONE store txn against a state.
 *
 * Pure and synchronous: plan against a `CatalogState`, get compares and ops back. The txn:
 * - compares the modRevision of every key the plan read (0 for absent keys), plus `idx/services`
 *   / `idx/checks` when it enumerated a node's or an instance's rows, and `idx/service.<name>`
 *   when it decided a name lost its last instance;
 * - puts or deletes only rows whose value really changes (canonical JSON compared with the stored
 *   text): a write that changes nothing yields no ops at all, so no index moves (servers.md §1);
 * - puts every index-table entry it touches: `nodes`, `services`, `checks`, `service.<name>` for
 *   each name whose instances, their checks or their nodes changed, `connect.<name>` for each
 *   name whose proxies or connect-native instances changed. A name left without instances has
 *   its entry deleted and `service_last_extinction` put instead (Consul's extinction index), so
 *   the index table does not grow with every name ever registered.
 */
import { formatGoDurationMs } from '../lib/duration.js'
import type { Compare, Op } from '../store/store.js'
import type { HealthCheck } from '../structs/check.js'
import type { Service } from '../structs/service.js'
import { CatalogRequestError } from './errors.js'
import {
  IDX_CHECKS,
  IDX_NODES,
  IDX_SERVICE_EXTINCTION,
  IDX_SERVICES,
  isClusterParsedKey,
  isKvParsedKey,
  encodeRow,
  type EncodedRow,
  connectIdxName,
  lower,
  nodeIdxName,
  serviceIdxName,
} from './keys.js'
import type { CatalogState, StoredRow } from './state.js'
import type { CatalogNode, CheckRecord, DeregisterRequest, RegisterRequest, ServiceRecord } from './types.js'

/**
 * One txn. With no ops the write changes nothing at the view's revision; its compares, sent
 * alone, confirm that the store agrees (a view behind another server's write must not turn a
 * real change into a no-op).
 */
export interface Plan {
  readonly compares: readonly Compare[]
  readonly ops: readonly Op[]
}

export interface PlanHooks {
  /** Runs on the finished draft before it becomes a plan: more writes in the same txn. */
  readonly beforePlan?: (d: Draft) => void
}

export interface PlanDefaults extends PlanHooks {
  /** The datacenter a node gets when the request names none. */
  readonly datacenter: string
}

type ServiceValue = Pick<ServiceRecord, 'node' | 'service'>
type CheckValue = Pick<CheckRecord, 'check' | 'definition'>

/** Consul's `ipaddr.IsAny`. */
function isAnyAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '[::]'
}

/** go-uuid's `ParseUUID` errors (byte length, dashes, then hex.DecodeString's), or null. */
function uuidProblem(id: string): string | null {
  if (Buffer.byteLength(id, 'utf8') !== 36) return 'uuid string is wrong length'
  if (id[8] !== '-' || id[13] !== '-' || id[18] !== '-' || id[23] !== '-')
    return 'uuid is improperly formatted'
  const bad = /[^0-9a-fA-F]/.exec(
    id.slice(0, 8) + id.slice(9, 13) + id.slice(14, 18) + id.slice(19, 23) + id.slice(24),
  )
  if (bad === null) return null
  // Go's InvalidByteError: `%#U` of the byte (36 bytes of ASCII here, so one char is one byte).
  const code = bad[0].charCodeAt(0)
  const hex = code.toString(16).toUpperCase().padStart(4, '0')
  const printable = code >= 0x20 && code < 0x7f
  return `encoding/hex: invalid byte: U+${hex}${printable ? ` '${bad[0]}'` : ''}`
}

/**
 * The canonical encoding of stored rows, by row object: a row is replaced (never changed) when
 * its key is written, and a row is compared with every write to its key (a node's row with every
 * registration on the node), so it is encoded once per version rather than once per comparison.
 * A row the view took from a write planned here holds its canonical text already.
 */
const canonicalRows = new WeakMap<StoredRow, string>()

function canonicalRow(row: StoredRow): string {
  if (row.canonical === true) return row.value
  let text = canonicalRows.get(row)
  if (text === undefined) {
    text = encodeRow(row.decoded ?? JSON.parse(row.value)).text
    canonicalRows.set(row, text)
  }
  return text
}

const NO_TAGS: readonly string[] = Object.freeze([])

/**
 * Whether a node row holds exactly these fields (so its canonical text is the node's): the
 * unchanged node of a registration is recognised without encoding it. False says nothing.
 */
function sameNode(stored: CatalogNode, node: CatalogNode): boolean {
  return (
    stored.address === node.address &&
    stored.datacenter === node.datacenter &&
    stored.id === node.id &&
    stored.node === node.node &&
    Object.keys(stored).length === 6 &&
    sameStrings(stored.meta, node.meta) &&
    sameStrings(stored.taggedAddresses, node.taggedAddresses)
  )
}

/** Whether a stored value is a map of strings equal to `map`. */
function sameStrings(stored: unknown, map: Readonly<Record<string, string>>): boolean {
  if (stored === map) return true
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return false
  const keys = Object.keys(stored)
  if (keys.length !== Object.keys(map).length) return false
  for (const k of keys) {
    const v = (stored as Record<string, unknown>)[k]
    if (typeof v !== 'string' || !Object.hasOwn(map, k) || map[k] !== v) return false
  }
  return true
}

/** Go's `%q` for the ASCII texts Consul formats. */
function q(s: string): string {
  return JSON.stringify(s)
}

/** A service row the draft writes: the instance before (as stored) and after (as written). */
interface ServiceChange {
  readonly before: ServiceValue | undefined
  readonly after: ServiceValue | undefined
}

/**
 * A working copy over the state: reads record compares, writes overlay the state.
 *
 * Values it returns (`value`, `getNode`, …) are shared and frozen, or for rows the view keeps no
 * decoded value for, shared with the draft's other reads: read them, never change them.
 */
export class Draft {
  readonly #state: CatalogState
  #beforePlan: ((d: Draft) => void) | undefined
  #extraIdx: Set<string> | undefined
  /** Keys put with `always`: kept even when equal to the stored value. */
  #always: Set<string> | undefined
  readonly #compares = new Map<string, number>()
  /** The view's rows the draft read, by key (null when absent): each looked up in the view once. */
  readonly #rows = new Map<string, StoredRow | null>()
  /** key → the row put (its canonical text and frozen value), or null for a delete */
  readonly #writes = new Map<string, EncodedRow | null>()
  /** Row texts parsed for rows the view keeps no decoded value for (KV, sessions). */
  #decoded: Map<string, unknown> | undefined

  constructor(state: CatalogState, hooks: PlanHooks = {}) {
    this.#state = state
    this.#beforePlan = hooks.beforePlan
  }

  get state(): CatalogState {
    return this.#state
  }

  /** The JSON value of any row as the draft would leave it (undefined when absent). */
  value(key: string): unknown {
    return this.#get(key)
  }

  /** Whether the draft writes (puts or deletes) this key. */
  written(key: string): boolean {
    return this.#writes.has(key)
  }

  /** The draft's writes so far: key → the row put, or null for a delete. */
  pendingWrites(): ReadonlyMap<string, EncodedRow | null> {
    return this.#writes
  }

  /** Puts an index-table entry with the plan (only when the plan writes something). */
  touchIdx(name: string): void {
    this.#extraIdx ??= new Set()
    this.#extraIdx.add(name)
  }

  /** The compares of every key read so far (for a plan that writes nothing but must still hold). */
  reads(): Compare[] {
    return [...this.#compares].map(([key, value]) => ({ key, target: 'modRevision', op: '=', value }))
  }

  get keys(): CatalogState['keys'] {
    return this.#state.keys
  }

  /** Records a compare on the key's current modRevision (0 when absent). */
  read(key: string): void {
    this.#stored(key)
  }

  readIdx(name: string): void {
    const key = this.keys.idx(name)
    if (!this.#compares.has(key)) this.#compares.set(key, this.#state.idx(name) ?? 0)
  }

  /** The view's row at `key` (undefined when absent), read once per draft; records its compare. */
  #stored(key: string): StoredRow | undefined {
    let row = this.#rows.get(key)
    if (row === undefined) {
      row = this.#state.row(key) ?? null
      this.#rows.set(key, row)
      if (!this.#compares.has(key)) this.#compares.set(key, row?.modRevision ?? 0)
    }
    return row ?? undefined
  }

  /** A stored row's value: the view's decoded one, or the text parsed once per draft. */
  #storedValue(row: StoredRow): unknown {
    if (row.decoded !== undefined) return row.decoded
    this.#decoded ??= new Map()
    let value = this.#decoded.get(row.value)
    if (value === undefined) {
      value = JSON.parse(row.value) as unknown
      this.#decoded.set(row.value, value)
    }
    return value
  }

  /** The value of a row as the draft would leave it (undefined when absent). */
  #get(key: string): unknown {
    const row = this.#stored(key)
    const written = this.#writes.get(key)
    if (written === null) return undefined
    if (written !== undefined) return written.value
    return row === undefined ? undefined : this.#storedValue(row)
  }

  /** Whether the row exists as the draft would leave it (as `value(key) !== undefined`, unparsed). */
  exists(key: string): boolean {
    const row = this.#stored(key)
    const written = this.#writes.get(key)
    if (written !== undefined) return written !== null
    return row !== undefined
  }

  /**
   * The canonical JSON of the row as the draft would leave it (undefined when absent): written
   * values are canonical already, stored ones are encoded once per row version.
   */
  canonical(key: string): string | undefined {
    const row = this.#stored(key)
    const written = this.#writes.get(key)
    if (written === null) return undefined
    if (written !== undefined) return written.text
    return row === undefined ? undefined : canonicalRow(row)
  }

  getNode(key: string): CatalogNode | undefined {
    return this.#get(key) as CatalogNode | undefined
  }

  getService(key: string): ServiceValue | undefined {
    return this.#get(key) as ServiceValue | undefined
  }

  getCheck(key: string): CheckValue | undefined {
    return this.#get(key) as CheckValue | undefined
  }

  /**
   * Puts a row unless its stored value is already equal (`always`: even then, so its modRevision
   * moves, as a tombstone's must); returns whether it changed.
   */
  put(key: string, value: unknown, always = false): boolean {
    return this.putEncoded(key, encodeRow(value), always)
  }

  /** `put` of a row encoded already (`encodeRow`). */
  putEncoded(key: string, row: EncodedRow, always = false): boolean {
    const stored = this.#stored(key)
    if (!always) {
      const written = this.#writes.get(key)
      const current =
        written === undefined ? (stored === undefined ? undefined : canonicalRow(stored)) : written
      if (typeof current === 'string' ? current === row.text : current?.text === row.text) return false
    }
    this.#writes.set(key, row)
    if (always) {
      this.#always ??= new Set()
      this.#always.add(key)
    }
    return true
  }

  delete(key: string): boolean {
    const stored = this.#stored(key)
    const written = this.#writes.get(key)
    const exists = written !== undefined ? written !== null : stored !== undefined
    if (!exists) return false
    this.#writes.set(key, null)
    return true
  }

  /**
   * The instances on a node as the draft leaves them (and as they were). Enumerating a node's
   * rows compares its `node.<name>` entry, which every write to a row of the node moves: a
   * concurrent write on the node (a new service a node check must also move) fails the txn.
   */
  #instancesOnNodeEitherSide(node: string): ServiceValue[] {
    this.readIdx(nodeIdxName(node))
    const out: ServiceValue[] = this.#state
      .servicesOnNode(node)
      .map((r) => ({ node: r.node, service: r.service }))
    const prefix = this.keys.service(node, '')
    for (const [key, w] of this.#writes) {
      if (key.startsWith(prefix) && w !== null) out.push(w.value as ServiceValue)
    }
    return out
  }

  /**
   * `#after` for the instances of one service name, in time proportional to what the draft
   * writes (not to the name's instances: a service with thousands of them is registered as fast
   * as one with three): the stored instances the draft writes are known, the others counted.
   */
  #afterName(
    name: string,
    services: readonly ServiceChange[],
  ): { own: boolean; others: boolean; removes: boolean } {
    let own = false
    let written = 0
    for (const { before, after } of services) {
      if (after !== undefined && lower(after.service.name) === name) own = true
      if (before !== undefined && lower(before.service.name) === name) written++
    }
    return { own, others: this.#state.instanceCount(name) > written, removes: written > 0 }
  }

  /**
   * Instances matching `match` once the draft is applied: whether the draft writes one itself
   * (`own`: true whatever others do), whether rows it does not touch provide one (`others`),
   * and whether it takes one away (`removes`).
   */
  #after(
    candidates: readonly ServiceRecord[],
    match: (s: Service) => boolean,
    services: readonly ServiceChange[],
  ): { own: boolean; others: boolean; removes: boolean } {
    let own = false
    for (const { after } of services) if (after !== undefined && match(after.service)) own = true
    let others = false
    let removes = false
    for (const r of candidates) {
      if (this.#writes.has(this.keys.service(r.node, r.service.id))) removes = true
      else others = true
    }
    return { own, others, removes }
  }

  /** The stored value of a row, or the draft's when it writes one. */
  #final(key: string): unknown {
    return this.#get(key)
  }

  plan(): Plan {
    const hook = this.#beforePlan
    this.#beforePlan = undefined
    hook?.(this)
    // The net change: a row written back to its stored value, or deleted while absent, is no change.
    const ops: Op[] = []
    for (const [key, w] of this.#writes) {
      if (this.#always?.has(key) !== true) {
        const stored = this.#stored(key)
        const same =
          w === null ? stored === undefined : stored !== undefined && canonicalRow(stored) === w.text
        if (same) {
          this.#writes.delete(key)
          continue
        }
      }
      ops.push(w === null ? { type: 'delete', key } : { type: 'put', key, value: w.text })
    }
    if (ops.length === 0) return { compares: this.#compareList(), ops: [] }

    // What moved: tables, and the instances whose answers changed (their names' entries move).
    const affected: ServiceValue[] = []
    const affectedNodes = new Set<string>()
    const tables = new Set<string>()
    /** Service rows written, both sides. */
    const services: ServiceChange[] = []
    /** Nodes whose rows change (their `node.<name>` entry moves), and those deleted. */
    const touchedNodes = new Set<string>()
    const deletedNodes = new Set<string>()
    for (const [key, w] of this.#writes) {
      const parsed = this.keys.parse(key)
      if (parsed === undefined || parsed.table === 'idx' || isKvParsedKey(parsed)) continue
      if (isClusterParsedKey(parsed)) continue
      touchedNodes.add(parsed.node)
      if (parsed.table === 'nodes' && w === null) deletedNodes.add(parsed.node)
      const stored = this.#stored(key)
      const before = stored === undefined ? undefined : this.#storedValue(stored)
      const after = w === null ? undefined : w.value
      // The view applies this row once written: it takes the value, frozen already, not the text.
      if (w !== null) this.#state.offerDecoded(key, w)
      switch (parsed.table) {
        case 'nodes':
          tables.add(IDX_NODES)
          affectedNodes.add(parsed.node)
          break
        case 'services': {
          tables.add(IDX_SERVICES)
          const change: ServiceChange = {
            before: before as ServiceValue | undefined,
            after: after as ServiceValue | undefined,
          }
          services.push(change)
          if (change.before !== undefined) affected.push(change.before)
          if (change.after !== undefined) affected.push(change.after)
          break
        }
        case 'checks':
          tables.add(IDX_CHECKS)
          for (const c of [before, after] as (CheckValue | undefined)[]) {
            if (c === undefined) continue
            if (c.check.serviceId === '') {
              affectedNodes.add(parsed.node)
              continue
            }
            const serviceKey = this.keys.service(parsed.node, c.check.serviceId)
            // The name whose entry moves is read from the instance.
            const instance = this.#stored(serviceKey)
            if (instance !== undefined) affected.push(this.#storedValue(instance) as ServiceValue)
            const final = this.#final(serviceKey) as ServiceValue | undefined
            if (final !== undefined) affected.push(final)
          }
          break
      }
    }
    for (const node of affectedNodes) affected.push(...this.#instancesOnNodeEitherSide(node))
    const serviceNames = new Set<string>()
    const connectNames = new Set<string>()
    for (const { service } of affected) {
      serviceNames.add(lower(service.name))
      if (service.connectNative) connectNames.add(lower(service.name))
      if (
        service.kind === 'connect-proxy' &&
        service.proxy !== null &&
        service.proxy.destinationServiceName !== ''
      ) {
        connectNames.add(lower(service.proxy.destinationServiceName))
      }
    }
    const idxPuts = new Set<string>(tables)
    const idxDeletes = new Set<string>()
    for (const name of this.#extraIdx ?? []) idxPuts.add(name)
    for (const node of touchedNodes) {
      if (!deletedNodes.has(node)) idxPuts.add(nodeIdxName(node))
      else if (this.#state.idx(nodeIdxName(node)) !== undefined) idxDeletes.add(nodeIdxName(node))
    }
    const settle = (idxName: string, after: { own: boolean; others: boolean; removes: boolean }): void => {
      // Taking an instance away without providing one, the decision "instances remain" rests on
      // rows the draft does not write: compare the entry, which every change to them moves.
      if (after.removes && !after.own) this.readIdx(idxName)
      if (after.own || after.others) {
        idxPuts.add(idxName)
        return
      }
      // The name has no instance left: its entry goes, the extinction index takes over.
      if (this.#state.idx(idxName) !== undefined) idxDeletes.add(idxName)
      idxPuts.add(IDX_SERVICE_EXTINCTION)
    }
    for (const name of serviceNames) settle(serviceIdxName(name), this.#afterName(name, services))
    for (const name of connectNames) {
      const candidates = [
        ...this.#state.proxiesForUnordered(name),
        ...[...this.#state.instancesOfUnordered(name)].filter((r) => r.service.connectNative),
      ]
      settle(
        connectIdxName(name),
        this.#after(
          candidates,
          (s) =>
            (s.connectNative && lower(s.name) === name) ||
            (s.kind === 'connect-proxy' && lower(s.proxy?.destinationServiceName ?? '') === name),
          services,
        ),
      )
    }
    for (const name of idxPuts) ops.push({ type: 'put', key: this.keys.idx(name), value: '' })
    for (const name of idxDeletes) ops.push({ type: 'delete', key: this.keys.idx(name) })

    return { compares: this.#compareList(), ops }
  }

  #compareList(): Compare[] {
    return [...this.#compares].map(([key, value]) => ({ key, target: 'modRevision', op: '=', value }))
  }
}

/** Plans a catalog register; throws `CatalogRequestError` with Consul's text when it refuses. */
export function planRegister(state: CatalogState, req: RegisterRequest, defaults: PlanDefaults): Plan {
  const d = new Draft(state, defaults)
  registerInto(d, req, defaults)
  return d.plan()
}

/** Applies a catalog register to a draft (also the txn's node, service and check `set`). */
export function registerInto(d: Draft, req: RegisterRequest, defaults: PlanDefaults): void {
  const state = d.state
  // Catalog.Register's checks, in Consul's order.
  if (req.node === '') throw new CatalogRequestError('Must provide node')
  if (req.id !== '') {
    const problem = uuidProblem(req.id)
    if (problem !== null) throw new CatalogRequestError(`Bad node ID: ${problem}`)
  }
  if (req.address === '' && !req.skipNodeUpdate) {
    throw new CatalogRequestError('Must provide address if SkipNodeUpdate is not set')
  }
  let service: Service | null = req.service
  if (service !== null) {
    if (service.id === '' && service.name !== '') service = Object.freeze({ ...service, id: service.name })
    if (service.id !== '' && service.name === '') {
      throw new CatalogRequestError('Must provide service name (Service.Service) when service ID is provided')
    }
    if (isAnyAddress(service.address)) throw new CatalogRequestError('Invalid service address')
  }

  const nodeKey = d.keys.node(req.node)

  if (!req.skipNodeUpdate) {
    // Rows are built frozen with their fields in sorted order, so encodeRow keeps them as they are
    // (and the request's frozen members with them) instead of copying them.
    const node: CatalogNode = Object.freeze({
      address: req.address,
      datacenter: req.datacenter !== '' ? req.datacenter : defaults.datacenter,
      id: req.id,
      meta: req.nodeMeta,
      node: req.node,
      taggedAddresses: req.taggedAddresses,
    })
    const stored = d.getNode(nodeKey)
    const encoded = stored !== undefined && sameNode(stored, node) ? undefined : encodeRow(node)
    if (encoded !== undefined && d.canonical(nodeKey) !== encoded.text) {
      if (node.id !== '') {
        const holder = state.nodeNameById(node.id)
        if (holder !== undefined && holder !== lower(node.node)) {
          const other = state.node(holder)?.node.node ?? holder
          throw new CatalogRequestError(
            `failed inserting node: node ID ${q(node.id)} for node ${q(node.node)} aliases existing node ${q(other)}`,
          )
        }
      }
      d.putEncoded(nodeKey, encoded)
    }
  }

  if (service !== null) {
    if (!d.exists(nodeKey)) {
      throw new CatalogRequestError('failed inserting service: Missing node registration')
    }
    const key = d.keys.service(req.node, service.id)
    const before = d.getService(key)
    const after: ServiceValue = Object.freeze({ node: before?.node ?? req.node, service })
    d.put(key, after)
  }

  for (const input of req.checks) {
    const checkNode = input.node !== '' ? input.node : req.node
    if (lower(checkNode) !== lower(req.node)) {
      throw new CatalogRequestError(`check node ${q(checkNode)} does not match node ${q(req.node)}`)
    }
    const checkId = input.checkId !== '' ? input.checkId : input.name
    if (!d.exists(nodeKey)) {
      throw new CatalogRequestError('failed inserting check: Missing node registration')
    }
    let serviceName = ''
    let serviceTags: readonly string[] = NO_TAGS
    if (input.serviceId !== '') {
      const owner = d.getService(d.keys.service(req.node, input.serviceId))
      if (owner === undefined)
        throw new CatalogRequestError('failed inserting check: Missing service registration')
      serviceName = owner.service.name
      serviceTags = owner.service.tags ?? NO_TAGS
    }
    const def = input.definition
    const check: HealthCheck = Object.freeze({
      checkId,
      exposedPort: 0,
      interval: def.intervalMs > 0 ? formatGoDurationMs(def.intervalMs) : '',
      name: input.name,
      node: checkNode,
      notes: input.notes,
      output: input.output,
      serviceId: input.serviceId,
      serviceName,
      serviceTags,
      status: input.status === '' ? 'critical' : input.status,
      timeout: def.timeoutMs > 0 ? formatGoDurationMs(def.timeoutMs) : '',
      type: def.type,
    })
    const after: CheckValue = Object.freeze({ check, definition: def })
    d.put(d.keys.check(req.node, checkId), after)
  }
}

/**
 * Plans a catalog deregister, in Consul's precedence: a ServiceID removes that instance and its
 * checks; else a CheckID removes that check; else the node goes with everything on it. Unknown
 * targets plan nothing.
 */
export function planDeregister(state: CatalogState, req: DeregisterRequest, hooks: PlanHooks = {}): Plan {
  const d = new Draft(state, hooks)
  deregisterInto(d, req)
  return d.plan()
}

/** Applies a catalog deregister to a draft (also the txn's node, service and check `delete`). */
export function deregisterInto(d: Draft, req: DeregisterRequest): void {
  if (req.node === '') throw new CatalogRequestError('Must provide node')
  const state = d.state
  if (req.serviceId !== '') {
    const key = d.keys.service(req.node, req.serviceId)
    if (d.getService(key) === undefined) return
    d.readIdx(nodeIdxName(req.node)) // the instance's checks are enumerated
    d.delete(key)
    for (const c of state.checksOfInstance(req.node, req.serviceId)) {
      d.delete(d.keys.check(req.node, c.check.checkId))
    }
    return
  }
  if (req.checkId !== '') {
    const key = d.keys.check(req.node, req.checkId)
    if (d.getCheck(key) === undefined) return
    d.delete(key)
    return
  }
  const nodeKey = d.keys.node(req.node)
  if (d.getNode(nodeKey) === undefined) return
  d.readIdx(nodeIdxName(req.node)) // the node's rows are enumerated
  for (const s of state.servicesOnNode(req.node)) {
    d.delete(d.keys.service(req.node, s.service.id))
  }
  for (const c of state.checksOnNode(req.node)) {
    d.delete(d.keys.check(req.node, c.check.checkId))
  }
  d.delete(nodeKey)
}
