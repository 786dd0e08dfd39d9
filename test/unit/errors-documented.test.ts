import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = new URL('../../../', import.meta.url)

test('every VIGIL_ERR_* code in the sources is documented in docs/errors.md', () => {
  const sources = ['src/lib/errors.ts', 'src/catalog/errors.ts']
  const codes = new Set<string>()
  for (const file of sources) {
    const text = readFileSync(fileURLToPath(new URL(file, root)), 'utf8')
    for (const m of text.matchAll(/code = '(VIGIL_ERR_[A-Z_]+)'/g)) codes.add(m[1]!)
  }
  assert.ok(codes.size >= 10)
  const doc = readFileSync(fileURLToPath(new URL('docs/errors.md', root)), 'utf8')
  const missing = [...codes].filter((c) => !doc.includes(`\`${c}\``))
  assert.deepEqual(missing, [])
})
