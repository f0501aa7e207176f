import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { type TestDatabase, testServers, withClient } from '../helpers/servers.js'

// What a production DBA sets on the run's role or database (ALTER ROLE … SET, ALTER DATABASE … SET) on
// either server: the run sets what it needs for its own sessions, as pg_dump does, or fails with one error
// that names the setting and what to do.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** ALTER DATABASE … SET, from the server's own database: the setting may forbid the statement in its own. */
async function setOn(database: TestDatabase, setting: string): Promise<void> {
  await withClient(database.server.url, (client) =>
    client.query(`ALTER DATABASE ${database.name} SET ${setting}`),
  )
}

describe("a DBA's settings on the run's databases", () => {
  test('transaction_timeout on both servers ends neither the snapshot nor a table whose copy outlasts it', async (t) => {
    const db = await databasePair(servers, 'dba_xact_timeout')
    try {
      const [version] = await db.target.sql<{ major: number }>(
        `SELECT current_setting('server_version_num')::int / 10000 AS major`,
      )
      if (version!.major < 17) return t.skip('transaction_timeout is PostgreSQL 17+')
      const tables = `CREATE TABLE public.slow (id int PRIMARY KEY, note text);
                      CREATE TABLE public.other (id int PRIMARY KEY, note text);`
      await db.source.sql(`${tables}
        INSERT INTO public.slow SELECT g, 'new' FROM generate_series(1, 3) g;
        INSERT INTO public.other SELECT g, 'new' FROM generate_series(1, 3) g;`)
      // The copy of slow takes 2 s on the target (its CHECK sleeps on a new row): longer than the timeout,
      // for its own transaction on the target, and for the snapshot's on the source.
      await db.target.sql(`${tables}
        CREATE FUNCTION public.sleepy(id int, note text) RETURNS boolean LANGUAGE plpgsql AS
          'BEGIN IF id = 1 AND note = ''new'' THEN PERFORM pg_sleep(2); END IF; RETURN true; END';
        ALTER TABLE public.slow ADD CONSTRAINT slows CHECK (public.sleepy(id, note));`)
      await setOn(db.source, `transaction_timeout = '1s'`)
      await setOn(db.target, `transaction_timeout = '1s'`)
      const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
      config.jobs = 1
      config.retry = { ...config.retry, attempts: 1 }
      const report = await new TransferJob(config, { notifier: null }).run()

      assert.equal(
        report.status,
        'succeeded',
        JSON.stringify([report.error, ...report.tables.map((r) => r.error)]),
      )
      await setOn(db.source, 'transaction_timeout = 0')
      await setOn(db.target, 'transaction_timeout = 0')
      await assertSameRows(db, 'public.slow')
      await assertSameRows(db, 'public.other')
    } finally {
      await db.drop()
    }
  })
})
