/** Go's `unicode` predicates that decide what vigil shows or accepts as text. */

const PRINT_RUNE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u
const PRINT_TEXT = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u

/** Go's `unicode.IsPrint` for one character: letters, marks, numbers, punctuation, symbols, U+0020. */
export function isGoPrintRune(ch: string): boolean {
  return PRINT_RUNE.test(ch)
}

/** `unicode.IsPrint` holds for every character of `text` (true for ""). */
export function isGoPrintText(text: string): boolean {
  return PRINT_TEXT.test(text)
}
