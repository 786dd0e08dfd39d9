import type { ParsedFlags } from '../config/flags.js'
import type { CliIo } from './io.js'

/**
 * The `key=value` pairs of a repeatable flag (`-meta`, `-node-meta`, `-tagged-address`), as
 * Go's FlagMapValue reads them. A pair without `=` or with an empty key prints Go's complaint
 * on stderr and yields undefined (the command exits 1).
 */
export function pairs(value: unknown, flag: string, io: CliIo): Record<string, string> | undefined {
  const out: Record<string, string> = {}
  if (!Array.isArray(value)) return out
  for (const pair of value as string[]) {
    const eq = pair.indexOf('=')
    if (eq <= 0) {
      io.stderr.write(`Invalid ${flag} value ${JSON.stringify(pair)}: must be key=value\n`)
      return undefined
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return out
}

/** A string flag's value, "" when absent. */
export function stringFlag(flags: ParsedFlags, name: string): string {
  const v = flags.values.get(name)
  return typeof v === 'string' ? v : ''
}
