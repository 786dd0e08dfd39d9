/**
 * Model-based test of the catalog state machine: random register/deregister sequences, sent
 * through one of two catalogs (two servers) on one store, checked after every step against an
 * independent oracle (plain maps and Consul's rules written the simple way).
 *
 * After every step:
 * - both catalogs answer every query exactly as the oracle does;
 * - a write changes something iff the oracle's state changed; one that does not sends nothing
 *   (the store revision stays) and moves no query's index;
 * - no query's index goes backwards, and every query whose answer changed has a larger index;
 * - every blocked query whose answer changed has answered, with the new answer and an index
 *   above the client's; a blocked query that answered although its answer did not change
 *   carries the current index (never a stale one).
 *
 * The same properties run on the memory store (fake clock) and on a real etcd member: one suite
 * for every store (servers.md §2).
 *
 * Runs: VIGIL_SIM_RUNS (default 200) on memory, VIGIL_SIM_ETCD_RUNS (default 30) on etcd. Replay
 * a failure with VIGIL_SIM_SEED and VIGIL_SIM_PATH.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import fc from 'fast-check'
import type { QueryResult } from '../../src/catalog/blocking.js'
import { Catalog } from '../../src/catalog/catalog.js'
import { CatalogRequestError } from '../../src/catalog/errors.js'
import {
  checksInStateQuery,
  nodeChecksQuery,
  nodeServicesQuery,
  nodesQuery,
  serviceChecksQuery,
  serviceHealthQuery,
  serviceNodesQuery,
  servicesQuery,
  type CatalogQuery,
} from '../../src/catalog/queries.js'
import type { DeregisterRequest, RegisterRequest, ServiceRecord } from '../../src/catalog/types.js'
import { systemClock } from '../../src/lib/clock.js'
import { openEtcdStore } from '../../src/store/etcd.js'
import type { Store } from '../../src/store/store.js'
import type { Status } from '../../src/structs/check.js'
import { PREFIX, chk, openCatalog, reg, settle, svc } from '../support/catalog.js'
import { startEtcd, type EtcdMember } from '../support/etcd.js'

// ---- the oracle ------------------------------------------------------------------------------

interface ONode {
  name: string
  address: string
  meta: Record<string, string>
}
interface OService {
  id: string
  name: string
  tags: string[] | null
  port: number
  /** 'native', the destination of a connect proxy, or '' */
  connect: string
}
interface OCheck {
  node: string
  id: string
  name: string
  status: Status
  serviceId: string
  serviceName: string
  serviceTags: string[]
}
interface OState {
  nodes: Map<string, ONode>
  services: Map<string, Map<string, OService>>
  checks: Map<string, Map<string, OCheck>>
}

const lc = (s: string): string => s.toLowerCase()
const byKey = <T>(m: Map<string, T> | undefined): T[] =>
  [...(m ?? new Map<string, T>()).entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((e) => e[1])

function cloneState(s: OState): OState {
  return structuredClone(s)
}

function fingerprint(s: OState): string {
  const sortMap = (m: Map<string, unknown>): [string, unknown][] => [...m.entries()].sort()
  return JSON.stringify([
    sortMap(s.nodes),
    sortMap(new Map([...s.services].map(([k, v]) => [k, sortMap(v)]))),
    sortMap(new Map([...s.checks].map(([k, v]) => [k, sortMap(v)]))),
  ])
}

/** Applies a register the simple way; throws on what Consul refuses (state untouched then). */
function oracleRegister(state: OState, r: RegisterRequest): OState {
  if (r.address === '' && !r.skipNodeUpdate) throw new Error('refused')
  const s = cloneState(state)
  const n = lc(r.node)
  if (!r.skipNodeUpdate) s.nodes.set(n, { name: r.node, address: r.address, meta: { ...r.nodeMeta } })
  if (r.service !== null) {
    if (!s.nodes.has(n)) throw new Error('refused')
    const id = r.service.id !== '' ? r.service.id : r.service.name
    const m = s.services.get(n) ?? new Map<string, OService>()
    m.set(lc(id), {
      id,
      name: r.service.name,
      tags: r.service.tags === null ? null : [...r.service.tags],
      port: r.service.port,
      connect: r.service.connectNative ? 'native' : (r.service.proxy?.destinationServiceName ?? ''),
    })
    s.services.set(n, m)
  }
  for (const c of r.checks) {
    if (!s.nodes.has(n)) throw new Error('refused')
    let serviceName = ''
    let serviceTags: string[] = []
    if (c.serviceId !== '') {
      const owner = s.services.get(n)?.get(lc(c.serviceId))
      if (owner === undefined) throw new Error('refused')
      serviceName = owner.name
      serviceTags = [...(owner.tags ?? [])]
    }
    const id = c.checkId !== '' ? c.checkId : c.name
    const m = s.checks.get(n) ?? new Map<string, OCheck>()
    m.set(lc(id), {
      node: r.node,
      id,
      name: c.name,
      status: c.status === '' ? 'critical' : c.status,
      serviceId: c.serviceId,
      serviceName,
      serviceTags,
    })
    s.checks.set(n, m)
  }
  return s
}

function oracleDeregister(state: OState, r: DeregisterRequest): OState {
  const s = cloneState(state)
  const n = lc(r.node)
  if (r.serviceId !== '') {
    if (s.services.get(n)?.delete(lc(r.serviceId)) === true) {
      for (const [id, c] of s.checks.get(n) ?? []) {
        if (lc(c.serviceId) === lc(r.serviceId)) s.checks.get(n)?.delete(id)
      }
    }
  } else if (r.checkId !== '') {
    s.checks.get(n)?.delete(lc(r.checkId))
  } else {
    s.nodes.delete(n)
    s.services.delete(n)
    s.checks.delete(n)
  }
  for (const m of [s.services, s.checks] as Map<string, Map<string, unknown>>[]) {
    for (const [k, v] of m) if (v.size === 0) m.delete(k)
  }
  return s
}

// ---- queries and their projections ------------------------------------------------------------

interface Probe {
  readonly name: string
  readonly query: CatalogQuery<unknown>
  project(value: unknown): unknown
  oracle(s: OState): unknown
}

function probe<T>(
  name: string,
  query: CatalogQuery<T>,
  project: (v: T) => unknown,
  oracle: (s: OState) => unknown,
): Probe {
  return { name, query: query, project: project, oracle }
}

function oracleInstances(s: OState, name: string): { node: ONode; svc: OService; n: string }[] {
  const out: { node: ONode; svc: OService; n: string; key: string }[] = []
  for (const [n, m] of s.services) {
    for (const [id, svc] of m) {
      const node = s.nodes.get(n)
      if (lc(svc.name) === lc(name) && node !== undefined) out.push({ node, svc, n, key: `${n}\u0000${id}` })
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1))
}

function oracleConnect(s: OState, name: string): { node: ONode; svc: OService; n: string }[] {
  const out: { node: ONode; svc: OService; n: string; key: string }[] = []
  for (const [n, m] of s.services) {
    for (const [id, svc] of m) {
      const node = s.nodes.get(n)
      const matches =
        (svc.connect === 'native' && lc(svc.name) === lc(name)) ||
        (svc.connect !== 'native' && svc.connect !== '' && lc(svc.connect) === lc(name))
      if (matches && node !== undefined) out.push({ node, svc, n, key: `${n}\u0000${id}` })
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1))
}

function oracleNodeChecks(s: OState, n: string): OCheck[] {
  return byKey(s.checks.get(n))
}

const NAMES = ['x', 'y', 'p'] as const
const NODES = ['n1', 'n2', 'n3'] as const
const STATUSES: readonly Status[] = ['passing', 'warning', 'critical']

const PROBES: readonly Probe[] = [
  probe(
    'catalog/nodes',
    nodesQuery(),
    (v) => v.map((n) => [n.node.node, n.node.address]),
    (s) => byKey(s.nodes).map((n) => [n.name, n.address]),
  ),
  probe(
    'catalog/nodes?node-meta=rack:r1',
    nodesQuery({ nodeMeta: [['rack', 'r1']] }),
    (v) => v.map((n) => n.node.node),
    (s) =>
      byKey(s.nodes)
        .filter((n) => n.meta['rack'] === 'r1')
        .map((n) => n.name),
  ),
  probe(
    'catalog/services',
    servicesQuery(),
    (v) => [...v.entries()],
    (s) => {
      const tags = new Map<string, Set<string>>()
      for (const m of s.services.values()) {
        for (const svc of m.values()) {
          const set = tags.get(svc.name) ?? new Set<string>()
          for (const t of svc.tags ?? []) set.add(t)
          tags.set(svc.name, set)
        }
      }
      return [...tags.keys()].sort().map((k) => [k, [...(tags.get(k) ?? [])].sort()])
    },
  ),
  ...NAMES.flatMap((name) => [
    probe(
      `catalog/service/${name}`,
      serviceNodesQuery(name),
      (v) =>
        v.map((e) => [
          e.node.node.node,
          e.service.service.id,
          e.service.service.port,
          e.service.service.tags,
        ]),
      (s) => oracleInstances(s, name).map((e) => [e.node.name, e.svc.id, e.svc.port, e.svc.tags]),
    ),
    probe(
      `catalog/service/${name}?tag=t1`,
      serviceNodesQuery(name, { tags: ['T1'] }),
      (v) => v.map((e) => [e.node.node.node, e.service.service.id]),
      (s) =>
        oracleInstances(s, name)
          .filter((e) => (e.svc.tags ?? []).includes('t1'))
          .map((e) => [e.node.name, e.svc.id]),
    ),
    probe(
      `health/service/${name}`,
      serviceHealthQuery(name),
      (v) =>
        v.map((e) => [
          e.node.node.node,
          e.service.service.id,
          e.checks.map((c) => [c.check.checkId, c.check.status]),
        ]),
      (s) =>
        oracleInstances(s, name).map((e) => [
          e.node.name,
          e.svc.id,
          oracleNodeChecks(s, e.n)
            .filter((c) => c.serviceId === '' || lc(c.serviceId) === lc(e.svc.id))
            .map((c) => [c.id, c.status]),
        ]),
    ),
    probe(
      `health/service/${name}?passing`,
      serviceHealthQuery(name, { passing: true }),
      (v) => v.map((e) => [e.node.node.node, e.service.service.id]),
      (s) =>
        oracleInstances(s, name)
          .filter((e) =>
            oracleNodeChecks(s, e.n)
              .filter((c) => c.serviceId === '' || lc(c.serviceId) === lc(e.svc.id))
              .every((c) => c.status === 'passing'),
          )
          .map((e) => [e.node.name, e.svc.id]),
    ),
    probe(
      `health/checks/${name}`,
      serviceChecksQuery(name),
      (v) => v.map((c) => [lc(c.check.node), c.check.checkId, c.check.status]),
      (s) => {
        const out: [string, string, string][] = []
        for (const e of oracleInstances(s, name)) {
          for (const c of oracleNodeChecks(s, e.n)) {
            if (c.serviceId !== '' && lc(c.serviceId) === lc(e.svc.id)) out.push([e.n, c.id, c.status])
          }
        }
        return out.sort((a, b) => (`${a[0]}\u0000${lc(a[1])}` < `${b[0]}\u0000${lc(b[1])}` ? -1 : 1))
      },
    ),
    probe(
      `catalog/connect/${name}`,
      serviceNodesQuery(name, { connect: true }),
      (v) => v.map((e) => [e.node.node.node, e.service.service.id]),
      (s) => oracleConnect(s, name).map((e) => [e.node.name, e.svc.id]),
    ),
    probe(
      `health/connect/${name}`,
      serviceHealthQuery(name, { connect: true }),
      (v) =>
        v.map((e) => [
          e.node.node.node,
          e.service.service.id,
          e.checks.map((c) => [c.check.checkId, c.check.status]),
        ]),
      (s) =>
        oracleConnect(s, name).map((e) => [
          e.node.name,
          e.svc.id,
          oracleNodeChecks(s, e.n)
            .filter((c) => c.serviceId === '' || lc(c.serviceId) === lc(e.svc.id))
            .map((c) => [c.id, c.status]),
        ]),
    ),
  ]),
  ...NODES.flatMap((n) => [
    probe(
      `catalog/node/${n}`,
      nodeServicesQuery(n),
      (v) =>
        v === null
          ? null
          : [v.node.node.node, v.node.node.meta, v.services.map((x) => [x.service.id, x.service.name])],
      (s) => {
        const node = s.nodes.get(n)
        if (node === undefined) return null
        return [node.name, node.meta, byKey(s.services.get(n)).map((x) => [x.id, x.name])]
      },
    ),
    probe(
      `health/node/${n}`,
      nodeChecksQuery(n),
      (v) =>
        v.map((c) => [
          c.check.node,
          c.check.checkId,
          c.check.status,
          c.check.serviceId,
          c.check.serviceName,
          c.check.serviceTags,
        ]),
      (s) =>
        oracleNodeChecks(s, n).map((c) => [
          c.node,
          c.id,
          c.status,
          c.serviceId,
          c.serviceName,
          c.serviceTags,
        ]),
    ),
  ]),
  ...[...STATUSES, 'any' as const].map((st) =>
    probe(
      `health/state/${st}`,
      checksInStateQuery(st),
      (v) => v.map((c) => [lc(c.check.node), c.check.checkId]),
      (s) => {
        const out: [string, string][] = []
        for (const n of [...s.checks.keys()].sort()) {
          for (const c of oracleNodeChecks(s, n)) if (st === 'any' || c.status === st) out.push([n, c.id])
        }
        return out
      },
    ),
  ),
]

// ---- operations ---------------------------------------------------------------------------------

type Op =
  | { kind: 'register'; via: 0 | 1; req: RegisterRequest }
  | { kind: 'deregister'; via: 0 | 1; req: DeregisterRequest }
  /** Sends again the op `back + 1` steps earlier, as anti-entropy re-sends what it sent. */
  | { kind: 'repeat'; via: 0 | 1; back: number }

const nodeArb = fc.constantFrom('n1', 'n2', 'n3', 'N1')
const idArb = fc.constantFrom('', 'a', 'b', 'A')
const tagsArb = fc.option(fc.subarray(['t1', 't2']), { nil: null })

const registerArb = fc
  .record({
    via: fc.constantFrom<0 | 1>(0, 1),
    node: nodeArb,
    address: fc.constantFrom('10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2', ''),
    skip: fc.boolean(),
    rack: fc.constantFrom('', 'r1'),
    service: fc.option(
      fc.record({
        id: idArb,
        name: fc.constantFrom(...NAMES),
        tags: tagsArb,
        port: fc.constantFrom(0, 80),
        connect: fc.constantFrom('', '', 'native', 'x', 'Y'),
      }),
      { nil: null },
    ),
    checks: fc.array(
      fc.record({
        checkId: fc.constantFrom('', 'c1', 'C1'),
        name: fc.constantFrom('c1', 'c2'),
        status: fc.constantFrom<Status | ''>('', 'passing', 'warning', 'critical'),
        serviceId: fc.constantFrom('', 'a', 'b'),
      }),
      { maxLength: 2 },
    ),
  })
  .map((g): Op => ({
    kind: 'register',
    via: g.via,
    req: reg(g.node, {
      address: g.address,
      skipNodeUpdate: g.skip && g.address === '',
      nodeMeta: g.rack === '' ? {} : { rack: g.rack },
      service:
        g.service === null
          ? null
          : svc(g.service.name, {
              id: g.service.id,
              tags: g.service.tags,
              port: g.service.port,
              connectNative: g.service.connect === 'native',
              ...(g.service.connect === '' || g.service.connect === 'native'
                ? {}
                : {
                    kind: 'connect-proxy' as const,
                    proxy: {
                      destinationServiceName: g.service.connect,
                      destinationServiceId: g.service.connect,
                      localServiceAddress: '',
                      localServicePort: 0,
                      mode: '',
                      config: {},
                      upstreams: [],
                      extra: {},
                    },
                  }),
            }),
      checks: g.checks.map((c) => chk(c.name, c)),
    }),
  }))

const deregisterArb = fc
  .record({
    via: fc.constantFrom<0 | 1>(0, 1),
    node: nodeArb,
    serviceId: fc.constantFrom('', '', 'a', 'b', 'A'),
    checkId: fc.constantFrom('', 'c1', 'c2'),
  })
  .map((g): Op => ({
    kind: 'deregister',
    via: g.via,
    req: { node: g.node, serviceId: g.serviceId, checkId: g.checkId },
  }))

const repeatArb = fc
  .record({ via: fc.constantFrom<0 | 1>(0, 1), back: fc.nat({ max: 3 }) })
  .map((g): Op => ({ kind: 'repeat', ...g }))

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: registerArb },
  { weight: 1, arbitrary: deregisterArb },
  { weight: 2, arbitrary: repeatArb },
)

type Sent = Exclude<Op, { kind: 'repeat' }>

/** The register or deregister an op stands for, given the ones sent before it. */
function resolve(op: Op, sent: readonly Sent[]): Sent | undefined {
  if (op.kind !== 'repeat') return op
  const earlier = sent[sent.length - 1 - (op.back % Math.max(1, sent.length))]
  return earlier === undefined ? undefined : { ...earlier, via: op.via }
}

// ---- the beds: two catalogs (two servers) on one store -----------------------------------------

interface Bed {
  readonly store: Store
  readonly a: Catalog
  readonly b: Catalog
  /** Resolves once both views have every committed write and the wake-ups it caused ran. */
  settle(): Promise<void>
  close(): Promise<void>
}

/** The memory store on a fake clock: every step settles in a few turns of the event loop. */
async function memoryBed(): Promise<Bed> {
  const h = await openCatalog()
  const b = await Catalog.open({
    store: h.store,
    prefix: PREFIX,
    datacenter: 'dc1',
    clock: h.clock,
    random: () => 0,
  })
  return {
    store: h.store,
    a: h.catalog,
    b,
    settle,
    close: async () => {
      await b.close()
      await h.close()
    },
  }
}

// ---- the property -----------------------------------------------------------------------------

async function scenario(bed: Bed, ops: readonly Op[]): Promise<void> {
  const h = { catalog: bed.a, store: bed.store }
  const other = bed.b
  const servers = [h.catalog, other] as const
  try {
    let oracle: OState = { nodes: new Map(), services: new Map(), checks: new Map() }
    let previous = PROBES.map((p) => h.catalog.read(p.query))
    const sent: Sent[] = []
    for (const [step, given] of ops.entries()) {
      const op = resolve(given, sent)
      if (op === undefined) continue
      sent.push(op)
      const ctx = `step ${step}: ${JSON.stringify(op)}`
      // Arm one blocked query per probe at its current index, on each server (the write goes
      // through one of them: the other learns of it through its watch only).
      const answers = servers.map(() => PROBES.map((): QueryResult<unknown> | undefined => undefined))
      servers.forEach((server, k) => {
        PROBES.forEach((p, i) => {
          void server.block(p.query, { index: previous[i]?.index ?? 0 }).then((r) => {
            const mine = answers[k]
            if (mine !== undefined) mine[i] = r
          })
        })
      })
      const revBefore = await h.store.revision()
      let expected: OState
      try {
        expected = op.kind === 'register' ? oracleRegister(oracle, op.req) : oracleDeregister(oracle, op.req)
      } catch {
        expected = oracle
      }
      const changed = fingerprint(expected) !== fingerprint(oracle)
      const write =
        op.kind === 'register' ? servers[op.via].register(op.req) : servers[op.via].deregister(op.req)
      const outcome = await write.then(
        (w) => w,
        (err: unknown) => {
          assert.ok(err instanceof CatalogRequestError, `${ctx}: ${String(err)}`)
          return undefined
        },
      )
      if (outcome === undefined) assert.equal(expected, oracle, `${ctx}: refused, but the oracle accepts`)
      else assert.equal(outcome.changed, changed, `${ctx}: changed`)
      oracle = expected
      await bed.settle()
      if (!changed) assert.equal(await h.store.revision(), revBefore, `${ctx}: a no-op write sent a txn`)

      const now = PROBES.map((p) => h.catalog.read(p.query))
      PROBES.forEach((p, i) => {
        const before = previous[i]
        const after = now[i]
        assert.ok(before !== undefined && after !== undefined)
        const want = p.oracle(oracle)
        assert.deepEqual(p.project(after.value), want, `${ctx}: ${p.name} on server A`)
        assert.deepEqual(p.project(other.read(p.query).value), want, `${ctx}: ${p.name} on server B`)
        assert.ok(after.index >= before.index, `${ctx}: ${p.name} index went backwards`)
        assert.ok(after.index >= 1, `${ctx}: ${p.name} index 0`)
        const answerChanged = JSON.stringify(p.project(before.value)) !== JSON.stringify(want)
        if (answerChanged)
          assert.ok(after.index > before.index, `${ctx}: ${p.name} changed without its index`)
        if (!changed) assert.equal(after.index, before.index, `${ctx}: ${p.name} index moved on a no-op`)
        for (const [k, mine] of answers.entries()) {
          const answered = mine[i]
          const where = `${ctx}: ${p.name} on server ${k === 0 ? 'A' : 'B'}`
          if (answerChanged) {
            assert.ok(answered !== undefined, `${where}: blocked query not woken`)
            assert.deepEqual(p.project(answered.value), want, `${where}: woken with a stale answer`)
          }
          if (answered !== undefined) {
            assert.ok(answered.index > before.index, `${where}: answered without passing the index`)
            assert.equal(answered.index, after.index, `${where}: answered a stale index`)
          }
        }
      })
      previous = now
    }
  } finally {
    await bed.close()
  }
}

const runs = Number(process.env['VIGIL_SIM_RUNS'] ?? 200)
const seed = process.env['VIGIL_SIM_SEED']
const path = process.env['VIGIL_SIM_PATH']

test(`catalog model: two servers agree with the oracle; indexes and wake-ups follow Consul (${runs} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
      await scenario(await memoryBed(), ops)
    }),
    {
      numRuns: runs,
      includeErrorInReport: true,
      ...(seed !== undefined ? { seed: Number(seed) } : {}),
      ...(path !== undefined ? { path } : {}),
    },
  )
})

// ---- concurrent writers ---------------------------------------------------------------------------

/**
 * Invariants of one catalog's view that hold whatever order concurrent writes committed in: rows
 * hang together (a service has its node, a service check its service) and every name with an
 * instance has an index entry at least as recent as each of its rows, while names without one
 * have none.
 */
function assertCoherent(c: Catalog, ctx: string): void {
  const st = c.state
  const nodes = new Map(st.nodes().map((n) => [lc(n.node.node), n]))
  const latest = new Map<string, number>()
  const bump = (entry: string, rev: number): void => {
    latest.set(entry, Math.max(latest.get(entry) ?? 0, rev))
  }
  /** Every entry an instance's answer is indexed by: its name, and its connect side. */
  const entriesOf = (s: ServiceRecord): string[] => {
    const out = [`service.${lc(s.service.name)}`]
    if (s.service.connectNative) out.push(`connect.${lc(s.service.name)}`)
    const dest = s.service.proxy?.destinationServiceName ?? ''
    if (s.service.kind === 'connect-proxy' && dest !== '') out.push(`connect.${lc(dest)}`)
    return out
  }
  for (const n of nodes.values()) {
    bump('nodes', n.modifyIndex)
    bump(`node.${lc(n.node.node)}`, n.modifyIndex)
  }
  for (const s of st.allServices()) {
    const node = nodes.get(lc(s.node))
    assert.ok(node !== undefined, `${ctx}: service ${s.service.id} without its node ${s.node}`)
    bump('services', s.modifyIndex)
    bump(`node.${lc(s.node)}`, s.modifyIndex)
    for (const e of entriesOf(s)) bump(e, Math.max(s.modifyIndex, node.modifyIndex))
  }
  for (const ch of st.checksInStatus(undefined)) {
    const node = nodes.get(lc(ch.check.node))
    assert.ok(node !== undefined, `${ctx}: check ${ch.check.checkId} without its node`)
    bump('checks', ch.modifyIndex)
    bump(`node.${lc(ch.check.node)}`, ch.modifyIndex)
    if (ch.check.serviceId !== '') {
      const owner = st.service(ch.check.node, ch.check.serviceId)
      assert.ok(
        owner !== undefined,
        `${ctx}: check ${ch.check.checkId} without its service ${ch.check.serviceId}`,
      )
      for (const e of entriesOf(owner)) bump(e, ch.modifyIndex)
    } else {
      for (const s of st.servicesOnNode(ch.check.node)) for (const e of entriesOf(s)) bump(e, ch.modifyIndex)
    }
  }
  const names = [
    'nodes',
    'services',
    'checks',
    ...NODES.map((n) => `node.${n}`),
    ...NAMES.flatMap((n) => [`service.${n}`, `connect.${n}`]),
  ]
  for (const name of names) {
    const entry = st.idx(name)
    const newest = latest.get(name)
    if (newest === undefined) {
      if (!['nodes', 'services', 'checks'].includes(name)) {
        assert.equal(entry, undefined, `${ctx}: ${name} kept without rows`)
      }
    } else {
      assert.ok(entry !== undefined, `${ctx}: ${name} missing`)
      assert.ok(entry >= newest, `${ctx}: ${name} at ${entry} behind a row at ${newest}`)
    }
  }
}

async function concurrentScenario(bed: Bed, rounds: readonly (readonly Op[])[]): Promise<void> {
  const h = { catalog: bed.a }
  const other = bed.b
  const servers = [h.catalog, other] as const
  try {
    for (const [i, round] of rounds.entries()) {
      await Promise.all(
        round.map(async (op) => {
          if (op.kind === 'repeat') return
          const c = servers[op.via]
          await (op.kind === 'register' ? c.register(op.req) : c.deregister(op.req)).catch((err: unknown) => {
            assert.ok(err instanceof CatalogRequestError, String(err))
          })
        }),
      )
      await bed.settle()
      assert.equal(h.catalog.revision, other.revision, `round ${i}: views at different revisions`)
      for (const p of PROBES) {
        assert.deepEqual(
          p.project(h.catalog.read(p.query).value),
          p.project(other.read(p.query).value),
          `round ${i}: ${p.name}`,
        )
      }
      assertCoherent(h.catalog, `round ${i} A`)
      assertCoherent(other, `round ${i} B`)
    }
  } finally {
    await bed.close()
  }
}

test(`catalog model: concurrent writes through two servers keep the catalog coherent (${runs} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.oneof(registerArb, deregisterArb), { minLength: 2, maxLength: 4 }), {
        minLength: 1,
        maxLength: 8,
      }),
      async (rounds) => {
        await concurrentScenario(await memoryBed(), rounds)
      },
    ),
    {
      numRuns: runs,
      includeErrorInReport: true,
      ...(seed !== undefined ? { seed: Number(seed) } : {}),
      ...(path !== undefined ? { path } : {}),
    },
  )
})

// ---- the same properties on etcd --------------------------------------------------------------

/**
 * The etcd store (a real member on loopback): both catalogs on their own etcd client, a fresh
 * prefix per run; a step settles once both views reached the store's revision.
 */
let etcd: EtcdMember | undefined
let beds = 0

async function etcdBed(): Promise<Bed> {
  etcd ??= await startEtcd(['--max-txn-ops=1024'])
  const endpoint = etcd.endpoint
  const prefix = `/vigil-model-${++beds}/dc1/`
  const stores = [
    await openEtcdStore({ endpoints: [endpoint], prefix }),
    await openEtcdStore({ endpoints: [endpoint], prefix }),
  ] as const
  const [a, b] = await Promise.all(
    stores.map((store) =>
      Catalog.open({ store, prefix, datacenter: 'dc1', clock: systemClock, random: () => 0 }),
    ),
  )
  assert.ok(a !== undefined && b !== undefined)
  const store = stores[0]
  return {
    store,
    a,
    b,
    settle: async () => {
      const revision = await store.revision()
      for (let i = 0; i < 2_500 && (a.revision < revision || b.revision < revision); i++) {
        await new Promise((r) => setTimeout(r, 2))
      }
      await settle()
    },
    close: async () => {
      await Promise.all([a.close(), b.close()])
      await Promise.all(stores.map((s) => s.close()))
    },
  }
}

const etcdRuns = Number(process.env['VIGIL_SIM_ETCD_RUNS'] ?? 30)

after(async () => {
  await etcd?.stop()
})

test(`catalog model on etcd: two servers agree with the oracle; indexes and wake-ups follow Consul (${etcdRuns} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 20 }), async (ops) => {
      await scenario(await etcdBed(), ops)
    }),
    { numRuns: etcdRuns, includeErrorInReport: true, ...(seed !== undefined ? { seed: Number(seed) } : {}) },
  )
})

test(`catalog model on etcd: concurrent writes through two servers keep the catalog coherent (${etcdRuns} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.oneof(registerArb, deregisterArb), { minLength: 2, maxLength: 4 }), {
        minLength: 1,
        maxLength: 6,
      }),
      async (rounds) => {
        await concurrentScenario(await etcdBed(), rounds)
      },
    ),
    { numRuns: etcdRuns, includeErrorInReport: true, ...(seed !== undefined ? { seed: Number(seed) } : {}) },
  )
})
