import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport, TableResult } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { type TestDatabase, testServers } from '../helpers/servers.js'
import { assertSameRows } from '../helpers/fingerprint.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

function sync(db: DatabasePair, yaml: Record<string, unknown> = {}): Promise<RunReport> {
  return new TransferJob(
    testConfig({ source: db.source.url, target: db.target.url, mode: 'sync' }, { yaml }),
    { notifier: null },
  ).run()
}

function result(report: RunReport, name: string): TableResult {
  const found = report.tables.find((t) => t.table === name)
  assert.ok(found, `${name} is in the report: ${JSON.stringify(report.tables)}`)
  return found
}

/** Source updates whose statistics the next run must see: waits until the server counts them. */
async function updateCounted(db: TestDatabase, sql: string): Promise<void> {
  const updates = async () =>
    Number(
      (
        await db.sql<{ n: string }>(
          `SELECT n_tup_upd::text AS n FROM pg_catalog.pg_stat_all_tables WHERE relid = 'public.orders'::regclass`,
        )
      )[0]?.n ?? 0,
    )
  const before = await updates()
  const [done] = await db.sql<{ n: string }>(
    `WITH u AS (${sql} RETURNING 1) SELECT count(*)::text AS n FROM u`,
  )
  for (let i = 0; i < 600 && (await updates()) < before + Number(done!.n); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.ok((await updates()) >= before + Number(done!.n), 'the statistics count the updates')
}

const ORDERS = `
  CREATE TABLE public.orders (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL DEFAULT '2026-01-01');
  INSERT INTO public.orders (id, note) SELECT g, 'n' || g FROM generate_series(1, 2000) g;
`

/**
 * Without the position its last copy recorded (src/steps/sync/since.ts), a sync compares every row: the
 * path that the changed: hint and the statistics' prediction shorten. With it, the sync reads only the
 * rows written since, and neither is needed (test/run/sync-since.test.ts).
 */
async function forgetPosition(db: DatabasePair): Promise<void> {
  await db.target.sql(`UPDATE tablehaul.sync_marks SET since = NULL`)
}

describe('a sync with a changed: column', () => {
  test('writes the rows past the last mark first, and the fingerprints find a writer that bypassed it', async () => {
    const db = await databasePair(servers, 'sync_hint')
    const tables = [{ name: 'public.orders', changed: 'updated_at' }]
    try {
      await db.source.sql(ORDERS)
      assert.equal((await sync(db, { tables })).status, 'succeeded')
      const [mark] = await db.target.sql<{ changed_column: string; high_water: string }>(
        `SELECT changed_column, high_water FROM tablehaul.sync_marks WHERE table_name = 'orders'`,
      )
      assert.equal(mark?.changed_column, 'updated_at')
      assert.equal(mark?.high_water, '2026-01-01 00:00:00+00')
      await db.source.sql(`
        UPDATE public.orders SET note = 'hinted', updated_at = '2026-02-01' WHERE id % 100 = 0;  -- 20 rows
        INSERT INTO public.orders VALUES (5000, 'new', '2026-02-02');
        DELETE FROM public.orders WHERE id = 1;
        UPDATE public.orders SET note = 'bypassed' WHERE id = 7;                              -- updated_at untouched
      `)
      await forgetPosition(db)
      const report = await sync(db, { tables })
      const orders = result(report, 'public.orders')
      assert.equal(orders.status, 'copied', JSON.stringify(orders))
      assert.deepEqual(orders.sync, { inserted: 1, updated: 21, deleted: 1, unchanged: 1978 })
      // Only the bypassing writer's row was left for the fingerprints: the 21 hinted rows came first.
      assert.match(
        orders.warnings?.join('\n') ?? '',
        /the changed: hint missed 1 new or changed row\(s\) whose updated_at is not past 2026-01-01 00:00:00\+00/,
      )
      await assertSameRows(db, 'public.orders')
      const [next] = await db.target.sql<{ high_water: string }>(
        `SELECT high_water FROM tablehaul.sync_marks WHERE table_name = 'orders'`,
      )
      assert.equal(next?.high_water, '2026-02-02 00:00:00+00')
    } finally {
      await db.drop()
    }
  })

  test('is refused, naming the entry, when the column does not exist or the table does not sync', async () => {
    const db = await databasePair(servers, 'sync_hint_bad')
    try {
      await db.source.sql(ORDERS)
      const missing = await sync(db, { tables: [{ name: 'public.orders', changed: 'modified' }] })
      assert.equal(missing.status, 'failed')
      assert.match(JSON.stringify(missing), /tables\.0\.changed: public\.orders has no column \\"modified\\"/)
      const replaced = await new TransferJob(
        testConfig(
          { source: db.source.url, target: db.target.url, mode: 'replace' },
          { yaml: { tables: [{ name: 'public.orders', changed: 'updated_at' }] } },
        ),
        { notifier: null },
      ).run()
      assert.equal(replaced.status, 'failed')
      assert.match(JSON.stringify(replaced), /only mode sync uses a changed: column/)
    } finally {
      await db.drop()
    }
  })
})

describe("a sync predicted by the source's statistics", () => {
  test('reloads a table most of whose rows changed without comparing them first', async () => {
    const db = await databasePair(servers, 'sync_predict')
    try {
      await db.source.sql(ORDERS)
      assert.equal((await sync(db)).status, 'succeeded')
      const [mark] = await db.target.sql<{ source_changes: string | null }>(
        `SELECT source_changes::text FROM tablehaul.sync_marks WHERE table_name = 'orders'`,
      )
      assert.ok(mark?.source_changes !== null, 'the source counters are recorded')
      await updateCounted(db.source, `UPDATE public.orders SET note = 'all' WHERE id <= 1500`)
      await forgetPosition(db)
      const report = await sync(db)
      const orders = result(report, 'public.orders')
      assert.equal(orders.status, 'copied', JSON.stringify(orders))
      assert.equal(orders.sync, undefined, 'reloaded, not synced')
      assert.match(
        orders.warnings?.join('\n') ?? '',
        /sync → replace: the source's statistics count changes to \d+ % of its rows since the last sync/,
      )
      await assertSameRows(db, 'public.orders')
      // A few changes stay a sync: the prediction only ever sends a table to a reload early.
      await updateCounted(db.source, `UPDATE public.orders SET note = 'one' WHERE id = 3`)
      await forgetPosition(db)
      const small = result(await sync(db), 'public.orders')
      assert.deepEqual(small.sync, { inserted: 0, updated: 1, deleted: 0, unchanged: 1999 })
      await assertSameRows(db, 'public.orders')
    } finally {
      await db.drop()
    }
  })
})
