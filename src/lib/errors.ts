/**
 * vigil's typed errors. Each carries a stable `VIGIL_ERR_*` code and the HTTP status Consul
 * uses for the condition; only api/ turns them into responses. Messages are Consul's texts,
 * because clients match on them. Every code is listed in docs/errors.md (a test checks it).
 */
export abstract class VigilError extends Error {
  abstract readonly code: `VIGIL_ERR_${string}`
  abstract readonly statusCode: 400 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 503
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Invalid input: the message is the exact body Consul sends. */
export class BadRequestError extends VigilError {
  readonly code = 'VIGIL_ERR_BAD_REQUEST'
  readonly statusCode = 400
}

/** A body that is not valid JSON for the endpoint: `Request decode failed: …`. */
export class DecodeError extends VigilError {
  readonly code = 'VIGIL_ERR_DECODE'
  readonly statusCode = 400
  constructor(detail: string, options?: ErrorOptions) {
    super(`Request decode failed: ${detail}`, options)
  }
}

export class UnknownServiceError extends VigilError {
  readonly code = 'VIGIL_ERR_UNKNOWN_SERVICE'
  readonly statusCode = 404
  constructor(readonly serviceId: string) {
    super(`Unknown service ID "${serviceId}". Ensure that the service ID is passed, not the service name.`)
  }
}

export class UnknownCheckError extends VigilError {
  readonly code = 'VIGIL_ERR_UNKNOWN_CHECK'
  readonly statusCode = 404
  constructor(readonly checkId: string) {
    super(`Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`)
  }
}

/** A check names a service that is not registered on this agent. */
export class MissingServiceForCheckError extends VigilError {
  readonly code = 'VIGIL_ERR_CHECK_SERVICE_MISSING'
  readonly statusCode = 404
  constructor(readonly serviceId: string) {
    super(`ServiceID "${serviceId}" does not exist`)
  }
}

/** Service maintenance on an unknown service. */
export class MaintenanceServiceMissingError extends VigilError {
  readonly code = 'VIGIL_ERR_MAINTENANCE_SERVICE_MISSING'
  readonly statusCode = 404
  constructor(readonly serviceId: string) {
    super(`No service registered with ID "${serviceId}"`)
  }
}

/** Anything else that is not there (a path, an agent object without a specific text). */
export class NotFoundError extends VigilError {
  readonly code = 'VIGIL_ERR_NOT_FOUND'
  readonly statusCode = 404
}

/** pass/warn/fail/update on a check that is not a TTL check (Consul answers 500). */
export class NotTtlCheckError extends VigilError {
  readonly code = 'VIGIL_ERR_NOT_TTL'
  readonly statusCode = 500
  constructor(readonly checkId: string) {
    super(`CheckID "${checkId}" does not have associated TTL`)
  }
}

/** A script check (`Args`) refused by the agent's configuration (Consul answers 500). */
export class ScriptChecksDisabledError extends VigilError {
  readonly code = 'VIGIL_ERR_SCRIPTS_DISABLED'
  readonly statusCode = 500
  constructor(readonly remote: boolean) {
    super(
      remote
        ? "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
        : "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true",
    )
  }
}

export class MethodNotAllowedError extends VigilError {
  readonly code = 'VIGIL_ERR_METHOD_NOT_ALLOWED'
  readonly statusCode = 405
  constructor(
    readonly method: string,
    readonly allowed: readonly string[],
  ) {
    super(`method ${method} not allowed`)
  }
}

export class BodyTooLargeError extends VigilError {
  readonly code = 'VIGIL_ERR_BODY_TOO_LARGE'
  readonly statusCode = 413
}

export class UnsupportedMediaTypeError extends VigilError {
  readonly code = 'VIGIL_ERR_UNSUPPORTED_MEDIA_TYPE'
  readonly statusCode = 415
}

/** Writing agent state to the data dir failed; the operation was not applied. */
export class PersistenceError extends VigilError {
  readonly code = 'VIGIL_ERR_PERSISTENCE'
  readonly statusCode = 500
}

/** The agent is shutting down and refuses new lifecycle work. */
export class ShuttingDownError extends VigilError {
  readonly code = 'VIGIL_ERR_SHUTTING_DOWN'
  readonly statusCode = 503
  constructor() {
    super('Agent is shutting down')
  }
}

/**
 * A `filter=` expression that does not parse or does not fit the filtered type (Consul answers
 * 500). `detail` is go-bexpr's text, e.g. `1:5 (4): no match found, …` or `Selector "X" is not valid`.
 */
export class FilterError extends VigilError {
  readonly code = 'VIGIL_ERR_BAD_FILTER'
  readonly statusCode = 500
  constructor(
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`Failed to create boolean expression evaluator: ${detail}`, options)
  }
}

/**
 * A valid filter whose regular expressions would need more work on the data than one request may
 * spend (vigil's bound; Consul has none). Status 500, as Consul answers every filter failure.
 */
export class FilterLimitError extends VigilError {
  readonly code = 'VIGIL_ERR_FILTER_LIMIT'
  readonly statusCode = 500
}

/** A configuration problem found at startup or reload; lists every problem, not the first. */
export class ConfigError extends VigilError {
  readonly code = 'VIGIL_ERR_CONFIG'
  readonly statusCode = 400
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'))
  }
}

/** `force-leave` of a node that is not a member (Consul's text). */
export class UnknownMemberError extends VigilError {
  readonly code = 'VIGIL_ERR_UNKNOWN_MEMBER'
  readonly statusCode = 500
  constructor(readonly node: string) {
    super(`agent: No node found with name '${node}'`)
  }
}

/** A client agent knows no server to send a request to (Consul's `structs.ErrNoServers`). */
export class NoServersError extends VigilError {
  readonly code = 'VIGIL_ERR_NO_SERVERS'
  readonly statusCode = 500
  constructor() {
    super('No known Consul servers')
  }
}

/** A join contacted no agent; `detail` lists each address and why. */
export class JoinError extends VigilError {
  readonly code = 'VIGIL_ERR_JOIN'
  readonly statusCode = 500
}

/** A runner was stopped; used as the abort reason for its signal. */
export class RunnerStoppedError extends Error {
  constructor() {
    super('runner stopped')
    this.name = 'RunnerStoppedError'
  }
}

/** The message of anything thrown: an Error's message, else its string form. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
