import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import pLimit from 'p-limit'
import type { Config } from '../config/schema.js'
import { requireSource } from '../config/load.js'
import { type Database, isConnectionLost, redactUrl, shortEndpoint } from '../db/database.js'
import { Ddl } from '../catalog/ddl.js'
import { TablehaulError, messageOf, sqlStateOf } from '../errors.js'
import { errorInfo, type RunStatus, type TableResult } from '../report/run-report.js'
import { PostDataBuilder } from '../steps/after-data/post-data-builder.js'
import { ForeignKeys } from '../steps/constraints/foreign-keys.js'
import type { TablePlan } from '../steps/plan/planner.js'
import { type ReportingOptions, RunLifecycle, type RunOptions } from './run-lifecycle.js'
import { recordedEnding } from '../report/run-log.js'
import { connectRunEndpoints, readPlan } from '../steps/connect.js'
import { SchemaBuilder } from '../steps/schema/schema-builder.js'
import { AllObjectsBuilder } from '../steps/objects/all-objects.js'
import { IndexOperatorClasses } from '../steps/schema/index-operator-classes.js'
import { type ObjectOutcome, objectNote } from '../steps/objects/object-builder.js'
import { ViewBuilder } from '../steps/views/view-builder.js'
import type { ViewPlan } from '../steps/views/view-plan.js'
import { Snapshot } from '../steps/snapshot.js'
import {
  CommitOutcomeUnknown,
  type CopyResult,
  TableCopier,
  bulkLoadSettings,
} from '../steps/copy/table-copier.js'
import { type ResumePoint, RunHistory, jobKey } from './run-history.js'
import { type SyncMark, predictedReloads } from '../steps/sync/sync-mark.js'
import { PREDICTED_RELOAD_SHARE } from '../steps/sync/table-syncer.js'
import { TargetLock } from './target-lock.js'
import { requireWritableTarget } from '../steps/target-writable.js'

/** Collaborators of a `TransferJob`; each has a default built from the config. */
export type TransferJobOptions = ReportingOptions

export type { RunOptions }

/**
 * One run: connect → snapshot → plan → schema → copy (with each table's indexes and constraints right after
 * its data) → constraints → report. `run()` never throws for a failure of the transfer: every ending is a
 * `RunReport`, logged and mailed. A job runs once.
 */
export class TransferJob extends RunLifecycle {
  private source: Database | undefined
  private target: Database | undefined
  private snapshot: Snapshot | undefined
  private lock: TargetLock | undefined
  private readonly history: RunHistory

  constructor(config: Config, options: TransferJobOptions = {}) {
    super(
      config,
      'run',
      {
        source: config.source ? redactUrl(config.source.url) : '(none)',
        target: config.target ? redactUrl(config.target.url) : `local (${config.local.dir})`,
        sourceName: config.source ? shortEndpoint(config.source.url) : '(no source)',
        targetName: config.target ? shortEndpoint(config.target.url) : 'local',
      },
      options,
    )
    this.history = new RunHistory(this.runId, config.log.keepRuns)
  }

  protected async work(signal: AbortSignal, options: RunOptions): Promise<void> {
    const { source, target } = await this.connect(signal)
    const snapshot = await this.openSnapshot(source)
    const { sourceCatalog, targetCatalog, plan, views, owners } = await this.readRunPlan(
      source,
      target,
      snapshot,
    )
    signal.throwIfAborted()
    const resumeFrom = await this.openHistory(source, target, snapshot, options)

    this.emit('step.started', { step: 'schema' })
    const objectsOptions = { snapshot, source, target, plan, signal }
    const allObjects =
      this.config.objects === 'all'
        ? await AllObjectsBuilder.read(objectsOptions)
        : this.config.schema === 'create-missing'
          ? await AllObjectsBuilder.readUsedByTables(objectsOptions)
          : undefined
    // Text search objects before the tables, whose defaults and generated columns may name them.
    if (allObjects) this.reportObjects(await allObjects.beforeTables())
    const ddl = new Ddl(sourceCatalog, { targetVersion: targetCatalog.serverVersion })
    const toCopy = plan.tables.filter((table) => !resumeFrom?.committed.has(table.target.key))
    const operatorClasses = await IndexOperatorClasses.read({
      snapshot,
      catalog: sourceCatalog,
      targetDb: target,
      tables: [
        ...toCopy.flatMap((table) =>
          table.source.kind === 'table' &&
          !table.problem &&
          (table.targetState === 'missing' || table.mode === 'recreate')
            ? [table.source.table]
            : [],
        ),
        ...plan.emptyPartitioned,
      ],
      replaceRoutines: this.config.objects === 'all',
    })
    const schemaBuilder = new SchemaBuilder({
      source: sourceCatalog,
      target: targetCatalog,
      targetDb: target,
      ddl,
      operatorClasses,
    })
    const schema = await schemaBuilder.createMissing(toCopy, plan.sequences, plan.emptyPartitioned)
    if (this.config.schema === 'create-missing') {
      for (const [key, notes] of await schemaBuilder.addEnumLabels(toCopy))
        schema.warnings.set(key, [...(schema.warnings.get(key) ?? []), ...notes])
    }
    for (const table of plan.emptyPartitioned) {
      const failure = schema.failures.get(table.ref.key)
      if (failure) this.warn(failure.message)
    }
    // After the tables' own types and functions, before the data: none of these objects depend on rows.
    if (allObjects) this.reportObjects(await allObjects.afterTables())

    const afterData = new PostDataBuilder({
      source: sourceCatalog,
      target: targetCatalog,
      sourceDb: source,
      targetDb: target,
      ddl,
      plans: plan.tables,
      sequences: plan.sequences,
      emptyPartitioned: plan.emptyPartitioned,
      schema,
      warn: (key, message) => (key ? this.addWarnings(key, [message]) : this.warn(message)),
    })
    const foreignKeys = new ForeignKeys(target, targetCatalog, this.history)
    const context: TableContext = {
      bulkLoadSettings: await bulkLoadSettings(target),
      foreignKeys,
      source,
      target,
      snapshot,
      ddl,
      signal,
      history: this.history,
      syncMarks: plan.tables.some((table) => table.syncKey)
        ? await this.history.syncMarks().catch((error: unknown) => {
            this.warn(
              `the marks of earlier syncs could not be read (${messageOf(error)}); each sync compares in full`,
            )
            return new Map<string, SyncMark>()
          })
        : new Map<string, SyncMark>(),
      resumeFrom,
      afterData,
      lock: this.lock!,
    }
    try {
      // Every planned table counts as written, those a resumed run skips included: a key from one of
      // them to a table copied now must be lifted too, or that table's TRUNCATE is refused.
      const locked = await foreignKeys.lift(
        plan.tables,
        await this.predictedReloads(source, plan.tables, context.syncMarks),
      )
      this.emit('step.started', { step: 'copy' })
      await this.copyTables(plan.tables, context, new Map([...locked, ...schema.failures]))
    } finally {
      // Lifted keys go back even when the run was stopped: the target keeps its constraints.
      this.emit('step.started', { step: 'constraints' })
      // Partitioned tables without partitions get their keys before the foreign keys that may use them.
      await afterData.buildEmptyPartitioned()
      await this.restoreConstraints(foreignKeys, afterData)
    }
    await this.buildViews(views, { target, ddl, targetVersion: targetCatalog.serverVersion, signal })
    // Last of all: once an object belongs to another role, that role controls it, so nothing of the run
    // writes to it afterwards (the run's own records are in its own schema, which is never handed on).
    if (owners && !signal.aborted) {
      await this.lock!.ensure()
      this.reportObjects(await owners.apply(target, signal))
    }
    if (target.unconfirmedCommits > 0) {
      this.warn(
        `${target.unconfirmedCommits} COMMIT(s) on the target waited longer than timeouts.stall for a synchronous standby (synchronous_standby_names) and were let go: they took effect on the target, but no standby confirmed them; check the target's standbys`,
      )
    }
  }

  /**
   * The syncs that the source's statistics already send to a reload (see predictedReloads). Only a
   * prediction: when the statistics cannot be read, every key between synced tables is kept, as before.
   */
  private async predictedReloads(
    source: Database,
    plans: readonly TablePlan[],
    marks: ReadonlyMap<string, SyncMark>,
  ): Promise<Set<string>> {
    return predictedReloads(source, plans, marks, PREDICTED_RELOAD_SHARE).catch(() => new Set<string>())
  }

  /**
   * The views and materialized views, once every table's data and keys are in (a materialized view is
   * refreshed from them). Not after a stop: the run ends as soon as it can.
   */
  private async buildViews(
    views: readonly ViewPlan[],
    options: { target: Database; ddl: Ddl; targetVersion: number; signal: AbortSignal },
  ): Promise<void> {
    const { target, ddl, targetVersion, signal } = options
    if (views.length === 0 || signal.aborted) return
    this.emit('step.started', { step: 'views' })
    await this.lock!.ensure()
    this.reportObjects(await new ViewBuilder({ targetDb: target, ddl, targetVersion, signal }).build(views))
  }

  /** Objects that did not arrive as the source has them: a failure fails the run, the rest are notes. */
  private reportObjects(outcomes: readonly ObjectOutcome[]): void {
    for (const outcome of outcomes) {
      const note = objectNote(outcome)
      if (!note) continue
      if (outcome.status === 'failed') this.objectFailed(outcome.identity, note)
      else this.warn(note)
    }
  }

  /** Connects to both servers and takes the target's run lock. */
  private async connect(signal: AbortSignal): Promise<{ source: Database; target: Database }> {
    const config = this.config
    this.emit('step.started', { step: 'connect' })
    requireSource(config)
    const endpoints = await connectRunEndpoints(config, signal)
    if (endpoints.note) this.warn(endpoints.note)
    const source = (this.source = endpoints.source)
    const target = (this.target = endpoints.target)
    this.connectedTo({
      source: source.displayUrl,
      target: config.target ? target.displayUrl : `local ${target.displayUrl}`,
    })
    signal.throwIfAborted()
    this.lock = new TargetLock(target)
    await this.lock.take()
    await requireWritableTarget(target, { connectMs: config.timeouts.connect })
    return { source, target }
  }

  /** The run's single point in time on the source (or why there is none). */
  private async openSnapshot(source: Database): Promise<Snapshot> {
    this.emit('step.started', { step: 'snapshot' })
    const snapshot = (this.snapshot = new Snapshot(source))
    await snapshot.open()
    this.snapshotTaken({ takenAt: snapshot.takenAt, unavailable: snapshot.unavailable })
    if (snapshot.unavailable) this.warn(snapshot.unavailable)
    return snapshot
  }

  /** Both catalogs and the plan, read in the snapshot, and announced. */
  private async readRunPlan(
    source: Database,
    target: Database,
    snapshot: Snapshot,
  ): Promise<Awaited<ReturnType<typeof readPlan>>> {
    const config = this.config
    this.emit('step.started', { step: 'plan' })
    const read = await snapshot.read((sourceClient) => readPlan({ config, source, sourceClient, target }))
    const { plan } = read
    for (const warning of plan.warnings) this.warn(warning)
    this.announcePlan(
      {
        snapshotTakenAt: snapshot.takenAt,
        warnings: plan.warnings,
        tables: plan.tables.map((p) => ({
          table: p.target.display,
          source: p.sourceLabel,
          mode: p.mode,
          modeNote: p.modeNote,
          format: p.format,
          targetState: p.targetState,
          estimatedBytes: p.estimatedBytes,
          estimatedRows: p.estimatedRows,
          problem: p.problem ? errorInfo(p.problem) : undefined,
        })),
      },
      plan.tables.map((p) => p.target.key),
    )
    return read
  }

  /**
   * The run's records on the target, and where a resumed run starts. Only a run that can go ahead leaves
   * records there (a bad table name writes nothing).
   */
  private async openHistory(
    source: Database,
    target: Database,
    snapshot: Snapshot,
    options: RunOptions,
  ): Promise<ResumePoint | undefined> {
    const { config, history } = this
    const opened = await history.open(
      {
        source: source.displayUrl,
        job: await jobKey(source, config),
        resume: options.resume ?? false,
        endingOf: (runId) => recordedEnding(config.log.dir, runId),
      },
      target,
    )
    if (opened.warning) this.warn(opened.warning)
    this.recordsKept(history.available)
    const resumeFrom = opened.resumeFrom
    if (resumeFrom) {
      this.warn(
        `resuming run ${resumeFrom.runId} (${resumeFrom.status === 'killed' ? 'it was killed before it finished' : resumeFrom.status}): ${resumeFrom.committed.size} table(s) it committed are skipped`,
      )
    }
    await history.recordSnapshot(snapshot.takenAt)
    return resumeFrom
  }

  /**
   * Copies the tables, `jobs` at a time; each gets what comes after its data when it ends. Every worker
   * is let finish before the keys go back and the pools close, even if one threw.
   */
  private async copyTables(
    tables: readonly TablePlan[],
    context: TableContext,
    schemaFailures: ReadonlyMap<string, TablehaulError>,
  ): Promise<void> {
    const limit = pLimit(this.config.jobs)
    const settled = await Promise.allSettled(
      tables.map((table) =>
        limit(async () => {
          await this.transferTable(table, context, schemaFailures.get(table.target.key))
          await context.afterData.tableFinished(table, this.resultOf(table.target.key)?.status === 'copied')
        }),
      ),
    )
    const crashed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')
    if (crashed) throw crashed.reason
  }

  /**
   * The foreign keys: those of tables this run created, and the lifted ones put back; a key waits while
   * one of its tables did not get its data. Then what waits for every table (late statements, sequences).
   */
  private async restoreConstraints(foreignKeys: ForeignKeys, afterData: PostDataBuilder): Promise<void> {
    const created = afterData.foreignKeys((key) => {
      const result = this.resultOf(key)
      return result !== undefined && (result.status === 'copied' || result.created)
    })
    for (const [key, note] of created.notes) this.addWarnings(key, [note])
    const notes = await foreignKeys.restore(created.keys, this.config.jobs, (key) => {
      const result = this.resultOf(key)
      return !result || result.status === 'copied' || result.skipped === 'already-copied'
    })
    for (const [key, list] of notes) this.addWarnings(key, list)
    await afterData.finish()
  }

  /** The run's record gets its outcome; then the lock, the snapshot and the connections are let go. */
  protected override async release(status: RunStatus): Promise<void> {
    await this.history.finish(status).catch(() => {})
    this.lock?.release()
    await this.snapshot?.close()
    await Promise.all([this.source?.close(), this.target?.close()])
  }

  /** Copies one table with retries, then builds what comes after its data; records the result. */
  private async transferTable(
    plan: TablePlan,
    context: TableContext,
    failure: TablehaulError | undefined,
  ): Promise<void> {
    const startedAt = Date.now()
    const key = plan.target.key
    const problem = plan.problem ?? failure
    if (problem) return this.tableFinished(key, tableResultOf(plan, startedAt, { kind: 'refused', problem }))
    if (context.signal.aborted) return this.tableNotStarted(key, { created: plan.targetState === 'missing' })
    const committed = context.resumeFrom?.committed.get(key)
    if (committed) {
      const reason = `already copied by run ${committed.runId} at ${committed.committedAt} (resume${context.resumeFrom?.snapshotTakenAt ? `; read from its snapshot of ${context.resumeFrom.snapshotTakenAt}` : ''})`
      return this.tableFinished(
        key,
        tableResultOf(plan, startedAt, {
          kind: 'already-copied',
          rows: committed.rows,
          bytes: committed.bytes,
          reason,
        }),
      )
    }
    const outcome = await this.copyWithRetries(plan, context)
    if (outcome.kind === 'copied' && needsAnalyze(outcome.result))
      await this.analyze(plan, context, outcome.warnings)
    this.tableFinished(key, tableResultOf(plan, startedAt, outcome))
  }

  /**
   * Attempts until the table is copied or fails for good: a binary COPY the target refuses is tried again
   * in text format, a transient failure after a backoff (retryTransient).
   */
  private async copyWithRetries(plan: TablePlan, context: TableContext): Promise<CopyOutcome> {
    const { signal } = context
    const attempt: Attempt = { number: 0, format: plan.format, bytes: 0, afterCopy: [], notes: [] }
    while (true) {
      attempt.number++
      this.emit('table.started', {
        table: plan.target.display,
        attempt: attempt.number,
        estimatedBytes: plan.estimatedBytes,
        estimatedRows: plan.estimatedRows,
      })
      try {
        const result = await this.copyOnce(plan, context, attempt)
        return {
          kind: 'copied',
          result,
          format: attempt.format,
          attempts: attempt.number,
          warnings: [...(result.dropped ?? []), ...attempt.afterCopy, ...attempt.notes],
        }
      } catch (error) {
        const stopped = signal.aborted
        const format = stopped ? undefined : formatAfter(attempt.format, error)
        if (format) {
          attempt.format = format
          attempt.notes.push(`binary COPY was refused (${messageOf(error)}); copied in text format`)
          continue
        }
        if (!stopped && (await this.retryTransient(plan, attempt.number, error, signal))) continue
        let failure = stopped ? this.stopError(signal, plan.target.display) : error
        if (attempt.unsettledCommit) {
          const settled = await this.settleCommit(plan, context, attempt, failure)
          if (settled instanceof TablehaulError) failure = settled
          else if (settled) return settled
        }
        return {
          kind: 'failed',
          error: failure,
          format: attempt.format,
          attempts: attempt.number,
          bytes: attempt.bytes,
        }
      }
    }
  }

  /**
   * Whether a failed attempt is worth another: a transient failure (isTransient) while attempts remain.
   * Waits out the backoff first (doubling from retry.backoff); a stop during the wait ends the retries.
   */
  private async retryTransient(
    plan: TablePlan,
    attempt: number,
    error: unknown,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { retry } = this.config
    if (attempt >= retry.attempts || !isTransient(error)) return false
    const delayMs = retry.backoff * 2 ** (attempt - 1)
    this.emit('table.retrying', { table: plan.target.display, attempt, delayMs, error: errorInfo(error) })
    await sleep(delayMs, undefined, { signal }).catch(() => {})
    return !signal.aborted
  }

  /** The copier of one attempt: its progress goes to the run's events, its bookkeeping rides in its transaction. */
  private copierFor(plan: TablePlan, context: TableContext, attempt: Attempt): TableCopier {
    const { timeouts } = this.config
    const table = plan.target.display
    return new TableCopier({
      plan: { ...plan, format: attempt.format },
      source: context.source,
      target: context.target,
      snapshot: context.snapshot,
      ddl: context.ddl,
      bulkLoadSettings: context.bulkLoadSettings,
      verify: this.config.verify,
      syncMark: context.syncMarks.get(plan.target.key),
      liftKeys: (client) => context.foreignKeys.liftWithin(client, plan.target),
      timeouts: {
        connectMs: timeouts.connect,
        lockMs: timeouts.lock,
        stallMs: timeouts.stall,
        statementMs: timeouts.statement,
      },
      beforeCommit: async (client, result) => {
        this.emit('table.progress', {
          table,
          bytes: result.bytes,
          estimatedBytes: plan.estimatedBytes,
          finishing: true,
        })
        attempt.afterCopy = await context.afterData.afterCopy(plan, client)
        await context.lock.ensure()
        await context.history.recordCopy(client, plan.target, result)
        if (result.mark) await context.history.recordSyncMark(client, plan.target, result.mark)
      },
      onProgress: (moved, rows) => {
        attempt.bytes = moved
        this.emit('table.progress', { table, bytes: moved, rows, estimatedBytes: plan.estimatedBytes })
      },
      onPhase: (phase) =>
        this.emit('table.progress', {
          table,
          bytes: attempt.bytes,
          estimatedBytes: plan.estimatedBytes,
          phase,
        }),
    })
  }

  /**
   * The table failed for good, but an earlier attempt's COMMIT lost its reply while the target could not be
   * asked whether it committed (a restart: the server was still recovering). The attempts after it did not
   * replace its rows, so the table holds either them or its previous contents: the record decides, asked
   * once more now; if it still cannot be told, the failure says so instead of "previous contents kept".
   */
  private async settleCommit(
    plan: TablePlan,
    context: TableContext,
    attempt: Attempt,
    failure: unknown,
  ): Promise<CopyOutcome | TablehaulError | undefined> {
    const result = attempt.unsettledCommit!
    const committed = await context.history.wasCommitted(plan.target)
    if (committed === true) {
      attempt.notes.push(
        `the reply to its COMMIT was lost and later attempts failed (${messageOf(failure)}), but its record on the target shows that COMMIT took effect`,
      )
      return {
        kind: 'copied',
        result,
        format: attempt.format,
        attempts: attempt.number,
        warnings: [...(result.dropped ?? []), ...attempt.afterCopy, ...attempt.notes],
      }
    }
    if (committed === false) return undefined
    return new TablehaulError(
      'COMMIT_OUTCOME_UNKNOWN',
      `the connection was lost while the table was committing, and whether it committed cannot be told (the target could not be asked); the later attempts failed: ${messageOf(failure)}`,
      {
        cause: failure,
        table: plan.target.display,
        hint: "the table holds either its previous rows or this run's copy; run again to replace it",
      },
    )
  }

  /** Fresh statistics for the planner; a failure is a warning, the data is in. */
  private async analyze(plan: TablePlan, context: TableContext, warnings: string[]): Promise<void> {
    await context.target
      .query(`ANALYZE ${plan.target.sql}`)
      .catch((error: unknown) => warnings.push(`ANALYZE failed: ${messageOf(error)}`))
  }

  /**
   * One attempt. When the reply to the target's COMMIT was lost, the table's record (written in the same
   * transaction) tells whether it committed: a committed table must be neither reported failed nor copied
   * again (in append mode that would add its rows twice).
   */
  private async copyOnce(plan: TablePlan, context: TableContext, attempt: Attempt): Promise<CopyResult> {
    try {
      // Nothing is written without the run's lock: after a target restart it is taken again, or the table fails.
      await context.lock.ensure()
      return await this.copierFor(plan, context, attempt).copy(context.signal)
    } catch (error) {
      if (!(error instanceof CommitOutcomeUnknown)) throw error
      const committed = await context.history.wasCommitted(plan.target)
      if (committed === true) {
        attempt.notes.push(
          `the reply to its COMMIT was lost (${messageOf(error.reason)}), but its record on the target shows it committed`,
        )
        return error.result
      }
      // Not committed, or unknown in a mode where another attempt replaces whatever is there: retry-safe
      // (if no later attempt commits, settleCommit asks again before the table is reported).
      attempt.unsettledCommit = committed === undefined ? error.result : undefined
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

  /** The caller's signal, and the run's deadline (timeouts.run). */
  protected override runSignal(external: AbortSignal | undefined): AbortSignal {
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
}

interface TableContext {
  readonly bulkLoadSettings: readonly string[]
  readonly foreignKeys: ForeignKeys
  readonly history: RunHistory
  /** What earlier syncs remembered of each table, by TableRef key. */
  readonly syncMarks: ReadonlyMap<string, SyncMark>
  readonly resumeFrom: ResumePoint | undefined
  readonly source: Database
  readonly target: Database
  readonly snapshot: Snapshot
  readonly ddl: Ddl
  readonly signal: AbortSignal
  readonly afterData: PostDataBuilder
  readonly lock: TargetLock
}

/** What one table's attempts have come to so far. */
interface Attempt {
  number: number
  format: TablePlan['format']
  /** Bytes the last attempt moved. */
  bytes: number
  /** Notes of what came after the data, from the attempt that committed. */
  afterCopy: string[]
  /** Notes of the attempts themselves (a format fallback, a COMMIT whose reply was lost). */
  readonly notes: string[]
  /** What an attempt whose COMMIT lost its reply had copied, when the target could not be asked whether it committed. */
  unsettledCommit?: CopyResult
}

/** How a table ended: refused before it started, copied by an earlier run, copied now, or failed. */
type TableOutcome =
  | { readonly kind: 'refused'; readonly problem: TablehaulError }
  | {
      readonly kind: 'already-copied'
      readonly rows: number
      readonly bytes: number
      readonly reason: string
    }
  | CopyOutcome

type CopyOutcome =
  | {
      readonly kind: 'copied'
      readonly result: CopyResult
      readonly format: TablePlan['format']
      readonly attempts: number
      readonly warnings: string[]
    }
  | {
      readonly kind: 'failed'
      readonly error: unknown
      readonly format: TablePlan['format']
      readonly attempts: number
      readonly bytes: number
    }

/** The table's result in the report. */
function tableResultOf(plan: TablePlan, startedAt: number, outcome: TableOutcome): TableResult {
  const base = {
    table: plan.target.display,
    source: plan.sourceLabel,
    mode: plan.mode,
    format: plan.format,
    created: plan.targetState === 'missing',
    startedAt: new Date(startedAt).toISOString(),
  }
  const durationMs = Date.now() - startedAt
  switch (outcome.kind) {
    case 'refused':
      return {
        ...base,
        status: 'failed',
        rows: 0,
        bytes: 0,
        durationMs: 0,
        attempts: 0,
        error: errorInfo(outcome.problem),
      }
    case 'already-copied':
      return {
        ...base,
        created: false,
        status: 'skipped',
        skipped: 'already-copied',
        rows: outcome.rows,
        bytes: outcome.bytes,
        durationMs: 0,
        attempts: 0,
        reason: outcome.reason,
      }
    case 'copied':
      return {
        ...base,
        format: outcome.format,
        status: 'copied',
        rows: outcome.result.rows,
        bytes: outcome.result.bytes,
        sync: outcome.result.sync,
        syncCompared: outcome.result.syncCompared,
        verified: outcome.result.verified,
        durationMs,
        attempts: outcome.attempts,
        warnings: outcome.warnings.length ? outcome.warnings : undefined,
      }
    case 'failed':
      return {
        ...base,
        format: outcome.format,
        status: 'failed',
        rows: 0,
        bytes: outcome.bytes,
        durationMs,
        attempts: outcome.attempts,
        error: errorInfo(outcome.error),
      }
  }
}

/**
 * The format to try again in: text, when the target refused a binary COPY (the catalog said binary COPY
 * would carry these types; the target disagreed, and text always works); undefined otherwise.
 */
function formatAfter(format: TablePlan['format'], error: unknown): TablePlan['format'] | undefined {
  return format === 'binary' && isBinaryFormatError(error) ? 'text' : undefined
}

/**
 * Errors a binary COPY raises when a value's binary form does not fit the target: invalid binary
 * representation (22P03) and a wrong element or column type inside arrays or records (42804).
 */
function isBinaryFormatError(error: unknown): boolean {
  const state = sqlStateOf(error)
  return state === '22P03' || state === '42804'
}

/**
 * A table loaded in full gets fresh statistics at once. A sync that changed under a tenth of the rows
 * leaves them to autovacuum, as any writer would: its analyze threshold is that share
 * (autovacuum_analyze_scale_factor 0.1), and an ANALYZE would cost a sample of the whole table.
 */
function needsAnalyze(result: CopyResult): boolean {
  if (!result.sync) return true
  const { inserted, updated, deleted } = result.sync
  return (inserted + updated + deleted) * 10 >= Math.max(result.rows, 1)
}

/** Besides lost connections (isConnectionLost): serialization failure, deadlock, too many connections. */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '53300'])

/** Failures worth another attempt: the connection dropped, the server restarted, a deadlock or serialization failure. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TablehaulError) {
    if (error.code === 'COMMIT_OUTCOME_UNKNOWN' || error.code === 'RUN_LOCKED') return false
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
