/**
 * The catalog's records (Consul's `Node`, `NodeService`, `HealthCheck` tables) and its write
 * requests. Plain, frozen, camelCase: wire JSON (PascalCase) belongs to api/.
 */
import type { CheckDefinition, HealthCheck, Status } from '../structs/check.js'
import type { Service } from '../structs/service.js'

export type { CheckDefinition, HealthCheck, Service, Status }

/** A node of the catalog (Consul's `structs.Node` without its indexes). */
export type CatalogNode = Readonly<{
  /** UUID or ''. */
  id: string
  node: string
  address: string
  datacenter: string
  taggedAddresses: Readonly<Record<string, string>>
  meta: Readonly<Record<string, string>>
}>

/** Consul's raft indexes of a row: the store's create and mod revisions of its key. */
export type RowIndexes = Readonly<{ createIndex: number; modifyIndex: number }>

export type NodeRecord = Readonly<{ node: CatalogNode } & RowIndexes>

/** A service instance: the service and the name of the node it runs on (original case). */
export type ServiceRecord = Readonly<{ node: string; service: Service } & RowIndexes>

/** A check and the definition it was registered with (`Definition` on the wire). */
export type CheckRecord = Readonly<{ check: HealthCheck; definition: CheckDefinition } & RowIndexes>

/** A check inside a catalog registration; defaults are applied by the write planner. */
export type CatalogCheckInput = Readonly<{
  /** '' → the registration's node. */
  node: string
  /** '' → `name`. */
  checkId: string
  name: string
  /** '' → critical. */
  status: Status | ''
  notes: string
  output: string
  serviceId: string
  definition: CheckDefinition
}>

/** `PUT /v1/catalog/register` after decoding (Consul's `structs.RegisterRequest`). */
export type RegisterRequest = Readonly<{
  id: string
  node: string
  address: string
  /** '' → the catalog's datacenter. */
  datacenter: string
  taggedAddresses: Readonly<Record<string, string>>
  nodeMeta: Readonly<Record<string, string>>
  /** `Service.ID` '' → `Service.Service` (the planner applies it). */
  service: Service | null
  /** `Check` and `Checks[]` together, in that order. */
  checks: readonly CatalogCheckInput[]
  skipNodeUpdate: boolean
}>

/** A registration of `node` (its fields updated), with an optional service and checks. */
export function nodeRegistration(
  node: CatalogNode,
  service: Service | null,
  checks: readonly CatalogCheckInput[],
): RegisterRequest {
  return {
    id: node.id,
    node: node.node,
    address: node.address,
    datacenter: node.datacenter,
    taggedAddresses: node.taggedAddresses,
    nodeMeta: node.meta,
    service,
    checks,
    skipNodeUpdate: false,
  }
}

/** `PUT /v1/catalog/deregister` (Consul's `structs.DeregisterRequest`). */
export type DeregisterRequest = Readonly<{
  node: string
  serviceId: string
  checkId: string
}>

/** What a write did: `index` is the revision it committed at, or the view's when it changed nothing. */
export type WriteResult = Readonly<{ index: number; changed: boolean }>
