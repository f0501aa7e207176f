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
