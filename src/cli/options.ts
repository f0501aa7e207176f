import { type Command, Option } from 'commander'
import type { ConfigFlags } from '../config/load.js'

/** Commander's parser for an option that may be repeated: every value, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** --mode, --schema, --jobs and --format: what a run does, which `plan` shows too. */
export function withLoadOptions(command: Command): Command {
  return command
    .optionsGroup('What a run does:')
    .addOption(
      new Option(
        '--mode <mode>',
        'replace (default: the target table ends identical to the source), sync (ends identical too, writing only the rows that differ), append or recreate; for the tables without a mode: of their own in tables:, which keep theirs (env TABLEHAUL_MODE)',
      ).choices(['replace', 'sync', 'append', 'recreate']),
    )
    .addOption(
      new Option(
        '--verify <check>',
        "none (default) or checksum: compare each table's fingerprint on both sides before its COMMIT, for tables loaded with mode replace or sync (env TABLEHAUL_VERIFY)",
      ).choices(['none', 'checksum']),
    )
    .addOption(
      new Option('--schema <policy>', 'create-missing (default) or none').choices(['create-missing', 'none']),
    )
    .addOption(
      new Option(
        '--objects <which>',
        "tables (default: the tables, and the views over them) or all: also the functions, aggregates, operators and operator classes, types (base types included), domains, casts, extensions, comments of the tables' schemas, the access methods and the large objects (env TABLEHAUL_OBJECTS)",
      ).choices(['tables', 'all']),
    )
    .addOption(
      new Option(
        '--owners <which>',
        'ignore (default) or keep: give copied objects their source owners, roles that must exist on the target (env TABLEHAUL_OWNERS)',
      ).choices(['ignore', 'keep']),
    )
    .addOption(
      new Option(
        '--privileges <which>',
        "ignore (default) or keep: give copied objects exactly the source's privileges (GRANT/REVOKE; env TABLEHAUL_PRIVILEGES)",
      ).choices(['ignore', 'keep']),
    )
    .option('-j, --jobs <n>', 'tables copied at once, largest first (default 4; env TABLEHAUL_JOBS)')
    .addOption(
      new Option('--format <format>', 'COPY format: auto (default), text or binary').choices([
        'auto',
        'text',
        'binary',
      ]),
    )
}

/** --log-dir and the e-mail flags: where the run's log and report go. */
export function withReportOptions(command: Command): Command {
  return command
    .optionsGroup('Log and e-mail:')
    .option('--log-dir <dir>', 'folder of the logs (default ./logs; env TABLEHAUL_LOG_DIR)')
    .option(
      '--email-to <address>',
      'send the report to this address; repeat for more (env TABLEHAUL_EMAIL_TO)',
      collect,
    )
    .option('--email-from <address>', 'sender of the report (env TABLEHAUL_EMAIL_FROM)')
    .option(
      '--smtp-url <url>',
      'SMTP server, smtps://user@host:465 or smtp://host:587 (env TABLEHAUL_SMTP_URL)',
    )
    .option('--outbox <dir>', 'also write the report e-mail as an .eml file into this folder')
}

/** -q/--quiet and --json. */
export function withOutputOptions(command: Command, what = 'the final report'): Command {
  return command
    .optionsGroup('Output:')
    .option('-q, --quiet', 'no progress; print only errors (and the summary when something failed)')
    .option('--json', `print ${what} as JSON on stdout`)
}

export interface OutputOptions {
  readonly quiet: boolean
  readonly json: boolean
}

export function outputOptionsFrom(options: Record<string, unknown>): OutputOptions {
  return { quiet: Boolean(options.quiet), json: Boolean(options.json) }
}

/** Options every command that reads the configuration accepts. */
export interface CommonOptions {
  config?: string
  source?: string
  target?: string
  table?: string[]
  exclude?: string[]
}

/**
 * Adds --config, --source, --target and (unless `tables: false`, for commands whose --table means one
 * table) --table and --exclude to a command.
 */
export function withConfigOptions(command: Command, options: { tables?: boolean } = {}): Command {
  command
    .optionsGroup('Configuration and servers:')
    .option(
      '-c, --config <file>',
      'YAML config file (default: ./tablehaul.yaml if present; env TABLEHAUL_CONFIG)',
    )
    .option(
      '-s, --source <url>',
      'source server URL, postgres://user@host:5432/db (env TABLEHAUL_SOURCE_URL)',
    )
    .option(
      '-t, --target <url>',
      'target server URL; omit it to use the embedded local PostgreSQL (env TABLEHAUL_TARGET_URL)',
    )
  if (options.tables === false) return command
  return command
    .option(
      '--table <pattern>',
      'a table or pattern such as sales.orders, sales.* or *.orders; repeat for more (env TABLEHAUL_TABLES)',
      collect,
    )
    .option(
      '--exclude <pattern>',
      'leave out tables matching the pattern; repeat for more (env TABLEHAUL_EXCLUDE)',
      collect,
    )
}

export function flagsFrom(options: CommonOptions & Record<string, unknown>): ConfigFlags {
  const text = (key: string) => (typeof options[key] === 'string' ? (options[key] as string) : undefined)
  return {
    source: options.source,
    target: options.target,
    tables: options.table,
    exclude: options.exclude,
    mode: text('mode'),
    verify: text('verify'),
    schema: text('schema'),
    objects: text('objects'),
    owners: text('owners'),
    privileges: text('privileges'),
    jobs: text('jobs'),
    format: text('format'),
    logDir: text('logDir'),
    emailTo: options.emailTo as string[] | undefined,
    emailFrom: text('emailFrom'),
    smtpUrl: text('smtpUrl'),
    outbox: text('outbox'),
    localDir: text('localDir'),
  }
}
