import { formatBytes, formatCount, formatDuration, formatRate } from '../config/units.js'
import { describeError, type RunReport, type TableResult, tablesForDisplay } from '../report/run-report.js'
import { columns, paint, type Writer } from './output.js'

const STATUS_COLOR = { copied: 'green', failed: 'red', skipped: 'yellow' } as const
const STATUS_LABEL = { copied: 'OK', failed: 'FAILED', skipped: 'SKIPPED' } as const

/** The end of a run: a table of every table (failures first), totals, where the log is, what to do next. */
export function renderSummary(report: RunReport, writer: Writer): string {
  const lines: string[] = ['']
  const tables = tablesForDisplay(report.tables)
  if (tables.length > 0) {
    const header = ['STATUS', 'TABLE', 'ROWS', 'SIZE', 'TIME', 'RATE'].map((h) => paint(writer, 'dim', h))
    const rows = tables.map((t: TableResult) => [
      paint(writer, STATUS_COLOR[t.status], STATUS_LABEL[t.status]),
      t.table,
      formatCount(t.rows),
      formatBytes(t.bytes),
      formatDuration(t.durationMs),
      formatRate(t.bytes, t.durationMs),
    ])
    lines.push(...columns([header, ...rows], [2, 3, 4, 5]).map((l) => `  ${l}`))
    const details = tables.flatMap((t) => {
      const notes: string[] = []
      if (t.status === 'failed' && t.error)
        notes.push(`  ${paint(writer, 'red', t.table)}: ${describeError(t.error)}`)
      if (t.status === 'skipped' && t.reason) notes.push(`  ${t.table}: ${t.reason}`)
      for (const warning of t.warnings ?? []) notes.push(`  ${t.table}: ${warning}`)
      return notes
    })
    if (details.length > 0) lines.push('', ...details)
    lines.push('')
  }
  for (const warning of report.warnings) lines.push(`${paint(writer, 'yellow', 'note')}: ${warning}`)
  const totals = report.totals
  const outcome = {
    succeeded: paint(writer, 'green', 'OK'),
    failed: paint(writer, 'red', 'FAILED'),
    interrupted: paint(writer, 'yellow', 'INTERRUPTED'),
  }[report.status]
  const counts = [`${totals.copied} copied`]
  if (totals.failed) counts.push(`${totals.failed} failed`)
  if (totals.skipped) counts.push(`${totals.skipped} skipped`)
  if (report.error && totals.tables === 0) {
    lines.push(
      `${outcome}  ${report.error.message}${report.error.sqlState && !report.error.message.includes(report.error.sqlState) ? ` (SQLSTATE ${report.error.sqlState})` : ''}`,
    )
  } else {
    lines.push(
      `${outcome}  ${counts.join(', ')} of ${totals.tables} tables · ${formatCount(totals.rows)} rows · ${formatBytes(totals.bytes)} · ${formatDuration(report.durationMs)}`,
    )
    if (report.error) lines.push(`${paint(writer, 'red', 'error')}  ${describeError(report.error)}`)
  }
  if (report.snapshot.takenAt)
    lines.push(`snapshot  ${report.snapshot.takenAt} (every table was read as of this instant)`)
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
    lines.push(`e-mail    ${label}`)
  }
  const next = nextStep(report)
  if (next) lines.push('', next)
  return `${lines.join('\n')}\n`
}

export function nextStep(report: RunReport): string | undefined {
  if (report.error && report.status === 'failed') {
    return report.error.hint ? `What to do: ${report.error.hint}` : undefined
  }
  if (report.status === 'interrupted')
    return 'What to do: run `tablehaul run --resume` to copy only the tables that did not finish.'
  if (report.totals.failed > 0) {
    return 'What to do: fix what the failed tables above say, then run `tablehaul run --resume` to copy only those (their previous contents were kept).'
  }
  if (report.notification?.status === 'failed')
    return 'The data is complete, but the e-mail was not sent: check the email settings (`tablehaul config --show`).'
  return undefined
}
