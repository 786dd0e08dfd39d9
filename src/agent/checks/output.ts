/** Output truncation rules per check type (checks.md §3). Limits are in bytes of UTF-8. */

/** The limit L of checks.md §3: the agent's, lowered to the check's `OutputMaxSize` when set and smaller. */
export function effectiveOutputLimit(checkLimit: number, agentLimit: number): number {
  return checkLimit > 0 ? Math.min(checkLimit, agentLimit) : agentLimit
}

/** TTL notes: longer than `limit` → first `limit` bytes + ` ... (captured L of N bytes)`. */
export function truncateHead(output: string, limit: number): string {
  const bytes = Buffer.byteLength(output)
  if (bytes <= limit) return output
  const head = Buffer.from(output).subarray(0, limit).toString('utf8')
  return `${head} ... (captured ${limit} of ${bytes} bytes)`
}

/** HTTP bodies: only the last `limit` bytes are kept, silently. */
export function keepTail(body: Buffer, limit: number): string {
  return (body.length <= limit ? body : body.subarray(body.length - limit)).toString('utf8')
}

/**
 * Script output: last `limit` bytes, prefixed `Captured L of N bytes\n...\n` when cut.
 * `totalBytes` is N when `output` is already only the retained tail of a longer stream.
 */
export function truncateScriptOutput(output: Buffer, limit: number, totalBytes = output.length): string {
  if (totalBytes <= limit) return output.toString('utf8')
  const tail = output.length > limit ? output.subarray(output.length - limit) : output
  return `Captured ${limit} of ${totalBytes} bytes\n...\n${tail.toString('utf8')}`
}
