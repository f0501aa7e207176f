import { createHash } from 'node:crypto'
import pg from 'pg'
import type { Config } from '../config/schema.js'
import { runHistoryTrustProblems } from '../catalog/run-history-trust.js'
import { Database } from '../db/database.js'
import { sqlFolder } from '../db/sql-file.js'
import { TableRef } from '../db/table-ref.js'
import { TablehaulError, messageOf, sqlStateOf } from '../errors.js'
import type { ForeignKey, LiftedKeyStore } from '../steps/constraints/foreign-keys.js'
import { type SyncMark, readSyncMarks } from '../steps/sync/sync-mark.js'

const sqlFile = sqlFolder(new URL('./sql/', import.meta.url))

/** A table an earlier run of the same series committed. */
export interface CommittedTable {
  readonly runId: string
  readonly rows: number
  readonly bytes: number
  readonly committedAt: string
}

export interface ResumePoint {
  /** The run being resumed and how it ended ('killed': it never recorded its end). */
  readonly runId: string
  readonly status: string
  readonly snapshotTakenAt: string | undefined
  /** Tables already committed in its series, by TableRef key. */
  readonly committed: ReadonlyMap<string, CommittedTable>
}

/** What `RunHistory.open` records of a run. */
interface RunInfo {
  readonly source: string
  readonly job: string
  readonly resume: boolean
  /** How an earlier run ended, from its own log, for one that could not record it on the target. */
  readonly endingOf?: (runId: string) => { status: string; finishedAt: string } | undefined
}

/**
 * The run's records on the target, in the `tablehaul` schema: the run itself, each table's commit (written
 * inside that table's own transaction, so a table is recorded exactly when its data is there), and foreign
 * keys lifted for the copy until they are back. Without the privilege to create the schema, the run goes on
 * without it (no resume, and lifted keys only restored by this run).
 */
export class RunHistory implements LiftedKeyStore {
  private seriesId: string
  private target: Database | undefined

  /** @param keepRuns How many runs the target keeps records of (log.keepRuns); older ones are deleted. */
  constructor(
    private readonly runId: string,
    private readonly keepRuns: number = Number.POSITIVE_INFINITY,
  ) {
    this.seriesId = runId
  }

  get available(): boolean {
    return this.target !== undefined
  }

  /**
   * Creates the bookkeeping schema if needed and records the run. With `resume`, joins the series of the
   * latest run on the target if it was the same job (`jobKey`) and did not succeed, and returns what that
   * series already committed. Returns a warning instead of failing when the schema cannot be created.
   */
  async open(info: RunInfo, target: Database): Promise<{ resumeFrom?: ResumePoint; warning?: string }> {
    // Checked before anything is created or altered there, and again, in the same transaction, after the
    // CREATEs: a schema someone else made in between is refused before any row is written.
    await refuseUntrusted(target)
    try {
      await target.withTransaction(async (client) => {
        await client.query(sqlFile('create_run_history'))
        await refuseUntrusted(client)
      })
      const opened = await this.recordStart(info, target)
      this.target = target
      return opened
    } catch (error) {
      if (error instanceof TablehaulError) throw error
      // Without CREATE (42501), or with bookkeeping tables of another shape (an older or foreign
      // tablehaul.runs: 42703, 42809…), the run goes on without records rather than failing.
      const fix =
        sqlStateOf(error) === '42501'
          ? '; grant CREATE on the database to enable it'
          : '; the next run tries again'
      return {
        warning: `resume is unavailable for this run: tablehaul cannot keep its records in schema "tablehaul" on the target (${messageOf(error)})${fix}`,
      }
    }
  }

  /** Marks runs left running as killed, finds what to resume, and records this run. */
  private async recordStart(
    info: RunInfo,
    target: Database,
  ): Promise<{ resumeFrom?: ResumePoint; warning?: string }> {
    // This run holds the target's advisory lock (one run at a time), so a run still recorded as running
    // is not: it ended without recording its end there. Its own log may still say how it ended (it lost the
    // target at the end); otherwise it was killed (kill -9, a lost machine).
    const { rows: unfinished } = await target.query<{ run_id: string }>(
      `SELECT run_id FROM tablehaul.runs WHERE status = 'running'`,
    )
    for (const { run_id: runId } of unfinished) {
      const ending = info.endingOf?.(runId)
      await target.query(
        `UPDATE tablehaul.runs SET status = $2, finished_at = $3 WHERE run_id = $1 AND status = 'running'`,
        [runId, ending?.status ?? 'killed', ending?.finishedAt ?? null],
      )
    }
    let resumeFrom: ResumePoint | undefined
    let warning: string | undefined
    if (info.resume) {
      const { rows } = await target.query<{
        run_id: string
        series_id: string
        status: string
        snapshot_taken_at: Date | null
        job: string | null
        source: string | null
      }>(
        `SELECT run_id, series_id, status, snapshot_taken_at, job, source FROM tablehaul.runs ORDER BY started_at DESC LIMIT 1`,
      )
      const last = rows[0]
      if (!last)
        warning = 'nothing to resume: no earlier run is recorded on this target, so every table is copied'
      else if (last.job !== info.job) {
        // Its tables may hold another source's rows, or other tables were chosen: skipping any would mix.
        const other =
          last.source !== info.source
            ? `it read from ${last.source ?? 'another source'}`
            : 'it selected other tables'
        warning = `nothing to resume: the last run on this target (${last.run_id}) was a different job (${other}), so every table is copied`
      } else if (last.status === 'succeeded')
        warning = `nothing to resume: the last run (${last.run_id}) succeeded, so every table is copied`
      else {
        this.seriesId = last.series_id
        const committed = await target.query<{
          table_schema: string
          table_name: string
          run_id: string
          rows: string
          bytes: string
          committed_at: Date
        }>(
          `SELECT table_schema, table_name, run_id, rows::text, bytes::text, committed_at FROM tablehaul.copied_tables WHERE series_id = $1`,
          [this.seriesId],
        )
        resumeFrom = {
          runId: last.run_id,
          status: last.status,
          snapshotTakenAt: last.snapshot_taken_at?.toISOString(),
          committed: new Map(
            committed.rows.map((r) => [
              new TableRef(r.table_schema, r.table_name).key,
              {
                runId: r.run_id,
                rows: Number(r.rows),
                bytes: Number(r.bytes),
                committedAt: r.committed_at.toISOString(),
              },
            ]),
          ),
        }
      }
    }
    await target.withTransaction(async (client) => {
      await client.query(
        `INSERT INTO tablehaul.runs (run_id, series_id, source, job) VALUES ($1, $2, $3, $4)`,
        [this.runId, this.seriesId, info.source, info.job],
      )
      if (Number.isFinite(this.keepRuns)) await pruneRuns(client, this.keepRuns)
    })
    return { resumeFrom, warning }
  }

  async recordSnapshot(takenAt: string | undefined): Promise<void> {
    if (!this.target || !takenAt) return
    await this.target.query(`UPDATE tablehaul.runs SET snapshot_taken_at = $2 WHERE run_id = $1`, [
      this.runId,
      takenAt,
    ])
  }

  /** Records a table's commit; runs inside that table's copy transaction. */
  async recordCopy(
    client: pg.ClientBase,
    table: TableRef,
    result: { rows: number; bytes: number },
  ): Promise<void> {
    if (!this.target) return
    await client.query(
      `INSERT INTO tablehaul.copied_tables (series_id, table_schema, table_name, run_id, rows, bytes)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (series_id, table_schema, table_name)
       DO UPDATE SET run_id = EXCLUDED.run_id, rows = EXCLUDED.rows, bytes = EXCLUDED.bytes, committed_at = now()`,
      [this.seriesId, table.schema, table.name, this.runId, result.rows, result.bytes],
    )
  }

  /** What earlier syncs remembered of each table, by TableRef key. */
  async syncMarks(): Promise<Map<string, SyncMark>> {
    return this.target ? readSyncMarks(this.target) : new Map()
  }

  /** Records what a sync of `table` leaves for the next; runs inside that table's copy transaction. */
  async recordSyncMark(client: pg.ClientBase, table: TableRef, mark: SyncMark): Promise<void> {
    if (!this.target) return
    await client.query(
      `INSERT INTO tablehaul.sync_marks (table_schema, table_name, source_changes, source_stats_since, changed_column, high_water, since)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (table_schema, table_name)
       DO UPDATE SET source_changes = EXCLUDED.source_changes, source_stats_since = EXCLUDED.source_stats_since,
                     changed_column = EXCLUDED.changed_column, high_water = EXCLUDED.high_water,
                     since = EXCLUDED.since, synced_at = now()`,
      [
        table.schema,
        table.name,
        mark.sourceChanges ?? null,
        mark.sourceStatsSince ?? null,
        mark.changedColumn ?? null,
        mark.highWater ?? null,
        mark.since ? JSON.stringify(mark.since) : null,
      ],
    )
  }

  /** Whether the run's records are kept on the target (schema tablehaul could be created). */
  get keepsRecords(): boolean {
    return this.target !== undefined
  }

  /** Foreign keys lifted by an earlier run that never put them back (it was killed or lost its target). */
  async pendingForeignKeys(): Promise<ForeignKey[]> {
    if (!this.target) return []
    const { rows } = await this.target.query<{
      table_schema: string
      table_name: string
      name: string
      definition: string
      comment: string | null
    }>(
      `SELECT table_schema, table_name, name, definition, comment FROM tablehaul.pending_foreign_keys ORDER BY 1, 2, 3`,
    )
    return rows.map((r) => ({
      table: new TableRef(r.table_schema, r.table_name),
      name: r.name,
      definition: r.definition,
      comment: r.comment,
    }))
  }

  /** Notes lifted keys, in the transaction that drops them. */
  async recordLiftedKeys(client: pg.ClientBase, keys: readonly ForeignKey[]): Promise<void> {
    if (!this.target) return
    for (const key of keys) {
      await client.query(
        `INSERT INTO tablehaul.pending_foreign_keys (table_schema, table_name, name, definition, comment, lifted_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [key.table.schema, key.table.name, key.name, key.definition, key.comment ?? null, this.runId],
      )
    }
  }

  /** Forgets a key once it is back on its table. */
  async clearLiftedKey(key: ForeignKey): Promise<void> {
    if (!this.target) return
    await this.target.query(
      `DELETE FROM tablehaul.pending_foreign_keys WHERE table_schema = $1 AND table_name = $2 AND name = $3`,
      [key.table.schema, key.table.name, key.name],
    )
  }

  /**
   * Whether this run's copy of `table` committed (its record is written in the same transaction), asked on
   * a new connection; undefined when that cannot be told (no bookkeeping, or the target is unreachable).
   */
  async wasCommitted(table: TableRef): Promise<boolean | undefined> {
    if (!this.target) return undefined
    try {
      const { rows } = await this.target.query(
        `SELECT 1 FROM tablehaul.copied_tables WHERE run_id = $1 AND table_schema = $2 AND table_name = $3`,
        [this.runId, table.schema, table.name],
      )
      return rows.length > 0
    } catch {
      return undefined
    }
  }

  async finish(status: string): Promise<void> {
    if (!this.target) return
    await this.target.query(`UPDATE tablehaul.runs SET finished_at = now(), status = $2 WHERE run_id = $1`, [
      this.runId,
      status,
    ])
  }
}

/**
 * Refuses to go on when schema "tablehaul" or a table of it is controlled by a role tablehaul does not trust
 * (see catalog/sql/untrusted_run_history.sql): writing through another role's trigger, rule or policy would run that
 * role's code with tablehaul's privileges, a superuser's included.
 */
async function refuseUntrusted(on: pg.ClientBase | Database): Promise<void> {
  const query = <R extends pg.QueryResultRow>(sql: string) =>
    on instanceof Database ? on.query<R>(sql) : on.query<R>(sql)
  const problems = await runHistoryTrustProblems(query)
  if (problems.length === 0) return
  const { rows: me } = await query<{ role: string }>(`SELECT CURRENT_USER::text AS role`)
  const role = pg.escapeIdentifier(me[0]?.role ?? 'tablehaul')
  throw new TablehaulError(
    'TARGET_UNTRUSTED',
    `tablehaul does not write its records through objects another role controls, and nothing was written to the target: ${problems.join('; ')}`,
    {
      hint: `inspect schema "tablehaul" on the target: if tablehaul did not make it, drop it (DROP SCHEMA tablehaul CASCADE) and the next run creates its own; if it is tablehaul's, make ${role} the owner of it and its tables (ALTER SCHEMA tablehaul OWNER TO ${role}, ALTER TABLE tablehaul.runs OWNER TO ${role}, …) and remove the triggers, rules, policies and grants named`,
    },
  )
}

/**
 * What makes runs one job, which `--resume` continues: the source database (as the server names itself,
 * whatever route reaches it) and the table selection as configured (tables and exclude, so that a table
 * added on the source since does not make it another job).
 */
export async function jobKey(
  source: Database,
  selection: Pick<Config, 'tables' | 'exclude'>,
): Promise<string> {
  const { rows } = await source.query<{ database: string; address: string | null; port: number | null }>(
    `SELECT pg_catalog.current_database() AS database, pg_catalog.inet_server_addr()::text AS address, pg_catalog.inet_server_port() AS port`,
  )
  const identity = rows[0]!
  return createHash('sha256')
    .update(
      JSON.stringify([
        identity.database,
        identity.address,
        identity.port,
        selection.tables ?? null,
        selection.exclude,
      ]),
    )
    .digest('hex')
    .slice(0, 32)
}

/**
 * Keeps the records of the newest `keepRuns` runs, oldest deleted first, with what their series committed:
 * a nightly job must not grow the target by a row per table per night. A series still in use (a kept run
 * belongs to it) keeps its tables, so `--resume` of a kept run is unchanged.
 */
async function pruneRuns(client: pg.ClientBase, keepRuns: number): Promise<void> {
  await client.query(
    `DELETE FROM tablehaul.runs
      WHERE run_id NOT IN (SELECT run_id FROM tablehaul.runs ORDER BY started_at DESC, run_id DESC LIMIT $1)`,
    [keepRuns],
  )
  await client.query(
    `DELETE FROM tablehaul.copied_tables c
      WHERE NOT EXISTS (SELECT FROM tablehaul.runs r WHERE r.series_id = c.series_id)`,
  )
}
