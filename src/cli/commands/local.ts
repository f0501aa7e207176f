import type { Command } from 'commander'
import path from 'node:path'
import { TablehaulError } from '../../errors.js'
import { LocalServer } from '../../local/local-server.js'
import type { CliContext } from '../main.js'

export function registerLocalCommand(program: Command, context: CliContext): void {
  const local = program
    .command('local')
    .summary("manage tablehaul's embedded local PostgreSQL (start, stop, status, url)")
    .description(
      `tablehaul's own PostgreSQL, used as the target when none is configured. It lives in ./.tablehaul (or --dir), listens on 127.0.0.1 only, and keeps running after a run so you can query the copy.`,
    )
    .option('--dir <dir>', 'its folder (default ./.tablehaul; env TABLEHAUL_LOCAL_DIR)')
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul local start
  $ psql "$(tablehaul local url)"          connect to the copy
  $ tablehaul local stop`,
    )
  const server = () => {
    const options = local.opts<{ dir?: string }>()
    return new LocalServer({
      dir: path.resolve(context.cwd, options.dir ?? context.env.TABLEHAUL_LOCAL_DIR ?? '.tablehaul'),
    })
  }
  const out = context.out.stdout
  local
    .command('start')
    .description('create (on first use) and start the local PostgreSQL')
    .action(async () => {
      const result = await server().start()
      const status = await server().status()
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
    .description('whether it exists and runs, where, and its URL (without password)')
    .action(async () => {
      const status = await server().status()
      if (!status.initialised) {
        out.write(`not created yet (it is created by \`tablehaul local start\` or a run without a target)\n`)
        context.exitCode = 3
        return
      }
      out.write(`${status.running ? 'running' : 'stopped'}\nurl   ${status.url}\ndata  ${status.dataDir}\n`)
      context.exitCode = status.running ? 0 : 3
    })
  local
    .command('url')
    .description('print its connection URL, password included, for psql or other tools')
    .action(() => {
      const url = server().url()
      if (!url)
        throw new TablehaulError('LOCAL_SERVER_FAILED', 'the local PostgreSQL has not been created yet', {
          hint: 'run tablehaul local start',
        })
      out.write(`${url}\n`)
    })
}
