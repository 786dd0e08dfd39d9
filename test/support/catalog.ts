import { Catalog, type CatalogOptions } from '../../src/catalog/catalog.js'
import type { CatalogCheckInput, RegisterRequest } from '../../src/catalog/types.js'
import { FakeClock } from './fake-clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import type { Store } from '../../src/store/store.js'
import { EMPTY_DEFINITION, type Status } from '../../src/structs/check.js'
import type { Service } from '../../src/structs/service.js'
import { serviceRecord } from './records.js'

export const PREFIX = 'vigil/dc1'

/** A service record with Consul's defaults; `name` also gives the ID unless `id` is set. */
export function svc(name: string, opts: Partial<Service> = {}): Service {
  return serviceRecord(opts.id ?? name, { name, ...opts })
}

export function chk(
  name: string,
  opts: Partial<Omit<CatalogCheckInput, 'status'>> & { status?: Status | '' } = {},
): CatalogCheckInput {
  return Object.freeze({
    node: '',
    checkId: '',
    name,
    status: '' as const,
    notes: '',
    output: '',
    serviceId: '',
    definition: EMPTY_DEFINITION,
    ...opts,
  })
}

export function reg(node: string, opts: Partial<RegisterRequest> = {}): RegisterRequest {
  return Object.freeze({
    id: '',
    node,
    address: '10.0.0.1',
    datacenter: '',
    taggedAddresses: Object.freeze({}),
    nodeMeta: Object.freeze({}),
    service: null,
    checks: Object.freeze([]),
    skipNodeUpdate: false,
    ...opts,
  })
}

export interface CatalogHarness {
  readonly clock: FakeClock
  readonly store: MemoryStore
  readonly catalog: Catalog
  close(): Promise<void>
}

/** A catalog on a fresh MemoryStore and a FakeClock (jitter fixed at 0). */
export async function openCatalog(
  opts: Partial<CatalogOptions> & { wrap?: (s: MemoryStore) => Store } = {},
): Promise<CatalogHarness> {
  const { wrap, ...rest } = opts
  const clock = new FakeClock()
  const store = new MemoryStore({ clock })
  const catalog = await Catalog.open({
    store: wrap?.(store) ?? store,
    prefix: PREFIX,
    datacenter: 'dc1',
    clock,
    random: () => 0,
    ...rest,
  })
  return {
    clock,
    store,
    catalog,
    close: async () => {
      await catalog.close()
      await store.close()
    },
  }
}

/** Lets queued promise jobs (watch deliveries, wake-ups) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
