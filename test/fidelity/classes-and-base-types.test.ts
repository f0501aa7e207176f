import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import type { TransferPlan } from '../../src/steps/plan/plan-transfer.js'
import { runCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { databasePair, type DatabasePair } from '../helpers/database-pair.js'
import { type TestDatabase, testServers } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'

// Indexes whose operator classes were made with CREATE OPERATOR CLASS (pg_get_indexdef leaves a column's
// class out when it is the default for its type, so the target's default silently took its place), and
// what `objects: all` brings that no copied table uses: access methods and base types.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

async function copy(db: DatabasePair, objects: 'tables' | 'all' = 'tables'): Promise<RunReport> {
  return new TransferJob(testConfig({ source: db.source.url, target: db.target.url, objects }), {
    notifier: null,
  }).run()
}

function failuresOf(report: RunReport): string[] {
  return report.tables.filter((t) => t.status !== 'copied').map((t) => `${t.table}: ${t.error?.message}`)
}

/** Each index of schema app with the qualified operator class of each of its columns. */
async function indexClasses(db: TestDatabase): Promise<string[]> {
  const rows = await db.sql<{ line: string }>(
    `SELECT c.relname || ': ' || string_agg(ocn.nspname || '.' || oc.opcname, ',' ORDER BY k) AS line
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       CROSS JOIN generate_subscripts(i.indclass, 1) k
       JOIN pg_opclass oc ON oc.oid = i.indclass[k] JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
      WHERE c.relnamespace = 'app'::regnamespace GROUP BY c.relname ORDER BY 1`,
  )
  return rows.map((r) => r.line)
}

/**
 * An enum whose default btree class (in its own schema) sorts it backwards, used by an index and a
 * primary key that name no class (its equality operator has a negator outside the class); an int4 class named explicitly; an index access method made with
 * CREATE ACCESS METHOD, with a default class of its own.
 */
const CLASSES = `
  CREATE SCHEMA app;
  CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
  CREATE FUNCTION app.mood_cmp_rev(a app.mood, b app.mood) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS 'SELECT -pg_catalog.enum_cmp(a, b)';
  CREATE FUNCTION app.mood_lt_rev(a app.mood, b app.mood) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT a OPERATOR(pg_catalog.>) b';
  CREATE FUNCTION app.mood_le_rev(a app.mood, b app.mood) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT a OPERATOR(pg_catalog.>=) b';
  CREATE FUNCTION app.mood_eq(a app.mood, b app.mood) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT a OPERATOR(pg_catalog.=) b';
  CREATE FUNCTION app.mood_ge_rev(a app.mood, b app.mood) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT a OPERATOR(pg_catalog.<=) b';
  CREATE FUNCTION app.mood_gt_rev(a app.mood, b app.mood) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT a OPERATOR(pg_catalog.<) b';
  CREATE OPERATOR app.<<< (FUNCTION = app.mood_lt_rev, LEFTARG = app.mood, RIGHTARG = app.mood);
  CREATE OPERATOR app.<<= (FUNCTION = app.mood_le_rev, LEFTARG = app.mood, RIGHTARG = app.mood);
  CREATE FUNCTION app.mood_ne(a app.mood, b app.mood) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT a OPERATOR(pg_catalog.<>) b';
  CREATE OPERATOR app.=== (FUNCTION = app.mood_eq, LEFTARG = app.mood, RIGHTARG = app.mood, NEGATOR = OPERATOR(app.!==));
  CREATE OPERATOR app.!== (FUNCTION = app.mood_ne, LEFTARG = app.mood, RIGHTARG = app.mood, NEGATOR = OPERATOR(app.===));
  CREATE OPERATOR app.>>= (FUNCTION = app.mood_ge_rev, LEFTARG = app.mood, RIGHTARG = app.mood);
  CREATE OPERATOR app.>>> (FUNCTION = app.mood_gt_rev, LEFTARG = app.mood, RIGHTARG = app.mood);
  CREATE OPERATOR CLASS app.mood_rev_ops DEFAULT FOR TYPE app.mood USING btree AS
    OPERATOR 1 app.<<<, OPERATOR 2 app.<<=, OPERATOR 3 app.===, OPERATOR 4 app.>>=,
    OPERATOR 5 app.>>>, FUNCTION 1 app.mood_cmp_rev(app.mood, app.mood);
  COMMENT ON OPERATOR CLASS app.mood_rev_ops USING btree IS 'happiest first';
  CREATE FUNCTION app.int_cmp_rev(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS 'SELECT pg_catalog.btint4cmp(b, a)';
  CREATE OPERATOR CLASS app.int4_rev_ops FOR TYPE int4 USING btree AS
    OPERATOR 1 pg_catalog.>(int4, int4), OPERATOR 2 pg_catalog.>=(int4, int4), OPERATOR 3 pg_catalog.=(int4, int4),
    OPERATOR 4 pg_catalog.<=(int4, int4), OPERATOR 5 pg_catalog.<(int4, int4), FUNCTION 1 app.int_cmp_rev(int4, int4);
  CREATE ACCESS METHOD btree2 TYPE INDEX HANDLER bthandler;
  CREATE OPERATOR CLASS app.int4_ops2 DEFAULT FOR TYPE int4 USING btree2 AS
    OPERATOR 1 pg_catalog.<(int4, int4), OPERATOR 2 pg_catalog.<=(int4, int4), OPERATOR 3 pg_catalog.=(int4, int4),
    OPERATOR 4 pg_catalog.>=(int4, int4), OPERATOR 5 pg_catalog.>(int4, int4), FUNCTION 1 pg_catalog.btint4cmp(int4, int4);
  CREATE TABLE app.moods (id int PRIMARY KEY, m app.mood, n int);
  INSERT INTO app.moods SELECT g, (ARRAY['sad', 'ok', 'happy'])[g % 3 + 1]::app.mood, g FROM generate_series(1, 30) g;
  CREATE INDEX moods_m ON app.moods (m);
  CREATE INDEX moods_n ON app.moods (n app.int4_rev_ops);
  CREATE INDEX moods_n2 ON app.moods USING btree2 (n);
  CREATE TABLE app.mood_keys (m app.mood PRIMARY KEY);
  INSERT INTO app.mood_keys VALUES ('sad'), ('ok');
  CREATE TABLE app.plain (id int PRIMARY KEY);
  INSERT INTO app.plain VALUES (1);
`

describe('indexes on operator classes made with CREATE OPERATOR CLASS (objects: tables)', () => {
  test('arrive with the source’s classes: a default one the definition leaves out, one it names, one of an access method made by hand', async () => {
    const db = await databasePair(servers, 'index_classes')
    try {
      await db.source.sql(CLASSES)
      const report = await copy(db)
      assert.deepEqual(failuresOf(report), [])
      assert.deepEqual(report.warnings, [])
      assert.deepEqual(await indexClasses(db.target), await indexClasses(db.source))
      assert.ok((await indexClasses(db.source)).includes('moods_m: app.mood_rev_ops'))
      // The checker compares every index's classes, and the functions the classes brought.
      assert.deepEqual((await compareDatabases(db.source.url, db.target.url)).differences, [])
      // The copy sorts as the source does: happiest first.
      const [first] = await db.target.sql<{ m: string }>(`SELECT m::text FROM app.moods ORDER BY m LIMIT 1`)
      assert.equal(first?.m, 'happy')
    } finally {
      await db.drop()
    }
  })

  test('a class the target has otherwise fails the tables that need it, naming it; the rest arrive', async () => {
    const db = await databasePair(servers, 'index_classes_other')
    try {
      await db.source.sql(CLASSES)
      // The target's class of that name sorts int4 forwards.
      await db.target.sql(`CREATE SCHEMA app;
        CREATE OPERATOR CLASS app.int4_rev_ops FOR TYPE int4 USING btree AS OPERATOR 1 <, OPERATOR 3 =, OPERATOR 5 >,
          FUNCTION 1 btint4cmp(int4, int4);`)
      const report = await copy(db)
      assert.deepEqual(failuresOf(report), [
        'app.moods: cannot create app.moods on the target: its index "moods_n" needs OPERATOR CLASS app.int4_rev_ops USING btree, which the target has with another definition',
      ])
      const failure = report.tables.find((t) => t.table === 'app.moods')?.error
      assert.match(
        failure?.hint ?? '',
        /make OPERATOR CLASS app\.int4_rev_ops USING btree on the target as the source has it/,
      )
      assert.equal(report.status, 'failed')
      // Nothing of it was made: no table with other indexes waits on the target for a later run to fill.
      assert.deepEqual(await db.target.sql(`SELECT 1 FROM pg_class WHERE relname = 'moods'`), [])
      const classes = await indexClasses(db.target)
      assert.ok(classes.includes('mood_keys_pkey: app.mood_rev_ops'), classes.join('; '))
    } finally {
      await db.drop()
    }
  })
})

/**
 * What no copied table uses: a table and an index access method, base types reusing built-in I/O
 * functions with every CREATE TYPE option between them, and one written in C.
 */
const UNUSED = `
  CREATE SCHEMA app;
  CREATE TABLE app.plain (id int PRIMARY KEY);
  INSERT INTO app.plain VALUES (1);
  CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
  CREATE ACCESS METHOD btree2 TYPE INDEX HANDLER bthandler;
  COMMENT ON ACCESS METHOD btree2 IS 'btree by another name';
  CREATE TYPE app.myint;
  CREATE FUNCTION app.myint_in(cstring) RETURNS app.myint LANGUAGE internal IMMUTABLE STRICT AS 'int8in';
  CREATE FUNCTION app.myint_out(app.myint) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int8out';
  CREATE FUNCTION app.myint_recv(internal) RETURNS app.myint LANGUAGE internal IMMUTABLE STRICT AS 'int8recv';
  CREATE FUNCTION app.myint_send(app.myint) RETURNS bytea LANGUAGE internal IMMUTABLE STRICT AS 'int8send';
  CREATE FUNCTION app.myint_analyze(internal) RETURNS bool LANGUAGE internal STRICT AS 'array_typanalyze';
  CREATE TYPE app.myint (INPUT = app.myint_in, OUTPUT = app.myint_out, RECEIVE = app.myint_recv,
    SEND = app.myint_send, ANALYZE = app.myint_analyze, INTERNALLENGTH = 8, PASSEDBYVALUE, ALIGNMENT = double,
    STORAGE = plain, CATEGORY = 'N', PREFERRED = true, DEFAULT = '7', DELIMITER = ';');
  COMMENT ON TYPE app.myint IS 'int8 by another name';
  CREATE TYPE app.mytext;
  CREATE FUNCTION app.mytext_in(cstring) RETURNS app.mytext LANGUAGE internal IMMUTABLE STRICT AS 'textin';
  CREATE FUNCTION app.mytext_out(app.mytext) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'textout';
  CREATE FUNCTION app.mytext_typmod_in(cstring[]) RETURNS int4 LANGUAGE internal IMMUTABLE STRICT AS 'varchartypmodin';
  CREATE FUNCTION app.mytext_typmod_out(int4) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'varchartypmodout';
  CREATE TYPE app.mytext (INPUT = app.mytext_in, OUTPUT = app.mytext_out, TYPMOD_IN = app.mytext_typmod_in,
    TYPMOD_OUT = app.mytext_typmod_out, INTERNALLENGTH = VARIABLE, STORAGE = main, CATEGORY = 'S', COLLATABLE = true);
  CREATE TYPE app.mypoint;
  CREATE FUNCTION app.mypoint_in(cstring) RETURNS app.mypoint LANGUAGE internal IMMUTABLE STRICT AS 'point_in';
  CREATE FUNCTION app.mypoint_out(app.mypoint) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'point_out';
  CREATE TYPE app.mypoint (INPUT = app.mypoint_in, OUTPUT = app.mypoint_out, INTERNALLENGTH = 16,
    ELEMENT = float8, SUBSCRIPT = raw_array_subscript_handler, ALIGNMENT = double, CATEGORY = 'G');
  CREATE TYPE app.kv;
  CREATE FUNCTION app.kv_in(cstring) RETURNS app.kv LANGUAGE c IMMUTABLE STRICT AS '$libdir/hstore', 'hstore_in';
  CREATE FUNCTION app.kv_out(app.kv) RETURNS cstring LANGUAGE c IMMUTABLE STRICT AS '$libdir/hstore', 'hstore_out';
  CREATE TYPE app.kv (INPUT = app.kv_in, OUTPUT = app.kv_out, INTERNALLENGTH = VARIABLE, STORAGE = extended);
`

describe('objects: all brings access methods and base types no copied table uses', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'unused_am_types')
    await db.source.sql(UNUSED)
  })

  after(async () => {
    await db?.drop()
  })

  test('plan lists them, a type in C as one no run can create, naming its library', async () => {
    const args = ['plan', '--source', db.source.url, '--target', db.target.url, '--objects', 'all']
    const text = await runCli([...args, '--verbose'], { cwd: tempDir() })
    assert.equal(text.code, 0, text.stderr)
    const line = (kind: string) =>
      text.stdout
        .split('\n')
        .find((l) => l.trimStart().startsWith(`${kind} `))
        ?.trim()
    assert.match(line('access method') ?? '', /^access method\s+2\s+2 create$/)
    assert.match(line('type') ?? '', /^type\s+4\s+3 create, 1 cannot create$/)
    assert.match(text.stdout, /ACCESS METHOD btree2: create/)
    assert.match(
      text.stdout,
      /TYPE app\.kv: cannot create \(app\.kv is a base type written in C .* need the library \$libdir\/hstore/,
    )
    const json = await runCli([...args, '--json'], { cwd: tempDir() })
    const plan = JSON.parse(json.stdout) as TransferPlan
    assert.deepEqual(
      plan.objects?.objects
        .filter((o) => o.kind === 'access method' || o.kind === 'type')
        .map((o) => `${o.identity}: ${o.action}`),
      [
        'TYPE app.kv: cannot create',
        'TYPE app.myint: create',
        'TYPE app.mypoint: create',
        'TYPE app.mytext: create',
        'ACCESS METHOD btree2: create',
        'ACCESS METHOD heap2: create',
      ],
    )
  })

  test('into an empty target they arrive equal, the C type alone fails naming its library; a second run keeps them', async () => {
    const report = await copy(db, 'all')
    assert.deepEqual(failuresOf(report), [])
    assert.equal(report.objectsFailed, 1)
    assert.deepEqual(report.warnings, [
      "TYPE app.kv was not created: app.kv is a base type written in C outside any extension: its functions app.kv_in(cstring), app.kv_out(app.kv) need the library $libdir/hstore on the target's server; install it there and create the type, then run again",
    ])
    assert.deepEqual((await compareDatabases(db.source.url, db.target.url)).differences, [
      'type app.kv: missing on the target',
      'function app.kv_in(cstring): missing on the target',
      'function app.kv_out(app.kv): missing on the target',
    ])
    // The copies work: the types read and write their values, the table access method makes tables.
    const [row] = await db.target.sql<{ i: string; t: string; p: number }>(
      `CREATE TABLE app.on_heap2 (v app.myint) USING heap2;
       SELECT '42'::app.myint::text AS i, 'abc'::app.mytext(5)::text AS t, ('(1,2)'::app.mypoint)[1] AS p`,
    )
    assert.deepEqual(row, { i: '42', t: 'abc', p: 2 })
    const again = await copy(db, 'all')
    assert.deepEqual(again.warnings, [report.warnings[0]])
  })
})
