#!/usr/bin/env node
// Runs the compiled test files under dist/test with node's test runner.
// Node 20's `node --test` does not expand globs, so the files are listed here.
// Usage: node scripts/run-tests.js [unit|sim|integration ...]
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

const root = 'dist/test'
const groups = process.argv.slice(2)
const dirs = groups.length > 0 ? groups : ['unit', 'sim', 'integration']

/** @param {string} dir @returns {string[]} */
function collect(dir) {
  /** @type {string[]} */
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...collect(path))
    else if (name.endsWith('.test.js')) out.push(path)
  }
  return out
}

const files = dirs.flatMap((d) => {
  try {
    return collect(join(root, d))
  } catch {
    return []
  }
})
if (files.length === 0) {
  console.error(`no test files under ${dirs.map((d) => join(root, d)).join(', ')}`)
  process.exit(1)
}
const concurrency = process.env['VIGIL_TEST_CONCURRENCY'] ?? '2'
/** The whole suite takes about 3 minutes on 2 cores; anything past this is a hang. */
const SUITE_TIMEOUT_MS = 20 * 60_000
const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=600000',
    '--test-force-exit',
    '--test-reporter=spec',
    ...files,
  ],
  // No --test-force-exit: on Node 20 it can end a test file before all of its tests ran (seen
  // with describe blocks) and still report success. A hung file is bounded here instead.
  { stdio: 'inherit', timeout: SUITE_TIMEOUT_MS, killSignal: 'SIGKILL' },
)
if (result.error !== undefined) console.error(`test run aborted: ${result.error.message}`)
process.exit(result.status ?? 1)
