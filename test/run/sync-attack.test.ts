import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { copied } from '../helpers/sync-report.js'
import { testServers } from '../helpers/servers.js'

// mode: sync attacked where its newest logic decides which rows to look at: the ids a snapshot did not see
// (since.ts) and the deletes named by sums of integer keys (table-syncer.ts). Every case ends with the
// target compared with the source row by row.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

function run(
  db: { readonly source: { readonly url: string }; readonly target: { readonly url: string } },
  mode: 'sync' | 'replace' = 'sync',
): Promise<RunReport> {
  return new TransferJob(testConfig({ source: db.source.url, target: db.target.url, mode }), {
    notifier: null,
  }).run()
}

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client(url)
  await c.connect()
  return c
}

describe('a sync attacked', () => {
  test('brings a row written in a released subtransaction of a transaction open at the last snapshot, with a later id committed before it', async () => {
    const db = await databasePair(servers, 'attack_subxact')
    const open = await client(db.source.url)
    try {
      await db.source.sql(`CREATE TABLE public.t (id int PRIMARY KEY, v text);
        INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 200) g; ANALYZE public.t;
        CREATE TABLE public.bump (id int)`)
      assert.equal((await run(db)).status, 'succeeded')
      // A subtransaction's id lies above its parent's; RELEASE SAVEPOINT, and the end of a PL/pgSQL block
      // with an EXCEPTION clause, drop the lock on it (PostgreSQL keeps only the top transaction's), and the
      // transaction stays open.
      await open.query(`BEGIN; SAVEPOINT s; UPDATE public.t SET v = 'in a released subtransaction' WHERE id = 5;
        RELEASE SAVEPOINT s;
        DO $$ BEGIN
          BEGIN UPDATE public.t SET v = 'in a PL/pgSQL block' WHERE id = 7; EXCEPTION WHEN others THEN RAISE; END;
        END $$`)
      // A later id commits: the next snapshot's xmax passes the subtransaction's id, which it did not see.
      await db.source.sql(`INSERT INTO public.bump VALUES (1)`)
      let report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      copied(report, 'public.t')
      await open.query('COMMIT')
      report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      const synced = copied(report, 'public.t')
      await assertSameRows(db, 'public.t')
      assert.equal(synced.syncCompared, 'written', JSON.stringify(synced))
      assert.equal(synced.sync?.updated, 2, JSON.stringify(synced))
    } finally {
      await open.end().catch(() => {})
      await db.drop()
    }
  })
})
