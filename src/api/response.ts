/**
 * What a route handler returns; the server writes it. A response without a body is Consul's
 * "empty success": zero-length body and no Content-Type.
 */
export type ApiResponse = Readonly<{
  status: number
  headers?: Readonly<Record<string, string>>
  body?: Readonly<{ json: unknown }> | Readonly<{ text: string; contentType: string }>
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

export function textResponse(
  status: number,
  text: string,
  contentType: string = TEXT_PLAIN_UTF8,
  headers: Readonly<Record<string, string>> = {},
): ApiResponse {
  return { status, headers, body: { text, contentType } }
}
