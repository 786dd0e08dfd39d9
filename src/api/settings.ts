/**
 * The part of the agent configuration the HTTP API reads. The frozen `AgentConfig` satisfies it
 * structurally; tests build it by hand.
 */
export interface HttpApiSettings {
  readonly primaryDatacenter: string
  /** `addresses.http` (else `client_addr`): every address is bound on `ports.http`. */
  readonly addresses: Readonly<{ http: readonly string[] }>
  /** `ports.http` (-1 disables the listener); `serfWan` is reported for WAN members. */
  readonly ports: Readonly<{ http: number; serfWan: number }>
  /** Indent every JSON response as with `?pretty` (Consul does so in `-dev`). */
  readonly prettyJson: boolean
  /** `GET /` redirects to `uiContentPath` when on, else answers a short text. */
  readonly uiEnabled: boolean
  readonly uiContentPath: string
  /** Lets paths with unprintable characters through (Consul's escape hatch for old KV keys). */
  readonly disableHttpUnprintableCharFilter: boolean
  /** Lets KV keys with traversal sequences or outer whitespace through (kv-key.ts). */
  readonly disableKvKeyValidation: boolean
  readonly httpConfig: Readonly<{
    /** Added to every response. */
    responseHeaders: Readonly<Record<string, string>>
    /** Path prefixes answered with 403 `Endpoint is blocked by agent configuration`. */
    blockEndpoints: readonly string[]
    /** CIDRs allowed to call non-GET endpoints; empty allows everyone. */
    allowWriteHttpFrom: readonly string[]
  }>
  /** Mirrored in `X-Consul-Default-ACL-Policy` on every routed response. */
  readonly aclDefaultPolicy: string
  readonly telemetry: Readonly<{
    /** `prometheus_retention_time`; 0 (Consul's default) disables `?format=prometheus` (415). */
    prometheusRetentionTimeMs: number
    /** Prefix of Consul-style metric names (`consul`). */
    metricsPrefix: string
  }>
}

/** The logging the API needs; pino loggers satisfy it. */
export interface ApiLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}
