import type { Config, LoadMode } from '../../config/schema.js'
import { type ErrorInfo, errorInfo } from '../../report/run-report.js'
import type { TablePlan } from './planner.js'
import { type ReadingSession, openForReading } from '../connect.js'
import { targetRefusesWrites } from '../target-writable.js'
import type { ViewPlan } from '../views/view-plan.js'
import { type DumpObject, readDumpObjects } from '../../catalog/objects/dump-objects.js'
import { READ_ONLY_SNAPSHOT, hasRows } from '../../db/database.js'
import { copiedSchemas, readAllObjects } from '../objects/all-objects.js'
import { readSourceSince, sinceConditions, targetSinceProblem } from '../sync/since.js'
import { type SyncMark, readSyncMarks } from '../sync/sync-mark.js'

/** One object `objects: all` would bring besides the tables, in the order it would be created. */
export interface PlanObject {
  /**
   * function, procedure, aggregate, type, domain, operator, operator family, operator class, cast, extension,
   * collation, text search parser / template / dictionary / configuration, access method.
   */
  readonly kind: string
  /** `FUNCTION sales.total(integer)`, `OPERATOR CLASS sales.ver_ops USING btree`. */
  readonly identity: string
  /**
   * create: the target lacks it; keep: the target has it the same; replace: a routine the target has
   * otherwise (CREATE OR REPLACE); left different: the target has it otherwise and PostgreSQL cannot replace it
   * (an ICU collation from a source before 16 that the target stores in its standard form shows so here; the
   * run prints the source's on the target and keeps it when it is the same); cannot create: the target lacks
   * it and no run can make it there (`reason` says why: a base type in C).
   */
  readonly action: 'create' | 'keep' | 'replace' | 'left different' | 'cannot create'
  readonly reason?: string | undefined
}

/** What `objects: all` would add: the objects of the copied tables' schemas, and the database's large objects. */
export interface PlanObjects {
  readonly schemas: readonly string[]
  readonly objects: readonly PlanObject[]
  /** Large objects are copied by OID with their contents; only their number is listed. */
  readonly largeObjects: number
}

/** What a run would do with one view or materialized view, in the order views are created. */
export interface PlanView {
  /** `sales.totals`. */
  readonly view: string
  readonly kind: 'view' | 'materialized view'
  /**
   * create; replace (the target's differs; from a source of another PostgreSQL version, whose text differs,
   * the run keeps it when the target prints the source's query the same); keep (the target's is the same);
   * wait (it is not created:
   * `waitsFor` says why). A materialized view the source holds populated is also refreshed.
   */
  readonly action: 'create' | 'replace' | 'keep' | 'wait'
  /** Materialized views: refreshed on the target (the source's is populated). */
  readonly refresh?: boolean | undefined
  /** What it waits for: `sales.x (not selected)`, `FUNCTION sales.f(integer) (not on the target)`. */
  readonly waitsFor: readonly string[]
}

/** What a run would do to one target table. */
export interface PlanTable {
  /** Position in the order tables start in (largest first); `jobs` of them run at once. */
  readonly order: number
  /** The target table, `schema.table`. */
  readonly table: string
  /** The source table, or `query`. */
  readonly source: string
  /** From the source catalog (last ANALYZE/VACUUM); null when the table was never analysed. */
  readonly estimatedRows: number | null
  /** Heap and TOAST size on the source, from the catalog. */
  readonly estimatedBytes: number
  readonly mode: LoadMode
  /**
   * missing: the run creates it; compatible: it exists and can take the rows (or is re-created, with
   * mode recreate); incompatible: it exists but its columns do not fit the source's.
   */
  readonly targetState: 'missing' | 'compatible' | 'incompatible'
  /** In words: what the run does to the target table. */
  readonly action: string
  readonly format: 'text' | 'binary'
  /** How many parts the table is copied in; 1 means it is not split. */
  readonly parts: number
  /** Why the run would fail this table (leaving it untouched), if it would. */
  readonly problem?: ErrorInfo | undefined
  /**
   * mode sync, on a table the target has with rows: whether the sync would read only the rows written since
   * the last copy, or compare every row, and why (as the run's notes say it). A run decides again, in its
   * own snapshot; a sync that reads the written rows may still reload the table when most were written.
   */
  readonly compare?: { readonly rows: 'written' | 'all'; readonly reason?: string | undefined } | undefined
}

/** Everything `run` would do, resolved against both servers, with nothing written anywhere. */
export interface TransferPlan {
  /** Source URL without its password. */
  readonly source: string
  /** Target URL without its password. */
  readonly target: string
  /** Whether the source can export a snapshot: when it cannot, each table is read at its own point in time. */
  readonly snapshot: { readonly exportable: boolean; readonly note?: string | undefined }
  readonly jobs: number
  readonly tables: readonly PlanTable[]
  /** The views and materialized views a run would create after the data, in order, and those that wait. */
  readonly views: readonly PlanView[]
  /** With `objects: all`: what it would add besides tables and views; absent with `objects: tables`. */
  readonly objects?: PlanObjects | undefined
  /**
   * With `owners: keep` or `privileges: keep`: which, over how many objects, and the target roles they
   * name (all present: a missing one makes the plan fail with ROLE_MISSING instead).
   */
  readonly ownership?:
    | {
        readonly owners: boolean
        readonly privileges: boolean
        readonly objects: number
        readonly roles: readonly string[]
      }
    | undefined
  readonly warnings: readonly string[]
  readonly totals: {
    readonly tables: number
    readonly estimatedRows: number
    readonly estimatedBytes: number
    /** Tables the run would fail without touching them. */
    readonly problems: number
  }
  /** True when every table can be copied: what a pre-flight check wants to know. */
  readonly runnable: boolean
}

/** Options of `planTransfer()`. */
export interface PlanTransferOptions {
  readonly signal?: AbortSignal
}

/**
 * Resolves a config exactly as `TransferJob.run()` would (same connect and plan steps, same snapshot) and
 * reports the result without writing anything: no table, schema, lock or bookkeeping on the target, no log
 * and no e-mail. The embedded local server is not created when it does not exist yet (every table is then
 * missing); when it exists but is stopped, it is started for the plan and stopped again.
 *
 * Throws a `TablehaulError` when the config cannot be planned at all (`TABLE_NOT_FOUND`, `CONFIG_INVALID`,
 * `SOURCE_UNREACHABLE`, `TARGET_UNREACHABLE`); a table that would fail is reported in `problem`.
 */
export async function planTransfer(config: Config, options: PlanTransferOptions = {}): Promise<TransferPlan> {
  options.signal?.throwIfAborted()
  const session = await openForReading(config)
  try {
    // A run would fail at connect: a target that takes no writes copies nothing.
    const refusal = session.target ? await targetRefusesWrites(session.target) : undefined
    if (refusal) throw refusal
    const comparisons = await syncComparisons(session)
    const tables = session.plan.tables.map((table, index) =>
      describeTable(table, index + 1, comparisons.get(table.target.key)),
    )
    const problems = tables.filter((t) => t.problem).length
    const { snapshot } = session
    return {
      source: session.sourceDisplay,
      target: session.targetDisplay,
      snapshot: { exportable: !snapshot.unavailable, note: snapshot.unavailable },
      jobs: config.jobs,
      tables,
      views: session.views.map(describeView),
      objects: config.objects === 'all' ? await planObjects(session) : undefined,
      ownership: session.owners?.describe(),
      warnings: [...session.plan.warnings],
      totals: {
        tables: tables.length,
        estimatedRows: tables.reduce((sum, t) => sum + (t.estimatedRows ?? 0), 0),
        estimatedBytes: tables.reduce((sum, t) => sum + t.estimatedBytes, 0),
        problems,
      },
      runnable: problems === 0,
    }
  } finally {
    await session.close()
  }
}

function describeTable(plan: TablePlan, order: number, compare: PlanTable['compare']): PlanTable {
  const incompatible =
    plan.targetState === 'exists' && plan.problem?.code === 'TABLE_INCOMPATIBLE' && plan.mode !== 'recreate'
  return {
    order,
    table: plan.target.display,
    source: plan.sourceLabel,
    estimatedRows: plan.estimatedRows,
    estimatedBytes: plan.estimatedBytes,
    mode: plan.mode,
    targetState: plan.targetState === 'missing' ? 'missing' : incompatible ? 'incompatible' : 'compatible',
    action: actionOf(plan),
    format: plan.format,
    parts: 1,
    problem: plan.problem ? errorInfo(plan.problem) : undefined,
    compare: plan.problem ? undefined : compare,
  }
}

/**
 * For each table that would sync in place: whether the position the last copy recorded would let the sync
 * read only the rows written since (since.ts), checked as a run checks it, against the plan's snapshot and
 * the target as it is now. Nothing is written; a target without tablehaul's records has no position.
 */
async function syncComparisons(session: ReadingSession): Promise<Map<string, PlanTable['compare']>> {
  const comparisons = new Map<string, PlanTable['compare']>()
  const { target, snapshot } = session
  const syncing = session.plan.tables.filter(
    (plan) => !plan.problem && plan.mode === 'sync' && plan.syncKey && plan.targetState === 'exists',
  )
  if (!target || syncing.length === 0) return comparisons
  const marks = await readSyncMarks(target).catch(() => new Map<string, SyncMark>())
  for (const plan of syncing) {
    const previous = marks.get(plan.target.key)?.since
    const now = await snapshot.read((client) => readSourceSince(client, plan, snapshot, previous?.source))
    const conditions = sinceConditions(previous, now)
    // An empty target table is loaded in full (COPY FREEZE): there is nothing to compare.
    const reason = await target.withTransaction(
      async (client) => {
        if (!(await hasRows(client, plan.target.sql))) return null
        if (typeof conditions === 'string') return conditions
        return (await targetSinceProblem(client, plan, previous!.target)) ?? ''
      },
      { mode: READ_ONLY_SNAPSHOT },
    )
    if (reason !== null)
      comparisons.set(plan.target.key, reason ? { rows: 'all', reason } : { rows: 'written' })
  }
  return comparisons
}

/** What `objects: all` would bring, read in the plan's snapshot, each compared with the target's. */
async function planObjects(session: ReadingSession): Promise<PlanObjects> {
  const schemas = copiedSchemas(session.plan)
  const objects = await readAllObjects(session.snapshot, session.plan)
  const there = session.target
    ? await session.target.withTransaction((client) => readDumpObjects(client, schemas), {
        mode: READ_ONLY_SNAPSHOT,
      })
    : []
  const existing = new Map(there.map((o) => [o.identity, o]))
  const largeObjects = await session.snapshot.read(async (client) => {
    const { rows } = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_catalog.pg_largeobject_metadata',
    )
    return Number(rows[0]!.n)
  })
  return {
    schemas,
    objects: objects.map((object) => ({
      kind: object.kind,
      identity: object.identity,
      action: objectAction(object, existing.get(object.identity)),
      reason: existing.has(object.identity) ? undefined : object.problem,
    })),
    largeObjects,
  }
}

/** What a run would do with one object, as `ObjectBuilder` decides it. */
function objectAction(object: DumpObject, there: DumpObject | undefined): PlanObject['action'] {
  if (!there) return object.problem === undefined ? 'create' : 'cannot create'
  if (there.definition === object.definition || object.kind === 'extension') return 'keep'
  return object.kind === 'function' || object.kind === 'procedure' ? 'replace' : 'left different'
}

function describeView(plan: ViewPlan): PlanView {
  const { view } = plan
  const action =
    plan.waitsFor.length > 0
      ? 'wait'
      : plan.targetState === 'missing'
        ? 'create'
        : plan.targetState === 'same'
          ? 'keep'
          : 'replace'
  return {
    view: view.ref.display,
    kind: view.kind,
    action,
    refresh: view.kind === 'materialized view' ? action !== 'wait' && view.populated : undefined,
    waitsFor: plan.waitsFor,
  }
}

function actionOf(plan: TablePlan): string {
  if (plan.problem) return 'none (would fail)'
  if (plan.targetState === 'missing') return 'create, load'
  if (plan.modeNote) return plan.modeNote
  if (plan.mode === 'sync') return 'sync'
  if (plan.mode === 'recreate') return 'drop, create, load'
  if (plan.mode === 'append') return 'add rows'
  return 'empty, load'
}
