/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readonly env: Readonly<Record<string, string | undefined>>
  /** Read by commands that take data on stdin (`kv put KEY -`); absent means none. */
  readonly stdin?: AsyncIterable<Uint8Array | string>
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin }
}

/** A subcommand: runs with the arguments after its name and returns the exit code. */
export interface Command {
  /** One line for the command list. */
  readonly synopsis: string
  run(args: readonly string[], io: CliIo): Promise<number>
}
