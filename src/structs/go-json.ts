/**
 * JSON decoding that behaves like Go's `encoding/json` as Consul uses it: `json.Decoder` with
 * `DisallowUnknownFields`, Go's syntax error texts, Go's case-insensitive key matching and
 * `UnmarshalTypeError` wording, and Go's numeric types (a literal must parse as the field's type
 * and fit its range). Every failure is a `DecodeError` (`Request decode failed: …`).
 *
 * Two layers: `decodeJsonBody` turns request text into a `JsonValue` whose numbers keep their
 * literal (`go-json/syntax.ts`); `decodeStruct` checks a value (from a body or a config file)
 * against a `StructSchema`, a field table per Go struct (`go-json/schema.ts`), and returns a
 * `DecodedStruct` with typed accessors (`go-json/decode.ts`). This module is their public surface.
 */
export { decodeJsonBody } from './go-json/syntax.js'
export { JsonNumber, frozenJsonCopy, type JsonValue } from './go-json/value.js'
export {
  GoType,
  StructSchema,
  type FieldSpec,
  type FieldType,
  type IntegerType,
  type ScalarKind,
} from './go-json/schema.js'
export { DecodedStruct, decodeStruct, type DecodeOptions } from './go-json/decode.js'
export { parseDurationForDecode } from './go-json/duration.js'
