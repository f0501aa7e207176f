import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import type { RunReport, TableResult } from '../../src/report/run-report.js'
import { waitFor } from '../helpers/cli.js'
import { databasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { assertAll, copied, notes, runBetween as run } from '../helpers/sync-report.js'
import { type TestDatabase, testServers, withClient } from '../helpers/servers.js'

// mode: sync reading only the rows written since the last copy (src/steps/sync/since.ts), attacked: every
// case checks the target row by row against the source afterwards, and which rows the sync compared.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * The sync read only the rows written since the last copy, and said nothing about comparing them all. One
 * fallback is legitimate on a server other test files write to at the same time: a transaction of theirs
 * in progress at the last copy's snapshot that ended before its ids could be read (since.ts, readUnseen)
 * leaves every row written after its id counted as possibly written, and the sync then compares them all,
 * saying so. The rows are compared with the source's by the test either way.
 */
function assertWritten(report: RunReport, name: string): TableResult {
  const table = copied(report, name)
  if (/compared every row: \d+ % of the source's rows may have been written/.test(notes(table))) return table
  assert.equal(table.syncCompared, 'written', `${name}: ${JSON.stringify(table)}`)
  assert.doesNotMatch(notes(table), /compared every row/, name)
  return table
}

/**
 * The sync could not use the recorded position and said why; comparing every row may then have handed the
 * table to a reload (most rows rewritten), or the source's statistics, counting as many changes, did before
 * any row was compared (the reason is then within the reload's).
 */
function assertFellBack(report: RunReport, name: string, reason: RegExp): TableResult {
  const table = copied(report, name)
  const said = `(compared every row|reading only the rows written since was not possible): ${reason.source}`
  assert.match(notes(table), new RegExp(said), name)
  if (table.syncCompared === undefined) assert.match(notes(table), /sync → replace: /, name)
  else assert.equal(table.syncCompared, 'all', `${name}: ${JSON.stringify(table)}`)
  return table
}

/** Every row version of a table, where it lies and who wrote it: any write on it changes this. */
async function versions(db: TestDatabase, table: string): Promise<string> {
  const [row] = await db.sql<{ v: string }>(
    `SELECT coalesce(string_agg(ctid::text || '@' || xmin::text, ',' ORDER BY ctid), '') AS v FROM ${table}`,
  )
  return row!.v
}

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client(url)
  await c.connect()
  return c
}

const SOURCE_CHANGED = /the source table's columns, types or enum labels changed since the last copy/
const TARGET_CHANGED = /the target table's columns, types or enum labels changed since the last copy/
const WRITTEN_BY_OTHERS =
  /1 row\(s\) of the target table were written since the last sync, replace or recreate by another writer/
const SOURCE_REWRITTEN = /the source table was re-created, truncated or rewritten since the last copy/
const TARGET_REWRITTEN = /the target table was re-created, truncated or rewritten since the last copy/

/** Small tables of `rows` rows: id, v. */
function plainTables(names: readonly string[], rows = 200): string {
  return names
    .map(
      (name) => `CREATE TABLE public.${name} (id int PRIMARY KEY, v text);
        INSERT INTO public.${name} SELECT g, 'v' || g FROM generate_series(1, ${rows}) g; ANALYZE public.${name};`,
    )
    .join('\n')
}

describe('a sync that reads only the rows written since the last copy', () => {
  test('brings updates, inserts, deletes, key updates and an emptied table exactly, after a replace and after a sync', async () => {
    const db = await databasePair(servers, 'since_kinds')
    try {
      // Ids 2, 4, … 800 (gaps to insert into); every 20th row holds a TOASTed value (random hex: it does
      // not compress below the TOAST threshold); f = 0 every 50th row.
      await db.source.sql(`
        CREATE TABLE public.kinds (id int PRIMARY KEY, note text, big text, ints int[], doc json, docb jsonb,
                                   raw bytea, f float8, n numeric);
        INSERT INTO public.kinds
        SELECT g * 2, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END,
               CASE WHEN g % 20 = 0 THEN (SELECT string_agg(md5(g::text || '-' || i::text), '') FROM generate_series(1, 200) i) END,
               ARRAY[g, g + 1], json_build_object('a', g), jsonb_build_object('b', g), decode(md5(g::text), 'hex'),
               CASE WHEN g % 50 = 0 THEN 0 ELSE g / 3.0 END, g * 1.0
          FROM generate_series(1, 400) g;
        CREATE TABLE public.gone (id int PRIMARY KEY, v text);
        INSERT INTO public.gone SELECT g, 'v' FROM generate_series(1, 60) g;
        ANALYZE public.kinds; ANALYZE public.gone;`)
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      const [toasted] = await db.source.sql<{ out_of_line: boolean }>(
        `SELECT pg_relation_size(reltoastrelid) > 0 AS out_of_line FROM pg_class WHERE oid = 'public.kinds'::regclass`,
      )
      assert.equal(toasted?.out_of_line, true, 'the long values are TOASTed')

      // Nothing changed since the replace: nothing compared beyond counting, nothing written.
      const untouched = await versions(db.target, 'public.kinds')
      let report = await run(db)
      assert.deepEqual(assertWritten(report, 'public.kinds').sync, {
        inserted: 0,
        updated: 0,
        deleted: 0,
        unchanged: 400,
      })
      assertWritten(report, 'public.gone')
      assert.equal(await versions(db.target, 'public.kinds'), untouched, 'no target row was written')

      await db.source.sql(`
        UPDATE public.kinds SET note = 'was null' WHERE id = 14;                 -- NULL → value
        UPDATE public.kinds SET note = NULL WHERE id = 4;                        -- value → NULL
        UPDATE public.kinds SET big = big || 'x' WHERE id = 40;                  -- a TOASTed value changed
        UPDATE public.kinds SET note = 'toast kept' WHERE id = 80;               -- its TOASTed value kept
        UPDATE public.kinds SET ints = ARRAY[NULL, 3]::int[] WHERE id = 6;
        UPDATE public.kinds SET ints = '{}' WHERE id = 8;
        UPDATE public.kinds SET doc = '{"a":5}' WHERE id = 10;                   -- json keeps its spacing
        UPDATE public.kinds SET docb = '{"b": [1, {"c": null}]}' WHERE id = 12;
        UPDATE public.kinds SET raw = '\\x00ff' WHERE id = 16;
        UPDATE public.kinds SET f = 'NaN' WHERE id = 18;
        UPDATE public.kinds SET f = '-0' WHERE id = 100;                         -- = calls it equal to 0
        UPDATE public.kinds SET n = 11.00 WHERE id = 22;                         -- = calls it equal to 11.0
        UPDATE public.kinds SET note = note WHERE id = 24;                       -- written, but the same
        INSERT INTO public.kinds (id, note) VALUES (0, 'first'), (-5, 'before'), (10001, 'last'),
                                                   (3, 'gap'), (401, 'gap');
        DELETE FROM public.kinds WHERE id IN (2, 800);                           -- both ends
        UPDATE public.kinds SET id = 501 WHERE id = 500;                         -- a key update into a gap
        DELETE FROM public.kinds WHERE id = 700;
        UPDATE public.kinds SET id = 700 WHERE id = 702;                         -- onto a deleted key
        DELETE FROM public.gone;                                                 -- emptied`)
      report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(assertWritten(report, 'public.kinds').sync, {
        inserted: 6,
        updated: 13,
        deleted: 4,
        unchanged: 383,
      })
      assert.deepEqual(assertWritten(report, 'public.gone').sync, {
        inserted: 0,
        updated: 0,
        deleted: 60,
        unchanged: 0,
      })
      await assertSameRows(db, 'public.kinds')
      await assertSameRows(db, 'public.gone')

      // The same after a sync: its own writes are known as its own, rows it wrote change again.
      await db.source.sql(`
        UPDATE public.kinds SET note = NULL WHERE id = 14;                       -- a row the last sync wrote
        UPDATE public.kinds SET f = 'Infinity' WHERE id = 18;
        UPDATE public.kinds SET f = 0 WHERE id = 100;                            -- -0 → 0
        UPDATE public.kinds SET n = 11.0 WHERE id = 22;
        UPDATE public.kinds SET big = NULL WHERE id = 120;                       -- TOASTed → NULL
        UPDATE public.kinds SET big = repeat('y', 5000) WHERE id = 26;           -- NULL → long
        UPDATE public.kinds SET raw = NULL, doc = NULL, docb = 'null' WHERE id = 30;
        DELETE FROM public.kinds WHERE id IN (-5, 10001);                        -- both ends again
        INSERT INTO public.kinds (id, note) VALUES (-10, 'new first'), (20000, 'new last'), (5, 'gap');
        UPDATE public.kinds SET id = 499 WHERE id = 501;                         -- a row the last sync inserted`)
      report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(assertWritten(report, 'public.kinds').sync, {
        inserted: 4,
        updated: 7,
        deleted: 3,
        unchanged: 392,
      })
      await assertSameRows(db, 'public.kinds')

      // Nothing changed since a sync that wrote: still nothing written.
      const synced = await versions(db.target, 'public.kinds')
      report = await run(db)
      assert.deepEqual(assertWritten(report, 'public.kinds').sync, {
        inserted: 0,
        updated: 0,
        deleted: 0,
        unchanged: 403,
      })
      assert.equal(await versions(db.target, 'public.kinds'), synced, 'no target row was written')
      await assertSameRows(db, 'public.kinds')
    } finally {
      await db.drop()
    }
  })

  test('brings the writes of source transactions open (and in a subtransaction) when the last sync took its snapshot, and those committed during it', async () => {
    const db = await databasePair(servers, 'since_open')
    const open = await client(db.source.url)
    const sub = await client(db.source.url)
    const during = await client(db.source.url)
    try {
      await db.source.sql(`${plainTables(['t'], 300)} CREATE TABLE public.other (id int PRIMARY KEY);`)
      assert.equal((await run(db)).status, 'succeeded')
      // One transaction has an id and a row of t written; another wrote other in a subtransaction, which
      // has an id of its own, above its parent's.
      await open.query(`BEGIN; UPDATE public.t SET v = 'open, before' WHERE id = 1`)
      await sub.query(`BEGIN; SAVEPOINT s; INSERT INTO public.other VALUES (1)`)
      // …and 70 more subtransactions below it (more than a snapshot lists: it records them as overflowed),
      // one of which wrote t, all of them ended but their top transaction still open.
      await sub.query(`DO $$ BEGIN FOR i IN 1..70 LOOP
          BEGIN
            INSERT INTO public.other VALUES (100 + i);
            IF i = 65 THEN UPDATE public.t SET v = 'in subtransaction 65' WHERE id = 6; END IF;
          EXCEPTION WHEN others THEN RAISE;
          END;
        END LOOP; END $$`)
      let committedDuring: Promise<unknown> | undefined
      const report = await run(db, 'sync', {}, (job) => {
        job.on('table.progress', ({ table }) => {
          // The table's transaction is in the run's snapshot: this commits after it was taken.
          if (table === 'public.t')
            committedDuring ??= during.query(`UPDATE public.t SET v = 'during' WHERE id = 3`)
        })
      })
      assertWritten(report, 'public.t')
      assert.ok(committedDuring, 'a write committed during the sync')
      await committedDuring
      const [third] = await db.target.sql<{ v: string }>(`SELECT v FROM public.t WHERE id = 3`)
      assert.equal(third?.v, 'v3', "the sync's snapshot did not see the write committed during it")
      await open.query(`UPDATE public.t SET v = 'open, after' WHERE id = 2; COMMIT`)
      await sub.query(`UPDATE public.t SET v = 'in the subtransaction' WHERE id = 4;
        INSERT INTO public.t VALUES (5000, 'inserted in the subtransaction'); RELEASE SAVEPOINT s; COMMIT`)
      const next = await run(db)
      assert.deepEqual(assertWritten(next, 'public.t').sync, {
        inserted: 1,
        updated: 5,
        deleted: 0,
        unchanged: 295,
      })
      await assertSameRows(db, 'public.t')
      await assertSameRows(db, 'public.other')
    } finally {
      await Promise.allSettled([open.end(), sub.end(), during.end()])
      await db.drop()
    }
  })

  test('compares every row when the target was written by someone else since, and puts the rows back', async () => {
    const db = await databasePair(servers, 'since_tamper')
    const late = await client(db.target.url)
    try {
      const names = ['updated', 'inserted', 'deleted', 'swapped', 'nested', 'late']
      await db.source.sql(plainTables(names))
      assert.equal((await run(db)).status, 'succeeded')
      // A target transaction with ids (its own and a subtransaction's) that is still open when the next
      // sync commits, and writes the table afterwards.
      await db.target.sql(`CREATE TABLE public.scratch (id int)`)
      await late.query(`BEGIN; SAVEPOINT s; INSERT INTO public.scratch VALUES (1)`)
      let report = await run(db)
      for (const name of names) assertWritten(report, `public.${name}`)
      await late.query(`UPDATE public.late SET v = 'late' WHERE id = 10; RELEASE SAVEPOINT s; COMMIT`)
      await db.target.sql(`
        UPDATE public.updated SET v = 'local' WHERE id = 10;
        INSERT INTO public.inserted VALUES (-1, 'local');
        DELETE FROM public.deleted WHERE id = 10;
        DELETE FROM public.swapped WHERE id = 10; INSERT INTO public.swapped VALUES (-1, 'local');`)
      await db.target.sql(`BEGIN; SAVEPOINT a; UPDATE public.nested SET v = 'nested' WHERE id = 10;
        SAVEPOINT b; UPDATE public.nested SET v = 'rolled back' WHERE id = 11; ROLLBACK TO SAVEPOINT b;
        RELEASE SAVEPOINT a; COMMIT`)
      for (const name of names) await db.source.sql(`UPDATE public.${name} SET v = 'source' WHERE id = 20`)
      report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      for (const name of ['updated', 'inserted', 'swapped', 'nested', 'late'])
        assertAll(report, `public.${name}`, WRITTEN_BY_OTHERS)
      assertAll(report, 'public.deleted', /the target table has 199 rows where the last copy left 200/)
      for (const name of names) await assertSameRows(db, `public.${name}`)
      // The full comparison recorded a position the next sync can use again.
      for (const name of names) await db.source.sql(`UPDATE public.${name} SET v = 'again' WHERE id = 30`)
      report = await run(db)
      for (const name of names) {
        assert.equal(assertWritten(report, `public.${name}`).sync?.updated, 1, name)
        await assertSameRows(db, `public.${name}`)
      }
    } finally {
      await late.end().catch(() => {})
      await db.drop()
    }
  })

  test("compares every row when a row's text changed without a write: enum labels, a fast default, a column or attribute re-added", async () => {
    const db = await databasePair(servers, 'since_text')
    try {
      // A few rows use each type (the comparison then finds few differing buckets and stays a sync).
      await db.source.sql(`
        CREATE TYPE public.mood1 AS ENUM ('happy', 'sad');
        CREATE TYPE public.mood2 AS ENUM ('happy', 'sad');
        CREATE TYPE public.mood3 AS ENUM ('happy', 'sad');
        CREATE DOMAIN public.mood3_domain AS public.mood3;
        CREATE TYPE public.mood4 AS ENUM ('happy', 'sad');
        CREATE TYPE public.mood5 AS ENUM ('happy', 'sad');
        CREATE TYPE public.mood5_range AS RANGE (subtype = public.mood5, multirange_type_name = public.mood5_ranges);
        CREATE TYPE public.pair AS (a int, b text);
        CREATE TABLE public.direct (id int PRIMARY KEY, m public.mood1);
        CREATE TABLE public.arrayed (id int PRIMARY KEY, m public.mood2[]);
        CREATE TABLE public.domained (id int PRIMARY KEY, m public.mood3_domain);
        CREATE TABLE public.composite (id int PRIMARY KEY, p public.pair);
        CREATE TABLE public.target_swapped (id int PRIMARY KEY, m public.mood4);
        CREATE TABLE public.multiranged (id int PRIMARY KEY, m public.mood5_ranges);
        CREATE TABLE public.readded (id int PRIMARY KEY, v text, note text);
        INSERT INTO public.direct SELECT g, (CASE WHEN g <= 3 THEN 'happy' WHEN g <= 5 THEN 'sad' END)::public.mood1 FROM generate_series(1, 200) g;
        INSERT INTO public.arrayed SELECT g, CASE WHEN g <= 5 THEN ARRAY['happy', 'sad']::public.mood2[] END FROM generate_series(1, 200) g;
        INSERT INTO public.domained SELECT g, (CASE WHEN g <= 3 THEN 'happy' WHEN g <= 5 THEN 'sad' END)::public.mood3_domain FROM generate_series(1, 200) g;
        INSERT INTO public.target_swapped SELECT g, (CASE WHEN g <= 5 THEN 'sad' END)::public.mood4 FROM generate_series(1, 200) g;
        INSERT INTO public.multiranged SELECT g, CASE WHEN g <= 5 THEN '{[happy,happy]}'::public.mood5_ranges END FROM generate_series(1, 200) g;
        INSERT INTO public.composite SELECT g, CASE WHEN g <= 5 THEN ROW(g, 'b' || g)::public.pair END FROM generate_series(1, 200) g;
        INSERT INTO public.readded SELECT g, 'v' || g, CASE WHEN g <= 5 THEN 'note' END FROM generate_series(1, 200) g;
        ${plainTables(['same_default', 'other_default'])}
        ANALYZE;`)
      assert.equal((await run(db)).status, 'succeeded')
      // Labels swapped (the target's enums still accept every text the source's now print); a composite's
      // attribute and a column dropped and added again with the same name and type (their values are gone,
      // no row written); a column with a default added on both sides.
      await db.source.sql(`
        ALTER TYPE public.mood1 RENAME VALUE 'happy' TO 'x'; ALTER TYPE public.mood1 RENAME VALUE 'sad' TO 'happy';
        ALTER TYPE public.mood1 RENAME VALUE 'x' TO 'sad';
        ALTER TYPE public.mood2 RENAME VALUE 'happy' TO 'x'; ALTER TYPE public.mood2 RENAME VALUE 'sad' TO 'happy';
        ALTER TYPE public.mood2 RENAME VALUE 'x' TO 'sad';
        ALTER TYPE public.mood3 RENAME VALUE 'happy' TO 'x'; ALTER TYPE public.mood3 RENAME VALUE 'sad' TO 'happy';
        ALTER TYPE public.mood3 RENAME VALUE 'x' TO 'sad';
        ALTER TYPE public.mood5 RENAME VALUE 'happy' TO 'x'; ALTER TYPE public.mood5 RENAME VALUE 'sad' TO 'happy';
        ALTER TYPE public.mood5 RENAME VALUE 'x' TO 'sad';
        ALTER TYPE public.pair DROP ATTRIBUTE b; ALTER TYPE public.pair ADD ATTRIBUTE b text;
        ALTER TABLE public.readded DROP COLUMN note; ALTER TABLE public.readded ADD COLUMN note text;
        ALTER TABLE public.same_default ADD COLUMN c int DEFAULT 1;
        ALTER TABLE public.other_default ADD COLUMN c int DEFAULT 1;`)
      await db.target.sql(`ALTER TYPE public.mood4 RENAME VALUE 'happy' TO 'x';
        ALTER TYPE public.mood4 RENAME VALUE 'sad' TO 'happy'; ALTER TYPE public.mood4 RENAME VALUE 'x' TO 'sad';
        ALTER TABLE public.same_default ADD COLUMN c int DEFAULT 1;
        ALTER TABLE public.other_default ADD COLUMN c int DEFAULT 2;`)
      const report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      for (const name of [
        'direct',
        'arrayed',
        'domained',
        'multiranged',
        'composite',
        'readded',
        'same_default',
      ])
        assertAll(report, `public.${name}`, SOURCE_CHANGED)
      assert.deepEqual(copied(report, 'public.direct').sync, {
        inserted: 0,
        updated: 5,
        deleted: 0,
        unchanged: 195,
      })
      // Every row differs: comparing them all may hand the table to a reload, never to the written rows.
      assertAll(report, 'public.target_swapped', TARGET_CHANGED)
      assertFellBack(report, 'public.other_default', SOURCE_CHANGED)
      for (const name of [
        'direct',
        'arrayed',
        'domained',
        'multiranged',
        'composite',
        'readded',
        'target_swapped',
        'same_default',
        'other_default',
      ])
        await assertSameRows(db, `public.${name}`)
    } finally {
      await db.drop()
    }
  })

  test('compares every row after TRUNCATE, VACUUM FULL, CLUSTER or a re-created table on either side', async () => {
    const db = await databasePair(servers, 'since_rewrite')
    try {
      const source = ['truncated', 'vacuumed', 'clustered', 'recreated']
      const target = ['target_vacuumed', 'target_clustered']
      await db.source.sql(plainTables([...source, ...target]))
      assert.equal((await run(db)).status, 'succeeded')
      await db.source.sql(`BEGIN; TRUNCATE public.truncated;
        INSERT INTO public.truncated SELECT g, CASE WHEN g = 7 THEN 'reloaded' ELSE 'v' || g END FROM generate_series(1, 200) g;
        COMMIT`)
      await db.source.sql(`UPDATE public.vacuumed SET v = 'before vacuum' WHERE id = 7`)
      await db.source.sql(`VACUUM FULL public.vacuumed`)
      await db.source.sql(`UPDATE public.clustered SET v = 'before cluster' WHERE id = 7`)
      await db.source.sql(`CLUSTER public.clustered USING clustered_pkey`)
      await db.source.sql(`DROP TABLE public.recreated; ${plainTables(['recreated'])}
        UPDATE public.recreated SET v = 'recreated' WHERE id = 7`)
      await db.target.sql(`VACUUM FULL public.target_vacuumed`)
      await db.target.sql(`CLUSTER public.target_clustered USING target_clustered_pkey`)
      for (const name of target) await db.source.sql(`UPDATE public.${name} SET v = 'source' WHERE id = 7`)
      let report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      // The statistics count every row of these as new: they may be reloaded instead of compared.
      for (const name of ['truncated', 'recreated'])
        assertFellBack(report, `public.${name}`, SOURCE_REWRITTEN)
      for (const name of ['vacuumed', 'clustered'])
        assert.equal(assertAll(report, `public.${name}`, SOURCE_REWRITTEN).sync?.updated, 1, name)
      for (const name of target)
        assert.equal(assertAll(report, `public.${name}`, TARGET_REWRITTEN).sync?.updated, 1, name)
      for (const name of [...source, ...target]) await assertSameRows(db, `public.${name}`)
      for (const name of [...source, ...target])
        await db.source.sql(`UPDATE public.${name} SET v = 'next' WHERE id = 8`)
      report = await run(db)
      for (const name of [...source, ...target]) {
        assert.equal(assertWritten(report, `public.${name}`).sync?.updated, 1, name)
        await assertSameRows(db, `public.${name}`)
      }
    } finally {
      await db.drop()
    }
  })

  test('compares every row of a table read with where:, or with row level security on the source', async () => {
    const db = await databasePair(servers, 'since_where')
    try {
      await db.source.sql(plainTables(['filtered', 'secured']))
      const yaml = { tables: [{ name: 'public.filtered', where: 'id > 10' }, 'public.secured'] }
      assert.equal((await run(db, 'sync', yaml)).status, 'succeeded')
      await db.source.sql(`ALTER TABLE public.secured ENABLE ROW LEVEL SECURITY`)
      await db.source.sql(`UPDATE public.filtered SET v = 'changed' WHERE id = 20;
        UPDATE public.secured SET v = 'changed' WHERE id = 20`)
      const report = await run(db, 'sync', yaml)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      const filtered = copied(report, 'public.filtered')
      assert.equal(filtered.syncCompared, 'all', JSON.stringify(filtered))
      assert.equal(filtered.sync?.updated, 1)
      assertAll(report, 'public.secured', /row level security applies to the source table/)
      const [source, target] = await Promise.all([
        db.source.sql(`SELECT id, v FROM public.filtered WHERE id > 10 ORDER BY id`),
        db.target.sql(`SELECT id, v FROM public.filtered ORDER BY id`),
      ])
      assert.deepEqual(target, source)
      await assertSameRows(db, 'public.secured')
    } finally {
      await db.drop()
    }
  })

  test('compares every row when a column prints catalog names (regclass, regtype[]) and a named object is renamed without a write', async () => {
    const db = await databasePair(servers, 'since_names')
    try {
      // The target has the objects under both names, so that it accepts the rows' text before and after.
      await db.source.sql(`
        CREATE TABLE public.t_old (x int); CREATE TYPE public.kind_old AS (a int);
        CREATE TABLE public.named (id int PRIMARY KEY, rel regclass, kinds regtype[]);
        INSERT INTO public.named SELECT g, CASE WHEN g <= 3 THEN 'public.t_old'::regclass END,
               CASE WHEN g <= 3 THEN ARRAY['public.kind_old'::regtype] END FROM generate_series(1, 200) g;
        ANALYZE public.named;`)
      await db.target.sql(`
        CREATE TABLE public.t_old (x int); CREATE TABLE public.t_new (x int);
        CREATE TYPE public.kind_old AS (a int); CREATE TYPE public.kind_new AS (a int);`)
      const yaml = { tables: ['public.named'] }
      assert.equal((await run(db, 'sync', yaml)).status, 'succeeded')
      const before = await versions(db.source, 'public.named')
      await db.source.sql(
        `ALTER TABLE public.t_old RENAME TO t_new; ALTER TYPE public.kind_old RENAME TO kind_new`,
      )
      assert.equal(await versions(db.source, 'public.named'), before, 'no row was written by the renames')
      const report = await run(db, 'sync', yaml)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      const named = assertAll(report, 'public.named', /a column holds catalog names/)
      assert.equal(named.sync?.updated, 3, JSON.stringify(named))
      await assertSameRows(db, 'public.named')
    } finally {
      await db.drop()
    }
  })

  test('reloads a large table at once when a sample of its pages shows most rows written, and records the changed: high-water mark when it reads only the written rows', async () => {
    const db = await databasePair(servers, 'since_sampled')
    try {
      await db.source.sql(`
        CREATE TABLE public.big (id int PRIMARY KEY, v int, at timestamptz NOT NULL DEFAULT '2026-01-01');
        INSERT INTO public.big (id, v) SELECT g, g FROM generate_series(1, 450000) g;
        ANALYZE public.big;`)
      const yaml = { tables: [{ name: 'public.big', changed: 'at' }] }
      assert.equal((await run(db, 'sync', yaml)).status, 'succeeded')
      // A few rows written: read alone, and the hint's mark moves with them (read in the same pass).
      await db.source.sql(`UPDATE public.big SET v = -v, at = '2026-02-01' WHERE id % 1000 = 0`)
      const few = await run(db, 'sync', yaml)
      assert.equal(few.status, 'succeeded', JSON.stringify(few.tables))
      assert.equal(assertWritten(few, 'public.big').sync?.updated, 450)
      const [mark] = await db.target.sql<{ high_water: string }>(
        `SELECT high_water FROM tablehaul.sync_marks WHERE table_name = 'big'`,
      )
      assert.equal(mark?.high_water, '2026-02-01 00:00:00+00')
      await assertSameRows(db, 'public.big')
      // Half the rows written: the sample says so before any counting.
      await db.source.sql(`UPDATE public.big SET v = v + 1 WHERE id % 2 = 0`)
      const half = await run(db, 'sync', yaml)
      assert.equal(half.status, 'succeeded', JSON.stringify(half.tables))
      const big = copied(half, 'public.big')
      if (!/compared every row: \d+ % of the source's rows may have been written/.test(notes(big)))
        assert.match(
          notes(big),
          /sync → replace: about \d+ % of the source's rows were written since the last copy \(a sample of its pages\)/,
        )
      assert.equal(big.sync, undefined, JSON.stringify(big))
      await assertSameRows(db, 'public.big')
    } finally {
      await db.drop()
    }
  })

  test("finds deletes at the ends of the key range, beside inserts and side by side, with the keys counted in the same pass as the written rows once the source's statistics count deletes", async () => {
    const db = await databasePair(servers, 'since_folded')
    try {
      await db.source.sql(`
        CREATE TABLE public.ranged (id int8 PRIMARY KEY, v text);
        INSERT INTO public.ranged SELECT g * 3, 'v' || g FROM generate_series(1, 20000) g;
        ANALYZE public.ranged;`)
      assert.equal((await run(db)).status, 'succeeded')
      const deletes = async () => {
        const [row] = await db.source.sql<{ n: number }>(
          `SELECT n_tup_del::int AS n FROM pg_stat_all_tables WHERE relid = 'public.ranged'::regclass`,
        )
        return row!.n
      }
      for (const round of [1, 2]) {
        const before = await deletes()
        // The first and last keys, keys beside new ones in the gaps, a key moved, rows updated.
        await db.source.sql(`
          DELETE FROM public.ranged WHERE id IN (SELECT min(id) FROM public.ranged UNION SELECT max(id) FROM public.ranged);
          DELETE FROM public.ranged WHERE id IN (300 * ${round}, 3000 * ${round} + 3);
          INSERT INTO public.ranged VALUES (300 * ${round} + 1, 'gap'), (3000 * ${round} + 1, 'gap'), (-${round}, 'first'), (100000 + ${round}, 'last');
          UPDATE public.ranged SET id = id + 1 WHERE id = 9000 * ${round};
          UPDATE public.ranged SET v = v || '.' WHERE id % 997 = 0;
          DELETE FROM public.ranged WHERE id BETWEEN 12000 * ${round} AND 12000 * ${round} + 60;`)
        // The statistics reach pg_stat_all_tables when the writing session goes idle or ends.
        await waitFor(
          async () => (await deletes()) >= before + 25,
          30_000,
          'the statistics to count the deletes',
        )
        const report = await run(db)
        assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
        const ranged = assertWritten(report, 'public.ranged')
        // 4 deletes alone in their range of keys (named by the key sums), 21 side by side (read again).
        assert.equal(ranged.sync?.deleted, 26, JSON.stringify(ranged))
        assert.equal(ranged.sync?.inserted, 5, JSON.stringify(ranged))
        await assertSameRows(db, 'public.ranged')
      }
    } finally {
      await db.drop()
    }
  })

  test('reloads a target table with rules, which would rewrite or swallow its INSERT, UPDATE and DELETE, and keeps the rules', async () => {
    const db = await databasePair(servers, 'since_rules')
    try {
      await db.source.sql(`
        CREATE TABLE public.ruled (id int4 PRIMARY KEY, v text);
        INSERT INTO public.ruled SELECT g * 2, 'v' || g FROM generate_series(1, 2000) g;`)
      assert.equal((await run(db)).status, 'succeeded')
      // A hostile role on the target, or a forgotten rule: DO INSTEAD NOTHING turns each statement into
      // nothing, reporting 0 rows without an error. Before, a sync brought the updates and inserts (the
      // row counts caught the swallowed ones) but reported the table copied with deleted rows left in it.
      await db.target.sql(`
        CREATE RULE swallow_update AS ON UPDATE TO public.ruled DO INSTEAD NOTHING;
        CREATE RULE swallow_insert AS ON INSERT TO public.ruled DO INSTEAD NOTHING;
        CREATE RULE swallow_delete AS ON DELETE TO public.ruled DO INSTEAD NOTHING;
        CREATE RULE replica_only AS ON DELETE TO public.ruled DO ALSO NOTHING;
        ALTER TABLE public.ruled ENABLE REPLICA RULE replica_only;`)
      await db.source.sql(`
        UPDATE public.ruled SET v = v || '.' WHERE id % 400 = 0;
        INSERT INTO public.ruled VALUES (1, 'new'), (10001, 'new');
        DELETE FROM public.ruled WHERE id IN (100, 3000);`)
      const report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.match(
        notes(copied(report, 'public.ruled')),
        /sync → replace: the target table has rules \(swallow_(delete|insert|update), swallow_(delete|insert|update), swallow_(delete|insert|update)\) that its INSERT, UPDATE and DELETE would fire/,
      )
      await assertSameRows(db, 'public.ruled')
      const [ruled] = await db.target.sql<{ rules: string }>(
        `SELECT string_agg(rulename, ',' ORDER BY rulename) AS rules FROM pg_rules WHERE tablename = 'ruled'`,
      )
      assert.equal(ruled?.rules, 'replica_only,swallow_delete,swallow_insert,swallow_update')
    } finally {
      await db.drop()
    }
  })

  test('brings values of a unique column that moved between rows: swapped, and taken over by a new row from a deleted one', async () => {
    const db = await databasePair(servers, 'since_unique_moves')
    try {
      await db.source.sql(`
        CREATE TABLE public.accounts (id int4 PRIMARY KEY, email text NOT NULL UNIQUE, n int4);
        INSERT INTO public.accounts SELECT g, 'user' || g || '@example.com', g FROM generate_series(1, 3000) g;`)
      assert.equal((await run(db)).status, 'succeeded')
      // Each valid at every commit on the source; applied row by row on the target, the first UPDATE (or
      // the INSERT before the DELETE) meets the other row's value in the unique index.
      await db.source.sql(`
        BEGIN;
        UPDATE public.accounts SET email = 'swap' WHERE id = 10;
        UPDATE public.accounts SET email = 'user10@example.com' WHERE id = 20;
        UPDATE public.accounts SET email = 'user20@example.com' WHERE id = 10;
        COMMIT;
        DELETE FROM public.accounts WHERE id = 30;
        INSERT INTO public.accounts VALUES (5000, 'user30@example.com', 0);
        UPDATE public.accounts SET n = n + 1 WHERE id % 500 = 0;`)
      const report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.match(
        notes(copied(report, 'public.accounts')),
        /sync → replace: writing the differences row by row met a unique index or exclusion constraint \(duplicate key value violates unique constraint "accounts_email_key".*\): a value moved between rows, which only a reload applies/,
      )
      await assertSameRows(db, 'public.accounts')
      // And the next sync reads only the rows written since the reload.
      await db.source.sql(`UPDATE public.accounts SET n = n + 1 WHERE id % 700 = 0`)
      const next = await run(db)
      assert.equal(next.status, 'succeeded', JSON.stringify(next.tables))
      assertWritten(next, 'public.accounts')
      await assertSameRows(db, 'public.accounts')
    } finally {
      await db.drop()
    }
  })

  test('brings a key changed to one equal by = but written otherwise, with a delete beside it', async () => {
    const db = await databasePair(servers, 'since_fallback_after_write')
    try {
      await db.source.sql(`
        CREATE TABLE public.keyed (id numeric PRIMARY KEY, v text);
        INSERT INTO public.keyed SELECT g, 'v' || g FROM generate_series(1, 2000) g; ANALYZE public.keyed;`)
      assert.equal((await run(db)).status, 'succeeded')
      // 7 becomes 7.00: = calls it the same key, its text (and so its bucket, a hash of the text) is
      // another. The written row updates the target's row in place, key text included, before the keys
      // are counted per bucket to find the delete: both sides then agree on its bucket. (An earlier
      // version counted keys before writing, fell back to comparing every row and failed on its own
      // temporary tables: 42P07.)
      await db.source.sql(
        `UPDATE public.keyed SET id = 7.00 WHERE id = 7; DELETE FROM public.keyed WHERE id = 1500;`,
      )
      const report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(assertWritten(report, 'public.keyed').sync, {
        inserted: 0,
        updated: 1,
        deleted: 1,
        unchanged: 1998,
      })
      await assertSameRows(db, 'public.keyed')
    } finally {
      await db.drop()
    }
  })

  test('compares every row when the source is another database, even a clone with the same table ids', async () => {
    const db = await databasePair(servers, 'since_clone')
    const clone = `${db.source.name}_clone`
    try {
      await db.source.sql(plainTables(['t']))
      assert.equal((await run(db)).status, 'succeeded')
      // CREATE DATABASE … TEMPLATE copies the files: same table oid and relfilenode, same row xmins. A write
      // in the clone, then a sync from the original that moves its position past that write's id.
      await withClient(servers.source.url, (c) =>
        c.query(`CREATE DATABASE ${clone} TEMPLATE ${db.source.name}`),
      )
      const cloned = { url: servers.source.urlFor(clone) }
      await withClient(cloned.url, (c) =>
        c.query(`UPDATE public.t SET v = 'only in the clone' WHERE id = 10`),
      )
      await db.source.sql(`UPDATE public.t SET v = 'original' WHERE id = 20`)
      assertWritten(await run(db), 'public.t')
      const report = await run({ source: cloned, target: db.target })
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assertAll(report, 'public.t', /the source is another database than at the last copy/)
      await assertSameRows({ source: cloned, target: db.target }, 'public.t')
    } finally {
      await db.drop()
      await withClient(servers.source.url, (c) => c.query(`DROP DATABASE IF EXISTS ${clone} WITH (FORCE)`))
    }
  })

  test('syncs tables linked by a foreign key (the referenced one keyed by an identity column), and the leaves of a partitioned table with a row moving between them', async () => {
    const db = await databasePair(servers, 'since_keys')
    try {
      await db.source.sql(`
        CREATE TABLE public.parent (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
        CREATE TABLE public.child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES public.parent);
        INSERT INTO public.parent OVERRIDING SYSTEM VALUE SELECT g, 'p' || g FROM generate_series(1, 200) g;
        INSERT INTO public.child SELECT g, g % 200 + 1 FROM generate_series(1, 300) g;
        CREATE TABLE public.parts (k int, id int, v text, PRIMARY KEY (k, id)) PARTITION BY RANGE (k);
        CREATE TABLE public.parts_low PARTITION OF public.parts FOR VALUES FROM (0) TO (100);
        CREATE TABLE public.parts_high PARTITION OF public.parts FOR VALUES FROM (100) TO (1000);
        INSERT INTO public.parts SELECT g % 200, g, 'v' || g FROM generate_series(1, 400) g;
        ANALYZE;`)
      assert.equal((await run(db)).status, 'succeeded')
      await db.source.sql(`
        INSERT INTO public.parent OVERRIDING SYSTEM VALUE VALUES (1000, 'new');
        UPDATE public.parent SET name = 'renamed' WHERE id = 9;
        INSERT INTO public.child VALUES (5000, 1000);
        UPDATE public.child SET parent_id = 1000 WHERE id = 7;
        DELETE FROM public.child WHERE parent_id = 5;
        DELETE FROM public.parent WHERE id = 5;
        UPDATE public.parts SET k = 150 WHERE id = 50;                          -- low → high
        UPDATE public.parts SET k = 20 WHERE id = 120;                          -- high → low
        UPDATE public.parts SET v = 'changed' WHERE id = 3;`)
      const report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(assertWritten(report, 'public.parent').sync, {
        inserted: 1,
        updated: 1,
        deleted: 1,
        unchanged: 198,
      })
      assert.deepEqual(assertWritten(report, 'public.child').sync, {
        inserted: 1,
        updated: 1,
        deleted: 2,
        unchanged: 297,
      })
      assert.deepEqual(assertWritten(report, 'public.parts_low').sync, {
        inserted: 1,
        updated: 1,
        deleted: 1,
        unchanged: 198,
      })
      assert.deepEqual(assertWritten(report, 'public.parts_high').sync, {
        inserted: 1,
        updated: 0,
        deleted: 1,
        unchanged: 199,
      })
      for (const name of ['parent', 'child', 'parts', 'parts_low', 'parts_high'])
        await assertSameRows(db, `public.${name}`)
      const [broken] = await db.target.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM public.child c WHERE NOT EXISTS (SELECT FROM public.parent p WHERE p.id = c.parent_id)`,
      )
      assert.equal(broken?.n, 0)
      const [keys] = await db.target.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'public.child'::regclass AND contype = 'f' AND convalidated`,
      )
      assert.equal(keys?.n, 1, 'the foreign key is there, validated')
    } finally {
      await db.drop()
    }
  })

  test("reloads two tables linked by a foreign key at once, neither waiting for the other's lock, when the source's statistics count most rows changed", async () => {
    const db = await databasePair(servers, 'since_reload_keys')
    try {
      await db.source.sql(`
        CREATE TABLE public.owner (id int PRIMARY KEY, v text);
        CREATE TABLE public.owned (id int PRIMARY KEY, owner_id int NOT NULL REFERENCES public.owner, v text);
        INSERT INTO public.owner SELECT g, 'o' || g FROM generate_series(1, 50000) g;
        INSERT INTO public.owned SELECT g, g % 2000 + 1, 'd' || g FROM generate_series(1, 50000) g;
        ANALYZE;`)
      assert.equal((await run(db, 'sync', { jobs: 2 })).status, 'succeeded')
      const counted = async () => {
        const [row] = await db.source.sql<{ n: number }>(
          `SELECT min(n_tup_upd)::int AS n FROM pg_stat_all_tables WHERE relid IN ('public.owner'::regclass, 'public.owned'::regclass)`,
        )
        return row!.n
      }
      const before = await counted()
      await db.source.sql(`UPDATE public.owner SET v = v || '.' WHERE id % 10 < 6;
        UPDATE public.owned SET v = v || '.' WHERE id % 10 < 6`)
      // Each session's counters reach pg_stat_all_tables when it goes idle or ends.
      await waitFor(
        async () => (await counted()) >= before + 30000,
        30_000,
        'the statistics to count the updates',
      )
      // Lifted inside the tables' transactions, the key would make each reload wait for the other's lock
      // (or deadlock, when both hold their own): watched on the target while the run goes.
      const watcher = await client(db.target.url)
      let running = true
      const waits: string[] = []
      const watching = (async () => {
        while (running) {
          const { rows } = await watcher.query<{ relation: string; mode: string }>(
            `SELECT l.relation::regclass::text AS relation, l.mode FROM pg_locks l
              WHERE NOT l.granted AND l.relation IN ('public.owner'::regclass, 'public.owned'::regclass)`,
          )
          waits.push(...rows.map((row) => `${row.mode} on ${row.relation}`))
        }
      })()
      const report = await run(db, 'sync', { jobs: 2 }).finally(() => (running = false))
      await watching.finally(() => watcher.end())
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual([...new Set(waits)], [], 'neither reload waited for a lock on the other table')
      for (const name of ['public.owner', 'public.owned']) {
        const table = copied(report, name)
        assert.match(notes(table), /sync → replace: /, name)
        assert.equal(table.attempts, 1, `${name} needed no second attempt: ${JSON.stringify(table)}`)
        await assertSameRows(db, name)
      }
      const [keys] = await db.target.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'public.owned'::regclass AND contype = 'f' AND convalidated`,
      )
      assert.equal(keys?.n, 1, 'the foreign key is back, validated')
    } finally {
      await db.drop()
    }
  })

  test('keeps the rows that reference a row it updates, with a GENERATED ALWAYS identity column outside the key', async () => {
    const db = await databasePair(servers, 'since_cascade')
    try {
      // child is the larger: with one job it is synced (and committed) first.
      await db.source.sql(`
          CREATE TABLE public.parent (id int PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, name text);
          CREATE TABLE public.child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES public.parent ON DELETE CASCADE, pad text);
          INSERT INTO public.parent (id, name) SELECT g, 'p' || g FROM generate_series(1, 200) g;
          INSERT INTO public.child SELECT g, g % 200 + 1, repeat('x', 100) FROM generate_series(1, 2000) g;
          ANALYZE;`)
      assert.equal((await run(db, 'sync', { jobs: 1 })).status, 'succeeded')
      await db.source.sql(`UPDATE public.parent SET name = 'renamed' WHERE id = 5`)
      const report = await run(db, 'sync', { jobs: 1 })
      assert.equal(assertWritten(report, 'public.parent').sync?.updated, 1)
      await assertSameRows(db, 'public.parent')
      await assertSameRows(db, 'public.child')
    } finally {
      await db.drop()
    }
  })

  test('two tables synced at once, over five rounds of random changes, with a target transaction open throughout', async () => {
    const db = await databasePair(servers, 'since_rounds')
    const holder = await client(db.target.url)
    const open = await client(db.target.url)
    try {
      const names = ['left_side', 'right_side']
      await db.source.sql(plainTables(names, 300))
      const yaml = { jobs: 2 }
      assert.equal((await run(db, 'sync', yaml)).status, 'succeeded')
      // Its id stays below every later sync's: their rows are told apart only by the ids they recorded.
      await db.target.sql(`CREATE TABLE public.scratch (id int)`)
      await open.query(`BEGIN; INSERT INTO public.scratch VALUES (1)`)
      const random = mulberry32(20261206)
      const pick = (n: number) => Array.from({ length: n }, () => 1 + Math.floor(random() * 600))
      for (let round = 1; round <= 5; round++) {
        for (const name of names) {
          const [from, to] = pick(2)
          await db.source.sql(`
            UPDATE public.${name} SET v = 'r${round} ' || id WHERE id IN (${pick(8).join(', ')});
            INSERT INTO public.${name} SELECT g, 'new r${round}' FROM unnest(ARRAY[${pick(4).join(', ')}]) g ON CONFLICT DO NOTHING;
            DELETE FROM public.${name} WHERE id IN (${pick(4).join(', ')});
            UPDATE public.${name} SET id = ${to! + 1000} WHERE id = ${from}
               AND NOT EXISTS (SELECT FROM public.${name} WHERE id = ${to! + 1000});`)
        }
        // Both tables' transactions wait on this lock just before COMMIT, their positions recorded while the
        // other's is open.
        let overlapped: Promise<void> | undefined
        const report = await run(db, 'sync', yaml, (job) => {
          job.on('step.started', ({ step }) => {
            if (step !== 'copy') return
            const locked = holder.query('BEGIN; LOCK TABLE tablehaul.copied_tables IN SHARE MODE')
            overlapped = (async () => {
              await locked
              await waitFor(
                async () => {
                  const [row] = await db.target.sql<{ n: number }>(
                    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                        AND query LIKE '%tablehaul.copied_tables%'`,
                  )
                  return row!.n === 2
                },
                30_000,
                'both tables to wait before COMMIT',
              )
              await holder.query('COMMIT')
            })()
          })
        })
        assert.ok(overlapped, 'the copy step started')
        await overlapped
        assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
        for (const name of names) {
          assertWritten(report, `public.${name}`)
          await assertSameRows(db, `public.${name}`)
        }
      }
    } finally {
      await Promise.allSettled([holder.end(), open.end()])
      await db.drop()
    }
  })
})

/** A small seeded random generator: the rounds' changes are the same every run. */
function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
