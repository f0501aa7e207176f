import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport } from '../../../src/report/run-report.js'
import { TransferJob } from '../../../src/run/transfer-job.js'
import { testConfig } from '../../helpers/config.js'
import { type DatabasePair, databasePair } from '../../helpers/database-pair.js'
import { type TestDatabase, testServers } from '../../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * A schema with one table and, besides it, one object of every kind `objects: all` brings, none of them
 * used by the table; names chosen so that alphabetical order is not dependency order.
 */
const SOURCE_SCHEMA = `
  CREATE SCHEMA app;
  CREATE EXTENSION citext WITH SCHEMA app;
  CREATE TABLE app.readings (id int PRIMARY KEY, value float8);
  INSERT INTO app.readings SELECT i, i / 10.0 FROM generate_series(1, 100) AS i;
  CREATE TYPE app.z_mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TYPE app.z_pair AS (a int, b text COLLATE "C", m app.z_mood);
  CREATE TYPE app.z_span AS RANGE (SUBTYPE = float8, SUBTYPE_DIFF = float8mi);
  CREATE DOMAIN app.z_positive AS int DEFAULT 1 NOT NULL CONSTRAINT positive CHECK (VALUE > 0);
  CREATE DOMAIN app.z_name AS app.citext CHECK (length(VALUE) < 20);
  CREATE FUNCTION app.a_add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT a + b';
  CREATE FUNCTION app.a_mood_of(score app.z_positive) RETURNS app.z_mood LANGUAGE plpgsql STABLE
    AS $$ BEGIN RETURN CASE WHEN score > 10 THEN 'happy' ELSE 'ok' END; END $$;
  CREATE FUNCTION app.a_pair_text(p app.z_pair) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT p.a || ':' || p.b $$;
  CREATE FUNCTION app.a_readings_total() RETURNS float8 LANGUAGE sql
    AS $$ SELECT sum(value) FROM app.readings $$;
  CREATE PROCEDURE app.a_touch(n int) LANGUAGE plpgsql AS $$ BEGIN PERFORM n; END $$;
  CREATE AGGREGATE app.a_total(int) (SFUNC = app.a_add, STYPE = int, INITCOND = '0', PARALLEL = SAFE);
  CREATE CAST (app.z_pair AS text) WITH FUNCTION app.a_pair_text(app.z_pair) AS ASSIGNMENT;
  COMMENT ON TYPE app.z_mood IS 'how it went';
  COMMENT ON TYPE app.z_pair IS 'two things';
  COMMENT ON TYPE app.z_span IS 'a span';
  COMMENT ON DOMAIN app.z_positive IS 'more than nothing';
  COMMENT ON FUNCTION app.a_add(int, int) IS 'adds';
  COMMENT ON PROCEDURE app.a_touch(int) IS 'touches';
  COMMENT ON AGGREGATE app.a_total(int) IS 'sums';
  COMMENT ON CAST (app.z_pair AS text) IS 'pair as text';
  SELECT lo_from_bytea(424242, convert_to('hello, large object', 'UTF8'));
  SELECT lo_from_bytea(424243, convert_to(repeat('0123456789', 250000), 'UTF8'));
  COMMENT ON LARGE OBJECT 424242 IS 'a greeting';
`

/** Each object of schema app, of one kind, as the server describes it: equal text means equal object. */
const DESCRIBE: Record<string, string> = {
  routines: `SELECT p.oid::regprocedure::text AS name, p.prokind::text AS kind,
                    CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition,
                    obj_description(p.oid, 'pg_proc') AS comment
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'app'
                AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype IN ('e', 'i'))`,
  aggregates: `SELECT a.aggfnoid::regprocedure::text AS name, a.aggtransfn::regproc::text AS sfunc,
                      format_type(a.aggtranstype, NULL) AS stype, a.agginitval, a.aggkind::text AS kind,
                      p.proparallel::text AS parallel
                 FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'app'`,
  types: `SELECT t.oid::regtype::text AS name, t.typtype::text AS kind, format_type(t.typbasetype, t.typtypmod) AS base,
                 t.typnotnull, t.typdefault, obj_description(t.oid, 'pg_type') AS comment,
                 (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels,
                 (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attcollation::regcollation::text, ',' ORDER BY a.attnum)
                    FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0) AS attributes,
                 (SELECT string_agg(c.conname || ' ' || pg_get_constraintdef(c.oid), ',' ORDER BY c.conname)
                    FROM pg_constraint c WHERE c.contypid = t.oid) AS constraints,
                 (SELECT format_type(r.rngsubtype, NULL) || ' ' || r.rngsubdiff::regproc::text FROM pg_range r WHERE r.rngtypid = t.oid) AS range
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'app' AND t.typtype <> 'b'
             AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')`,
  casts: `SELECT format_type(c.castsource, NULL) AS source, format_type(c.casttarget, NULL) AS target,
                 c.castfunc::regprocedure::text AS function, c.castcontext::text AS context, c.castmethod::text AS method,
                 obj_description(c.oid, 'pg_cast') AS comment
            FROM pg_cast c JOIN pg_type t ON t.oid = c.castsource JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'app' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')`,
  extensions: `SELECT x.extname, n.nspname FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'`,
  largeObjects: `SELECT m.oid::int8 AS oid, md5(lo_get(m.oid)) AS md5, length(lo_get(m.oid)) AS bytes,
                        obj_description(m.oid, 'pg_largeobject') AS comment
                   FROM pg_largeobject_metadata m`,
}

async function describe_(db: TestDatabase, kind: string): Promise<string[]> {
  const rows = await db.sql(`SET search_path = ''; ${DESCRIBE[kind]}`)
  return rows.map((row) => JSON.stringify(row)).sort()
}

async function run(db: DatabasePair, objects?: 'all' | 'tables'): Promise<RunReport> {
  return new TransferJob(
    testConfig({ source: db.source.url, target: db.target.url, tables: ['app.*'], objects }),
    { notifier: null },
  ).run()
}

describe('objects: all', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'objects_all')
    await db.source.sql(SOURCE_SCHEMA)
  })

  after(async () => {
    await db?.drop()
  })

  test('into an empty target, every function, procedure, aggregate, type, domain, cast, extension, comment and large object arrives equal', async () => {
    const report = await run(db, 'all')
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.deepEqual(report.warnings, [], 'no object failed')
    for (const kind of Object.keys(DESCRIBE)) {
      const [expected, actual] = [await describe_(db.source, kind), await describe_(db.target, kind)]
      assert.ok(expected.length > 0, `the source has ${kind}`)
      assert.deepEqual(actual, expected, `${kind} differ`)
    }
    // The copies work, not only look alike.
    const [row] = await db.target.sql<{ total: number; mood: string; text: string }>(
      `SELECT app.a_total(id) AS total, app.a_mood_of(11) AS mood, ROW(1, 'x', 'ok')::app.z_pair::text AS text FROM app.readings`,
    )
    assert.deepEqual(row, { total: 5050, mood: 'happy', text: '1:x' })
  })

  test('a second run leaves every object as it is and reports nothing', async () => {
    const before = await describe_(db.target, 'routines')
    assert.ok(before.length >= 5, 'the first run brought the routines')
    const report = await run(db, 'all')
    assert.deepEqual(report.warnings, [])
    assert.deepEqual(await describe_(db.target, 'routines'), before)
  })
})

describe('objects that cannot be created', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'objects_fail')
    await db.source.sql(SOURCE_SCHEMA)
    // The target already has a table named like the source's composite type (so CREATE TYPE fails), and
    // the enum with other labels (which PostgreSQL cannot replace in place).
    await db.target.sql(
      `CREATE SCHEMA app; CREATE TABLE app.z_pair (x int); CREATE TYPE app.z_mood AS ENUM ('no')`,
    )
  })

  after(async () => {
    await db?.drop()
  })

  test('fail alone, each named with its reason, and what needs them names them; the rest arrives', async () => {
    const report = await run(db, 'all')
    assert.equal(report.tables.find((t) => t.table === 'app.readings')?.status, 'copied')
    const notes = report.warnings.join('\n')
    assert.match(notes, /TYPE app\.z_pair was not created: type "z_pair" already exists/)
    assert.match(
      notes,
      /TYPE app\.z_mood was not replaced: it exists on the target with a different definition/,
    )
    assert.match(notes, /FUNCTION app\.a_pair_text\(app\.z_pair\) was not created: it needs TYPE app\.z_pair/)
    assert.match(notes, /CAST \(app\.z_pair AS text\) was not created: it needs FUNCTION app\.a_pair_text/)
    assert.equal(report.warnings.length, 4, notes)
    assert.deepEqual(await describe_(db.target, 'aggregates'), await describe_(db.source, 'aggregates'))
    assert.deepEqual(await describe_(db.target, 'largeObjects'), await describe_(db.source, 'largeObjects'))
  })
})

describe('objects: tables (the default)', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'objects_tables')
    await db.source.sql(SOURCE_SCHEMA)
  })

  after(async () => {
    await db?.drop()
  })

  test('brings the tables and nothing they do not use: no function, type, cast or large object', async () => {
    const report = await run(db)
    assert.equal(report.status, 'succeeded', JSON.stringify(report, null, 2))
    const [rows] = await db.target.sql<{ n: number }>(`SELECT count(*)::int AS n FROM app.readings`)
    assert.equal(rows!.n, 100)
    for (const kind of ['routines', 'aggregates', 'types', 'casts', 'largeObjects']) {
      assert.deepEqual(await describe_(db.target, kind), [], `no ${kind} on the target`)
    }
  })
})
