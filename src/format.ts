import { stripVTControlCharacters } from 'node:util'

/**
 * How tablehaul writes numbers, sizes, times and names for people. The CLI's summary and progress, the
 * logs and the e-mail all write through these, so the three never disagree on how a run looks.
 */

/** `512 B`, `41.2 MB`, `1.5 GB`: binary units (1 kB = 1024 B), whole bytes below a kilobyte. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`
}

/** `250ms`, `38.2s`, `4m 10s`, `1h 2m 3s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const totalSeconds = Math.round(ms / 1000)
  const hours = Math.floor(totalSeconds / 3600)
  const minutes = Math.floor((totalSeconds % 3600) / 60)
  const seconds = totalSeconds % 60
  return hours > 0 ? `${hours}h ${minutes}m ${seconds}s` : `${minutes}m ${seconds}s`
}

/** `1,204,331`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US')
}

/** `bytes` moved in `ms` as `41.2 MB/s`; a dash when nothing can be said yet. */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0 || bytes <= 0) return '-'
  return formatSpeed((bytes * 1000) / ms)
}

/** A speed in bytes per second as `41.2 MB/s`. */
export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`
}

/** `1 row`, `1,204,331 rows`. */
export function rowCount(n: number): string {
  return `${formatCount(n)} ${n === 1 ? 'row' : 'rows'}`
}

/** `1 table`, `3 tables`; `plural(2, 'column', 'columns')` where the plural is not the noun plus s. */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : pluralNoun}`
}

/** `text` cut to `width` characters, its end replaced by `…` when it had to be cut. */
export function truncateEnd(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text
}

/** `name` cut to `width` characters in the middle (`sales.ord…_2024`), so both ends stay readable. */
export function truncateMiddle(name: string, width: number): string {
  if (name.length <= width) return name
  const head = Math.ceil((width - 1) / 2)
  return `${name.slice(0, head)}…${name.slice(name.length - (width - 1 - head))}`
}

/** How many characters `text` takes on a terminal: its ANSI escape sequences (colours) take none. */
export function visibleLength(text: string): number {
  return stripVTControlCharacters(text).length
}

/** Rows laid out as aligned columns, two spaces apart; columns listed in `right` are right-aligned. */
export function alignColumns(rows: readonly string[][], right: readonly number[] = []): string[] {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))))
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat((widths[i] ?? 0) - visibleLength(cell))
        return right.includes(i) ? pad + cell : cell + pad
      })
      .join('  ')
      .trimEnd(),
  )
}

/** `2026-11-27 02:00:13` in the machine's time zone: what someone reading at the machine expects. */
export function localTimestamp(date: Date): string {
  return `${date.getFullYear()}-${twoDigits(date.getMonth() + 1)}-${twoDigits(date.getDate())} ${twoDigits(date.getHours())}:${twoDigits(date.getMinutes())}:${twoDigits(date.getSeconds())}`
}

/** `+01:00`: the machine's offset from UTC at `date`. */
export function utcOffset(date: Date): string {
  const offset = -date.getTimezoneOffset()
  const sign = offset >= 0 ? '+' : '-'
  return `${sign}${twoDigits(Math.floor(Math.abs(offset) / 60))}:${twoDigits(Math.abs(offset) % 60)}`
}

function twoDigits(n: number): string {
  return String(n).padStart(2, '0')
}
