import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport } from '../../src/report/run-report.js'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { TestDatabase, type TestServer, testServers, withClient } from '../helpers/servers.js'
import { copied, runBetween } from '../helpers/sync-report.js'
import { OlderServers, serverVersion } from '../fidelity/fidelity-run.js'

// mode: sync between PostgreSQL majors: the servers fingerprint rows each with its own output functions
// and hash functions, so a value whose text or hash differed between the two would make every sync rewrite
// it (or miss a change). One table with a column of each built-in type family, values at their edges.

let servers: Awaited<ReturnType<typeof testServers>>
const older = new OlderServers()

before(async () => {
  servers = await testServers()
})

after(async () => {
  await older.destroy()
  await servers?.stop()
})

/** The type families PostgreSQL `major` has, one column each, and 600 rows of values at their edges. */
function kindsSchema(major: number): string {
  const multirange = major >= 14
  return `
  CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN public.positive AS int CHECK (VALUE > 0);
  CREATE TYPE public.pair AS (a int, b text);
  CREATE TABLE public.kinds (
    id int PRIMARY KEY,
    n numeric, n2 numeric(10,3), f4 float4, f8 float8, m money, iv interval, tt timetz, tm time,
    ts timestamp, tz timestamptz, d date, bt bit(8), vb varbit, ip inet, cn cidr, mac macaddr,
    mac8 macaddr8, ir int4range, tr tstzrange, nr numrange, dr daterange,
    ${multirange ? 'mr int4multirange, nmr nummultirange,' : ''}
    tv tsvector, tq tsquery, x xml, j json, jb jsonb, comps public.pair[], e public.mood,
    dm public.positive, pt point, bx box, pg polygon, ci circle, ln line, ls lseg, pa path,
    lsn pg_lsn, u uuid, b bytea, ch char(5), vc varchar(20), t text, flag boolean, i2 int2, i8 int8,
    o oid, arr float8[], big text
  );
  INSERT INTO public.kinds
  SELECT g,
         (ARRAY['NaN', '1.10', '-0.000', '1e-20', '123456789012345678901234567890.123456789'${major >= 14 ? ", 'Infinity', '-Infinity'" : ''}]::numeric[])[1 + g % ${major >= 14 ? 7 : 5}],
         g / 7.0,
         (ARRAY['-0', 'NaN', 'Infinity', '-Infinity', '1.1', '1e-45', '3.4028235e38', '0.1']::float4[])[1 + g % 8],
         (ARRAY['-0', 'NaN', 'Infinity', '-Infinity', '0.1', '5e-324', '1.7976931348623157e308', '2.5']::float8[])[1 + g % 8],
         (ARRAY['12.34', '-1.5', '92233720368547758.07', '-92233720368547758.08', '0']::money[])[1 + g % 5],
         (ARRAY['1 year 2 mons 3 days 04:05:06.789', '-1 days +02:00', '0', '-178000000 years', '1 mon -1 days 00:00:00.000001']::interval[])[1 + g % 5],
         (ARRAY['12:34:56.789+05:30', '00:00:00-15:59', '24:00:00+00', '23:59:59.999999+14']::timetz[])[1 + g % 4],
         (ARRAY['24:00:00', '00:00:00', '12:34:56.000001']::time[])[1 + g % 3],
         (ARRAY['infinity', '-infinity', '4713-01-01 00:00:00 BC', '294276-12-31 23:59:59.999999', '2024-02-29 12:00:00']::timestamp[])[1 + g % 5],
         (ARRAY['infinity', '-infinity', '4713-01-01 00:00:00+00 BC', '2024-02-29 12:00:00.5+05:45']::timestamptz[])[1 + g % 4],
         (ARRAY['infinity', '-infinity', '4713-01-01 BC', '5874897-12-31', '2000-01-01']::date[])[1 + g % 5],
         (g % 256)::bit(8),
         (ARRAY['', '1', '0101010101010101010101010101010101']::varbit[])[1 + g % 3],
         (ARRAY['192.168.0.1/24', '::1', '2001:db8::ff00:42:8329/64', '10.0.0.1']::inet[])[1 + g % 4],
         (ARRAY['10.0.0.0/8', '2001:db8::/32', '192.168.1.0/24']::cidr[])[1 + g % 3],
         '08:00:2b:01:02:03',
         (ARRAY['08:00:2b:01:02:03:04:05', '08-00-2b-ff-fe-01-02-03']::macaddr8[])[1 + g % 2],
         (ARRAY['[1,10)', 'empty', '(,)', '[-5,)']::int4range[])[1 + g % 4],
         (ARRAY['[2024-01-01 00:00+00,2024-01-02 00:00+02)', '(,infinity]', 'empty']::tstzrange[])[1 + g % 3],
         (ARRAY['(1.0,2.00]', '[NaN,NaN]', '(,0)']::numrange[])[1 + g % 3],
         (ARRAY['[2024-01-01,infinity)', '(2024-01-01,2024-01-05]']::daterange[])[1 + g % 2],
         ${multirange ? `(ARRAY['{[1,3),[5,7)}', '{}', '{(,)}']::int4multirange[])[1 + g % 3], (ARRAY['{(1.0,2.00]}', '{}']::nummultirange[])[1 + g % 2],` : ''}
         (ARRAY['a:1A fat:2B,4C cat:5D', '''with space'' ''quote''''s''', '']::tsvector[])[1 + g % 3],
         (ARRAY['fat & (rat | !cat) <-> mouse', '''a b'':* & x <3> y', '!a']::tsquery[])[1 + g % 3],
         (ARRAY['<a x="1">t</a>', 'text<b/>  tail', '<?xml version="1.0"?><r/>', '']::xml[])[1 + g % 4],
         (ARRAY['{"a" :  1,  "b":[1 , 2], "a": 3}', '  [ ]  ', '"\\u00e9"', '1.0e2']::json[])[1 + g % 4],
         (ARRAY['{"b": [1, 2.50, 1e2], "a": null, "c": "\\u00e9"}', '[]', '-0', '{"x": 1.000000000000000000001}']::jsonb[])[1 + g % 4],
         ARRAY[ROW(g, 'x y')::public.pair, ROW(NULL, '"q" \\ ,()')::public.pair, NULL],
         (ARRAY['sad', 'ok', 'happy']::public.mood[])[1 + g % 3],
         g,
         (ARRAY['(1.5,-0)', '(NaN,Infinity)', '(1e-300,-1e300)']::point[])[1 + g % 3],
         (ARRAY['(1,1),(0,0)', '(-0,2.5),(3,-1)']::box[])[1 + g % 2],
         (ARRAY['((0,0),(1,1),(1,0))', '((0.1,0.2))']::polygon[])[1 + g % 2],
         (ARRAY['<(1,2),3>', '<(-0,0),0>']::circle[])[1 + g % 2],
         (ARRAY['{1,-1,0}', '{0.5,2,-0}']::line[])[1 + g % 2],
         '[(0,0),(1.5,2)]',
         (ARRAY['[(0,0),(1,1),(2,0)]', '((0,0),(1,1))']::path[])[1 + g % 2],
         (ARRAY['16/B374D848', '0/0', 'FFFFFFFF/FFFFFFFF']::pg_lsn[])[1 + g % 3],
         md5(g::text)::uuid,
         (ARRAY['\\x', '\\x00ff', decode(md5(g::text), 'hex')::text]::bytea[])[1 + g % 3],
         (ARRAY['ab', 'abcde', '', 'a  ']::char(5)[])[1 + g % 4],
         (ARRAY['ab  ', '', 'é']::varchar(20)[])[1 + g % 3],
         (ARRAY['üñí ∑ 😀', '', E'tab\\tnew\\nline', 'back\\\\slash']::text[])[1 + g % 4],
         g % 2 = 0, (-32768 + g)::int2, (9223372036854775807 - g)::int8, (4294967295 - g)::oid,
         ARRAY['-0', 'NaN', '1.5']::float8[],
         CASE WHEN g % 200 = 0 THEN repeat(md5(g::text), 40000) END
    FROM generate_series(1, 600) g;
  ANALYZE public.kinds;`
}

/** Changes of every column on a few rows, deletes, inserts, and rows written with their own values. */
const CHANGES = `
  UPDATE public.kinds SET n = n * 1 WHERE id = 1;  -- 1.10 * 1: written, text unchanged
  UPDATE public.kinds SET n2 = 1.5, f4 = '-0', f8 = '0' WHERE id = 2;
  UPDATE public.kinds SET m = '7.77', iv = '-1 mons', tt = '01:00:00+01', tm = '23:59:59' WHERE id = 3;
  UPDATE public.kinds SET ts = '-infinity', tz = 'infinity', d = '1999-12-31' WHERE id = 4;
  UPDATE public.kinds SET bt = B'11111111', vb = B'1', ip = '::ffff:1.2.3.4', cn = '::/0' WHERE id = 5;
  UPDATE public.kinds SET mac8 = '00:00:00:00:00:00:00:01', ir = '[2,3)', tr = 'empty', nr = '[1,1]' WHERE id = 6;
  UPDATE public.kinds SET tv = 'new:1', tq = 'new', x = '<new/>', j = '{"a":1}', jb = '{"a": 1}' WHERE id = 7;
  UPDATE public.kinds SET comps = ARRAY[ROW(1, NULL)::public.pair], e = 'happy', dm = 1000 WHERE id = 8;
  UPDATE public.kinds SET pt = '(0,0)', bx = '(0,0),(0,0)', pg = '((1,1))', ci = '<(0,0),1>' WHERE id = 9;
  UPDATE public.kinds SET ln = '{1,0,0}', ls = '[(1,1),(2,2)]', pa = '[(0,0)]', lsn = '1/1' WHERE id = 10;
  UPDATE public.kinds SET u = md5('new')::uuid, b = '\\xdeadbeef', ch = 'zz', vc = 'zz  ' WHERE id = 11;
  UPDATE public.kinds SET t = t || '!', flag = NOT flag, i2 = 32767, i8 = -9223372036854775808, o = 0 WHERE id = 12;
  UPDATE public.kinds SET big = big || 'x' WHERE id = 200;                         -- TOASTed, changed
  UPDATE public.kinds SET big = repeat('y', 3000000) WHERE id = 21;                -- NULL -> TOASTed
  UPDATE public.kinds SET arr = ARRAY['0']::float8[] WHERE id = 13;
  UPDATE public.kinds SET j = '{"a" :  1,  "b":[1 , 2], "a": 3} ' WHERE id = 15;  -- only its spacing
  DELETE FROM public.kinds WHERE id IN (30, 31);
  INSERT INTO public.kinds SELECT 1000, n, n2, f4, f8, m, iv, tt, tm, ts, tz, d, bt, vb, ip, cn, mac, mac8
    FROM public.kinds WHERE id = 33;
  -- Written, but to the values they had: unchanged, not updated.
  UPDATE public.kinds SET n = n, f8 = f8, tz = tz, x = x, jb = jb, big = big WHERE id IN (40, 41, 42, 400);
`

/** A sync between two databases, which must succeed; the kinds table's entry. */
async function syncKinds(
  db: { source: TestDatabase; target: TestDatabase },
  yaml: Record<string, unknown> = {},
) {
  const report: RunReport = await runBetween(db, 'sync', yaml)
  assert.equal(report.status, 'succeeded', JSON.stringify(report.tables, null, 2))
  return copied(report, 'public.kinds')
}

async function verifyChecksum(db: { source: TestDatabase; target: TestDatabase }): Promise<string> {
  const result = await runCli(
    ['verify', '--checksum', '--source', db.source.url, '--target', db.target.url],
    {
      cwd: tempDir(),
    },
  )
  assert.equal(result.code, 0, result.stdout + result.stderr)
  return result.stdout
}

async function kindsBetween(source: TestServer, target: TestServer, name: string): Promise<void> {
  const pair = await Promise.all([
    TestDatabase.create(source, `${name}_src`),
    TestDatabase.create(target, `${name}_tgt`),
  ])
  const db = { source: pair[0], target: pair[1] }
  try {
    const major = Math.min(await serverVersion(db.source), await serverVersion(db.target))
    await db.source.sql(kindsSchema(Math.floor(major / 10000)))
    const first = await syncKinds(db)
    assert.equal(first.rows, 600)
    await assertSameRows(db, 'public.kinds')

    // The target's row versions: a row the sync leaves alone keeps its xmin.
    const versions = async () =>
      new Map(
        (await db.target.sql<{ id: number; x: string }>(`SELECT id, xmin::text AS x FROM public.kinds`)).map(
          (row) => [row.id, row.x],
        ),
      )
    const before = await versions()
    await db.source.sql(CHANGES)
    const changed = await syncKinds(db)
    assert.deepEqual(
      changed.sync,
      { inserted: 1, updated: 15, deleted: 2, unchanged: 583 },
      JSON.stringify(changed),
    )
    await assertSameRows(db, 'public.kinds')
    const written = await versions()
    const rewritten = [...written].filter(([id, x]) => before.get(id) !== x).map(([id]) => id)
    assert.deepEqual(
      rewritten.sort((a, b) => a - b),
      [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 21, 200, 1000],
      'only the changed and new rows are written: not those the source wrote with their own values',
    )

    const nothing = await syncKinds(db)
    assert.equal(nothing.bytes, 0, 'nothing moved')
    assert.deepEqual(
      nothing.sync,
      { inserted: 0, updated: 0, deleted: 0, unchanged: 599 },
      JSON.stringify(nothing),
    )

    // Every row compared by its fingerprint on each server: a table read with where:.
    const all = await syncKinds(db, { tables: [{ name: 'public.kinds', where: 'true' }] })
    assert.equal(all.syncCompared, 'all', JSON.stringify(all))
    assert.deepEqual(all.sync, { inserted: 0, updated: 0, deleted: 0, unchanged: 599 }, JSON.stringify(all))
    assert.match(await verifyChecksum(db), /^SAME\s+public\.kinds\s/m)
    assert.deepEqual(await versions(), written, 'nothing was written')
  } finally {
    await Promise.all([db.source.drop(), db.target.drop()])
  }
}

describe('mode: sync between PostgreSQL majors', { concurrency: true }, () => {
  for (const major of [12, 14, 16]) {
    test(
      `from PostgreSQL ${major} into 18: every type family, changed, synced, then nothing moved`,
      { skip: OlderServers.skip },
      async () => {
        await kindsBetween(await older.of(major), servers.target, `kinds_${major}`)
      },
    )
  }
  for (const major of [12, 14]) {
    test(`from PostgreSQL 18 into ${major}`, { skip: OlderServers.skip }, async () => {
      await kindsBetween(servers.source, await older.of(major), `kinds_18_${major}`)
    })
  }
  test('18 into 18', async () => {
    await kindsBetween(servers.source, servers.target, 'kinds_18')
  })
})

/**
 * Tables keyed by types whose `=` is looser than their text (a case-insensitive collation, citext, char(n)
 * padding, numeric scale, float -0), by types whose text depends on settings or catalogs (timestamptz, enum,
 * composite), by bytea, and by every column; plus a NULLS NOT DISTINCT index on nullable columns, which
 * is no key. 200 rows each.
 */
const KEYS = `
  CREATE EXTENSION IF NOT EXISTS citext;
  CREATE COLLATION public.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
  CREATE TYPE public.color AS ENUM ('red', 'green', 'blue');
  CREATE TYPE public.point2 AS (x int, y text);
  CREATE TABLE public.k_ci (k text COLLATE public.ci PRIMARY KEY, v int);
  CREATE TABLE public.k_citext (k citext PRIMARY KEY, v int);
  CREATE TABLE public.k_char (k char(6) PRIMARY KEY, v int);
  CREATE TABLE public.k_numeric (k numeric PRIMARY KEY, v int);
  CREATE TABLE public.k_float (k float8 PRIMARY KEY, v int);
  CREATE TABLE public.k_time (at timestamptz, d date, v int, PRIMARY KEY (at, d));
  CREATE TABLE public.k_bytea (k bytea PRIMARY KEY, v int);
  CREATE TABLE public.k_enum (k public.color, n int, v int, PRIMARY KEY (k, n));
  CREATE TABLE public.k_comp (k public.point2 PRIMARY KEY, v int);
  CREATE TABLE public.k_all (a int, b text, c date, PRIMARY KEY (a, b, c));
  INSERT INTO public.k_ci SELECT 'key ' || g, g FROM generate_series(1, 200) g;
  INSERT INTO public.k_citext SELECT 'Key ' || g, g FROM generate_series(1, 200) g;
  INSERT INTO public.k_char SELECT 'c' || g, g FROM generate_series(1, 200) g;
  INSERT INTO public.k_numeric SELECT g / 4.0, g FROM generate_series(1, 200) g;
  INSERT INTO public.k_float SELECT g - 100, g FROM generate_series(1, 200) g;
  INSERT INTO public.k_time SELECT '2024-01-01 00:00+00'::timestamptz + g * interval '1 minute', DATE '2024-01-01' + g % 3, g FROM generate_series(1, 200) g;
  INSERT INTO public.k_bytea SELECT decode(lpad(to_hex(g), 4, '0'), 'hex'), g FROM generate_series(1, 200) g;
  INSERT INTO public.k_enum SELECT (ARRAY['red', 'green', 'blue']::public.color[])[1 + g % 3], g, g FROM generate_series(1, 200) g;
  INSERT INTO public.k_comp SELECT ROW(g, 'p ' || g)::public.point2, g FROM generate_series(1, 200) g;
  INSERT INTO public.k_all SELECT g, 'b' || g, DATE '2024-01-01' + g FROM generate_series(1, 200) g;
  ANALYZE;
`

/** Per keyed table: a key rewritten equal by = (or by value) but not by text, a key moved, a delete, an insert. */
const KEY_CHANGES = `
  UPDATE public.k_ci SET k = 'KEY 1' WHERE k = 'key 1';         -- equal by =, another text
  UPDATE public.k_ci SET k = 'key 1000' WHERE k = 'key 2';
  DELETE FROM public.k_ci WHERE k = 'KEY 3'; INSERT INTO public.k_ci VALUES ('new', 0);
  UPDATE public.k_ci SET v = v WHERE k = 'key 4';
  UPDATE public.k_citext SET k = 'KEY 1' WHERE k = 'key 1';
  UPDATE public.k_citext SET k = 'key 1000' WHERE k = 'key 2';
  DELETE FROM public.k_citext WHERE k = 'KEY 3'; INSERT INTO public.k_citext VALUES ('new', 0);
  UPDATE public.k_char SET k = 'c1    ' WHERE k = 'c1';            -- the same value: char(n) pads
  UPDATE public.k_char SET k = 'c1000 ' WHERE k = 'c2';
  DELETE FROM public.k_char WHERE k = 'c3'; INSERT INTO public.k_char VALUES ('new  ', 0);
  UPDATE public.k_numeric SET k = 0.2500 WHERE k = 0.25;          -- equal by =, another text
  UPDATE public.k_numeric SET k = 1000 WHERE k = 0.5;
  DELETE FROM public.k_numeric WHERE k = 0.75; INSERT INTO public.k_numeric VALUES ('NaN', 0);
  UPDATE public.k_float SET k = '-0' WHERE k = 0;                 -- equal by =, another text
  UPDATE public.k_float SET k = 1e300 WHERE k = 1;
  DELETE FROM public.k_float WHERE k = 2; INSERT INTO public.k_float VALUES ('NaN', 0), ('-Infinity', 0);
  UPDATE public.k_time SET at = '2024-01-01 03:01:00+03' WHERE v = 1;   -- the same instant
  UPDATE public.k_time SET at = 'infinity' WHERE v = 2;
  DELETE FROM public.k_time WHERE v = 3; INSERT INTO public.k_time VALUES ('-infinity', 'infinity', 0);
  UPDATE public.k_bytea SET k = '\\x' WHERE k = '\\x0001';
  DELETE FROM public.k_bytea WHERE k = '\\x0003'; INSERT INTO public.k_bytea VALUES ('\\x00', 0);
  UPDATE public.k_enum SET k = 'blue' WHERE n = 1;
  DELETE FROM public.k_enum WHERE n = 3; INSERT INTO public.k_enum VALUES ('red', 0, 0);
  UPDATE public.k_comp SET k = ROW(1, 'P 1') WHERE (k).x = 1;
  UPDATE public.k_comp SET k = ROW(NULL, NULL) WHERE (k).x = 2;
  DELETE FROM public.k_comp WHERE (k).x = 3; INSERT INTO public.k_comp VALUES (ROW(0, '"q" \\,()'), 0);
  UPDATE public.k_all SET b = 'moved' WHERE a = 1;
  DELETE FROM public.k_all WHERE a = 3; INSERT INTO public.k_all VALUES (0, '', '-infinity');
`

const KEYED = [
  'k_ci',
  'k_citext',
  'k_char',
  'k_numeric',
  'k_float',
  'k_time',
  'k_bytea',
  'k_enum',
  'k_comp',
  'k_all',
]

async function keysBetween(source: TestServer, target: TestServer, name: string, locales: [string, string]) {
  const pair = await Promise.all([
    TestDatabase.create(source, `${name}_src`, locales[0]),
    TestDatabase.create(target, `${name}_tgt`, locales[1]),
  ])
  const db = { source: pair[0], target: pair[1] }
  const syncAll = async (yaml: Record<string, unknown> = {}) => {
    const report = await runBetween(db, 'sync', yaml)
    assert.equal(report.status, 'succeeded', JSON.stringify(report.tables, null, 2))
    return Object.fromEntries(KEYED.map((table) => [table, copied(report, `public.${table}`)]))
  }
  try {
    await db.source.sql(KEYS)
    await syncAll()
    await db.source.sql(KEY_CHANGES)
    const changed = await syncAll()
    for (const table of KEYED) {
      await assertSameRows(db, `public.${table}`)
      assert.equal(changed[table]!.syncCompared, 'written', JSON.stringify(changed[table]))
    }
    const nothing = await syncAll()
    for (const table of KEYED)
      assert.deepEqual(
        { ...nothing[table]!.sync, unchanged: 0 },
        { inserted: 0, updated: 0, deleted: 0, unchanged: 0 },
        JSON.stringify(nothing[table]),
      )
    const all = await syncAll({ tables: KEYED.map((table) => ({ name: `public.${table}`, where: 'true' })) })
    for (const table of KEYED) {
      assert.equal(all[table]!.syncCompared, 'all', JSON.stringify(all[table]))
      assert.deepEqual(
        { ...all[table]!.sync, unchanged: 0 },
        { inserted: 0, updated: 0, deleted: 0, unchanged: 0 },
        JSON.stringify(all[table]),
      )
    }
    // The same changes once more, found by comparing every row.
    await db.source.sql(`TRUNCATE ${KEYED.map((table) => `public.${table}`).join(', ')}`)
    await db.source.sql(KEYS.replace(/^\s*CREATE .*$/gm, ''))
    const reloaded = await syncAll()
    for (const table of KEYED) await assertSameRows(db, `public.${table}`)
    await db.source.sql(KEY_CHANGES)
    const compared = await syncAll({
      tables: KEYED.map((table) => ({ name: `public.${table}`, where: 'true' })),
    })
    for (const table of KEYED) {
      await assertSameRows(db, `public.${table}`)
      assert.equal(compared[table]!.syncCompared, 'all', JSON.stringify(compared[table]))
    }
    void reloaded
  } finally {
    await Promise.all([db.source.drop(), db.target.drop()])
  }
}

describe('mode: sync by keys of every kind', { concurrency: true }, () => {
  test('an index unique under another collation or operator class than `=` is no key, nor one NULLS NOT DISTINCT on nullable columns: the tables are reloaded, exact', async () => {
    const db = {
      source: await TestDatabase.create(servers.source, 'nokey_src'),
      target: await TestDatabase.create(servers.target, 'nokey_tgt'),
    }
    const tables = ['public.by_bytes', 'public.by_image', 'public.nulls_alike']
    try {
      // 'key 1' and 'KEY 1' are two keys of by_bytes's index, one by the column's `=`; so are (1.0) and
      // (1.00) of by_image's. A sync matching rows by `=` would update or delete both.
      await db.source.sql(`
        CREATE COLLATION public.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
        CREATE TABLE public.by_bytes (k text COLLATE public.ci NOT NULL, v int);
        CREATE UNIQUE INDEX by_bytes_k ON public.by_bytes (k COLLATE "C");
        INSERT INTO public.by_bytes SELECT 'key ' || g, g FROM generate_series(1, 300) g;
        INSERT INTO public.by_bytes SELECT 'KEY ' || g, -g FROM generate_series(1, 300) g;
        CREATE TYPE public.amount AS (n numeric);
        CREATE TABLE public.by_image (k public.amount NOT NULL, v int);
        CREATE UNIQUE INDEX by_image_k ON public.by_image (k record_image_ops);
        INSERT INTO public.by_image SELECT ROW(g::numeric)::public.amount, g FROM generate_series(1, 300) g;
        INSERT INTO public.by_image SELECT ROW((g || '.0')::numeric)::public.amount, -g FROM generate_series(1, 300) g;
        CREATE TABLE public.nulls_alike (a int, b int, v int);
        CREATE UNIQUE INDEX nulls_alike_ab ON public.nulls_alike (a, b) NULLS NOT DISTINCT;
        INSERT INTO public.nulls_alike SELECT g, CASE WHEN g % 2 = 0 THEN g END, g FROM generate_series(1, 300) g;
        ANALYZE;`)
      const first = await runBetween(db, 'sync')
      assert.equal(first.status, 'succeeded', JSON.stringify(first.tables))
      await db.source.sql(`
        UPDATE public.by_bytes SET v = 0 WHERE k = 'key 5' COLLATE "C";
        DELETE FROM public.by_bytes WHERE k = 'key 7' COLLATE "C";
        UPDATE public.by_image SET v = 0 WHERE (k).n::text = '5';
        DELETE FROM public.by_image WHERE (k).n::text = '7.0';
        UPDATE public.nulls_alike SET v = 0 WHERE a = 4;`)
      const report = await runBetween(db, 'sync')
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      for (const table of tables) {
        const result = copied(report, table)
        assert.equal(result.sync, undefined, JSON.stringify(result))
        assert.deepEqual(result.warnings, ['sync → replace: no key on the source'], table)
        await assertSameRows(db, table)
      }
    } finally {
      await Promise.all([db.source.drop(), db.target.drop()])
    }
  })
  test('18 into 18', async () => {
    await keysBetween(servers.source, servers.target, 'keys_18', ['', ''])
  })
  test('from 16 with an ICU database into 18 with a C one', { skip: OlderServers.skip }, async () => {
    await keysBetween(await older.of(16), servers.target, 'keys_16', [
      `LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LOCALE 'C.UTF-8'`,
      '',
    ])
  })
})

/** A database of `encoding` (under the C locale, which takes any), as TestDatabase makes UTF8 ones. */
async function encodedDatabase(server: TestServer, prefix: string, encoding: string): Promise<TestDatabase> {
  const made = await TestDatabase.create(server, prefix)
  await withClient(server.url, async (client) => {
    await client.query(`DROP DATABASE ${made.name}`)
    await client.query(
      `CREATE DATABASE ${made.name} TEMPLATE template0 ENCODING '${encoding}' LC_COLLATE 'C' LC_CTYPE 'C'`,
    )
  })
  return made
}

/** Text that LATIN1 holds, in every text-like type, in the key too. */
const LATIN1_TEXT = `
  CREATE TYPE public.named AS (name text, n int);
  CREATE TABLE public.words (
    k text PRIMARY KEY, v varchar(40), c char(8), j json, jb jsonb, x xml, tv tsvector, arr text[], r public.named
  );
  INSERT INTO public.words
  SELECT 'clé ' || g, 'café ' || g, 'ñ' || g % 10, json_build_object('é', g), jsonb_build_object('ü', 'ß' || g),
         ('<p>à ' || g || '</p>')::xml, to_tsvector('simple', 'garçon ' || g), ARRAY['ø', NULL, 'Å' || g],
         ROW('Müller', g)::public.named
    FROM generate_series(1, 300) g;
  ANALYZE public.words;
`

describe('mode: sync between databases of other encodings', { concurrency: true }, () => {
  for (const { from, into, major } of [
    { from: 'LATIN1', into: 'UTF8', major: 12 },
    { from: 'LATIN1', into: 'LATIN1', major: 18 },
    { from: 'UTF8', into: 'LATIN1', major: 18 },
  ]) {
    test(
      `from ${from} on PostgreSQL ${major} into ${into}: the same text hashes alike, and nothing moves`,
      { skip: major === 18 ? false : OlderServers.skip },
      async () => {
        const sourceServer = major === 18 ? servers.source : await older.of(major)
        const tag = `words_${from}_${into}`.toLowerCase()
        const db = {
          source: await encodedDatabase(sourceServer, `${tag}_src`, from),
          target: await encodedDatabase(servers.target, `${tag}_tgt`, into),
        }
        const sync = async (yaml: Record<string, unknown> = {}) => {
          const report = await runBetween(db, 'sync', yaml)
          assert.equal(report.status, 'succeeded', JSON.stringify(report, null, 2))
          return copied(report, 'public.words')
        }
        try {
          await db.source.sql(LATIN1_TEXT)
          await sync()
          await db.source
            .sql(`UPDATE public.words SET v = 'è' WHERE k = 'clé 7'; DELETE FROM public.words WHERE k = 'clé 8';
          INSERT INTO public.words (k, v) VALUES ('ÿ', 'new'); UPDATE public.words SET k = 'CLÉ 9' WHERE k = 'clé 9'`)
          assert.deepEqual((await sync()).sync, { inserted: 2, updated: 1, deleted: 2, unchanged: 297 })
          await assertSameRows(db, 'public.words')
          const all = await sync({ tables: [{ name: 'public.words', where: 'true' }] })
          assert.equal(all.syncCompared, 'all')
          assert.deepEqual(
            all.sync,
            { inserted: 0, updated: 0, deleted: 0, unchanged: 300 },
            JSON.stringify(all),
          )
          assert.match(await verifyChecksum(db), /^SAME\s+public\.words\s/m)
          // A row changed on the target is found by the comparison of every row, and put back.
          await db.target.sql(`UPDATE public.words SET r = ROW('Muller', 1) WHERE k = 'clé 1'`)
          const back = await sync({ tables: [{ name: 'public.words', where: 'true' }] })
          assert.deepEqual(
            back.sync,
            { inserted: 0, updated: 1, deleted: 0, unchanged: 299 },
            JSON.stringify(back),
          )
          await assertSameRows(db, 'public.words')
        } finally {
          await Promise.all([db.source.drop(), db.target.drop()])
        }
      },
    )
  }
})

describe('mode: sync into an existing table of wider types', () => {
  test('compares each source value as the target holds it: nothing differs when nothing changed, a change on the target is put back, verify: checksum passes', async () => {
    const db = {
      source: await TestDatabase.create(servers.source, 'wider_src'),
      target: await TestDatabase.create(servers.target, 'wider_tgt'),
    }
    // Each pair of types is one the target accepts the source's text form into (plan/compatibility.ts),
    // and each text differs between the two: '2024-01-01' and '2024-01-01 00:00:00', '{"a" : 1}' and
    // '{"a": 1}', a cast of inet or boolean to text and their output, char(n)'s padding.
    await db.source.sql(`
      CREATE TABLE public.wide (
        id int, d date, t timestamp, j json, n int, s varchar(10), c char(4), b boolean, ip inet, f real,
        PRIMARY KEY (id, d));
      INSERT INTO public.wide
      SELECT g, DATE '2024-01-01' + g, TIMESTAMP '2024-01-01 12:00' + g * interval '1 minute',
             '{"a" :  1, "b": [1,2]}', g, 's' || g, 'c', g % 2 = 0, '10.0.0.1', 1.1
        FROM generate_series(1, 2000) g;
      ANALYZE public.wide;`)
    await db.target.sql(`
      CREATE TABLE public.wide (
        id bigint, d timestamp, t timestamptz, j jsonb, n numeric, s text, c text, b text, ip text, f float8,
        PRIMARY KEY (id, d));`)
    const sync = async (yaml: Record<string, unknown> = {}) => {
      const report = await runBetween(db, 'sync', yaml)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables, null, 2))
      return copied(report, 'public.wide')
    }
    const everyRow = { tables: [{ name: 'public.wide', where: 'true' }] }
    try {
      await sync()
      await db.source.sql(`UPDATE public.wide SET n = -1 WHERE id = 5; DELETE FROM public.wide WHERE id = 6;
        UPDATE public.wide SET d = d + 1 WHERE id = 7`)
      assert.deepEqual((await sync()).sync, { inserted: 1, updated: 1, deleted: 2, unchanged: 1997 })
      const all = await sync(everyRow)
      assert.deepEqual(
        all.sync,
        { inserted: 0, updated: 0, deleted: 0, unchanged: 1999 },
        JSON.stringify(all),
      )
      // Changed on the target, a row is found by the comparison of every row and put back.
      await db.target.sql(
        `UPDATE public.wide SET t = t + interval '1 hour', ip = '10.0.0.1/32' WHERE id IN (8, 9)`,
      )
      const back = await sync(everyRow)
      assert.deepEqual(
        back.sync,
        { inserted: 0, updated: 2, deleted: 0, unchanged: 1997 },
        JSON.stringify(back),
      )
      const again = await sync(everyRow)
      assert.deepEqual(
        again.sync,
        { inserted: 0, updated: 0, deleted: 0, unchanged: 1999 },
        JSON.stringify(again),
      )
      // verify: checksum compares each source value as the target holds it: a table holding exactly what
      // the copy wrote passes, inline in sync and replace and afterwards on the command line.
      await db.source.sql(`UPDATE public.wide SET n = -2 WHERE id = 10`)
      const verified = await sync({ verify: 'checksum' })
      assert.equal(verified.verified, true, JSON.stringify(verified))
      assert.deepEqual(verified.sync, { inserted: 0, updated: 1, deleted: 0, unchanged: 1998 })
      const replaced = await runBetween(db, 'replace', { verify: 'checksum' })
      assert.equal(copied(replaced, 'public.wide').verified, true, JSON.stringify(replaced.tables))
      const cli = await runCli(
        ['verify', '--source', db.source.url, '--target', db.target.url, '--checksum'],
        { cwd: tempDir() },
      )
      assert.equal(cli.code, 0, cli.stdout + cli.stderr)
      assert.match(cli.stdout, /^SAME\s+public\.wide\s+1,999\s+1,999\s/m)
      // A value changed on the target is still a difference.
      await db.target.sql(`UPDATE public.wide SET t = t + interval '1 second' WHERE id = 11`)
      const changed = await runCli(
        ['verify', '--source', db.source.url, '--target', db.target.url, '--checksum'],
        { cwd: tempDir() },
      )
      assert.equal(changed.code, 1, changed.stdout + changed.stderr)
      assert.match(changed.stdout, /^DIFFERENT\s+public\.wide\s/m)
    } finally {
      await Promise.all([db.source.drop(), db.target.drop()])
    }
  })
})
