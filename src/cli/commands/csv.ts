import path from 'node:path'
import { Writable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { type Command, Option } from 'commander'
import { TableRef } from '../../db/table-ref.js'
import { TablehaulError } from '../../errors.js'
import { CsvExport, CsvImport } from '../../csv/csv-files.js'
import { STDOUT } from '../../csv/export-destination.js'
import { type CliContext } from '../context.js'
import type { Writer } from '../output.js'
import { outputOptionsFrom, withOutputOptions, withReportOptions, withConfigOptions } from '../options.js'
import { loadOrReport, runReported } from './run.js'

export function registerExportCommand(program: Command, context: CliContext): void {
  const command = program
    .command('export')
    .summary("write a query's result (or a table) from the source into a CSV file")
    .description(
      `Write the result of a query on the source into a CSV file with a header line, streamed with constant memory; a file name ending in .gz is gzip-compressed. The query runs read-only, in one snapshot. A regular file appears only once complete (an existing one is replaced then, keeping its mode; a new one is created 0600); a character device or a FIFO is written through, and --file - writes to stdout. A symbolic link is followed when it belongs to you or to root (the file it leads to is replaced, the link stays); a folder, a socket or a block device is refused. Logged and e-mailed like a run.`,
    )
  withConfigOptions(command, { tables: false })
    .optionsGroup('Export:')
    .option('--query <sql>', 'the SELECT whose result is written (your own SQL, run on the source)')
    .option('--table <schema.table>', 'shorthand for --query "select * from schema.table"')
    .requiredOption('-f, --file <file>', 'the CSV file to write (- for stdout); .gz compresses it')
  withOutputOptions(withReportOptions(command), 'the final report')
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul export --query "select * from sales.stores_sales" --file sales_stores_sales.csv
  $ tablehaul export --table sales.orders --file orders.csv.gz
  $ tablehaul export --table sales.orders --file - | gzip > orders.csv.gz
  $ tablehaul export -s postgres://reader@db.example.com/sales \\
      --query "select id, region, amount from sales.stores_sales where region = 'BR'" --file br.csv

In the file, NULL is an empty field and an empty string is "" (PostgreSQL's CSV rules), so
\`tablehaul import\` reads it back exactly.
Exit codes: 0 written and reported, 1 failed (no file was written), 2 bad usage or configuration,
3 written but the e-mail could not be sent or the log written, 130 interrupted.`,
    )
    .action(async (options: Record<string, unknown>) => {
      const query = exportQuery(options)
      const config = await loadOrReport(context, { ...options, table: undefined }, 'export')
      if (!config) return
      const file = String(options.file)
      if (file === STDOUT && options.json) {
        throw new TablehaulError('USAGE_INVALID', '--json and --file - both write to stdout', {
          hint: 'leave out --json (the summary goes to stderr), or give --file a file name',
        })
      }
      const job = new CsvExport(config, {
        query,
        file: file === STDOUT ? STDOUT : path.resolve(context.cwd, file),
        stdout: writableOf(context.out.stdout),
      })
      const { code } = await runReported(job, context, outputOptionsFrom(options))
      context.exitCode = code
    })
}

export function registerImportCommand(program: Command, context: CliContext): void {
  const command = program
    .command('import')
    .summary('load a CSV file into a table of the target, in one transaction')
    .description(
      `Load a CSV file with a header line into an existing table of the target, streamed with constant memory; a file name ending in .gz is decompressed. The header's names are matched to the table's columns (columns the file leaves out get their default). One transaction: with --mode replace the old rows are removed in it, so a file that fails half-way leaves the table exactly as it was. A malformed line is reported with its line number. Logged and e-mailed like a run.`,
    )
  withConfigOptions(command, { tables: false })
    .optionsGroup('Import:')
    .requiredOption('--table <schema.table>', 'the target table (quote mixed case: sales."Orders")')
    .requiredOption('-f, --file <file>', 'the CSV file to read; .gz is decompressed')
    .addOption(
      new Option('--mode <mode>', 'replace: the table ends holding exactly the file; append: rows are added')
        .choices(['replace', 'append'])
        .default('replace'),
    )
  withOutputOptions(withReportOptions(command), 'the final report')
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul import --table sales.stores_sales --file sales_stores_sales.csv
  $ tablehaul import --table sales.orders --file orders.csv.gz --mode append
  $ tablehaul import -t postgres://localhost/reporting --table 'sales."Orders"' --file orders.csv

Without --target the table is in the embedded local PostgreSQL.
Exit codes: 0 loaded and reported, 1 failed (the table kept its previous rows), 2 bad usage or
configuration, 3 loaded but the e-mail could not be sent or the log written, 130 interrupted.`,
    )
    .action(async (options: Record<string, unknown>) => {
      const config = await loadOrReport(context, { ...options, table: undefined, mode: undefined }, 'import')
      if (!config) return
      const job = new CsvImport(config, {
        table: String(options.table),
        file: path.resolve(context.cwd, String(options.file)),
        mode: options.mode === 'append' ? 'append' : 'replace',
      })
      const { code } = await runReported(job, context, outputOptionsFrom(options))
      context.exitCode = code
    })
}

/** The CLI's stdout as a stream: the process's own, or a test's text writer. */
function writableOf(writer: Writer): Writable {
  if (writer instanceof Writable) return writer
  const decoder = new StringDecoder('utf8')
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      writer.write(decoder.write(chunk))
      done()
    },
    final(done) {
      writer.write(decoder.end())
      done()
    },
  })
}

function exportQuery(options: Record<string, unknown>): string {
  const query = typeof options.query === 'string' ? options.query : undefined
  const table = typeof options.table === 'string' ? options.table : undefined
  if ((query === undefined) === (table === undefined)) {
    throw new TablehaulError('USAGE_INVALID', 'export needs either --query or --table (one of them)', {
      hint: 'e.g. tablehaul export --query "select * from sales.orders" --file orders.csv',
    })
  }
  if (query !== undefined) return query
  try {
    return `SELECT * FROM ${TableRef.parse(table!).sql}`
  } catch (error) {
    throw new TablehaulError('USAGE_INVALID', `--table: ${(error as Error).message}`, {
      hint: 'write schema.table, e.g. sales.orders (quote mixed case: sales."Orders")',
    })
  }
}
