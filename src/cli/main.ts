import { Command, CommanderError } from 'commander'
import { readFileSync } from 'node:fs'
import { type ConfigFlags, type LoadedConfig, loadConfig } from '../config/load.js'
import { type ErrorCode, TablehaulError, messageOf, withSqlState } from '../errors.js'
import type { RunReport } from '../report/run-report.js'
import { Redactor, type SecretSettings } from '../report/secrets.js'
import { registerConfigCommands } from './commands/config.js'
import { registerDemoCommand } from './commands/demo.js'
import { registerLocalCommand } from './commands/local.js'
import { registerExportCommand, registerImportCommand } from './commands/csv.js'
import { registerPlanCommand } from './commands/plan.js'
import { registerRunCommand } from './commands/run.js'
import { registerVerifyCommand } from './commands/verify.js'
import { collect } from './options.js'
import { type Output, paint, processOutput } from './output.js'

/** Exit codes, as the README documents them. */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  /** Everything was transferred, but the report could not be sent. */
  NOT_NOTIFIED: 3,
  INTERRUPTED: 130,
} as const

export interface CliContext {
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  readonly out: Output
  /** Set by a command: the process exit code. */
  exitCode: number
  /**
   * Hides the secrets in what the CLI prints itself (errors, the effective configuration): the run's
   * secrets once a configuration is loaded, those of the environment before.
   */
  redactor: Redactor
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
    schema: text('schema'),
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

/** Loads the configuration the command's options and environment give; its secrets are hidden from then on. */
export function loadFrom(
  context: CliContext,
  options: CommonOptions & Record<string, unknown>,
): LoadedConfig {
  const loaded = loadConfig({
    file: options.config,
    env: context.env,
    flags: flagsFrom(options),
    cwd: context.cwd,
  })
  context.redactor = Redactor.forConfig(loaded.config, context.env)
  return loaded
}

/** An error the user fixes in the command line or the configuration (a name that matches nothing included): exit code 2. */
export function isUsageError(code: ErrorCode | undefined): boolean {
  return code === 'CONFIG_INVALID' || code === 'USAGE_INVALID' || code === 'TABLE_NOT_FOUND'
}

/** The exit code a run's report stands for. */
export function exitCodeOf(report: RunReport): number {
  if (report.status === 'interrupted') return EXIT.INTERRUPTED
  if (report.status === 'failed') return isUsageError(report.error?.code) ? EXIT.USAGE : EXIT.FAILED
  return report.notification?.status === 'failed' ? EXIT.NOT_NOTIFIED : EXIT.OK
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

function buildProgram(context: CliContext): Command {
  const program = new Command('tablehaul')
    .description(
      'Copy complete PostgreSQL tables from a server into a local PostgreSQL: streamed COPY, one snapshot,\none transaction per table, a log of every table and an e-mail of every run.',
    )
    .version(version(), '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => context.out.stdout.write(text),
      writeErr: (text) => context.out.stderr.write(text),
      // Help is laid out for the writer it goes to (the README's CLI reference is generated at 100).
      getOutHelpWidth: () => context.out.stdout.columns ?? 100,
      getErrHelpWidth: () => context.out.stderr.columns ?? 100,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
      outputError: (text, write) => write(paint(context.out.stderr, 'red', text)),
    })
    .exitOverride()
    .addHelpText(
      'after',
      `
Quick start:
  tablehaul demo                                   a complete run on sample data, nothing to set up
  tablehaul init                                   write a commented tablehaul.yaml to edit
  tablehaul plan                                   what a run would do, writing nothing
  tablehaul run --source postgres://reader@db.example.com/sales --table 'sales.*'

Exit codes: 0 all copied and reported, 1 finished with failures, 2 bad usage or configuration,
3 copied but the e-mail could not be sent, 130 interrupted.
Run "tablehaul <command> --help" for a command's options and examples.`,
    )
  program.configureHelp({ sortSubcommands: false, showGlobalOptions: false })
  registerRunCommand(program, context)
  registerPlanCommand(program, context)
  registerVerifyCommand(program, context)
  registerExportCommand(program, context)
  registerImportCommand(program, context)
  registerConfigCommands(program, context)
  registerLocalCommand(program, context)
  registerDemoCommand(program, context)
  for (const command of program.commands) command.exitOverride()
  return program
}

/**
 * Runs the CLI with `argv` (without node and the script) and returns the exit code; it never calls
 * process.exit, so tests run it in-process.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: Output = processOutput(),
  cwd = process.cwd(),
): Promise<number> {
  const context: CliContext = {
    env,
    cwd,
    out,
    exitCode: EXIT.OK,
    redactor: Redactor.forConfig(secretsInEnvironment(env), env),
  }
  const program = buildProgram(context)
  if (argv.length === 0) {
    program.outputHelp()
    return EXIT.USAGE
  }
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return context.exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return EXIT.OK
      return EXIT.USAGE
    }
    return reportError(error, context)
  }
}

/** Prints an error that ended a command: one message, what to do, never a secret. */
export function reportError(error: unknown, context: CliContext): number {
  const redactor = context.redactor
  const stderr = context.out.stderr
  if (error instanceof TablehaulError) {
    stderr.write(
      `${paint(stderr, 'red', 'tablehaul: error:')} ${redactor.text(withSqlState(error.message, error.sqlState))}\n`,
    )
    if (error.hint) stderr.write(`${paint(stderr, 'bold', 'what to do:')} ${redactor.text(error.hint)}\n`)
    return isUsageError(error.code) ? EXIT.USAGE : EXIT.FAILED
  }
  stderr.write(`${paint(stderr, 'red', 'tablehaul: unexpected error:')} ${redactor.text(messageOf(error))}\n`)
  if (error instanceof Error && error.stack && context.env.TABLEHAUL_DEBUG)
    stderr.write(`${redactor.text(error.stack)}\n`)
  return EXIT.FAILED
}

/** The secrets the environment gives the configuration (what `loadConfig` reads). */
function secretsInEnvironment(env: NodeJS.ProcessEnv): SecretSettings {
  return {
    source: { url: env.TABLEHAUL_SOURCE_URL, password: env.TABLEHAUL_SOURCE_PASSWORD },
    target: { url: env.TABLEHAUL_TARGET_URL, password: env.TABLEHAUL_TARGET_PASSWORD },
    email: { smtp: env.TABLEHAUL_SMTP_URL },
  }
}

/** The bin's entry: runs main() on the process and exits with its code. */
export async function runCli(): Promise<void> {
  // `tablehaul plan | head` closes the pipe early: that is the reader's choice, not an error to show.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      throw error
    })
  }
  const code = await main(process.argv.slice(2))
  process.exitCode = code
  // Streams are flushed by now; pooled sockets or timers left by a library must not keep a cron job alive.
  setTimeout(() => process.exit(code), 100).unref()
}
