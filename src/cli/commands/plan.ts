import type { Command } from 'commander'
import { alignColumns, formatBytes, formatCount, plural } from '../../format.js'
import { describeError } from '../../errors.js'
import { escapeControl } from '../../text.js'
import {
  planTransfer,
  type PlanObjects,
  type PlanTable,
  type TransferPlan,
} from '../../steps/plan/plan-transfer.js'
import { type CliContext, EXIT, loadFrom } from '../context.js'
import { withLoadOptions, withConfigOptions } from '../options.js'
import { paint, type Writer } from '../output.js'

export function registerPlanCommand(program: Command, context: CliContext): void {
  const command = program
    .command('plan')
    .summary('show what a run would do, writing nothing (a pre-flight check)')
    .description(
      `Resolve everything a run would do, against both servers, and write nothing: no table, schema, lock or bookkeeping on the target, no log, no e-mail. For each table: estimated rows and size, load mode, whether the target table is missing, compatible or incompatible (and why), COPY format, and the order tables start in (with mode: sync, whether each table would compare only the rows written since the last copy or every row, and why); then the views, and with objects: all what it adds besides them (per kind: how many a run would create, keep, replace or leave different; each one with --verbose). With owners: keep or privileges: keep, a role missing on the target is an error here too. Exits 1 when a table could not be copied, 2 when the configuration names a table that does not exist: use it in cron before \`tablehaul run\`.`,
    )
  withLoadOptions(withConfigOptions(command))
    .optionsGroup('Output:')
    .option('--json', 'print the plan as JSON on stdout')
    .option('-q, --quiet', 'print nothing when every table can be copied (problems are still printed)')
    .option('-v, --verbose', 'with objects: all, also name each object it would add (--json always does)')
    .addHelpText(
      'after',
      `
Examples:
  $ tablehaul plan                                  the plan of ./tablehaul.yaml
  $ tablehaul plan --source postgres://reader@db.example.com/sales --table 'sales.*' --exclude 'sales.tmp_*'
  $ tablehaul plan --config nightly.yaml --json | jq '.tables[] | select(.problem)'
  $ tablehaul plan --config nightly.yaml --quiet && tablehaul run --config nightly.yaml --quiet

Exit codes: 0 every table can be copied, 1 a table could not be (see the reasons), 2 bad usage or
configuration, or a table name that matches nothing on the source.`,
    )
    .action(async (options: Record<string, unknown>) => {
      const { config } = loadFrom(context, options)
      const plan = await planTransfer(config)
      if (options.json) context.out.stdout.write(`${JSON.stringify(plan, null, 2)}\n`)
      else if (!(options.quiet && plan.runnable))
        context.out.stdout.write(renderPlan(plan, context.out.stdout, { verbose: Boolean(options.verbose) }))
      context.exitCode = plan.runnable ? EXIT.OK : EXIT.FAILED
    })
}

const STATE_COLOR = { missing: 'cyan', compatible: 'green', incompatible: 'red' } as const

/** The plan as people read it: one line per table in start order, the problems, then the verdict. */
export function renderPlan(
  plan: TransferPlan,
  writer: Writer,
  options: { readonly verbose?: boolean } = {},
): string {
  const lines: string[] = [`source    ${plan.source}`, `target    ${plan.target}`]
  lines.push(
    plan.snapshot.exportable
      ? 'snapshot  every table is read from one source snapshot'
      : `snapshot  ${paint(writer, 'yellow', plan.snapshot.note ?? 'not available')}`,
  )
  lines.push('')
  if (plan.tables.length === 0) {
    lines.push('No tables: the source has no table that the configuration selects.')
  } else {
    const showSource = plan.tables.some((t) => t.source !== t.table)
    const header = [
      '#',
      'TABLE',
      ...(showSource ? ['FROM'] : []),
      'ROWS~',
      'SIZE~',
      'MODE',
      'TARGET',
      'ACTION',
      'FORMAT',
    ].map((h) => paint(writer, 'dim', h))
    const rows = plan.tables.map((t: PlanTable) => [
      String(t.order),
      t.table,
      ...(showSource ? [t.source] : []),
      t.estimatedRows === null ? '?' : formatCount(t.estimatedRows),
      t.source === 'query' ? '?' : formatBytes(t.estimatedBytes),
      t.mode,
      paint(writer, STATE_COLOR[t.targetState], t.targetState),
      t.problem
        ? paint(writer, 'red', t.action)
        : t.compare
          ? `${t.action}, ${t.compare.rows === 'written' ? 'written rows' : 'every row'}`
          : t.action,
      t.format,
    ])
    const right = showSource ? [0, 3, 4] : [0, 2, 3]
    lines.push(...alignColumns([header, ...rows], right).map((l) => `  ${l}`))
    const everyRow = plan.tables.filter((t) => t.compare?.reason)
    if (everyRow.length > 0) {
      lines.push(
        '',
        paint(writer, 'bold', 'Syncs that would compare every row, not only the rows written since:'),
      )
      for (const t of everyRow)
        lines.push(`  ${escapeControl(t.table)}: ${escapeControl(t.compare!.reason!)}`)
    }
    const problems = plan.tables.filter((t) => t.problem)
    if (problems.length > 0) {
      lines.push('', paint(writer, 'bold', 'Tables a run would fail (they would be left untouched):'))
      for (const t of problems) lines.push(`  ${paint(writer, 'red', t.table)}: ${describeError(t.problem!)}`)
    }
  }
  if (plan.views.length > 0) {
    lines.push('', paint(writer, 'bold', 'Views and materialized views, after the data, in this order:'))
    const rows = plan.views.map((v) => [
      v.kind === 'view' ? 'view' : 'matview',
      v.view,
      v.action === 'wait'
        ? paint(writer, 'yellow', `not created: waits for ${v.waitsFor.join(', ')}`)
        : `${v.action}${v.refresh ? ', refresh' : ''}`,
    ])
    lines.push(...alignColumns(rows, []).map((l) => `  ${l}`))
  }
  if (plan.objects) lines.push(...renderObjects(plan.objects, writer, options.verbose ?? false))
  if (plan.ownership) {
    const { owners, privileges, objects, roles } = plan.ownership
    const what = [owners ? 'owners' : undefined, privileges ? 'privileges' : undefined].filter(Boolean)
    lines.push(
      '',
      `${what.join(' and ')}: the source's, last of all, for ${plural(objects, 'object')}${roles.length ? `, with the target's roles ${roles.map(escapeControl).join(', ')}` : ''}`,
    )
  }
  for (const warning of plan.warnings) lines.push(`${paint(writer, 'yellow', 'note')}: ${warning}`)
  const { totals } = plan
  lines.push('')
  const sizeOf = (tables: typeof plan.tables) =>
    `${rowsOf(tables)}, ~${formatBytes(tables.reduce((n, t) => n + t.estimatedBytes, 0))}`
  if (plan.runnable) {
    lines.push(
      `${paint(writer, 'green', 'OK')}  a run would copy ${plural(totals.tables, 'table')} (${sizeOf(plan.tables)}), ${plan.jobs} at a time, largest first. Nothing was written.`,
    )
  } else {
    const copyable = plan.tables.filter((t) => !t.problem)
    const rest =
      copyable.length === 0 ? 'none could' : `the other ${copyable.length} could (${sizeOf(copyable)})`
    lines.push(
      `${paint(writer, 'red', 'NOT READY')}  ${totals.problems} of ${plural(totals.tables, 'table')} could not be copied; ${rest}. Nothing was written.`,
      'What to do: fix what each table above says, or leave it out with --exclude (exclude: in the config), then plan again.',
    )
  }
  return `${lines.join('\n')}\n`
}

/**
 * What `objects: all` adds: one line per kind with how many of them a run would create, keep, replace,
 * leave different or cannot create; with `verbose`, each object under its kind.
 */
function renderObjects(objects: PlanObjects, writer: Writer, verbose: boolean): string[] {
  const lines = [
    '',
    paint(
      writer,
      'bold',
      `objects: all adds, from ${plural(objects.schemas.length, 'schema')} (${objects.schemas.map(escapeControl).join(', ')}), before the data:`,
    ),
  ]
  const kinds = [...new Set(objects.objects.map((o) => o.kind))]
  if (kinds.length === 0 && objects.largeObjects === 0) lines.push('  nothing besides the tables')
  const rows: string[][] = []
  for (const kind of kinds) {
    const ofKind = objects.objects.filter((o) => o.kind === kind)
    const actions = (['create', 'keep', 'replace', 'left different', 'cannot create'] as const)
      .map((action) => [action, ofKind.filter((o) => o.action === action).length] as const)
      .filter(([, n]) => n > 0)
      .map(([action, n]) =>
        action === 'left different' || action === 'cannot create'
          ? paint(writer, 'yellow', `${n} ${action}`)
          : `${n} ${action}`,
      )
    rows.push([kind, String(ofKind.length), actions.join(', ')])
    if (verbose)
      for (const o of ofKind)
        rows.push(['', '', escapeControl(`${o.identity}: ${o.action}${o.reason ? ` (${o.reason})` : ''}`)])
  }
  if (objects.largeObjects > 0) rows.push(['large object', formatCount(objects.largeObjects), 'copy by OID'])
  lines.push(...alignColumns(rows, [1]).map((l) => `  ${l}`))
  return lines
}

/**
 * The tables' estimated rows: a table the source never analysed has no estimate (its ROWS~ is `?`), which
 * counts as not known, not as none.
 */
function rowsOf(tables: ReadonlyArray<{ readonly estimatedRows: number | null }>): string {
  const unknown = tables.filter((t) => t.estimatedRows === null).length
  const known = formatCount(tables.reduce((n, t) => n + (t.estimatedRows ?? 0), 0))
  if (unknown === 0) return `~${known} rows`
  const tablesUnknown = `${plural(unknown, 'table')} not analysed on the source`
  return unknown === tables.length
    ? `rows not known: ${tablesUnknown}`
    : `~${known} rows and ${tablesUnknown}`
}
