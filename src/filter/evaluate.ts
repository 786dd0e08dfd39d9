/**
 * Consul's `filter=` query parameter: a go-bexpr (v0.1.2) boolean expression, compiled once per
 * request against the schema of the filtered element type and then run on each element's wire
 * (PascalCase) JSON object.
 *
 * Compiling validates exactly what go-bexpr validates, in its order and with its texts: the
 * grammar (`parser.ts`), that each selector names a field of the type, that the operator applies
 * to that field, that the value converts to the field's type, that a `matches` value is a valid
 * regular expression. Semantics at run time:
 * - `==`/`!=` compare strings exactly, integers numerically, bools as Go's ParseBool reads them;
 * - `in`/`contains`: element of a list, key of a map, substring of a string;
 * - `is empty`/`is not empty`: lists, maps, and (a vigil extension, rejected by Consul) strings;
 * - `matches`/`not matches`: Go RE2 search, in linear time (`regexp.ts`);
 * - a selector through a list matches if the rest of the expression matches any element;
 * - a missing map key is unequal, empty, contains nothing and matches nothing (its negations hold);
 * - a field absent from the JSON has its Go zero value ("", 0, false, empty list/map).
 *
 * Everything a user controls is bounded: the expression's length, each pattern's length and
 * program size, and the regexp work one compiled filter may do (`MAX_REGEXP_WORK`).
 */
import { FilterError, FilterLimitError } from '../lib/errors.js'
import { GoSyntaxError, goParseBool, goParseInt, goQuote } from './go.js'
import { parseFilter, type FilterAst, type MatchOperator } from './parser.js'
import { compileGoRegexp, MAX_PATTERN_LENGTH, RegexpError, type GoRegexp } from './regexp.js'
import type { FieldSchema } from './schemas.js'

/** Longest accepted expression, in UTF-16 code units (Node's default 16 KiB request head bounds it over HTTP too). */
export const MAX_FILTER_LENGTH = 16384

/**
 * Regexp work one compiled filter may do, in steps: each match costs its pattern's program size
 * times the length of the text (plus one), what re2js needs at worst, up to a constant factor.
 * The slowest step measured is about 90 ns (`\pL{1000}\pN`, where re2js's DFA gives up and its
 * NFA runs a thousand threads), so a request spends at most about 0.4 s on regexps; a filter
 * with a 10-instruction pattern can search 400,000 characters.
 */
export const MAX_REGEXP_WORK = 2 ** 22

/**
 * A compiled filter: synchronous, and bound to one request: its calls share one regexp work
 * budget, and a call that would exceed it throws `FilterLimitError` (status 500) before matching.
 * Compile one per request; do not cache it across requests.
 */
export type FilterPredicate = (value: unknown) => boolean

/**
 * Compiles `expression` for elements shaped like `schema` (a struct or a map schema). The empty
 * expression accepts everything, as in Consul. Throws `FilterError` (status 500) with go-bexpr's
 * message for a parse error (with its `line:col (offset)` position) or an invalid selector,
 * operator, value or regular expression, or for an expression or pattern over the limits.
 */
export function compileFilter(expression: string, schema: FieldSchema): FilterPredicate {
  if (schema.kind !== 'struct' && schema.kind !== 'map') {
    throw new TypeError('a filter schema must be a struct or a map')
  }
  if (expression === '') return () => true
  if (expression.length > MAX_FILTER_LENGTH) {
    throw new FilterError(
      `filter expression is ${expression.length} characters long, the limit is ${MAX_FILTER_LENGTH}`,
    )
  }
  try {
    return compileNode(parseFilter(expression), schema, new RegexpBudget())
  } catch (err) {
    if (err instanceof RangeError) throw new FilterError('expression nests too deeply', { cause: err })
    throw err
  }
}

type Match = Extract<FilterAst, { type: 'match' }>

/** The regexp work left to one compiled filter. */
class RegexpBudget {
  #left = MAX_REGEXP_WORK

  /** Runs `regexp` on `text` if the budget allows; throws `FilterLimitError` otherwise. */
  test(regexp: GoRegexp, text: string): boolean {
    const cost = regexp.programSize * (text.length + 1)
    if (cost > this.#left) {
      throw new FilterLimitError(
        `Failed to evaluate filter: its regular expressions need more than ${MAX_REGEXP_WORK} steps (instructions times characters) on this data`,
      )
    }
    this.#left -= cost
    return regexp.test(text)
  }
}

function compileNode(node: FilterAst, schema: FieldSchema, budget: RegexpBudget): FilterPredicate {
  switch (node.type) {
    case 'not': {
      const operand = compileNode(node.operand, schema, budget)
      return (value) => !operand(value)
    }
    case 'and': {
      const left = compileNode(node.left, schema, budget)
      const right = compileNode(node.right, schema, budget)
      return (value) => left(value) && right(value)
    }
    case 'or': {
      const left = compileNode(node.left, schema, budget)
      const right = compileNode(node.right, schema, budget)
      return (value) => left(value) || right(value)
    }
    case 'match':
      return compileMatch(node, schema, budget)
  }
}

/** Operators go-bexpr allows on a field (its `SupportedOperations`), plus `is empty` on strings. */
function supportedOperators(field: FieldSchema): readonly MatchOperator[] {
  switch (field.kind) {
    case 'string':
      return ['Equal', 'Not Equal', 'In', 'Not In', 'Matches', 'Not Matches', 'Is Empty', 'Is Not Empty']
    case 'number':
    case 'bool':
      return ['Equal', 'Not Equal']
    case 'list':
      return isPrimitive(field.of)
        ? ['In', 'Not In', 'Is Empty', 'Is Not Empty']
        : ['Is Empty', 'Is Not Empty']
    case 'map':
      return ['Is Empty', 'Is Not Empty', 'In', 'Not In']
    case 'struct':
      return []
  }
}

function isPrimitive(field: FieldSchema): boolean {
  return field.kind === 'string' || field.kind === 'number' || field.kind === 'bool'
}

/** The field a selector part names below `field` (go-bexpr's `SubFields`), if any. */
function subField(field: FieldSchema, name: string): FieldSchema | undefined {
  switch (field.kind) {
    case 'struct':
      return Object.hasOwn(field.fields, name) ? field.fields[name] : undefined
    case 'map':
      return field.of
    case 'list':
      return isPrimitive(field.of) ? undefined : subField(field.of, name)
    default:
      return undefined
  }
}

/** A value coerced to the type a field compares with (go-bexpr's `CoerceFn`). */
type Coerced = string | bigint | boolean

function coerce(field: FieldSchema, raw: string): Coerced {
  switch (field.kind) {
    case 'number':
      return goParseInt(raw)
    case 'bool':
      return goParseBool(raw)
    case 'list':
      return isPrimitive(field.of) ? coerce(field.of, raw) : raw
    default:
      return raw
  }
}

function compileMatch(node: Match, schema: FieldSchema, budget: RegexpBudget): FilterPredicate {
  const { selector, operator, value } = node
  const shown = goQuote(selector.join('.'))
  let field = schema
  for (const [i, name] of selector.entries()) {
    const next = subField(field, name)
    if (next === undefined)
      throw new FilterError(`Selector ${goQuote(selector.slice(0, i + 1).join('.'))} is not valid`)
    field = next
  }
  if (!supportedOperators(field).includes(operator)) {
    throw new FilterError(`Invalid match operator ${goQuote(operator)} for selector ${shown}`)
  }
  let coerced: Coerced = ''
  let regexp: GoRegexp | undefined
  if (value !== undefined) {
    try {
      coerced = coerce(field, value)
    } catch (err) {
      if (!(err instanceof GoSyntaxError)) throw err
      throw new FilterError(
        `Failed to coerce value ${goQuote(value)} for selector ${shown}: ${err.message}`,
        {
          cause: err,
        },
      )
    }
    if (operator === 'Matches' || operator === 'Not Matches') {
      try {
        regexp = compileGoRegexp(value)
      } catch (err) {
        if (!(err instanceof RegexpError)) throw err
        // A pattern over the length limit is not echoed back.
        const shown = value.length > MAX_PATTERN_LENGTH ? '' : ` ${goQuote(value)}`
        throw new FilterError(`Failed to compile regular expression${shown}: ${err.message}`, {
          cause: err,
        })
      }
    }
  }
  const positive = leafTest(field, operator, coerced, regexp, budget)
  const negated = operator.startsWith('Not ') || operator === 'Is Not Empty'
  const leaf: FilterPredicate = negated ? (v) => !positive(v) : positive
  const whenKeyMissing = operator.startsWith('Not ') || operator === 'Is Empty'
  return walker(schema, selector, 0, leaf, whenKeyMissing)
}

/**
 * Follows `path` from a value of type `field` to the leaf test. A list in the way applies the rest
 * of the path to each element (any match wins); a missing map key decides at once.
 */
function walker(
  field: FieldSchema,
  path: readonly string[],
  depth: number,
  leaf: FilterPredicate,
  whenKeyMissing: boolean,
): FilterPredicate {
  const name = path[depth]
  if (name === undefined) return leaf
  switch (field.kind) {
    case 'struct': {
      const next = walker(field.fields[name] ?? field, path, depth + 1, leaf, whenKeyMissing)
      return (value) => {
        const record = asRecord(value)
        return next(record !== undefined && Object.hasOwn(record, name) ? record[name] : undefined)
      }
    }
    case 'map': {
      const next = walker(field.of, path, depth + 1, leaf, whenKeyMissing)
      return (value) => {
        const record = asRecord(value)
        return record !== undefined && Object.hasOwn(record, name) ? next(record[name]) : whenKeyMissing
      }
    }
    case 'list': {
      const next = walker(field.of, path, depth, leaf, whenKeyMissing)
      return (value) => asList(value).some(next)
    }
    default:
      return () => false
  }
}

/** The non-negated form of `operator` on a value of type `field` (absent values are Go zero values). */
function leafTest(
  field: FieldSchema,
  operator: MatchOperator,
  coerced: Coerced,
  regexp: GoRegexp | undefined,
  budget: RegexpBudget,
): FilterPredicate {
  const base = operator.replace(/^Not /, '').replace('Is Not Empty', 'Is Empty')
  switch (field.kind) {
    case 'string':
      if (base === 'Equal') return (v) => asString(v) === coerced
      if (base === 'In') return (v) => asString(v).includes(String(coerced))
      if (base === 'Matches' && regexp) return (v) => budget.test(regexp, asString(v))
      return (v) => asString(v) === ''
    case 'number':
    case 'bool':
      return (v) => equalsPrimitive(field, v, coerced)
    case 'list': {
      const of = field.of
      if (base === 'In') return (v) => asList(v).some((item) => equalsPrimitive(of, item, coerced))
      return (v) => asList(v).length === 0
    }
    case 'map':
      if (base === 'In') {
        return (v) => {
          const record = asRecord(v)
          return record !== undefined && Object.hasOwn(record, String(coerced))
        }
      }
      return (v) => {
        const record = asRecord(v)
        return record === undefined || Object.keys(record).length === 0
      }
    case 'struct':
      return () => false
  }
}

function equalsPrimitive(field: FieldSchema, value: unknown, coerced: Coerced): boolean {
  switch (field.kind) {
    case 'string':
      return asString(value) === coerced
    case 'bool':
      return (value === true) === coerced
    case 'number':
      if (value === undefined || value === null) return coerced === 0n
      return typeof value === 'number' && Number.isInteger(value) && BigInt(value) === coerced
    default:
      return false
  }
}

function asString(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

function asList(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : []
}

function asRecord(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}
