import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { waitFor } from '../helpers/cli.js'
import { databasePair } from '../helpers/database-pair.js'
import { runBetween as run } from '../helpers/sync-report.js'
import { type TestDatabase, testServers } from '../helpers/servers.js'

// mode: sync over many tables: what it reads from the catalogs for each table must not grow with the
// number of tables in the database, or a sync of thousands of small tables costs their square.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const TABLES = 150

/**
 * How many sequential scans of pg_type the database's sessions made so far. A backend hands its counts to
 * the statistics when it exits: this waits until no other session is connected to the database.
 */
async function typeScans(db: TestDatabase): Promise<number> {
  await waitFor(
    async () => {
      const [row] = await db.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      )
      return row!.n === 0
    },
    30_000,
    `the sessions of the run to leave ${db.name}`,
  )
  const [row] = await db.sql<{ n: string }>(
    `SELECT seq_scan::text AS n FROM pg_stat_sys_tables WHERE relid = 'pg_catalog.pg_type'::regclass`,
  )
  return Number(row!.n)
}

describe('mode sync over many tables', () => {
  test("reads each table's column signature by index, not by scanning pg_type once per table", async () => {
    const db = await databasePair(servers, 'sync_many')
    try {
      await db.source.sql(`
        CREATE SCHEMA many;
        DO $$ BEGIN
          FOR i IN 1..${TABLES} LOOP
            EXECUTE format('CREATE TABLE many.t%s (id int PRIMARY KEY, v text, n numeric)', i);
            EXECUTE format('INSERT INTO many.t%s SELECT g, ''v'' || g, g FROM generate_series(1, 20) g', i);
          END LOOP;
        END $$;
      `)
      const first = await run(db)
      assert.equal(first.totals.copied, TABLES)
      const before = await Promise.all([typeScans(db.source), typeScans(db.target)])

      const second = await run(db)
      assert.equal(second.totals.copied, TABLES)
      assert.equal(
        second.tables.filter((t) => t.syncCompared === 'written').length,
        TABLES,
        'every table synced by the rows written since',
      )
      const [source, target] = await Promise.all([typeScans(db.source), typeScans(db.target)])
      // The catalog reads of a run may scan pg_type a few times; a scan per table makes it grow with them.
      assert.ok(source - before[0] < TABLES / 5, `${source - before[0]} scans of pg_type on the source`)
      assert.ok(target - before[1] < TABLES / 5, `${target - before[1]} scans of pg_type on the target`)
    } finally {
      await db.drop()
    }
  })
})
