import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { waitFor } from '../helpers/cli.js'
import { type DatabasePair, withDatabasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { copied, notes, runBetween as run } from '../helpers/sync-report.js'
import { testServers } from '../helpers/servers.js'

// An ETL job on the source that reloads a table every night with nearly the same rows: the sync after it
// says what it did, and the target ends with the source's rows.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** The night's rows: the same 2,000, but one in a hundred renamed for the night. */
const night = (n: number) =>
  `SELECT g, 'item ' || g || CASE WHEN g % 100 = ${n} THEN ' v${n}' ELSE '' END FROM generate_series(1, 2000) g`

/** A pair whose source holds the file's table (see withDatabasePair). */
function withPair(name: string, body: (db: DatabasePair) => Promise<void>): Promise<void> {
  return withDatabasePair(
    servers,
    name,
    `CREATE TABLE public.dims (id int PRIMARY KEY, name text); INSERT INTO public.dims ${night(0)}`,
    body,
  )
}

/** Waits until the source's statistics count at least `n` in the column of pg_stat_all_tables for the table. */
function counted(db: DatabasePair, column: 'n_tup_ins' | 'n_tup_upd', n: number): Promise<void> {
  return waitFor(
    async () => {
      const [row] = await db.source.sql<{ n: number }>(
        `SELECT ${column}::int AS n FROM pg_stat_all_tables WHERE relid = 'public.dims'::regclass`,
      )
      return row!.n >= n
    },
    30_000,
    `the statistics to count ${column}`,
  )
}

describe('a sync after an ETL job reloaded the source table', () => {
  test('TRUNCATE and reload: the reload it predicts says why, and claims no comparison it did not make', () =>
    withPair('sync_etl_truncate', async (db) => {
      assert.equal((await run(db, 'sync')).status, 'succeeded')
      await db.source.sql(`BEGIN; TRUNCATE public.dims; INSERT INTO public.dims ${night(1)}; COMMIT`)
      await counted(db, 'n_tup_ins', 4000)
      const table = copied(await run(db, 'sync'), 'public.dims')
      assert.equal(table.syncCompared, undefined, JSON.stringify(table))
      assert.doesNotMatch(notes(table), /compared every row/)
      assert.match(
        notes(table),
        /^sync → replace: the source's statistics count changes to \d+ % of its rows since the last sync \(reading only the rows written since was not possible: the source table was re-created, truncated or rewritten since the last copy\)/,
      )
      await assertSameRows(db, 'public.dims')
    }))

  test('a new table renamed over the old one: every row compared, only the changed ones written', () =>
    withPair('sync_etl_swap', async (db) => {
      assert.equal((await run(db, 'sync')).status, 'succeeded')
      // Staged, then transformed in place: the new table's own statistics count 2,000 inserts and 2,000
      // updates, which say nothing of how its rows differ from those the last sync read from the old one.
      await db.source.sql(`
        BEGIN;
        CREATE TABLE public.dims_new (id int PRIMARY KEY, name text);
        INSERT INTO public.dims_new SELECT g, 'staged' FROM generate_series(1, 2000) g;
        UPDATE public.dims_new AS d SET name = n.name FROM (${night(1)}) AS n(id, name) WHERE n.id = d.id;
        DROP TABLE public.dims;
        ALTER TABLE public.dims_new RENAME TO dims;
        COMMIT`)
      await counted(db, 'n_tup_upd', 2000)
      const table = copied(await run(db, 'sync'), 'public.dims')
      assert.equal(table.syncCompared, 'all')
      assert.match(notes(table), /compared every row: the source table was re-created/)
      // Night 0 renamed the rows g % 100 = 0, night 1 those with g % 100 = 1: 20 + 20 rows differ.
      assert.deepEqual(table.sync, { inserted: 0, updated: 40, deleted: 0, unchanged: 1960 })
      await assertSameRows(db, 'public.dims')
    }))
})
