#!/usr/bin/env node
// Runs the compiled test files under dist/test with node's test runner.
// Node 20's `node --test` does not expand globs, so the files are listed here.
// Usage: node scripts/run-tests.js [unit|sim|integration|<dir>|<file.js> ...]
// A group name means dist/test/<group>; a path containing a slash is taken as it is.
//
// The run fails when node's does, and also when a test file did not run every test it declared,
// or ran none: on Node 20 a file that exits with status 0 mid-run silently loses its remaining
// tests (see completeness-reporter.js). node's spec report goes to stdout unchanged, closing
// lines included; the completeness verdict follows it.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = 'dist/test'
const REPORTER = fileURLToPath(new URL('completeness-reporter.js', import.meta.url))
const args = process.argv.slice(2)
const targets = args.length > 0 ? args : ['unit', 'sim', 'integration']

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

/** @param {string} target @returns {string[]} */
function filesOf(target) {
  const path = target.includes('/') ? target : join(root, target)
  try {
    return statSync(path).isDirectory() ? collect(path) : [path]
  } catch {
    return []
  }
}

const files = targets.flatMap(filesOf)
if (files.length === 0) {
  console.error(`no test files in ${targets.join(', ')}`)
  process.exit(1)
}
const concurrency = process.env['VIGIL_TEST_CONCURRENCY'] ?? '2'
/** The whole suite takes about 3 minutes on 2 cores; anything past this is a hang. */
const SUITE_TIMEOUT_MS = 20 * 60_000
const scratch = mkdtempSync(join(tmpdir(), 'vigil-tests-'))
const censusPath = join(scratch, 'census.json')
const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=600000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${REPORTER}`,
    `--test-reporter-destination=${censusPath}`,
    ...files,
  ],
  // No --test-force-exit: on Node 20 it can end a test file before all of its tests ran (seen
  // with describe blocks) and still report success. A hung file is bounded here instead.
  { stdio: 'inherit', timeout: SUITE_TIMEOUT_MS, killSignal: 'SIGKILL' },
)
if (result.error !== undefined) console.error(`test run aborted: ${result.error.message}`)

/** @type {Record<string, { declared: number, finished: number, failed: boolean }> | undefined} */
let census
try {
  census = JSON.parse(readFileSync(censusPath, 'utf8')).files
} catch {
  census = undefined
}
rmSync(scratch, { recursive: true, force: true })

/** @type {string[]} */
const incomplete = []
if (census === undefined) {
  incomplete.push('the test run ended without a completeness report')
} else {
  for (const file of files) {
    const count = census[resolve(file)]
    const name = relative('.', file)
    if (count === undefined) incomplete.push(`${name}: never reported`)
    else if (count.failed)
      continue // node's report already fails it
    else if (count.finished === 0) incomplete.push(`${name}: ran no tests`)
    else if (count.finished !== count.declared)
      incomplete.push(`${name}: ${count.declared} tests declared, ${count.finished} finished`)
  }
}
if (incomplete.length > 0) {
  for (const line of incomplete) console.log(`✖ incomplete: ${line}`)
  console.log(`ℹ incomplete files ${incomplete.length}`)
  process.exit(1)
}
process.exit(result.status ?? 1)
