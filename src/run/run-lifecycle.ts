import { localTimestamp } from '../format.js'
import { randomBytes } from 'node:crypto'
import type { Config } from '../config/schema.js'
import { TablehaulError, messageOf } from '../errors.js'
import type { Notifier } from '../notify/notifier.js'
import { mailReport, notifierFromConfig } from '../notify/report-mailer.js'
import { RunLog, logWriteError } from '../report/run-log.js'
import {
  type ErrorInfo,
  errorInfo,
  isDone,
  processResources,
  type RunReport,
  type RunStatus,
  type TableResult,
  totalsOf,
} from '../report/run-report.js'
import { Redactor } from '../report/secrets.js'
import { escapeControlByLine, escapeControlDeep } from '../text.js'
import {
  type PlannedTable,
  TransferEmitter,
  type TransferEventName,
  type TransferEvents,
} from '../report/events.js'

/** Where a run, an export or an import reports; each part has a default built from the config. */
export interface ReportingOptions {
  /** Where the logs go; `null` writes none. @default a RunLog in `config.log.dir` */
  readonly log?: RunLog | null | undefined
  /** How the report is delivered; `null` sends nothing. @default from `config.email` */
  readonly notifier?: Notifier | null | undefined
  /** @default a new id like `20261127-020000-k3f9` */
  readonly runId?: string | undefined
  /** Hides the secrets in every payload and in the report. @default one for the config's secrets */
  readonly redactor?: Redactor | undefined
}

/** Options of one `run()`. */
export interface RunOptions {
  /** Aborting it stops the run: no new tables start, copies in flight roll back, the report still goes out. */
  readonly signal?: AbortSignal
  /**
   * Continue the latest run of the same job (same source, same tables) on this target if it did not
   * succeed: tables it (or the runs resuming it) committed are skipped. When it succeeded, or there is
   * none, every table is copied. Only a `TransferJob` resumes.
   * @default false
   */
  readonly resume?: boolean
}

/** Where the rows come from and go to, as reports show them (never a password). */
export interface Endpoints {
  /** Source URL or file, without a password. */
  readonly source: string
  /** Target URL or file, without a password. */
  readonly target: string
  /** Short names for subjects: `sales@db.example.com`, `local`, `orders.csv`. */
  readonly sourceName: string
  readonly targetName: string
}

/**
 * What a run, an export and an import share: one `run()` that opens the log, announces the run, does the
 * work, decides the outcome, and reports it (log, e-mail, `notify.*` events) whatever happened. Every
 * payload observers receive, and the report `run()` returns, has the run's secrets hidden: redaction
 * happens here, once, for all of them. A job runs once; its state is that one run's.
 */
export abstract class RunLifecycle extends TransferEmitter {
  readonly runId: string
  private readonly log: RunLog | undefined
  private readonly notifier: Notifier | undefined
  private readonly redactor: Redactor
  private readonly results = new Map<string, TableResult>()
  private readonly plannedTables = new Map<string, PlannedTable>()
  private readonly warnings: string[] = []
  private objectsFailed = 0
  private sourceSnapshot: RunReport['snapshot'] = {}
  private resumable: boolean | undefined
  private signal: AbortSignal | undefined
  private started = false

  constructor(
    protected readonly config: Config,
    private readonly kind: RunReport['kind'],
    private endpoints: Endpoints,
    options: ReportingOptions = {},
  ) {
    super()
    this.runId = options.runId ?? newRunId()
    this.redactor = options.redactor ?? Redactor.forConfig(config)
    this.log =
      options.log === null
        ? undefined
        : (options.log ??
          new RunLog({
            dir: config.log.dir,
            keepRuns: config.log.keepRuns,
            maxSize: config.log.maxSize,
            redactor: this.redactor,
          }))
    this.notifier =
      options.notifier === null
        ? undefined
        : (options.notifier ?? notifierFromConfig(config.email, { keepMessages: config.log.keepRuns }))
  }

  /**
   * Runs it, once. Never throws for a failure of the work: every ending is a `RunReport`, logged and
   * mailed. Calling it a second time is a programming error, and throws.
   */
  async run(options: RunOptions = {}): Promise<RunReport> {
    if (this.started) {
      throw new TablehaulError('USAGE_INVALID', `this ${this.kind} (${this.runId}) has run already`, {
        hint: `run() can be called once: create a new ${this.constructor.name} for each ${this.kind}`,
      })
    }
    this.started = true
    const startedAt = new Date()
    let logFile: string | undefined
    let runError: unknown
    let logError: TablehaulError | undefined
    try {
      logFile = this.log?.open(this.runId)
    } catch (error) {
      logError = new TablehaulError('FILE_FAILED', `the log cannot be written: ${messageOf(error)}`, {
        cause: error,
        hint: 'make log.dir (--log-dir) a folder this user can write to; nothing was copied',
      })
      runError = this.failureBeforeWork ?? logError
    }
    this.log?.attach(this)
    const signal = this.runSignal(options.signal)
    this.signal = signal
    this.emit('run.started', {
      runId: this.runId,
      kind: this.kind,
      source: this.endpoints.source,
      target: this.endpoints.target,
      startedAt: startedAt.toISOString(),
    })
    // A disk that refuses the log's first record (full) is a log that cannot be written, as is a folder that
    // cannot be opened: the run does no work, and its report (the e-mail) says why.
    const refused = runError === undefined ? this.log?.writeFailures[0] : undefined
    if (refused) {
      logError = logWriteError(refused, 'before the run')
      runError = this.failureBeforeWork ?? logError
      logFile = undefined
    }
    if (runError === undefined) {
      try {
        await this.work(signal, options)
      } catch (error) {
        runError = error
      }
    }
    if (logError && runError !== logError) this.warn(logError.describe())
    this.emit('step.started', { step: 'report' })
    let report = this.buildReport({ startedAt, runError, signal, logFile })
    await this.release(report.status)
    this.emit('run.finished', report)
    report = this.withLogFailures(report, logError)
    const notification = await mailReport(report, this.config.email, this.notifier, this.redactor)
    if (notification.status === 'sent')
      this.emit('notify.sent', { to: this.config.email?.to ?? [], via: notification.detail })
    if (notification.status === 'failed' && notification.error)
      this.emit('notify.failed', { error: notification.error })
    this.log?.close()
    return shownToPeople(this.redactor.value({ ...report, notification }))
  }

  /**
   * The report with the log files the run could not write in full (a disk that filled during the run), up
   * to its last record: the e-mail, the summary and the exit code say so, since the logs cannot.
   */
  private withLogFailures(report: RunReport, logError: TablehaulError | undefined): RunReport {
    // A log that failed before the run is the run's error already.
    const failures = logError ? [] : (this.log?.writeFailures ?? [])
    if (failures.length === 0) return report
    const errors = failures.map((failure) => logWriteError(failure, 'during the run'))
    return shownToPeople(
      this.redactor.value({
        ...report,
        warnings: [...report.warnings, ...errors.map((error) => error.describe())],
        logFailures: errors.map(errorInfo),
      }),
    )
  }

  /**
   * The work. A failure of the whole (no connection, no table) is thrown and becomes the report's error;
   * each table's outcome is recorded with `tableFinished()`.
   */
  protected abstract work(signal: AbortSignal, options: RunOptions): Promise<void>

  /**
   * A failure known before the work starts, which a run reports rather than a log it cannot write (the
   * log's failure then becomes a warning). @default none
   */
  protected get failureBeforeWork(): TablehaulError | undefined {
    return undefined
  }

  /** Gives back what the work held (connections, locks) once the outcome is known, before it is reported. */
  protected async release(_status: RunStatus): Promise<void> {}

  /** The signal the work runs under. @default the caller's */
  protected runSignal(external: AbortSignal | undefined): AbortSignal {
    return external ?? new AbortController().signal
  }

  /** Observers (progress display, log, e-mail) only ever see redacted payloads. */
  protected override emit<K extends TransferEventName>(event: K, payload: TransferEvents[K]): void {
    // Progress comes often and holds only a table name and numbers.
    // Everything observers show people has its control characters escaped: a table name with a newline
    // must not start a line of its own.
    super.emit(event, event === 'table.progress' ? payload : shownToPeople(this.redactor.value(payload)))
  }

  /** Once connected: the endpoints as the servers were reached (the local server's URL, say). */
  protected connectedTo(endpoints: Partial<Endpoints>): void {
    this.endpoints = { ...this.endpoints, ...endpoints }
  }

  /** Whether a later `run --resume` can pick this run up (the target keeps its records). */
  protected recordsKept(resumable: boolean): void {
    this.resumable = resumable
  }

  /** The source snapshot every table is read from, or why there is none. */
  protected snapshotTaken(snapshot: RunReport['snapshot']): void {
    this.sourceSnapshot = snapshot
  }

  /**
   * Announces the plan. Every planned table (`keys[i]` names `plan.tables[i]`, its display name by
   * default) that has no outcome when the run ends is reported as not started.
   */
  protected announcePlan(plan: TransferEvents['run.planned'], keys?: readonly string[]): void {
    plan.tables.forEach((table, index) => this.plannedTables.set(keys?.[index] ?? table.table, table))
    this.emit('run.planned', plan)
  }

  /** Records a table's outcome and tells the observers. */
  protected tableFinished(key: string, result: TableResult): void {
    this.results.set(key, result)
    this.emit(
      result.status === 'copied'
        ? 'table.copied'
        : result.status === 'failed'
          ? 'table.failed'
          : 'table.skipped',
      result,
    )
  }

  /** A planned table that will not be started: the run was stopped, or failed, before it. */
  protected tableNotStarted(key: string, options: { created?: boolean; runError?: unknown } = {}): void {
    const planned = this.plannedTables.get(key)
    if (!planned || this.results.has(key)) return
    const stop: unknown = this.signal?.aborted ? this.signal.reason : undefined
    const why =
      stop !== undefined
        ? isDeadline(stop)
          ? 'the run passed its deadline (timeouts.run)'
          : 'the run was stopped'
        : options.runError !== undefined
          ? `the run failed first (${errorInfo(options.runError).code})`
          : 'the run ended first'
    this.tableFinished(key, {
      table: planned.table,
      source: planned.source,
      mode: planned.mode,
      format: planned.format,
      created: options.created ?? false,
      status: 'skipped',
      skipped: 'not-started',
      rows: 0,
      bytes: 0,
      durationMs: 0,
      attempts: 0,
      reason: `not started: ${why}; it kept its previous contents`,
    })
  }

  /** The outcome recorded for a table so far. */
  protected resultOf(key: string): TableResult | undefined {
    return this.results.get(key)
  }

  /** Notes for one table (after its data committed), or for the run when that table has no outcome. */
  protected addWarnings(key: string, warnings: readonly string[]): void {
    const result = this.results.get(key)
    if (!result) {
      this.warnings.push(...warnings)
      return
    }
    this.results.set(key, { ...result, warnings: [...(result.warnings ?? []), ...warnings] })
    // The table's own event is out already: the logs learn of the notes that came after it here.
    for (const message of warnings) this.emit('table.note', { table: result.table, message })
  }

  /** A note for the whole run, shown as it happens and in the report. */
  protected warn(message: string): void {
    this.warnings.push(message)
    this.emit('run.warning', { message })
  }

  /**
   * An object around the tables (a view, a function of `objects: all`) that could not be created: a note
   * like a warning, but the run then ends failed, as it would for a table.
   */
  protected objectFailed(object: string, message: string): void {
    this.objectsFailed++
    this.warnings.push(message)
    this.emit('object.failed', { object, message })
  }

  /** The error a table stopped by the run's signal fails with: the signal's own reason when it gives one. */
  protected stopError(signal: AbortSignal, table: string): TablehaulError {
    const reason = signal.reason as unknown
    if (reason instanceof TablehaulError) return reason
    return this.kind === 'run'
      ? new TablehaulError(
          'RUN_ABORTED',
          'interrupted during its copy; rolled back, previous contents kept',
          {
            table,
            hint: 'run the same command again (with --resume it copies only what did not finish)',
          },
        )
      : new TablehaulError('RUN_ABORTED', 'interrupted; rolled back, nothing was changed', {
          table,
          hint: `run the ${this.kind} again`,
        })
  }

  /**
   * The outcome. A stop (a signal, not the deadline) that left work undone is an interruption; the
   * deadline, a run-level error or a failed table is a failure. A stop that came after everything was done
   * changes nothing.
   */
  private buildReport(input: {
    startedAt: Date
    runError: unknown
    signal: AbortSignal
    logFile: string | undefined
  }): RunReport {
    const { runError, signal } = input
    for (const key of this.plannedTables.keys()) this.tableNotStarted(key, { runError })
    const tables = [...this.results.values()]
    const stop: unknown = signal.aborted ? signal.reason : undefined
    const unfinished = runError !== undefined || !tables.every(isDone)
    let status: RunStatus
    let error: ErrorInfo | undefined
    if (stop !== undefined && !isDeadline(stop) && unfinished) status = 'interrupted'
    else {
      const failure = runError ?? (stop !== undefined && unfinished ? stop : undefined)
      // An export or an import is one table: its failure is the failure of the whole.
      const tableError = this.kind === 'run' ? undefined : tables.find((t) => t.status === 'failed')?.error
      error = failure !== undefined ? errorInfo(failure) : tableError
      const failed = error || tables.some((t) => t.status === 'failed') || this.objectsFailed > 0
      status = failed ? 'failed' : 'succeeded'
    }
    const finishedAt = new Date()
    return shownToPeople(
      this.redactor.value({
        runId: this.runId,
        kind: this.kind,
        status,
        startedAt: input.startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - input.startedAt.getTime(),
        ...this.endpoints,
        snapshot: this.sourceSnapshot,
        resumable: this.resumable,
        tables,
        totals: totalsOf(tables),
        error,
        warnings: this.warnings,
        objectsFailed: this.objectsFailed || undefined,
        logFile: input.logFile,
        resources: processResources(),
      }),
    )
  }
}

function isDeadline(stop: unknown): boolean {
  return stop instanceof TablehaulError && stop.code === 'RUN_DEADLINE'
}

/** A run's id, sortable and readable: `20261127-020000-k3f9`. */
export function newRunId(): string {
  // 2026-11-27 02:00:00 → 20261127-020000
  const stamp = localTimestamp(new Date()).replace(/[-:]/g, '').replace(' ', '-')
  return `${stamp}-${randomBytes(2).toString('hex')}`
}

/**
 * A report or an event as people are shown it: every string with its control characters escaped (names and
 * server messages are data), except the line breaks of a configuration error's list of problems, which
 * tablehaul wrote itself from the user's own file, flags and environment, and of the list of configured
 * names the source lacks (the planner escapes each of its lines).
 */
function shownToPeople<T>(value: T): T {
  const escaped = escapeControlDeep(value)
  const error = (value as { error?: { code?: string; message?: unknown } } | undefined)?.error
  const listed = error?.code === 'CONFIG_INVALID' || error?.code === 'TABLE_NOT_FOUND'
  if (!listed || typeof error.message !== 'string') return escaped
  const shown = escaped as T & { error: object }
  return { ...shown, error: { ...shown.error, message: escapeControlByLine(error.message) } }
}
