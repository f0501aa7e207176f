import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { configJsonSchema } from '../../config/schema.js'
import { redactUrl } from '../../db/database.js'
import { TablehaulError } from '../../errors.js'
import { isDiskFull, writeFailureText } from '../../files.js'
import { type CliContext, loadFrom } from '../context.js'
import { withConfigOptions } from '../options.js'

export const STARTER_CONFIG = `# tablehaul.yaml: what to copy, from where, to where, and who hears about it.
# Every key: \`tablehaul config --schema\`. Check it: \`tablehaul plan\`. Run it: \`tablehaul run\`.

source:
  url: postgres://reader@db.example.com:5432/sales?sslmode=require
  password: \${SALES_DB_PASSWORD}        # from the environment; or PGPASSWORD / ~/.pgpass

# target:                               # omit to use tablehaul's embedded local PostgreSQL
#   url: postgres://localhost:5432/sales_copy

tables:                                 # omit to copy every table of the source
  - sales.*                             # a pattern
  # - sales.stores_sales                # one table
  # - { name: sales.orders, where: "created_at >= now() - interval '90 days'" }
  # - { query: "select * from sales.stores_sales where region = 'BR'", into: reporting.stores_br }
exclude: []                             # e.g. [sales.tmp_*]

mode: replace              # replace: target ends identical to source | sync: the same, writing only
                           # the rows that differ (tables need a primary key) | append | recreate
# verify: checksum         # compare each table with the source before its COMMIT (replace, sync)
schema: create-missing     # create missing tables from the source definition | none
jobs: 4                    # tables copied at once, largest first

log:
  dir: ./logs              # tablehaul-<run>.ndjson per run, and tablehaul.log across runs

# email:
#   smtp: smtps://alerts@example.com:\${SMTP_PASSWORD}@smtp.example.com:465
#   from: tablehaul@example.com
#   to: [dba@example.com]
#   on: always             # always | failure | never
`

export function registerConfigCommands(program: Command, context: CliContext): void {
  const config = program
    .command('config')
    .summary('show the effective configuration, or its JSON Schema')
    .description(
      'Show the effective configuration (file < environment < flags) with secrets hidden, or print its JSON Schema for editors.',
    )
  withConfigOptions(config)
    .option('--schema', 'print the JSON Schema of tablehaul.yaml (for editor completion and checks)')
    .option('--show', 'print the effective configuration, secrets hidden (the default)')
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul config --show --config nightly.yaml
  $ tablehaul config --schema > tablehaul.schema.json
      then, in VS Code with the YAML extension, start tablehaul.yaml with:
      # yaml-language-server: $schema=./tablehaul.schema.json`,
    )
    .action(async (options: Record<string, unknown>) => {
      if (options.schema) {
        context.out.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`)
        return
      }
      const { config: effective, file } = loadFrom(context, options)
      const shown = context.redactor.value({
        ...effective,
        source: effective.source && {
          url: redactUrl(effective.source.url),
          ...(effective.source.password ? { password: '***' } : {}),
        },
        target: effective.target && {
          url: redactUrl(effective.target.url),
          ...(effective.target.password ? { password: '***' } : {}),
        },
        email: effective.email && {
          ...effective.email,
          smtp: effective.email.smtp && redactUrl(effective.email.smtp),
        },
      })
      context.out.stdout.write(
        `# effective configuration${file ? ` (file: ${file})` : ''}; durations in ms, sizes in bytes\n`,
      )
      const { stringify } = await import('yaml')
      context.out.stdout.write(stringify(shown))
    })

  program
    .command('init')
    .summary('write a commented starter tablehaul.yaml')
    .description(
      'Write a commented starter configuration: every section with its defaults and a word on each key. Set source.url (and target.url, or leave it out for the embedded local PostgreSQL), then check it with `tablehaul plan`.',
    )
    .option('-f, --force', 'overwrite an existing file')
    .option('-o, --output <file>', 'where to write it', 'tablehaul.yaml')
    .addHelpText('after', '\nExample:\n  $ tablehaul init && $EDITOR tablehaul.yaml && tablehaul plan')
    .action((options: { force?: boolean; output: string }) => {
      const file = path.resolve(context.cwd, options.output)
      if (existsSync(file) && !options.force) {
        throw new TablehaulError('USAGE_INVALID', `${options.output} already exists`, {
          hint: 'edit it, or run tablehaul init --force to replace it',
        })
      }
      // Written beside it and renamed: a disk that fills up mid-write leaves neither an empty file (which the
      // next init would refuse as existing) nor, with --force, a config cut short.
      const partial = `${file}.${process.pid}.tmp`
      try {
        writeFileSync(partial, STARTER_CONFIG, { flag: 'wx' })
        renameSync(partial, file)
      } catch (error) {
        rmSync(partial, { force: true })
        throw new TablehaulError(
          'USAGE_INVALID',
          `cannot write ${options.output}: ${writeFailureText(error)}`,
          {
            hint: isDiskFull(error)
              ? `free space on its disk, or give -o/--output a file on a disk with room`
              : 'give -o/--output a file in a folder that exists and that you can write to',
          },
        )
      }
      context.out.stdout.write(
        `wrote ${options.output}: set source.url, then check it with \`tablehaul plan\`\n`,
      )
    })
}
