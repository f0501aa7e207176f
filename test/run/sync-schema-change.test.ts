import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { assertSameRows } from '../helpers/fingerprint.js'
import { copied, notes, runBetween as run } from '../helpers/sync-report.js'
import { databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'

// A nightly sync after the source's table gained a column and had another widened: the table fails with
// its rows kept, and its error says how to bring the target table along without rebuilding it.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

describe('a sync after the source table gained and widened columns', () => {
  test('names the ALTER TABLE that lets the next sync go on, and that sync brings the rows', async () => {
    const db = await databasePair(servers, 'sync_schema_change')
    try {
      await db.source.sql(`
        CREATE TABLE public.customers (id int PRIMARY KEY, code varchar(10) NOT NULL, score int);
        INSERT INTO public.customers SELECT g, 'C' || g, g % 50 FROM generate_series(1, 500) g;`)
      assert.equal((await run(db, 'sync')).status, 'succeeded')
      await db.source.sql(`
        ALTER TABLE public.customers ADD COLUMN tier text DEFAULT 'std';
        ALTER TABLE public.customers ALTER COLUMN score TYPE bigint, ALTER COLUMN code TYPE text;
        UPDATE public.customers SET score = 5000000000 WHERE id = 1;`)
      const report = await run(db, 'sync')
      const table = report.tables.find((t) => t.table === 'public.customers')
      assert.equal(table?.status, 'failed')
      assert.equal(table.error?.code, 'TABLE_INCOMPATIBLE')
      const hint = table.error?.hint ?? ''
      const alter = /ALTER TABLE [^;]+/.exec(hint)?.[0]
      assert.equal(
        alter,
        'ALTER TABLE "public"."customers" ALTER COLUMN "code" TYPE text, ALTER COLUMN "score" TYPE bigint, ADD COLUMN "tier" text',
        hint,
      )
      await db.target.sql(alter!)
      copied(await run(db, 'sync'), 'public.customers')
      await assertSameRows(db, 'public.customers')
    } finally {
      await db.drop()
    }
  })

  test('after the source moved its key to another column, says how to let the table sync again', async () => {
    const db = await databasePair(servers, 'sync_key_moved')
    try {
      await db.source.sql(`
        CREATE TABLE public.customers (id int PRIMARY KEY, code text);
        INSERT INTO public.customers SELECT g, 'C' || g FROM generate_series(1, 500) g;`)
      assert.equal((await run(db, 'sync')).status, 'succeeded')
      await db.source.sql(
        `ALTER TABLE public.customers DROP CONSTRAINT customers_pkey, ADD PRIMARY KEY (code)`,
      )
      const report = await run(db, 'sync')
      assert.equal(copied(report, 'public.customers').mode, 'replace')
      const warning = report.warnings.find((w) => w.startsWith('public.customers'))
      const fix = /\(([^()]*CREATE UNIQUE INDEX[^;]*\("code"\))\)/.exec(warning ?? '')?.[1]
      assert.ok(fix, warning)
      assert.match(fix, /^ALTER TABLE "public"."customers" ALTER COLUMN "code" SET NOT NULL; /)
      await db.target.sql(fix)
      await db.source.sql(`UPDATE public.customers SET id = -id WHERE id <= 3`)
      const next = await run(db, 'sync')
      assert.ok(!next.warnings.some((w) => w.startsWith('public.customers')), next.warnings.join('\n'))
      assert.deepEqual(copied(next, 'public.customers').sync, {
        inserted: 0,
        updated: 3,
        deleted: 0,
        unchanged: 497,
      })
      await assertSameRows(db, 'public.customers')
    } finally {
      await db.drop()
    }
  })

  test('after the source renamed a column, names the RENAME COLUMN, which keeps what depends on it', async () => {
    const db = await databasePair(servers, 'sync_column_renamed')
    try {
      await db.source.sql(`
        CREATE TABLE public.cust (id int PRIMARY KEY, name text, note text);
        INSERT INTO public.cust SELECT g, 'c' || g, 'n' FROM generate_series(1, 200) g;`)
      assert.equal((await run(db, 'sync')).status, 'succeeded')
      await db.target.sql(`CREATE VIEW public.cust_names AS SELECT name FROM public.cust`)
      await db.source.sql(`ALTER TABLE public.cust RENAME COLUMN name TO full_name`)
      const failed = (await run(db, 'sync')).tables.find((t) => t.table === 'public.cust')
      const alter = /ALTER TABLE [^;]+/.exec(failed?.error?.hint ?? '')?.[0]
      assert.equal(
        alter,
        'ALTER TABLE "public"."cust" RENAME COLUMN "name" TO "full_name"',
        failed?.error?.hint,
      )
      await db.target.sql(alter!)
      await db.source.sql(`UPDATE public.cust SET full_name = 'renamed' WHERE id = 1`)
      copied(await run(db, 'sync'), 'public.cust')
      await assertSameRows(db, 'public.cust')
      const [first] = await db.target.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM public.cust_names WHERE name = 'renamed'`,
      )
      assert.equal(first?.n, 1)
    } finally {
      await db.drop()
    }
  })

  test('after the source dropped a column, names the DROP COLUMN for the target', async () => {
    const db = await databasePair(servers, 'sync_column_dropped')
    try {
      await db.source.sql(`
        CREATE TABLE public.cust (id int PRIMARY KEY, name text, note text);
        INSERT INTO public.cust SELECT g, 'c' || g, 'n' FROM generate_series(1, 200) g;`)
      assert.equal((await run(db, 'sync')).status, 'succeeded')
      await db.source.sql(`ALTER TABLE public.cust DROP COLUMN note`)
      const table = copied(await run(db, 'sync'), 'public.cust')
      assert.match(notes(table), /set note to its default in 200 row\(s\)/)
      const drop = /ALTER TABLE "public"\."cust" DROP COLUMN "note"/.exec(notes(table))?.[0]
      assert.ok(drop, notes(table))
      await db.target.sql(drop)
      await assertSameRows(db, 'public.cust')
    } finally {
      await db.drop()
    }
  })
})
