import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { exitCodeOf } from '../../src/cli/context.js'
import { TablehaulError } from '../../src/errors.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { planTransfer } from '../../src/steps/plan/plan-transfer.js'
import { runBetween } from '../helpers/sync-report.js'
import { waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { testServers } from '../helpers/servers.js'

// A config names tables exactly (tables: [sales.orders, sales.items]); the source may drop one of them after
// the config was written, or while a run is under way.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const SOURCE = `
  CREATE SCHEMA sales;
  CREATE TABLE sales.orders (id int PRIMARY KEY, v text);
  INSERT INTO sales.orders SELECT g, repeat('o', 100) FROM generate_series(1, 2000) g;
  CREATE TABLE sales.items (id int PRIMARY KEY, v text);
  INSERT INTO sales.items SELECT g, 'i' FROM generate_series(1, 10) g;
  ANALYZE;
`
const TARGET = `
  CREATE SCHEMA sales;
  CREATE TABLE sales.orders (id int PRIMARY KEY, v text);
  CREATE TABLE sales.items (id int PRIMARY KEY, v text);
  INSERT INTO sales.items SELECT g, 'old' FROM generate_series(1, 3) g;
`
const TABLES = { tables: ['sales.orders', 'sales.items'], jobs: 1 }

describe('a table named exactly that the source dropped', () => {
  for (const mode of ['replace', 'append', 'recreate', 'sync'] as const) {
    test(`after the run's plan (${mode}): that table fails untouched, saying what to do; the others copy; exit 1`, async () => {
      const db = await databasePair(servers, `dropped_${mode}`)
      const holder = new pg.Client({ connectionString: db.target.url })
      try {
        await Promise.all([db.source.sql(SOURCE), db.target.sql(TARGET)])
        const before = await fingerprint(db.target.url, 'sales.items')
        // The larger table is copied first (jobs: 1); a lock of another session on its target table holds
        // its copy after the plan, while the source drops the other one.
        await holder.connect()
        await holder.query('BEGIN; LOCK TABLE sales.orders IN SHARE MODE')
        const running = new TransferJob(
          testConfig({ source: db.source.url, target: db.target.url, mode }, { yaml: TABLES }),
          { notifier: null },
        ).run()
        await waitFor(
          async () =>
            (
              await db.target.sql(
                `SELECT FROM pg_locks WHERE NOT granted AND relation = 'sales.orders'::regclass`,
              )
            ).length > 0,
          30_000,
          'the copy of sales.orders to wait for its lock',
        )
        await db.source.sql(`DROP TABLE sales.items`)
        await holder.query('COMMIT')
        const report = await running

        assert.equal(report.error, undefined, JSON.stringify(report.error))
        const orders = report.tables.find((t) => t.table === 'sales.orders')
        assert.equal(orders?.status, 'copied', JSON.stringify(orders))
        const items = report.tables.find((t) => t.table === 'sales.items')
        assert.equal(items?.status, 'failed', JSON.stringify(items))
        assert.equal(items?.attempts, 1)
        assert.equal(items?.error?.code, 'TABLE_NOT_FOUND')
        assert.match(
          items?.error?.message ?? '',
          /^source table sales\.items no longer exists: it was dropped or renamed on the source after this run read the catalog/,
        )
        assert.match(
          items?.error?.hint ?? '',
          /its target table was left as it was; .*remove sales\.items from tables:/,
        )
        assert.deepEqual(await fingerprint(db.target.url, 'sales.items'), before)
        assert.equal(exitCodeOf(report), 1)
      } finally {
        await holder.end().catch(() => {})
        await db.drop()
      }
    })
  }

  test('a partitioned table dropped after the plan: its partitions fail alone, saying so, their target rows untouched', async () => {
    const db = await databasePair(servers, 'dropped_partitioned')
    const holder = new pg.Client({ connectionString: db.target.url })
    try {
      const items = `
        CREATE TABLE sales.items (id int, v text) PARTITION BY RANGE (id);
        CREATE TABLE sales.items_low PARTITION OF sales.items FOR VALUES FROM (1) TO (6);
        CREATE TABLE sales.items_high PARTITION OF sales.items FOR VALUES FROM (6) TO (11);`
      await db.source.sql(`
        CREATE SCHEMA sales;
        CREATE TABLE sales.orders (id int PRIMARY KEY, v text);
        INSERT INTO sales.orders SELECT g, repeat('o', 100) FROM generate_series(1, 2000) g;
        ${items}
        INSERT INTO sales.items SELECT g, 'i' FROM generate_series(1, 10) g;
        ANALYZE;`)
      await db.target.sql(`
        CREATE SCHEMA sales;
        CREATE TABLE sales.orders (id int PRIMARY KEY, v text);
        ${items}
        INSERT INTO sales.items SELECT g, 'old' FROM generate_series(1, 3) g;`)
      const before = await fingerprint(db.target.url, 'sales.items')
      await holder.connect()
      await holder.query('BEGIN; LOCK TABLE sales.orders IN SHARE MODE')
      const running = runBetween(db, 'replace', TABLES)
      await waitFor(
        async () =>
          (
            await db.target.sql(
              `SELECT FROM pg_locks WHERE NOT granted AND relation = 'sales.orders'::regclass`,
            )
          ).length > 0,
        30_000,
        'the copy of sales.orders to wait for its lock',
      )
      await db.source.sql(`DROP TABLE sales.items`)
      await holder.query('COMMIT')
      const report = await running
      assert.equal(report.tables.find((t) => t.table === 'sales.orders')?.status, 'copied')
      const failed = report.tables.filter((t) => t.status === 'failed')
      assert.ok(failed.length > 0, JSON.stringify(report.tables))
      for (const table of failed) {
        assert.equal(table.error?.code, 'TABLE_NOT_FOUND', JSON.stringify(table))
        assert.match(
          table.error?.message ?? '',
          /^source partition sales\.items_(low|high) no longer exists: it \(or its partitioned table\) was dropped or renamed on the source/,
        )
        assert.match(table.error?.hint ?? '', /^its target table was left as it was; run again/)
      }
      assert.deepEqual(await fingerprint(db.target.url, 'sales.items'), before)
    } finally {
      await holder.end().catch(() => {})
      await db.drop()
    }
  })

  test('before the run: plan and run stop before anything is written, naming the table and what to do', async () => {
    const db = await databasePair(servers, 'dropped_before')
    try {
      await Promise.all([db.source.sql(SOURCE), db.target.sql(TARGET)])
      const first = await runBetween(db, 'replace', TABLES)
      assert.equal(first.status, 'succeeded', JSON.stringify(first.error))
      await db.source.sql(`ALTER TABLE sales.items RENAME TO item`)
      const before = await fingerprint(db.target.url, 'sales.items')
      const config = testConfig({ source: db.source.url, target: db.target.url }, { yaml: TABLES })
      const planned = await planTransfer(config).then(
        () => undefined,
        (error: unknown) => error,
      )
      assert.ok(planned instanceof TablehaulError, String(planned))
      assert.equal(planned.code, 'TABLE_NOT_FOUND')
      assert.equal(
        planned.message,
        'tables.1: table sales.items does not exist on the source (did you mean sales.item?); an earlier run loaded it from this source, so the source dropped, renamed or moved it since: its target table keeps the rows of that copy',
      )
      assert.match(
        planned.hint ?? '',
        /^nothing was written; .* or remove it from tables: if the source no longer has that table/,
      )

      const report = await runBetween(db, 'replace', TABLES)
      assert.equal(report.error?.code, 'TABLE_NOT_FOUND')
      assert.equal(report.error?.message, planned.message)
      assert.deepEqual(await fingerprint(db.target.url, 'sales.items'), before)
      assert.equal(exitCodeOf(report), 2)
    } finally {
      await db.drop()
    }
  })
})
