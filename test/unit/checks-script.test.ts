import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { truncateScriptOutput } from '../../src/agent/checks/output.js'
import { OutputTail } from '../../src/agent/checks/script-check.js'

test('script output tail reports what truncating the whole output would', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 40 }),
      fc.integer({ min: 0, max: 200 }),
      (chunks, limit) => {
        const tail = new OutputTail(limit)
        for (const chunk of chunks) tail.write(Buffer.from(chunk))
        const whole = Buffer.concat(chunks.map((c) => Buffer.from(c)))
        assert.equal(tail.totalBytes, whole.length)
        assert.equal(tail.text(), truncateScriptOutput(whole, limit))
        const largest = Math.max(0, ...chunks.map((c) => c.length))
        assert.ok(tail.retainedBytes <= limit + largest)
      },
    ),
  )
})

test('script output tail holds at most the limit plus one chunk, however much is written', () => {
  const tail = new OutputTail(4096)
  const chunk = Buffer.alloc(1000, 'x')
  for (let i = 0; i < 10_000; i++) tail.write(chunk)
  assert.ok(tail.retainedBytes <= 4096 + 1000)
  assert.equal(tail.totalBytes, 10_000_000)
  assert.equal(tail.text(), `Captured 4096 of 10000000 bytes\n...\n${'x'.repeat(4096)}`)
})

test('script output tail keeps short output as-is', () => {
  const tail = new OutputTail(16)
  tail.write(Buffer.from('ok\n'))
  tail.write(Buffer.from('fine\n'))
  assert.equal(tail.text(), 'ok\nfine\n')
})
