import type pg from 'pg'
import { runHistoryTrustProblems } from '../../catalog/run-history-trust.js'
import { type Database, READ_ONLY_SNAPSHOT, isConnectionLost } from '../../db/database.js'
import { reasonOf } from '../../db/sql-state-advice.js'
import { TablehaulError } from '../../errors.js'
import { TableRef, quoteIdent, quoteLiteral } from '../../db/table-ref.js'
import { type TablePlan, rowEstimate, syncMayReload } from '../plan/planner.js'
import { type SourceIdentity, type SyncSince, parseSince } from './since.js'

/**
 * What a sync remembers of a table between runs, kept on the target (tablehaul.sync_marks, written in the
 * table's own transaction, so it describes exactly the rows that committed).
 */
export interface SyncMark {
  /**
   * The source table's cumulative statistics counters (inserted + updated + deleted tuples,
   * pg_stat_all_tables) when the rows were read, and since when its database counts them.
   */
  readonly sourceChanges?: string | undefined
  readonly sourceStatsSince?: string | undefined
  /**
   * The oid of the source table the counters are of (not kept: the recorded position names it). A table
   * created again under the same name (built as t_new, then renamed over t) counts from zero on its own.
   */
  readonly sourceRelation?: string | undefined
  /** The `changed:` column of the table's entry, and the greatest value it had at the snapshot (text). */
  readonly changedColumn?: string | undefined
  readonly highWater?: string | undefined
  /** Where the copy stopped on both sides, so that the next sync reads only what was written since. */
  readonly since?: SyncSince | undefined
}

/**
 * The source's side of a new mark: its counters now. The high-water mark of the `changed:` column is read
 * with the rows written since the last copy when the sync reads those (TableSyncer.syncSince), otherwise by
 * readHighWater.
 */
export async function readSourceMark(client: pg.ClientBase, plan: TablePlan): Promise<SyncMark> {
  if (plan.source.kind !== 'table') return {}
  const table = plan.source.table.ref.sql
  // The statistics are not part of any snapshot: they count what the server did up to now, aborted work
  // included. They only ever predict (see predictedChangeShare); the fingerprints decide.
  const { rows } = await client.query<{ relation: string; changes: string | null; since: string | null }>(
    `SELECT s.relid::text AS relation, (s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::text AS changes,
            (SELECT d.stats_reset::text FROM pg_catalog.pg_stat_database d WHERE d.datname = pg_catalog.current_database()) AS since
       FROM pg_catalog.pg_stat_all_tables s WHERE s.relid = ${quoteLiteral(table)}::pg_catalog.regclass::pg_catalog.oid`,
  )
  const counters = rows[0]
  return {
    sourceChanges: counters?.changes ?? undefined,
    sourceStatsSince: counters?.since ?? undefined,
    sourceRelation: counters?.relation,
    changedColumn: plan.changedColumn,
  }
}

/** The greatest value of the table's `changed:` column in the run's snapshot (text), if it has one. */
export async function readHighWater(client: pg.ClientBase, plan: TablePlan): Promise<string | undefined> {
  const column = plan.changedColumn
  if (plan.source.kind !== 'table' || !column) return undefined
  const where = plan.source.where ? ` WHERE (${plan.source.where})` : ''
  const { rows: top } = await client.query<{ top: string | null }>(
    `SELECT pg_catalog.max(t.${quoteIdent(column)})::text AS top FROM ONLY ${plan.source.table.ref.sql} AS t${where}`,
  )
  return top[0]?.top ?? undefined
}

/**
 * The syncs among `plans` whose source statistics already predict a reload (predictedChangeShare), read for
 * all of them in one query before any table starts, by target table key. A foreign key between two synced
 * tables is kept during the syncs unless one of them reloads (ForeignKeys.lift): lifted inside each table's
 * transaction instead, both would wait for the other's lock.
 */
export async function predictedReloads(
  source: { query<R extends pg.QueryResultRow>(sql: string): Promise<pg.QueryResult<R>> },
  plans: readonly TablePlan[],
  marks: ReadonlyMap<string, SyncMark>,
  share: number,
): Promise<Set<string>> {
  const candidates = plans.filter(
    (plan) =>
      plan.mode === 'sync' &&
      plan.syncKey &&
      syncMayReload(plan) &&
      plan.source.kind === 'table' &&
      marks.has(plan.target.key),
  )
  const reloads = new Set<string>()
  if (candidates.length === 0) return reloads
  const relations = candidates.map((plan) =>
    plan.source.kind === 'table' ? `${quoteLiteral(plan.source.table.ref.sql)}::pg_catalog.regclass` : 'NULL',
  )
  // The statistics are not part of any snapshot: read them on any session, as readSourceMark does.
  const { rows } = await source.query<{
    n: string
    relation: string
    changes: string | null
    since: string | null
  }>(
    `SELECT r.n::text AS n, r.relid::text AS relation, (s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::text AS changes,
            (SELECT d.stats_reset::text FROM pg_catalog.pg_stat_database d WHERE d.datname = pg_catalog.current_database()) AS since
       FROM pg_catalog.unnest(ARRAY[${relations.join(', ')}]::pg_catalog.oid[]) WITH ORDINALITY AS r(relid, n)
       LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = r.relid`,
  )
  for (const row of rows) {
    const plan = candidates[Number(row.n) - 1]!
    const now: SyncMark = {
      sourceChanges: row.changes ?? undefined,
      sourceStatsSince: row.since ?? undefined,
      sourceRelation: row.relation,
    }
    const predicted = predictedChangeShare(marks.get(plan.target.key), now, rowEstimate(plan))
    if (predicted !== undefined && predicted >= share) reloads.add(plan.target.key)
  }
  return reloads
}

/**
 * The share of the source's rows that changed since the last sync, as its statistics counters tell:
 * undefined when they cannot (no earlier mark, statistics reset or not kept, a standby whose counters do
 * not move, no row estimate). It counts every update of a row, so it over-estimates: it only ever sends a table to a
 * reload early, never skips a comparison.
 */
export function predictedChangeShare(
  previous: SyncMark | undefined,
  now: SyncMark,
  rows: number,
): number | undefined {
  if (!previous?.sourceChanges || !now.sourceChanges) return undefined
  if ((previous.sourceStatsSince ?? '') !== (now.sourceStatsSince ?? '')) return undefined
  // Counters are kept per table oid: those of a table created again since (an ETL job's new table renamed
  // over the old one) start from zero and count its own load, not changes to the rows the last sync read.
  const before = previous.since?.source.relation.split(':')[0]
  if (before !== undefined && now.sourceRelation !== undefined && before !== now.sourceRelation)
    return undefined
  const changes = BigInt(now.sourceChanges) - BigInt(previous.sourceChanges)
  if (changes < 0n || rows <= 0) return undefined
  return Number(changes) / rows
}

/**
 * What the last sync (or replace) of each table left on the target (tablehaul.sync_marks), by target table
 * key. The position is read back through a schema: one of another shape is dropped, not trusted.
 */
export async function readSyncMarks(target: {
  query<R extends pg.QueryResultRow>(sql: string): Promise<pg.QueryResult<R>>
}): Promise<Map<string, SyncMark>> {
  const marks = new Map<string, SyncMark>()
  const { rows } = await target.query<{
    table_schema: string
    table_name: string
    source_changes: string | null
    source_stats_since: string | null
    changed_column: string | null
    high_water: string | null
    since: unknown
  }>(
    `SELECT table_schema, table_name, source_changes::text, source_stats_since, changed_column, high_water, since FROM tablehaul.sync_marks`,
  )
  for (const row of rows) {
    marks.set(new TableRef(row.table_schema, row.table_name).key, {
      sourceChanges: row.source_changes ?? undefined,
      sourceStatsSince: row.source_stats_since ?? undefined,
      changedColumn: row.changed_column ?? undefined,
      highWater: row.high_water ?? undefined,
      since: parseSince(row.since),
    })
  }
  return marks
}

/** The target tables an earlier run loaded from this source database, and why they could not be read. */
export interface TablesLoadedFrom {
  readonly tables: TableRef[]
  /** Why the target's records could not be read (a lock, a privilege): the plan's warnings say so. */
  readonly problem?: string | undefined
}

/**
 * The target tables an earlier replace or sync loaded from the source database `source` (their marks record
 * the same system identifier and database oid). The database oid alone does not name a database: every
 * fresh cluster hands out the same ones, so a mark counts only when both servers' system identifiers are
 * known and equal. Read in one SELECT; a target without tablehaul's records, or whose records another role
 * controls (runHistoryTrustProblems: its rows could say anything), has none. Records that are there and
 * cannot be read (another session locks them past timeouts.lock, a privilege revoked) are a problem the
 * plan warns of: without them, a table the source dropped is not warned of, and nothing else would say so.
 * A lost connection fails the plan, as it would at the next statement.
 */
export async function readTablesLoadedFrom(
  target: Database,
  source: SourceIdentity,
): Promise<TablesLoadedFrom> {
  if (source.system === undefined || source.database === undefined) return { tables: [] }
  return target
    .withTransaction(
      async (client) => {
        const { rows: present } = await client.query<{ present: boolean }>(
          `SELECT pg_catalog.to_regclass('tablehaul.sync_marks') IS NOT NULL AS present`,
        )
        if (!present[0]?.present) return { tables: [] }
        if ((await runHistoryTrustProblems((sql) => client.query(sql))).length > 0) return { tables: [] }
        // to_jsonb of the row: a sync_marks of an older tablehaul has no since column, and reads as NULL.
        const { rows } = await client.query<{ table_schema: string; table_name: string }>(
          `SELECT m.table_schema, m.table_name FROM tablehaul.sync_marks AS m
            WHERE pg_catalog.to_jsonb(m) #>> '{since,source,system}'::pg_catalog.text[] = $1::pg_catalog.text
              AND pg_catalog.to_jsonb(m) #>> '{since,source,database}'::pg_catalog.text[] = $2::pg_catalog.text`,
          [source.system, source.database],
        )
        return { tables: rows.map((row) => new TableRef(row.table_schema, row.table_name)) }
      },
      { mode: READ_ONLY_SNAPSHOT },
    )
    .catch((error: unknown) => {
      if (isConnectionLost(error) || error instanceof TablehaulError) throw error
      return {
        tables: [],
        problem: `the target's records of earlier runs (tablehaul.sync_marks) could not be read (${reasonOf(error, 'target')}): a table a pattern selects that the source dropped since an earlier run loaded it is not warned of this time`,
      }
    })
}
