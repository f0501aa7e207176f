import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { runBetween as run } from '../helpers/sync-report.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'

// A replace lifts the foreign keys between the tables it writes (TRUNCATE refuses a referenced table).
// Dropping a key locks its table and the table it references until the transaction ends: the target's lock
// table (max_locks_per_transaction × max_connections) must not have to hold all of a run's keys at once.

let servers: Awaited<ReturnType<typeof testServers>>
/** A target whose lock table holds about 500 locks (measured: the 513th LOCK TABLE of a transaction fails). */
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

const CHILDREN = 600

/** A parent and CHILDREN tables that reference it, made a hundred per transaction (CALL commits). */
async function make(db: TestDatabase, rows: boolean): Promise<void> {
  await db.sql(`
    CREATE SCHEMA fk;
    CREATE TABLE fk.parent (id int PRIMARY KEY);
    ${rows ? 'INSERT INTO fk.parent SELECT generate_series(1, 3);' : ''}
    CREATE PROCEDURE public.children() LANGUAGE plpgsql AS $$ BEGIN
      FOR i IN 1..${CHILDREN} LOOP
        EXECUTE format('CREATE TABLE fk.c%s (id int PRIMARY KEY, p int REFERENCES fk.parent)', i);
        ${rows ? `EXECUTE format('INSERT INTO fk.c%s VALUES (1, 1), (2, 3)', i);` : ''}
        IF i % 100 = 0 THEN COMMIT; END IF;
      END LOOP;
    END $$;`)
  await db.sql('CALL public.children()')
  await db.sql('DROP PROCEDURE public.children()')
}

describe('a replace of many tables that reference each other', () => {
  test('lifts their foreign keys a few dozen per transaction and puts every one back', async () => {
    const [source, target] = await Promise.all([
      TestDatabase.create(servers.source, 'many_fk_src'),
      TestDatabase.create(small, 'many_fk_tgt'),
    ])
    try {
      await Promise.all([make(source, true), make(target, false)])

      const report = await run({ source, target }, 'replace', { tables: ['fk.*'], jobs: 2 })
      assert.equal(report.error, undefined, JSON.stringify(report.error))
      assert.equal(report.totals.copied, CHILDREN + 1)
      const [row] = await target.sql<{ keys: number; rows: number; pending: number }>(`
        SELECT (SELECT count(*)::int FROM pg_constraint WHERE contype = 'f' AND convalidated
                  AND connamespace = 'fk'::regnamespace) AS keys,
               (SELECT count(*)::int FROM fk.c${CHILDREN}) AS rows,
               (SELECT count(*)::int FROM tablehaul.pending_foreign_keys) AS pending
      `)
      assert.deepEqual(row, { keys: CHILDREN, rows: 2, pending: 0 })
    } finally {
      await Promise.all([source.drop(), target.drop()])
    }
  })
})
