import os from 'node:os'
import path from 'node:path'
import {
  alignColumns,
  formatBytes,
  formatCount,
  formatDuration,
  localTimestamp,
  utcOffset,
} from '../format.js'
import { type ErrorCode, withoutSqlState } from '../errors.js'
import type { ErrorInfo, RunReport, TableResult } from '../report/run-report.js'
import {
  OUTCOME_LABEL,
  alreadyCopied,
  doneOfAll,
  keptContents,
  maybeCommitted,
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
import type { EmailMessage } from './notifier.js'

/** Addresses and the log attachment policy of a rendered e-mail. */
export interface RenderEmailOptions {
  readonly from: string
  readonly to: readonly string[]
  readonly cc?: readonly string[]
  /** When to attach the run's NDJSON log. @default 'failure' */
  readonly attachLog?: 'always' | 'failure' | 'never'
  /** The machine that ran the job, shown in the message. @default os.hostname() */
  readonly host?: string
}

/** Short phrases for run-level failures, for the subject line. */
const RUN_FAILURE_PHRASE: Partial<Record<ErrorCode, string>> = {
  SOURCE_UNREACHABLE: 'cannot connect to the source',
  TARGET_UNREACHABLE: 'cannot connect to the target',
  TABLE_NOT_FOUND: 'a configured table does not exist',
  CONFIG_INVALID: 'the configuration is invalid',
  PRIVILEGE_MISSING: 'a privilege is missing',
  RUN_LOCKED: 'another run holds the target',
  LOCAL_SERVER_FAILED: 'the local PostgreSQL did not start',
  SNAPSHOT_FAILED: 'the source snapshot failed',
  SCHEMA_FAILED: 'creating the target schema failed',
  RUN_DEADLINE: 'the run deadline passed',
  CSV_INVALID: 'the CSV file is invalid',
  FILE_FAILED: 'a file could not be read or written',
  SERVER_LIMIT: 'a server reached a limit',
  LOCK_CONFLICT: 'a lock of another session was in the way',
}

/** `28P01` and `28000`: the server answered, and refused the login. */
const LOGIN_REFUSED = new Set(['28P01', '28000'])

function runFailurePhrase(error: ErrorInfo): string {
  if (error.sqlState && LOGIN_REFUSED.has(error.sqlState)) {
    if (error.code === 'SOURCE_UNREACHABLE') return 'the source refused the login'
    if (error.code === 'TARGET_UNREACHABLE') return 'the target refused the login'
  }
  return RUN_FAILURE_PHRASE[error.code] ?? 'the run failed'
}

/**
 * The subject tells the outcome at a glance:
 * `[tablehaul] OK · 12/12 tables · sales@db.example.com → local · 3m 21s`,
 * `[tablehaul] FAILED · 2 of 12 tables failed · sales@db.example.com → local · 3m 21s`.
 */
export function emailSubject(report: RunReport): string {
  return [
    `[tablehaul] ${OUTCOME_LABEL[report.status]}`,
    outcomePhrase(report),
    `${report.sourceName} → ${report.targetName}`,
    formatDuration(report.durationMs),
  ].join(' · ')
}

/** What happened, in a few words: `12/12 tables`, `2 of 12 tables failed`, `the source refused the login`. */
function outcomePhrase(report: RunReport): string {
  const { totals } = report
  if (report.error && report.status !== 'interrupted' && totals.failed === 0) {
    return runFailurePhrase(report.error)
  }
  if (report.kind !== 'run') {
    const table = report.tables[0]
    return `${report.kind} ${table ? `${table.table}, ${formatCount(table.rows)} rows` : ''}`.trim()
  }
  if (report.status === 'succeeded') {
    const notes = noteCount(report)
    const noted = notes ? `, ${notes} note${notes > 1 ? 's' : ''}` : ''
    return `${doneOfAll(totals)} tables${noted}`
  }
  if (report.status === 'failed' && totals.failed === 0 && report.objectsFailed)
    return `${doneOfAll(totals)} tables, ${objectsFailed(report)}`
  if (report.status === 'failed') return `${totals.failed} of ${totals.tables} tables failed`
  return `${totals.copied + totals.alreadyCopied} of ${totals.tables} tables copied`
}

/** The whole message: subject, plain text, HTML, and the log attached when the options ask for it. */
export function renderEmail(report: RunReport, options: RenderEmailOptions): EmailMessage {
  const attachLog = options.attachLog ?? 'failure'
  const attach = Boolean(
    report.logFile && (attachLog === 'always' || (attachLog === 'failure' && report.status !== 'succeeded')),
  )
  const context: RenderContext = {
    host: options.host ?? os.hostname(),
    attachment: attach && report.logFile ? path.basename(report.logFile) : undefined,
  }
  return {
    from: options.from,
    to: options.to,
    cc: options.cc ?? [],
    subject: emailSubject(report),
    text: emailText(report, context),
    html: emailHtml(report, context),
    headers: {
      'X-Tablehaul-Status': report.status,
      'X-Tablehaul-Run-Id': report.runId,
      // RFC 3834: vacation responders and ticket systems must not answer a machine's report.
      'Auto-Submitted': 'auto-generated',
    },
    priority: report.status === 'succeeded' ? 'normal' : 'high',
    attachments:
      attach && report.logFile
        ? [
            {
              filename: path.basename(report.logFile),
              path: report.logFile,
              // text/plain so that phones open it; every line is one JSON record.
              contentType: 'text/plain; charset=utf-8',
            },
          ]
        : [],
  }
}

/** What the message says beyond the report itself. */
export interface RenderContext {
  /** The machine that ran the job. */
  readonly host?: string
  /** The file name of the attached log, when one is attached. */
  readonly attachment?: string | undefined
}

interface Fact {
  readonly label: string
  readonly value: string
}

function facts(report: RunReport, context: RenderContext): Fact[] {
  const list: Fact[] = [
    { label: 'Source', value: report.source },
    { label: 'Target', value: report.target },
  ]
  if (report.kind === 'run') {
    list.push({
      label: 'Snapshot',
      value: report.snapshot.takenAt
        ? `${readableTime(report.snapshot.takenAt)} (every table as of this instant)`
        : (report.snapshot.unavailable ?? 'none: the run ended before it was taken'),
    })
  }
  list.push(
    { label: 'Started', value: readableTime(report.startedAt) },
    { label: 'Finished', value: `${readableTime(report.finishedAt)} (${formatDuration(report.durationMs)})` },
    {
      // A sync's unchanged rows are in its table's row count, but they never travelled.
      label: 'Moved',
      value: [
        `${formatCount(Math.max(0, report.totals.rows - report.totals.unchangedRows))} rows`,
        formatBytes(report.totals.bytes),
        ...(notMoved(report.totals) ? [notMoved(report.totals)!] : []),
      ].join(', '),
    },
  )
  const before = alreadyCopied(report)
  if (before) list.push({ label: 'Resumed', value: `${before} already copied by the run this one resumed` })
  list.push({
    label: 'Tables',
    value: [`${tableCounts(report.totals)} of ${report.totals.tables}`, checksumVerified(report)]
      .filter(Boolean)
      .join(', '),
  })
  if (context.host) list.push({ label: 'Host', value: context.host })
  list.push({ label: 'Run', value: report.runId })
  if (report.logFile) {
    list.push({
      label: 'Log',
      value: `${report.logFile}${context.attachment ? ' (attached)' : ''}`,
    })
  }
  return list
}

function noteCount(report: RunReport): number {
  return report.warnings.length + report.tables.reduce((n, t) => n + (t.warnings?.length ?? 0), 0)
}

function headline(report: RunReport): string {
  const { totals } = report
  if (report.status === 'succeeded') {
    if (report.kind !== 'run') return `The ${report.kind} finished: ${formatCount(totals.rows)} rows.`
    if (totals.alreadyCopied > 0) {
      return `All ${totals.tables} tables are done: ${totals.copied} transferred now, ${totals.alreadyCopied} already by the run this one resumed.`
    }
    return totals.tables === 1
      ? 'The table was transferred.'
      : `All ${totals.tables} tables were transferred.`
  }
  const done = totals.copied + totals.alreadyCopied
  if (report.status === 'interrupted') {
    if (report.kind !== 'run') return `The ${report.kind} was interrupted; nothing was changed.`
    return `The run was interrupted: ${done} of ${totals.tables} tables were copied; the others kept their previous contents.`
  }
  if (report.error && totals.tables === 0)
    return 'The run failed before copying anything; no table was changed.'
  if (!report.error && totals.failed === 0 && report.objectsFailed) {
    return `All ${totals.tables} tables were transferred, but ${report.objectsFailed === 1 ? 'a view or object' : `${report.objectsFailed} views or objects`} could not be created (see the notes).`
  }
  if (report.error && totals.failed === 0) {
    return `The run failed: ${done} of ${totals.tables} tables were transferred; the others kept their previous contents.`
  }
  const failedPart = maybeCommitted(report)
    ? `${totals.failed} of ${totals.tables} tables failed (${keptContents(report)})`
    : `${totals.failed} of ${totals.tables} tables failed and kept their previous contents`
  return `${failedPart}; ${done} ${done === 1 ? 'was' : 'were'} transferred.`
}

/** What to do, unless the run's error box says it already (its hint). */
function callout(report: RunReport): string | undefined {
  return report.error ? undefined : nextStep(report)
}

/** Multi-line messages (a config error lists every problem) stay readable; one-liners stay one line. */
function errorLines(error: ErrorInfo, indent: string): string[] {
  const width = 'what to do: '.length
  const label = (name: string) => `${indent}${`${name}:`.padEnd(width)}`
  const [first, ...rest] = withoutSqlState(error.message, error.sqlState).split('\n')
  const lines = [`${label('error')}${first}`, ...rest.map((line) => `${indent}${' '.repeat(width)}${line}`)]
  if (error.sqlState) lines.push(`${label('SQLSTATE')}${error.sqlState}`)
  if (error.hint) lines.push(`${label('what to do')}${error.hint}`)
  return lines
}

/** The plain-text alternative: the same content as the HTML, aligned for a monospace font. */
export function emailText(report: RunReport, context: RenderContext = {}): string {
  const lines: string[] = []
  lines.push(`tablehaul ${report.kind} ${OUTCOME_LABEL[report.status]}`, '', headline(report))
  const step = callout(report)
  if (step) lines.push(step)
  if (report.error) lines.push('', 'ERROR', '', ...errorLines(report.error, '  '))
  const { listed: tables, unlisted } = tablesToList(report)
  const failures = tables.filter((t) => t.status === 'failed')
  if (failures.length > 0) {
    lines.push('', 'FAILED TABLES')
    for (const table of failures) {
      lines.push('', `  ${table.table}`)
      if (table.error) lines.push(...errorLines(table.error, '    '))
    }
    if (unlisted.failed.tables > 0) lines.push('', `  ${unlistedLines(unlisted)[0]}`)
  }
  if (tables.length > 0) {
    lines.push('', 'TABLES', '')
    const rows = tables.map((t) => {
      const cells = tableCells(t)
      return [statusLabel(t), t.table, cells.rows, cells.size, cells.time, cells.rate]
    })
    const header = ['STATUS', 'TABLE', 'ROWS', 'SIZE', 'TIME', 'RATE']
    lines.push(...alignColumns([header, ...rows], [2, 3, 4, 5]).map((line) => `  ${line}`))
    const more = unlistedLines(unlisted)
    if (more.length > 0) lines.push('', ...more.map((line) => `  ${line}`))
  }
  const notes = allNotes(report, tables)
  if (notes.length > 0) {
    lines.push('', 'NOTES', '')
    for (const note of notes) lines.push(`  - ${note}`)
  }
  lines.push('', 'RUN', '')
  const list = facts(report, context)
  const width = Math.max(...list.map((f) => f.label.length))
  for (const fact of list) lines.push(`  ${fact.label.padEnd(width)}  ${fact.value}`)
  lines.push(
    '',
    '-- ',
    'tablehaul: PostgreSQL tables copied with COPY, one snapshot, one transaction per table.',
  )
  return `${lines.join('\n')}\n`
}

/** The run's notes and those of the listed tables (an unlisted table has none: see tablesToList). */
function allNotes(report: RunReport, listed: readonly TableResult[]): string[] {
  const tables = report.tables.filter((t) => listed.includes(t))
  return [
    ...report.warnings,
    ...tables.flatMap((t) => (syncCounts(t) ? [`${t.table}: ${syncCounts(t)}`] : [])),
    ...tables.flatMap((t) => (t.warnings ?? []).map((w) => `${t.table}: ${w}`)),
    ...tables.filter((t) => t.status === 'skipped' && t.reason).map((t) => `${t.table}: ${t.reason}`),
  ]
}

const escapeHtml = (value: string) =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

/** `code spans` in a sentence rendered as <code>. */
const withCode = (text: string) =>
  escapeHtml(text).replace(/`([^`]+)`/g, `<code style="${CSS.code}" class="th-code">$1</code>`)

/**
 * Light colours inline (what every client shows), dark ones in a <style> block that Apple Mail, iOS,
 * Outlook and Gmail apply under `prefers-color-scheme: dark`; a client that inverts colours on its own
 * gets strong banner colours and plain text that survive inversion.
 */
const LIGHT = {
  page: '#f6f8fa',
  card: '#ffffff',
  border: '#d0d7de',
  rule: '#d8dee4',
  text: '#1f2328',
  muted: '#59636e',
  codeBg: '#eff1f3',
  errorBg: '#ffebe9',
  calloutBg: '#fff8c5',
  calloutBorder: '#d4a72c',
  banner: { succeeded: '#1a7f37', failed: '#cf222e', interrupted: '#9a6700' },
  status: { copied: '#1a7f37', failed: '#cf222e', skipped: '#59636e' },
} as const

const DARK_CSS = `
:root { color-scheme: light dark; supported-color-schemes: light dark; }
@media (prefers-color-scheme: dark) {
  .th-page { background: #010409 !important; }
  .th-card { background: #0d1117 !important; border-color: #30363d !important; }
  .th-text { color: #e6edf3 !important; }
  .th-muted { color: #9198a1 !important; }
  .th-rule { border-color: #262c36 !important; }
  .th-code { background: #262c36 !important; color: #e6edf3 !important; }
  .th-error { background: #2a1619 !important; border-color: #f85149 !important; color: #e6edf3 !important; }
  .th-callout { background: #272115 !important; border-color: #bb8009 !important; color: #e6edf3 !important; }
  .th-copied { color: #3fb950 !important; border-color: #3fb950 !important; }
  .th-failed { color: #ff7b72 !important; border-color: #ff7b72 !important; }
  .th-skipped { color: #9198a1 !important; border-color: #9198a1 !important; }
  .th-banner-succeeded { background: #238636 !important; }
  .th-banner-failed { background: #da3633 !important; }
  .th-banner-interrupted { background: #9e6a03 !important; }
}
@media (max-width: 600px) {
  .th-wide { display: none !important; }
  .th-narrow { display: block !important; max-height: none !important; overflow: visible !important; }
  .th-pad { padding-left: 12px !important; padding-right: 12px !important; }
}`

const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
const MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace"

const CSS = {
  code: `font-family:${MONO};font-size:12px;background:${LIGHT.codeBg};border-radius:4px;padding:1px 4px;`,
  cell: `padding:7px 8px;border-bottom:1px solid ${LIGHT.rule};vertical-align:top;`,
  head: `padding:6px 8px;border-bottom:1px solid ${LIGHT.border};font-size:11px;font-weight:600;letter-spacing:0.04em;text-transform:uppercase;color:${LIGHT.muted};`,
  number: 'text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums;',
  section: `font-size:11px;font-weight:600;letter-spacing:0.06em;text-transform:uppercase;color:${LIGHT.muted};margin:0 0 6px 0;`,
} as const

function errorBox(error: ErrorInfo): string {
  const message = escapeHtml(withoutSqlState(error.message, error.sqlState)).replace(/\n/g, '<br>')
  const state = error.sqlState
    ? `<div style="margin-top:4px;font-size:12px;color:${LIGHT.muted};" class="th-muted">SQLSTATE <code style="${CSS.code}" class="th-code">${escapeHtml(error.sqlState)}</code></div>`
    : ''
  const hint = error.hint
    ? `<div style="margin-top:6px;"><strong>What to do:</strong> ${withCode(error.hint)}</div>`
    : ''
  return `<div class="th-error" style="margin-top:6px;padding:8px 10px;background:${LIGHT.errorBg};border-left:3px solid ${LIGHT.status.failed};border-radius:4px;color:${LIGHT.text};font-size:13px;line-height:1.45;overflow-wrap:anywhere;word-break:break-word;">${message}${state}${hint}</div>`
}

function badge(table: TableResult): string {
  const color = LIGHT.status[table.status]
  return `<span class="th-${table.status}" style="display:inline-block;padding:1px 6px;border:1px solid ${color};border-radius:10px;color:${color};font-size:11px;font-weight:700;letter-spacing:0.03em;white-space:nowrap;">${statusLabel(table)}</span>`
}

function tableRow(t: TableResult): string {
  const cells = tableCells(t)
  const numbers = [cells.size, cells.time, cells.rate]
  const compact = [`${cells.rows} rows`, ...numbers.filter((n) => n !== '-')].join(' · ')
  const details = [
    t.status === 'failed' && t.error ? errorBox(t.error) : '',
    t.status === 'skipped' && t.reason
      ? `<div class="th-muted" style="margin-top:3px;font-size:12px;color:${LIGHT.muted};">${escapeHtml(t.reason)}</div>`
      : '',
    ...(syncCounts(t) ? [syncCounts(t)!] : []).map(
      (line) =>
        `<div class="th-muted" style="margin-top:3px;font-size:12px;color:${LIGHT.muted};">${escapeHtml(line)}</div>`,
    ),
    ...(t.warnings ?? []).map(
      (w) =>
        `<div class="th-muted" style="margin-top:3px;font-size:12px;color:${LIGHT.muted};">Note: ${escapeHtml(w)}</div>`,
    ),
  ].join('')
  const cell = `${CSS.cell}`
  const numeric = `${CSS.cell}${CSS.number}`
  return `<tr>
<td class="th-rule" style="${cell}width:1%;">${badge(t)}</td>
<td class="th-rule" style="${cell}overflow-wrap:anywhere;word-break:break-word;"><span style="font-family:${MONO};font-size:13px;">${escapeHtml(t.table)}</span><div class="th-narrow th-muted" style="display:none;max-height:0;overflow:hidden;font-size:12px;color:${LIGHT.muted};margin-top:2px;">${escapeHtml(compact)}</div>${details}</td>
<td class="th-rule th-wide" style="${numeric}">${cells.rows}</td>
<td class="th-rule th-wide" style="${numeric}">${numbers[0]}</td>
<td class="th-rule th-wide" style="${numeric}">${numbers[1]}</td>
<td class="th-rule th-wide" style="${numeric}">${numbers[2]}</td>
</tr>`
}

function tilesHtml(report: RunReport): string {
  const { totals } = report
  const tiles = [
    { label: 'Tables', value: doneOfAll(totals) },
    { label: 'Rows', value: formatCount(totals.rows) },
    { label: 'Data', value: formatBytes(totals.bytes) },
    { label: 'Time', value: formatDuration(report.durationMs) },
  ]
  const cells = tiles
    .map(
      (tile) =>
        `<td style="padding:0 12px 0 0;vertical-align:top;"><div class="th-muted" style="font-size:11px;font-weight:600;letter-spacing:0.04em;text-transform:uppercase;color:${LIGHT.muted};">${tile.label}</div><div style="font-size:18px;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap;">${escapeHtml(tile.value)}</div></td>`,
    )
    .join('')
  return `<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;"><tr>${cells}</tr></table>`
}

/** The HTML body: inline styles, one column, readable at 320 px and in dark mode. */
export function emailHtml(report: RunReport, context: RenderContext = {}): string {
  const { listed: tables, unlisted } = tablesToList(report)
  const step = callout(report)
  const notes = report.warnings
  const where = `${report.sourceName} → ${report.targetName}`
  const title = outcomePhrase(report)
  const factRows = facts(report, context)
    .map(
      (f) =>
        `<tr><td class="th-muted" style="padding:3px 14px 3px 0;color:${LIGHT.muted};white-space:nowrap;vertical-align:top;">${escapeHtml(f.label)}</td><td style="padding:3px 0;overflow-wrap:anywhere;word-break:break-word;">${escapeHtml(f.value)}</td></tr>`,
    )
    .join('\n')
  const pad = 'padding:16px 20px 0 20px;'
  const blocks: string[] = []
  blocks.push(
    `<tr><td class="th-pad" style="${pad}"><div style="font-size:15px;line-height:1.5;">${escapeHtml(headline(report))}</div>${
      step
        ? `<div class="th-callout" style="margin-top:10px;padding:8px 10px;background:${LIGHT.calloutBg};border-left:3px solid ${LIGHT.calloutBorder};border-radius:4px;color:${LIGHT.text};">${withCode(step)}</div>`
        : ''
    }${report.error ? errorBox(report.error) : ''}</td></tr>`,
  )
  blocks.push(`<tr><td class="th-pad" style="${pad}">${tilesHtml(report)}</td></tr>`)
  if (tables.length > 0) {
    const head = (label: string, align: 'left' | 'right', wide = false) =>
      `<th class="th-rule th-muted${wide ? ' th-wide' : ''}" style="${CSS.head}text-align:${align};">${label}</th>`
    blocks.push(`<tr><td class="th-pad" style="${pad}">
<table cellpadding="0" cellspacing="0" style="border-collapse:collapse;width:100%;font-size:13px;">
<thead><tr>${head('Status', 'left')}${head('Table', 'left')}${head('Rows', 'right', true)}${head('Size', 'right', true)}${head('Time', 'right', true)}${head('Rate', 'right', true)}</tr></thead>
<tbody>
${tables.map(tableRow).join('\n')}
</tbody></table>${unlistedLines(unlisted)
      .map(
        (line) =>
          `<div class="th-muted" style="margin-top:8px;font-size:13px;color:${LIGHT.muted};">${escapeHtml(line)}</div>`,
      )
      .join('')}</td></tr>`)
  }
  if (notes.length > 0) {
    blocks.push(
      `<tr><td class="th-pad" style="${pad}"><div class="th-muted" style="${CSS.section}">Notes</div><ul style="margin:0;padding-left:18px;">${notes.map((w) => `<li style="margin:2px 0;">${escapeHtml(w)}</li>`).join('')}</ul></td></tr>`,
    )
  }
  blocks.push(
    `<tr><td class="th-pad" style="${pad}"><div class="th-muted" style="${CSS.section}">Run</div><table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;font-size:13px;">${factRows}</table></td></tr>`,
  )
  blocks.push(
    `<tr><td class="th-pad th-muted" style="padding:16px 20px 18px 20px;font-size:12px;color:${LIGHT.muted};">Sent by tablehaul${context.host ? ` on ${escapeHtml(context.host)}` : ''}.${context.attachment ? ` The run's log is attached (${escapeHtml(context.attachment)}, one JSON record per line).` : ''}</td></tr>`,
  )
  const banner = LIGHT.banner[report.status]
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>${escapeHtml(emailSubject(report))}</title>
<style>${DARK_CSS}
</style>
</head>
<body class="th-page" style="margin:0;padding:0;background:${LIGHT.page};">
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">${escapeHtml(headline(report))}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" class="th-page" style="border-collapse:collapse;background:${LIGHT.page};">
<tr><td align="center" style="padding:16px 8px;">
<table role="presentation" cellpadding="0" cellspacing="0" class="th-card th-text" style="border-collapse:separate;width:100%;max-width:760px;background:${LIGHT.card};border:1px solid ${LIGHT.border};border-radius:8px;color:${LIGHT.text};font-family:${FONT};font-size:14px;line-height:1.45;text-align:left;">
<tr><td class="th-banner-${report.status} th-pad" style="background:${banner};color:#ffffff;padding:14px 20px;border-radius:7px 7px 0 0;">
<div style="font-size:12px;letter-spacing:0.04em;opacity:0.92;">tablehaul ${escapeHtml(report.kind)} · ${escapeHtml(where)}</div>
<div style="font-size:22px;font-weight:700;line-height:1.3;margin-top:2px;">${OUTCOME_LABEL[report.status]} <span style="font-weight:400;">· ${escapeHtml(title)}</span></div>
</td></tr>
${blocks.join('\n')}
</table>
</td></tr>
</table>
</body>
</html>
`
}

/** `2026-11-27 02:00:13 +01:00`: the machine's local time with its offset, so nobody has to guess the zone. */
export function readableTime(iso: string): string {
  const date = new Date(iso)
  return `${localTimestamp(date)} ${utcOffset(date)}`
}
