// A node:test reporter that counts, per test file, the tests the file declared and the tests that
// finished, and writes one JSON line at the end of the run:
//   {"files": {"<absolute path>": {"declared": n, "finished": n, "failed": bool}}}
// scripts/run-tests.js reads it to fail a run where a file ended before all of its tests ran: on
// Node 20 a test file that exits with status 0 mid-run (a process.exit, a forced exit) loses its
// remaining tests without any failure in node's own report.
//
// Events, as Node 20.20 emits them for files run in child processes (checked by experiment):
// - `test:enqueue` once for every test and suite when it is created, including the file itself
//   (nesting 0, named by its path);
// - `test:pass` / `test:fail` once for every test and suite that finished; skipped and todo tests
//   pass with `skip` / `todo` set. The file itself reports only when it has no tests of its own
//   (it passes) or when its process failed (it fails); a file that exits with status 0 before its
//   tests finished reports nothing more.

/**
 * @typedef {{ declared: number, finished: number, failed: boolean }} FileCount
 * @typedef {{ type: string, data?: { file?: string, name?: string, nesting?: number } }} TestEvent
 */

/** @param {AsyncIterable<TestEvent>} source */
export default async function* completenessReporter(source) {
  /** @type {Map<string, FileCount>} */
  const files = new Map()
  for await (const event of source) {
    const { file, name, nesting } = event.data ?? {}
    if (file === undefined) continue
    let count = files.get(file)
    if (count === undefined) {
      count = { declared: 0, finished: 0, failed: false }
      files.set(file, count)
    }
    const isFile = nesting === 0 && name === file
    if (isFile) {
      if (event.type === 'test:fail') count.failed = true
      continue
    }
    if (event.type === 'test:enqueue') count.declared++
    else if (event.type === 'test:pass' || event.type === 'test:fail') count.finished++
  }
  yield JSON.stringify({ files: Object.fromEntries(files) }) + '\n'
}
