import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport, TableResult } from '../../../src/report/run-report.js'
import { TransferJob } from '../../../src/run/transfer-job.js'
import { testConfig } from '../../helpers/config.js'
import { type DatabasePair, databasePair } from '../../helpers/database-pair.js'
import { testServers } from '../../helpers/servers.js'
import { assertSameRows } from '../../helpers/fingerprint.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

async function run(db: DatabasePair, extra: Record<string, unknown> = {}): Promise<RunReport> {
  const report = await new TransferJob(
    testConfig({ source: db.source.url, target: db.target.url, mode: 'sync' }, { yaml: extra }),
    { notifier: null },
  ).run()
  assert.equal(report.status, 'succeeded', JSON.stringify(report.tables, null, 2))
  return report
}

function table(report: RunReport, name: string): TableResult {
  const found = report.tables.find((t) => t.table === name)
  assert.ok(found, `${name} is in the report`)
  return found
}

/** A table of every type family, with TOASTed values: 1,992 rows, with gaps at every 250th key. */
const FAMILIES = `
  CREATE TABLE public.items (
    id int PRIMARY KEY,
    t text, n numeric, f8 float8, f4 float4, b bytea, j json, jb jsonb, arr int[], tarr text[],
    ts timestamptz, d date, flag boolean, big text
  );
  INSERT INTO public.items
  SELECT g, 'text ' || g, g / 7.0, g * 1.5, g, decode(md5(g::text), 'hex'), json_build_object('g', g),
         jsonb_build_object('g', g, 'a', 'x'), ARRAY[g, g + 1], ARRAY['a' || g, NULL],
         '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 hour', DATE '2024-01-01' + g, g % 2 = 0,
         CASE WHEN g % 100 = 0 THEN repeat(md5(g::text), 4000) END
    FROM generate_series(1, 2000) g
   WHERE g % 250 <> 0;
`

describe('mode: sync writes only the rows that differ', () => {
  test('after a full copy, changes of every type family, deletes and inserts make the target identical again', async () => {
    const db = await databasePair(servers, 'sync_families')
    try {
      await db.source.sql(FAMILIES)
      const first = await run(db)
      assert.equal(first.tables[0]!.rows, 1992)
      assert.equal(first.tables[0]!.sync, undefined, 'a missing table is copied in full')

      await db.source.sql(`
        UPDATE public.items SET t = NULL WHERE id = 10;                         -- value -> NULL
        UPDATE public.items SET n = NULL WHERE id = 11;
        UPDATE public.items SET t = 'back' WHERE id = 12;
        UPDATE public.items SET big = repeat('z', 100000) WHERE id = 100;       -- TOASTed value changed
        UPDATE public.items SET big = repeat(md5('x'), 5000) WHERE id = 13;      -- NULL -> TOASTed value
        UPDATE public.items SET arr = ARRAY[1, NULL, 3] WHERE id = 14;
        UPDATE public.items SET tarr = '{}' WHERE id = 15;
        UPDATE public.items SET j = '{"g":  15}' WHERE id = 16;                 -- json keeps its spacing
        UPDATE public.items SET jb = '{"a": "y", "g": 17}' WHERE id = 17;
        UPDATE public.items SET b = '\\x00' WHERE id = 18;
        UPDATE public.items SET f8 = 'NaN', f4 = '-Infinity' WHERE id = 19;
        UPDATE public.items SET f8 = '-0' WHERE id = 20;                        -- = 0, but its text is -0
        UPDATE public.items SET n = 1.0 WHERE id = 21;
        UPDATE public.items SET flag = NOT flag WHERE id = 22;
        UPDATE public.items SET ts = ts + interval '1 microsecond' WHERE id = 23;
        DELETE FROM public.items WHERE id IN (1, 1999, 499, 501);    -- first, last, around a gap
        INSERT INTO public.items (id, t) VALUES (0, 'before the first'), (5000, 'after the last'), (750, NULL);
        DELETE FROM public.items WHERE id = 751;
        INSERT INTO public.items (id, t) VALUES (751, 'same key, other row');
      `)
      const second = await run(db)
      const result = table(second, 'public.items')
      assert.equal(result.mode, 'sync')
      assert.deepEqual(result.sync, { inserted: 3, updated: 16, deleted: 4, unchanged: 1972 })
      await assertSameRows(db, 'public.items')

      // equal by =, not by their text: 1.0 -> 1.00, 0 -> -0 for floats
      await db.source.sql(
        `UPDATE public.items SET n = 1.00 WHERE id = 21; UPDATE public.items SET f8 = '-0' WHERE id = 24`,
      )
      const third = await run(db)
      assert.deepEqual(table(third, 'public.items').sync, {
        inserted: 0,
        updated: 2,
        deleted: 0,
        unchanged: 1989,
      })
      await assertSameRows(db, 'public.items')

      const nothing = await run(db)
      assert.deepEqual(table(nothing, 'public.items').sync, {
        inserted: 0,
        updated: 0,
        deleted: 0,
        unchanged: 1991,
      })
      assert.equal(nothing.totals.unchangedRows, 1991)
    } finally {
      await db.drop()
    }
  })
})

describe('mode: sync, every shape of change', () => {
  test('inserts before the first key, after the last and in gaps, deletes at both ends, key updates and an emptied table, on a multi-column key', async () => {
    const db = await databasePair(servers, 'sync_shapes')
    try {
      // Keys (region, n) with a gap at n = 250 in every region: 1,497 rows.
      await db.source.sql(`
        CREATE TABLE public.pairs (region text, n int, v text, PRIMARY KEY (region, n));
        INSERT INTO public.pairs SELECT r, g, r || g FROM unnest(ARRAY['ap', 'eu', 'us']) r, generate_series(1, 500) g WHERE g <> 250;
        CREATE TABLE public.emptied (a int, b int, v text, PRIMARY KEY (a, b));
        INSERT INTO public.emptied SELECT g % 7, g, 'v' FROM generate_series(1, 300) g;
      `)
      await run(db)
      await db.source.sql(`
        INSERT INTO public.pairs VALUES ('aa', 0, 'before the first'), ('zz', 999, 'after the last'),
                                        ('eu', 250, 'in the gap'), ('eu', 250000, 'past the last of eu');
        DELETE FROM public.pairs WHERE (region, n) IN (('ap', 1), ('us', 500));        -- the first and last keys
        UPDATE public.pairs SET n = 100000 WHERE (region, n) = ('eu', 7);             -- one key column changes
        UPDATE public.pairs SET region = 'us', n = 250 WHERE (region, n) = ('ap', 8); -- both change, into a gap
        DELETE FROM public.pairs WHERE (region, n) = ('eu', 9);
        UPDATE public.pairs SET region = 'eu', v = 'swapped' WHERE (region, n) = ('us', 9);
        UPDATE public.pairs SET v = 'changed' WHERE (region, n) = ('us', 10);
        DELETE FROM public.emptied;
      `)
      const report = await run(db)
      // ('eu', 9) now holds what ('us', 9) had: an update of that key; ('us', 9) is gone.
      assert.deepEqual(table(report, 'public.pairs').sync, {
        inserted: 6,
        updated: 2,
        deleted: 5,
        unchanged: 1490,
      })
      // Every row went: the source's statistics may send it to a reload before any comparison.
      const emptied = table(report, 'public.emptied')
      if (emptied.sync)
        assert.deepEqual(emptied.sync, { inserted: 0, updated: 0, deleted: 300, unchanged: 0 })
      else assert.match(emptied.warnings?.join('\n') ?? '', /sync → replace: the source's statistics count/)
      await assertSameRows(db, 'public.pairs')
      await assertSameRows(db, 'public.emptied')
    } finally {
      await db.drop()
    }
  })

  test('a text key whose values sort differently under the two sides’ collations', async () => {
    const db = await databasePair(servers, 'sync_collation')
    try {
      // The source sorts by bytes ("C"), the target by ICU's root collation: 'a' < 'B' < 'ä' < 'b' there,
      // 'B' < 'a' < 'b' < 'ä' here. A decomposed 'ä' (a + U+0308) is another key than the composed one.
      const keys = `ARRAY['a', 'B', 'ä', 'b', 'A', 'Ä', 'a' || U&'\\0308', 'ß', 'ss', '', ' ', 'z', 'Z']`
      await db.source.sql(`
        CREATE TABLE public.words (w text COLLATE "C" PRIMARY KEY, v int);
        INSERT INTO public.words SELECT k, i FROM unnest(${keys}) WITH ORDINALITY AS u(k, i);
        INSERT INTO public.words SELECT 'w' || g, g FROM generate_series(1, 2000) g;
      `)
      await db.target.sql(`CREATE TABLE public.words (w text COLLATE "und-x-icu" PRIMARY KEY, v int)`)
      await run(db)
      await assertSameRows(db, 'public.words')
      await db.source.sql(`
        DELETE FROM public.words WHERE w IN ('B', 'a' || U&'\\0308');
        UPDATE public.words SET v = -1 WHERE w IN ('ä', 'ss');
        UPDATE public.words SET w = 'Ä2' WHERE w = 'Ä';                                -- a key update
        INSERT INTO public.words VALUES ('b2', 0), ('ä' || 'a', 0), ('AA', 0);
      `)
      const report = await run(db)
      assert.deepEqual(table(report, 'public.words').sync, {
        inserted: 4,
        updated: 2,
        deleted: 3,
        unchanged: 2008,
      })
      await assertSameRows(db, 'public.words')
      const [collation] = await db.target.sql<{ collation: string }>(
        `SELECT collation_name AS collation FROM information_schema.columns WHERE table_name = 'words' AND column_name = 'w'`,
      )
      assert.equal(collation?.collation, 'und-x-icu', 'the target kept its own collation')
    } finally {
      await db.drop()
    }
  })
})
