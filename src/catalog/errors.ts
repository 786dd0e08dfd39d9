import { VigilError } from '../lib/errors.js'

/**
 * A catalog write Consul's state machine refuses (`Must provide node`, `failed inserting check:
 * Missing service registration`, …). Consul answers these with 500 and the text as body.
 */
export class CatalogRequestError extends VigilError {
  readonly code = 'VIGIL_ERR_CATALOG_REQUEST'
  readonly statusCode = 500
}

/** A write kept losing its compare-and-swap against concurrent writers; nothing was applied. */
export class CatalogConflictError extends VigilError {
  readonly code = 'VIGIL_ERR_CATALOG_CONFLICT'
  readonly statusCode = 500
  constructor(readonly attempts: number) {
    super(`catalog write conflicted with concurrent writes ${attempts} times; not applied`)
  }
}

/** The catalog was closed; reads and writes are refused. */
export class CatalogClosedError extends VigilError {
  readonly code = 'VIGIL_ERR_CATALOG_CLOSED'
  readonly statusCode = 503
  constructor() {
    super('Catalog is shutting down')
  }
}

/**
 * A KV, session or txn request the state machine refuses, with Consul's status and text
 * (`invalid session "<id>"` 500, `Value for key "<k>" is too large (…)` 413, …).
 */
export class KvRequestError extends VigilError {
  readonly code = 'VIGIL_ERR_KV_REQUEST'
  constructor(
    readonly statusCode: 400 | 413 | 500,
    message: string,
  ) {
    super(message)
  }
}

/** A request names a datacenter this catalog cannot reach (no WAN federation). */
export class UnknownDatacenterError extends VigilError {
  readonly code = 'VIGIL_ERR_UNKNOWN_DATACENTER'
  readonly statusCode = 500
  constructor(readonly datacenter: string) {
    super('No path to datacenter')
  }
}

/**
 * Consul's `No cluster leader`: a leader-task write refused because this server no longer holds
 * the leader key (its fence failed: another server leads now, nothing was applied), or a request
 * that needs the store while this server has no contact with it (api/leader.ts; `cause` is the
 * store's error when a call to it failed).
 */
export class NotLeaderError extends VigilError {
  readonly code = 'VIGIL_ERR_NOT_LEADER'
  readonly statusCode = 500
  constructor(options?: ErrorOptions) {
    super('No cluster leader', options)
  }
}

/**
 * A snapshot that cannot be read: not gzip, cut short, altered (checksum), or not vigil's format.
 * Consul answers a bad snapshot with 500 and `failed to decompress snapshot: …` /
 * `failed to read snapshot file: …`; nothing is restored.
 */
export class SnapshotInvalidError extends VigilError {
  readonly code = 'VIGIL_ERR_SNAPSHOT_INVALID'
  readonly statusCode = 500
}

/**
 * A valid snapshot this store cannot take without breaking a guarantee (its indexes would go
 * backwards, it is too large for one transaction, the target is not empty); nothing is restored.
 */
export class SnapshotRestoreError extends VigilError {
  readonly code = 'VIGIL_ERR_SNAPSHOT_RESTORE'
  readonly statusCode = 500
}
