/**
 * What a route handler returns; the server writes it. A response without a body is Consul's
 * "empty success": zero-length body and no Content-Type.
 */
export type ApiResponse = Readonly<{
  status: number
  headers?: Readonly<Record<string, string>>
  body?:
    | Readonly<{ json: unknown }>
    | Readonly<{ text: string; contentType: string }>
    /** Bytes sent as they are (`/v1/kv/<key>?raw`). */
    | Readonly<{ bytes: Buffer; contentType: string }>
    /** JSON the route encodes itself (from cached fragments); `pretty` as the server decided. */
    | Readonly<{ encode: (pretty: boolean) => string | Buffer }>
}>

export const TEXT_PLAIN_UTF8 = 'text/plain; charset=utf-8'

export const EMPTY_OK: ApiResponse = Object.freeze({ status: 200 })

export function jsonResponse(
  value: unknown,
  status = 200,
  headers: Readonly<Record<string, string>> = {},
): ApiResponse {
  return { status, headers, body: { json: value } }
}

/** A JSON response whose document the route encodes itself (e.g. from a FragmentCache). */
export function encodedJsonResponse(encode: (pretty: boolean) => string | Buffer): ApiResponse {
  return { status: 200, body: { encode } }
}

export function textResponse(
  status: number,
  text: string,
  contentType: string = TEXT_PLAIN_UTF8,
  headers: Readonly<Record<string, string>> = {},
): ApiResponse {
  return { status, headers, body: { text, contentType } }
}
