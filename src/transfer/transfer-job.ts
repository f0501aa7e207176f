import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import pLimit from 'p-limit'
import type pg from 'pg'
import type { Config } from '../config/schema.js'
import { requireSource } from '../config/load.js'
import { type Database, discardClient, isConnectionLost, redactUrl, shortEndpoint } from '../db/database.js'
import { Ddl } from '../db/ddl.js'
import { TablehaulError, messageOf, sqlStateOf } from '../errors.js'
import type { Notifier } from '../notify/notifier.js'
import { mailReport } from '../notify/report-mailer.js'
import { RunLog } from '../report/run-log.js'
import {
  errorInfo,
  processResources,
  type RunReport,
  type RunStatus,
  type TableResult,
  totalsOf,
} from '../report/run-report.js'
import { Redactor } from '../report/secrets.js'
import { AfterData } from './after-data.js'
import { TransferEmitter, type TransferEventName, type TransferEvents } from './events.js'
import { ForeignKeys } from './foreign-keys.js'
import type { RunPlan, TablePlan } from './planner.js'
import { connectEndpoints, readPlan, reportingFor, resolveTargetUrl } from './run-setup.js'
import { SchemaBuilder } from './schema-builder.js'
import { Snapshot } from './snapshot.js'
import { CommitOutcomeUnknown, type CopyResult, TableCopier, bulkLoadSettings } from './table-copier.js'
import { type ResumePoint, RunHistory } from './run-history.js'

/** Collaborators of a `TransferJob`; each has a default built from the config. */
export interface TransferJobOptions {
  /** Where the run's logs go. @default a RunLog in `config.log.dir` */
  readonly log?: RunLog
  /** How the report is delivered; `null` sends nothing. @default from `config.email` */
  readonly notifier?: Notifier | null
  /** @default a new id like `20261127-020000-k3f9` */
  readonly runId?: string
}

/** Options of one `run()`. */
export interface RunOptions {
  /** Aborting it stops the run: no new tables start, copies in flight roll back, the report still goes out. */
  readonly signal?: AbortSignal
  /**
   * Continue the latest run on this target if it did not succeed: tables it (or the runs resuming it)
   * committed are skipped. When it succeeded, or there is none, every table is copied.
   * @default false
   */
  readonly resume?: boolean
}

/**
 * One run: connect → plan → snapshot → schema → copy (with each table's indexes and constraints right after
 * its data) → foreign keys → report. `run()` never throws for a failure of the transfer: every ending is a
 * `RunReport`, logged and mailed.
 */
export class TransferJob extends TransferEmitter {
  readonly runId: string
  private readonly log: RunLog
  private readonly notifier: Notifier | undefined
  private readonly redactor: Redactor
  private readonly results = new Map<string, TableResult>()
  private readonly warnings: string[] = []

  constructor(
    private readonly config: Config,
    options: TransferJobOptions = {},
  ) {
    super()
    const reporting = reportingFor(config, options)
    this.runId = reporting.runId
    this.redactor = reporting.redactor
    this.log = reporting.log
    this.notifier = reporting.notifier
  }

  async run(options: RunOptions = {}): Promise<RunReport> {
    const startedAt = new Date()
    const logFile = this.log.open(this.runId)
    this.log.attach(this)
    const signal = this.runSignal(options.signal)
    const config = this.config
    let sourceDisplay = config.source ? redactUrl(config.source.url) : '(none)'
    let targetDisplay = config.target ? redactUrl(config.target.url) : `local (${config.local.dir})`
    this.emit('run.started', {
      runId: this.runId,
      kind: 'run',
      source: sourceDisplay,
      target: targetDisplay,
      startedAt: startedAt.toISOString(),
    })

    let source: Database | undefined
    let target: Database | undefined
    let snapshot: Snapshot | undefined
    let lock: pg.PoolClient | undefined
    let plan: RunPlan | undefined
    let runError: unknown
    const history = new RunHistory(this.runId)
    try {
      this.emit('step.started', { step: 'connect' })
      requireSource(config)
      const endpoints = await connectEndpoints(config, await resolveTargetUrl(config))
      source = endpoints.source
      target = endpoints.target
      sourceDisplay = source.displayUrl
      targetDisplay = config.target ? target.displayUrl : `local ${target.displayUrl}`
      lock = await this.lockTarget(target, signal)
      this.emit('step.started', { step: 'snapshot' })
      snapshot = new Snapshot(source, config.timeouts.lock, config.timeouts.statement)
      await snapshot.open()
      if (snapshot.unavailable) this.warn(snapshot.unavailable)

      this.emit('step.started', { step: 'plan' })
      const read = await snapshot.read((sourceClient) => readPlan({ config, sourceClient, target }))
      const { sourceCatalog, targetCatalog } = read
      plan = read.plan
      for (const warning of plan.warnings) this.warn(warning)
      this.emit('run.planned', {
        snapshotTakenAt: snapshot.takenAt,
        warnings: plan.warnings,
        tables: plan.tables.map((p) => ({
          table: p.target.display,
          source: p.sourceLabel,
          mode: p.mode,
          format: p.format,
          targetState: p.targetState,
          estimatedBytes: p.estimatedBytes,
          estimatedRows: p.estimatedRows,
          problem: p.problem ? errorInfo(p.problem) : undefined,
        })),
      })
      signal.throwIfAborted()

      // Only a run that can go ahead leaves records on the target (a bad table name writes nothing).
      const opened = await history.open(
        { source: source.displayUrl, resume: options.resume ?? false },
        target,
      )
      if (opened.warning) this.warn(opened.warning)
      const resumeFrom = opened.resumeFrom
      if (resumeFrom) {
        this.warn(
          `resuming run ${resumeFrom.runId} (${resumeFrom.status === 'running' ? 'it never finished' : resumeFrom.status}): ${resumeFrom.committed.size} table(s) it committed are skipped`,
        )
      }

      await history.recordSnapshot(snapshot.takenAt)

      this.emit('step.started', { step: 'schema' })
      const ddl = new Ddl(sourceCatalog, { targetVersion: targetCatalog.serverVersion })
      const toCopy = plan.tables.filter((table) => !resumeFrom?.committed.has(table.target.key))
      const schema = await new SchemaBuilder({
        source: sourceCatalog,
        target: targetCatalog,
        targetDb: target,
        ddl,
        lockTimeoutMs: config.timeouts.lock,
      }).createMissing(toCopy, plan.sequences)
      const foreignKeys = new ForeignKeys(target, targetCatalog, history, config.timeouts.lock)

      const limit = pLimit(config.jobs)
      const bulk = await bulkLoadSettings(target)
      const afterData = new AfterData({
        source: sourceCatalog,
        target: targetCatalog,
        sourceDb: source,
        targetDb: target,
        ddl,
        plans: plan.tables,
        sequences: plan.sequences,
        schema,
        warn: (key, message) => (key ? this.addWarnings(key, [message]) : this.warn(message)),
      })
      const context: TableContext = {
        bulkLoadSettings: bulk,
        source,
        target,
        snapshot,
        ddl,
        signal,
        history,
        resumeFrom,
        afterData,
      }
      try {
        // Every planned table counts as written, those a resumed run skips included: a key from one of
        // them to a table copied now must be lifted too, or that table's TRUNCATE is refused.
        await foreignKeys.lift(plan.tables)
        this.emit('step.started', { step: 'copy' })
        // Every worker is let finish before the keys go back and the pools close, even if one threw.
        const settled = await Promise.allSettled(
          plan.tables.map((table) =>
            limit(async () => {
              await this.transferTable(table, context, schema.failures.get(table.target.key))
              await afterData.release(table, this.results.get(table.target.key)?.status === 'copied')
            }),
          ),
        )
        const crashed = settled.find(
          (outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected',
        )
        if (crashed) throw crashed.reason
      } finally {
        // Lifted keys go back even when the run was stopped: the target keeps its constraints.
        this.emit('step.started', { step: 'constraints' })
        const created = afterData.foreignKeys((key) => {
          const result = this.results.get(key)
          return result !== undefined && (result.status === 'copied' || result.created)
        })
        for (const [key, note] of created.notes) this.addWarnings(key, [note])
        const notes = await foreignKeys.restore(created.keys, config.jobs)
        for (const [key, list] of notes) this.addWarnings(key, list)
        await afterData.finish()
      }
    } catch (error) {
      runError = error
    }

    const report = this.buildReport({
      startedAt,
      plan,
      runError,
      signal,
      sourceDisplay,
      targetDisplay,
      logFile,
      snapshot,
    })
    await history.finish(report.status).catch(() => {})
    if (lock) releaseLock(lock)
    await snapshot?.close()
    await Promise.all([source?.close(), target?.close()])
    this.emit('run.finished', report)
    const notification = await mailReport(report, config.email, this.notifier, this.redactor)
    if (notification.status === 'sent')
      this.emit('notify.sent', { to: config.email?.to ?? [], via: notification.detail })
    if (notification.status === 'failed' && notification.error)
      this.emit('notify.failed', { error: notification.error })
    this.log.close()
    return this.redactor.value({ ...report, notification })
  }

  /** Observers (progress display, log, e-mail) only ever see redacted payloads. */
  protected override emit<K extends TransferEventName>(event: K, payload: TransferEvents[K]): void {
    super.emit(event, event === 'table.progress' ? payload : this.redactor.value(payload))
  }

  /** Copies one table with retries, then builds what comes after its data; records the result. */
  private async transferTable(
    plan: TablePlan,
    context: TableContext,
    failure: TablehaulError | undefined,
  ): Promise<void> {
    const { signal } = context
    const startedAt = new Date()
    const base = {
      table: plan.target.display,
      source: plan.sourceLabel,
      mode: plan.mode,
      format: plan.format,
      created: plan.targetState === 'missing',
      startedAt: startedAt.toISOString(),
    }
    const problem = plan.problem ?? failure
    const finish = (result: TableResult) => this.finish(plan.target.key, result)
    if (problem)
      return finish({
        ...base,
        status: 'failed',
        rows: 0,
        bytes: 0,
        durationMs: 0,
        attempts: 0,
        error: errorInfo(problem),
      })
    if (signal.aborted) {
      return finish({
        ...base,
        status: 'skipped',
        rows: 0,
        bytes: 0,
        durationMs: 0,
        attempts: 0,
        reason: 'not started: the run was stopped',
      })
    }
    const committed = context.resumeFrom?.committed.get(plan.target.key)
    if (committed) {
      return finish({
        ...base,
        created: false,
        status: 'skipped',
        rows: committed.rows,
        bytes: committed.bytes,
        durationMs: 0,
        attempts: 0,
        reason: `already copied by run ${committed.runId} at ${committed.committedAt} (resume${context.resumeFrom?.snapshotTakenAt ? `; read from its snapshot of ${context.resumeFrom.snapshotTakenAt}` : ''})`,
      })
    }

    const { retry, timeouts } = this.config
    let attempt = 0
    let bytes = 0
    let format = plan.format
    let warnings: string[] = []
    while (true) {
      attempt++
      this.emit('table.started', {
        table: base.table,
        attempt,
        estimatedBytes: plan.estimatedBytes,
        estimatedRows: plan.estimatedRows,
      })
      const copier = new TableCopier({
        plan: { ...plan, format },
        source: context.source,
        target: context.target,
        snapshot: context.snapshot,
        ddl: context.ddl,
        bulkLoadSettings: context.bulkLoadSettings,
        timeouts: {
          connectMs: timeouts.connect,
          lockMs: timeouts.lock,
          stallMs: timeouts.stall,
          statementMs: timeouts.statement,
        },
        beforeCommit: async (client, result) => {
          this.emit('table.progress', {
            table: base.table,
            bytes: result.bytes,
            estimatedBytes: plan.estimatedBytes,
            finishing: true,
          })
          warnings = await context.afterData.afterCopy(plan, client)
          await context.history.recordCopy(client, plan.target, result)
        },
        onProgress: (moved, rows) => {
          bytes = moved
          this.emit('table.progress', {
            table: base.table,
            bytes: moved,
            rows,
            estimatedBytes: plan.estimatedBytes,
          })
        },
      })
      try {
        const result = await this.copyOnce(copier, plan, context, warnings)
        if (result.dropped) warnings.unshift(...result.dropped)
        await context.target
          .query(`ANALYZE ${plan.target.sql}`)
          .catch((error: unknown) => warnings.push(`ANALYZE failed: ${messageOf(error)}`))
        return finish({
          ...base,
          format,
          status: 'copied',
          rows: result.rows,
          bytes: result.bytes,
          durationMs: Date.now() - startedAt.getTime(),
          attempts: attempt,
          warnings: warnings.length ? warnings : undefined,
        })
      } catch (error) {
        const stopped = signal.aborted
        if (!stopped && format === 'binary' && isBinaryFormatError(error)) {
          // The catalog said binary COPY would carry these types; the target disagreed. Text always works.
          format = 'text'
          warnings.push(`binary COPY was refused (${messageOf(error)}); copied in text format`)
          continue
        }
        if (!stopped && attempt < retry.attempts && isTransient(error)) {
          const delayMs = retry.backoff * 2 ** (attempt - 1)
          this.emit('table.retrying', { table: base.table, attempt, delayMs, error: errorInfo(error) })
          await sleep(delayMs, undefined, { signal }).catch(() => {})
          if (!signal.aborted) continue
        }
        const reason = stopped ? stopError(signal, base.table) : error
        return finish({
          ...base,
          format,
          status: 'failed',
          rows: 0,
          bytes,
          durationMs: Date.now() - startedAt.getTime(),
          attempts: attempt,
          error: errorInfo(reason),
        })
      }
    }
  }

  /**
   * One attempt. When the reply to the target's COMMIT was lost, the table's record (written in the same
   * transaction) tells whether it committed: a committed table must be neither reported failed nor copied
   * again (in append mode that would add its rows twice).
   */
  private async copyOnce(
    copier: TableCopier,
    plan: TablePlan,
    context: TableContext,
    warnings: string[],
  ): Promise<CopyResult> {
    try {
      return await copier.copy(context.signal)
    } catch (error) {
      if (!(error instanceof CommitOutcomeUnknown)) throw error
      const committed = await context.history.wasCommitted(plan.target)
      if (committed === true) {
        warnings.push(
          `the reply to its COMMIT was lost (${messageOf(error.reason)}), but its record on the target shows it committed`,
        )
        return error.result
      }
      // Not committed, or unknown in a mode where another attempt replaces whatever is there: retry-safe.
      if (committed === false || plan.mode !== 'append') throw error.reason
      throw new TablehaulError(
        'COMMIT_OUTCOME_UNKNOWN',
        `the connection was lost while the table was committing (${messageOf(error.reason)}), and whether it committed cannot be told`,
        {
          cause: error.reason,
          table: plan.target.display,
          hint: 'look at the table before running again: if the rows arrived, appending again would add them twice',
        },
      )
    }
  }

  private finish(key: string, result: TableResult): void {
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

  private addWarnings(key: string, warnings: string[]): void {
    const result = this.results.get(key)
    if (result) this.results.set(key, { ...result, warnings: [...(result.warnings ?? []), ...warnings] })
    else this.warnings.push(...warnings)
  }

  private warn(message: string): void {
    this.warnings.push(message)
    this.emit('run.warning', { message })
  }

  /** One run at a time per target: a session-level advisory lock held on its own connection for the whole run. */
  private async lockTarget(target: Database, signal: AbortSignal): Promise<pg.PoolClient> {
    signal.throwIfAborted()
    const client = await target.connect()
    let holder: { pid: number; since: Date | null } | undefined
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        `SELECT pg_catalog.pg_try_advisory_lock(${LOCK_CLASS}, pg_catalog.hashtext(pg_catalog.current_database())) AS locked`,
      )
      if (rows[0]?.locked) return client
      holder = await client
        .query<{ pid: number; since: Date | null }>(
          `SELECT a.pid, a.backend_start AS since
             FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.classid = ${LOCK_CLASS} AND l.granted
              AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
            LIMIT 1`,
        )
        .then((r) => r.rows[0])
        .catch(() => undefined)
    } catch (error) {
      discardClient(client)
      throw error
    }
    discardClient(client)
    const who = holder
      ? ` (server pid ${holder.pid}${holder.since ? `, since ${holder.since.toISOString()}` : ''})`
      : ''
    throw new TablehaulError('RUN_LOCKED', `another tablehaul run is writing into this target${who}`, {
      hint: "wait for it to finish; two runs into one target would truncate each other's tables",
    })
  }

  private runSignal(external: AbortSignal | undefined): AbortSignal {
    const signals = [external].filter((s): s is AbortSignal => s !== undefined)
    if (this.config.timeouts.run > 0) {
      const deadline = new AbortController()
      const timer = setTimeout(
        () =>
          deadline.abort(
            new TablehaulError('RUN_DEADLINE', `the run did not finish within its deadline (timeouts.run)`, {
              hint: 'raise timeouts.run, or copy fewer tables per run',
            }),
          ),
        this.config.timeouts.run,
      )
      timer.unref()
      signals.push(deadline.signal)
    }
    const signal = signals.length === 0 ? new AbortController().signal : AbortSignal.any(signals)
    // Every copy in flight listens on it (and its sleeps between retries): more than Node's default 10.
    setMaxListeners(this.config.jobs * 2 + 10, signal)
    return signal
  }

  private buildReport(input: {
    startedAt: Date
    plan: RunPlan | undefined
    runError: unknown
    signal: AbortSignal
    sourceDisplay: string
    targetDisplay: string
    logFile: string
    snapshot: Snapshot | undefined
  }): RunReport {
    const finishedAt = new Date()
    const planned = input.plan?.tables ?? []
    for (const table of planned) {
      if (!this.results.has(table.target.key)) {
        this.finish(table.target.key, {
          table: table.target.display,
          source: table.sourceLabel,
          mode: table.mode,
          format: table.format,
          created: false,
          status: 'skipped',
          rows: 0,
          bytes: 0,
          durationMs: 0,
          attempts: 0,
          reason: 'not started: the run was stopped',
        })
      }
    }
    const tables = [...this.results.values()]
    const totals = totalsOf(tables)
    const stop = input.signal.aborted ? (input.signal.reason as unknown) : undefined
    const interrupted =
      stop !== undefined && !(stop instanceof TablehaulError && stop.code === 'RUN_DEADLINE')
    let status: RunStatus
    let error = input.runError
    if (interrupted) {
      status = 'interrupted'
      error = undefined
    } else if (error || totals.failed > 0 || stop) {
      status = 'failed'
      error ??= stop
    } else status = 'succeeded'
    return {
      runId: this.runId,
      kind: 'run',
      status,
      startedAt: input.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - input.startedAt.getTime(),
      source: input.sourceDisplay,
      target: input.targetDisplay,
      sourceName: this.config.source ? shortEndpoint(this.config.source.url) : '(no source)',
      targetName: this.config.target ? shortEndpoint(this.config.target.url) : 'local',
      snapshot: { takenAt: input.snapshot?.takenAt, unavailable: input.snapshot?.unavailable },
      tables,
      totals,
      error: error ? this.redactor.value(errorInfo(error)) : undefined,
      warnings: this.warnings,
      logFile: input.logFile,
      resources: processResources(),
    }
  }
}

interface TableContext {
  readonly bulkLoadSettings: string
  readonly history: RunHistory
  readonly resumeFrom: ResumePoint | undefined
  readonly source: Database
  readonly target: Database
  readonly snapshot: Snapshot
  readonly ddl: Ddl
  readonly signal: AbortSignal
  readonly afterData: AfterData
}

/** The advisory lock class that marks "a tablehaul run writes into this database" ('thal'). */
const LOCK_CLASS = 0x7468616c

/** The advisory lock is held by its session: closing the connection releases it, and cannot hang. */
function releaseLock(client: pg.PoolClient): void {
  discardClient(client)
}

/**
 * Errors a binary COPY raises when a value's binary form does not fit the target: invalid binary
 * representation (22P03) and a wrong element or column type inside arrays or records (42804).
 */
function isBinaryFormatError(error: unknown): boolean {
  const state = sqlStateOf(error)
  return state === '22P03' || state === '42804'
}

/** Besides lost connections (isConnectionLost): serialization failure, deadlock, too many connections. */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '53300'])

/** Failures worth another attempt: the connection dropped, the server restarted, a deadlock or serialization failure. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TablehaulError) {
    if (error.code === 'COMMIT_OUTCOME_UNKNOWN') return false
    if (
      error.code === 'COPY_STALLED' ||
      error.code === 'SOURCE_UNREACHABLE' ||
      error.code === 'TARGET_UNREACHABLE'
    )
      return true
  }
  const state = sqlStateOf(error)
  return (state !== undefined && TRANSIENT_SQLSTATES.has(state)) || isConnectionLost(error)
}

function stopError(signal: AbortSignal, table: string): TablehaulError {
  const reason = signal.reason as unknown
  if (reason instanceof TablehaulError) return reason
  return new TablehaulError(
    'RUN_ABORTED',
    'interrupted during its copy; rolled back, previous contents kept',
    {
      table,
      hint: 'run again (tablehaul run --resume copies only what did not finish)',
    },
  )
}
