import { BodyTooLargeError, MethodNotAllowedError, VigilError, errorMessage } from '../lib/errors.js'
import type { ApiResponse } from './response.js'
import { textResponse } from './response.js'
import type { ApiLogger } from './settings.js'

/** The largest request body the API reads; larger bodies get 413 (a documented difference). */
export const BODY_LIMIT_BYTES = 16 * 1024 * 1024

export const BODY_TOO_LARGE_TEXT = `Request body too large: the limit is ${BODY_LIMIT_BYTES} bytes`

/** Fastify's own errors carry a code and, for client errors, a 4xx status. */
interface FrameworkError {
  readonly code: string
  readonly statusCode?: number
  readonly message: string
}

function isFrameworkError(err: unknown): err is FrameworkError {
  return (
    err instanceof Error && typeof (err as Partial<FrameworkError>).code === 'string' && 'statusCode' in err
  )
}

/**
 * The response for an error (STYLE.md practice 10): a VigilError answers its status with its
 * message as a `text/plain; charset=utf-8` body (405 adds `Allow`); a framework client error
 * keeps its 4xx status; anything else is a 500 with its message, logged with its cause.
 */
export function errorResponse(err: unknown, log: ApiLogger, context: object): ApiResponse {
  if (err instanceof MethodNotAllowedError) {
    return textResponse(405, err.message, undefined, { Allow: err.allowed.join(',') })
  }
  if (err instanceof VigilError) return textResponse(err.statusCode, err.message)
  if (isFrameworkError(err)) {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return errorResponse(new BodyTooLargeError(BODY_TOO_LARGE_TEXT), log, context)
    }
    const status = err.statusCode ?? 500
    if (status >= 400 && status < 500) return textResponse(status, err.message)
  }
  log.error({ ...context, err }, 'Request failed unexpectedly')
  return textResponse(500, errorMessage(err))
}
