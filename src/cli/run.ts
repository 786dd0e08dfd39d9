import { ConfigError, errorMessage } from '../lib/errors.js'
import { FlagError, HelpRequested, parseFlags, type FlagSet, type ParsedFlags } from '../config/flags.js'
import { ApiError, ConnectionError } from './http-client.js'
import type { CliIo } from './io.js'

/**
 * Parses `args` with `set` and runs `body`; flag errors print Go's message plus usage on stderr
 * (exit 1), `-h` prints usage on stdout (exit 0).
 */
export async function runWithFlags(
  set: FlagSet,
  args: readonly string[],
  io: CliIo,
  body: (flags: ParsedFlags) => Promise<number>,
): Promise<number> {
  let flags: ParsedFlags
  try {
    flags = parseFlags(set, args)
  } catch (err) {
    return reportFlagError(err, io)
  }
  return body(flags)
}

/** Prints a FlagError/HelpRequested and returns the exit code; rethrows anything else. */
export function reportFlagError(err: unknown, io: CliIo): number {
  if (err instanceof HelpRequested) {
    io.stdout.write(err.usage)
    return 0
  }
  if (err instanceof FlagError) {
    io.stderr.write(`${err.message}\n${err.usage}`)
    return 1
  }
  throw err
}

/** The text for an error of a client command (API answer, connection, config file problems). */
export function describeError(err: unknown): string {
  if (err instanceof ApiError || err instanceof ConnectionError) return err.message
  if (err instanceof ConfigError) return err.problems.join('\n')
  return errorMessage(err)
}
