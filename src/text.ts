/**
 * Names and messages from a server (a table name, an error quoting a value) are data, and data may hold
 * control characters: a newline would start a forged line in tablehaul.log, ESC and OSC sequences would
 * drive the terminal, bidi overrides would show text reordered. Every text output shows them escaped.
 */
// eslint-disable-next-line no-control-regex -- these are the characters it is about
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
const CONTROL_ALL = new RegExp(CONTROL.source, 'g')
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' }

/** `a\nb` (a real newline) → `a\\nb` (backslash, n); ESC → `\e`, others `\xHH` or `\u202e`. */
export function escapeControl(text: string): string {
  if (!CONTROL.test(text)) return text
  return text.replace(CONTROL_ALL, (char) => {
    const named = NAMED[char]
    if (named) return named
    const code = char.charCodeAt(0)
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** `escapeControl` on each line of a text whose own line breaks are meant (a list of problems). */
export function escapeControlByLine(text: string): string {
  return text.split('\n').map(escapeControl).join('\n')
}

/** A deep copy with `escapeControl` applied to every string: a report or an event as people are shown it. */
export function escapeControlDeep<T>(input: T): T {
  if (typeof input === 'string') return escapeControl(input) as T
  if (Array.isArray(input)) return input.map((item) => escapeControlDeep(item)) as T
  if (input && typeof input === 'object' && !(input instanceof Date)) {
    return Object.fromEntries(Object.entries(input).map(([key, item]) => [key, escapeControlDeep(item)])) as T
  }
  return input
}
