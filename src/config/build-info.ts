/**
 * What this vigil build is: the package version, the git revision of the checkout it runs from
 * (read from `.git` without spawning git; "unknown" outside a checkout) and the build date (the
 * time the compiled module was written). Computed once, on first use.
 */
import { readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface BuildInfo {
  /** package.json version, e.g. "0.1.0". */
  readonly version: string
  /** Full commit SHA, or "unknown". */
  readonly revision: string
  /** RFC 3339 in UTC without fractional seconds, e.g. "2025-10-01T00:00:00Z". */
  readonly buildDate: string
}

let cached: BuildInfo | undefined

export function buildInfo(): BuildInfo {
  cached ??= Object.freeze(compute())
  return cached
}

function compute(): BuildInfo {
  const here = fileURLToPath(import.meta.url)
  const root = findPackageRoot(dirname(here))
  let version = '0.0.0'
  if (root !== undefined) {
    try {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }
      if (typeof pkg.version === 'string') version = pkg.version
    } catch {
      // an unreadable package.json leaves the placeholder version
    }
  }
  let buildDate = '1970-01-01T00:00:01Z'
  try {
    buildDate = statSync(here)
      .mtime.toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
  } catch {
    // keep Consul's placeholder date
  }
  return { version, revision: root === undefined ? 'unknown' : gitRevision(root), buildDate }
}

function findPackageRoot(start: string): string | undefined {
  let dir = start
  for (let i = 0; i < 8; i++) {
    try {
      statSync(join(dir, 'package.json'))
      return dir
    } catch {
      const parent = dirname(dir)
      if (parent === dir) return undefined
      dir = parent
    }
  }
  return undefined
}

function gitRevision(root: string): string {
  try {
    const gitDir = join(root, '.git')
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim()
    if (/^[0-9a-f]{40}$/.test(head)) return head
    const ref = /^ref: (.+)$/.exec(head)?.[1]
    if (ref === undefined) return 'unknown'
    try {
      return readFileSync(join(gitDir, ref), 'utf8').trim()
    } catch {
      const packed = readFileSync(join(gitDir, 'packed-refs'), 'utf8')
      for (const line of packed.split('\n')) {
        const [sha, name] = line.split(' ')
        if (name === ref && sha !== undefined && /^[0-9a-f]{40}$/.test(sha)) return sha
      }
      return 'unknown'
    }
  } catch {
    return 'unknown'
  }
}
