import { type Command, Option } from 'commander'
import type { Config } from '../../config/schema.js'
import type { RunReport } from '../../report/run-report.js'
import { TransferJob } from '../../transfer/transfer-job.js'
import { type CliContext, exitCodeOf, loadFrom, withConfigOptions } from '../main.js'
import { paint } from '../output.js'
import { ProgressDisplay } from '../progress.js'
import { renderSummary } from '../summary.js'
import { installSignalHandlers } from '../signals.js'

const collect = (value: string, previous: string[] = []) => [...previous, value]

export function registerRunCommand(program: Command, context: CliContext): void {
  const command = program
    .command('run')
    .summary('copy the configured tables from the source into the target')
    .description(
      `Copy the configured tables from the source into the target: one source snapshot for all tables,
one target transaction per table (a table that fails keeps its previous contents), indexes and
constraints built after the data, sequences set, a log written and the report e-mailed.`,
    )
  withConfigOptions(command)
    .addOption(
      new Option('--mode <mode>', 'replace (default), append or recreate').choices([
        'replace',
        'append',
        'recreate',
      ]),
    )
    .addOption(
      new Option('--schema <policy>', 'create-missing (default) or none').choices(['create-missing', 'none']),
    )
    .option('-j, --jobs <n>', 'tables copied at once, largest first (default 4)')
    .addOption(
      new Option('--format <format>', 'COPY format: auto (default), text or binary').choices([
        'auto',
        'text',
        'binary',
      ]),
    )
    .option('--log-dir <dir>', 'folder of the logs (default ./logs; env TABLEHAUL_LOG_DIR)')
    .option(
      '--email-to <address>',
      'send the report to this address; repeat for more (env TABLEHAUL_EMAIL_TO)',
      collect,
    )
    .option('--email-from <address>', 'sender of the report (env TABLEHAUL_EMAIL_FROM)')
    .option(
      '--smtp-url <url>',
      'SMTP server, smtps://user:pass@host:465 or smtp://host:587 (env TABLEHAUL_SMTP_URL)',
    )
    .option('--outbox <dir>', 'also write the report e-mail as an .eml file into this folder')
    .option('--resume', 'continue the last run if it did not succeed: skip the tables it already committed')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print the final run report as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul run --source postgres://reader@db.example.com/sales --table 'sales.*'
      every table of schema sales into the embedded local PostgreSQL
  $ tablehaul run --config nightly.yaml --jobs 8
  $ tablehaul run -s "$SRC" -t postgres://localhost/sales_copy --table sales.orders --mode append
  $ tablehaul run --config nightly.yaml --json > report.json
  $ tablehaul run --config nightly.yaml --resume
      after a failed, interrupted or killed run: copy only what it did not commit

Passwords: put them in PGPASSWORD, ~/.pgpass or the config (\${ENV_VAR}), not on the command line.
Exit codes: 0 all copied and reported, 1 a table or the run failed, 2 bad usage or configuration,
3 copied but the e-mail could not be sent, 130 interrupted.`,
    )
    .action(async (options: Record<string, unknown>) => {
      const { config } = loadFrom(context, options)
      const { code } = await runTransfer(config, context, {
        quiet: Boolean(options.quiet),
        json: Boolean(options.json),
        resume: Boolean(options.resume),
      })
      context.exitCode = code
    })
}

/** Runs a TransferJob with the terminal's progress display, summary and signal handling. */
export async function runTransfer(
  config: Config,
  context: CliContext,
  options: { quiet: boolean; json: boolean; resume?: boolean },
): Promise<{ code: number; report: RunReport }> {
  const job = new TransferJob(config)
  const stderr = context.out.stderr
  const signals = installSignalHandlers((name) => {
    stderr.write(
      `\n${paint(stderr, 'yellow', `${name} received`)}: stopping; tables in flight roll back and keep their previous contents. Press Ctrl-C again to quit at once.\n`,
    )
  })
  if (!options.quiet) new ProgressDisplay(job, stderr)
  try {
    const report = await job.run({ signal: signals.signal, resume: options.resume ?? false })
    if (options.json) context.out.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    if (!options.quiet) stderr.write(renderSummary(report, stderr))
    else if (report.status !== 'succeeded' || report.notification?.status === 'failed')
      stderr.write(renderSummary(report, stderr))
    return { code: exitCodeOf(report), report }
  } finally {
    signals.dispose()
  }
}
