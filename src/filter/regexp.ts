/**
 * Go (RE2) regular expressions for the filter's `matches` operator, on re2js: a port of Go's
 * `regexp` whose matching takes time linear in the input (no backtracking), with Go's syntax
 * (`syntax.Perl` flags, as `regexp.Compile` uses) and Go's parse error texts.
 *
 * Linear is not free: a match costs up to (program size × input length) steps when re2js falls
 * back from its DFA to its NFA. So a pattern is bounded in length and in program size before it
 * is compiled, and every match is charged that product against a budget the caller owns.
 */
import { RE2JS, RE2JSSyntaxException } from 're2js'

/** Longest accepted pattern, in UTF-16 code units. */
export const MAX_PATTERN_LENGTH = 4096

/**
 * Largest accepted program, in re2js instructions (`a{1000}` is about 1,000). Compiling takes
 * time linear in it, and each matched character up to one step per instruction.
 */
export const MAX_PROGRAM_SIZE = 5000

/** A pattern Go's `regexp.Compile` rejects (`message` is Go's text), or one over vigil's limits. */
export class RegexpError extends Error {
  override name = 'RegexpError'
}

/** A compiled pattern. Immutable; `test` may be called concurrently and any number of times. */
export interface GoRegexp {
  /** re2js instructions: the most work one matched character can cost. */
  readonly programSize: number
  /** Go's `MatchString`: whether the pattern matches anywhere in `text` (a search, not a full match). */
  test(text: string): boolean
}

/** Compiles a Go regular expression. Throws `RegexpError`. */
export function compileGoRegexp(pattern: string): GoRegexp {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new RegexpError(`pattern is ${pattern.length} characters long, the limit is ${MAX_PATTERN_LENGTH}`)
  }
  if (programBound(pattern) > MAX_PROGRAM_SIZE) throw tooLarge()
  let re: RE2JS
  try {
    re = RE2JS.compile(pattern)
  } catch (err) {
    if (!(err instanceof RE2JSSyntaxException)) throw err
    throw new RegexpError(goErrorText(err, pattern), { cause: err })
  }
  const programSize = re.programSize()
  if (programSize > MAX_PROGRAM_SIZE) throw tooLarge()
  return Object.freeze({ programSize, test: (text: string) => re.test(text) })
}

function tooLarge(): RegexpError {
  return new RegexpError(
    `error parsing regexp: expression too large: more than ${MAX_PROGRAM_SIZE} instructions`,
  )
}

/**
 * Go's `*syntax.Error` text, `error parsing regexp: <code>: `<expr>``. re2js leaves out the
 * expression where Go's is empty (trailing backslash) or the whole pattern (too large, nests too
 * deeply); Go prints it even then.
 */
function goErrorText(err: RE2JSSyntaxException, pattern: string): string {
  if (err.input !== null && err.input !== '') return err.message
  const expr = err.error === 'trailing backslash at end of expression' ? '' : pattern
  return `error parsing regexp: ${err.error}: \`${expr}\``
}

const countedRepeat = /\{(\d+)(,(\d*))?\}/y

/** Go's largest repeat count; a larger one is a syntax error that compiling reports. */
const maxRepeat = 1000

/**
 * An upper bound, from the text alone, on the instructions `pattern` compiles to, so that a short
 * pattern that expands to a huge program (`a{1000}` many times over) is refused before re2js
 * spends time expanding it. Every character counts as an instruction; a counted repeat copies
 * what it applies to (the last atom or group) as re2js expands it. Classes, escapes and `\Q…\E` are skipped only as far as needed to know what a
 * repeat applies to. It over-counts; it under-counts only the few instructions re2js adds around
 * captures and alternations, which the check after compiling catches.
 */
function programBound(pattern: string): number {
  const n = pattern.length
  const outer: number[] = []
  let size = 0
  let last = 0
  let i = 0
  const atom = (width: number): void => {
    i += width
    size += 1
    last = 1
  }
  while (i < n) {
    const c = pattern[i]
    if (c === '\\') {
      const e = pattern[i + 1]
      if (e === 'Q') {
        const end = pattern.indexOf('\\E', i + 2)
        const stop = end < 0 ? n : end
        size += stop - (i + 2)
        last = 1
        i = end < 0 ? n : end + 2
      } else if ((e === 'p' || e === 'P' || e === 'x') && pattern[i + 2] === '{') {
        const end = pattern.indexOf('}', i + 3)
        atom((end < 0 ? n : end + 1) - i)
      } else {
        atom(2)
      }
    } else if (c === '[') {
      atom(classEnd(pattern, i) - i)
    } else if (c === '(') {
      outer.push(size)
      size = 0
      last = 0
      i++
    } else if (c === ')') {
      const group = size + 2
      size = (outer.pop() ?? 0) + group
      last = group
      i++
    } else if (c === '{') {
      countedRepeat.lastIndex = i
      const m = countedRepeat.exec(pattern)
      if (m === null) {
        atom(1)
        continue
      }
      // x{n} is n copies of x; x{n,m} adds m-n optional ones, x{n,} one x*; each optional one
      // costs a split instruction.
      const min = Math.min(Number(m[1]), maxRepeat)
      const optional =
        m[2] === undefined ? 0 : m[3] === '' ? 1 : Math.max(0, Math.min(Number(m[3]), maxRepeat) - min)
      const repeated = min * last + optional * (last + 1)
      size += repeated - last
      last = repeated
      i = countedRepeat.lastIndex
    } else {
      atom(1)
    }
  }
  while (outer.length > 0) size += outer.pop() ?? 0
  return size
}

/** The index after the class that opens at `start` (`[`), or the end of the pattern. */
function classEnd(pattern: string, start: number): number {
  let i = start + 1
  if (pattern[i] === '^') i++
  if (pattern[i] === ']') i++
  while (i < pattern.length) {
    const c = pattern[i]
    if (c === ']') return i + 1
    if (c === '\\') {
      i += 2
    } else if (c === '[' && pattern[i + 1] === ':') {
      const end = pattern.indexOf(':]', i + 2)
      i = end < 0 ? i + 1 : end + 2
    } else {
      i++
    }
  }
  return pattern.length
}
