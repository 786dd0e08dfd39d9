import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkKvKey, kvKeyProblem } from '../../src/api/kv-key.js'
import { BadRequestError } from '../../src/lib/errors.js'

test('KV keys: traversal sequences, plain or encoded in any case, and outer whitespace are refused', () => {
  for (const key of [
    'a/../b',
    '../etc/passwd',
    'a/..\\b',
    'a/%2e%2e%2fb',
    'a/%2E%2E%2Fb',
    'a/%2e%2e/b',
    'a/..%2Fb',
    'a/%2e%2e%5cb',
    'a/%252e%252e%252fb',
    ' leading',
    'trailing ',
    'tab\t',
  ]) {
    assert.notEqual(kvKeyProblem(key), undefined, key)
    assert.throws(() => checkKvKey(key, false), BadRequestError, key)
    assert.doesNotThrow(() => checkKvKey(key, true), 'disable_kv_key_validation lets it through')
  }
})

test('KV keys: everything else is legal (Consul withdrew the stricter character set)', () => {
  for (const key of [
    'foo bar',
    'foo:bar',
    'foo;bar',
    'con..fig',
    'a/..b',
    'b..',
    'fooçbar',
    'x*.json',
    'foo%bar',
    'acme - host',
  ]) {
    assert.equal(kvKeyProblem(key), undefined, key)
  }
  assert.doesNotThrow(() => checkKvKey('', false), 'an empty key is the handlers’ own case')
})
