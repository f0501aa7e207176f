import { appendFileSync, existsSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs'
import path from 'node:path'
import pino from 'pino'
import { formatBytes, formatCount, formatDuration } from '../config/units.js'
import type { TransferEmitter, TransferEventName, TransferEvents } from '../transfer/events.js'
import { describeError, type RunReport, type TableResult } from './run-report.js'
import { Redactor } from './secrets.js'

export interface RunLogOptions {
  /** Folder of the logs; created if missing. */
  readonly dir: string
  /** Per-run NDJSON files kept; older ones are deleted when a run starts. @default 100 */
  readonly keepRuns?: number
  /** The human-readable log rotates past this size. @default 10 MiB */
  readonly maxSize?: number
  /** Hides these secrets in every record. */
  readonly redactor?: Redactor
}

export const HUMAN_LOG_NAME = 'tablehaul.log'
const ROTATED_HUMAN_LOGS = 5

/**
 * The run's logs. Per run, an NDJSON file with one record per event (written synchronously: a process that
 * ends, or is signalled, never loses its last lines); across runs, `tablehaul.log`, one line per table per
 * run, for people who grep.
 */
export class RunLog {
  private logger: pino.Logger | undefined
  private destination: pino.DestinationStream | undefined
  private filePath: string | undefined
  private readonly redactor: Redactor

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

  /** Creates the run's NDJSON file and applies retention. */
  open(runId: string): string {
    mkdirSync(this.options.dir, { recursive: true })
    this.pruneOldRuns(this.options.keepRuns ?? 100)
    this.filePath = path.join(this.options.dir, `tablehaul-${runId}.ndjson`)
    this.destination = pino.destination({ dest: this.filePath, sync: true, mkdir: true })
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
      this.destination,
    )
    return this.filePath
  }

  /** Writes every event of the job as a record. */
  attach(job: TransferEmitter): void {
    job.onAny((event, payload) => this.record(event, payload))
  }

  record<K extends TransferEventName>(event: K, payload: TransferEvents[K]): void {
    const logger = this.logger
    if (!logger) return
    switch (event) {
      case 'table.progress':
        return
      case 'table.copied':
      case 'table.skipped': {
        const result = payload as TableResult
        logger.info({ event, ...result }, `${result.table} ${result.status}`)
        return
      }
      case 'table.failed': {
        const result = payload as TableResult
        logger.error(
          { event, ...result },
          `${result.table} failed: ${result.error ? describeError(result.error) : ''}`,
        )
        return
      }
      case 'table.retrying':
      case 'run.warning':
      case 'notify.failed':
        logger.warn({ event, ...(payload as object) })
        return
      case 'run.planned': {
        const planned = payload as TransferEvents['run.planned']
        logger.info({
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
        logger[report.status === 'succeeded' ? 'info' : 'error'](
          { event, ...summary },
          `run ${report.status}`,
        )
        this.writeHumanLog(report)
        return
      }
      case 'run.started': {
        const { runId: _runId, ...rest } = payload as TransferEvents['run.started']
        logger.info({ event, ...rest })
        return
      }
      default:
        logger.info({ event, ...(payload as object) })
    }
  }

  close(): void {
    this.logger?.flush()
    const destination = this.destination as { flushSync?: () => void; end?: () => void } | undefined
    destination?.end?.()
    this.logger = undefined
  }

  /** One line per table, then one for the run: appended, so the file is the history of every run. */
  private writeHumanLog(report: RunReport): void {
    const file = this.humanFile
    this.rotateHumanLog(file)
    const at = localTimestamp(new Date(report.finishedAt))
    const lines = report.tables.map((table) => `${at} ${humanTableLine(table)}`)
    const totals = report.totals
    const what = report.kind === 'run' ? `run ${report.runId}` : `${report.kind} ${report.runId}`
    const outcome = { succeeded: 'OK', failed: 'FAILED', interrupted: 'INTERRUPTED' }[report.status]
    const detail = report.error
      ? describeError(report.error)
      : `${totals.copied}/${totals.tables} tables, ${formatCount(totals.rows)} rows, ${formatBytes(totals.bytes)}`
    lines.push(
      `${at} ${what} ${outcome} ${detail} in ${formatDuration(report.durationMs)} (${report.source} -> ${report.target})`,
    )
    appendFileSync(file, `${this.redactor.text(lines.join('\n'))}\n`)
  }

  private rotateHumanLog(file: string): void {
    const maxSize = this.options.maxSize ?? 10 * 1024 * 1024
    if (!existsSync(file) || statSync(file).size < maxSize) return
    for (let n = ROTATED_HUMAN_LOGS - 1; n >= 1; n--) {
      if (existsSync(`${file}.${n}`)) renameSync(`${file}.${n}`, `${file}.${n + 1}`)
    }
    renameSync(file, `${file}.1`)
  }

  private pruneOldRuns(keep: number): void {
    const runs = readdirSync(this.options.dir)
      .filter((name) => /^tablehaul-.*\.ndjson$/.test(name))
      .sort()
    for (const name of runs.slice(0, Math.max(0, runs.length - (keep - 1)))) {
      unlinkSync(path.join(this.options.dir, name))
    }
  }
}

export function humanTableLine(table: TableResult): string {
  if (table.status === 'failed') {
    return `${table.table} FAILED ${table.error ? describeError(table.error) : 'unknown error'}`
  }
  if (table.status === 'skipped') return `${table.table} SKIPPED ${table.reason ?? ''}`.trimEnd()
  return `${table.table} OK ${formatCount(table.rows)} rows ${formatBytes(table.bytes)} ${formatDuration(table.durationMs)}`
}

/** `2026-11-27 02:00:13` in the machine's time zone: what someone reading the file at the machine expects. */
export function localTimestamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
}
