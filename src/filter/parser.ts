/**
 * The grammar of Consul's `filter=` expressions (go-bexpr v0.1.2, the version Consul pins),
 * parsed the way its pigeon-generated PEG parser does, so that a bad expression gets the same
 * error text, position and `expected` list as from Consul.
 *
 * One method per grammar rule, in grammar order. PEG semantics: ordered choice, backtracking,
 * `!`/`&` predicates that never consume; a failed literal or character class records what was
 * expected at the farthest position reached (inverted inside `!`), and an action or `&{}` block
 * can record an error while parsing goes on. Results are memoized per rule and position (packrat),
 * which changes nothing observable but keeps nested parentheses linear.
 */
import { FilterError } from '../lib/errors.js'
import { GoSyntaxError, goQuote, goUnquote } from './go.js'

/** go-bexpr's `MatchOperator.String()` names, which its error messages print. */
export type MatchOperator =
  'Equal' | 'Not Equal' | 'In' | 'Not In' | 'Is Empty' | 'Is Not Empty' | 'Matches' | 'Not Matches'

export type FilterAst =
  | Readonly<{ type: 'not'; operand: FilterAst }>
  | Readonly<{ type: 'and' | 'or'; left: FilterAst; right: FilterAst }>
  | Readonly<{
      type: 'match'
      selector: readonly string[]
      operator: MatchOperator
      /** The value as written (a selector value joined with `.`); absent for `is [not] empty`. */
      value: string | undefined
    }>

/** Parses a filter expression. Throws `FilterError` with go-bexpr's parse error text. */
export function parseFilter(expression: string): FilterAst {
  return new Parser(expression).parse()
}

type Match = Extract<FilterAst, { type: 'match' }>

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39
const isWordChar = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 0x5f

/** Rule ids for the memo table. */
const enum Rule {
  Input,
  Or,
  And,
  Not,
  Paren,
  Match,
  SelectorOpValue,
  SelectorOp,
  ValueOpSelector,
  Operator,
  InOperator,
  EmptyOperator,
  Selector,
  Identifier,
  SelectorOrIndex,
  Index,
  Value,
  Number,
  AfterNumbers,
  IntegerOrFloat,
  String,
  Whitespace,
  Eof,
}
const ruleCount = Rule.Eof + 1

class Parser {
  readonly #text: string
  readonly #cps: readonly number[]
  /** UTF-16 index in `#text` of each code point index, end of input included. */
  readonly #units: readonly number[]
  #pos = 0
  #invert = false
  #maxFailPos = 0
  #expected: string[] = []
  readonly #errors: string[] = []
  /** Display names of the rules being parsed, innermost last (for `rule "x": …`). */
  readonly #rules: string[] = []
  readonly #memo = new Map<number, { end: number; value: unknown }>()

  constructor(text: string) {
    this.#text = text
    this.#cps = Array.from(text, (ch) => ch.codePointAt(0) ?? 0)
    const units: number[] = []
    let unit = 0
    for (const cp of this.#cps) {
      units.push(unit)
      unit += cp > 0xffff ? 2 : 1
    }
    units.push(unit)
    this.#units = units
  }

  parse(): FilterAst {
    const ast = this.#input()
    if (this.#errors.length > 0) throw new FilterError([...new Set(this.#errors)].join('\n'))
    if (ast === undefined) {
      const expected = new Set(this.#expected)
      const eof = expected.delete('!.')
      const list = [...expected].sort()
      if (eof) list.push('EOF')
      const joined =
        list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list.at(-1) ?? ''}` : list.join('')
      throw new FilterError(`${this.#at(this.#maxFailPos)}: no match found, expected: ${joined}`)
    }
    return ast
  }

  // ---- grammar ----

  /** Input <- _? "(" _? OrExpression _? ")" _? EOF / _? OrExpression _? EOF */
  #input(): FilterAst | undefined {
    return this.#rule(Rule.Input, 'Input', () => {
      return (
        this.#seq(() => {
          this.#whitespace()
          if (!this.#lit('(')) return undefined
          this.#whitespace()
          const expr = this.#or()
          if (!expr) return undefined
          this.#whitespace()
          if (!this.#lit(')')) return undefined
          this.#whitespace()
          return this.#eof() ? expr : undefined
        }) ??
        this.#seq(() => {
          this.#whitespace()
          const expr = this.#or()
          if (!expr) return undefined
          this.#whitespace()
          return this.#eof() ? expr : undefined
        })
      )
    })
  }

  /** OrExpression <- AndExpression _ "or" _ OrExpression / AndExpression */
  #or(): FilterAst | undefined {
    return this.#rule(Rule.Or, 'OrExpression', () => {
      return (
        this.#seq((): FilterAst | undefined => {
          const left = this.#and()
          if (!left || !this.#whitespace() || !this.#lit('or') || !this.#whitespace()) return undefined
          const right = this.#or()
          return right && { type: 'or', left, right }
        }) ?? this.#and()
      )
    })
  }

  /** AndExpression <- NotExpression _ "and" _ AndExpression / NotExpression */
  #and(): FilterAst | undefined {
    return this.#rule(Rule.And, 'AndExpression', () => {
      return (
        this.#seq((): FilterAst | undefined => {
          const left = this.#not()
          if (!left || !this.#whitespace() || !this.#lit('and') || !this.#whitespace()) return undefined
          const right = this.#and()
          return right && { type: 'and', left, right }
        }) ?? this.#not()
      )
    })
  }

  /** NotExpression <- "not" _ NotExpression / ParenthesizedExpression (`not not x` is `x`) */
  #not(): FilterAst | undefined {
    return this.#rule(Rule.Not, 'NotExpression', () => {
      return (
        this.#seq((): FilterAst | undefined => {
          if (!this.#lit('not') || !this.#whitespace()) return undefined
          const operand = this.#not()
          if (!operand) return undefined
          return operand.type === 'not' ? operand.operand : { type: 'not', operand }
        }) ?? this.#paren()
      )
    })
  }

  /**
   * ParenthesizedExpression "grouping" <- "(" _? OrExpression _? ")" / MatchExpression
   *   / "(" _? OrExpression _? !")" &{ Unmatched parentheses }
   */
  #paren(): FilterAst | undefined {
    return this.#rule(Rule.Paren, '"grouping"', () => {
      return (
        this.#seq(() => {
          if (!this.#lit('(')) return undefined
          this.#whitespace()
          const expr = this.#or()
          if (!expr) return undefined
          this.#whitespace()
          return this.#lit(')') ? expr : undefined
        }) ??
        this.#match() ??
        this.#seq((): FilterAst | undefined => {
          if (!this.#lit('(')) return undefined
          this.#whitespace()
          if (!this.#or()) return undefined
          this.#whitespace()
          if (!this.#notAhead(() => this.#lit(')'))) return undefined
          this.#fail('Unmatched parentheses')
          return undefined
        })
      )
    })
  }

  /** MatchExpression "match" <- MatchSelectorOpValue / MatchSelectorOp / MatchValueOpSelector */
  #match(): Match | undefined {
    return this.#rule(Rule.Match, '"match"', () => {
      return this.#selectorOpValue() ?? this.#selectorOp() ?? this.#valueOpSelector()
    })
  }

  /** MatchSelectorOpValue "match" <- Selector (== / != / contains / not contains / matches / not matches) Value */
  #selectorOpValue(): Match | undefined {
    return this.#rule(Rule.SelectorOpValue, '"match"', () => {
      return this.#seq((): Match | undefined => {
        const selector = this.#selector()
        if (!selector) return undefined
        const operator = this.#operator()
        if (!operator) return undefined
        const value = this.#value()
        return value === undefined ? undefined : { type: 'match', selector, operator, value }
      })
    })
  }

  /** MatchSelectorOp "match" <- Selector (is empty / is not empty) */
  #selectorOp(): Match | undefined {
    return this.#rule(Rule.SelectorOp, '"match"', () => {
      return this.#seq((): Match | undefined => {
        const selector = this.#selector()
        if (!selector) return undefined
        const operator = this.#emptyOperator()
        return operator && { type: 'match', selector, operator, value: undefined }
      })
    })
  }

  /** MatchValueOpSelector "match" <- Value (in / not in) Selector / Value (in / not in) !Selector &{ Invalid selector } */
  #valueOpSelector(): Match | undefined {
    return this.#rule(Rule.ValueOpSelector, '"match"', () => {
      return (
        this.#seq((): Match | undefined => {
          const value = this.#value()
          if (value === undefined) return undefined
          const operator = this.#inOperator()
          if (!operator) return undefined
          const selector = this.#selector()
          return selector && { type: 'match', selector, operator, value }
        }) ??
        this.#seq((): Match | undefined => {
          if (this.#value() === undefined || !this.#inOperator()) return undefined
          if (!this.#notAhead(() => this.#selector())) return undefined
          this.#fail('Invalid selector')
          return undefined
        })
      )
    })
  }

  /**
   * MatchEqual <- _? "==" _?    MatchNotEqual <- _? "!=" _?    MatchContains <- _ "contains" _
   * MatchNotContains <- _ "not" _ "contains" _    MatchMatches <- _ "matches" _
   * MatchNotMatches <- _ "not" _ "matches" _    (contains is go-bexpr's In with the operands swapped)
   */
  #operator(): MatchOperator | undefined {
    return this.#rule(Rule.Operator, 'MatchOperator', () => {
      const padded = (word: string): true | undefined =>
        this.#whitespace() && this.#lit(word) && this.#whitespace()
      const negated = (word: string): true | undefined =>
        this.#whitespace() && this.#lit('not') && this.#whitespace() && this.#lit(word) && this.#whitespace()
      return (
        this.#seq(() => {
          this.#whitespace()
          if (!this.#lit('==')) return undefined
          this.#whitespace()
          return 'Equal' as const
        }) ??
        this.#seq(() => {
          this.#whitespace()
          if (!this.#lit('!=')) return undefined
          this.#whitespace()
          return 'Not Equal' as const
        }) ??
        this.#seq(() => (padded('contains') ? ('In' as const) : undefined)) ??
        this.#seq(() => (negated('contains') ? ('Not In' as const) : undefined)) ??
        this.#seq(() => (padded('matches') ? ('Matches' as const) : undefined)) ??
        this.#seq(() => (negated('matches') ? ('Not Matches' as const) : undefined))
      )
    })
  }

  /** MatchIn <- _ "in" _    MatchNotIn <- _ "not" _ "in" _ */
  #inOperator(): MatchOperator | undefined {
    return this.#rule(Rule.InOperator, 'MatchIn', () => {
      return (
        this.#seq(() =>
          this.#whitespace() && this.#lit('in') && this.#whitespace() ? ('In' as const) : undefined,
        ) ??
        this.#seq(() =>
          this.#whitespace() &&
          this.#lit('not') &&
          this.#whitespace() &&
          this.#lit('in') &&
          this.#whitespace()
            ? ('Not In' as const)
            : undefined,
        )
      )
    })
  }

  /** MatchIsEmpty <- _ "is" _ "empty"    MatchIsNotEmpty <- _ "is" _ "not" _ "empty" */
  #emptyOperator(): MatchOperator | undefined {
    return this.#rule(Rule.EmptyOperator, 'MatchIsEmpty', () => {
      return (
        this.#seq(() =>
          this.#whitespace() && this.#lit('is') && this.#whitespace() && this.#lit('empty')
            ? ('Is Empty' as const)
            : undefined,
        ) ??
        this.#seq(() =>
          this.#whitespace() &&
          this.#lit('is') &&
          this.#whitespace() &&
          this.#lit('not') &&
          this.#whitespace() &&
          this.#lit('empty')
            ? ('Is Not Empty' as const)
            : undefined,
        )
      )
    })
  }

  /** Selector "selector" <- Identifier SelectorOrIndex* */
  #selector(): string[] | undefined {
    return this.#rule(Rule.Selector, '"selector"', () => {
      return this.#seq(() => {
        const first = this.#identifier()
        if (first === undefined) return undefined
        const path = [first]
        for (let part = this.#selectorOrIndex(); part !== undefined; part = this.#selectorOrIndex()) {
          path.push(part)
        }
        return path
      })
    })
  }

  /** Identifier <- [a-zA-Z] [a-zA-Z0-9_]* */
  #identifier(): string | undefined {
    return this.#rule(Rule.Identifier, 'Identifier', () => {
      const start = this.#pos
      if (!this.#class('[a-zA-Z]', isAlpha)) return undefined
      while (this.#class('[a-zA-Z0-9_]', isWordChar));
      return this.#slice(start)
    })
  }

  /** SelectorOrIndex <- "." Identifier / IndexExpression */
  #selectorOrIndex(): string | undefined {
    return this.#rule(Rule.SelectorOrIndex, 'SelectorOrIndex', () => {
      return this.#seq(() => (this.#lit('.') ? this.#identifier() : undefined)) ?? this.#index()
    })
  }

  /**
   * IndexExpression "index" <- "[" _? StringLiteral _? "]" / "[" _? !StringLiteral &{ Invalid index }
   *   / "[" _? StringLiteral _? !"]" &{ Unclosed index expression }
   */
  #index(): string | undefined {
    return this.#rule(Rule.Index, '"index"', () => {
      return (
        this.#seq(() => {
          if (!this.#lit('[')) return undefined
          this.#whitespace()
          const key = this.#string()
          if (key === undefined) return undefined
          this.#whitespace()
          return this.#lit(']') ? key : undefined
        }) ??
        this.#seq((): string | undefined => {
          if (!this.#lit('[')) return undefined
          this.#whitespace()
          if (!this.#notAhead(() => this.#string())) return undefined
          this.#fail('Invalid index')
          return undefined
        }) ??
        this.#seq((): string | undefined => {
          if (!this.#lit('[')) return undefined
          this.#whitespace()
          if (this.#string() === undefined) return undefined
          this.#whitespace()
          if (!this.#notAhead(() => this.#lit(']'))) return undefined
          this.#fail('Unclosed index expression')
          return undefined
        })
      )
    })
  }

  /** Value "value" <- Selector / NumberLiteral / StringLiteral (a selector value is its path joined by `.`) */
  #value(): string | undefined {
    return this.#rule(Rule.Value, '"value"', () => {
      return this.#selector()?.join('.') ?? this.#number() ?? this.#string()
    })
  }

  /**
   * NumberLiteral "number" <- "-"? IntegerOrFloat &AfterNumbers
   *   / "-"? IntegerOrFloat !AfterNumbers &{ Invalid number literal }
   */
  #number(): string | undefined {
    return this.#rule(Rule.Number, '"number"', () => {
      const start = this.#pos
      return (
        this.#seq(() => {
          this.#lit('-')
          if (!this.#integerOrFloat() || !this.#andAhead(() => this.#afterNumbers())) return undefined
          return this.#slice(start)
        }) ??
        this.#seq((): string | undefined => {
          this.#lit('-')
          if (!this.#integerOrFloat() || !this.#notAhead(() => this.#afterNumbers())) return undefined
          this.#fail('Invalid number literal')
          return undefined
        })
      )
    })
  }

  /** AfterNumbers <- &(_ / EOF / ")") */
  #afterNumbers(): true | undefined {
    return this.#rule(Rule.AfterNumbers, 'AfterNumbers', () => {
      return this.#andAhead(() => this.#whitespace() || this.#eof() || this.#lit(')'))
    })
  }

  /** IntegerOrFloat <- ("0" / [1-9] [0-9]*) ("." [0-9]+)? */
  #integerOrFloat(): true | undefined {
    return this.#rule(Rule.IntegerOrFloat, 'IntegerOrFloat', () => {
      return this.#seq(() => {
        const integer =
          this.#lit('0') ||
          this.#seq(() => {
            if (!this.#class('[1-9]', (c) => c >= 0x31 && c <= 0x39)) return undefined
            while (this.#class('[0-9]', isDigit));
            return true
          })
        if (!integer) return undefined
        this.#seq(() => {
          if (!this.#lit('.') || !this.#class('[0-9]', isDigit)) return undefined
          while (this.#class('[0-9]', isDigit));
          return true
        })
        return true
      })
    })
  }

  /**
   * StringLiteral "string" <- ("`" RawStringChar* "`" / '"' DoubleStringChar* '"') { strconv.Unquote }
   *   / ("`" RawStringChar* / '"' DoubleStringChar*) EOF &{ Unterminated string literal }
   * RawStringChar <- !"`" .    DoubleStringChar <- !'"' .
   */
  #string(): string | undefined {
    return this.#rule(Rule.String, '"string"', () => {
      const start = this.#pos
      const body = (quote: string): true | undefined => {
        if (!this.#lit(quote)) return undefined
        while (this.#seq(() => (this.#notAhead(() => this.#lit(quote)) ? this.#any() : undefined)));
        return true
      }
      const quoted = this.#seq(() => (body('`') && this.#lit('`')) || undefined)
      const literal = quoted ?? this.#seq(() => (body('"') && this.#lit('"')) || undefined)
      if (literal) {
        try {
          return goUnquote(this.#slice(start))
        } catch (err) {
          if (!(err instanceof GoSyntaxError)) throw err
          this.#errorAt(start, err.message)
          return ''
        }
      }
      return this.#seq((): string | undefined => {
        if (!(this.#seq(() => body('`')) ?? this.#seq(() => body('"'))) || !this.#eof()) return undefined
        this.#fail('Unterminated string literal')
        return undefined
      })
    })
  }

  /** _ "whitespace" <- [ \t\r\n]+ */
  #whitespace(): true | undefined {
    return this.#rule(Rule.Whitespace, '"whitespace"', () => {
      if (!this.#class('[ \\t\\r\\n]', isSpace)) return undefined
      while (this.#class('[ \\t\\r\\n]', isSpace));
      return true
    })
  }

  /** EOF <- !. */
  #eof(): true | undefined {
    return this.#rule(Rule.Eof, 'EOF', () => this.#notAhead(() => this.#any()))
  }

  // ---- PEG machinery (pigeon semantics) ----

  #rule<T>(id: Rule, name: string, body: () => T | undefined): T | undefined {
    const key = (this.#pos * ruleCount + id) * 2 + (this.#invert ? 1 : 0)
    const hit = this.#memo.get(key)
    if (hit) {
      if (hit.value !== undefined) this.#pos = hit.end
      return hit.value as T | undefined
    }
    const start = this.#pos
    this.#rules.push(name)
    const value = body()
    this.#rules.pop()
    if (value === undefined) this.#pos = start
    this.#memo.set(key, { end: this.#pos, value })
    return value
  }

  /** A sequence: on failure, input is restored to where it began. */
  #seq<T>(body: () => T | undefined): T | undefined {
    const start = this.#pos
    const value = body()
    if (value === undefined) this.#pos = start
    return value
  }

  #lit(text: string): true | undefined {
    const start = this.#pos
    let i = start
    for (const ch of text) {
      if (this.#cps[i] !== ch.codePointAt(0)) {
        this.#failAt(false, start, goQuote(text))
        return undefined
      }
      i++
    }
    this.#pos = i
    this.#failAt(true, start, goQuote(text))
    return true
  }

  /** A character class; `want` is its source text as pigeon reports it. */
  #class(want: string, test: (cp: number) => boolean): true | undefined {
    const cp = this.#cps[this.#pos]
    if (cp === undefined || !test(cp)) {
      this.#failAt(false, this.#pos, want)
      return undefined
    }
    this.#failAt(true, this.#pos, want)
    this.#pos++
    return true
  }

  #any(): true | undefined {
    if (this.#pos >= this.#cps.length) {
      this.#failAt(false, this.#pos, '.')
      return undefined
    }
    this.#failAt(true, this.#pos, '.')
    this.#pos++
    return true
  }

  /** `!expr`: succeeds, consuming nothing, where `expr` fails. */
  #notAhead(expr: () => unknown): true | undefined {
    const start = this.#pos
    this.#invert = !this.#invert
    const matched = expr() !== undefined
    this.#invert = !this.#invert
    this.#pos = start
    return matched ? undefined : true
  }

  /** `&expr`: succeeds, consuming nothing, where `expr` succeeds. */
  #andAhead(expr: () => unknown): true | undefined {
    const start = this.#pos
    const matched = expr() !== undefined
    this.#pos = start
    return matched ? true : undefined
  }

  /** `&{ return false, errors.New(message) }`: records the error here and fails. */
  #fail(message: string): void {
    this.#errorAt(this.#pos, message)
  }

  #errorAt(pos: number, message: string): void {
    const rule = this.#rules.at(-1)
    this.#errors.push(`${this.#at(pos)}${rule === undefined ? '' : `: rule ${rule}`}: ${message}`)
  }

  /** pigeon's `failAt`: `matched` outcomes are recorded only inside an odd number of `!`. */
  #failAt(matched: boolean, pos: number, want: string): void {
    if (matched !== this.#invert || pos < this.#maxFailPos) return
    if (pos > this.#maxFailPos) {
      this.#maxFailPos = pos
      this.#expected = []
    }
    this.#expected.push(this.#invert ? `!${want}` : want)
  }

  /** pigeon's position text, `line:col (byte offset)`; a newline itself is column 0 of the next line. */
  #at(pos: number): string {
    let line = 1
    let col = 0
    let offset = 0
    for (let i = 0; i <= pos; i++) {
      const cp = this.#cps[i]
      col++
      if (cp === 0x0a) {
        line++
        col = 0
      }
      if (cp !== undefined && i < pos) offset += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
    }
    return `${line}:${col} (${offset})`
  }

  #slice(start: number): string {
    return this.#text.slice(this.#units[start], this.#units[this.#pos])
  }
}
