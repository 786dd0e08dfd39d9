#!/usr/bin/env node
// Launcher: the TypeScript sources are compiled to dist/ by `npm ci` (the `prepare` script).
import { main } from '../dist/src/cli/main.js'

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code
  },
  (err) => {
    process.stderr.write(`==> ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
