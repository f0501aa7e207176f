import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { runCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'
import { OlderServers } from './fidelity-run.js'

// objects: all brings the collations and text search objects of the copied tables' schemas, as pg_dump
// would restore them, and a table whose generated column, default or index names a text search
// configuration of its schema arrives with it.

let servers: Awaited<ReturnType<typeof testServers>>
let db: DatabasePair
const older = new OlderServers()

/**
 * Schema app: a collation of every provider and option, none used by a table but one (which the schema
 * step makes for its table, so both paths meet on it); a text search parser and template made of the
 * server's own functions, dictionaries with options, configurations with ordered mappings; a table whose
 * generated column, default and index use them. Comments on each kind. Names are chosen so that name
 * order is not dependency order.
 */
const SOURCE_SCHEMA = `
  CREATE SCHEMA app;
  CREATE COLLATION app.a_libc (provider = libc, locale = 'C.UTF-8');
  CREATE COLLATION app.b_libc_split (provider = libc, lc_collate = 'C', lc_ctype = 'C.UTF-8');
  CREATE COLLATION app.c_icu_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
  CREATE COLLATION app.d_icu_de (provider = icu, locale = 'de-DE');
  CREATE COLLATION app.e_icu_rules (provider = icu, locale = 'und', rules = '&a < g');
  CREATE COLLATION app.f_builtin (provider = builtin, locale = 'C.UTF-8');
  COMMENT ON COLLATION app.c_icu_ci IS 'case-insensitive';
  COMMENT ON COLLATION app.e_icu_rules IS 'g sorts right after a';

  CREATE TEXT SEARCH PARSER app.z_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end,
    LEXTYPES = prsd_lextype, HEADLINE = prsd_headline);
  CREATE TEXT SEARCH TEMPLATE app.z_simple (INIT = dsimple_init, LEXIZE = dsimple_lexize);
  CREATE TEXT SEARCH DICTIONARY app.m_stop (TEMPLATE = app.z_simple, STOPWORDS = english, ACCEPT = false);
  CREATE TEXT SEARCH DICTIONARY app.n_stem (TEMPLATE = snowball, LANGUAGE = english);
  CREATE TEXT SEARCH CONFIGURATION app.a_english (PARSER = app.z_parser);
  ALTER TEXT SEARCH CONFIGURATION app.a_english ADD MAPPING FOR asciiword, word WITH app.m_stop, app.n_stem;
  ALTER TEXT SEARCH CONFIGURATION app.a_english ADD MAPPING FOR int, uint WITH simple;
  CREATE TEXT SEARCH CONFIGURATION app.b_plain (COPY = pg_catalog.simple);
  ALTER TEXT SEARCH CONFIGURATION app.b_plain DROP MAPPING FOR email, url;
  COMMENT ON TEXT SEARCH CONFIGURATION app.a_english IS 'stop words, then stems';
  COMMENT ON TEXT SEARCH DICTIONARY app.m_stop IS 'stop words only';
  COMMENT ON TEXT SEARCH TEMPLATE app.z_simple IS 'the simple template again';
  COMMENT ON TEXT SEARCH PARSER app.z_parser IS 'the default parser again';
  ALTER TEXT SEARCH CONFIGURATION app.b_plain OWNER TO th_ts_owner;
  ALTER TEXT SEARCH DICTIONARY app.m_stop OWNER TO th_ts_owner;

  CREATE TABLE app.docs (
    id int PRIMARY KEY,
    author text COLLATE app.c_icu_ci,
    body text,
    body_tsv tsvector GENERATED ALWAYS AS (to_tsvector('app.a_english', body)) STORED,
    tags tsvector DEFAULT to_tsvector('app.b_plain', 'untagged mail@example.com')
  );
  CREATE INDEX docs_body ON app.docs USING gin (to_tsvector('app.a_english', body));
  INSERT INTO app.docs (id, author, body)
    SELECT i, CASE i % 3 WHEN 0 THEN 'Ann' WHEN 1 THEN 'ANN' ELSE 'bob' END,
           'The quick brown foxes jumped over ' || i || ' lazy dogs'
      FROM generate_series(1, 200) AS i;
`

/**
 * Schema broken, copied by a run of its own: a collation made for a locale the target's operating system
 * lacks, and a template made of C functions of a schema the run does not copy, with the dictionary and
 * configuration on it. No locale this machine lacks can be made on a real server here, so the source's
 * catalog is told the collation was made for one (as on a server whose operating system has it).
 */
const BROKEN_SCHEMA = `
  CREATE SCHEMA broken;
  CREATE SCHEMA lib;
  CREATE TABLE broken.t (id int PRIMARY KEY);
  INSERT INTO broken.t VALUES (1), (2);
  CREATE COLLATION broken.fine (provider = libc, locale = 'C.UTF-8');
  CREATE COLLATION broken.gone (provider = libc, locale = 'C.UTF-8');
  UPDATE pg_catalog.pg_collation SET collcollate = 'xx_TABLEHAUL.UTF-8', collctype = 'xx_TABLEHAUL.UTF-8'
   WHERE oid = 'broken.gone'::regcollation;
  CREATE FUNCTION lib.stem_init(internal) RETURNS internal LANGUAGE c STRICT
    AS '$libdir/dict_snowball', 'dsnowball_init';
  CREATE FUNCTION lib.stem_lexize(internal, internal, internal, internal) RETURNS internal LANGUAGE c STRICT
    AS '$libdir/dict_snowball', 'dsnowball_lexize';
  CREATE TEXT SEARCH TEMPLATE broken.stems (INIT = lib.stem_init, LEXIZE = lib.stem_lexize);
  CREATE TEXT SEARCH DICTIONARY broken.dutch (TEMPLATE = broken.stems, LANGUAGE = dutch);
  CREATE TEXT SEARCH CONFIGURATION broken.dutch_cfg (PARSER = default);
  ALTER TEXT SEARCH CONFIGURATION broken.dutch_cfg ADD MAPPING FOR asciiword WITH broken.dutch;
`

/** Roles belong to the server, not to a database: made once, whatever ran before. */
const OWNER_ROLE = `DO $$ BEGIN CREATE ROLE th_ts_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`

/** Schema owned, copied by a run of its own with owners: keep: a collation, dictionary and configuration of another role. */
const OWNED_SCHEMA = `
  CREATE SCHEMA owned;
  CREATE TABLE owned.t (id int PRIMARY KEY);
  CREATE COLLATION owned.coll (provider = icu, locale = 'fr-FR');
  CREATE TEXT SEARCH DICTIONARY owned.dict (TEMPLATE = simple, STOPWORDS = french);
  CREATE TEXT SEARCH CONFIGURATION owned.cfg (PARSER = default);
  ALTER TEXT SEARCH CONFIGURATION owned.cfg ADD MAPPING FOR asciiword WITH owned.dict;
  ALTER COLLATION owned.coll OWNER TO th_ts_owner;
  ALTER TEXT SEARCH DICTIONARY owned.dict OWNER TO th_ts_owner;
  ALTER TEXT SEARCH CONFIGURATION owned.cfg OWNER TO th_ts_owner;
`

before(async () => {
  servers = await testServers()
  db = await databasePair(servers, 'collations_ts')
  await db.target.sql(OWNER_ROLE)
  await db.source.sql(`${OWNER_ROLE}; ${SOURCE_SCHEMA} ${BROKEN_SCHEMA} ${OWNED_SCHEMA}`)
})

after(async () => {
  await db?.drop()
  await older.destroy()
  await servers?.stop()
})

function run(schema: string, owners: 'keep' | 'ignore' = 'ignore'): Promise<RunReport> {
  return new TransferJob(
    testConfig({
      source: db.source.url,
      target: db.target.url,
      tables: [`${schema}.*`],
      objects: 'all',
      owners,
    }),
    { notifier: null },
  ).run()
}

/** What the query gives on the source and on the target. */
async function onBoth(query: string): Promise<[unknown, unknown]> {
  const ask = async (database: TestDatabase) => JSON.stringify(await database.sql(query))
  return [await ask(db.source), await ask(db.target)]
}

describe('collations and text search objects with objects: all', () => {
  test('plan lists them per kind, and each one with --verbose', async () => {
    const args = ['plan', '--source', db.source.url, '--target', db.target.url, '--table', 'app.*']
    const text = await runCli([...args, '--objects', 'all', '--verbose'], { cwd: tempDir() })
    assert.equal(text.code, 0, text.stderr)
    const line = (kind: string) =>
      text.stdout
        .split('\n')
        .find((l) => l.trimStart().startsWith(`${kind} `))
        ?.trim()
    assert.match(line('collation') ?? '', /^collation\s+6\s+6 create$/)
    assert.match(line('text search parser') ?? '', /^text search parser\s+1\s+1 create$/)
    assert.match(line('text search template') ?? '', /^text search template\s+1\s+1 create$/)
    assert.match(line('text search dictionary') ?? '', /^text search dictionary\s+2\s+2 create$/)
    assert.match(line('text search configuration') ?? '', /^text search configuration\s+2\s+2 create$/)
    assert.match(text.stdout, /TEXT SEARCH CONFIGURATION app\.a_english: create/)
    assert.match(text.stdout, /COLLATION app\.c_icu_ci: create/)
  })

  test('each collation and text search object arrives equal, with its comment, and works as on the source', async () => {
    const report = await run('app')
    assert.deepEqual(report.warnings, [], 'no object failed or was left different')
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.equal(report.tables.find((t) => t.table === 'app.docs')?.status, 'copied')

    const comparison = await compareDatabases(db.source.url, db.target.url)
    const ours = comparison.differences.filter((d) => !/ (broken|lib|owned)\b/.test(d))
    assert.deepEqual(ours, [], 'the checker finds no difference in schema app')
    const [counts] = await db.target.sql<{ collations: string; ts: string }>(
      `SELECT (SELECT count(*) FROM pg_collation WHERE collnamespace = 'app'::regnamespace) AS collations,
              (SELECT count(*) FROM pg_ts_config WHERE cfgnamespace = 'app'::regnamespace)
              + (SELECT count(*) FROM pg_ts_dict WHERE dictnamespace = 'app'::regnamespace)
              + (SELECT count(*) FROM pg_ts_template WHERE tmplnamespace = 'app'::regnamespace)
              + (SELECT count(*) FROM pg_ts_parser WHERE prsnamespace = 'app'::regnamespace) AS ts`,
    )
    assert.deepEqual(counts, { collations: '6', ts: '6' }, 'the checker had them to compare')

    // Each one gives the same answers on the target as on the source.
    const queries = [
      `SELECT string_agg(x, ',' ORDER BY x COLLATE app.d_icu_de) FROM unnest(ARRAY['Äpfel', 'Zebra', 'apfel', 'Bär']) AS x`,
      `SELECT string_agg(x, ',' ORDER BY x COLLATE app.e_icu_rules) FROM unnest(ARRAY['h', 'g', 'b', 'a']) AS x`,
      `SELECT string_agg(x, ',' ORDER BY x COLLATE app.a_libc, x COLLATE app.b_libc_split) FROM unnest(ARRAY['b', 'B', 'a', 'é']) AS x`,
      `SELECT upper('ǅ straße' COLLATE app.f_builtin), lower('ÀÉ' COLLATE app.b_libc_split)`,
      `SELECT count(*) FROM app.docs WHERE author = 'ann'`,
      `SELECT 'ANN' = 'ann' COLLATE app.c_icu_ci AS equal`,
      `SELECT to_tsvector('app.a_english', 'The quick brown foxes jumped 42 times')::text,
              to_tsvector('app.b_plain', 'Mail me@example.com at https://example.com/a')::text,
              ts_headline('app.a_english', 'The quick brown foxes', to_tsquery('app.a_english', 'fox'))`,
      `SELECT count(*) FROM app.docs WHERE to_tsvector('app.a_english', body) @@ to_tsquery('app.a_english', 'jump & dog')`,
      `SELECT count(*) FROM app.docs WHERE body_tsv @@ to_tsquery('app.a_english', 'fox & 7')`,
    ]
    for (const query of queries) {
      const [source, target] = await onBoth(query)
      assert.equal(target, source, query)
    }
    // The generated column and the default compute on the target as on the source.
    await db.target.sql(`INSERT INTO app.docs (id, body) VALUES (1000, 'Running dogs and a cat')`)
    await db.source.sql(`INSERT INTO app.docs (id, body) VALUES (1000, 'Running dogs and a cat')`)
    const [source, target] = await onBoth(`SELECT body_tsv::text, tags::text FROM app.docs WHERE id = 1000`)
    assert.equal(target, source)
    assert.match(String(target), /'dog':2.*'run':1/)
    await db.source.sql(`DELETE FROM app.docs WHERE id = 1000`)
  })

  test('a second run finds every one there as it is and leaves it, the collation its table made included', async () => {
    const report = await run('app')
    assert.deepEqual(report.warnings, [])
    assert.equal(report.status, 'succeeded')
  })

  test('a collation whose locale the target lacks, and a template whose functions it lacks, fail alone with their reasons; the rest arrives', async () => {
    const report = await run('broken')
    assert.equal(report.tables.find((t) => t.table === 'broken.t')?.status, 'copied')
    assert.equal(report.status, 'failed', 'an object that fails fails the run')
    assert.equal(report.objectsFailed, 4, report.warnings.join('\n'))
    const notes = report.warnings.join('\n')
    assert.match(
      notes,
      /COLLATION broken\.gone was not created: could not create locale "xx_TABLEHAUL\.UTF-8": No such file or directory \(SQLSTATE 22023\); the target's operating system lacks that locale: install it there/,
    )
    assert.match(
      notes,
      /TEXT SEARCH TEMPLATE broken\.stems was not created: it is made of the function lib\.stem_init\(internal\) \(written in C, in the library \$libdir\/dict_snowball of the source's server\), which the target does not have/,
    )
    assert.match(
      notes,
      /TEXT SEARCH DICTIONARY broken\.dutch was not created: it needs TEXT SEARCH TEMPLATE broken\.stems, which could not be created/,
    )
    assert.match(
      notes,
      /TEXT SEARCH CONFIGURATION broken\.dutch_cfg was not created: it needs TEXT SEARCH DICTIONARY broken\.dutch, which could not be created/,
    )
    const [fine] = await db.target.sql(
      `SELECT collname FROM pg_collation WHERE collnamespace = 'broken'::regnamespace`,
    )
    assert.deepEqual(fine, { collname: 'fine' }, 'the other collation arrived')
  })

  test('with owners: keep, each collation, dictionary and configuration gets its source owner', async () => {
    const report = await run('owned', 'keep')
    assert.deepEqual(report.warnings, [])
    assert.equal(report.status, 'succeeded')
    const owners = `SELECT (SELECT collowner::regrole::text FROM pg_collation WHERE oid = 'owned.coll'::regcollation) AS collation,
                           (SELECT dictowner::regrole::text FROM pg_ts_dict WHERE oid = 'owned.dict'::regdictionary) AS dictionary,
                           (SELECT cfgowner::regrole::text FROM pg_ts_config WHERE oid = 'owned.cfg'::regconfig) AS configuration`
    const [source, target] = await onBoth(owners)
    assert.equal(target, source)
    assert.match(
      String(target),
      /"collation":"th_ts_owner","dictionary":"th_ts_owner","configuration":"th_ts_owner"/,
    )
  })
})

describe('objects: tables (the default)', () => {
  test('brings the text search objects a copied table names, and no other; owners: keep gives them their owners', async () => {
    const target = await TestDatabase.create(servers.target, 'collations_ts_tables')
    try {
      await db.source.sql(`CREATE TEXT SEARCH CONFIGURATION app.z_unused (COPY = app.a_english)`)
      const report = await new TransferJob(
        testConfig({ source: db.source.url, target: target.url, tables: ['app.*'], owners: 'keep' }),
        { notifier: null },
      ).run()
      assert.deepEqual(report.warnings, [])
      assert.equal(report.status, 'succeeded')
      const [names] = await target.sql<{ ts: string; collations: string }>(
        `SELECT (SELECT string_agg(name, ', ' ORDER BY name) FROM (
                   SELECT cfgname::text AS name FROM pg_ts_config WHERE cfgnamespace = 'app'::regnamespace
                   UNION ALL SELECT dictname FROM pg_ts_dict WHERE dictnamespace = 'app'::regnamespace
                   UNION ALL SELECT tmplname FROM pg_ts_template WHERE tmplnamespace = 'app'::regnamespace
                   UNION ALL SELECT prsname FROM pg_ts_parser WHERE prsnamespace = 'app'::regnamespace) AS n) AS ts,
                (SELECT string_agg(collname, ', ') FROM pg_collation WHERE collnamespace = 'app'::regnamespace) AS collations`,
      )
      assert.deepEqual(names, {
        ts: 'a_english, b_plain, m_stop, n_stem, z_parser, z_simple',
        collations: 'c_icu_ci',
      })
      const owners = `SELECT (SELECT cfgowner::regrole::text FROM pg_ts_config WHERE oid = 'app.b_plain'::regconfig) AS plain,
                             (SELECT dictowner::regrole::text FROM pg_ts_dict WHERE oid = 'app.m_stop'::regdictionary) AS stop`
      assert.deepEqual(await target.sql(owners), [{ plain: 'th_ts_owner', stop: 'th_ts_owner' }])
      const query = `SELECT count(*) AS n, md5(string_agg(body_tsv::text || tags::text, ',' ORDER BY id)) AS h
                       FROM app.docs WHERE to_tsvector('app.a_english', body) @@ to_tsquery('app.a_english', 'fox')`
      assert.deepEqual(await target.sql(query), await db.source.sql(query))
    } finally {
      await db.source.sql(`DROP TEXT SEARCH CONFIGURATION app.z_unused`)
      await target.drop()
    }
  })
})

describe('as a target user who may not create schemas', () => {
  const role = `th_ts_loader_${Math.random().toString(36).slice(2, 8)}`
  let target: TestDatabase

  before(async () => {
    await withClient(servers.target.url, (c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'loader-pw'`))
    target = await TestDatabase.create(servers.target, 'collations_ts_loader')
    // The run's schemas exist, its own; the database's CREATE privilege it lacks (PUBLIC never has it).
    await target.sql(
      `CREATE SCHEMA tablehaul AUTHORIZATION ${role}; CREATE SCHEMA owned AUTHORIZATION ${role}`,
    )
  })

  after(async () => {
    await target?.drop()
    await withClient(servers.target.url, (c) => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => {})
  })

  test('the text search objects and collations arrive in the schema it has', async () => {
    const url = new URL(target.url)
    url.username = role
    url.password = 'loader-pw'
    const report = await new TransferJob(
      testConfig({ source: db.source.url, target: url.toString(), tables: ['owned.*'], objects: 'all' }),
      { notifier: null },
    ).run()
    // tablehaul's own records need the database's CREATE privilege too: without it, only resume is lost.
    const warnings = report.warnings.filter((w) => !w.startsWith('resume is unavailable for this run'))
    assert.deepEqual(warnings, [], JSON.stringify(report.error))
    assert.equal(report.status, 'succeeded')
    const query = `SELECT to_tsvector('owned.cfg', 'les maisons et les arbres')::text AS v,
                          string_agg(x, ',' ORDER BY x COLLATE owned.coll) AS sorted
                     FROM unnest(ARRAY['côte', 'cote', 'Côte', 'coté']) AS x`
    assert.deepEqual(await target.sql(query), await db.source.sql(query))
  })
})

describe('across PostgreSQL versions', () => {
  test(
    'from 18 into 15: what 15 cannot make is named with the version it needs; every other collation and text search object arrives and works',
    { skip: OlderServers.skip },
    async () => {
      const target = await TestDatabase.create(await older.of(15), 'collations_ts_15')
      try {
        const report = await new TransferJob(
          testConfig({ source: db.source.url, target: target.url, tables: ['app.*'], objects: 'all' }),
          { notifier: null },
        ).run()
        assert.equal(report.tables.find((t) => t.table === 'app.docs')?.status, 'copied')
        assert.equal(report.status, 'failed')
        assert.deepEqual([...report.warnings].sort(), [
          'COLLATION app.e_icu_rules was not created: an ICU collation with rules needs PostgreSQL 16 (the target runs 15)',
          'COLLATION app.f_builtin was not created: the builtin collation provider needs PostgreSQL 17 (the target runs 15)',
        ])
        const comparison = await compareDatabases(db.source.url, target.url)
        assert.deepEqual(
          comparison.differences.filter((d) => !/ (broken|lib|owned)\b/.test(d)),
          [
            'collation app.e_icu_rules: missing on the target',
            'collation app.f_builtin: missing on the target',
          ],
        )
        const query = `SELECT to_tsvector('app.a_english', 'The quick brown foxes jumped 42 times')::text AS v,
                              string_agg(x, ',' ORDER BY x COLLATE app.d_icu_de) AS sorted
                         FROM unnest(ARRAY['Äpfel', 'Zebra', 'apfel', 'Bär']) AS x`
        assert.deepEqual(await target.sql(query), await db.source.sql(query))
      } finally {
        await target.drop()
      }
    },
  )

  test(
    'from 15 into 18: an ICU collation 18 stores in its standard form is the same collation, made once by the table that uses it and left alone by later runs',
    { skip: OlderServers.skip },
    async () => {
      const source = await TestDatabase.create(await older.of(15), 'collations_ts_from_15')
      const target = await TestDatabase.create(servers.target, 'collations_ts_into_18')
      try {
        await source.sql(`
          CREATE SCHEMA old;
          CREATE COLLATION old.german (provider = icu, locale = 'de_DE');
          CREATE COLLATION old.loose (provider = icu, locale = 'und@colStrength=secondary', deterministic = false);
          CREATE TABLE old.words (id int PRIMARY KEY, w text COLLATE old.german);
          INSERT INTO old.words VALUES (1, 'Äpfel'), (2, 'Zebra'), (3, 'apfel'), (4, 'Bär');
          CREATE TEXT SEARCH DICTIONARY old.stop (TEMPLATE = simple, STOPWORDS = german);
          CREATE TEXT SEARCH CONFIGURATION old.cfg (PARSER = default);
          ALTER TEXT SEARCH CONFIGURATION old.cfg ADD MAPPING FOR asciiword, word WITH old.stop, german_stem;`)
        const runOnce = () =>
          new TransferJob(
            testConfig({ source: source.url, target: target.url, tables: ['old.*'], objects: 'all' }),
            { notifier: null },
          ).run()
        for (const round of ['first', 'second']) {
          const report = await runOnce()
          assert.deepEqual(report.warnings, [], `${round} run: nothing left different`)
          assert.equal(report.status, 'succeeded', round)
        }
        const query = `SELECT string_agg(w, ',' ORDER BY w) AS sorted,
                              (SELECT 'ABC' = 'abc' COLLATE old.loose) AS loose,
                              to_tsvector('old.cfg', 'Die Häuser und die Bäume')::text AS v
                         FROM old.words`
        assert.deepEqual(await target.sql(query), await source.sql(query))
      } finally {
        await Promise.all([source.drop(), target.drop()])
      }
    },
  )
})
