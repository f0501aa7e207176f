import { formatBytes, formatCount, formatDuration, formatRate, plural } from '../format.js'
import { type RunReport, type RunStatus, type TableResult, tablesForDisplay } from './run-report.js'

/**
 * The words a report is told in, shared by the terminal summary, the human log and the e-mail, so that the
 * three never disagree on what a run did or on what to do next.
 */

/** How a run's outcome is labelled: `OK`, `FAILED`, `INTERRUPTED`. */
export const OUTCOME_LABEL: Readonly<Record<RunStatus, string>> = {
  succeeded: 'OK',
  failed: 'FAILED',
  interrupted: 'INTERRUPTED',
}

/** How a table's outcome is labelled: `OK`, `FAILED`, `SKIPPED`. */
export function statusLabel(table: TableResult): string {
  return { copied: 'OK', failed: 'FAILED', skipped: 'SKIPPED' }[table.status]
}

/** `5/6`: tables whose data is on the target (copied now, or already by the resumed run), of all. */
export function doneOfAll(totals: RunReport['totals']): string {
  return `${totals.copied + totals.alreadyCopied}/${totals.tables}`
}

/** `1 failed`, `2 not started`, `3 already copied`: the tables not copied by this run, when there are any. */
export function otherCounts(totals: RunReport['totals']): string[] {
  const counts: string[] = []
  if (totals.failed) counts.push(`${totals.failed} failed`)
  if (totals.notStarted) counts.push(`${totals.notStarted} not started`)
  if (totals.alreadyCopied) counts.push(`${totals.alreadyCopied} already copied`)
  return counts
}

/** `4 copied, 1 failed, 1 not started`: every table by outcome. */
export function tableCounts(totals: RunReport['totals']): string {
  return [`${totals.copied} copied`, ...otherCounts(totals)].join(', ')
}

/** `1 view or object failed`: what failed around the tables, when anything did. */
export function objectsFailed(report: RunReport): string | undefined {
  if (!report.objectsFailed) return undefined
  return `${report.objectsFailed} ${report.objectsFailed === 1 ? 'view or object' : 'views or objects'} failed`
}

/** The numbers of a row of the tables' table: rows, size, time and rate, as text. */
export function tableCells(table: TableResult): { rows: string; size: string; time: string; rate: string } {
  return {
    rows: formatCount(table.rows),
    size: formatBytes(table.bytes),
    time: formatDuration(table.durationMs),
    rate: formatRate(table.bytes, table.durationMs),
  }
}

/** `synced: 3 inserted, 16 updated, 4 deleted, 1,972 unchanged`: what a sync wrote, when the table was synced. */
export function syncCounts(table: TableResult): string | undefined {
  if (!table.sync) return undefined
  const { inserted, updated, deleted, unchanged } = table.sync
  return `synced: ${formatCount(inserted)} inserted, ${formatCount(updated)} updated, ${formatCount(deleted)} deleted, ${formatCount(unchanged)} unchanged`
}

/** `1,972 rows unchanged (not moved)`: what mode sync saved, when it saved anything. */
export function notMoved(totals: RunReport['totals']): string | undefined {
  if (!totals.unchangedRows) return undefined
  return `${formatCount(totals.unchangedRows)} rows unchanged (not moved)`
}

/** `6 verified by checksum`: the tables whose fingerprint matched the source's before their COMMIT (verify: checksum). */
export function checksumVerified(report: RunReport): string | undefined {
  const verified = report.tables.filter((t) => t.verified).length
  return verified > 0 ? `${formatCount(verified)} verified by checksum` : undefined
}

/** `2 tables, 1,000 rows`: what the run this one resumed had copied already, when it had. */
export function alreadyCopied(report: RunReport): string | undefined {
  const tables = report.tables.filter((t) => t.skipped === 'already-copied')
  if (tables.length === 0) return undefined
  const rows = tables.reduce((sum, t) => sum + t.rows, 0)
  return `${plural(tables.length, 'table')}, ${formatCount(rows)} rows`
}

/**
 * What to do next, as one sentence (`What to do: …`), or nothing when all is well. A failure of the whole
 * run says what its error says to do; failed or unfinished tables of a run are picked up by `--resume`,
 * unless the target keeps no run records, when a plain run is the advice.
 */
export function nextStep(report: RunReport): string | undefined {
  const run = report.kind === 'run'
  if (report.status === 'succeeded') {
    const complete = `The ${run ? 'data' : report.kind} is complete`
    if (report.notification?.status === 'failed')
      return `${complete}, but the e-mail was not sent: ${report.notification.error?.hint ?? 'check the email settings (`tablehaul config --show`)'}.`
    const log = report.logFailures?.[0]
    if (log) return `${complete}, but the log is not: ${log.hint ?? 'check log.dir'}.`
    return undefined
  }
  if (report.status === 'failed' && report.error) {
    return report.error.hint ? `What to do: ${report.error.hint}` : undefined
  }
  if (!run) return `What to do: run the ${report.kind} again; nothing was changed.`
  const resumable = report.resumable !== false
  const again = resumable
    ? 'run the same command again with --resume to copy only the tables that did not finish'
    : 'run the same command again; every table is copied again, as this target keeps no record of what this run copied'
  if (report.status === 'interrupted') return `What to do: ${again}.`
  if (report.totals.failed === 0 && report.objectsFailed)
    return 'What to do: every table arrived, but the views or objects the notes name did not: fix what each note says, then run again (views are created again on every run).'
  return `What to do: fix what each failed table's error says, then ${again} (${keptContents(report)}).`
}

/**
 * Failed tables whose COMMIT may have taken effect: its reply was lost and the target could not be asked
 * (COMMIT_OUTCOME_UNKNOWN). They hold either their previous rows or this run's copy.
 */
export function maybeCommitted(report: RunReport): number {
  return report.tables.filter((t) => t.status === 'failed' && t.error?.code === 'COMMIT_OUTCOME_UNKNOWN')
    .length
}

/** What the failed tables hold, in words: their previous contents, unless a COMMIT's outcome is unknown. */
export function keptContents(report: RunReport): string {
  const unsure = maybeCommitted(report)
  if (unsure === 0) return 'the failed tables kept their previous contents'
  return `${unsure} failed table${unsure > 1 ? 's' : ''} may hold this run's copy, as ${unsure > 1 ? 'their errors say' : 'its error says'}; the other failed tables kept their previous contents`
}

/**
 * How many tables the e-mail lists one by one when they copied with nothing to note (the largest). A run of
 * thousands of small tables would otherwise mail a row and a sync line for each (2,000 tables made a 3.3 MB
 * message, past what Gmail shows (102 kB) and near many relays' size limits); the log keeps every table.
 */
export const EMAIL_QUIET_TABLES = 30

/**
 * How many failed tables, and how many with a note or rows a sync wrote, the e-mail lists one by one. Each
 * of those comes with its error or notes, so thousands of them (every table failing on a full disk, or a
 * note on each at the first sync after an upgrade) would make the message as large again.
 */
export const EMAIL_NOTEWORTHY_TABLES = 100

interface Unlisted {
  tables: number
  rows: number
  bytes: number
}

/**
 * The tables the e-mail and the terminal summary list: the failed ones, then those skipped with a reason, with a note or with rows
 * written by a sync (up to EMAIL_NOTEWORTHY_TABLES of each kind), then the largest of the others up to
 * EMAIL_QUIET_TABLES; the rest are only counted, by kind.
 */
export function tablesToList(report: RunReport): {
  listed: TableResult[]
  unlisted: { failed: Unlisted; noteworthy: Unlisted; quiet: Unlisted }
} {
  const listed: TableResult[] = []
  const unlisted = {
    failed: { tables: 0, rows: 0, bytes: 0 },
    noteworthy: { tables: 0, rows: 0, bytes: 0 },
    quiet: { tables: 0, rows: 0, bytes: 0 },
  }
  const shown = { failed: 0, noteworthy: 0, quiet: 0 }
  const limit = {
    failed: EMAIL_NOTEWORTHY_TABLES,
    noteworthy: EMAIL_NOTEWORTHY_TABLES,
    quiet: EMAIL_QUIET_TABLES,
  }
  for (const table of tablesForDisplay(report.tables)) {
    const kind = table.status === 'failed' ? 'failed' : noteworthy(table) ? 'noteworthy' : 'quiet'
    if (shown[kind]++ < limit[kind]) {
      listed.push(table)
    } else {
      unlisted[kind].tables += 1
      unlisted[kind].rows += table.rows
      unlisted[kind].bytes += table.bytes
    }
  }
  return { listed, unlisted }
}

function noteworthy(table: TableResult): boolean {
  const written = table.sync ? table.sync.inserted + table.sync.updated + table.sync.deleted : 0
  return (
    table.status !== 'copied' || Boolean(table.reason) || (table.warnings?.length ?? 0) > 0 || written > 0
  )
}

/**
 * `1,950 more tables copied with nothing to note (9,750 rows, 412 kB): every table is in the log.`, and
 * the same for the failed tables and those with notes that are not listed.
 */
export function unlistedLines(unlisted: ReturnType<typeof tablesToList>['unlisted']): string[] {
  const more = (n: number) => `${formatCount(n)} more ${n === 1 ? 'table' : 'tables'}`
  const lines: string[] = []
  if (unlisted.failed.tables > 0)
    lines.push(`${more(unlisted.failed.tables)} failed: each is in the log, with its error.`)
  if (unlisted.noteworthy.tables > 0)
    lines.push(
      `${more(unlisted.noteworthy.tables)} with a note or rows written by a sync: each is in the log, with its notes.`,
    )
  if (unlisted.quiet.tables > 0)
    lines.push(
      `${more(unlisted.quiet.tables)} copied with nothing to note (${formatCount(unlisted.quiet.rows)} rows, ${formatBytes(unlisted.quiet.bytes)}): every table is in the log.`,
    )
  return lines
}
