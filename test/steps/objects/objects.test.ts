import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport } from '../../../src/report/run-report.js'
import type { TransferPlan } from '../../../src/steps/plan/plan-transfer.js'
import { TransferJob } from '../../../src/run/transfer-job.js'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { runCli } from '../../helpers/cli.js'
import { tempDir, testConfig } from '../../helpers/config.js'
import { readRunLog } from '../../helpers/logs.js'
import { outboxMessages } from '../../helpers/outbox.js'
import { type DatabasePair, catalogState, databasePair } from '../../helpers/database-pair.js'
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
    // Three could not be created (one left different is a note): the run is failed, as for a failed table.
    assert.equal(report.status, 'failed')
    assert.equal(report.objectsFailed, 3)
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

describe('a run whose object fails', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'objects_fail_run')
    await db.source.sql(SOURCE_SCHEMA)
    await db.target.sql(`CREATE SCHEMA app; CREATE TABLE app.z_pair (x int)`)
  })

  after(async () => {
    await db?.drop()
  })

  test('is failed like a run whose table fails: exit 1, and the summary, both logs and the e-mail name the object', async () => {
    const dir = tempDir()
    const result = await runCli(
      [
        'run',
        '--source',
        db.source.url,
        '--target',
        db.target.url,
        '--table',
        'app.*',
        '--objects',
        'all',
        '--log-dir',
        path.join(dir, 'logs'),
        '--outbox',
        path.join(dir, 'outbox'),
        '--email-to',
        'dba@example.com',
      ],
      { cwd: dir },
    )
    assert.equal(result.code, 1, result.stdout + result.stderr)
    const shown = result.stdout + result.stderr
    assert.match(shown, /TYPE app\.z_pair was not created: type "z_pair" already exists/)
    assert.match(shown, /3 views or objects failed/)
    const log = readRunLog(path.join(dir, 'logs'))
    assert.equal(log.find((r) => r.event === 'run.finished')?.status, 'failed')
    assert.deepEqual(
      log.filter((r) => r.event === 'object.failed').map((r) => r.object),
      ['TYPE app.z_pair', 'FUNCTION app.a_pair_text(app.z_pair)', 'CAST (app.z_pair AS text)'],
    )
    assert.equal(log.find((r) => r.event === 'table.copied')?.table, 'app.readings')
    const human = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
    assert.match(human, /TYPE app\.z_pair FAILED TYPE app\.z_pair was not created/)
    const [mail] = await outboxMessages(path.join(dir, 'outbox'))
    assert.match(mail?.subject ?? '', /^\[tablehaul\] FAILED · 1\/1 tables, 3 views or objects failed/)
    assert.match(mail?.text ?? '', /TYPE app\.z_pair was not created/)
  })
})

describe('tablehaul plan with objects: all', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'objects_plan')
    await db.source.sql(SOURCE_SCHEMA)
    // The target has one function otherwise (a run replaces it) and the enum otherwise (a run leaves it).
    await db.target.sql(`
      CREATE SCHEMA app;
      CREATE TYPE app.z_mood AS ENUM ('no');
      CREATE FUNCTION app.a_add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a - b';
    `)
  })

  after(async () => {
    await db?.drop()
  })

  test('lists what it adds: counts per kind with what a run would do, each object with --verbose and in --json; nothing is written', async () => {
    const dir = tempDir()
    const args = ['plan', '--source', db.source.url, '--target', db.target.url, '--table', 'app.*']
    const before = await catalogState(db.target)
    const text = await runCli([...args, '--objects', 'all'], { cwd: dir })
    assert.equal(text.code, 0, text.stderr)
    const lines = text.stdout.split('\n')
    const line = (kind: string) => lines.find((l) => l.trimStart().startsWith(`${kind} `))?.trim()
    assert.match(text.stdout, /objects: all adds, from 1 schema \(app\), before the data:/)
    assert.match(line('function') ?? '', /^function\s+4\s+3 create, 1 replace$/)
    assert.match(line('type') ?? '', /^type\s+3\s+2 create, 1 left different$/)
    assert.match(line('aggregate') ?? '', /^aggregate\s+1\s+1 create$/)
    assert.match(line('large object') ?? '', /^large object\s+2\s+copy by OID$/)
    assert.doesNotMatch(text.stdout, /TYPE app\.z_mood/, 'names only with --verbose')

    const verbose = await runCli([...args, '--objects', 'all', '--verbose'], { cwd: dir })
    assert.match(verbose.stdout, /TYPE app\.z_mood: left different/)
    assert.match(verbose.stdout, /FUNCTION app\.a_add\(integer,integer\): replace/)
    assert.match(verbose.stdout, /EXTENSION citext: create/)

    const json = await runCli([...args, '--objects', 'all', '--json'], { cwd: dir })
    const plan = JSON.parse(json.stdout) as TransferPlan
    assert.deepEqual(plan.objects?.schemas, ['app'])
    assert.equal(plan.objects?.largeObjects, 2)
    assert.deepEqual(
      plan.objects?.objects.filter((o) => o.action !== 'create'),
      [
        { kind: 'type', identity: 'TYPE app.z_mood', action: 'left different' },
        { kind: 'function', identity: 'FUNCTION app.a_add(integer,integer)', action: 'replace' },
      ],
    )
    assert.ok(
      plan.objects!.objects.findIndex((o) => o.identity === 'TYPE app.z_pair') <
        plan.objects!.objects.findIndex((o) => o.identity.startsWith('FUNCTION app.a_pair_text')),
      'in the order a run creates them',
    )

    const tablesOnly = await runCli([...args, '--json'], { cwd: dir })
    assert.equal((JSON.parse(tablesOnly.stdout) as TransferPlan).objects, undefined)
    assert.deepEqual(await catalogState(db.target), before, 'nothing was written')
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

/**
 * A composite type with its own comparison operators (commutator and negator links, as pg_dump restores
 * them through shell operators), a default btree class and a hash class for it, and a reverse-order btree
 * class on int in a family of its own that also has a loose cross-type member; a copied table has indexes
 * that use both btree classes.
 */
const OPERATOR_SCHEMA = `
  CREATE SCHEMA ops;
  CREATE TYPE ops.ver AS (major int, minor int);
  CREATE FUNCTION ops.ver_cmp(a ops.ver, b ops.ver) RETURNS int LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT CASE WHEN a.major <> b.major THEN sign(a.major - b.major)::int ELSE sign(a.minor - b.minor)::int END $$;
  CREATE FUNCTION ops.ver_lt(a ops.ver, b ops.ver) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT ops.ver_cmp(a, b) < 0';
  CREATE FUNCTION ops.ver_le(a ops.ver, b ops.ver) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT ops.ver_cmp(a, b) <= 0';
  CREATE FUNCTION ops.ver_eq(a ops.ver, b ops.ver) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT ops.ver_cmp(a, b) = 0';
  CREATE FUNCTION ops.ver_ne(a ops.ver, b ops.ver) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT ops.ver_cmp(a, b) <> 0';
  CREATE FUNCTION ops.ver_ge(a ops.ver, b ops.ver) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT ops.ver_cmp(a, b) >= 0';
  CREATE FUNCTION ops.ver_gt(a ops.ver, b ops.ver) RETURNS bool LANGUAGE sql IMMUTABLE STRICT AS 'SELECT ops.ver_cmp(a, b) > 0';
  CREATE FUNCTION ops.ver_hash(v ops.ver) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS 'SELECT hashint8(v.major::int8 * 4294967296 + v.minor)';
  CREATE OPERATOR ops.< (FUNCTION = ops.ver_lt, LEFTARG = ops.ver, RIGHTARG = ops.ver, COMMUTATOR = OPERATOR(ops.>),
                         NEGATOR = OPERATOR(ops.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
  CREATE OPERATOR ops.<= (FUNCTION = ops.ver_le, LEFTARG = ops.ver, RIGHTARG = ops.ver, COMMUTATOR = OPERATOR(ops.>=),
                          NEGATOR = OPERATOR(ops.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
  CREATE OPERATOR ops.= (FUNCTION = ops.ver_eq, LEFTARG = ops.ver, RIGHTARG = ops.ver, COMMUTATOR = OPERATOR(ops.=),
                         NEGATOR = OPERATOR(ops.<>), RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
  CREATE OPERATOR ops.<> (FUNCTION = ops.ver_ne, LEFTARG = ops.ver, RIGHTARG = ops.ver, COMMUTATOR = OPERATOR(ops.<>),
                          NEGATOR = OPERATOR(ops.=), RESTRICT = neqsel, JOIN = neqjoinsel);
  CREATE OPERATOR ops.>= (FUNCTION = ops.ver_ge, LEFTARG = ops.ver, RIGHTARG = ops.ver, COMMUTATOR = OPERATOR(ops.<=),
                          NEGATOR = OPERATOR(ops.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
  CREATE OPERATOR ops.> (FUNCTION = ops.ver_gt, LEFTARG = ops.ver, RIGHTARG = ops.ver, COMMUTATOR = OPERATOR(ops.<),
                         NEGATOR = OPERATOR(ops.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
  CREATE OPERATOR CLASS ops.ver_ops DEFAULT FOR TYPE ops.ver USING btree AS
    OPERATOR 1 ops.<, OPERATOR 2 ops.<=, OPERATOR 3 ops.=, OPERATOR 4 ops.>=, OPERATOR 5 ops.>,
    FUNCTION 1 ops.ver_cmp(ops.ver, ops.ver);
  CREATE OPERATOR CLASS ops.ver_hash_ops DEFAULT FOR TYPE ops.ver USING hash AS
    OPERATOR 1 ops.=, FUNCTION 1 ops.ver_hash(ops.ver);
  CREATE FUNCTION ops.int_rev_cmp(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS 'SELECT btint4cmp(b, a)';
  CREATE FUNCTION ops.int48_rev_cmp(a int, b int8) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS 'SELECT -btint48cmp(a, b)';
  CREATE OPERATOR FAMILY ops.int_rev USING btree;
  CREATE OPERATOR CLASS ops.int_rev_ops FOR TYPE int USING btree FAMILY ops.int_rev AS
    OPERATOR 1 >, OPERATOR 2 >=, OPERATOR 3 =, OPERATOR 4 <=, OPERATOR 5 <, FUNCTION 1 ops.int_rev_cmp(int, int);
  ALTER OPERATOR FAMILY ops.int_rev USING btree ADD
    OPERATOR 1 > (int, int8), FUNCTION 1 (int, int8) ops.int48_rev_cmp(int, int8);
  COMMENT ON OPERATOR ops.< (ops.ver, ops.ver) IS 'older';
  COMMENT ON OPERATOR CLASS ops.ver_ops USING btree IS 'by version';
  COMMENT ON OPERATOR FAMILY ops.int_rev USING btree IS 'backwards';
  CREATE TABLE ops.releases (id int PRIMARY KEY, v ops.ver NOT NULL);
  INSERT INTO ops.releases SELECT i, ROW(i % 7, (i * 37) % 11)::ops.ver FROM generate_series(1, 500) AS i;
  CREATE INDEX releases_v ON ops.releases (v);
  CREATE INDEX releases_id_rev ON ops.releases (id ops.int_rev_ops);
`

/** The operators, classes, families and their members in schema ops, and the indexes that use them. */
const DESCRIBE_OPERATORS: Record<string, string> = {
  operators: `SELECT o.oid::regoperator::text AS name, o.oprcode::regproc::text AS function,
                     o.oprcom::regoperator::text AS commutator, o.oprnegate::regoperator::text AS negator,
                     o.oprrest::regproc::text AS restrict, o.oprjoin::regproc::text AS join,
                     o.oprcanhash, o.oprcanmerge, obj_description(o.oid, 'pg_operator') AS comment
                FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE n.nspname = 'ops'`,
  classes: `SELECT c.opcname, am.amname, c.opcdefault, c.opcintype::regtype::text AS type,
                   f.opfname AS family, c.opckeytype::regtype::text AS storage,
                   obj_description(c.oid, 'pg_opclass') AS comment
              FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod JOIN pg_opfamily f ON f.oid = c.opcfamily
              JOIN pg_namespace n ON n.oid = c.opcnamespace WHERE n.nspname = 'ops'`,
  families: `SELECT f.opfname, am.amname, obj_description(f.oid, 'pg_opfamily') AS comment,
                    (SELECT string_agg(m, ', ' ORDER BY m) FROM (
                       SELECT ao.amopstrategy || ' ' || ao.amopopr::regoperator::text || ' ' || ao.amoppurpose::text
                              || ' ' || d.refclassid::regclass::text || ' ' || d.deptype::text AS m
                         FROM pg_amop ao JOIN pg_depend d ON d.classid = 'pg_amop'::regclass AND d.objid = ao.oid
                          AND d.refclassid IN ('pg_opclass'::regclass, 'pg_opfamily'::regclass)
                        WHERE ao.amopfamily = f.oid) AS members) AS operators,
                    (SELECT string_agg(m, ', ' ORDER BY m) FROM (
                       SELECT ap.amprocnum || ' ' || ap.amproclefttype::regtype::text || ' ' || ap.amprocrighttype::regtype::text
                              || ' ' || ap.amproc::regprocedure::text || ' ' || d.refclassid::regclass::text || ' ' || d.deptype::text AS m
                         FROM pg_amproc ap JOIN pg_depend d ON d.classid = 'pg_amproc'::regclass AND d.objid = ap.oid
                          AND d.refclassid IN ('pg_opclass'::regclass, 'pg_opfamily'::regclass)
                        WHERE ap.amprocfamily = f.oid) AS members) AS functions
               FROM pg_opfamily f JOIN pg_am am ON am.oid = f.opfmethod
               JOIN pg_namespace n ON n.oid = f.opfnamespace WHERE n.nspname = 'ops'`,
  indexes: `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition, i.indisvalid,
                   (SELECT string_agg(c.opcname, ',' ORDER BY k.n) FROM unnest(i.indclass) WITH ORDINALITY AS k(oid, n)
                      JOIN pg_opclass c ON c.oid = k.oid) AS classes
              FROM pg_index i WHERE i.indrelid = 'ops.releases'::regclass`,
}

async function describeOperators(db: TestDatabase, kind: string): Promise<string[]> {
  const rows = await db.sql(`SET search_path = ''; ${DESCRIBE_OPERATORS[kind]}`)
  return rows.map((row) => JSON.stringify(row)).sort()
}

/** The rows an index scan of each index returns, in its order (sequential scans off). */
async function throughIndexes(db: TestDatabase): Promise<unknown> {
  const rows = await db.sql<{ plan: unknown; ids: number[] }>(`
    SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off;
    SELECT (SELECT array_agg(id) FROM (SELECT id FROM ops.releases WHERE v < ROW(3, 5)::ops.ver ORDER BY v, id) s) AS ids
    UNION ALL
    SELECT (SELECT array_agg(id) FROM (SELECT id FROM ops.releases ORDER BY id USING OPERATOR(pg_catalog.>) LIMIT 20) s)`)
  return rows.map((r) => r.ids)
}

describe('objects: all with operators, operator classes and families', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'objects_ops')
    await db.source.sql(OPERATOR_SCHEMA)
  })

  after(async () => {
    await db?.drop()
  })

  test('operators with their links, btree and hash classes and a family with a loose member arrive equal, and the indexes that use them arrive and work', async () => {
    const report = await new TransferJob(
      testConfig({ source: db.source.url, target: db.target.url, tables: ['ops.*'], objects: 'all' }),
      { notifier: null },
    ).run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.deepEqual(report.warnings, [], 'no object failed')
    assert.deepEqual(
      report.tables.map((t) => [t.table, t.status, t.warnings ?? []]),
      [['ops.releases', 'copied', []]],
    )
    for (const kind of Object.keys(DESCRIBE_OPERATORS)) {
      const [expected, actual] = [
        await describeOperators(db.source, kind),
        await describeOperators(db.target, kind),
      ]
      assert.ok(expected.length > 0, `the source has ${kind}`)
      assert.deepEqual(actual, expected, `${kind} differ`)
    }
    for (const [name, kind] of [
      ['releases_v', 'ver_ops'],
      ['releases_id_rev', 'int_rev_ops'],
    ]) {
      const [row] = await db.target.sql<{ classes: string }>(
        `SELECT (SELECT string_agg(c.opcname, ',') FROM unnest(i.indclass) AS k(oid) JOIN pg_opclass c ON c.oid = k.oid) AS classes
           FROM pg_index i WHERE i.indexrelid = 'ops.${name}'::regclass`,
      )
      assert.equal(row?.classes, kind, `${name} uses ${kind} on the target`)
    }
    const [expected, actual] = [await throughIndexes(db.source), await throughIndexes(db.target)]
    assert.deepEqual(actual, expected)
    assert.equal((expected as number[][])[1]![0], 500, 'the reverse class orders backwards')
    const plan = await db.target.sql<{ plan: string }>(
      `SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off;
       EXPLAIN (COSTS OFF) SELECT id FROM ops.releases WHERE v < ROW(3, 5)::ops.ver ORDER BY v`,
    )
    assert.match(JSON.stringify(plan), /Index Scan using releases_v/)
  })

  test('a second run leaves them as they are and reports nothing', async () => {
    const before = await describeOperators(db.target, 'families')
    const report = await new TransferJob(
      testConfig({ source: db.source.url, target: db.target.url, tables: ['ops.*'], objects: 'all' }),
      { notifier: null },
    ).run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.deepEqual(report.warnings, [])
    assert.deepEqual(await describeOperators(db.target, 'families'), before)
  })
})
