import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog } from '../helpers/logs.js'
import { databasePair } from '../helpers/database-pair.js'
import { type TestDatabase, testServers } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** The column names and types of a table, as the catalog has them. */
async function columnsOf(db: TestDatabase, table: string): Promise<string[]> {
  const rows = await db.sql<{ c: string }>(
    `SELECT attname || ' ' || format_type(atttypid, atttypmod) AS c FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  )
  return rows.map((r) => r.c)
}

describe('what the target lacks is created, or the table fails with a message that names why', () => {
  test('a table whose extension the target cannot install fails naming the extension; the others copy', async (t) => {
    const db = await databasePair(servers, 'ext_missing')
    try {
      const [{ v }] = (await db.source.sql<{ v: string }>(`SHOW server_version_num`)) as [{ v: string }]
      if (Number(v) < 180000) {
        t.skip(
          'needs a PostgreSQL 18 source (extension_control_path) to install an extension the target lacks',
        )
        return
      }
      // An extension that only the source's server can install: its files live in a folder that only the
      // source's sessions search.
      const dir = tempDir('tablehaul-ext-')
      mkdirSync(path.join(dir, 'extension'))
      writeFileSync(
        path.join(dir, 'extension', 'fake_units.control'),
        `comment = 'only the source has it'\ndefault_version = '1.0'\nrelocatable = true\n`,
      )
      writeFileSync(
        path.join(dir, 'extension', 'fake_units--1.0.sql'),
        `CREATE DOMAIN meters AS numeric CHECK (VALUE >= 0);\n`,
      )
      for (const p of [dir, path.join(dir, 'extension')]) chmodSync(p, 0o755)
      await db.source.sql(`
        SET extension_control_path = '$system:${dir}';
        CREATE EXTENSION fake_units SCHEMA public;
        CREATE TABLE public.walks (id int PRIMARY KEY, length public.meters);
        INSERT INTO public.walks VALUES (1, 2.5);
        CREATE TABLE public.plain (id int PRIMARY KEY);
        INSERT INTO public.plain SELECT generate_series(1, 10);
      `)
      const report = await new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
        notifier: null,
      }).run()
      const walks = report.tables.find((table) => table.table === 'public.walks')
      assert.equal(walks?.status, 'failed')
      assert.equal(walks?.error?.code, 'SCHEMA_FAILED')
      assert.equal(
        walks?.error?.message,
        'cannot create public.walks on the target: it needs extension fake_units, which could not be created: ' +
          'extension fake_units (version 1.0 on the source) is not available on the target server',
      )
      assert.match(
        walks?.error?.hint ?? '',
        /install the fake_units extension's files on the target's server/,
      )
      assert.equal(report.tables.find((table) => table.table === 'public.plain')?.status, 'copied')
      assert.deepEqual(await db.target.sql(`SELECT to_regclass('public.walks') AS t`), [{ t: null }])
    } finally {
      await db.drop()
    }
  })

  test('a table selected alone brings the types, functions and sequences it uses, and nothing else', async () => {
    const db = await databasePair(servers, 'closure')
    try {
      await db.source.sql(`
        CREATE SCHEMA shop;
        CREATE TYPE shop.size AS ENUM ('s', 'm', 'l');
        CREATE DOMAIN shop.price AS numeric(10, 2) CHECK (VALUE >= 0);
        CREATE TYPE shop.unused AS ENUM ('x');
        CREATE SEQUENCE shop.sku_seq START 1000;
        CREATE SEQUENCE shop.other_seq;
        CREATE FUNCTION shop.next_sku() RETURNS text LANGUAGE sql AS $$ SELECT 'SKU' || nextval('shop.sku_seq') $$;
        CREATE FUNCTION shop.unused_fn() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
        CREATE TABLE shop.brands (id int PRIMARY KEY);
        CREATE TABLE shop.items (sku text DEFAULT shop.next_sku(), size shop.size, price shop.price,
                                 brand_id int REFERENCES shop.brands);
        INSERT INTO shop.brands VALUES (1);
        INSERT INTO shop.items (size, price, brand_id) VALUES ('m', 9.99, 1), ('l', 0, 1);
      `)
      const config = testConfig({ source: db.source.url, target: db.target.url })
      config.tables = ['shop.items']
      const report = await new TransferJob(config, { notifier: null }).run()
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(report.tables[0]!.warnings, [
        'foreign key items_brand_id_fkey was not created: it references shop.brands that this run does not copy',
      ])
      const objects = await db.target.sql<{ o: string }>(`
        SELECT 'type ' || typname AS o FROM pg_type WHERE typnamespace = 'shop'::regnamespace AND typtype IN ('e', 'd')
        UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'shop'::regnamespace
        UNION ALL SELECT 'relation ' || relname FROM pg_class WHERE relnamespace = 'shop'::regnamespace AND relkind IN ('r', 'S')
        ORDER BY 1`)
      assert.deepEqual(
        objects.map((r) => r.o),
        ['function next_sku', 'relation items', 'relation sku_seq', 'type price', 'type size'],
      )
      const [state] = await db.target.sql<{ last_value: string }>(`SELECT last_value::text FROM shop.sku_seq`)
      assert.equal(state!.last_value, '1001', 'the sequence a default uses arrives in its source state')
    } finally {
      await db.drop()
    }
  })

  test('a foreign key of created tables waits while one of them did not get its data, and the run that copies it creates the key, validated', async () => {
    const db = await databasePair(servers, 'fk_waits')
    try {
      await db.source.sql(`
        CREATE TABLE public.brands (id int PRIMARY KEY);
        CREATE TABLE public.items (id int PRIMARY KEY, brand_id int CONSTRAINT items_brand_fk REFERENCES public.brands);
        INSERT INTO public.brands SELECT generate_series(1, 50);
        INSERT INTO public.items SELECT g, g % 50 + 1 FROM generate_series(1, 500) g;
      `)
      const config = testConfig({ source: db.source.url, target: db.target.url })
      // brands fails mid-stream (a division by zero on its last row): created empty, its rows never arrive.
      config.tables = [{ name: 'public.brands', where: '1 / (50 - id) > -1000' }, 'public.items']
      const first = await new TransferJob(config, { notifier: null }).run()
      assert.equal(first.tables.find((t) => t.table === 'public.brands')?.status, 'failed')
      const items = first.tables.find((t) => t.table === 'public.items')!
      assert.equal(items.status, 'copied')
      assert.deepEqual(items.warnings, [
        'foreign key items_brand_fk is not created yet: public.brands did not get its data in this run; the run that copies it creates the key (it is kept in tablehaul.pending_foreign_keys)',
      ])
      const keyState = `SELECT (SELECT array_agg(conname::text || ' ' || convalidated) FROM pg_constraint WHERE contype = 'f') AS keys,
                               (SELECT array_agg(name) FROM tablehaul.pending_foreign_keys) AS pending`
      assert.deepEqual(await db.target.sql(keyState), [{ keys: null, pending: ['items_brand_fk'] }])
      const log = readRunLog(config.log.dir)
      assert.match(
        String(log.find((r) => r.event === 'table.note')?.message),
        /items_brand_fk is not created yet/,
      )
      assert.match(
        readFileSync(path.join(config.log.dir, 'tablehaul.log'), 'utf8'),
        /public\.items NOTE foreign key items_brand_fk/,
      )

      config.tables = ['public.brands']
      const second = await new TransferJob(config, { notifier: null }).run()
      assert.equal(second.status, 'succeeded', JSON.stringify(second.tables))
      assert.deepEqual(await db.target.sql(keyState), [{ keys: ['items_brand_fk true'], pending: null }])
    } finally {
      await db.drop()
    }
  })

  test('a new partition of a partitioned table the target already has is attached and gets its keys and indexes', async () => {
    const db = await databasePair(servers, 'new_partition')
    try {
      const parent = `
        CREATE TABLE public.readings (id int, at date, v numeric CHECK (v >= 0), PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE INDEX readings_v ON public.readings (v);
        CREATE TABLE public.readings_2024 PARTITION OF public.readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`
      await db.source.sql(`${parent}
        CREATE TABLE public.readings_2025 PARTITION OF public.readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        INSERT INTO public.readings SELECT g, date '2024-01-01' + g % 700, g FROM generate_series(1, 1000) g;`)
      await db.target.sql(parent)
      const report = await new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
        notifier: null,
      }).run()
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(report.tables.map((t) => [t.table, t.created, t.warnings]).sort(), [
        ['public.readings_2024', false, undefined],
        ['public.readings_2025', true, undefined],
      ])
      const comparison = await compareDatabases(db.source.url, db.target.url)
      assert.deepEqual(comparison.differences, [])
    } finally {
      await db.drop()
    }
  })

  test('an existing table that does not match fails with one message naming the columns and both types; nothing changes', async () => {
    const db = await databasePair(servers, 'mismatch')
    try {
      await db.source.sql(`
        CREATE TABLE public.orders (id int PRIMARY KEY, total numeric(12,2), note text, placed timestamptz);
        INSERT INTO public.orders SELECT g, g * 1.25, 'n' || g, now() FROM generate_series(1, 100) g;
      `)
      await db.target.sql(`
        CREATE TABLE public.orders (id int PRIMARY KEY, total integer, note varchar(5));
        INSERT INTO public.orders VALUES (1, 1, 'old');
      `)
      const [beforeRows, beforeColumns] = [
        await fingerprint(db.target.url, 'public.orders'),
        await columnsOf(db.target, 'public.orders'),
      ]
      const report = await new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
        notifier: null,
      }).run()
      assert.equal(report.status, 'failed')
      assert.equal(report.tables[0]!.error?.code, 'TABLE_INCOMPATIBLE')
      assert.equal(
        report.tables[0]!.error?.message,
        'target table public.orders does not match the source: ' +
          'column total is integer on the target but numeric(12,2) on the source; ' +
          'column note is character varying(5) on the target but text on the source; ' +
          'the target has no column placed (timestamp with time zone on the source)',
      )
      assert.deepEqual(await fingerprint(db.target.url, 'public.orders'), beforeRows)
      assert.deepEqual(await columnsOf(db.target, 'public.orders'), beforeColumns)
    } finally {
      await db.drop()
    }
  })

  test('mode: recreate rebuilds the table from the source definition and reports what the drop took with it', async () => {
    const db = await databasePair(servers, 'recreate')
    try {
      await db.source.sql(`
        CREATE TYPE public.state AS ENUM ('new', 'done');
        CREATE TABLE public.items (id serial PRIMARY KEY, name text NOT NULL CHECK (name <> ''), state public.state DEFAULT 'new',
                                   qty int, total int GENERATED ALWAYS AS (qty * 2) STORED);
        CREATE INDEX items_name ON public.items (lower(name));
        COMMENT ON TABLE public.items IS 'from the source';
        INSERT INTO public.items (name, qty) SELECT 'item ' || g, g FROM generate_series(1, 500) g;
        SELECT setval('public.items_id_seq', 1000);
      `)
      await db.target.sql(`
        CREATE TABLE public.items (id int, name varchar(3), legacy boolean);
        INSERT INTO public.items VALUES (1, 'old', true);
        CREATE VIEW public.items_view AS SELECT id, name FROM public.items;
      `)
      const report = await new TransferJob(
        testConfig({ source: db.source.url, target: db.target.url, mode: 'recreate' }),
        { notifier: null },
      ).run()
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(report.tables[0]!.warnings, [
        'dropping the old table also dropped: view public.items_view',
      ])
      const comparison = await compareDatabases(db.source.url, db.target.url)
      assert.deepEqual(comparison.differences, [])
      assert.ok(comparison.objects >= 10, `${comparison.objects} objects compared`)
    } finally {
      await db.drop()
    }
  })
})
