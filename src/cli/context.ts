import { readFileSync } from 'node:fs'
import { type LoadedConfig, loadConfig } from '../config/load.js'
import type { ErrorCode } from '../errors.js'
import type { RunReport } from '../report/run-report.js'
import { Redactor } from '../report/secrets.js'
import { type CommonOptions, flagsFrom } from './options.js'
import type { Output } from './output.js'

/*
 * What every command shares: the context it runs in (environment, output, the exit code it sets), the exit
 * codes, and loading the configuration from its options. Commands import this module, never main.ts.
 */

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
  // Copied, but the report did not fully get out: the e-mail not sent, or a log not written in full.
  const unreported = report.notification?.status === 'failed' || (report.logFailures?.length ?? 0) > 0
  return unreported ? EXIT.NOT_NOTIFIED : EXIT.OK
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}
