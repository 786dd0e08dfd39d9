/**
 * Go (RE2) regular expressions for the filter's `matches` operator, translated to JS RegExps.
 *
 * The pattern is parsed the way Go's `regexp/syntax` parses it with `syntax.Perl` flags (what
 * `regexp.Compile` uses), so invalid patterns fail with Go's error text, and every construct
 * is emitted in an explicit JS form with Go's meaning: `.` excludes only `\n`, `^`/`$` follow
 * the `m` flag with `\n` as the only line end, `\s`/`\w`/`\d` and POSIX classes are ASCII,
 * flags (`i m s U`) are scoped to their group, `\Q…\E` quotes. A partly case-insensitive
 * pattern is emitted with explicit case variants; the one thing JS cannot express there, a
 * case-folded `\p{…}` class, is refused with a `RegexpError`.
 *
 * Matching is JS's backtracking engine, not RE2's linear-time one: pathological patterns are as
 * slow as they would be in any JS RegExp.
 */
import { errorMessage } from '../lib/errors.js'

/** Go's `regexp.Compile` error text (`error parsing regexp: …`), or why JS cannot express it. */
export class RegexpError extends Error {}

/** Compiles a Go regular expression to a RegExp with the same matches. Throws `RegexpError`. */
export function compileGoRegexp(pattern: string): RegExp {
  const tree = new RegexpParser(pattern).parse()
  const folds = new Set<boolean>()
  collectFolds(tree, folds)
  const mode: FoldMode = !folds.has(true) ? 'none' : folds.has(false) ? 'mixed' : 'global'
  const source = emit(tree, mode)
  try {
    return new RegExp(source, mode === 'global' ? 'iu' : 'u')
  } catch (err) {
    throw new RegexpError(`unsupported regular expression: ${errorMessage(err)}`, { cause: err })
  }
}

type Range = readonly [number, number]

type Node =
  | Readonly<{ t: 'lit'; cp: number; fold: boolean }>
  | Readonly<{
      t: 'class'
      negated: boolean
      ranges: readonly Range[]
      props: readonly string[]
      fold: boolean
    }>
  /** Something emitted as is: an assertion or `.`. */
  | Readonly<{ t: 'raw'; src: string }>
  | Readonly<{ t: 'group'; alts: readonly (readonly Node[])[] }>
  | Readonly<{ t: 'rep'; sub: Node; min: number; max: number; greedy: boolean; counted: boolean }>

type Flags = Readonly<{ fold: boolean; dotNL: boolean; oneLine: boolean; nonGreedy: boolean }>

const maxRune = 0x10ffff
const maxRepeat = 1000
const maxNesting = 1000

const perlClasses: Readonly<Record<string, readonly Range[]>> = {
  d: [[0x30, 0x39]],
  s: [
    [0x09, 0x0a],
    [0x0c, 0x0d],
    [0x20, 0x20],
  ],
  w: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
}

const posixClasses: Readonly<Record<string, readonly Range[]>> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
}

/** Go's `unicode.Categories` keys; any other `\p{Name}` must be one of Go's script names. */
const unicodeCategories = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(
    ' ',
  ),
)

const ch = (s: string): number => s.codePointAt(0) ?? -1
const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)

function hexDigit(c: number | undefined): number {
  if (c === undefined) return -1
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10
  return -1
}

class RegexpParser {
  readonly #cps: readonly number[]
  #pos = 0
  #flags: Flags = { fold: false, dotNL: false, oneLine: true, nonGreedy: false }
  #depth = 0

  constructor(pattern: string) {
    this.#cps = Array.from(pattern, ch)
  }

  parse(): Node {
    const alts = this.#alternation()
    if (this.#pos < this.#cps.length) this.#error('unexpected )', this.#whole())
    return { t: 'group', alts }
  }

  /** Alternatives up to an unconsumed `)` or the end. Flags set by `(?i)` persist across `|`. */
  #alternation(): Node[][] {
    const alts: Node[][] = [[]]
    let current: Node[] = alts[0] ?? []
    let lastRepeat = -1
    const cps = this.#cps
    while (this.#pos < cps.length) {
      const c = cps[this.#pos] ?? 0
      let repeat = -1
      switch (String.fromCodePoint(c)) {
        case ')':
          return alts
        case '(': {
          const node = this.#group()
          if (node) current.push(node)
          break
        }
        case '|':
          current = []
          alts.push(current)
          this.#pos++
          break
        case '^':
          current.push({ t: 'raw', src: this.#flags.oneLine ? '(?<![\\s\\S])' : '(?<![^\\n])' })
          this.#pos++
          break
        case '$':
          current.push({ t: 'raw', src: this.#flags.oneLine ? '(?![\\s\\S])' : '(?![^\\n])' })
          this.#pos++
          break
        case '.':
          current.push({ t: 'raw', src: this.#flags.dotNL ? '[\\s\\S]' : '[^\\n]' })
          this.#pos++
          break
        case '[':
          current.push(this.#class())
          break
        case '*':
        case '+':
        case '?': {
          const before = this.#pos
          this.#pos++
          const [min, max] = c === 0x2a ? [0, -1] : c === 0x2b ? [1, -1] : [0, 1]
          this.#repeat(current, min, max, before, lastRepeat, false)
          repeat = before
          break
        }
        case '{': {
          const before = this.#pos
          const counts = this.#repeatCounts()
          if (!counts) {
            current.push(this.#literal(c))
            this.#pos++
            break
          }
          const [min, max] = counts
          if (min < 0 || min > maxRepeat || max > maxRepeat || (max >= 0 && min > max)) {
            this.#error('invalid repeat count', this.#text(before, this.#pos))
          }
          this.#repeat(current, min, max, before, lastRepeat, true)
          repeat = before
          break
        }
        case '\\':
          this.#escapeAtom(current)
          break
        default:
          current.push(this.#literal(c))
          this.#pos++
      }
      lastRepeat = repeat
    }
    return alts
  }

  /** `(`: a group (capturing or not; emitted non-capturing), or `(?flags)` which yields no node. */
  #group(): Node | undefined {
    const open = this.#pos
    const saved = this.#flags
    if (this.#cps[open + 1] === ch('?')) {
      const remaining = this.#cps.length - open
      const p = this.#cps[open + 2]
      const named =
        (remaining > 4 && p === ch('P') && this.#cps[open + 3] === ch('<')) ||
        (remaining > 3 && p === ch('<'))
      if (named) {
        const begin = open + (p === ch('P') ? 4 : 3)
        const end = this.#cps.indexOf(ch('>'), open)
        if (end < 0) this.#error('invalid named capture', this.#text(open, this.#cps.length))
        const name = this.#cps.slice(begin, end)
        if (name.length === 0 || !name.every((n) => n === 0x5f || isAlnum(n))) {
          this.#error('invalid named capture', this.#text(open, end + 1))
        }
        this.#pos = end + 1
      } else {
        let flags = { ...this.#flags }
        let negate = false
        let sawFlag = false
        this.#pos = open + 2
        for (;;) {
          const f = this.#cps[this.#pos]
          if (f === undefined) this.#error('invalid or unsupported Perl syntax', this.#text(open, this.#pos))
          this.#pos++
          if (f === ch('i') || f === ch('m') || f === ch('s') || f === ch('U')) {
            const key =
              f === ch('i') ? 'fold' : f === ch('m') ? 'oneLine' : f === ch('s') ? 'dotNL' : 'nonGreedy'
            flags = { ...flags, [key]: f === ch('m') ? negate : !negate }
            sawFlag = true
          } else if (f === ch('-') && !negate) {
            negate = true
            sawFlag = false
          } else if ((f === ch(':') || f === ch(')')) && !(negate && !sawFlag)) {
            this.#flags = flags
            if (f === ch(')')) return undefined
            break
          } else {
            this.#error('invalid or unsupported Perl syntax', this.#text(open, this.#pos))
          }
        }
      }
    } else {
      this.#pos = open + 1
    }
    if (++this.#depth > maxNesting) this.#error('expression nests too deeply', this.#whole())
    const alts = this.#alternation()
    this.#depth--
    if (this.#pos >= this.#cps.length) this.#error('missing closing )', this.#whole())
    this.#pos++
    this.#flags = saved
    return { t: 'group', alts }
  }

  /** A repetition operator (already consumed up to its optional lazy `?`) applied to the last atom. */
  #repeat(
    current: Node[],
    min: number,
    max: number,
    before: number,
    lastRepeat: number,
    counted: boolean,
  ): void {
    let greedy = !this.#flags.nonGreedy
    if (this.#cps[this.#pos] === ch('?')) {
      this.#pos++
      greedy = !greedy
    }
    if (lastRepeat >= 0) this.#error('invalid nested repetition operator', this.#text(lastRepeat, this.#pos))
    const sub = current.pop()
    if (!sub) this.#error('missing argument to repetition operator', this.#text(before, this.#pos))
    const node: Node = { t: 'rep', sub, min, max, greedy, counted }
    if (counted && (min >= 2 || max >= 2) && !repeatIsValid(node, maxRepeat)) {
      this.#error('invalid repeat count', this.#text(before, this.#pos))
    }
    current.push(node)
  }

  /**
   * Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}` at the cursor (consumed), max -1 for no bound and
   * min -1 for a count too large; undefined (nothing consumed) where `{` is a literal.
   */
  #repeatCounts(): [number, number] | undefined {
    const start = this.#pos
    const counts = this.#counts()
    if (!counts) this.#pos = start
    return counts
  }

  #counts(): [number, number] | undefined {
    this.#pos++
    let min = this.#int()
    if (min === undefined || this.#pos >= this.#cps.length) return undefined
    let max = min
    if (this.#cps[this.#pos] === ch(',')) {
      this.#pos++
      if (this.#pos >= this.#cps.length) return undefined
      if (this.#cps[this.#pos] === ch('}')) {
        max = -1
      } else {
        const m = this.#int()
        if (m === undefined) return undefined
        max = m
        if (max < 0) min = -1
      }
    }
    if (this.#cps[this.#pos] !== ch('}')) return undefined
    this.#pos++
    return [min, max]
  }

  /** Go's `parseInt` for repeat counts: decimal, no leading zeros; -1 when too large. */
  #int(): number | undefined {
    const first = this.#cps[this.#pos]
    if (!isDigit(first)) return undefined
    if (first === 0x30 && isDigit(this.#cps[this.#pos + 1])) return undefined
    let n = 0
    while (isDigit(this.#cps[this.#pos])) {
      if (n >= 1e8) n = -1
      else if (n >= 0) n = n * 10 + (this.#cps[this.#pos] ?? 0) - 0x30
      this.#pos++
    }
    return n
  }

  /** A `\` outside a class: an assertion, `\Q…\E`, a Unicode or Perl class, or an escaped rune. */
  #escapeAtom(current: Node[]): void {
    const next = this.#cps[this.#pos + 1]
    const assertion = next === undefined ? undefined : assertions.get(next)
    if (assertion !== undefined) {
      current.push({ t: 'raw', src: assertion })
      this.#pos += 2
      return
    }
    if (next === ch('C')) this.#error('invalid escape sequence', this.#text(this.#pos, this.#pos + 2))
    if (next === ch('Q')) {
      this.#pos += 2
      while (this.#pos < this.#cps.length) {
        if (this.#cps[this.#pos] === ch('\\') && this.#cps[this.#pos + 1] === ch('E')) {
          this.#pos += 2
          break
        }
        current.push(this.#literal(this.#cps[this.#pos] ?? 0))
        this.#pos++
      }
      return
    }
    const set: ClassSet = { ranges: [], props: [] }
    if (this.#unicodeClass(set) || this.#perlClass(set)) {
      current.push({
        t: 'class',
        negated: false,
        ranges: set.ranges,
        props: set.props,
        fold: this.#flags.fold,
      })
      return
    }
    current.push(this.#literal(this.#escape()))
  }

  /** Go's `parseEscape`: the rune of the escape at the cursor (consumed). */
  #escape(): number {
    const start = this.#pos
    this.#pos++
    const c = this.#cps[this.#pos++]
    if (c === undefined) this.#error('trailing backslash at end of expression', '')
    const invalid = (): never => this.#error('invalid escape sequence', this.#text(start, this.#pos))
    if (c < 0x80 && !isAlnum(c)) return c
    if (c >= 0x31 && c <= 0x37) {
      const n = this.#cps[this.#pos]
      if (n === undefined || n < 0x30 || n > 0x37) invalid()
    }
    if (c >= 0x30 && c <= 0x37) {
      let r = c - 0x30
      for (let i = 1; i < 3; i++) {
        const n = this.#cps[this.#pos]
        if (n === undefined || n < 0x30 || n > 0x37) break
        r = r * 8 + n - 0x30
        this.#pos++
      }
      return r
    }
    if (c === ch('x')) {
      if (this.#pos >= this.#cps.length) invalid()
      const first = this.#cps[this.#pos++]
      if (first === ch('{')) {
        let r = 0
        let digits = 0
        for (;;) {
          if (this.#pos >= this.#cps.length) invalid()
          const d = this.#cps[this.#pos++]
          if (d === ch('}')) break
          const v = hexDigit(d)
          if (v < 0) invalid()
          r = r * 16 + v
          if (r > maxRune) invalid()
          digits++
        }
        if (digits === 0) invalid()
        return r
      }
      const x = hexDigit(first)
      const y = hexDigit(this.#cps[this.#pos])
      if (this.#pos < this.#cps.length) this.#pos++
      if (x < 0 || y < 0) invalid()
      return x * 16 + y
    }
    const simple = cEscapes.get(c)
    if (simple !== undefined) return simple
    return invalid()
  }

  /** `\pN`, `\p{Name}`, `\PN`, `\P{^Name}` at the cursor, added to `set` (consumed); false if none. */
  #unicodeClass(set: ClassSet): boolean {
    const p = this.#cps[this.#pos + 1]
    if (this.#cps[this.#pos] !== ch('\\') || (p !== ch('p') && p !== ch('P'))) return false
    const start = this.#pos
    let negated = p === ch('P')
    let name: string
    let end: number
    if (this.#cps[start + 2] !== ch('{')) {
      end = Math.min(start + 3, this.#cps.length)
      name = this.#text(start + 2, end)
    } else {
      const close = this.#cps.indexOf(ch('}'), start)
      if (close < 0) this.#error('invalid character class range', this.#text(start, this.#cps.length))
      end = close + 1
      name = this.#text(start + 3, close)
    }
    if (name.startsWith('^')) {
      negated = !negated
      name = name.slice(1)
    }
    const seq = this.#text(start, end)
    if (name === 'Any') {
      if (!negated) set.ranges.push([0, maxRune])
    } else {
      const prop = unicodeCategories.has(name) ? name : `Script=${name}`
      if (!/^[A-Za-z_=]+$/.test(prop) || !isJsProperty(prop))
        this.#error('invalid character class range', seq)
      set.props.push(`\\${negated ? 'P' : 'p'}{${prop}}`)
    }
    this.#pos = end
    return true
  }

  /** `\d \D \s \S \w \W` at the cursor, added to `set` (consumed); false if none. */
  #perlClass(set: ClassSet): boolean {
    const c = this.#cps[this.#pos + 1]
    if (this.#cps[this.#pos] !== ch('\\') || c === undefined) return false
    const ranges = perlClasses[String.fromCodePoint(c).toLowerCase()]
    if (!ranges || !/[dDsSwW]/.test(String.fromCodePoint(c))) return false
    set.ranges.push(...(c >= 0x61 ? ranges : negateRanges(ranges)))
    this.#pos += 2
    return true
  }

  /** Go's `parseClass`: `[…]` at the cursor. */
  #class(): Node {
    const start = this.#pos
    this.#pos++
    let negated = false
    if (this.#cps[this.#pos] === ch('^')) {
      negated = true
      this.#pos++
    }
    const set: ClassSet = { ranges: [], props: [] }
    let first = true
    while (this.#pos >= this.#cps.length || this.#cps[this.#pos] !== ch(']') || first) {
      first = false
      if (this.#cps[this.#pos] === ch('[') && this.#cps[this.#pos + 1] === ch(':') && this.#posixClass(set))
        continue
      if (this.#unicodeClass(set) || this.#perlClass(set)) continue
      const rangeStart = this.#pos
      const lo = this.#classChar(start)
      let hi = lo
      if (
        this.#cps[this.#pos] === ch('-') &&
        this.#pos + 1 < this.#cps.length &&
        this.#cps[this.#pos + 1] !== ch(']')
      ) {
        this.#pos++
        hi = this.#classChar(start)
        if (hi < lo) this.#error('invalid character class range', this.#text(rangeStart, this.#pos))
      }
      set.ranges.push([lo, hi])
    }
    this.#pos++
    return { t: 'class', negated, ranges: set.ranges, props: set.props, fold: this.#flags.fold }
  }

  #classChar(classStart: number): number {
    const c = this.#cps[this.#pos]
    if (c === undefined) this.#error('missing closing ]', this.#text(classStart, this.#cps.length))
    if (c === ch('\\')) return this.#escape()
    this.#pos++
    return c
  }

  /** `[:alpha:]` or `[:^alpha:]` at the cursor, added to `set` (consumed); false if not one. */
  #posixClass(set: ClassSet): boolean {
    let close = -1
    for (let i = this.#pos + 2; i + 1 < this.#cps.length; i++) {
      if (this.#cps[i] === ch(':') && this.#cps[i + 1] === ch(']')) {
        close = i
        break
      }
    }
    if (close < 0) return false
    const text = this.#text(this.#pos, close + 2)
    const name = this.#text(this.#pos + 2, close)
    const ranges = posixClasses[name.replace(/^\^/, '')]
    if (!ranges) this.#error('invalid character class range', text)
    set.ranges.push(...(name.startsWith('^') ? negateRanges(ranges) : ranges))
    this.#pos = close + 2
    return true
  }

  #literal(cp: number): Node {
    return { t: 'lit', cp, fold: this.#flags.fold }
  }

  #text(from: number, to: number): string {
    let text = ''
    for (let i = from; i < to; i++) text += String.fromCodePoint(this.#cps[i] ?? 0)
    return text
  }

  #whole(): string {
    return this.#text(0, this.#cps.length)
  }

  #error(code: string, expr: string): never {
    throw new RegexpError(`error parsing regexp: ${code}: \`${expr}\``)
  }
}

type ClassSet = { ranges: Range[]; props: string[] }

const assertions = new Map<number, string>([
  [ch('A'), '(?<![\\s\\S])'],
  [ch('z'), '(?![\\s\\S])'],
  [ch('b'), '\\b'],
  [ch('B'), '\\B'],
])

const cEscapes = new Map<number, number>([
  [ch('a'), 0x07],
  [ch('f'), 0x0c],
  [ch('n'), 0x0a],
  [ch('r'), 0x0d],
  [ch('t'), 0x09],
  [ch('v'), 0x0b],
])

const jsProperties = new Map<string, boolean>()

function isJsProperty(prop: string): boolean {
  let ok = jsProperties.get(prop)
  if (ok === undefined) {
    try {
      new RegExp(`\\p{${prop}}`, 'u')
      ok = true
    } catch {
      ok = false
    }
    jsProperties.set(prop, ok)
  }
  return ok
}

/** Go's `repeatIsValid`: nested counted repetitions may not multiply beyond `n`. */
function repeatIsValid(node: Node, n: number): boolean {
  let limit = n
  if (node.t === 'rep' && node.counted) {
    let m = node.max
    if (m === 0) return true
    if (m < 0) m = node.min
    if (m > limit) return false
    if (m > 0) limit = Math.floor(limit / m)
  }
  if (node.t === 'rep') return repeatIsValid(node.sub, limit)
  if (node.t === 'group') return node.alts.every((alt) => alt.every((sub) => repeatIsValid(sub, limit)))
  return true
}

function normalizeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0])
  const out: [number, number][] = []
  for (const [lo, hi] of sorted) {
    const last = out.at(-1)
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi)
    else out.push([lo, hi])
  }
  return out
}

function negateRanges(ranges: readonly Range[]): Range[] {
  const out: Range[] = []
  let next = 0
  for (const [lo, hi] of normalizeRanges(ranges)) {
    if (lo > next) out.push([next, lo - 1])
    next = hi + 1
  }
  if (next <= maxRune) out.push([next, maxRune])
  return out
}

type FoldMode = 'none' | 'global' | 'mixed'

function collectFolds(node: Node, out: Set<boolean>): void {
  switch (node.t) {
    case 'lit':
    case 'class':
      out.add(node.fold)
      return
    case 'rep':
      collectFolds(node.sub, out)
      return
    case 'group':
      for (const alt of node.alts) for (const sub of alt) collectFolds(sub, out)
      return
    case 'raw':
      return
  }
}

function emit(node: Node, mode: FoldMode): string {
  switch (node.t) {
    case 'raw':
      return node.src
    case 'lit': {
      if (mode !== 'mixed' || !node.fold) return emitRune(node.cp)
      const orbit = caseOrbit(node.cp)
      return orbit.length === 1 ? emitRune(node.cp) : `[${orbit.map(emitRune).join('')}]`
    }
    case 'class': {
      let ranges = node.ranges
      if (mode === 'mixed' && node.fold) {
        if (node.props.length > 0) {
          throw new RegexpError(
            'unsupported regular expression: a case-folded \\p class in a partly case-folded pattern',
          )
        }
        ranges = foldRanges(ranges)
      }
      const items = normalizeRanges(ranges).map(([lo, hi]) =>
        lo === hi ? emitRune(lo) : `${emitRune(lo)}-${emitRune(hi)}`,
      )
      return `[${node.negated ? '^' : ''}${items.join('')}${node.props.join('')}]`
    }
    case 'group':
      return `(?:${node.alts.map((alt) => alt.map((sub) => emit(sub, mode)).join('')).join('|')})`
    case 'rep': {
      const { min, max } = node
      const quantifier =
        max < 0
          ? min === 0
            ? '*'
            : min === 1
              ? '+'
              : `{${min},}`
          : min === 0 && max === 1
            ? '?'
            : min === max
              ? `{${min}}`
              : `{${min},${max}}`
      return `(?:${emit(node.sub, mode)})${quantifier}${node.greedy ? '' : '?'}`
    }
  }
}

function emitRune(cp: number): string {
  return isAlnum(cp) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`
}

/** Ranges widened by the case variants of their members (a partly case-folded pattern). */
function foldRanges(ranges: readonly Range[]): Range[] {
  const size = ranges.reduce((n, [lo, hi]) => n + hi - lo + 1, 0)
  if (size > 0x20000) {
    throw new RegexpError(
      'unsupported regular expression: a case-folded class this large in a partly case-folded pattern',
    )
  }
  const out: Range[] = [...ranges]
  for (const [lo, hi] of ranges) {
    for (let cp = lo; cp <= hi; cp++) for (const v of caseOrbit(cp)) if (v !== cp) out.push([v, v])
  }
  return out
}

let reverseCase: Map<number, number[]> | undefined

function singleRune(s: string): number | undefined {
  const cp = s.codePointAt(0)
  return cp !== undefined && s.length === (cp > 0xffff ? 2 : 1) ? cp : undefined
}

/** The runes equal to `cp` under Unicode simple case folding (what JS's `iu` and Go's `(?i)` use). */
function caseOrbit(cp: number): number[] {
  const s = String.fromCodePoint(cp)
  const lower = singleRune(s.toLowerCase())
  const upper = singleRune(s.toUpperCase())
  reverseCase ??= buildReverseCase()
  const candidates = new Set<number>([cp])
  for (const c of [lower, upper]) if (c !== undefined) candidates.add(c)
  for (const c of [cp, lower, upper])
    for (const r of c === undefined ? [] : (reverseCase.get(c) ?? [])) candidates.add(r)
  if (candidates.size === 1) return [cp]
  const re = new RegExp(`^\\u{${cp.toString(16)}}$`, 'iu')
  return [...candidates].filter((c) => re.test(String.fromCodePoint(c)))
}

/** For each rune, the runes whose lower or upper case mapping it is. Built once, on first use. */
function buildReverseCase(): Map<number, number[]> {
  const map = new Map<number, number[]>()
  for (let cp = 0; cp < 0x20000; cp++) {
    if (cp >= 0xd800 && cp < 0xe000) continue
    const s = String.fromCodePoint(cp)
    for (const mapped of [s.toLowerCase(), s.toUpperCase()]) {
      const m = singleRune(mapped)
      if (m === undefined || m === cp) continue
      const list = map.get(m)
      if (list) list.push(cp)
      else map.set(m, [cp])
    }
  }
  return map
}
