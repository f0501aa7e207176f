import {
  appendFileSync,
  readFileSync,
  existsSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs'
import {
  PRIVATE_FILE_MODE,
  PRIVATE_FOLDER_MODE,
  isDiskFull,
  makeDirectory,
  writeFailureText,
  privateFileMode,
} from '../files.js'
import path from 'node:path'
import pino from 'pino'
import { escapeControl } from '../text.js'
import { formatBytes, formatCount, formatDuration, localTimestamp } from '../format.js'
import type { TransferEmitter, TransferEventName, TransferEvents } from './events.js'
import { TablehaulError, describeError, messageOf } from '../errors.js'
import type { RunReport, TableResult } from './run-report.js'
import {
  OUTCOME_LABEL,
  doneOfAll,
  notMoved,
  checksumVerified,
  objectsFailed,
  otherCounts,
  statusLabel,
  syncCounts,
} from './wording.js'
import { Redactor } from './secrets.js'

/** Where a `RunLog` writes and what it keeps. */
export interface RunLogOptions {
  /** Folder of the logs; created if missing. */
  readonly dir: string
  /** Per-run NDJSON files kept; older ones are deleted when a run starts. @default 100 */
  readonly keepRuns?: number
  /** `tablehaul.log` is rotated to `tablehaul.log.1` when a run starts and it is past this size; 0 never rotates. @default 10 MiB */
  readonly maxSize?: number
  /** Hides these secrets in every record and line. */
  readonly redactor?: Redactor
}

/** A log file a run could not write (all or part of), and the first error it met. */
export interface LogWriteFailure {
  readonly file: string
  readonly error: unknown
}

export const HUMAN_LOG_NAME = 'tablehaul.log'

/**
 * What pino writes the run's records through: `destination`, holding at most `limit` bytes of records its
 * file refused, and dropping the records past that (`dropped`). sonic-boom's own maxLength would drop any
 * single record longer than the limit, written or not: run.planned lists every table (~140 bytes each), so
 * a run of 8,000 tables lost it and ended with its log "incomplete" (exit 3) on a disk with room to spare.
 */
function heldAtMost(
  destination: ReturnType<typeof pino.destination>,
  limit: number,
  dropped: () => void,
): pino.DestinationStream {
  let held = 0
  // 'write' reports the bytes the file took; a synchronous write that succeeds reports them at once.
  destination.on('write', (bytes: number) => (held = Math.max(0, held - bytes)))
  return {
    write(record: string) {
      const bytes = Buffer.byteLength(record)
      if (held > 0 && held + bytes > limit) return dropped()
      held += bytes
      destination.write(record)
    },
  }
}
/**
 * NDJSON records a log holds in memory while its file refuses them (a full disk), written in order once it
 * takes them again; past this, records are dropped: memory must not grow with the run.
 */
const HELD_RECORD_BYTES = 1024 * 1024
/** Rotated human logs kept: tablehaul.log.1 (newest) … tablehaul.log.5. */
export const ROTATED_HUMAN_LOGS = 5

/**
 * The run's logs. Per run, an NDJSON file with one record per event; across runs, `tablehaul.log`, one line
 * per table per run (written as each table ends) and one per run, for people who grep. Every write is
 * synchronous, so a process that ends, is signalled or is killed never loses a line already logged; a
 * process that exits mid-run (a second Ctrl-C) still writes a last record saying so.
 */
export class RunLog {
  private logger: pino.Logger | undefined
  private destination: pino.DestinationStream | undefined
  private filePath: string | undefined
  private runId: string | undefined
  private finished = false
  /** Whether the e-mail's fate (sent, or not and why) is recorded. */
  private notified = false
  private readonly redactor: Redactor
  private humanMode = PRIVATE_FILE_MODE
  private readonly failures = new Map<string, unknown>()
  private readonly onExit = (code: number) => this.abandoned(code)

  constructor(private readonly options: RunLogOptions) {
    this.redactor = options.redactor ?? new Redactor()
  }

  /** The NDJSON file of the current run (once opened). */
  get file(): string | undefined {
    return this.filePath
  }

  get humanFile(): string {
    return path.join(this.options.dir, HUMAN_LOG_NAME)
  }

  /**
   * The files of this run's logs that refused a write (a full disk, an I/O error), each with its first
   * error; empty while every line so far was written.
   */
  get writeFailures(): readonly LogWriteFailure[] {
    return [...this.failures].map(([file, error]) => ({ file, error }))
  }

  /** Creates the run's NDJSON file and applies rotation and retention. */
  open(runId: string): string {
    makeDirectory(this.options.dir, PRIVATE_FOLDER_MODE)
    this.pruneOldRuns(this.options.keepRuns ?? 100)
    // Rotated only between runs, so that one run's lines are never split over two files.
    this.rotateHumanLog(this.humanFile)
    this.runId = runId
    this.finished = false
    this.notified = false
    this.failures.clear()
    const file = path.join(this.options.dir, `tablehaul-${runId}.ndjson`)
    this.filePath = file
    const destination = pino.destination({ dest: file, sync: true, mkdir: true, mode: PRIVATE_FILE_MODE })
    this.destination = destination
    // A write the file refuses (ENOSPC) is an 'error' event of the destination, which without a listener
    // throws out of whatever logged: the run would end in an unexpected error, its copies unreported. The
    // refused bytes stay queued and go first with the next record, so the file never holds half a line.
    destination.on('error', (error: unknown) => this.writeFailed(file, error))
    const redactor = this.redactor
    this.logger = pino(
      {
        base: { runId },
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
        redact: { paths: ['password', '*.password', '*.*.password', 'smtp', '*.smtp'], censor: '***' },
        formatters: {
          level: (label) => ({ level: label }),
          log: (record) => redactor.value(record),
        },
      },
      heldAtMost(destination, HELD_RECORD_BYTES, () => this.writeFailed(file, new Error('records dropped'))),
    )
    process.on('exit', this.onExit)
    return this.filePath
  }

  /** Writes every event of the job as a record. */
  attach(job: TransferEmitter): void {
    job.onAny((event, payload) => this.record(event, payload))
  }

  record<K extends TransferEventName>(event: K, payload: TransferEvents[K]): void {
    if (!this.logger) return
    switch (event) {
      case 'table.progress':
        return
      case 'table.copied':
      case 'table.skipped': {
        const result = payload as TableResult
        this.write('info', { event, ...result }, `${result.table} ${result.status}`)
        this.appendHuman([`${localTimestamp(new Date())} ${humanTableLine(result)}`])
        return
      }
      case 'table.failed': {
        const result = payload as TableResult
        this.write(
          'error',
          { event, ...result },
          `${result.table} failed: ${result.error ? describeError(result.error) : ''}`,
        )
        this.appendHuman([`${localTimestamp(new Date())} ${humanTableLine(result)}`])
        return
      }
      case 'table.retrying':
        this.write('warn', { event, ...(payload as object) })
        return
      case 'run.warning': {
        // A warning of the whole run (a table the source no longer has, a partition only the target has)
        // is something for the operator to do: the log they read says it too, not only the NDJSON.
        const { message } = payload as TransferEvents['run.warning']
        this.write('warn', { event, message })
        this.appendHuman([`${localTimestamp(new Date())} run ${this.runId} NOTE ${oneLine(message)}`])
        return
      }
      case 'table.note': {
        const { table, message } = payload as TransferEvents['table.note']
        this.write('warn', { event, table, message })
        this.appendHuman([`${localTimestamp(new Date())} ${table} NOTE ${oneLine(message)}`])
        return
      }
      case 'object.failed': {
        const { object, message } = payload as TransferEvents['object.failed']
        this.write('error', { event, object, message }, message)
        this.appendHuman([`${localTimestamp(new Date())} ${object} FAILED ${oneLine(message)}`])
        return
      }
      case 'notify.sent':
        this.notified = true
        this.write('info', { event, ...(payload as object) })
        return
      case 'notify.failed': {
        this.notified = true
        const { error } = payload as TransferEvents['notify.failed']
        this.write('error', { event, error }, `the e-mail was not sent: ${describeError(error)}`)
        this.appendHuman([
          `${localTimestamp(new Date())} run ${this.runId} E-MAIL NOT SENT ${oneLine(describeError(error))}`,
        ])
        return
      }
      case 'run.planned': {
        const planned = payload as TransferEvents['run.planned']
        this.write('info', {
          event,
          tableCount: planned.tables.length,
          snapshotTakenAt: planned.snapshotTakenAt,
          warnings: planned.warnings,
          tables: planned.tables,
        })
        return
      }
      case 'run.finished': {
        const report = payload as RunReport
        const { tables: _tables, runId: _runId, ...summary } = report
        this.write(
          report.status === 'succeeded' ? 'info' : 'error',
          { event, ...summary },
          `run ${report.status}`,
        )
        this.appendHuman([humanRunLine(report)])
        this.finished = true
        return
      }
      case 'run.started': {
        const { runId: _runId, ...rest } = payload as TransferEvents['run.started']
        this.write('info', { event, ...rest })
        return
      }
      default:
        this.write('info', { event, ...(payload as object) })
    }
  }

  close(): void {
    process.off('exit', this.onExit)
    const destination = this.destination as { end(): void; destroy(): void; destroyed: boolean } | undefined
    this.logger = undefined
    this.destination = undefined
    if (!destination || destination.destroyed) return
    // Records the file still refuses (a full disk) keep end() waiting for a write that never succeeds, and
    // the file open: destroy() closes it, dropping them (the report says the log is incomplete).
    destination.end()
    if (!destination.destroyed) destination.destroy()
  }

  /** The first failure of each file is kept for the report; later ones of the same file add nothing. */
  private writeFailed(file: string, error: unknown): void {
    if (!this.failures.has(file)) this.failures.set(file, error)
  }

  private write(level: 'info' | 'warn' | 'error', record: object, message?: string): void {
    if (message === undefined) this.logger?.[level](record)
    else this.logger?.[level](record, this.redactor.text(message))
  }

  /** Appended with one synchronous write (O_APPEND), so lines of concurrent runs never interleave mid-line. */
  private appendHuman(lines: string[]): void {
    try {
      appendFileSync(this.humanFile, `${this.redactor.text(lines.map(escapeControl).join('\n'))}\n`, {
        mode: this.humanMode,
      })
    } catch (error) {
      if (this.failures.has(this.humanFile)) return
      this.writeFailed(this.humanFile, error)
      this.logger?.error({ event: 'log.failed', file: this.humanFile, error: messageOf(error) })
    }
  }

  /**
   * The process is exiting before the run finished (a second SIGINT, process.exit): say so in both logs. Once
   * it finished, the log stays open only while the e-mail is being sent: exiting then means it was not.
   */
  private abandoned(code: number): void {
    if (!this.logger) return
    if (this.finished) {
      if (!this.notified) {
        this.record('notify.failed', {
          error: {
            code: 'RUN_ABORTED',
            message: `interrupted while it was being sent: the process exited (code ${code}) before the mail server accepted it`,
            hint: 'the run is recorded in this log; its e-mail was not sent',
          },
        })
      }
      this.close()
      return
    }
    this.write(
      'error',
      { event: 'run.abandoned', exitCode: code },
      'the process exited before the run finished; copies in flight were rolled back by the target',
    )
    this.appendHuman([
      `${localTimestamp(new Date())} run ${this.runId} ABANDONED the process exited (code ${code}) before the run finished; tables in flight were rolled back and kept their previous contents`,
    ])
    this.close()
  }

  private rotateHumanLog(file: string): void {
    // A new tablehaul.log (first, or after rotation) gets the mode of the one it replaces, else owner-only.
    this.humanMode = privateFileMode(file)
    const maxSize = this.options.maxSize ?? 10 * 1024 * 1024
    if (maxSize <= 0 || !existsSync(file) || statSync(file).size < maxSize) return
    for (let n = ROTATED_HUMAN_LOGS - 1; n >= 1; n--) {
      if (existsSync(`${file}.${n}`)) renameSync(`${file}.${n}`, `${file}.${n + 1}`)
    }
    renameSync(file, `${file}.1`)
  }

  /** Keeps the newest `keep - 1` run logs, so that with this run's there are `keep`. */
  private pruneOldRuns(keep: number): void {
    const runs = readdirSync(this.options.dir)
      .filter((name) => /^tablehaul-.*\.ndjson$/.test(name))
      .map((name) => ({ name, mtime: statSync(path.join(this.options.dir, name)).mtimeMs }))
      .sort((a, b) => a.mtime - b.mtime || a.name.localeCompare(b.name))
    for (const { name } of runs.slice(0, Math.max(0, runs.length - (keep - 1)))) {
      unlinkSync(path.join(this.options.dir, name))
    }
  }
}

/**
 * A log file that refused a write, as an error that names it and says what to do: `when` is what it means
 * for the run (nothing copied, or the log incomplete).
 */
export function logWriteError(
  failure: LogWriteFailure,
  when: 'before the run' | 'during the run',
): TablehaulError {
  const dir = path.dirname(failure.file)
  const what =
    when === 'before the run' ? 'the log cannot be written' : `the log ${failure.file} is incomplete`
  const reason = writeFailureText(failure.error)
  const fix = isDiskFull(failure.error)
    ? `free space on the disk of ${dir}, or set log.dir (--log-dir) to a folder on a disk with room`
    : `check ${failure.file} and its folder ${dir}`
  return new TablehaulError(
    'FILE_FAILED',
    when === 'before the run' ? `${what}: ${failure.file}: ${reason}` : `${what}: ${reason}`,
    { cause: failure.error, hint: when === 'before the run' ? `${fix}; nothing was copied` : fix },
  )
}

/** `sales.orders OK 1,204,331 rows 412 MB 38.2s`, or `sales.orders FAILED reason (SQLSTATE …); what to do`. */
export function humanTableLine(table: TableResult): string {
  const label = `${table.table} ${statusLabel(table)}`
  if (table.status === 'failed') {
    return `${label} ${table.error ? oneLine(describeError(table.error)) : 'unknown error'}`
  }
  if (table.status === 'skipped') return `${label} ${oneLine(table.reason ?? '')}`.trimEnd()
  const notes = table.warnings?.length
    ? ` (${table.warnings.length} note${table.warnings.length > 1 ? 's' : ''}: ${oneLine(table.warnings.join('; '))})`
    : ''
  const synced = syncCounts(table)
  return `${label} ${formatCount(table.rows)} rows ${formatBytes(table.bytes)} ${formatDuration(table.durationMs)}${synced ? ` (${synced})` : ''}${notes}`
}

/**
 * `2026-11-27 02:03:21 run 20261127-020000-k3f9 OK 12/12 tables, 1,204,331 rows, 412 MB in 3m 21s (sales@db -> local)`;
 * the rows and bytes are those this run moved.
 */
export function humanRunLine(report: RunReport): string {
  const at = localTimestamp(new Date(report.finishedAt))
  const { totals } = report
  const what = `${report.kind} ${report.runId} ${OUTCOME_LABEL[report.status]}`
  const where = `(${report.sourceName} -> ${report.targetName})`
  if (report.error && totals.tables === 0) {
    return `${at} ${what} in ${formatDuration(report.durationMs)} ${where}: ${oneLine(describeError(report.error))}`
  }
  const counts = [
    `${doneOfAll(totals)} tables`,
    ...otherCounts(totals),
    ...(checksumVerified(report) ? [checksumVerified(report)!] : []),
    ...(objectsFailed(report) ? [objectsFailed(report)!] : []),
    `${formatCount(totals.rows)} rows`,
    ...(notMoved(totals) ? [notMoved(totals)!] : []),
    formatBytes(totals.bytes),
  ]
  const error = report.error ? `: ${oneLine(describeError(report.error))}` : ''
  return `${at} ${what} ${counts.join(', ')} in ${formatDuration(report.durationMs)} ${where}${error}`
}

/** One line per record, whatever the message holds (a config error lists its problems on several lines). */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

/**
 * How run `runId` ended, as its own NDJSON log in `dir` recorded it (the run.finished record), or undefined
 * when that log is not there or the run never finished.
 */
export function recordedEnding(
  dir: string,
  runId: string,
): { status: string; finishedAt: string } | undefined {
  let text: string
  try {
    text = readFileSync(path.join(dir, `tablehaul-${runId}.ndjson`), 'utf8')
  } catch {
    return undefined
  }
  for (const line of text.trimEnd().split('\n').reverse()) {
    try {
      const record = JSON.parse(line) as { event?: string; status?: unknown; finishedAt?: unknown }
      if (
        record.event === 'run.finished' &&
        typeof record.status === 'string' &&
        typeof record.finishedAt === 'string'
      )
        return { status: record.status, finishedAt: record.finishedAt }
    } catch {
      // a line cut short by a crash
    }
  }
  return undefined
}
