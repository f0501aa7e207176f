import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { runCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog } from '../helpers/logs.js'
import { databasePair } from '../helpers/database-pair.js'
import { type TestDatabase, testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

async function assertSameRows(source: TestDatabase, target: TestDatabase, table: string): Promise<void> {
  const [expected, actual] = await Promise.all([
    fingerprint(source.url, table),
    fingerprint(target.url, table),
  ])
  assert.ok(expected.rows > 0 || table.includes('empty'), `${table} has rows on the source`)
  assert.deepEqual(actual, expected, `${table}: target rows differ from the source`)
}

/** Values that COPY's text and binary forms must carry unchanged. */
const AWKWARD_VALUES = `
  CREATE TABLE public.values_all (
    id          int PRIMARY KEY,
    t           text,
    vc          varchar(20),
    ch          char(5),
    n           numeric,
    n2          numeric(12, 2),
    f4          real,
    f8          double precision,
    i2          smallint,
    i8          bigint,
    b           boolean,
    bin         bytea,
    j           json,
    jb          jsonb,
    ts          timestamp,
    tstz        timestamptz,
    d           date,
    tm          time,
    iv          interval,
    u           uuid,
    ip          inet,
    arr_int     int[],
    arr_text    text[],
    arr_2d      int[][],
    money_col   money,
    bits        bit varying(16),
    pt          point
  );
  INSERT INTO public.values_all VALUES
    (1, E'tab\\there\\nnew line\\rcarriage \\\\ backslash "double" ''single'', comma', 'x', 'ab', 123456789012345678901234567890.123456789, 12.34,
        3.14159, 2.718281828459045, -32768, 9223372036854775807, true, '\\x00ff5c0a0d09', '{"a": [1, 2, {"b": null}]}', '{"z": 1, "a": "ü"}',
        '2024-02-29 23:59:59.999999', '2024-06-01 12:00:00+02', '2000-01-01', '23:59:59', '1 year 2 mons 3 days 04:05:06.7',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '{1,NULL,3}', '{"a b",NULL,"c,d","e\\"f","","NULL"}', '{{1,2},{3,4}}', 12.5, B'1011', '(1.5,-2)'),
    (2, NULL, NULL, NULL, 'NaN', NULL, 'Infinity', '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, 'infinity', '-infinity', 'infinity', NULL, NULL,
        NULL, NULL, '{}', '{}', NULL, NULL, NULL, NULL),
    (3, '', '', '', -0.0000001, -0.01, '-0', 'NaN', 0, -1, false, '', 'null', '[]', '1999-12-31 00:00:00', '1970-01-01 00:00:00+00', '0044-03-15 BC', '00:00:00',
        '-1 days', '00000000-0000-0000-0000-000000000000', '::1', '{-1}', '{""}', '{{NULL}}', -0.01, B'', '(0,0)'),
    (4, 'unicode: ñ 日本語 🚀 Ελληνικά العربية', 'ü', 'é', 1e-30, 99999999.99, 1.17549435e-38, 1e308, 1, 1, NULL, '\\x', '"\\u00e9"', '{"emoji": "🚀"}',
        '2038-01-19 03:14:08', '2262-04-11 23:47:16+00', '5874897-12-31', '12:34:56.123456', '178000000 years', NULL, '2001:db8::/32', NULL, '{"\\\\"}', NULL, NULL, NULL, NULL);
  INSERT INTO public.values_all (id, t, bin)
    SELECT 100 + g, repeat(chr(32 + g % 90), g % 50) || E'\\t' || g, decode(lpad(to_hex(g), 8, '0'), 'hex') FROM generate_series(1, 5000) g;
`

describe('a run copies tables exactly', () => {
  for (const format of ['binary', 'text'] as const) {
    test(`every value arrives byte for byte (${format} COPY)`, async () => {
      const db = await databasePair(servers, `values_${format}`)
      try {
        await db.source.sql(AWKWARD_VALUES)
        const report = await new TransferJob(
          testConfig({ source: db.source.url, target: db.target.url, format }),
          { notifier: null },
        ).run()
        assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
        assert.equal(report.tables[0]!.format, format)
        assert.equal(report.tables[0]!.rows, 5004)
        await assertSameRows(db.source, db.target, 'public.values_all')
      } finally {
        await db.drop()
      }
    })
  }

  test('mixed-case, spaced, quoted and unicode identifiers are copied under their exact names', async () => {
    const db = await databasePair(servers, 'idents')
    try {
      await db.source.sql(`
        CREATE SCHEMA "Sales Dept";
        CREATE TABLE "Sales Dept"."Order ""Items""" ("Id" int PRIMARY KEY, "unit price" numeric, "select" text, "größe" text);
        INSERT INTO "Sales Dept"."Order ""Items""" SELECT g, g / 3.0, 'kw' || g, 'ß' || g FROM generate_series(1, 1000) g;
        CREATE TABLE public."MixedCase" ("ABC" int, abc int);
        INSERT INTO public."MixedCase" SELECT g, -g FROM generate_series(1, 10) g;
      `)
      const report = await new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
        notifier: null,
      }).run()
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(report.tables.map((t) => t.table).sort(), [
        '"Sales Dept"."Order ""Items"""',
        'public."MixedCase"',
      ])
      await assertSameRows(db.source, db.target, '"Sales Dept"."Order ""Items"""')
      await assertSameRows(db.source, db.target, 'public."MixedCase"')
    } finally {
      await db.drop()
    }
  })
})

describe('tables the target lacks', () => {
  test('are created with their columns, defaults, NOT NULL and primary key; sequences end as on the source; they are analysed', async () => {
    const db = await databasePair(servers, 'created')
    try {
      await db.source.sql(`
        CREATE TABLE public.orders (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'new', total numeric(10, 2), placed date DEFAULT CURRENT_DATE);
        INSERT INTO public.orders (total) SELECT g FROM generate_series(1, 500) g;
        SELECT setval('public.orders_id_seq', 9000, false);
        CREATE INDEX orders_placed ON public.orders (placed);
      `)
      const report = await new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
        notifier: null,
      }).run()
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.equal(report.tables[0]!.created, true)
      const describeTable = `
        SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS default
          FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = 'public.orders'::regclass AND a.attnum > 0 ORDER BY a.attnum`
      assert.deepEqual(await db.target.sql(describeTable), await db.source.sql(describeTable))
      const indexes = `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def, indisprimary FROM pg_index WHERE indrelid = 'public.orders'::regclass ORDER BY 1`
      assert.deepEqual(await db.target.sql(indexes), await db.source.sql(indexes))
      const sequence = `SELECT last_value::text, is_called FROM public.orders_id_seq`
      assert.deepEqual(await db.target.sql(sequence), [{ last_value: '9000', is_called: false }])
      const [analysed] = await db.target.sql<{ n: string }>(
        `SELECT reltuples::bigint::text AS n FROM pg_class WHERE oid = 'public.orders'::regclass`,
      )
      assert.equal(analysed!.n, '500', 'ANALYZE ran: the planner knows the row count')
    } finally {
      await db.drop()
    }
  })
})

describe('load modes', () => {
  test('replace leaves the target table identical to the source even when it held other rows', async () => {
    const db = await databasePair(servers, 'replace')
    try {
      await db.source.sql(
        `CREATE TABLE public.items (id int PRIMARY KEY, name text); INSERT INTO public.items SELECT g, 'new ' || g FROM generate_series(1, 3000) g;`,
      )
      await db.target.sql(
        `CREATE TABLE public.items (id int PRIMARY KEY, name text); INSERT INTO public.items SELECT g, 'old ' || g FROM generate_series(2000, 9000) g;`,
      )
      const report = await new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
        notifier: null,
      }).run()
      assert.equal(report.status, 'succeeded')
      assert.equal(report.tables[0]!.created, false)
      await assertSameRows(db.source, db.target, 'public.items')
    } finally {
      await db.drop()
    }
  })

  test('append adds the source rows to what the target table held', async () => {
    const db = await databasePair(servers, 'append')
    try {
      await db.source.sql(
        `CREATE TABLE public.events (id int, what text); INSERT INTO public.events SELECT g, 'source' FROM generate_series(1, 500) g;`,
      )
      await db.target.sql(
        `CREATE TABLE public.events (id int, what text); INSERT INTO public.events SELECT g, 'kept' FROM generate_series(1, 200) g;`,
      )
      const report = await new TransferJob(
        testConfig({ source: db.source.url, target: db.target.url, mode: 'append' }),
        { notifier: null },
      ).run()
      assert.equal(report.status, 'succeeded')
      const counts = await db.target.sql<{ what: string; n: string }>(
        `SELECT what, count(*)::text AS n FROM public.events GROUP BY 1 ORDER BY 1`,
      )
      assert.deepEqual(counts, [
        { what: 'kept', n: '200' },
        { what: 'source', n: '500' },
      ])
    } finally {
      await db.drop()
    }
  })

  test('a where entry copies the matching rows, and a query entry fills the table named by into', async () => {
    const db = await databasePair(servers, 'subset')
    try {
      await db.source.sql(`
        CREATE SCHEMA sales;
        CREATE TABLE sales.stores_sales (id int PRIMARY KEY, region text, amount numeric(10,2));
        INSERT INTO sales.stores_sales SELECT g, (ARRAY['BR','PT','US'])[1 + g % 3], g * 1.5 FROM generate_series(1, 3000) g;
      `)
      const dir = tempDir()
      const config = testConfig({ source: db.source.url, target: db.target.url }, { dir })
      config.tables = [
        { name: 'sales.stores_sales', where: "region = 'PT'" },
        {
          query: "SELECT id, amount * 2 AS doubled, region FROM sales.stores_sales WHERE region = 'BR'",
          into: 'reporting.stores_br',
        },
      ]
      const report = await new TransferJob(config, { notifier: null }).run()
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      const [pt] = await db.target.sql<{ n: string; other: string }>(
        `SELECT count(*)::text AS n, count(*) FILTER (WHERE region <> 'PT')::text AS other FROM sales.stores_sales`,
      )
      assert.deepEqual(pt, { n: '1000', other: '0' })
      const [br] = await db.target.sql<{ n: string; sum: string }>(
        `SELECT count(*)::text AS n, sum(doubled)::text AS sum FROM reporting.stores_br`,
      )
      const [expected] = await db.source.sql<{ n: string; sum: string }>(
        `SELECT count(*)::text AS n, sum(amount * 2)::text AS sum FROM sales.stores_sales WHERE region = 'BR'`,
      )
      assert.deepEqual(br, expected)
      assert.equal(report.tables.find((t) => t.table === 'reporting.stores_br')?.source, 'query')
    } finally {
      await db.drop()
    }
  })
})

describe('failures', () => {
  test('an unknown table exits 2, writes nothing to the target, and the log says which name', async () => {
    const db = await databasePair(servers, 'unknown')
    try {
      await db.source.sql(
        `CREATE SCHEMA sales; CREATE TABLE sales.orders (id int); CREATE TABLE sales."Stores" (id int);`,
      )
      const dir = tempDir()
      const result = await runCli(
        [
          'run',
          '--source',
          db.source.url,
          '--target',
          db.target.url,
          '--table',
          'sales.orders',
          '--table',
          'sales.stores',
          '--log-dir',
          path.join(dir, 'logs'),
        ],
        { cwd: dir },
      )
      assert.equal(result.code, 2, result.stderr)
      assert.match(
        result.stderr,
        /tables\.1: table sales\.stores does not exist on the source \(did you mean sales\."Stores"\?\)/,
      )
      const tables = await db.target.sql(
        `SELECT relname FROM pg_class WHERE relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace)`,
      )
      assert.deepEqual(tables, [], 'nothing was created on the target')
      const finished = readRunLog(path.join(dir, 'logs')).find((r) => r.event === 'run.finished')
      assert.equal(finished?.status, 'failed')
      assert.equal((finished?.error as { code: string }).code, 'TABLE_NOT_FOUND')
    } finally {
      await db.drop()
    }
  })

  test('a table that fails keeps its old rows, the other tables copy, the exit code is 1 and the log names table and reason', async () => {
    const db = await databasePair(servers, 'partial')
    try {
      await db.source.sql(`
        CREATE TABLE public.good (id int PRIMARY KEY, v text); INSERT INTO public.good SELECT g, 'v' || g FROM generate_series(1, 2000) g;
        CREATE TABLE public.bad (id int PRIMARY KEY, total numeric(12,2)); INSERT INTO public.bad SELECT g, g + 0.25 FROM generate_series(1, 2000) g;
      `)
      await db.target.sql(
        `CREATE TABLE public.bad (id int PRIMARY KEY, total integer); INSERT INTO public.bad SELECT g, g FROM generate_series(1, 10) g;`,
      )
      const before = await fingerprint(db.target.url, 'public.bad')
      const dir = tempDir()
      const result = await runCli(
        ['run', '--source', db.source.url, '--target', db.target.url, '--log-dir', path.join(dir, 'logs')],
        { cwd: dir },
      )
      assert.equal(result.code, 1, result.stderr)
      assert.deepEqual(
        await fingerprint(db.target.url, 'public.bad'),
        before,
        'the failed table kept exactly its old rows',
      )
      await assertSameRows(db.source, db.target, 'public.good')
      const failed = readRunLog(path.join(dir, 'logs')).find((r) => r.event === 'table.failed')
      assert.equal(failed?.table, 'public.bad')
      assert.match(
        String((failed?.error as { message: string }).message),
        /column total is integer on the target but numeric\(12,2\) on the source/,
      )
      assert.match(result.stderr, /FAILED.*public\.bad/)
    } finally {
      await db.drop()
    }
  })

  test('an error the source raises mid-stream fails the table with its SQLSTATE, old rows kept, the next table copied', async () => {
    const db = await databasePair(servers, 'sourceerror')
    try {
      await db.source.sql(`
        CREATE TABLE public.nums (id int PRIMARY KEY, v int); INSERT INTO public.nums SELECT g, g FROM generate_series(1, 100000) g;
        CREATE TABLE public.after (id int); INSERT INTO public.after SELECT generate_series(1, 10);
      `)
      await db.target.sql(
        `CREATE TABLE public.nums (id int PRIMARY KEY, v int); INSERT INTO public.nums VALUES (7, 7);`,
      )
      const before = await fingerprint(db.target.url, 'public.nums')
      const config = testConfig({ source: db.source.url, target: db.target.url, jobs: 1 })
      // Division by zero at row 60,000: the source's ErrorResponse arrives in the middle of its COPY data.
      config.tables = [{ name: 'public.nums', where: '1 / (id - 60000) IS NOT NULL' }, 'public.after']
      const report = await new TransferJob(config, { notifier: null }).run()
      const nums = report.tables.find((t) => t.table === 'public.nums')!
      assert.equal(nums.status, 'failed')
      assert.equal(nums.error?.sqlState, '22012')
      assert.match(nums.error?.message ?? '', /^source failed during COPY: division by zero/)
      assert.deepEqual(await fingerprint(db.target.url, 'public.nums'), before)
      assert.equal(report.tables.find((t) => t.table === 'public.after')?.status, 'copied')
    } finally {
      await db.drop()
    }
  })

  test('a COPY that the target rejects mid-stream rolls back: the table keeps its old rows', async () => {
    const db = await databasePair(servers, 'midstream')
    try {
      // The target's check constraint rejects a row far into the stream, after much data has been sent.
      await db.source.sql(
        `CREATE TABLE public.nums (id int PRIMARY KEY, v int); INSERT INTO public.nums SELECT g, g FROM generate_series(1, 200000) g;`,
      )
      await db.target.sql(
        `CREATE TABLE public.nums (id int PRIMARY KEY, v int CHECK (v < 150000)); INSERT INTO public.nums VALUES (1, -1), (2, -2);`,
      )
      const before = await fingerprint(db.target.url, 'public.nums')
      const report = await new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
        notifier: null,
      }).run()
      assert.equal(report.status, 'failed')
      assert.equal(report.tables[0]!.error?.sqlState, '23514')
      assert.deepEqual(await fingerprint(db.target.url, 'public.nums'), before)
    } finally {
      await db.drop()
    }
  })
})
