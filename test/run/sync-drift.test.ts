import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import type { RunReport, TableResult } from '../../src/report/run-report.js'
import { waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { copied, notes, runBetween as run } from '../helpers/sync-report.js'
import { type TestDatabase, testServers } from '../helpers/servers.js'

// mode: sync after the source's schema changed between two runs, the config the same: each table ends as
// a replace leaves it, or fails with its rows kept and an error that says what to do.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** Every row's text over `columns` (the source's), in one order. */
async function rowsOver(db: TestDatabase, table: string, columns: readonly string[]): Promise<string[]> {
  const rows = await db.sql<{ row: string }>(
    `SELECT row FROM (SELECT ROW(${columns.map((c) => `t.${c}`).join(', ')})::text AS row FROM ${table} AS t) AS r
      ORDER BY row COLLATE "C"`,
  )
  return rows.map((r) => r.row)
}

/** The distinct values of a target column, as text, NULL as null. */
async function valuesOf(db: TestDatabase, table: string, column: string): Promise<Array<string | null>> {
  const rows = await db.sql<{ v: string | null }>(
    `SELECT DISTINCT t.${column}::text AS v FROM ${table} AS t ORDER BY 1 NULLS FIRST`,
  )
  return rows.map((r) => r.v)
}

function failed(report: RunReport, name: string): TableResult {
  const found = report.tables.find((t) => t.table === name)
  assert.equal(found?.status, 'failed', JSON.stringify(found))
  return found!
}

/**
 * A run of `mode` during which, once its snapshot is taken, another session locks `table` on the source,
 * waits until the run waits for it, then runs `ddl` and commits: the run reads the table after that.
 */
async function runWithDdlAfterSnapshot(
  db: DatabasePair,
  mode: 'sync' | 'replace',
  table: string,
  ddl: string,
): Promise<RunReport> {
  const writer = new pg.Client(db.source.url)
  await writer.connect()
  let wrote: Promise<void> | undefined
  // One table at a time, largest first (then by name): the tables before it give the other session time
  // to take its lock before the run reaches the table.
  const report = await run(db, mode, { jobs: 1 }, (job) =>
    job.on('run.planned', () => {
      const locked = writer.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
      wrote = (async () => {
        await locked
        await waitFor(async () => {
          const [row] = await db.source.sql<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
          return row!.n > 0
        })
        await writer.query(ddl)
        await writer.query('COMMIT')
      })()
    }),
  ).finally(() => writer.end())
  await wrote
  return report
}

describe('a sync after the source schema changed', () => {
  test('sets the columns the source dropped, and one added by hand on the target, to what a replace leaves there', async () => {
    const db = await databasePair(servers, 'drift_dropped')
    try {
      // DROP COLUMN rewrites no row: every row keeps its xmin. The target keeps the columns (nullable or
      // with a default), which COPY no longer fills.
      await db.source.sql(`
        CREATE TABLE public.dropped (id int PRIMARY KEY, v text, n int, s text NOT NULL DEFAULT 'new',
          j json DEFAULT '{"a": 1}', nm numeric(10,2) DEFAULT 1, at timestamptz DEFAULT now());
        INSERT INTO public.dropped (id, v, n, s, j, nm)
        SELECT g, 'v' || g, g * 10, 'old', '{"b":2}', 5 FROM generate_series(1, 200) g;
        CREATE TABLE public.local (id int PRIMARY KEY, v text);
        INSERT INTO public.local SELECT g, 'v' || g FROM generate_series(1, 100) g;
        CREATE TABLE public.widened (id int PRIMARY KEY, v varchar(10));
        INSERT INTO public.widened SELECT g, 'v' || g FROM generate_series(1, 100) g;
        CREATE TABLE public.untouched (id int PRIMARY KEY, v text);
        INSERT INTO public.untouched SELECT g, 'v' || g FROM generate_series(1, 100) g;
        ANALYZE;`)
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      const [stamp] = await valuesOf(db.target, 'public.dropped', 'at')

      await db.source.sql(`
        ALTER TABLE public.dropped DROP COLUMN n, DROP COLUMN s, DROP COLUMN j, DROP COLUMN nm, DROP COLUMN at;
        UPDATE public.dropped SET v = 'up' WHERE id = 5;
        ALTER TABLE public.widened ALTER COLUMN v TYPE varchar(20);  -- binary-coercible: no rewrite
        UPDATE public.widened SET v = 'a longer value' WHERE id = 3;
        UPDATE public.untouched SET v = 'up' WHERE id = 7;`)
      await db.target.sql(`
        ALTER TABLE public.local ADD COLUMN note text;
        UPDATE public.local SET note = 'mine' WHERE id < 10;
        ALTER TABLE public.widened ALTER COLUMN v TYPE varchar(20);`)

      let report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      const dropped = copied(report, 'public.dropped')
      assert.equal(dropped.syncCompared, 'all', JSON.stringify(dropped))
      assert.match(notes(dropped), /set n, s, j, nm to their defaults in 200 row\(s\)/)
      assert.match(
        notes(dropped),
        /at: the source has no such column, and its default is not the same in every row/,
      )
      assert.deepEqual(
        await rowsOver(db.target, 'public.dropped', ['id', 'v']),
        await rowsOver(db.source, 'public.dropped', ['id', 'v']),
      )
      assert.deepEqual(await valuesOf(db.target, 'public.dropped', 'n'), [null])
      assert.deepEqual(await valuesOf(db.target, 'public.dropped', 's'), ['new'])
      assert.deepEqual(await valuesOf(db.target, 'public.dropped', 'j'), ['{"a": 1}'])
      assert.deepEqual(await valuesOf(db.target, 'public.dropped', 'nm'), ['1.00'])
      assert.deepEqual(
        await valuesOf(db.target, 'public.dropped', 'at'),
        [stamp],
        'now() is not a constant: kept',
      )
      assert.match(notes(copied(report, 'public.local')), /set note to its default in 9 row\(s\)/)
      assert.deepEqual(await valuesOf(db.target, 'public.local', 'note'), [null])
      assert.equal(copied(report, 'public.widened').syncCompared, 'all')
      await assertSameRows(db, 'public.widened')
      assert.equal(copied(report, 'public.untouched').syncCompared, 'written')
      await assertSameRows(db, 'public.untouched')

      // Nothing left to do: the next sync reads only the rows written since, and writes none.
      report = await run(db)
      for (const name of ['public.dropped', 'public.local', 'public.widened', 'public.untouched']) {
        const table = copied(report, name)
        assert.equal(table.syncCompared, 'written', `${name}: ${JSON.stringify(table)}`)
        assert.deepEqual(table.sync, { inserted: 0, updated: 0, deleted: 0, unchanged: table.rows }, name)
      }

      // A replace leaves the same values there (and writes the non-constant default anew).
      const afterSync = await Promise.all(
        ['n', 's', 'j', 'nm'].map((c) => valuesOf(db.target, 'public.dropped', c)),
      )
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      assert.deepEqual(
        await Promise.all(['n', 's', 'j', 'nm'].map((c) => valuesOf(db.target, 'public.dropped', c))),
        afterSync,
      )
      assert.deepEqual(await valuesOf(db.target, 'public.local', 'note'), [null])
    } finally {
      await db.drop()
    }
  })

  test("fails a table whose values the target's composite type cannot take, saying to alter the type there, rows kept, then syncs it; gives the target's enum the source's new label", async () => {
    const db = await databasePair(servers, 'drift_types')
    try {
      await db.source.sql(`
        CREATE TYPE public.mood AS ENUM ('a', 'b');
        CREATE TABLE public.moods (id int PRIMARY KEY, m public.mood);
        INSERT INTO public.moods SELECT g, 'a' FROM generate_series(1, 100) g;
        CREATE TYPE public.pair AS (a int, b text);
        CREATE TABLE public.pairs (id int PRIMARY KEY, p public.pair);
        INSERT INTO public.pairs SELECT g, ROW(g, 'x')::public.pair FROM generate_series(1, 100) g;
        CREATE TABLE public.untouched (id int PRIMARY KEY, v text);
        INSERT INTO public.untouched SELECT g, 'v' || g FROM generate_series(1, 100) g;
        ANALYZE;`)
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      await db.source.sql(`ALTER TYPE public.mood ADD VALUE 'c'`)
      await db.source.sql(`
        UPDATE public.moods SET m = 'c' WHERE id = 3;
        ALTER TYPE public.pair ADD ATTRIBUTE c int CASCADE;  -- no row written, every row's text changed
        UPDATE public.untouched SET v = 'up' WHERE id = 7;`)
      const targetRows = () => rowsOver(db.target, 'public.pairs', ['id', 'p'])
      const before = await targetRows()

      for (const mode of ['sync', 'replace', 'recreate'] as const) {
        const report = await run(db, mode as 'sync')
        // The first run adds the label to the target's type (test/run/enum-labels.test.ts); each copies.
        const moods = copied(report, 'public.moods')
        if (mode === 'sync') assert.match(notes(moods), /enum public\.mood on the target gained .*'c'/, mode)
        await assertSameRows(db, 'public.moods')
        const pairs = failed(report, 'public.pairs')
        assert.match(
          pairs.error!.hint!,
          /the target's composite type has other attributes.*\(ALTER TYPE … ADD ATTRIBUTE/,
          mode,
        )
        assert.equal(copied(report, 'public.untouched').rows, 100, mode)
      }
      assert.deepEqual(await targetRows(), before, 'the failed tables kept their rows')
      await assertSameRows(db, 'public.untouched')

      await db.target.sql(`ALTER TYPE public.pair ADD ATTRIBUTE c int CASCADE`)
      const report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      await assertSameRows(db, 'public.moods')
      await assertSameRows(db, 'public.pairs')
    } finally {
      await db.drop()
    }
  })

  test("fails a table emptied or rewritten on the source after the run's snapshot, which reads it empty, rows kept; a CLUSTER goes through", async () => {
    const db = await databasePair(servers, 'drift_race')
    try {
      await db.source.sql(
        ['truncated', 'rewritten', 'retyped', 'untouched', 'was_clustered']
          .map(
            (name) => `CREATE TABLE public.${name} (id int PRIMARY KEY, v text);
              INSERT INTO public.${name} SELECT g, 'v' || g FROM generate_series(1, 100) g; ANALYZE public.${name};`,
          )
          .join('\n'),
      )
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      await db.source.sql(`UPDATE public.untouched SET v = 'up' WHERE id = 3`)
      // TRUNCATE and a rewriting ALTER TABLE are not MVCC-safe: the run's older snapshot sees no row.
      const cases = [
        [
          'sync',
          'public.truncated',
          `TRUNCATE public.truncated; INSERT INTO public.truncated VALUES (1, 'again')`,
        ],
        ['replace', 'public.truncated', `TRUNCATE public.truncated`],
        ['sync', 'public.rewritten', `ALTER TABLE public.rewritten ADD COLUMN c float8 DEFAULT random()`],
        ['replace', 'public.retyped', `ALTER TABLE public.retyped ALTER COLUMN v TYPE varchar(20)`],
      ] as const
      for (const [mode, table, ddl] of cases) {
        const kept = await rowsOver(db.target, table, ['id', 'v'])
        const report = await runWithDdlAfterSnapshot(db, mode, table, ddl)
        const error = failed(report, table).error!
        assert.equal(error.code, 'SNAPSHOT_FAILED', `${mode} ${ddl}`)
        assert.match(
          error.message,
          new RegExp(`source table ${table} was emptied or rewritten .* after the run's snapshot`),
        )
        assert.match(error.hint!, /run again/)
        assert.deepEqual(await rowsOver(db.target, table, ['id', 'v']), kept, `${mode} ${ddl}: rows kept`)
        assert.equal(copied(report, 'public.untouched').rows, 100)
      }
      await assertSameRows(db, 'public.untouched')
      // A column dropped after the snapshot: the run's columns are those the snapshot saw.
      const report1 = await runWithDdlAfterSnapshot(
        db,
        'sync',
        'public.truncated',
        'ALTER TABLE public.truncated DROP COLUMN v',
      )
      assert.match(
        failed(report1, 'public.truncated').error!.message,
        /column "?(t\.)?v"? (of relation "truncated" )?does not exist/,
      )
      assert.match(
        failed(report1, 'public.truncated').error!.hint!,
        /dropped or renamed on the source after the run took its snapshot\?\): run again/,
      )
      // A lock held after the snapshot until the run gives up waiting for it names the source table.
      const holder = new pg.Client(db.source.url)
      await holder.connect()
      try {
        const timeouts = { ...testConfig({ source: db.source.url }).timeouts, lock: 1000 }
        const report2 = await run(db, 'sync', { timeouts, jobs: 1 }, (job) =>
          job.on(
            'run.planned',
            () => void holder.query('BEGIN; LOCK TABLE public.untouched IN ACCESS EXCLUSIVE MODE'),
          ),
        )
        const locked = failed(report2, 'public.untouched').error!
        assert.equal(locked.code, 'TABLE_LOCKED')
        assert.match(locked.message, /source table public\.untouched is locked: another session holds/)
        assert.match(locked.hint!, /run again once that transaction ends/)
      } finally {
        await holder.end()
      }
      // CLUSTER (as VACUUM FULL) copies every row with its transaction ids: the snapshot still sees them.
      await db.source.sql(`UPDATE public.was_clustered SET v = 'up' WHERE id = 5`)
      const report = await runWithDdlAfterSnapshot(
        db,
        'sync',
        'public.was_clustered',
        'CLUSTER public.was_clustered USING was_clustered_pkey',
      )
      assert.equal(copied(report, 'public.was_clustered').sync?.updated, 1)
      await assertSameRows(db, 'public.was_clustered')
    } finally {
      await db.drop()
    }
  })

  test("fails only the table whose changed: column the source renamed, the others synced; names a table's new schema", async () => {
    const db = await databasePair(servers, 'drift_config')
    try {
      await db.source.sql(`
        CREATE SCHEMA archive;
        CREATE TABLE public.hinted (id int PRIMARY KEY, v text, updated_at timestamptz DEFAULT now());
        INSERT INTO public.hinted SELECT g, 'v' || g FROM generate_series(1, 100) g;
        CREATE TABLE public.plain (id int PRIMARY KEY, v text);
        INSERT INTO public.plain SELECT g, 'v' || g FROM generate_series(1, 100) g;
        ANALYZE;`)
      const tables = [{ name: 'public.hinted', changed: 'updated_at' }, 'public.plain']
      assert.equal((await run(db, 'sync', { tables })).status, 'succeeded')
      const kept = await rowsOver(db.target, 'public.hinted', ['id', 'v'])
      await db.source.sql(`
        ALTER TABLE public.hinted RENAME COLUMN updated_at TO modified_at;
        UPDATE public.hinted SET v = 'up' WHERE id = 1;
        UPDATE public.plain SET v = 'up' WHERE id = 2;`)
      let report = await run(db, 'sync', { tables })
      const error = failed(report, 'public.hinted').error!
      assert.equal(error.code, 'CONFIG_INVALID')
      assert.match(error.message, /tables\.0\.changed: public\.hinted has no column "updated_at"/)
      assert.match(
        error.hint!,
        /or remove changed: \(renamed or dropped on the source\?\); the table's columns: id, v, modified_at/,
      )
      assert.deepEqual(await rowsOver(db.target, 'public.hinted', ['id', 'v']), kept)
      assert.equal(copied(report, 'public.plain').sync?.updated, 1)
      await assertSameRows(db, 'public.plain')

      // The hinted column's type changed on both sides (so that the target still takes it): the last
      // high-water mark, text of the old type, means nothing for the new one.
      await db.source.sql(`
        ALTER TABLE public.hinted RENAME COLUMN modified_at TO updated_at;
        ALTER TABLE public.hinted ALTER COLUMN updated_at DROP DEFAULT,
          ALTER COLUMN updated_at TYPE bigint USING extract(epoch FROM updated_at)::bigint;
        UPDATE public.hinted SET v = 'again' WHERE id = 4;`)
      await db.target.sql(
        `ALTER TABLE public.hinted ALTER COLUMN updated_at DROP DEFAULT,
           ALTER COLUMN updated_at TYPE bigint USING extract(epoch FROM updated_at)::bigint`,
      )
      report = await run(db, 'sync', { tables })
      assert.equal(copied(report, 'public.hinted').rows, 100)
      await assertSameRows(db, 'public.hinted')

      // A name that matches nothing stops the whole run before anything is written (a config error); the
      // message points to where the table went.
      await db.source.sql(`ALTER TABLE public.plain SET SCHEMA archive`)
      report = await run(db, 'sync', { tables: ['public.hinted', 'public.plain'] })
      assert.equal(report.status, 'failed')
      assert.match(
        report.error!.message,
        /tables\.1: table public\.plain does not exist on the source \(did you mean archive\.plain\?\)/,
      )
    } finally {
      await db.drop()
    }
  })

  test('warns of a partition the source detached, whose rows the target parent still shows, in sync and replace', async () => {
    const db = await databasePair(servers, 'drift_partitions')
    try {
      await db.source.sql(`
        CREATE TABLE public.part (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
        CREATE TABLE public.part_low PARTITION OF public.part FOR VALUES FROM (1) TO (101);
        CREATE TABLE public.part_high PARTITION OF public.part FOR VALUES FROM (101) TO (201);
        INSERT INTO public.part SELECT g, 'v' || g FROM generate_series(1, 200) g; ANALYZE;`)
      const tables = ['public.part']
      assert.equal((await run(db, 'replace', { tables })).status, 'succeeded')
      await db.source.sql(`ALTER TABLE public.part DETACH PARTITION public.part_high;
        UPDATE public.part SET v = 'up' WHERE id = 5;`)
      const warning =
        /public\.part_high is a partition of public\.part on the target but not on the source \(detached or dropped there\?\): no run copies it, and public\.part on the target still shows its rows; detach it there \(ALTER TABLE "public"\."part" DETACH PARTITION "public"\."part_high"\) or drop it/
      for (const mode of ['sync', 'replace'] as const) {
        const report = await run(db, mode, { tables })
        assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
        assert.match(report.warnings.join('\n'), warning, mode)
        assert.equal(copied(report, 'public.part_low').rows, 100)
      }
      await db.target.sql(`ALTER TABLE public.part DETACH PARTITION public.part_high`)
      const report = await run(db, 'sync', { tables })
      assert.doesNotMatch(report.warnings.join('\n'), /is a partition of/)
      await assertSameRows(db, 'public.part')
    } finally {
      await db.drop()
    }
  })
})
