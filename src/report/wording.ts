import { formatBytes, formatCount, formatDuration, formatRate, plural } from '../format.js'
import type { RunReport, RunStatus, TableResult } from './run-report.js'

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
