import type { Command } from 'commander'
import { alignColumns, formatCount, formatDuration, plural } from '../../format.js'
import { describeError } from '../../errors.js'
import { type TableComparison, Verifier, type VerifyReport } from '../../steps/verify/verifier.js'
import { type CliContext, EXIT, loadFrom } from '../context.js'
import { withConfigOptions } from '../options.js'
import { paint, type Writer } from '../output.js'

export function registerVerifyCommand(program: Command, context: CliContext): void {
  const command = program
    .command('verify')
    .summary('compare source and target: row counts, and with --checksum every row')
    .description(
      `Compare the configured tables between source and target: row counts always, and with --checksum an order-independent hash of every row's text form, computed by each server under the same session settings. The source is read from one snapshot. One line per table; exit 1 on any difference. Nothing is written. Tables loaded with mode: append hold more rows than the source by design.`,
    )
  withConfigOptions(command)
    .optionsGroup('Comparison:')
    .option('--checksum', 'also compare a hash of every row (reads every row on both sides)')
    .option('-j, --jobs <n>', 'tables compared at once (default 4; env TABLEHAUL_JOBS)')
    .optionsGroup('Output:')
    .option('-q, --quiet', 'print only the tables that differ')
    .option('--json', 'print the comparison as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul verify                                 row counts of every table in ./tablehaul.yaml
  $ tablehaul verify --checksum --table sales.orders
  $ tablehaul run --config nightly.yaml && tablehaul verify --config nightly.yaml --checksum --quiet

Exit codes: 0 every table is the same, 1 a table differs, is missing on the target or could not be
read, 2 bad usage or configuration.`,
    )
    .action(async (options: Record<string, unknown>) => {
      const { config } = loadFrom(context, options)
      const checksum = Boolean(options.checksum)
      const report = await new Verifier(config).verify({ checksum })
      if (options.json) context.out.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
      else context.out.stdout.write(renderVerify(report, context.out.stdout, Boolean(options.quiet)))
      context.exitCode = report.status === 'same' ? EXIT.OK : EXIT.FAILED
    })
}

const LABEL = { same: 'SAME', different: 'DIFFERENT', missing: 'MISSING', failed: 'FAILED' } as const
const COLOR = { same: 'green', different: 'red', missing: 'red', failed: 'red' } as const
const RANK = { failed: 0, missing: 1, different: 2, same: 3 } as const

/** One line per table, differences first, then the verdict and what to do. */
export function renderVerify(report: VerifyReport, writer: Writer, quiet = false): string {
  const lines: string[] = []
  const tables = [...report.tables]
    .sort((a, b) => RANK[a.status] - RANK[b.status] || a.table.localeCompare(b.table))
    .filter((t) => !quiet || t.status !== 'same')
  const rows = tables.map((t: TableComparison) => [
    paint(writer, COLOR[t.status], LABEL[t.status]),
    t.table,
    rowsOf(t.sourceRows),
    rowsOf(t.targetRows),
    report.checksum ? checksumOf(t) : '',
    detailOf(t),
  ])
  if (rows.length > 0) {
    const header = ['STATUS', 'TABLE', 'SOURCE ROWS', 'TARGET ROWS', report.checksum ? 'CHECKSUM' : '', '']
    lines.push(...alignColumns([header.map((h) => paint(writer, 'dim', h)), ...rows], [2, 3]))
  }
  for (const warning of report.warnings) lines.push(`${paint(writer, 'yellow', 'note')}: ${warning}`)
  const { totals } = report
  const what = report.checksum ? 'row counts and checksums' : 'row counts'
  if (!quiet || report.status !== 'same') {
    if (lines.length > 0) lines.push('')
    if (report.status === 'same') {
      lines.push(
        `${paint(writer, 'green', 'SAME')}  ${plural(totals.tables, 'table')}: ${what} match (${formatDuration(report.durationMs)})`,
      )
    } else {
      const parts = [
        totals.different && `${totals.different} different`,
        totals.missing && `${totals.missing} missing on the target`,
        totals.failed && `${totals.failed} could not be read`,
      ].filter(Boolean)
      lines.push(
        `${paint(writer, 'red', 'DIFFERENT')}  ${parts.join(', ')} of ${totals.tables} tables (${what}, ${formatDuration(report.durationMs)})`,
      )
    }
    lines.push(
      `source    ${report.source}${report.snapshotTakenAt ? ` (snapshot ${report.snapshotTakenAt})` : ''}`,
    )
    lines.push(`target    ${report.target}`)
    if (report.status !== 'same') {
      const names = report.tables.filter((t) => t.status === 'different' || t.status === 'missing')
      lines.push(
        '',
        names.length > 0
          ? `What to do: copy them again: \`tablehaul run\` with the same source, target and config${names.length <= 3 ? `, and ${names.map((t) => `--table '${t.table}'`).join(' ')}` : ''}${names.some((t) => t.status === 'different') ? ' (a target table written to since its last copy differs by design)' : ''}.`
          : 'What to do: fix what the FAILED lines say, then verify again.',
      )
    }
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : ''
}

function rowsOf(rows: number | null): string {
  return rows === null ? '-' : formatCount(rows)
}

function checksumOf(t: TableComparison): string {
  if (!t.sourceChecksum && !t.targetChecksum) return '-'
  if (t.sourceChecksum === t.targetChecksum) return t.sourceChecksum ?? '-'
  return `${t.sourceChecksum ?? '-'} ≠ ${t.targetChecksum ?? '-'}`
}

function detailOf(t: TableComparison): string {
  if (t.error) return describeError(t.error)
  return t.detail ?? ''
}
