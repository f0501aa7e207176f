import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type DatabasePair, withDatabasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { copied, runBetween as run } from '../helpers/sync-report.js'
import { testServers } from '../helpers/servers.js'

// A table partitioned by month with a default partition as catch-all: each month the DBA makes the new
// month's partition and moves its rows out of the default one, and the nightly sync follows.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** A pair whose source holds the file's table (see withDatabasePair). */
function withPair(name: string, body: (db: DatabasePair) => Promise<void>): Promise<void> {
  return withDatabasePair(
    servers,
    name,
    `
      CREATE TABLE public.readings (ts timestamptz NOT NULL, sensor int NOT NULL, v int, PRIMARY KEY (sensor, ts))
        PARTITION BY RANGE (ts);
      CREATE TABLE public.readings_2026_12 PARTITION OF public.readings FOR VALUES FROM ('2026-12-01') TO ('2027-01-01');
      CREATE TABLE public.readings_default PARTITION OF public.readings DEFAULT;
      INSERT INTO public.readings
        SELECT t, s, 1 FROM generate_series('2026-12-30'::timestamptz, '2027-01-02 23:00', '1 hour') t, generate_series(1, 3) s;`,
    body,
  )
}

/** The month's partition made on the source, its rows moved out of the default partition, in one transaction. */
const ROTATE = `
  BEGIN;
  ALTER TABLE public.readings DETACH PARTITION public.readings_default;
  CREATE TABLE public.readings_2027_01 PARTITION OF public.readings FOR VALUES FROM ('2027-01-01') TO ('2027-02-01');
  INSERT INTO public.readings_2027_01 SELECT * FROM public.readings_default WHERE ts >= '2027-01-01' AND ts < '2027-02-01';
  DELETE FROM public.readings_default WHERE ts >= '2027-01-01' AND ts < '2027-02-01';
  ALTER TABLE public.readings ATTACH PARTITION public.readings_default DEFAULT;
  COMMIT`

describe('a sync of a table partitioned by month with a default partition', () => {
  test('when the source made a month partition out of the default one, says to run again, and the next run catches up', () =>
    withPair('sync_default_partition', async (db) => {
      assert.equal((await run(db, 'sync')).status, 'succeeded')
      await db.source.sql(ROTATE)
      const report = await run(db, 'sync')
      const month = report.tables.find((t) => t.table === 'public.readings_2027_01')
      assert.equal(month?.status, 'failed', JSON.stringify(report.tables))
      assert.match(month.error?.message ?? '', /default partition "readings_default" would be violated/)
      // The default partition's copy took the month's rows out of it on the target in this run: once it
      // committed, the month's partition can be made. Nothing to create by hand.
      assert.match(
        month.error?.hint ?? '',
        /default partition still holds rows .*this run did.*then run again \(--resume\)/,
        month.error?.hint,
      )
      assert.doesNotMatch(month.error?.hint ?? '', /create the table .* yourself/)
      copied(report, 'public.readings_default')
      const next = await run(db, 'sync')
      assert.equal(next.status, 'succeeded', JSON.stringify(next.tables))
      await assertSameRows(db, 'public.readings')
    }))

  test('warns of a table the source attached as a partition, which the target still has on its own', () =>
    withPair('sync_attached_partition', async (db) => {
      // Loaded on its own first (a pattern selects it), then attached on the source.
      await db.source.sql(`
        CREATE TABLE public.readings_2027_02 (LIKE public.readings INCLUDING ALL);
        INSERT INTO public.readings_2027_02 VALUES ('2027-02-01', 1, 7);`)
      const tables = ['public.readings*']
      assert.equal((await run(db, 'sync', { tables })).status, 'succeeded')
      await db.source.sql(
        `ALTER TABLE public.readings ATTACH PARTITION public.readings_2027_02 FOR VALUES FROM ('2027-02-01') TO ('2027-03-01')`,
      )
      const report = await run(db, 'sync', { tables })
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      const attach = `ALTER TABLE "public"."readings" ATTACH PARTITION "public"."readings_2027_02" FOR VALUES FROM ('2027-02-01 00:00:00+00') TO ('2027-03-01 00:00:00+00')`
      const warning = report.warnings.find((w) => w.includes('readings_2027_02'))
      assert.ok(warning?.includes(attach), warning)
      assert.match(warning ?? '', /public\.readings on the target does not show its rows/)
      await db.target.sql(attach)
      const next = await run(db, 'sync', { tables })
      assert.ok(!next.warnings.some((w) => w.includes('readings_2027_02')), next.warnings.join('\n'))
      await assertSameRows(db, 'public.readings')
    }))
})
