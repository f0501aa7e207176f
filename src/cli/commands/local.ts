import type { Command } from 'commander'
import { TablehaulError } from '../../errors.js'
import { LocalServer, databaseNamedBy } from '../../local/local-server.js'
import { reportingSettings } from '../../config/load.js'
import type { Config } from '../../config/schema.js'
import { type CliContext, EXIT, loadFrom } from '../context.js'

export function registerLocalCommand(program: Command, context: CliContext): void {
  const local = program
    .command('local')
    .summary("manage tablehaul's embedded local PostgreSQL (start, stop, status, url, remove)")
    .description(
      `tablehaul's own PostgreSQL, used as the target when none is configured. It lives where the configuration's local.dir says (./.tablehaul by default), listens on 127.0.0.1 only, and keeps running after a run so you can query the copy.`,
    )
    .option(
      '-c, --config <file>',
      'YAML config file whose local: section is used (default: ./tablehaul.yaml if present; env TABLEHAUL_CONFIG)',
    )
    .option('--dir <dir>', 'its folder, instead of local.dir (default ./.tablehaul; env TABLEHAUL_LOCAL_DIR)')
    .option(
      '--source <url>',
      "the source whose local copy `url` names (default: the config's source.url; env TABLEHAUL_SOURCE_URL)",
    )
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul local start
  $ psql "$(tablehaul local url)"          connect to the copy
  $ tablehaul local stop
  $ tablehaul local remove --yes          delete it and its data

Exit codes of status: 0 running, 1 stopped or not created yet.`,
    )
  const settingsOf = () =>
    localSettings(context, local.opts<{ config?: string; dir?: string; source?: string }>())
  const server = () => {
    const { local: settings } = settingsOf().config
    return new LocalServer({ dir: settings.dir, port: settings.port })
  }
  const out = context.out.stdout
  local
    .command('start')
    .description('create (on first use) and start the local PostgreSQL')
    .action(async () => {
      const localServer = server()
      const result = await localServer.start()
      const status = await localServer.status()
      out.write(
        `${result.created ? 'created and started' : result.started ? 'started' : 'already running'}: ${status.url}\n`,
      )
    })
  local
    .command('stop')
    .description('stop the local PostgreSQL')
    .action(async () => {
      out.write((await server().stop()) ? 'stopped\n' : 'not running\n')
    })
  local
    .command('status')
    .description('whether it exists and runs, where, and its URL (without password); exit 1 unless it runs')
    .action(async () => {
      const status = await server().status()
      if (!status.initialised) {
        out.write(`not created yet (it is created by \`tablehaul local start\` or a run without a target)\n`)
        context.exitCode = EXIT.FAILED
        return
      }
      out.write(`${status.running ? 'running' : 'stopped'}\nurl   ${status.url}\ndata  ${status.dataDir}\n`)
      context.exitCode = status.running ? EXIT.OK : EXIT.FAILED
    })
  local
    .command('remove')
    .description('stop it and delete its data folder, with every copy in it')
    .option('--yes', 'confirm the deletion')
    .action(async (options: { yes?: boolean }) => {
      const localServer = server()
      const status = await localServer.status()
      if (!status.initialised) {
        out.write('nothing to remove: the local PostgreSQL has not been created\n')
        return
      }
      if (!options.yes) {
        throw new TablehaulError(
          'USAGE_INVALID',
          `this deletes the local PostgreSQL and every table copied into it (${status.dataDir})`,
          { hint: 'run `tablehaul local remove --yes` to confirm' },
        )
      }
      out.write(`removed ${await localServer.remove()}\n`)
    })
  local
    .command('url')
    .description(
      "print the connection URL of the source's local copy (a database named after the source's), password included, for psql or other tools",
    )
    .action(() => {
      const { config, sourceUrl, unread } = settingsOf()
      // Each source database is copied into a local database of its own name. Without the source's URL
      // that name is unknown: the server's own database (`postgres`) would look like an empty copy.
      if (unread && !sourceUrl)
        throw new TablehaulError(
          'CONFIG_INVALID',
          `the local copy is named after the source's database, and source.url cannot be read: ${unread.message}`,
          {
            hint: 'set what the lines above name (as the job that runs tablehaul does), or give the source: tablehaul local url --source postgres://user@host/<database>',
          },
        )
      const localServer = new LocalServer({ dir: config.local.dir, port: config.local.port })
      const url = sourceUrl ? localServer.urlFor(databaseNamedBy(sourceUrl)) : localServer.url()
      if (!url)
        throw new TablehaulError('LOCAL_SERVER_FAILED', 'the local PostgreSQL has not been created yet', {
          hint: 'run tablehaul local start',
        })
      out.write(`${url}\n`)
    })
}

/**
 * The configuration's local: section (and the source's URL, which names the local copy). The embedded server
 * needs nothing else, so a configuration that does not load for another reason (a password variable only
 * the cron job sets) does not keep anyone from stopping or finding it; `unread` is that reason, when a
 * source was configured.
 */
function localSettings(
  context: CliContext,
  options: { config?: string; dir?: string; source?: string },
): { config: Config; sourceUrl: string | undefined; unread?: TablehaulError } {
  try {
    const { config } = loadFrom(context, {
      config: options.config,
      localDir: options.dir,
      source: options.source,
    })
    return { config, sourceUrl: config.source?.url }
  } catch (error) {
    if (!(error instanceof TablehaulError) || error.code !== 'CONFIG_INVALID') throw error
    const settings = reportingSettings({
      file: options.config,
      env: context.env,
      flags: { localDir: options.dir, source: options.source },
      cwd: context.cwd,
    })
    if (!settings?.localValid) throw error
    // The URL of the source may still be readable when only its password's variable is missing.
    return {
      config: settings.config,
      sourceUrl: settings.sourceUrl,
      unread: settings.sourceGiven ? error : undefined,
    }
  }
}
