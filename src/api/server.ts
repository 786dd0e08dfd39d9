import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { AgentPort } from '../agent/ports.js'
import type { ClusterPort } from '../cluster/ports.js'
import type { KvPort } from '../catalog/kv-port.js'
import type { CatalogPort } from '../catalog/port.js'
import { systemClock, type Clock } from '../lib/clock.js'
import { Dispatcher, type Dispatched } from './dispatch.js'
import { BODY_LIMIT_BYTES, errorResponse } from './errors.js'
import { encodeJson } from './json.js'
import { storeGated } from './leader.js'
import { ApiMetrics } from './metrics.js'
import type { ApiResponse } from './response.js'
import { agentCheckRoutes } from './routes/agent-checks.js'
import { agentHealthRoutes } from './routes/agent-health.js'
import { agentMiscRoutes } from './routes/agent-misc.js'
import { agentServiceRoutes } from './routes/agent-services.js'
import type { RouteDeps } from './routes/deps.js'
import type { ServerDirectory } from '../cluster/ports.js'
import { statusRoutes } from './routes/status.js'
import { RouteTable, type RouteSpec } from './routing.js'
import type { ApiLogger, HttpApiSettings } from './settings.js'

export interface HttpApiOptions {
  readonly agent: AgentPort
  readonly config: HttpApiSettings
  readonly logger: ApiLogger
  readonly clock?: Clock
  readonly random?: () => number
  /** Re-reads the configuration and applies it (`PUT /v1/agent/reload`); absent: reload fails. */
  readonly reload?: () => Promise<void>
  /** More route groups (catalog, KV, …) served next to the agent's. */
  readonly routes?: readonly ((deps: RouteDeps) => readonly RouteSpec[])[]
  /** Serve the agent endpoints (default true); a cluster listener serves only `routes`. */
  readonly agentRoutes?: boolean
  /**
   * Answer `/v1/status/*` from this agent (default true: a server, or a lone agent); a client
   * agent forwards them to a server among `routes` instead.
   */
  readonly localStatus?: boolean
  /** The cluster behind members, join, leave and force-leave; absent: a lone agent. */
  readonly cluster?: ClusterPort
  /** The servers sharing this server's store (`RouteDeps.servers`). */
  readonly servers?: ServerDirectory
  /** The catalog the catalog and health routes serve (`RouteDeps.catalog`). */
  readonly catalog?: CatalogPort
  /** The KV store, sessions and transactions the kv, session and txn routes serve (`RouteDeps.kv`). */
  readonly kv?: KvPort
}

/** A running HTTP API. */
export interface HttpApi {
  /** Every bound listener as `host:port` (`[v6]:port`), or a unix socket path. */
  readonly addresses: readonly string[]
  /**
   * Idempotent. Stops accepting connections, wakes blocking queries (they answer with what they
   * have), and resolves once every in-flight request has been answered and every listener closed.
   */
  close(): Promise<void>
}

const AGENT_ROUTES = [agentMiscRoutes, agentServiceRoutes, agentCheckRoutes, agentHealthRoutes]

/** The API as a fastify instance that is not listening, for in-process `inject()` tests. */
export function buildHttpApi(opts: HttpApiOptions): FastifyInstance {
  return createApp(opts, undefined)
}

/**
 * Builds the API and binds every address of `addresses.http` on `ports.http` (port 0: the first
 * bind picks a free port and the others reuse it). Nothing listens when the port is negative.
 */
export async function startHttpApi(opts: HttpApiOptions): Promise<HttpApi> {
  let handler: RequestListener | undefined
  const extra: Server[] = []
  const extraClosed: Promise<unknown>[] = []
  const app = createApp(opts, (h) => {
    handler = h
    return createServer(h)
  })
  app.addHook('preClose', (done) => {
    for (const s of extra) {
      s.close()
      s.closeIdleConnections()
    }
    done()
  })
  const addresses: string[] = []
  try {
    await app.ready()
    const [first, ...rest] = opts.config.addresses.http
    let port = opts.config.ports.http
    if (first !== undefined && port >= 0) {
      await app.listen(listenTarget(first, port))
      const bound = app.server.address()
      port = typeof bound === 'object' && bound !== null ? bound.port : port
      addresses.push(describe(bound, first))
      for (const host of rest) {
        if (handler === undefined) throw new Error('fastify did not call its server factory')
        const server = createServer(handler)
        extra.push(server)
        extraClosed.push(new Promise((resolve) => server.once('close', resolve)))
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(listenTarget(host, port), () => {
            server.off('error', reject)
            resolve()
          })
        })
        addresses.push(describe(server.address(), host))
      }
    }
  } catch (err) {
    await app.close()
    throw err
  }
  let closed: Promise<void> | undefined
  opts.logger.info({ addresses }, 'HTTP API listening')
  return {
    addresses: Object.freeze(addresses),
    close: () =>
      (closed ??= (async () => {
        await app.close()
        await Promise.all(extraClosed)
      })()),
  }
}

function createApp(
  opts: HttpApiOptions,
  serverFactory: ((handler: RequestListener) => Server) | undefined,
): FastifyInstance {
  const { agent, config, logger } = opts
  const clock = opts.clock ?? systemClock
  const metrics = new ApiMetrics(agent, clock, config.telemetry.metricsPrefix)
  // On a server, what the routes do with the store needs contact with it (leader.ts).
  const ports = opts.servers === undefined ? opts : storeGated(opts, opts.servers)
  const deps: RouteDeps = {
    agent,
    settings: config,
    metrics,
    clock,
    random: opts.random ?? Math.random,
    reload: opts.reload ?? (() => Promise.reject(new Error('configuration reload is not available'))),
    cluster: opts.cluster ?? null,
    ...(ports.catalog !== undefined ? { catalog: ports.catalog } : {}),
    ...(ports.kv !== undefined ? { kv: ports.kv } : {}),
    ...(opts.servers !== undefined ? { servers: opts.servers } : {}),
  }
  const groups = [
    ...(opts.agentRoutes === false ? [] : AGENT_ROUTES),
    ...(opts.agentRoutes === false || opts.localStatus === false ? [] : [statusRoutes]),
    ...(opts.routes ?? []),
  ]
  const dispatcher = new Dispatcher(new RouteTable(groups.flatMap((g) => g(deps))), config, logger)
  const closing = new AbortController()
  const answered = new WeakMap<FastifyRequest, Dispatched>()

  const factory = serverFactory ?? ((h: RequestListener) => createServer(h))
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    exposeHeadRoutes: false,
    serverFactory: (h) => factory(h),
    frameworkErrors: (_err, _request, reply) => {
      send(reply, { status: 400 }, false)
    },
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body)
  })

  /** Signals of the requests in flight that asked for one; all abort when the server closes. */
  const inFlight = new Set<AbortController>()
  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    let controller: AbortController | undefined
    const outcome = await dispatcher.dispatch({
      method: request.method,
      url: request.raw.url ?? '/',
      headers: request.headers,
      body: Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '',
      ...(Buffer.isBuffer(request.body) ? { bytes: request.body } : {}),
      remoteAddress: request.socket.remoteAddress ?? '',
      // Aborts when the client goes away before its answer or the server closes; built only when
      // a route asks (blocking queries). One controller, no AbortSignal.any: a blocking query
      // costs one object, and an answered one is released without running abort listeners.
      get signal() {
        if (controller === undefined) {
          const c = new AbortController()
          controller = c
          if (closing.signal.aborted || reply.raw.closed) c.abort()
          else {
            inFlight.add(c)
            reply.raw.once('close', () => {
              inFlight.delete(c)
              if (!reply.raw.writableFinished) c.abort()
            })
          }
        }
        return controller.signal
      },
    })
    answered.set(request, outcome)
    if (closing.signal.aborted) reply.header('Connection', 'close')
    send(reply, outcome.response, outcome.pretty)
  }
  app.all('*', handle)
  app.setNotFoundHandler(handle)
  app.setErrorHandler((err, request, reply) => {
    const response = errorResponse(err, logger, { method: request.method, url: request.url })
    send(reply, response, false)
  })

  /** The headers every response carries (the settings are frozen: merged once). */
  const commonHeaders = {
    ...config.httpConfig.responseHeaders,
    'X-Consul-Default-ACL-Policy': config.aclDefaultPolicy,
  }
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(commonHeaders)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const ms = reply.elapsedTime
    const route = answered.get(request)?.route
    if (route !== undefined) metrics.observeRequest(request.method, metricPath(route.pattern), ms)
    const url = request.raw.url ?? ''
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    logger.debug({ method: request.method, path, status: reply.statusCode, ms }, 'HTTP request')
    done()
  })
  app.addHook('preClose', (done) => {
    closing.abort()
    for (const c of inFlight) c.abort()
    inFlight.clear()
    done()
  })
  return app
}

/**
 * Writes an ApiResponse. Bodies go out as Buffers so fastify neither re-serializes them nor adds
 * a charset to the Content-Type: JSON is encoded Go-style in json.ts.
 */
function send(reply: FastifyReply, response: ApiResponse, pretty: boolean): void {
  reply.code(response.status)
  for (const [name, value] of Object.entries(response.headers ?? {})) reply.header(name, value)
  const body = response.body
  if (body === undefined) {
    reply.removeHeader('content-type')
    void reply.send()
    return
  }
  const [type, text] =
    'json' in body
      ? ['application/json', encodeJson(body.json, pretty)]
      : 'encode' in body
        ? ['application/json', body.encode(pretty)]
        : 'bytes' in body
          ? [body.contentType, body.bytes]
          : [body.contentType, body.text]
  void reply.header('content-type', type).send(typeof text === 'string' ? Buffer.from(text, 'utf8') : text)
}

const metricPaths = new Map<string, string>()

/**
 * Consul's metric label for a route: the pattern's parts joined by `_`, `_` for a subtree. Kept
 * per pattern (the routes are fixed).
 */
function metricPath(pattern: string): string {
  let path = metricPaths.get(pattern)
  if (path === undefined) {
    path = pattern
      .split('/')
      .slice(1)
      .map((p) => (p === '' ? '_' : p))
      .join('_')
    metricPaths.set(pattern, path)
  }
  return path
}

function listenTarget(host: string, port: number): { host: string; port: number } | { path: string } {
  return host.startsWith('unix://') ? { path: host.slice('unix://'.length) } : { host, port }
}

function describe(bound: AddressInfo | string | null, host: string): string {
  if (typeof bound === 'string') return bound
  if (bound === null) return host
  return bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`
}
