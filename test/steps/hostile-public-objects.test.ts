import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { importCsv } from '../../src/csv/csv-files.js'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { TEST_PASSWORD, type TestDatabase, testServers, withClient } from '../helpers/servers.js'

// On a target where a role tablehaul does not trust may create objects in public (every role before
// PostgreSQL 15), that role defines functions and operators there that match better than pg_catalog's for
// what the source's expressions apply them to: `text || int4` (pg_catalog's takes anynonarray), `int4[] ||
// int4` and `int4[] @> int4[]` (anycompatible), concat(text, int4) (VARIADIC "any"), `<>` on an enum
// (anyenum). PostgreSQL prefers pg_catalog only among equally good matches, and the source's definitions
// are printed with an empty search_path, so they name pg_catalog's operators bare: created on the target
// under search_path = public, a default, check, index, policy, trigger condition, view or function body
// would be bound to the other role's operator, and run it as whoever uses it. Each of those functions
// counts its calls in a sequence (nextval is never rolled back) and returns the right answer, so that a
// run goes on and what it created can be inspected: nothing on the target may depend on them, and none
// may have been called.

let servers: Awaited<ReturnType<typeof testServers>>
const suffix = Math.random().toString(36).slice(2, 8)
const attacker = `tablehaul_attacker_${suffix}`
const owner = `tablehaul_owner_${suffix}`

before(async () => {
  servers = await testServers()
  for (const server of new Set([servers.source, servers.target]))
    await withClient(server.url, (c) =>
      c.query(`CREATE ROLE ${attacker}; CREATE ROLE ${owner} LOGIN PASSWORD '${TEST_PASSWORD}'`),
    )
})

after(async () => {
  for (const server of new Set([servers?.source, servers?.target]))
    if (server)
      await withClient(server.url, (c) => c.query(`DROP ROLE IF EXISTS ${attacker}, ${owner}`)).catch(
        () => {},
      )
  await servers?.stop()
})

const SOURCE = `
  CREATE TYPE public.color AS ENUM ('red', 'green', 'blue');
  CREATE FUNCTION public.tagged(t text, n int4) RETURNS text LANGUAGE sql STABLE
    BEGIN ATOMIC SELECT t || n; END;
  CREATE DOMAIN public.short_list AS int4[] CHECK (VALUE || 0 <> '{}');
  CREATE TABLE public.parent (name varchar(20) PRIMARY KEY);
  CREATE TABLE public.item (
    id int PRIMARY KEY,
    parent_name varchar(20) REFERENCES public.parent (name),
    n int4 NOT NULL,
    label text DEFAULT 'L' || 5,
    arr int4[] DEFAULT ARRAY[1] || 2,
    c public.color DEFAULT 'red',
    l public.short_list,
    g int4[] GENERATED ALWAYS AS (arr || n) STORED,
    CONSTRAINT not_blue CHECK (c <> 'blue'),
    CONSTRAINT labelled CHECK (concat(label, n) <> ''),
    CONSTRAINT has_one CHECK (arr @> ARRAY[1]));
  ALTER TABLE public.item ADD CONSTRAINT positive CHECK (n > 0) NOT VALID;
  CREATE INDEX item_partial ON public.item (id) WHERE arr @> ARRAY[2];
  CREATE INDEX item_expression ON public.item ((arr || n));
  CREATE POLICY item_policy ON public.item USING (c <> 'green');
  CREATE FUNCTION public.unchanged() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
  CREATE TRIGGER item_when BEFORE UPDATE ON public.item FOR EACH ROW WHEN (NEW.arr @> ARRAY[3])
    EXECUTE FUNCTION public.unchanged();
  CREATE TABLE public.item_log (id int4, arr int4[]);
  CREATE RULE item_rule AS ON UPDATE TO public.item WHERE NEW.c <> 'red'
    DO ALSO INSERT INTO public.item_log VALUES (NEW.id, NEW.arr || 0);
  CREATE VIEW public.item_view AS
    SELECT id, label || n AS x, arr @> ARRAY[2] AS has2, c <> 'red' AS not_red, concat(label, n) AS y,
           public.tagged(label, n) AS z
      FROM public.item;
  CREATE MATERIALIZED VIEW public.item_summary AS SELECT id, label || n AS x, arr || n AS a FROM public.item;
  CREATE TABLE public.events (n int4, arr int4[] DEFAULT ARRAY[1] || 2, CHECK (arr @> ARRAY[1]));
  INSERT INTO public.parent SELECT 'p' || g FROM generate_series(1, 5) g;
  INSERT INTO public.item (id, parent_name, n, arr, c, l)
    SELECT g, 'p' || (1 + g % 5), g, ARRAY[1, g % 4], (ARRAY['red', 'green']::public.color[])[1 + g % 2], ARRAY[g]
      FROM generate_series(1, 200) g;
  INSERT INTO public.events (n) SELECT g FROM generate_series(1, 50) g;
  REFRESH MATERIALIZED VIEW public.item_summary;
  ANALYZE;`

/** [name, left, right, what pg_catalog computes] of the operators the attacker plants. */
const OPERATORS: Record<'builtin' | 'typed', Array<[string, string, string, string]>> = {
  builtin: [
    ['||', 'text', 'int4', 'a OPERATOR(pg_catalog.||) b::pg_catalog.text'],
    ['||', 'int4[]', 'int4', 'pg_catalog.array_append(a, b)'],
    ['@>', 'int4[]', 'int4[]', 'a OPERATOR(pg_catalog.@>) b'],
    ['=', 'varchar', 'varchar', 'a::pg_catalog.text OPERATOR(pg_catalog.=) b::pg_catalog.text'],
    ['=', 'oid', 'regclass', 'a OPERATOR(pg_catalog.=) b::pg_catalog.oid'],
    ['<>', 'oid', 'int4', 'a OPERATOR(pg_catalog.<>) b::pg_catalog.oid'],
    ['=', 'oid', 'int4', 'a OPERATOR(pg_catalog.=) b::pg_catalog.oid'],
  ],
  typed: [
    ['<>', 'public.color', 'public.color', 'a::pg_catalog.text OPERATOR(pg_catalog.<>) b::pg_catalog.text'],
  ],
}

/** What the attacker creates in public: each operator, and concat(text, int4), counting their calls. */
function hostile(kind: 'builtin' | 'typed'): string {
  const counted = (name: string, args: string, returns: string, body: string) => `
    CREATE SEQUENCE public.${name}_calls;
    GRANT USAGE ON SEQUENCE public.${name}_calls TO PUBLIC;
    CREATE FUNCTION public.${name}(${args}) RETURNS ${returns} LANGUAGE plpgsql IMMUTABLE AS $$
      BEGIN PERFORM pg_catalog.nextval('public.${name}_calls'); RETURN ${body}; END $$;`
  const statements = OPERATORS[kind].map(([op, left, right, body], n) => {
    const name = `hostile_${kind}_${n}`
    const returns = op === '||' ? left : 'bool'
    return `${counted(name, `a ${left}, b ${right}`, returns, body)}
    CREATE OPERATOR public.${op} (LEFTARG = ${left}, RIGHTARG = ${right}, FUNCTION = public.${name});`
  })
  if (kind === 'builtin')
    statements.push(counted('concat', 'a text, b int4', 'text', 'pg_catalog.concat(a, b)'))
  return statements.join('')
}

async function plant(db: TestDatabase, kind: 'builtin' | 'typed'): Promise<void> {
  await db.sql(`GRANT CREATE ON SCHEMA public TO ${attacker};
    SET ROLE ${attacker}; ${hostile(kind)}; RESET ROLE`)
}

/** What on the target uses one of the attacker's functions or operators, and how often they were called. */
async function hijacked(db: TestDatabase): Promise<{ uses: string[]; calls: Record<string, number> }> {
  const uses = await db.sql<{ what: string }>(
    `SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' uses ' ||
            pg_describe_object(d.refclassid, d.refobjid, 0) AS what
       FROM pg_depend d
      WHERE ((d.refclassid = 'pg_proc'::regclass::oid
              AND d.refobjid IN (SELECT oid FROM pg_proc WHERE proowner = '${attacker}'::regrole::oid))
          OR (d.refclassid = 'pg_operator'::regclass::oid
              AND d.refobjid IN (SELECT oid FROM pg_operator WHERE oprowner = '${attacker}'::regrole::oid)))
        AND NOT (d.classid = 'pg_operator'::regclass::oid
              AND d.objid IN (SELECT oid FROM pg_operator WHERE oprowner = '${attacker}'::regrole::oid))
      ORDER BY 1`,
  )
  const sequences = await db.sql<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relkind = 'S' AND relname LIKE '%\\_calls'
        AND relowner = '${attacker}'::regrole::oid`,
  )
  const calls: Record<string, number> = {}
  for (const { name } of sequences) {
    const [row] = await db.sql<{ n: string }>(
      `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM public.${name}`,
    )
    if (Number(row!.n) > 0) calls[name] = Number(row!.n)
  }
  return { uses: uses.map((u) => u.what), calls }
}

async function assertUntouched(db: TestDatabase, what: string): Promise<void> {
  assert.deepEqual(await hijacked(db), { uses: [], calls: {} }, what)
}

function run(
  db: DatabasePair,
  targetUrl: string,
  mode: 'replace' | 'recreate',
  objects: 'all' | 'tables',
  lockMs = 60_000,
  more: Record<string, unknown> = {},
): Promise<RunReport> {
  const config = testConfig(
    { source: db.source.url, target: targetUrl, mode },
    {
      yaml: {
        ...more,
        objects,
        timeouts: { ...testConfig({}).timeouts, lock: lockMs },
        tables: [
          'public.parent',
          'public.item',
          'public.item_log',
          { name: 'public.events', mode: 'append' },
        ],
      },
    },
  )
  return new TransferJob(config, { notifier: null }).run()
}

function succeeded(report: RunReport): void {
  assert.equal(
    report.status,
    'succeeded',
    JSON.stringify([report.error, report.tables, report.warnings], null, 2),
  )
}

/** The target database's URL for `role` (password TEST_PASSWORD). */
function urlAs(db: TestDatabase, role: string): string {
  const url = new URL(db.url)
  url.username = role
  url.password = TEST_PASSWORD
  return url.toString()
}

async function runsUntouched(db: DatabasePair, targetUrl: string): Promise<void> {
  await db.source.sql(SOURCE)
  await plant(db.target, 'builtin')
  succeeded(await run(db, targetUrl, 'replace', 'all'))
  await assertUntouched(db.target, 'a first copy into an empty target, objects: all')
  await plant(db.target, 'typed')
  for (const mode of ['recreate', 'replace'] as const) {
    succeeded(await run(db, targetUrl, mode, 'tables'))
    await assertUntouched(db.target, `mode ${mode} over the first copy`)
  }
  for (const table of ['public.parent', 'public.item']) await assertSameRows(db, table)
  const [events] = await db.target.sql<{ n: number }>('SELECT count(*)::int AS n FROM public.events')
  assert.equal(events!.n, 150, 'events appended three times')

  // A reader holds parent: the foreign key to it cannot be dropped for the reload, and the run looks for
  // who holds the lock to say so.
  const reader = new pg.Client({ connectionString: db.target.url })
  await reader.connect()
  try {
    await reader.query('BEGIN; LOCK TABLE public.parent IN ACCESS SHARE MODE')
    const locked = await run(db, targetUrl, 'replace', 'tables', 1000)
    assert.match(JSON.stringify(locked.tables), /server pid \d+/)
  } finally {
    await reader.end()
  }
  await assertUntouched(db.target, 'a replace that finds a table locked')

  const dir = tempDir()
  const file = path.join(dir, 'events.csv')
  writeFileSync(file, 'n\n1\n2\n')
  const imported = await importCsv(testConfig({ target: targetUrl }, { dir }), {
    table: 'public.events',
    file,
    mode: 'append',
    notifier: null,
  })
  assert.equal(imported.status, 'succeeded', JSON.stringify(imported.tables))
  await assertUntouched(db.target, 'a CSV import')
}

/** An index by an operator class of the source's own (in public), with its operators' commutators. */
const OPERATOR_CLASS = `
  CREATE FUNCTION public.reverse_cmp(a int4, b int4) RETURNS int4 LANGUAGE sql IMMUTABLE
    RETURN pg_catalog.btint4cmp(b, a);
  CREATE FUNCTION public.reverse_lt(a int4, b int4) RETURNS bool LANGUAGE sql IMMUTABLE
    RETURN a OPERATOR(pg_catalog.>) b;
  CREATE FUNCTION public.reverse_gt(a int4, b int4) RETURNS bool LANGUAGE sql IMMUTABLE
    RETURN a OPERATOR(pg_catalog.<) b;
  CREATE OPERATOR public.<<< (LEFTARG = int4, RIGHTARG = int4, FUNCTION = public.reverse_lt, COMMUTATOR = >>>);
  CREATE OPERATOR public.>>> (LEFTARG = int4, RIGHTARG = int4, FUNCTION = public.reverse_gt, COMMUTATOR = <<<);
  CREATE OPERATOR CLASS public.int4_reversed FOR TYPE int4 USING btree AS
    OPERATOR 1 public.<<<, OPERATOR 3 pg_catalog.=, OPERATOR 5 public.>>>,
    FUNCTION 1 public.reverse_cmp(int4, int4);
  CREATE TABLE public.ranked (n int4);
  CREATE INDEX ranked_reversed ON public.ranked (n public.int4_reversed);
  INSERT INTO public.ranked SELECT g FROM generate_series(1, 10) g;`

describe('functions and operators of another role in the source’s public schema', () => {
  // The source is read in a read-only transaction, where the planted functions' nextval fails: a call
  // fails the run.
  test('are not called by a run with objects: all and an operator class of the source', async () => {
    const db = await databasePair(servers, 'hostile_public_source')
    try {
      await db.source.sql(SOURCE + OPERATOR_CLASS)
      await plant(db.source, 'builtin')
      await plant(db.source, 'typed')
      const config = testConfig(
        { source: db.source.url, target: db.target.url },
        {
          yaml: {
            objects: 'all',
            tables: ['public.parent', 'public.item', 'public.item_log', 'public.events', 'public.ranked'],
          },
        },
      )
      succeeded(await new TransferJob(config, { notifier: null }).run())
      for (const table of ['public.item', 'public.ranked']) await assertSameRows(db, table)
      assert.deepEqual((await hijacked(db.source)).calls, {})
    } finally {
      await db.drop()
    }
  })
})

describe('functions and operators of another role in the target’s public schema', () => {
  test('are neither used by what a run creates nor called, run as a superuser', async () => {
    const db = await databasePair(servers, 'hostile_public')
    try {
      await runsUntouched(db, db.target.url)
      // The source's owners and privileges given on the target (its owner is this superuser too).
      await db.source.sql(`GRANT SELECT ON public.item_view TO PUBLIC;
        GRANT EXECUTE ON FUNCTION public.tagged(text, int4) TO PUBLIC`)
      succeeded(
        await run(db, db.target.url, 'replace', 'all', 60_000, { owners: 'keep', privileges: 'keep' }),
      )
      await assertUntouched(db.target, 'owners: keep and privileges: keep')
    } finally {
      await db.drop()
    }
  })

  test('are neither used by what a run creates nor called, run as the owner of the tables', async () => {
    const db = await databasePair(servers, 'hostile_public_owner')
    try {
      await db.target.sql(`GRANT CREATE ON DATABASE ${pg.escapeIdentifier(db.target.name)} TO ${owner};
        GRANT CREATE ON SCHEMA public TO ${owner}`)
      await runsUntouched(db, urlAs(db.target, owner))
    } finally {
      await db.drop()
    }
  })

  // Not guaranteed yet (docs/security.md): a function whose body is looked up when it runs (plpgsql, or SQL
  // without BEGIN ATOMIC), called by a check during the load, runs under the session's search_path public.
  test(
    'are not called by a copied function a check calls during the load',
    { todo: 'the load runs under search_path public: see docs/security.md, Not guaranteed yet' },
    async () => {
      const db = await databasePair(servers, 'hostile_public_load')
      try {
        await db.source.sql(`
          CREATE FUNCTION public.valid(t text) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT $1 || 1 <> '' $$;
          CREATE TABLE public.checked (t text CHECK (public.valid(t)));
          INSERT INTO public.checked SELECT 'v' || g FROM generate_series(1, 10) g;`)
        await plant(db.target, 'builtin')
        for (let run = 0; run < 2; run++) {
          const config = testConfig(
            { source: db.source.url, target: db.target.url },
            { yaml: { tables: ['public.checked'] } },
          )
          succeeded(await new TransferJob(config, { notifier: null }).run())
        }
        await assertUntouched(db.target, 'a replace whose check calls a copied function')
      } finally {
        await db.drop()
      }
    },
  )
})
