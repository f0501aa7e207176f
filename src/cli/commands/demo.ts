import type { Command } from 'commander'
import path from 'node:path'
import { type ConfigInput, configSchema } from '../../config/schema.js'
import { DemoSource } from '../../demo/demo-source.js'
import { LocalServer } from '../../local/local-server.js'
import { type CliContext, EXIT, loadFrom } from '../context.js'
import { paint } from '../output.js'
import { runTransfer } from './run.js'

export function registerDemoCommand(program: Command, context: CliContext): void {
  program
    .command('demo')
    .summary('a complete run on sample data: nothing to set up')
    .description(
      `Starts a throwaway "remote" PostgreSQL filled with a sample sales schema (six tables, ~377,000 rows), copies it into tablehaul's embedded local PostgreSQL, writes the log into ./logs and the run's e-mail into ./outbox as an .eml file, then shows where each result is. With --sync, it then changes a few hundred rows on the source and runs again with mode: sync, which moves only those.`,
    )
    .option('--log-dir <dir>', 'folder of the logs', 'logs')
    .option('--outbox <dir>', 'folder the e-mail is written into', 'outbox')
    .option('-j, --jobs <n>', 'tables copied at once', '4')
    .option(
      '--sync',
      'then change a few rows on the source and sync them: a nightly refresh, as mode: sync does it',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx tablehaul demo && psql "$(npx tablehaul local url)" -c "select count(*) from sales.stores_sales"\n  $ npx tablehaul demo --sync',
    )
    .action(async (options: { logDir: string; outbox: string; jobs: string; sync?: boolean }) => {
      const stderr = context.out.stderr
      const say = (text: string) => stderr.write(`${text}\n`)
      const source = new DemoSource()
      try {
        const steps = options.sync ? 4 : 3
        say(paint(stderr, 'bold', 'tablehaul demo'))
        say(`1/${steps} starting a throwaway source server and filling it with sample sales data…`)
        await source.start()
        await source.fill()
        // Where the local server lives is the user's (local: of tablehaul.yaml, TABLEHAUL_LOCAL_DIR), so
        // that `tablehaul local url` finds the copy; everything else is the demo's own.
        const settings = loadFrom(context, {}).config.local
        say(
          `2/${steps} starting the embedded local PostgreSQL (created in ${path.relative(context.cwd, settings.dir) || '.'} on first use)…`,
        )
        const local = new LocalServer({ dir: settings.dir, port: settings.port })
        await local.start()
        say(`3/${steps} copying every table of the source into it…\n`)
        const config = configSchema.parse({
          source: { url: source.url },
          jobs: options.jobs,
          log: { dir: path.resolve(context.cwd, options.logDir) },
          email: {
            outbox: path.resolve(context.cwd, options.outbox),
            to: ['dba@example.com'],
            from: 'tablehaul-demo@localhost',
          },
          local: settings,
        } satisfies ConfigInput)
        let { code, report } = await runTransfer(config, context, { quiet: false, json: false })
        if (options.sync && code === EXIT.OK) {
          say(
            `\n4/${steps} changing a few hundred rows on the source, then syncing (mode: sync: only the rows that differ move)…\n`,
          )
          await source.change()
          ;({ code, report } = await runTransfer({ ...config, mode: 'sync' }, context, {
            quiet: false,
            json: false,
          }))
        }
        const status = await local.status()
        say('')
        say(paint(stderr, 'bold', 'Where to look:'))
        say(`  the copy     ${status.url}   (with its password: npx tablehaul local url)`)
        say(
          `  the logs     ${path.relative(context.cwd, path.join(config.log.dir, 'tablehaul.log'))} (one line per table per run)`,
        )
        say(
          `               ${report.logFile ? path.relative(context.cwd, report.logFile) : ''} (every event of this run, NDJSON)`,
        )
        const mail =
          report.notification?.status === 'sent'
            ? path.relative(context.cwd, report.notification.detail)
            : 'not written'
        say(`  the e-mail   ${mail} (open it in a mail client)`)
        say(`  query it     psql "$(npx tablehaul local url)" -c 'select count(*) from sales.stores_sales'`)
        say(`  stop it      npx tablehaul local stop`)
        if (!options.sync)
          say(
            `  a sync       npx tablehaul demo --sync (changes a few rows on the source, then moves only those)`,
          )
        context.exitCode = code
      } finally {
        await source.destroy()
      }
      if (context.exitCode !== EXIT.OK)
        say(paint(stderr, 'red', `the demo run ended with exit code ${context.exitCode}`))
    })
}
