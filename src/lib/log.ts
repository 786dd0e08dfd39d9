/**
 * Structured logging on pino, printed the way Consul prints (cli.md §6). Callers write
 * `log.child({ module: 'agent.checks' }).info({ checkId: 'x' }, 'Check is now critical')`.
 *
 * Line format: `2025-11-25T10:00:00.000Z [INFO]  agent.checks: Check is now critical: checkId=x`
 * (level in brackets padded to 7 columns plus a space, then `module: message`, then `: ` and
 * ` key=value` pairs; values with spaces, quotes or `=` are quoted). JSON format: one object per
 * line with `@level`, `@message`, `@module`, `@timestamp`, then the fields.
 *
 * Writes are synchronous on the calling thread (pino destination, no worker).
 */
import { pino } from 'pino'

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error'
export type Logger = pino.Logger

/** Where lines go; a NodeJS.WritableStream fits, and so does pino's destination. */
export interface LogDestination {
  write(line: string): unknown
}

export interface LoggerOptions {
  readonly level: LogLevel
  readonly json: boolean
  /** Default: standard output, written synchronously. */
  readonly destination?: LogDestination
}

export function createLogger(opts: LoggerOptions): Logger {
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: true })
  const format = opts.json ? formatJsonLine : formatTextLine
  return pino(
    {
      level: opts.level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (s) => format(s) },
    },
    { write: (line: string) => void destination.write(line) },
  )
}

const RESERVED = new Set(['level', 'time', 'msg', 'module'])

interface Record_ {
  readonly time: string
  readonly level: string
  readonly module: string
  readonly msg: string
  readonly fields: [string, unknown][]
}

function decode(line: string): Record_ | undefined {
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof raw !== 'object' || raw === null) return undefined
  const rec = raw as Record<string, unknown>
  return {
    time: typeof rec['time'] === 'string' ? rec['time'] : new Date().toISOString(),
    level: typeof rec['level'] === 'string' ? rec['level'] : 'info',
    module: typeof rec['module'] === 'string' ? rec['module'] : '',
    msg: typeof rec['msg'] === 'string' ? rec['msg'] : '',
    fields: Object.entries(rec).filter(([k]) => !RESERVED.has(k)),
  }
}

const LEVEL_TEXT: Readonly<Record<string, string>> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
}

/** One pino JSON line → Consul's text line. */
export function formatTextLine(line: string): string {
  const rec = decode(line)
  if (rec === undefined) return line
  const level = `[${LEVEL_TEXT[rec.level] ?? rec.level.toUpperCase()}]`.padEnd(7)
  let out = `${rec.time} ${level} `
  if (rec.module !== '') out += `${rec.module}: `
  out += rec.msg
  if (rec.fields.length > 0) {
    out += ':'
    for (const [k, v] of rec.fields) out += ` ${k}=${textValue(v)}`
  }
  return `${out}\n`
}

/** One pino JSON line → Consul's JSON line. */
export function formatJsonLine(line: string): string {
  const rec = decode(line)
  if (rec === undefined) return line
  const out: Record<string, unknown> = {
    '@level': rec.level === 'fatal' ? 'error' : rec.level,
    '@message': rec.msg,
  }
  if (rec.module !== '') out['@module'] = rec.module
  out['@timestamp'] = rec.time
  for (const [k, v] of rec.fields) out[k] = isError(v) ? v.message : v
  return `${JSON.stringify(out)}\n`
}

function textValue(v: unknown): string {
  if (isError(v)) return quoteIfNeeded(v.message)
  if (typeof v === 'string') return quoteIfNeeded(v)
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ')}]`
  if (typeof v === 'object' && v !== null) return JSON.stringify(v)
  return String(v)
}

function quoteIfNeeded(s: string): string {
  return s === '' || /[\s"=]/.test(s) ? JSON.stringify(s) : s
}

/** pino serializes `err` fields as `{type, message, stack}`. */
function isError(v: unknown): v is { message: string } {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { message?: unknown }).message === 'string' &&
    typeof (v as { stack?: unknown }).stack === 'string'
  )
}

/**
 * Holds lines until `open()`, then passes them (and every later one) to `target`. The agent
 * command logs through a gate so startup logs follow the banner, as Consul's gated writer does.
 */
export class LogGate implements LogDestination {
  #buffer: string[] | undefined = []

  constructor(private readonly target: LogDestination) {}

  write(line: string): void {
    if (this.#buffer === undefined) this.target.write(line)
    else this.#buffer.push(line)
  }

  /** Idempotent. Flushes the held lines in order. */
  open(): void {
    const held = this.#buffer
    if (held === undefined) return
    this.#buffer = undefined
    for (const line of held) this.target.write(line)
  }
}
