import path from 'node:path'
import { formatBytes, formatCount, formatDuration, formatRate } from '../config/units.js'
import type { ErrorCode } from '../errors.js'
import { describeError, type RunReport, type TableResult, tablesForDisplay } from '../report/run-report.js'
import type { EmailMessage } from './notifier.js'

export interface RenderEmailOptions {
  readonly from: string
  readonly to: readonly string[]
  readonly cc?: readonly string[]
  /** When to attach the run's NDJSON log. @default 'failure' */
  readonly attachLog?: 'always' | 'failure' | 'never'
}

const OUTCOME = { succeeded: 'OK', failed: 'FAILED', interrupted: 'INTERRUPTED' } as const

/** Short phrases for run-level failures, for the subject line. */
const RUN_FAILURE_PHRASE: Partial<Record<ErrorCode, string>> = {
  SOURCE_UNREACHABLE: 'cannot connect to the source',
  TARGET_UNREACHABLE: 'cannot connect to the target',
  TABLE_NOT_FOUND: 'a configured table does not exist',
  CONFIG_INVALID: 'the configuration is invalid',
  RUN_LOCKED: 'another run holds the target',
  LOCAL_SERVER_FAILED: 'the local PostgreSQL did not start',
  SNAPSHOT_FAILED: 'the source snapshot failed',
  RUN_DEADLINE: 'the run deadline passed',
  CSV_INVALID: 'the CSV file is invalid',
  FILE_FAILED: 'a file could not be read or written',
  RESUME_UNAVAILABLE: 'nothing to resume',
}

/** The subject tells the outcome at a glance: `[tablehaul] OK · 12/12 tables · sales@db → local · 3m 21s`. */
export function emailSubject(report: RunReport): string {
  const { totals } = report
  const parts = [`[tablehaul] ${OUTCOME[report.status]}`]
  if (report.error && report.status !== 'interrupted') {
    parts.push(RUN_FAILURE_PHRASE[report.error.code] ?? 'the run failed')
  } else if (report.kind !== 'run') {
    const table = report.tables[0]
    parts.push(`${report.kind} ${table ? `${table.table}, ${formatCount(table.rows)} rows` : ''}`.trim())
  } else if (report.status === 'succeeded') {
    parts.push(`${totals.copied + totals.skipped}/${totals.tables} tables`)
  } else if (report.status === 'failed') {
    parts.push(`${totals.failed} of ${totals.tables} tables failed`)
  } else {
    parts.push(`${totals.copied} of ${totals.tables} tables copied`)
  }
  parts.push(`${report.sourceName} → ${report.targetName}`, formatDuration(report.durationMs))
  return parts.join(' · ')
}

/** The whole message: subject, plain text, HTML, and the log attached when the options ask for it. */
export function renderEmail(report: RunReport, options: RenderEmailOptions): EmailMessage {
  const attachLog = options.attachLog ?? 'failure'
  const attach =
    report.logFile && (attachLog === 'always' || (attachLog === 'failure' && report.status !== 'succeeded'))
  return {
    from: options.from,
    to: options.to,
    cc: options.cc ?? [],
    subject: emailSubject(report),
    text: emailText(report),
    html: emailHtml(report),
    attachments: attach
      ? [
          {
            filename: path.basename(report.logFile!),
            path: report.logFile!,
            contentType: 'application/x-ndjson',
          },
        ]
      : [],
  }
}

interface Fact {
  readonly label: string
  readonly value: string
}

function facts(report: RunReport): Fact[] {
  const list: Fact[] = [
    { label: 'Source', value: report.source },
    { label: 'Target', value: report.target },
  ]
  if (report.kind === 'run') {
    list.push({
      label: 'Snapshot',
      value: report.snapshot.takenAt
        ? readableTime(report.snapshot.takenAt)
        : (report.snapshot.unavailable ?? 'not taken'),
    })
  }
  list.push(
    { label: 'Started', value: readableTime(report.startedAt) },
    { label: 'Finished', value: `${readableTime(report.finishedAt)} (${formatDuration(report.durationMs)})` },
    {
      label: 'Moved',
      value: `${formatCount(report.totals.rows)} rows, ${formatBytes(report.totals.bytes)}`,
    },
    { label: 'Tables', value: tableCounts(report) },
    { label: 'Run', value: report.runId },
  )
  if (report.logFile) list.push({ label: 'Log', value: report.logFile })
  return list
}

function tableCounts(report: RunReport): string {
  const { totals } = report
  const parts = [`${totals.copied} copied`]
  if (totals.failed) parts.push(`${totals.failed} failed`)
  if (totals.skipped) parts.push(`${totals.skipped} skipped`)
  return `${parts.join(', ')} of ${totals.tables}`
}

function headline(report: RunReport): string {
  const { totals } = report
  if (report.status === 'succeeded') {
    return report.kind === 'run'
      ? `All ${totals.tables} tables were transferred.`
      : `The ${report.kind} finished: ${formatCount(totals.rows)} rows.`
  }
  if (report.status === 'interrupted') {
    return `The run was interrupted: ${totals.copied} of ${totals.tables} tables were copied; the others kept their previous contents.`
  }
  if (report.error) return `The run failed before it could finish: ${describeError(report.error)}`
  return `${totals.failed} of ${totals.tables} tables failed and kept their previous contents; ${totals.copied} were transferred.`
}

function nextStep(report: RunReport): string | undefined {
  if (report.status === 'succeeded') return undefined
  if (report.status === 'interrupted')
    return 'Run `tablehaul run --resume` to copy the tables that did not finish.'
  if (report.error) return report.error.hint ? `What to do: ${report.error.hint}.` : undefined
  return 'Fix what the failures below say, then run `tablehaul run --resume` to copy only the tables that failed.'
}

export function emailText(report: RunReport): string {
  const lines: string[] = []
  lines.push(`tablehaul ${report.kind} ${OUTCOME[report.status]}`, '', headline(report))
  const step = nextStep(report)
  if (step) lines.push(step)
  lines.push('')
  const width = Math.max(...facts(report).map((f) => f.label.length))
  for (const fact of facts(report)) lines.push(`${fact.label.padEnd(width)}  ${fact.value}`)
  const tables = tablesForDisplay(report.tables)
  const failures = tables.filter((t) => t.status === 'failed')
  if (failures.length > 0) {
    lines.push('', 'FAILED TABLES', '')
    for (const table of failures) {
      lines.push(`  ${table.table}`)
      if (table.error) {
        lines.push(
          `    error: ${table.error.message}${table.error.sqlState ? ` (SQLSTATE ${table.error.sqlState})` : ''}`,
        )
        if (table.error.hint) lines.push(`    what to do: ${table.error.hint}`)
      }
    }
  }
  if (tables.length > 0) {
    lines.push('', 'TABLES', '')
    const rows = tables.map((t) => [
      statusLabel(t),
      t.table,
      formatCount(t.rows),
      formatBytes(t.bytes),
      formatDuration(t.durationMs),
      formatRate(t.bytes, t.durationMs),
    ])
    const header = ['STATUS', 'TABLE', 'ROWS', 'SIZE', 'TIME', 'RATE']
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const format = (cells: string[]) =>
      cells
        .map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd()
    lines.push(`  ${format(header)}`)
    for (const row of rows) lines.push(`  ${format(row)}`)
  }
  const warnings = [
    ...report.warnings,
    ...report.tables.flatMap((t) => (t.warnings ?? []).map((w) => `${t.table}: ${w}`)),
  ]
  if (warnings.length > 0) {
    lines.push('', 'NOTES', '')
    for (const warning of warnings) lines.push(`  - ${warning}`)
  }
  lines.push(
    '',
    '-- ',
    'tablehaul: PostgreSQL tables copied with COPY, one snapshot, one transaction per table.',
  )
  return `${lines.join('\n')}\n`
}

function statusLabel(table: TableResult): string {
  return { copied: 'OK', failed: 'FAILED', skipped: 'SKIPPED' }[table.status]
}

const escapeHtml = (value: string) =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

/** Status colours chosen to read on both light and dark backgrounds. */
const STATUS_COLOR = { succeeded: '#1a7f37', failed: '#cf222e', interrupted: '#9a6700' } as const
const TABLE_COLOR = { copied: '#1a7f37', failed: '#cf222e', skipped: '#6e7781' } as const

export function emailHtml(report: RunReport): string {
  const color = STATUS_COLOR[report.status]
  const tables = tablesForDisplay(report.tables)
  const cell = 'padding:6px 8px;border-bottom:1px solid rgba(127,127,127,0.25);vertical-align:top;'
  const numeric = `${cell}text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums;`
  const factRows = facts(report)
    .map(
      (f) =>
        `<tr><td style="padding:3px 12px 3px 0;opacity:0.7;white-space:nowrap;vertical-align:top;">${escapeHtml(f.label)}</td><td style="padding:3px 0;word-break:break-all;">${escapeHtml(f.value)}</td></tr>`,
    )
    .join('')
  const tableRows = tables
    .map((t) => {
      const failure =
        t.status === 'failed' && t.error
          ? `<div style="margin-top:4px;color:${TABLE_COLOR.failed};">${escapeHtml(t.error.message)}${t.error.sqlState ? ` <span style="opacity:0.8;">(SQLSTATE ${escapeHtml(t.error.sqlState)})</span>` : ''}</div>${t.error.hint ? `<div style="margin-top:2px;opacity:0.85;">What to do: ${escapeHtml(t.error.hint)}</div>` : ''}`
          : ''
      const notes = (t.warnings ?? [])
        .map((w) => `<div style="margin-top:2px;opacity:0.8;">${escapeHtml(w)}</div>`)
        .join('')
      const reason =
        t.status === 'skipped' && t.reason
          ? `<div style="margin-top:2px;opacity:0.8;">${escapeHtml(t.reason)}</div>`
          : ''
      return `<tr>
<td style="${cell}white-space:nowrap;"><span style="display:inline-block;padding:1px 6px;border-radius:4px;border:1px solid ${TABLE_COLOR[t.status]};color:${TABLE_COLOR[t.status]};font-size:12px;font-weight:600;">${statusLabel(t)}</span></td>
<td style="${cell}word-break:break-word;"><span style="font-family:ui-monospace,Menlo,Consolas,monospace;">${escapeHtml(t.table)}</span>${failure}${reason}${notes}</td>
<td style="${numeric}">${formatCount(t.rows)}</td>
<td style="${numeric}">${formatBytes(t.bytes)}</td>
<td style="${numeric}">${formatDuration(t.durationMs)}</td>
<td style="${numeric}">${formatRate(t.bytes, t.durationMs)}</td>
</tr>`
    })
    .join('\n')
  const step = nextStep(report)
  const warnings = report.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>${escapeHtml(emailSubject(report))}</title>
</head>
<body style="margin:0;padding:16px;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45;">
<div style="max-width:720px;margin:0 auto;">
<div style="border-left:6px solid ${color};padding:8px 14px;margin-bottom:16px;">
<div style="font-size:20px;font-weight:700;color:${color};">${OUTCOME[report.status]}</div>
<div style="font-size:15px;margin-top:4px;">${escapeHtml(headline(report))}</div>
${step ? `<div style="margin-top:6px;">${escapeHtml(step)}</div>` : ''}
</div>
<table role="presentation" style="border-collapse:collapse;margin-bottom:16px;font-size:13px;">${factRows}</table>
${
  tables.length > 0
    ? `<div style="overflow-x:auto;"><table style="border-collapse:collapse;width:100%;font-size:13px;">
<thead><tr>
<th style="${cell}text-align:left;">Status</th><th style="${cell}text-align:left;">Table</th><th style="${cell}text-align:right;">Rows</th><th style="${cell}text-align:right;">Size</th><th style="${cell}text-align:right;">Time</th><th style="${cell}text-align:right;">Rate</th>
</tr></thead>
<tbody>
${tableRows}
</tbody></table></div>`
    : ''
}
${warnings ? `<div style="margin-top:16px;"><div style="font-weight:600;">Notes</div><ul style="margin:4px 0;padding-left:20px;">${warnings}</ul></div>` : ''}
<div style="margin-top:20px;font-size:12px;opacity:0.6;">tablehaul ${escapeHtml(report.kind)} ${escapeHtml(report.runId)}</div>
</div>
</body>
</html>
`
}

/** `2026-11-27 02:00:13 +01:00`: the machine's local time with its offset, so nobody has to guess the zone. */
export function readableTime(iso: string): string {
  const date = new Date(iso)
  const pad = (n: number) => String(Math.abs(n)).padStart(2, '0')
  const offset = -date.getTimezoneOffset()
  const sign = offset >= 0 ? '+' : '-'
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
}
