/**
 * The texts of Go's `encoding/json` decode errors, each thrown as a `DecodeError`
 * (`400 Request decode failed: …`).
 */
import { DecodeError } from '../../lib/errors.js'
import { jsonKind } from './value.js'

export function fail(detail: string): never {
  throw new DecodeError(detail)
}

/** Where a field value sits: the innermost struct and the Go field path from the top. */
export interface FieldContext {
  readonly structName: string
  readonly path: readonly string[]
  readonly lenient: boolean
  readonly depth: number
}

function unmarshalError(what: string, goType: string, where: FieldContext): never {
  fail(
    `json: cannot unmarshal ${what} into Go struct field ${where.structName}.${where.path.join('.')} of type ${goType}`,
  )
}

/** Go's `UnmarshalTypeError` for a JSON value of the wrong kind: `cannot unmarshal string into …`. */
export function typeError(value: unknown, goType: string, where: FieldContext): never {
  unmarshalError(jsonKind(value), goType, where)
}

/** Go's `UnmarshalTypeError` for a number the field's type cannot hold: `cannot unmarshal number 1.5 into …`. */
export function numberError(literal: string, goType: string, where: FieldContext): never {
  unmarshalError(`number ${literal}`, goType, where)
}

/** The error for a whole input of the wrong kind: `cannot unmarshal array into Go value of type T`. */
export function valueTypeError(value: unknown, goType: string): never {
  fail(`json: cannot unmarshal ${jsonKind(value)} into Go value of type ${goType}`)
}
