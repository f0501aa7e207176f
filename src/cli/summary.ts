import { alignColumns, formatBytes, formatDuration, plural, rowCount, truncateMiddle } from '../format.js'
import { describeError, withSqlState } from '../errors.js'
import type { RunReport, TableResult } from '../report/run-report.js'
import {
  OUTCOME_LABEL,
  nextStep,
  notMoved,
  checksumVerified,
  objectsFailed,
  statusLabel,
  syncCounts,
  tableCells,
  tableCounts,
  tablesToList,
  unlistedLines,
} from '../report/wording.js'
import { paint, type Writer, wrap } from './output.js'

const STATUS_COLOR = { copied: 'green', failed: 'red', skipped: 'yellow' } as const
const OUTCOME_COLOR = { succeeded: 'green', failed: 'red', interrupted: 'yellow' } as const

/**
 * The end of a run: its tables (failures first), totals, where the log is, what to do next. A run of many
 * tables lists what the e-mail lists (tablesToList: the failed ones, those with a note or rows a sync wrote,
 * and the largest others) and counts the rest: listed one by one, 2,000 tables made a 300 kB summary, which
 * cron mails in full after a failure; --json and the logs keep every table.
 */
export function renderSummary(report: RunReport, writer: Writer): string {
  if (report.kind !== 'run') return renderFileSummary(report, writer)
  const lines: string[] = ['']
  const { listed: tables, unlisted } = tablesToList(report)
  if (tables.length > 0) {
    const header = ['STATUS', 'TABLE', 'ROWS', 'SIZE', 'TIME', 'RATE'].map((h) => paint(writer, 'dim', h))
    const nameWidth = tableNameWidth(tables, writer)
    const rows = tables.map((t: TableResult) => {
      const cells = tableCells(t)
      return [
        paint(writer, STATUS_COLOR[t.status], statusLabel(t)),
        truncateMiddle(t.table, nameWidth),
        cells.rows,
        cells.size,
        cells.time,
        cells.rate,
      ]
    })
    lines.push(...alignColumns([header, ...rows], [2, 3, 4, 5]).map((l) => `  ${l}`))
    for (const line of unlistedLines(unlisted)) lines.push(wrap(writer, `  ${line}`, 4))
    // Many tables skipped for one reason (a stopped run) make one line, not one each; listed or not.
    const skipped = new Map<string, string[]>()
    for (const t of report.tables)
      if (t.status === 'skipped' && t.reason)
        skipped.set(t.reason, [...(skipped.get(t.reason) ?? []), t.table])
    const details = tables.flatMap((t) => {
      const notes: string[] = []
      if (t.status === 'failed' && t.error)
        notes.push(wrap(writer, `  ${paint(writer, 'red', t.table)}: ${describeError(t.error)}`, 4))
      const synced = syncCounts(t)
      if (synced) notes.push(wrap(writer, `  ${t.table}: ${synced}`, 4))
      for (const warning of t.warnings ?? []) notes.push(wrap(writer, `  ${t.table}: ${warning}`, 4))
      return notes
    })
    for (const [reason, names] of skipped) {
      const who = names.length <= 2 ? names.join(', ') : `${names.length} tables`
      details.push(wrap(writer, `  ${who}: ${reason}`, 4))
    }
    if (details.length > 0) lines.push('', ...details)
    lines.push('')
  }
  for (const warning of report.warnings)
    lines.push(wrap(writer, `${paint(writer, 'yellow', 'note')}: ${warning}`, 6))
  const totals = report.totals
  const outcome = paint(writer, OUTCOME_COLOR[report.status], OUTCOME_LABEL[report.status])
  if (report.error && totals.tables === 0) {
    lines.push(`${outcome}  ${withSqlState(report.error.message, report.error.sqlState)}`)
  } else {
    lines.push(
      [
        `${outcome}  ${tableCounts(totals)} of ${plural(totals.tables, 'table')}`,
        ...(checksumVerified(report) ? [checksumVerified(report)!] : []),
        ...(objectsFailed(report) ? [objectsFailed(report)!] : []),
        rowCount(totals.rows),
        ...(notMoved(totals) ? [notMoved(totals)] : []),
        formatBytes(totals.bytes),
        formatDuration(report.durationMs),
      ].join(' · '),
    )
    if (report.error) lines.push(`${paint(writer, 'red', 'error')}  ${describeError(report.error)}`)
  }
  return footer(report, writer, lines)
}

/** An export or an import: one line that says what happened, then where everything is. */
function renderFileSummary(report: RunReport, writer: Writer): string {
  const lines: string[] = ['']
  const result = report.tables[0]
  if (report.status === 'succeeded' && result) {
    const what =
      report.kind === 'export'
        ? `exported ${rowCount(result.rows)} (${formatBytes(result.bytes)} of CSV) into ${report.target}`
        : `imported ${rowCount(result.rows)} (${formatBytes(result.bytes)} of CSV) into ${result.table}${result.mode === 'append' ? ' (appended)' : ''}`
    lines.push(
      wrap(writer, `${paint(writer, 'green', 'OK')}  ${what} in ${formatDuration(report.durationMs)}`, 4),
    )
  } else if (report.status === 'interrupted') {
    lines.push(
      `${paint(writer, 'yellow', 'INTERRUPTED')}  the ${report.kind} was stopped; nothing was changed`,
    )
  } else {
    const error = report.error ?? result?.error
    const message = error ? withSqlState(error.message, error.sqlState) : `the ${report.kind} failed`
    lines.push(wrap(writer, `${paint(writer, 'red', 'FAILED')}  ${message}`, 4))
  }
  return footer(report, writer, lines)
}

/** Where the data came from and went, the log, the e-mail, and what to do next. */
function footer(report: RunReport, writer: Writer, lines: string[]): string {
  if (report.snapshot.takenAt)
    lines.push(
      `snapshot  ${report.snapshot.takenAt} (${report.kind === 'run' ? 'every table was' : 'the rows were'} read as of this instant)`,
    )
  lines.push(`source    ${report.source}`, `target    ${report.target}`)
  if (report.logFile) lines.push(`log       ${report.logFile}`)
  if (report.notification) {
    const n = report.notification
    const label =
      n.status === 'sent'
        ? `sent (${n.detail})`
        : n.status === 'failed'
          ? paint(writer, 'red', `NOT sent: ${n.error ? describeError(n.error) : n.detail}`)
          : `not sent: ${n.detail}`
    lines.push(wrap(writer, `e-mail    ${label}`, 10))
  }
  const next = nextStep(report)
  if (next) lines.push('', wrap(writer, next, 2))
  return `${lines.join('\n')}\n`
}

/**
 * On a terminal the summary must not wrap: table names longer than the room left by the other columns
 * are shortened in the middle (failures are named in full below the table). In a log they stay whole.
 */
function tableNameWidth(tables: readonly TableResult[], writer: Writer): number {
  const longest = Math.max(5, ...tables.map((t) => t.table.length))
  if (!writer.isTTY || !writer.columns) return longest
  // STATUS, ROWS, SIZE, TIME and RATE take at most about 7+13+9+8+11 characters, plus separators.
  const others = 2 + 7 + 2 + 2 + 13 + 2 + 9 + 2 + 8 + 2 + 11
  return Math.max(16, Math.min(longest, writer.columns - 1 - others))
}
