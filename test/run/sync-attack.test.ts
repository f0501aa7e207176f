import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { assertSameRows, rowsOf } from '../helpers/fingerprint.js'
import { copied, deletesCounted, runBetween as run } from '../helpers/sync-report.js'
import { TestDatabase, TestServer, testServers, withClient } from '../helpers/servers.js'

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

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client(url)
  await c.connect()
  return c
}

type Pair = { readonly source: TestDatabase; readonly target: { readonly url: string } }

/** Table t (200 rows) and an empty table bump on the source, and a first copy of them. */
async function firstCopy(db: Pair): Promise<void> {
  await db.source.sql(`CREATE TABLE public.t (id int PRIMARY KEY, v text);
    INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 200) g; ANALYZE public.t;
    CREATE TABLE public.bump (id int)`)
  assert.equal((await run(db)).status, 'succeeded')
}

/**
 * With a writer of two rows of t still open on the source: a later id commits (the next snapshot's xmax
 * passes the writer's subtransactions, which it did not see), a sync runs, `commit` ends the writer, and
 * the sync after it must bring both rows, reading only the rows written since.
 */
async function assertBroughtAfterCommit(db: Pair, commit: () => Promise<unknown>): Promise<void> {
  await db.source.sql(`INSERT INTO public.bump VALUES (1)`)
  let report = await run(db)
  assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
  copied(report, 'public.t')
  await commit()
  report = await run(db)
  assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
  const synced = copied(report, 'public.t')
  await assertSameRows(db, 'public.t')
  assert.equal(synced.syncCompared, 'written', JSON.stringify(synced))
  assert.equal(synced.sync?.updated, 2, JSON.stringify(synced))
}

describe('a sync attacked', () => {
  test('brings a row written in a released subtransaction of a transaction open at the last snapshot, with a later id committed before it', async () => {
    const db = await databasePair(servers, 'attack_subxact')
    const open = await client(db.source.url)
    try {
      await firstCopy(db)
      // A subtransaction's id lies above its parent's; RELEASE SAVEPOINT, and the end of a PL/pgSQL block
      // with an EXCEPTION clause, drop the lock on it (PostgreSQL keeps only the top transaction's), and the
      // transaction stays open.
      await open.query(`BEGIN; SAVEPOINT s; UPDATE public.t SET v = 'in a released subtransaction' WHERE id = 5;
        RELEASE SAVEPOINT s;
        DO $$ BEGIN
          BEGIN UPDATE public.t SET v = 'in a PL/pgSQL block' WHERE id = 7; EXCEPTION WHEN others THEN RAISE; END;
        END $$`)
      await assertBroughtAfterCommit(db, () => open.query('COMMIT'))
    } finally {
      await open.end().catch(() => {})
      await db.drop()
    }
  })

  test('finds deletes among int8 keys at both ends of their range, and int2 keys below zero', async () => {
    const db = await databasePair(servers, 'attack_ends')
    try {
      // 9223372036854775807 and -9223372036854775808 are the largest and smallest int8.
      await db.source.sql(`
        CREATE TABLE public.top (id int8 PRIMARY KEY, v text);
        INSERT INTO public.top SELECT 9223372036854775807 - (g - 1) * 3, 'v' || g FROM generate_series(1, 3000) g;
        CREATE TABLE public.bottom (id int8 PRIMARY KEY, v text);
        INSERT INTO public.bottom SELECT -9223372036854775808 + (g - 1) * 3, 'v' || g FROM generate_series(1, 3000) g;
        CREATE TABLE public.small (id int2 PRIMARY KEY, v text);
        INSERT INTO public.small SELECT g, 'v' || g FROM generate_series(-32768, 32767, 7) g;
        ANALYZE;`)
      assert.equal((await run(db)).status, 'succeeded')
      const names = ['top', 'bottom', 'small']
      // Deletes side by side (their range of keys is read again) and alone (named by the key sums), at the
      // ends and between, beside an insert and an update.
      await db.source.sql(`
        DELETE FROM public.top WHERE id IN (9223372036854775807, 9223372036854775804, 9223372036854775807 - 3000 * 3 / 2);
        UPDATE public.top SET v = 'changed' WHERE id = 9223372036854775807 - 30;
        DELETE FROM public.bottom WHERE id IN (-9223372036854775808, -9223372036854775805, -9223372036854775808 + 4500);
        INSERT INTO public.bottom VALUES (-9223372036854775808 + 4501, 'new');
        DELETE FROM public.small WHERE id IN (-32768, -32761, -1, 32759);
        INSERT INTO public.small VALUES (-32767, 'new');`)
      // With the deletes in the source's statistics, the keys are counted and summed in the first pass.
      await deletesCounted(db.source, ['public.top', 'public.bottom', 'public.small'], 3)
      const report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      const expected = { top: [0, 1, 3, 2996], bottom: [1, 0, 3, 2997], small: [1, 0, 4, 9359] }
      for (const name of names) {
        const table = copied(report, `public.${name}`)
        await assertSameRows(db, `public.${name}`)
        assert.equal(table.syncCompared, 'written', JSON.stringify(table))
        const [inserted, updated, deleted, unchanged] = expected[name as keyof typeof expected]
        assert.deepEqual(table.sync, { inserted, updated, deleted, unchanged }, name)
      }
    } finally {
      await db.drop()
    }
  })

  test('names deletes by key sums over int8 keys spread wider than 2^31 per bucket, beside inserts and keys moved in the same bucket, before and after VACUUM FREEZE', async () => {
    const db = await databasePair(servers, 'attack_sums')
    const deletes = async () => {
      const [row] = await db.source.sql<{ n: number }>(
        `SELECT n_tup_del::int AS n FROM pg_stat_all_tables WHERE relid = 'public.wide'::regclass`,
      )
      return row!.n
    }
    try {
      // Keys g * 2^33: a bucket spans far more than 2^31 values, so its sums are int8 offsets added in numeric.
      await db.source.sql(`
        CREATE TABLE public.wide (id int8 PRIMARY KEY, v text);
        INSERT INTO public.wide SELECT g * 8589934592, 'v' || g FROM generate_series(1, 2000) g;
        CREATE TABLE public.local (id int4 PRIMARY KEY, v text);
        INSERT INTO public.local SELECT g, 'v' || g FROM generate_series(1, 500) g;
        ANALYZE;`)
      assert.equal((await run(db)).status, 'succeeded')
      const key = (g: number, plus = 0) => `${BigInt(g) * 8589934592n + BigInt(plus)}`
      // Alone in their bucket: 1 and 2000 (the ends) and 10; beside an insert: 500; moved within the bucket:
      // 800; taken over by the row of 900 (its key deleted first): 901; side by side: 1200 and 1201.
      await db.source.sql(`
        DELETE FROM public.wide WHERE id IN (${key(1)}, ${key(2000)}, ${key(10)}, ${key(500)}, ${key(901)}, ${key(1200)}, ${key(1201)});
        INSERT INTO public.wide VALUES (${key(500, 1)}, 'new');
        UPDATE public.wide SET id = ${key(800, 5)} WHERE id = ${key(800)};
        UPDATE public.wide SET id = ${key(901)} WHERE id = ${key(900)};
        UPDATE public.wide SET v = 'changed' WHERE id = ${key(1500)};
        DELETE FROM public.local WHERE id = 51;`)
      // A row of the target deleted by someone else, in the same range of keys as the source's delete.
      await db.target.sql(`DELETE FROM public.local WHERE id = 50`)
      await deletesCounted(db.source, ['public.wide'], 7)
      let report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      let wide = copied(report, 'public.wide')
      await assertSameRows(db, 'public.wide')
      await assertSameRows(db, 'public.local')
      assert.equal(wide.syncCompared, 'written', JSON.stringify(wide))
      assert.deepEqual(wide.sync, { inserted: 2, updated: 2, deleted: 8, unchanged: 1990 })
      const local = copied(report, 'public.local')
      assert.equal(local.syncCompared, 'all', JSON.stringify(local))
      assert.deepEqual(local.sync, { inserted: 1, updated: 0, deleted: 1, unchanged: 498 })

      // Frozen rows keep their xmin: both sides frozen, then one row updated and one deleted.
      await db.source.sql(`VACUUM (FREEZE) public.wide`)
      await db.target.sql(`VACUUM (FREEZE) public.wide`)
      const before = await deletes()
      await db.source.sql(`UPDATE public.wide SET v = 'after the freeze' WHERE id = ${key(3)};
        DELETE FROM public.wide WHERE id = ${key(4)}`)
      await deletesCounted(db.source, ['public.wide'], before + 1)
      report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      wide = copied(report, 'public.wide')
      await assertSameRows(db, 'public.wide')
      assert.equal(wide.syncCompared, 'written', JSON.stringify(wide))
      assert.deepEqual(wide.sync, { inserted: 0, updated: 1, deleted: 1, unchanged: 1992 })
    } finally {
      await db.drop()
    }
  })

  test('finds deletes, inserts and keys rewritten by their text over uuid, composite and numeric keys, whose buckets are hashes', async () => {
    const db = await databasePair(servers, 'attack_hashed')
    const names = ['ids', 'pairs', 'amounts']
    try {
      await db.source.sql(`
        CREATE TABLE public.ids (id uuid PRIMARY KEY, v text);
        INSERT INTO public.ids SELECT md5(g::text)::uuid, 'v' || g FROM generate_series(1, 3000) g;
        CREATE TABLE public.pairs (a text, b int, v text, PRIMARY KEY (a, b));
        INSERT INTO public.pairs SELECT 'k' || (g % 7), g, 'v' || g FROM generate_series(1, 3000) g;
        CREATE TABLE public.amounts (id numeric PRIMARY KEY, v text);
        INSERT INTO public.amounts SELECT g, 'v' || g FROM generate_series(1, 3000) g;
        ANALYZE;`)
      assert.equal((await run(db)).status, 'succeeded')
      await db.source.sql(`
        DELETE FROM public.ids WHERE id IN (md5('1')::uuid, md5('2')::uuid, md5('2999')::uuid);
        UPDATE public.ids SET id = md5('new')::uuid WHERE id = md5('7')::uuid;
        DELETE FROM public.pairs WHERE (a, b) IN (('k1', 1), ('k3', 3), ('k3', 10));
        UPDATE public.pairs SET a = 'moved' WHERE (a, b) = ('k5', 5);
        INSERT INTO public.pairs VALUES ('k3', 3, 'again');
        DELETE FROM public.amounts WHERE id IN (1, 2, 3000);
        -- Equal by =, another text: a change the sync must carry.
        UPDATE public.amounts SET id = 10.0 WHERE id = 10;
        UPDATE public.amounts SET id = 20.5 WHERE id = 20;`)
      await deletesCounted(db.source, ['public.ids', 'public.pairs', 'public.amounts'], 3)
      const report = await run(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      const expected = {
        ids: { inserted: 1, updated: 0, deleted: 4, unchanged: 2996 },
        pairs: { inserted: 1, updated: 1, deleted: 3, unchanged: 2996 },
        amounts: { inserted: 1, updated: 1, deleted: 4, unchanged: 2995 },
      }
      for (const name of names) {
        const table = copied(report, `public.${name}`)
        await assertSameRows(db, `public.${name}`)
        assert.equal(table.syncCompared, 'written', JSON.stringify(table))
        assert.deepEqual(table.sync, expected[name as keyof typeof expected], name)
      }
    } finally {
      await db.drop()
    }
  })

  test('brings the rows of a prepared transaction, one written in a released subtransaction, that commits after the last snapshot', async () => {
    // A source server of its own: prepared transactions need max_prepared_transactions, which is 0 by default.
    const source = await TestServer.start('attack-prepared', undefined, { max_prepared_transactions: 5 })
    const db = {
      source: await TestDatabase.create(source, 'attack_prepared'),
      target: await TestDatabase.create(servers.target, 'attack_prepared'),
    }
    try {
      await firstCopy(db)
      await db.source
        .sql(`BEGIN; SAVEPOINT s; UPDATE public.t SET v = 'prepared, in a subtransaction' WHERE id = 5;
        RELEASE SAVEPOINT s; UPDATE public.t SET v = 'prepared' WHERE id = 6; PREPARE TRANSACTION 'attack'`)
      await assertBroughtAfterCommit(db, () => db.source.sql(`COMMIT PREPARED 'attack'`))
    } finally {
      await db.source.sql(`ROLLBACK PREPARED 'attack'`).catch(() => {})
      await db.target.drop()
      await source.destroy()
    }
  })

  test("fails the table, rows kept, under verify: checksum when a trigger of the target's owner changes a value the sync writes", async () => {
    const db = await databasePair(servers, 'attack_trigger')
    const role = `tablehaul_attack_${process.pid}`
    const target = new URL(db.target.url)
    target.username = role
    target.password = 'attack-role-secret'
    const sync = (yaml: Record<string, unknown>) =>
      new TransferJob(
        testConfig({ source: db.source.url, target: target.toString(), mode: 'sync' }, { yaml }),
        {
          notifier: null,
        },
      ).run()
    try {
      // The table and its trigger belong to the target's owner: the target user cannot switch it off.
      await db.target.sql(`CREATE ROLE ${role} LOGIN PASSWORD 'attack-role-secret' NOSUPERUSER;
        GRANT CREATE, TEMP ON DATABASE ${db.target.name} TO ${role};
        CREATE TABLE public.t (id int PRIMARY KEY, v text);
        GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.t TO ${role};
        CREATE FUNCTION public.shout() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.v := upper(NEW.v); RETURN NEW; END';
        CREATE TRIGGER shout BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION public.shout();`)
      await db.source.sql(`CREATE TABLE public.t (id int PRIMARY KEY, v text);
        INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 300) g; ANALYZE public.t;`)
      assert.equal((await sync({ verify: 'checksum' })).status, 'succeeded')
      await assertSameRows(db, 'public.t')
      const kept = await rowsOf(db.target, 'public.t')
      await db.source.sql(`UPDATE public.t SET v = 'changed' WHERE id IN (3, 200)`)
      const report = await sync({ verify: 'checksum' })
      const table = report.tables.find((t) => t.table === 'public.t')
      assert.equal(table?.status, 'failed', JSON.stringify(table))
      assert.equal(table?.error?.code, 'CHECKSUM_MISMATCH', JSON.stringify(table))
      assert.deepEqual(await rowsOf(db.target, 'public.t'), kept, "the target's previous rows are kept")
    } finally {
      await db.drop()
      await withClient(servers.target.url, (c) => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => {})
    }
  })
})
