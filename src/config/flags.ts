/**
 * Command-line flags with Go's `flag` package syntax, as `consul` parses them: one or two
 * leading dashes, `-f v` or `-f=v`, boolean flags set by their bare name or `-b=true|false` (a
 * following `true` is not consumed), repeatable list flags, parsing stops at the first non-flag
 * argument or after `--`. Table-driven: every subcommand declares a {@link FlagSet}.
 */
import { InvalidDurationError, parseGoDurationMs } from '../lib/duration.js'

/** `list` flags may repeat and accumulate; `duration` values are Go duration strings. */
export type FlagType = 'bool' | 'string' | 'int' | 'duration' | 'list'

export interface FlagDef {
  /** Without dashes, e.g. `http-port`. */
  readonly name: string
  readonly type: FlagType
  readonly usage: string
  /** Shown in the usage as `-name=<placeholder>`; defaults to `value`. */
  readonly placeholder?: string
}

export interface FlagSet {
  /** e.g. `vigil agent [options]`. */
  readonly usageLine: string
  /** One paragraph shown under the usage line. */
  readonly help?: string
  /** Flags grouped under headings, in display order. */
  readonly groups: readonly FlagGroup[]
}

export interface FlagGroup {
  readonly title: string
  readonly flags: readonly FlagDef[]
}

export type FlagValue = boolean | string | number | readonly string[]

/** One flag as it appeared on the command line, in order (for order-sensitive flags). */
export interface FlagOccurrence {
  readonly name: string
  readonly value: boolean | string | number
}

export interface ParsedFlags {
  /** Values of the flags that were given; a repeated scalar keeps its last value. */
  readonly values: ReadonlyMap<string, FlagValue>
  readonly occurrences: readonly FlagOccurrence[]
  /** The arguments after the flags. */
  readonly args: readonly string[]
}

/** A command line that does not parse; `message` is Go's text, `usage` the set's usage. */
export class FlagError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message)
    this.name = 'FlagError'
  }
}

/** `-h`/`-help` was given (and is not a defined flag): print `usage` and exit 0. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super('help requested')
    this.name = 'HelpRequested'
  }
}

/** Parses `argv` against `set`. Throws {@link FlagError} or {@link HelpRequested}. */
export function parseFlags(set: FlagSet, argv: readonly string[]): ParsedFlags {
  const defs = new Map<string, FlagDef>()
  for (const g of set.groups) for (const f of g.flags) defs.set(f.name, f)
  const values = new Map<string, FlagValue>()
  const occurrences: FlagOccurrence[] = []
  const fail = (message: string): never => {
    throw new FlagError(message, formatUsage(set))
  }

  let i = 0
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (arg.length < 2 || !arg.startsWith('-')) break
    let numMinuses = 1
    if (arg[1] === '-') {
      numMinuses = 2
      if (arg.length === 2) {
        i++
        break
      }
    }
    const body = arg.slice(numMinuses)
    if (body.length === 0 || body.startsWith('-') || body.startsWith('=')) fail(`bad flag syntax: ${arg}`)
    const eq = body.indexOf('=')
    const name = eq === -1 ? body : body.slice(0, eq)
    const inline = eq === -1 ? undefined : body.slice(eq + 1)
    const def = defs.get(name)
    if (def === undefined) {
      if (name === 'help' || name === 'h') throw new HelpRequested(formatUsage(set))
      fail(`flag provided but not defined: -${name}`)
      continue
    }
    let raw: string
    if (def.type === 'bool') {
      raw = inline ?? 'true'
    } else if (inline !== undefined) {
      raw = inline
    } else {
      const next = argv[i + 1]
      if (next === undefined) fail(`flag needs an argument: -${name}`)
      raw = next ?? ''
      i++
    }
    const value = convert(def, raw, fail)
    occurrences.push({ name, value })
    if (def.type === 'list') {
      const prev = values.get(name)
      values.set(name, [...(Array.isArray(prev) ? (prev as readonly string[]) : []), String(value)])
    } else {
      values.set(name, value)
    }
  }
  return { values, occurrences, args: argv.slice(i) }
}

function convert(def: FlagDef, raw: string, fail: (m: string) => never): boolean | string | number {
  switch (def.type) {
    case 'bool': {
      const b = parseGoBool(raw)
      if (b === undefined) fail(`invalid boolean value ${JSON.stringify(raw)} for -${def.name}: parse error`)
      return b
    }
    case 'int': {
      const n = parseGoInt(raw)
      if (n === undefined) fail(`invalid value ${JSON.stringify(raw)} for flag -${def.name}: parse error`)
      return n
    }
    case 'duration':
      try {
        return parseGoDurationMs(raw)
      } catch (err) {
        if (err instanceof InvalidDurationError) {
          return fail(`invalid value ${JSON.stringify(raw)} for flag -${def.name}: parse error`)
        }
        throw err
      }
    case 'string':
    case 'list':
      return raw
  }
}

/** Go's `strconv.ParseBool`. */
export function parseGoBool(raw: string): boolean | undefined {
  switch (raw) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false
    default:
      return undefined
  }
}

/** Go's `strconv.ParseInt(s, 0, 64)` for the values a flag meets: decimal, 0x hex, 0o/0 octal. */
export function parseGoInt(raw: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|[1-9][0-9_]*|0)$/.exec(raw)
  if (m === null) return undefined
  const sign = m[1] === '-' ? -1 : 1
  let digits = (m[2] ?? '').replace(/_/g, '')
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`
  const n = Number(digits)
  if (!Number.isSafeInteger(n)) return undefined
  return sign * n
}

/** The usage text: usage line, help paragraph, then each group's flags. */
export function formatUsage(set: FlagSet): string {
  const lines = [`Usage: ${set.usageLine}`, '']
  if (set.help !== undefined) {
    for (const l of set.help.split('\n')) lines.push(l === '' ? '' : `  ${l}`)
    lines.push('')
  }
  for (const group of set.groups) {
    if (group.flags.length === 0) continue
    lines.push(`${group.title}:`, '')
    for (const f of [...group.flags].sort((a, b) => a.name.localeCompare(b.name))) {
      lines.push(f.type === 'bool' ? `  -${f.name}` : `  -${f.name}=<${f.placeholder ?? 'value'}>`)
      lines.push(`     ${f.usage}`, '')
    }
  }
  return `${lines.join('\n').trimEnd()}\n`
}
