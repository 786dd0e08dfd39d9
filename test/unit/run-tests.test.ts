import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { REPO_ROOT } from '../support/agent-process.js'

const FIXTURES = 'dist/test/fixtures/runner'

interface Run {
  readonly code: number | null
  readonly output: string
}

/** Runs scripts/run-tests.js on `files` from the repository root, as CI does, within 60 s. */
function runTests(...files: string[]): Promise<Run> {
  // NODE_TEST_CONTEXT marks this process as a child of node's test runner; the nested runner
  // must start as a top-level one.
  const env = { ...process.env }
  delete env['NODE_TEST_CONTEXT']
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['scripts/run-tests.js', ...files.map((f) => `${FIXTURES}/${f}`)],
      { cwd: REPO_ROOT, env, timeout: 60_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
        resolve({ code, output: stdout + stderr })
      },
    )
  })
}

test('the runner passes a file whose every test finished, skips and todos included', async () => {
  const run = await runTests('complete.js')
  assert.equal(run.code, 0, run.output)
  assert.match(run.output, /^ℹ fail 0$/m)
  assert.doesNotMatch(run.output, /incomplete/)
})

test('the runner fails a file that exits with status 0 before all of its tests ran', async () => {
  const run = await runTests('exits-early.js', 'complete.js')
  assert.equal(run.code, 1, run.output)
  // node's own report counts nothing as failed: the gap is the runner's finding.
  assert.match(run.output, /^ℹ fail 0$/m)
  assert.match(
    run.output,
    /^✖ incomplete: dist\/test\/fixtures\/runner\/exits-early\.js: \d+ tests declared, 1 finished$/m,
  )
  assert.doesNotMatch(run.output, /incomplete: .*complete\.js/)
  assert.match(run.output, /^ℹ incomplete files 1$/m)
})

test('the runner fails a file that runs no test', async () => {
  const run = await runTests('no-tests.js')
  assert.equal(run.code, 1, run.output)
  assert.match(run.output, /^✖ incomplete: dist\/test\/fixtures\/runner\/no-tests\.js: ran no tests$/m)
})
