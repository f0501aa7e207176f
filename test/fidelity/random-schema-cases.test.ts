import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { databasePair, type DatabasePair } from '../helpers/database-pair.js'
import { TestDatabase, testServers } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'
import { OlderServers } from './fidelity-run.js'

// The shapes the seeded random schemas (random-schema.test.ts) found arriving different, each reduced to
// the few statements that show it, copied into an empty target (and again into that copy) and compared by
// the checker.

let servers: Awaited<ReturnType<typeof testServers>>
const older = new OlderServers()

before(async () => {
  servers = await testServers()
})

after(async () => {
  await older.destroy()
  await servers?.stop()
})

function copy(db: DatabasePair, yaml: Record<string, unknown> = {}): Promise<RunReport> {
  return new TransferJob(testConfig({ source: db.source.url, target: db.target.url }, { yaml }), {
    notifier: null,
  }).run()
}

function problemsOf(report: RunReport): string[] {
  return [
    ...report.tables.flatMap((t) => [
      ...(t.status === 'copied' ? [] : [`${t.table}: ${t.error?.message ?? t.reason}`]),
      ...(t.warnings ?? []).map((w) => `${t.table}: ${w}`),
    ]),
    ...report.warnings,
  ]
}

/** Makes `sql` on a fresh source and copies it twice into an empty target, comparing after each run. */
async function copyTwice(name: string, sql: string, yaml: Record<string, unknown> = {}): Promise<void> {
  const db = await databasePair(servers, name)
  try {
    await db.source.sql(sql)
    for (const run of ['first', 'second']) {
      const report = await copy(db, yaml)
      assert.deepEqual(problemsOf(report), [], `the ${run} run reports no problem`)
      assert.equal(report.status, 'succeeded')
      const { differences } = await compareDatabases(db.source.url, db.target.url)
      assert.deepEqual(differences, [], `no difference after the ${run} run`)
    }
  } finally {
    await db.drop()
  }
}

describe('shapes the random schemas found', () => {
  test('a sequence made OWNED BY a column that no default names arrives with its table (seed 1)', async () => {
    await copyTwice(
      'owned_only',
      `CREATE TABLE public.t (id integer PRIMARY KEY);
       INSERT INTO public.t VALUES (1), (2);
       CREATE SEQUENCE public.t_side AS smallint INCREMENT BY 3 MINVALUE -30000 MAXVALUE 30000 START 7 OWNED BY public.t.id;
       SELECT nextval('public.t_side');`,
    )
  })
})

describe('domains with a check that is NOT VALID, with objects: all', () => {
  test('one no table uses is created, its check still NOT VALID (seed 4)', async () => {
    await copyTwice(
      'domain_not_valid',
      `CREATE DOMAIN public.posint AS integer CONSTRAINT positive CHECK (VALUE > 0);
       ALTER DOMAIN public.posint ADD CONSTRAINT small CHECK (VALUE < 1000000) NOT VALID;
       CREATE TABLE public.t (id integer PRIMARY KEY);`,
      { objects: 'all' },
    )
  })

  test('one a table uses is not reported different from the one the table brought (seed 2)', async () => {
    await copyTwice(
      'domain_not_valid_used',
      `CREATE DOMAIN public.posint AS integer CONSTRAINT positive CHECK (VALUE > 0);
       CREATE TABLE public.t (id integer PRIMARY KEY, n public.posint);
       INSERT INTO public.t VALUES (1, 5), (2, 20);
       ALTER DOMAIN public.posint ADD CONSTRAINT small CHECK (VALUE < 1000000) NOT VALID;`,
      { objects: 'all' },
    )
  })
})

describe('what PostgreSQL cannot make again is said, not silent', () => {
  test('an inheritance child whose parent gained a column after it: the run names the columns that count as its own (seed 2)', async () => {
    const db = await databasePair(servers, 'late_parent_column')
    try {
      await db.source.sql(`
        CREATE TABLE public.parent (id integer NOT NULL);
        CREATE TABLE public.child (own text) INHERITS (public.parent);
        ALTER TABLE public.parent ADD COLUMN later integer;
        INSERT INTO public.child VALUES (1, 'a', 2);`)
      const report = await copy(db)
      assert.equal(report.status, 'succeeded')
      assert.deepEqual(problemsOf(report), [
        'public.child: columns id, later are inherited from public.parent on the source but count as its own on the target (attislocal): public.parent gained columns after public.child was created, and only CREATE TABLE with every column keeps its column order',
      ])
      const { differences } = await compareDatabases(db.source.url, db.target.url)
      assert.deepEqual(
        differences.filter((d) => !/ local is false on the source but true on the target$/.test(d)),
        [],
      )
    } finally {
      await db.drop()
    }
  })

  test('TOAST options of a table whose TOAST table only dropped columns needed: the run says they are not carried (seed 13)', async () => {
    const db = await databasePair(servers, 'toast_dropped')
    try {
      await db.source.sql(`
        CREATE TABLE public.t (id integer PRIMARY KEY, gone text) WITH (toast.autovacuum_enabled = false);
        ALTER TABLE public.t DROP COLUMN gone;
        INSERT INTO public.t VALUES (1), (2);`)
      const report = await copy(db)
      assert.deepEqual(problemsOf(report), [
        "public.t: its TOAST options (toast.autovacuum_enabled=false) are not carried: the table has no TOAST table on the target, as none of its columns needs one (the source's was made for columns since dropped)",
      ])
      const { differences } = await compareDatabases(db.source.url, db.target.url)
      assert.deepEqual(differences, [
        'table public.t: toast options is ["autovacuum_enabled=false"] on the source but null on the target',
      ])
    } finally {
      await db.drop()
    }
  })
})

describe('inheritance children', () => {
  test('a child keeps its own column storage and compression, not those its parent was given after it (seed 55)', async () => {
    await copyTwice(
      'child_storage',
      `CREATE TABLE public.parent (id integer, v text);
       CREATE TABLE public.child (own text) INHERITS (public.parent);
       ALTER TABLE ONLY public.parent ALTER COLUMN v SET STORAGE MAIN;
       ALTER TABLE ONLY public.parent ALTER COLUMN v SET COMPRESSION pglz;
       INSERT INTO public.child VALUES (1, 'a', 'b');`,
    )
  })
})

describe('a CHECK that is NOT VALID on the source, whose rows break it', () => {
  test('a second run (mode replace) reloads the table and keeps the check NOT VALID, with its comment (seed 5)', async () => {
    await copyTwice(
      'check_not_valid',
      `CREATE TABLE public.t (id integer PRIMARY KEY, n integer);
       INSERT INTO public.t VALUES (1, 1), (2, 7), (3, NULL);
       ALTER TABLE public.t ADD CONSTRAINT small CHECK (n < 5) NOT VALID;
       COMMENT ON CONSTRAINT small ON public.t IS 'only new rows';`,
    )
  })
})

describe('from a PostgreSQL 12 source, with objects: all', () => {
  test(
    'a range type is not reported different on a second run: the target gave it the multirange 12 lacks (seed 1 from 12)',
    { skip: OlderServers.skip },
    async () => {
      const source = await TestDatabase.create(await older.of(12), 'range_from_12')
      const target = await TestDatabase.create(servers.target, 'range_from_12_tgt')
      try {
        await source.sql(`CREATE TYPE public.f8range AS RANGE (subtype = float8, subtype_diff = float8mi);
                        CREATE TABLE public.t (id integer PRIMARY KEY, r public.f8range);
                        INSERT INTO public.t VALUES (1, '[1.5,2.5)');`)
        for (const run of ['first', 'second']) {
          const report = await new TransferJob(
            testConfig({ source: source.url, target: target.url }, { yaml: { objects: 'all' } }),
            { notifier: null },
          ).run()
          assert.deepEqual(problemsOf(report), [], `the ${run} run reports no problem`)
        }
      } finally {
        await Promise.all([source.drop(), target.drop()])
      }
    },
  )

  test(
    'an identity column of an unlogged table keeps its logged sequence, as before PostgreSQL 15 (seed 1 from 12, 14)',
    { skip: OlderServers.skip },
    async () => {
      const source = await TestDatabase.create(await older.of(12), 'unlogged_identity')
      const target = await TestDatabase.create(servers.target, 'unlogged_identity_tgt')
      try {
        await source.sql(`CREATE UNLOGGED TABLE public.u (id integer GENERATED ALWAYS AS IDENTITY, v text);
                        INSERT INTO public.u (v) VALUES ('a'), ('b');`)
        const report = await new TransferJob(testConfig({ source: source.url, target: target.url }), {
          notifier: null,
        }).run()
        assert.deepEqual(problemsOf(report), [])
        const { differences } = await compareDatabases(source.url, target.url)
        assert.deepEqual(differences, [])
      } finally {
        await Promise.all([source.drop(), target.drop()])
      }
    },
  )
})
