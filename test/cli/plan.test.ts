import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { TransferPlan } from '../../src/steps/plan/plan-transfer.js'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { type DatabasePair, catalogState, databasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const SALES = `
  CREATE SCHEMA sales;
  CREATE TABLE sales.orders (id int PRIMARY KEY, total numeric(12,2), note text);
  INSERT INTO sales.orders SELECT g, g * 1.5, 'order ' || g FROM generate_series(1, 20000) g;
  CREATE TABLE sales.stores (id serial PRIMARY KEY, name text);
  INSERT INTO sales.stores (name) SELECT 'store ' || g FROM generate_series(1, 50) g;
  CREATE TABLE sales.returns (id int, amount numeric(12,2));
  INSERT INTO sales.returns SELECT g, g FROM generate_series(1, 300) g;
  ANALYZE;
`

function planCli(db: DatabasePair, cwd: string, ...args: string[]) {
  return runCli(['plan', '--source', db.source.url, '--target', db.target.url, ...args], { cwd })
}

describe('tablehaul plan', () => {
  test('shows every table with its estimates, target state, action, format and order, and writes nothing', async () => {
    const db = await databasePair(servers, 'plan_nothing')
    try {
      await db.source.sql(SALES)
      // One table exists and fits (with a wider type, so COPY goes as text), one exists and does not
      // (integer cannot take numeric(12,2)), one is missing.
      await db.target.sql(`
        CREATE SCHEMA sales;
        CREATE TABLE sales.orders (id int PRIMARY KEY, total numeric(14,2), note text);
        INSERT INTO sales.orders VALUES (1, 9.99, 'old');
        CREATE TABLE sales.returns (id int, amount integer);
        INSERT INTO sales.returns VALUES (7, 7);
      `)
      const before = await catalogState(db.target)
      const rowsBefore = await fingerprint(db.target.url, 'sales.orders')
      const dir = tempDir()
      const result = await planCli(db, dir, '--table', 'sales.*')

      assert.equal(result.code, 1, 'an incompatible target table makes the plan fail')
      const lines = result.stdout.split('\n')
      const line = (table: string) => lines.find((l) => l.includes(` ${table} `)) ?? ''
      assert.match(
        line('sales.orders'),
        /^\s+1\s+sales\.orders\s+20,000\s+\S+ [kM]B\s+replace\s+compatible\s+empty, load\s+text$/,
      )
      assert.match(line('sales.stores'), /\s50\s.*replace\s+missing\s+create, load\s+binary$/)
      assert.match(line('sales.returns'), /incompatible\s+none \(would fail\)/)
      assert.match(
        result.stdout,
        /sales\.returns: target table sales\.returns does not match the source: column amount is integer on the target but numeric\(12,2\) on the source; use mode: recreate/,
      )
      // The figures are those of the two tables that could be copied, not of all three.
      assert.match(
        result.stdout,
        /NOT READY {2}1 of 3 tables could not be copied; the other 2 could \(~20,050 rows, /,
      )
      assert.match(result.stdout, /What to do: /)

      assert.deepEqual(await catalogState(db.target), before, 'the target catalog is unchanged')
      assert.deepEqual(await fingerprint(db.target.url, 'sales.orders'), rowsBefore)
      assert.ok(!existsSync(path.join(dir, 'logs')), 'no log folder was written')
    } finally {
      await db.drop()
    }
  })

  test('tables the source never analysed count as rows not known in the totals, not as none', async () => {
    const db = await databasePair(servers, 'plan_unanalysed')
    try {
      await db.source.sql(`
        CREATE TABLE public.events (id bigserial PRIMARY KEY, kind text);
        INSERT INTO public.events (kind) SELECT 'k' FROM generate_series(1, 5000) g;`)
      const result = await planCli(db, tempDir(), '--table', 'public.events')
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /\s+1\s+public\.events\s+\?\s/)
      assert.doesNotMatch(result.stdout, /~0 rows/)
      assert.match(
        result.stdout,
        /a run would copy 1 table \(rows not known: 1 table not analysed on the source, ~\S+ [kM]B\)/,
      )
      await db.source.sql(`
        CREATE TABLE public.kinds (id int PRIMARY KEY);
        INSERT INTO public.kinds SELECT g FROM generate_series(1, 30) g;
        ANALYZE public.kinds;`)
      const both = await planCli(db, tempDir(), '--table', 'public.*')
      assert.match(
        both.stdout,
        /a run would copy 2 tables \(~30 rows and 1 table not analysed on the source, ~/,
      )
    } finally {
      await db.drop()
    }
  })

  test('exits 0 when every table can be copied, and --json gives the same plan to programs', async () => {
    const db = await databasePair(servers, 'plan_json')
    try {
      await db.source.sql(SALES)
      const result = await planCli(db, tempDir(), '--exclude', 'sales.returns', '--json', '--jobs', '2')
      assert.equal(result.code, 0, result.stderr)
      const plan = JSON.parse(result.stdout) as TransferPlan
      assert.equal(plan.runnable, true)
      assert.equal(plan.jobs, 2)
      assert.deepEqual(
        plan.tables.map((t) => [t.order, t.table, t.targetState, t.mode, t.parts]),
        [
          [1, 'sales.orders', 'missing', 'replace', 1],
          [2, 'sales.stores', 'missing', 'replace', 1],
        ],
      )
      assert.equal(plan.tables[0]!.estimatedRows, 20000)
      assert.ok(plan.tables[0]!.estimatedBytes > plan.tables[1]!.estimatedBytes, 'largest first')
      assert.ok(
        !plan.target.includes('tablehaul-test-password') && !plan.source.includes('tablehaul-test-password'),
      )
    } finally {
      await db.drop()
    }
  })

  test('says for each sync whether it would read only the rows written since the last copy or compare every row, and why', async () => {
    const db = await databasePair(servers, 'plan_sync_compare')
    try {
      await db.source.sql(`
        CREATE SCHEMA sales;
        CREATE TABLE sales.kept (id int PRIMARY KEY, v text);
        CREATE TABLE sales.rewritten (id int PRIMARY KEY, v text);
        CREATE TABLE sales.unrecorded (id int PRIMARY KEY, v text);
        CREATE TABLE sales.emptied (id int PRIMARY KEY, v text);
        INSERT INTO sales.kept SELECT g, 'v' || g FROM generate_series(1, 100) g;
        INSERT INTO sales.rewritten SELECT g, 'v' || g FROM generate_series(1, 100) g;
        INSERT INTO sales.unrecorded SELECT g, 'v' || g FROM generate_series(1, 100) g;
        INSERT INTO sales.emptied SELECT g, 'v' || g FROM generate_series(1, 100) g;
        ANALYZE;`)
      const dir = tempDir()
      const synced = await runCli(
        ['run', '--source', db.source.url, '--target', db.target.url, '--mode', 'sync', '--table', 'sales.*'],
        { cwd: dir },
      )
      assert.equal(synced.code, 0, synced.stderr + synced.stdout)
      // A table rewritten on the source; one whose record is gone; one emptied on the target.
      await db.source.sql(`VACUUM FULL sales.rewritten`)
      await db.source.sql(`UPDATE sales.kept SET v = 'changed' WHERE id = 5`)
      await db.target.sql(`DELETE FROM tablehaul.sync_marks WHERE table_name = 'unrecorded';
        TRUNCATE sales.emptied`)
      const before = await catalogState(db.target)
      const result = await planCli(db, dir, '--mode', 'sync', '--table', 'sales.*', '--json')
      assert.equal(result.code, 0, result.stderr)
      const plan = JSON.parse(result.stdout) as TransferPlan
      const compare = (table: string) => plan.tables.find((t) => t.table === table)?.compare
      assert.deepEqual(compare('sales.kept'), { rows: 'written' })
      assert.deepEqual(compare('sales.rewritten'), {
        rows: 'all',
        reason: 'the source table was re-created, truncated or rewritten since the last copy',
      })
      assert.deepEqual(compare('sales.unrecorded'), {
        rows: 'all',
        reason: 'no earlier copy recorded where it stopped',
      })
      assert.equal(compare('sales.emptied'), undefined, 'an empty target table is loaded in full')
      assert.deepEqual(await catalogState(db.target), before, 'the plan wrote nothing')

      const text = await planCli(db, dir, '--mode', 'sync', '--table', 'sales.*')
      assert.equal(text.code, 0, text.stderr)
      const lines = text.stdout.split('\n')
      assert.match(lines.find((l) => l.includes(' sales.kept ')) ?? '', /sync, written rows/)
      assert.match(lines.find((l) => l.includes(' sales.rewritten ')) ?? '', /sync, every row/)
      assert.match(
        text.stdout,
        /compare every row, not only the rows written since:\n {2}sales\.rewritten: the source table was re-created, truncated or rewritten since the last copy\n {2}sales\.unrecorded: no earlier copy recorded where it stopped/,
      )
    } finally {
      await db.drop()
    }
  })

  test('a sync that must replace a table for want of a key says on which side the key is missing, and before its first load', async () => {
    const db = await databasePair(servers, 'plan_sync_key')
    try {
      await db.source.sql(`
        CREATE TABLE public.keyless (id int, v text);
        CREATE TABLE public."Keyed" ("Id" int PRIMARY KEY, v text);
        CREATE TABLE public.fresh (id int, v text);
        CREATE TABLE public.fresh_keyed (id int PRIMARY KEY, v text);`)
      // The target's copy of "Keyed" made by hand, without the source's key.
      await db.target.sql(`
        CREATE TABLE public.keyless (id int, v text);
        CREATE TABLE public."Keyed" ("Id" int NOT NULL, v text);`)
      const result = await planCli(db, tempDir(), '--mode', 'sync', '--json')
      assert.equal(result.code, 0, result.stderr)
      const plan = JSON.parse(result.stdout) as TransferPlan
      const action = (table: string) => plan.tables.find((t) => t.table === table)?.action
      assert.equal(action('public.keyless'), 'sync → replace: no key on the source')
      assert.equal(action('public."Keyed"'), 'sync → replace: the target has no unique index on ("Id")')
      // Missing on the target: created and loaded now, replaced on every later run.
      assert.equal(action('public.fresh'), 'create, load')
      assert.deepEqual(
        plan.warnings.filter((w) => /no key/.test(w)),
        [
          'public.fresh: no key on the source (a primary key, or a unique index on NOT NULL columns), so mode sync will replace it on every run; add one to sync it by its differences',
        ],
      )
    } finally {
      await db.drop()
    }
  })

  test('a table name that matches nothing exits 2 and says which entry and what to do', async () => {
    const db = await databasePair(servers, 'plan_unknown')
    try {
      await db.source.sql(SALES)
      const result = await planCli(db, tempDir(), '--table', 'sales.orders', '--table', 'sales.order_lines')
      assert.equal(result.code, 2)
      assert.match(result.stderr, /tables\.1: table sales\.order_lines does not exist on the source/)
      assert.match(result.stderr, /what to do: /)
    } finally {
      await db.drop()
    }
  })

  test('without a target, plans against the embedded local server without creating it', async () => {
    const db = await databasePair(servers, 'plan_local')
    try {
      await db.source.sql(SALES)
      const dir = tempDir()
      const result = await runCli(['plan', '--source', db.source.url], {
        cwd: dir,
        env: { TABLEHAUL_LOCAL_DIR: path.join(dir, 'local') },
      })
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /target {4}local \(.*local, not created yet: the first run creates it\)/)
      assert.match(result.stdout, /sales\.orders .* missing {2}create, load/)
      // The first run creates the server at the embedded version, as recent as the source's: binary COPY.
      const tables = result.stdout.split('\n').filter((l) => / sales\.\w+ /.test(l))
      assert.equal(tables.length, 3, result.stdout)
      for (const line of tables) assert.match(line, / binary\b/)
      assert.ok(!existsSync(path.join(dir, 'local')), 'the local server was not created')
    } finally {
      await db.drop()
    }
  })

  test('an unreachable source exits 1 with what to check', async () => {
    const result = await runCli(
      ['plan', '--source', 'postgres://nobody@127.0.0.1:1/none', '--target', servers.target.url],
      {
        cwd: tempDir(),
      },
    )
    assert.equal(result.code, 1)
    assert.match(result.stderr, /cannot connect to the source postgres:\/\/nobody@127\.0\.0\.1:1\/none/)
    assert.match(result.stderr, /what to do: nothing accepts connections there/)
  })
})
