import { visibleLength } from '../format.js'

/** Where the CLI writes: stdout for results, stderr for progress and messages. Tests pass their own. */
export interface Output {
  readonly stdout: Writer
  readonly stderr: Writer
}

export interface Writer {
  write(text: string): unknown
  readonly isTTY?: boolean
  readonly columns?: number
}

export function processOutput(): Output {
  return { stdout: process.stdout, stderr: process.stderr }
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const
export type Color = keyof typeof CODES

/** ANSI colour on terminals, plain text elsewhere and under NO_COLOR. */
export function paint(writer: Writer, color: Color, text: string): string {
  if (!writer.isTTY || process.env.NO_COLOR !== undefined || process.env.TERM === 'dumb') return text
  return `\u001b[${CODES[color]}m${text}\u001b[0m`
}

/**
 * Word-wraps `text` to the terminal's width, continuation lines indented by `indent` spaces; off a
 * terminal (logs, pipes) the text is left as one line, which is what grep wants.
 */
export function wrap(writer: Writer, text: string, indent = 2): string {
  const width = writer.isTTY && writer.columns ? writer.columns - 1 : 0
  if (width < 30 || visibleLength(text) <= width) return text
  const lead = /^ */.exec(text)![0]
  const lines: string[] = []
  let line = lead
  for (const word of text.slice(lead.length).split(' ')) {
    const candidate = line.trim() === '' ? `${line}${word}` : `${line} ${word}`
    if (visibleLength(candidate) > width && line.trim() !== '') {
      lines.push(line)
      line = `${' '.repeat(indent)}${word}`
    } else line = candidate
  }
  lines.push(line)
  return lines.join('\n')
}
