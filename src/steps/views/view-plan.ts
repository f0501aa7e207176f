import type { Catalog, TableInfo } from '../../catalog/catalog.js'
import { type ViewInfo, missingFunctions, readViews } from '../../catalog/views.js'
import type { Config } from '../../config/schema.js'
import { type Database, READ_ONLY_SNAPSHOT } from '../../db/database.js'
import type { TableRef } from '../../db/table-ref.js'
import { copiedSchemas } from '../objects/all-objects.js'
import type { RunPlan } from '../plan/planner.js'
import { TablePattern } from '../plan/table-pattern.js'

/** What a run does with one view or materialized view of the source. */
export interface ViewPlan {
  readonly view: ViewInfo
  /**
   * missing: created; same: on the target already with the same query, options and columns; different:
   * on the target with another definition, replaced by the source's.
   */
  readonly targetState: 'missing' | 'same' | 'different'
  /**
   * What it waits for, one entry each (`sales.x (not selected)`): relations this run neither copies nor
   * finds on the target, functions the target lacks. Empty when it can be created.
   */
  readonly waitsFor: readonly string[]
}

export interface ViewPlanOptions {
  readonly config: Pick<Config, 'tables' | 'exclude' | 'objects'>
  readonly plan: RunPlan
  readonly source: Catalog
  readonly target: Catalog
  /** The source's views (readViews, in the run's snapshot). */
  readonly views: readonly ViewInfo[]
  /** The target's views, as they are before the run. */
  readonly targetViews: readonly ViewInfo[]
  /** Signatures of functions the views use that the target lacks (missingFunctions). */
  readonly missingFunctions: ReadonlySet<string>
}

/**
 * The views and materialized views a run brings, in dependency order (a view after the views it reads).
 *
 * A view is the run's when a `tables:` entry's name or pattern matches it (no `tables:` matches every one),
 * or when it lives in the schema of a table the run copies, and no `exclude:` pattern matches it. Such a
 * view is created when every relation it reads is copied by this run (under its own name), comes with it
 * (a partitioned parent, a sequence, another view of the run), or exists on the target already; and every
 * function it calls outside pg_catalog exists on the target or comes with `objects: all`. Otherwise it waits,
 * and the plan, the report and the logs say for what.
 */
export function planViews(options: ViewPlanOptions): ViewPlan[] {
  const { config, plan, source, target, views, targetViews, missingFunctions } = options
  const includes = (config.tables ?? ['*.*']).flatMap((entry, index) => {
    if (typeof entry !== 'string' && ('query' in entry || entry.into)) return []
    return [TablePattern.parse(typeof entry === 'string' ? entry : entry.name, `tables.${index}`)]
  })
  const excludes = config.exclude.map((text, index) => TablePattern.parse(text, `exclude.${index}`))
  const schemas = new Set(copiedSchemas(plan))
  const excluded = (ref: TableRef) => excludes.some((pattern) => pattern.matches(ref))
  const selected = views.filter(
    (view) =>
      !excluded(view.ref) && (schemas.has(view.ref.schema) || includes.some((p) => p.matches(view.ref))),
  )

  const coming = relationsComing(plan, source)
  const onTarget = new Set<string>([
    ...target.tables.map((t) => t.ref.key),
    ...target.sequences.map((s) => s.ref.key),
    ...targetViews.map((v) => v.ref.key),
  ])
  const functions = functionsComing(plan, source)
  const problems = new Map(
    plan.tables.flatMap((p) => (p.source.kind === 'table' && p.problem ? [[p.source.table.ref.key, p]] : [])),
  )
  const targetByKey = new Map(targetViews.map((v) => [v.ref.key, v]))

  const planned: ViewPlan[] = []
  const creatable = new Set<string>()
  for (const view of dependencyOrder(selected)) {
    const waitsFor: string[] = []
    for (const dependency of view.dependencies) {
      if (dependency.kind === 'function') {
        const signature = dependency.signature!
        const comes =
          functions.oids.has(dependency.oid) ||
          (dependency.extension !== null && functions.extensions.has(dependency.extension)) ||
          (config.objects === 'all' && schemas.has(dependency.schema))
        if (missingFunctions.has(signature) && !comes)
          waitsFor.push(`FUNCTION ${signature} (not on the target)`)
        continue
      }
      const ref = dependency.ref!
      if (coming.has(ref.key) || creatable.has(ref.key) || onTarget.has(ref.key)) continue
      waitsFor.push(`${ref.display} (${whyMissing(ref, { excluded, problems, selected })})`)
    }
    if (waitsFor.length === 0) creatable.add(view.ref.key)
    const there = targetByKey.get(view.ref.key)
    planned.push({
      view,
      targetState: !there ? 'missing' : sameView(view, there) ? 'same' : 'different',
      waitsFor,
    })
  }
  return planned
}

/** Words for why a relation a view reads will not be on the target. */
function whyMissing(
  ref: TableRef,
  context: {
    excluded: (ref: TableRef) => boolean
    problems: ReadonlyMap<string, unknown>
    selected: readonly ViewInfo[]
  },
): string {
  if (context.problems.has(ref.key)) return 'it cannot be copied'
  if (context.selected.some((v) => v.ref.equals(ref))) return 'it waits itself'
  if (context.excluded(ref)) return 'excluded'
  return 'not selected'
}

/**
 * The relations the run puts on the target under their source names: the tables it copies (and their
 * partitioned or inheritance parents, which the schema step creates with them), the partitioned tables
 * without partitions, and the sequences that come along.
 */
function relationsComing(plan: RunPlan, source: Catalog): Set<string> {
  const keys = new Set<string>()
  const addWithParents = (table: TableInfo) => {
    if (keys.has(table.ref.key)) return
    keys.add(table.ref.key)
    for (const sequence of source.sequencesUsedBy(table)) keys.add(sequence.ref.key)
    for (const parent of source.parents(table)) addWithParents(parent)
  }
  for (const table of plan.tables) {
    if (table.source.kind !== 'table' || table.problem) continue
    if (table.target.equals(table.source.table.ref)) addWithParents(table.source.table)
  }
  for (const table of plan.emptyPartitioned) addWithParents(table)
  for (const sequence of plan.sequences) keys.add(sequence.ref.key)
  return keys
}

/**
 * The functions (by source oid) and extensions the schema step brings with the tables of the run: those
 * the tables use, and those these functions use.
 */
function functionsComing(plan: RunPlan, source: Catalog): { oids: Set<number>; extensions: Set<string> } {
  const oids = new Set<number>()
  const extensions = new Set<string>()
  const visit = (kind: 'table' | 'function', oid: number) => {
    for (const use of source.uses(kind, oid)) {
      if (use.kind === 'extension' && use.extension) extensions.add(use.extension)
      if (use.kind !== 'function' || oids.has(use.oid)) continue
      oids.add(use.oid)
      visit('function', use.oid)
    }
  }
  const tables = [
    ...plan.tables.flatMap((p) => (p.source.kind === 'table' && !p.problem ? [p.source.table] : [])),
    ...plan.emptyPartitioned,
  ]
  for (const table of tables) {
    visit('table', table.oid)
    for (const parent of source.parents(table)) visit('table', parent.oid)
  }
  return { oids, extensions }
}

/** Same query, options and columns: nothing to replace (comments, defaults and indexes are set apart). */
export function sameView(view: ViewInfo, other: ViewInfo): boolean {
  return (
    view.kind === other.kind &&
    view.definition === other.definition &&
    JSON.stringify([...view.options].sort()) === JSON.stringify([...other.options].sort()) &&
    JSON.stringify(view.columns.map((c) => [c.name, c.type])) ===
      JSON.stringify(other.columns.map((c) => [c.name, c.type]))
  )
}

/** Each view after the views of the list it reads; otherwise in name order. */
export function dependencyOrder(views: readonly ViewInfo[]): ViewInfo[] {
  const byOid = new Map(views.map((v) => [v.oid, v]))
  const pending = [...views].sort(
    (a, b) => a.ref.schema.localeCompare(b.ref.schema) || a.ref.name.localeCompare(b.ref.name),
  )
  const placed = new Set<number>()
  const ordered: ViewInfo[] = []
  while (pending.length > 0) {
    const index = pending.findIndex((view) =>
      view.dependencies.every((d) => d.kind !== 'relation' || !byOid.has(d.oid) || placed.has(d.oid)),
    )
    const next = pending.splice(index === -1 ? 0 : index, 1)[0]!
    placed.add(next.oid)
    ordered.push(next)
  }
  return ordered
}

/**
 * Reads the target's views and which of the functions the source's `views` use it lacks, and plans the
 * views (planViews). Without a target (a local server not created yet) it has neither.
 */
export async function readViewPlans(
  options: Omit<ViewPlanOptions, 'targetViews' | 'missingFunctions'> & {
    readonly targetDb: Database | undefined
  },
): Promise<ViewPlan[]> {
  const signatures = [
    ...new Set(
      options.views.flatMap((v) => v.dependencies.flatMap((d) => (d.signature ? [d.signature] : []))),
    ),
  ]
  const onTarget = options.targetDb
    ? await options.targetDb.withTransaction(
        async (client) => ({
          views: await readViews(client),
          missing: await missingFunctions(client, signatures),
        }),
        { mode: READ_ONLY_SNAPSHOT },
      )
    : { views: [], missing: new Set(signatures) }
  return planViews({ ...options, targetViews: onTarget.views, missingFunctions: onTarget.missing })
}
