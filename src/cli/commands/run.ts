import { Redactor } from '../../report/secrets.js'
import type { Command } from 'commander'
import { type ReportingSettings, reportingSettings } from '../../config/load.js'
import { redactUrl, shortEndpoint } from '../../db/database.js'
import type { Config } from '../../config/schema.js'
import { TablehaulError } from '../../errors.js'
import type { RunReport } from '../../report/run-report.js'
import { RunLifecycle, type ReportingOptions, type RunOptions } from '../../run/run-lifecycle.js'
import { TransferJob } from '../../run/transfer-job.js'
import { type CliContext, exitCodeOf, loadFrom } from '../context.js'
import {
  type OutputOptions,
  outputOptionsFrom,
  withLoadOptions,
  withOutputOptions,
  withReportOptions,
  type CommonOptions,
  flagsFrom,
  withConfigOptions,
} from '../options.js'
import { paint } from '../output.js'
import { ProgressDisplay } from '../progress.js'
import { installSignalHandlers } from '../signals.js'
import { renderSummary } from '../summary.js'

export function registerRunCommand(program: Command, context: CliContext): void {
  const command = program
    .command('run')
    .summary('copy the configured tables from the source into the target')
    .description(
      `Copy the configured tables from the source into the target: one source snapshot for all tables, one target transaction per table (a table that fails keeps its previous contents), indexes and constraints built after the data, sequences set, a log written and the report e-mailed.`,
    )
  withLoadOptions(withConfigOptions(command)).option(
    '--resume',
    'continue the last run of this job (same source and tables) if it did not succeed: skip the tables it already committed',
  )
  withOutputOptions(withReportOptions(command), 'the final run report')
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul run --source postgres://reader@db.example.com/sales --table 'sales.*'
      every table of schema sales into the embedded local PostgreSQL
  $ tablehaul run --config nightly.yaml --mode sync
      nightly, when few rows change: write only the rows that differ; each table needs a primary
      key (or a unique index on NOT NULL columns), else it is replaced
  $ tablehaul run --config nightly.yaml --jobs 8
  $ tablehaul run -s "$SRC" -t postgres://localhost/sales_copy --table sales.orders --mode append
  $ tablehaul run --config nightly.yaml --quiet --json > report.json
  $ tablehaul run --config nightly.yaml --resume
      after a failed, interrupted or killed run: copy only what it did not commit

Check first with \`tablehaul plan\` (same options, writes nothing); compare after with \`tablehaul verify\`.
Passwords: put them in PGPASSWORD, ~/.pgpass or the config (\${ENV_VAR}), not on the command line.
Exit codes: 0 all copied and reported, 1 a table, a view or the run failed, 2 bad usage or configuration,
3 copied but the e-mail could not be sent or the log written, 130 interrupted.`,
    )
    .action(async (options: Record<string, unknown>) => {
      const config = await loadOrReport(context, options, 'run')
      if (!config) return
      const { code } = await runTransfer(config, context, {
        ...outputOptionsFrom(options),
        resume: Boolean(options.resume),
      })
      context.exitCode = code
    })
}

/** Runs a TransferJob with the terminal's progress display, summary and signal handling. */
export async function runTransfer(
  config: Config,
  context: CliContext,
  options: OutputOptions & { resume?: boolean },
): Promise<{ code: number; report: RunReport }> {
  return runReported(new TransferJob(config), context, options, { resume: options.resume ?? false })
}

/**
 * Runs a job the way every writing command does: live progress on stderr (unless quiet), SIGINT/SIGTERM
 * stopping it gracefully, the summary at the end, the report as JSON on stdout with --json.
 */
export async function runReported(
  job: RunLifecycle,
  context: CliContext,
  options: OutputOptions,
  runOptions: Omit<RunOptions, 'signal'> = {},
): Promise<{ code: number; report: RunReport }> {
  const stderr = context.out.stderr
  const display = options.quiet ? undefined : new ProgressDisplay(job, stderr)
  const signals = installSignalHandlers((name) => {
    const text = `${paint(stderr, 'yellow', `${name} received`)}: stopping; work in flight rolls back and keeps the previous contents. Press Ctrl-C again to quit at once.`
    if (display) display.note(text)
    else stderr.write(`${text}\n`)
  })
  try {
    const report = await job.run({ ...runOptions, signal: signals.signal })
    display?.stop()
    if (options.json) context.out.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    const trouble = report.status !== 'succeeded' || report.notification?.status === 'failed'
    if (!options.quiet || trouble) stderr.write(renderSummary(report, stderr))
    return { code: exitCodeOf(report), report }
  } finally {
    display?.stop()
    signals.dispose()
  }
}

/**
 * The configuration of a run, an export or an import. One that does not load (say a `${VAR}` not set
 * under cron) fails the way a run does: logged into its `log.dir` and mailed when those sections are valid
 * on their own, summed up, exit code 2; then it gives undefined.
 */
export async function loadOrReport(
  context: CliContext,
  options: CommonOptions & Record<string, unknown>,
  kind: RunReport['kind'],
): Promise<Config | undefined> {
  try {
    return loadFrom(context, options).config
  } catch (error) {
    if (!(error instanceof TablehaulError) || error.code !== 'CONFIG_INVALID') throw error
    const settings = reportingSettings({
      file: options.config,
      env: context.env,
      flags: flagsFrom(options),
      cwd: context.cwd,
    })
    if (!settings) throw error
    const job = new ConfigNotLoaded(settings, kind, error, {
      log: settings.logValid ? undefined : null,
      // The file, the environment and the flags as read, valid or not: whatever secret they hold is hidden.
      redactor: Redactor.fromValues([...settings.secrets, context.env.PGPASSWORD]),
    })
    const { code } = await runReported(job, context, outputOptionsFrom(options))
    context.exitCode = code
    return undefined
  }
}

/**
 * A run whose configuration did not load: it fails with that error, and reports it. A run names the source
 * and the target where their URLs could be read (only a password's variable missing, say), so that the
 * e-mail of one nightly job among several says which one it is.
 */
class ConfigNotLoaded extends RunLifecycle {
  constructor(
    settings: ReportingSettings,
    kind: RunReport['kind'],
    private readonly error: TablehaulError,
    options: ReportingOptions,
  ) {
    const unknown = '(unknown: the configuration did not load)'
    const source = kind === 'run' ? settings.sourceUrl : undefined
    const target = kind === 'run' ? settings.targetUrl : undefined
    super(
      settings.config,
      kind,
      {
        source: source ? redactUrl(source) : unknown,
        target: target === 'local' ? 'local' : target ? redactUrl(target) : unknown,
        sourceName: source ? shortEndpoint(source) : 'unknown source',
        targetName: target === 'local' ? 'local' : target ? shortEndpoint(target) : 'unknown target',
      },
      options,
    )
  }

  protected work(): Promise<void> {
    return Promise.reject(this.error)
  }

  /** The configuration's error is the news, even when the log cannot be written either. */
  protected override get failureBeforeWork(): TablehaulError {
    return this.error
  }
}
