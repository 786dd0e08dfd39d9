import type { ApiRequest } from './request.js'
import type { ApiResponse } from './response.js'

/** Methods a route can list. */
export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE'

/**
 * One endpoint, as Consul registers it on Go's `ServeMux` (http-api.md §1): a pattern ending in
 * `/` is a subtree route that takes the whole rest of the decoded path (`ApiRequest.rest`); any
 * other pattern matches exactly.
 */
export interface RouteSpec {
  readonly pattern: string
  readonly methods: readonly HttpMethod[]
  readonly handler: (req: ApiRequest) => ApiResponse | Promise<ApiResponse>
}

export type RouteMatch =
  | Readonly<{ kind: 'route'; route: RouteSpec; rest: string }>
  | Readonly<{ kind: 'redirect'; location: string }>
  | Readonly<{ kind: 'index' }>
  | Readonly<{ kind: 'not-found' }>

/**
 * The route table. Lookup follows `ServeMux`: an exact leaf wins, else the longest subtree
 * prefix; a subtree root asked for without its slash redirects to it.
 */
export class RouteTable {
  readonly #leaves = new Map<string, RouteSpec>()
  readonly #subtrees: RouteSpec[] = []

  constructor(routes: Iterable<RouteSpec>) {
    for (const r of routes) {
      if (!r.pattern.startsWith('/')) throw new Error(`route pattern must start with "/": ${r.pattern}`)
      const taken = r.pattern.endsWith('/')
        ? this.#subtrees.some((s) => s.pattern === r.pattern)
        : this.#leaves.has(r.pattern)
      if (taken) throw new Error(`duplicate route pattern ${r.pattern}`)
      if (r.pattern.endsWith('/')) this.#subtrees.push(r)
      else this.#leaves.set(r.pattern, r)
    }
    this.#subtrees.sort((a, b) => b.pattern.length - a.pattern.length)
  }

  /** `path` is decoded and clean; `rawQuery` (without `?`) is kept on redirects. */
  match(path: string, rawQuery: string): RouteMatch {
    const leaf = this.#leaves.get(path)
    if (leaf !== undefined) return { kind: 'route', route: leaf, rest: '' }
    for (const s of this.#subtrees) {
      if (path.startsWith(s.pattern)) return { kind: 'route', route: s, rest: path.slice(s.pattern.length) }
    }
    if (this.#subtrees.some((s) => s.pattern === `${path}/`)) {
      return { kind: 'redirect', location: withQuery(escapePath(`${path}/`), rawQuery) }
    }
    return path === '/' ? { kind: 'index' } : { kind: 'not-found' }
  }
}

/**
 * Decodes a request path like Go's `url.PathUnescape` (`+` stays `+`; bytes are UTF-8 decoded
 * with replacement). Returns undefined for a malformed escape.
 */
export function decodePath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw
  const chunks: Buffer[] = []
  let i = 0
  while (i < raw.length) {
    const pct = raw.indexOf('%', i)
    const end = pct === -1 ? raw.length : pct
    if (end > i) chunks.push(Buffer.from(raw.slice(i, end), 'utf8'))
    if (pct === -1) break
    const hex = raw.slice(pct + 1, pct + 3)
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined
    chunks.push(Buffer.of(parseInt(hex, 16)))
    i = pct + 3
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Go's `net/http` `cleanPath`: `path.Clean` that keeps a trailing slash. */
export function cleanPath(p: string): string {
  if (p === '') return '/'
  const rooted = p.startsWith('/') ? p : `/${p}`
  const out: string[] = []
  for (const part of rooted.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  let clean = `/${out.join('/')}`
  if (rooted.endsWith('/') && clean !== '/') clean += '/'
  return clean
}

/** Escapes a decoded path as Go's `url.URL.EscapedPath` does for a Location header. */
export function escapePath(path: string): string {
  return path.replace(/[^A-Za-z0-9\-_.~$&+,/:;=@]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  )
}

export function withQuery(path: string, rawQuery: string): string {
  return rawQuery === '' ? path : `${path}?${rawQuery}`
}
