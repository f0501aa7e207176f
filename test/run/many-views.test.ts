import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { runBetween as run } from '../helpers/sync-report.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'

// The views step creates the run's views on the target. Each CREATE VIEW keeps a lock on its view until the
// transaction ends: the target's lock table (max_locks_per_transaction × max_connections, shared by every
// session) must not have to hold all of a run's views at once.

let servers: Awaited<ReturnType<typeof testServers>>
/** A target whose lock table holds about 500 locks (see many-foreign-keys.test.ts). */
let small: TestServer

before(async () => {
  ;[servers, small] = await Promise.all([
    testServers(),
    TestServer.start('smalllocks', undefined, { max_locks_per_transaction: 10, max_connections: 10 }),
  ])
})

after(async () => {
  await Promise.all([servers?.stop(), small?.destroy()])
})

const VIEWS = 1000
const ON_BASE = 120

const viewCount = async (db: TestDatabase) =>
  (await db.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_views WHERE schemaname = 'v'`))[0]!.n

describe('a run of many views', () => {
  test('creates them a few dozen per transaction, and re-creates the views on one that changed with it', async () => {
    const [source, target] = await Promise.all([
      TestDatabase.create(servers.source, 'many_views_src'),
      TestDatabase.create(small, 'many_views_tgt'),
    ])
    try {
      await source.sql(`
        CREATE SCHEMA v;
        CREATE TABLE v.t (id int PRIMARY KEY, a int);
        INSERT INTO v.t SELECT g, g FROM generate_series(1, 10) g;
        CREATE VIEW v.base AS SELECT id, a FROM v.t;
        DO $$ BEGIN
          FOR i IN 1..${VIEWS} LOOP
            EXECUTE format('CREATE VIEW v.v%s AS SELECT id, a + %s AS a FROM v.%s', i, i,
              CASE WHEN i <= ${ON_BASE} THEN 'base' ELSE 't' END);
          END LOOP;
        END $$;`)

      let report = await run({ source, target }, 'replace', { tables: ['v.*'], jobs: 2 })
      assert.equal(report.error, undefined, JSON.stringify(report.error))
      assert.deepEqual(report.warnings.slice(0, 3), [])
      assert.equal(report.status, 'succeeded')
      assert.equal(await viewCount(target), VIEWS + 1)

      // v.base loses a column: only DROP and CREATE can change it, which takes the 120 views on it along;
      // each is created again in the transaction that dropped it.
      await source.sql(`
        DO $$ BEGIN
          FOR i IN 1..${ON_BASE} LOOP EXECUTE format('DROP VIEW v.v%s', i); END LOOP;
        END $$;
        DROP VIEW v.base; CREATE VIEW v.base AS SELECT id FROM v.t;
        DO $$ BEGIN
          FOR i IN 1..${ON_BASE} LOOP
            EXECUTE format('CREATE VIEW v.v%s AS SELECT id, id + %s AS a FROM v.base', i, i);
          END LOOP;
        END $$;`)
      report = await run({ source, target }, 'replace', { tables: ['v.*'], jobs: 2 })
      assert.equal(report.error, undefined, JSON.stringify(report.error))
      assert.deepEqual(report.warnings.slice(0, 3), [])
      assert.equal(report.status, 'succeeded')
      assert.equal(await viewCount(target), VIEWS + 1)
      assert.deepEqual(await target.sql(`SELECT id, a FROM v.v7 ORDER BY id LIMIT 2`), [
        { id: 1, a: 8 },
        { id: 2, a: 9 },
      ])
    } finally {
      await Promise.all([source.drop(), target.drop()])
    }
  })
})
