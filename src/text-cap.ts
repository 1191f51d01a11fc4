/**
 * @module text-cap
 * Keeping text from callers short before it is stored or echoed: a tool name, a
 * JSON-RPC method, a ledger label. Lengths are in characters (code points), as
 * SQLite's `length()` counts them, so a cut never splits a character. Imports nothing.
 */

/** The mark a cut text ends with. */
export const ELLIPSIS = '…'

/** Whether `text` has more than `max` characters (without walking a long text to its end). */
export function longerThan(text: string, max: number): boolean {
  if (text.length <= max) return false // UTF-16 units are never fewer than characters
  let count = 0
  for (const _ of text) if (++count > max) return true
  return false
}

/**
 * `text` itself when it has at most `max` characters; else its first `max - 1`
 * characters and an ellipsis (so the result has `max`).
 * @example capText('x'.repeat(1_000_000), 128).length // 128
 */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text
  let count = 0
  let end = 0
  for (const char of text) {
    if (count === max - 1) {
      // `end` is where the (max)th character starts: keep the text if it is the last.
      return text.length - end === char.length ? text : `${text.slice(0, end)}${ELLIPSIS}`
    }
    count++
    end += char.length
  }
  return text
}
