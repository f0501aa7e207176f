import { Command, CommanderError } from 'commander'
import { TablehaulError, messageOf, withSqlState } from '../errors.js'
import { Redactor, type SecretSettings } from '../report/secrets.js'
import { errorInfo } from '../report/run-report.js'
import { registerConfigCommands } from './commands/config.js'
import { registerDemoCommand } from './commands/demo.js'
import { registerLocalCommand } from './commands/local.js'
import { registerExportCommand, registerImportCommand } from './commands/csv.js'
import { registerPlanCommand } from './commands/plan.js'
import { registerRunCommand } from './commands/run.js'
import { registerVerifyCommand } from './commands/verify.js'
import { type CliContext, EXIT, isUsageError, version } from './context.js'
import { type Output, paint, processOutput } from './output.js'
import { escapeControlByLine } from '../text.js'

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
      // Help is laid out for the writer it goes to (docs/reference/cli.md is generated at 100).
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
  tablehaul run --mode sync                        nightly: write only the rows that differ (tables
                                                   need a primary key; try it: tablehaul demo --sync)

Exit codes: 0 all copied and reported, 1 finished with failures, 2 bad usage or configuration,
3 copied but the e-mail could not be sent or the log written, 130 interrupted.
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
      `${paint(stderr, 'red', 'tablehaul: error:')} ${escapeControlByLine(redactor.text(withSqlState(error.message, error.sqlState)))}\n`,
    )
    if (error.hint)
      stderr.write(
        `${paint(stderr, 'bold', 'what to do:')} ${escapeControlByLine(redactor.text(error.hint))}\n`,
      )
    return isUsageError(error.code) ? EXIT.USAGE : EXIT.FAILED
  }
  // A server's error that no step explained (a catalog read of `plan` or `verify` on a server short of
  // memory or temporary file space, a connection ended by an administrator): which server, and what to do.
  const info = errorInfo(error)
  if (info.code !== 'INTERNAL') {
    return reportError(
      new TablehaulError(info.code, info.message, { cause: error, hint: info.hint }),
      context,
    )
  }
  stderr.write(
    `${paint(stderr, 'red', 'tablehaul: unexpected error:')} ${escapeControlByLine(redactor.text(messageOf(error)))}\n`,
  )
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
  // `tablehaul plan | head` closes the pipe early: that is the reader's choice, not an error to show. Not so
  // while `export --file -` writes there: that export fails, and is logged and mailed (its pipe listens too).
  for (const stream of [process.stdout, process.stderr]) {
    const onError = (error: NodeJS.ErrnoException) => {
      if (stream.listenerCount('error') > 1) return
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      throw error
    }
    stream.on('error', onError)
  }
  const code = await main(process.argv.slice(2))
  process.exitCode = code
  // Streams are flushed by now; pooled sockets or timers left by a library must not keep a cron job alive.
  setTimeout(() => process.exit(code), 100).unref()
}
