/**
 * JSON bodies encoded once per shared read result: identical blocking reads woken at one index
 * get the same result object from the catalog, so they share one rendering and one encoding per
 * route and `pretty`. Kept in a WeakMap: the bodies go when the result does.
 */
import { encodeJson } from './json.js'
import { encodedJsonResponse, type ApiResponse } from './response.js'

const bodies = new WeakMap<object, Map<string, Buffer>>()

export function sharedJsonResponse(
  result: object,
  route: string,
  render: () => unknown,
  headers: Readonly<Record<string, string>>,
): ApiResponse {
  let cache = bodies.get(result)
  if (cache === undefined) {
    cache = new Map()
    bodies.set(result, cache)
  }
  const shared = cache
  const response = encodedJsonResponse((pretty) => {
    const key = `${route}\u0000${pretty ? 'p' : ''}`
    let body = shared.get(key)
    if (body === undefined) {
      body = Buffer.from(encodeJson(render(), pretty), 'utf8')
      shared.set(key, body)
    }
    return body
  })
  return { ...response, headers }
}
