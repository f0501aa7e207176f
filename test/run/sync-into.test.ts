import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type DatabasePair, withDatabasePair } from '../helpers/database-pair.js'
import { rowsOf } from '../helpers/fingerprint.js'
import { copied, notes, runBetween as run } from '../helpers/sync-report.js'
import { testServers } from '../helpers/servers.js'

// A nightly sync of a table keyed by a bigserial column into a table of another schema on the target
// (into:), all of it or the rows a where: selects.

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
      CREATE TABLE public.orders (id bigserial PRIMARY KEY, status text NOT NULL);
      INSERT INTO public.orders (status) SELECT CASE WHEN g % 10 = 0 THEN 'paid' ELSE 'new' END FROM generate_series(1, 1000) g;`,
    body,
  )
}

/** The source's rows (those `where` selects) and the target table's, each as text. */
async function assertSame(db: DatabasePair, into: string, where = 'true'): Promise<void> {
  const expected = await db.source.sql<{ row: string }>(
    `SELECT ROW(o.*)::text AS row FROM public.orders o WHERE ${where} ORDER BY ROW(o.*)::text COLLATE "C"`,
  )
  assert.deepEqual(
    await rowsOf(db.target, into),
    expected.map((r) => r.row),
  )
}

describe('a sync into a table of another schema', () => {
  test('creates the table with its bigserial column there, and syncs only what changed the next night', () =>
    withPair('sync_into_schema', async (db) => {
      const tables = [{ name: 'public.orders', into: 'reporting.orders' }]
      const first = await run(db, 'sync', { tables })
      assert.equal(first.status, 'succeeded', JSON.stringify(first.tables))
      await db.source.sql(`UPDATE public.orders SET status = 'sent' WHERE id <= 3;
        INSERT INTO public.orders (status) VALUES ('new'), ('new'); DELETE FROM public.orders WHERE id = 500`)
      const table = copied(await run(db, 'sync', { tables }), 'reporting.orders')
      assert.equal(table.syncCompared, 'written', notes(table))
      assert.deepEqual(table.sync, { inserted: 2, updated: 3, deleted: 1, unchanged: 996 })
      await assertSame(db, 'reporting.orders')
      // The column's default still draws from a sequence set to the source's position.
      const [next] = await db.target.sql<{ id: string }>(
        `INSERT INTO reporting.orders (status) VALUES ('local') RETURNING id::text AS id`,
      )
      assert.equal(next?.id, '1003')
    }))

  test('with where:, deletes the rows that left the filter and inserts those that entered it', () =>
    withPair('sync_into_where', async (db) => {
      const tables = [{ name: 'public.orders', into: 'reporting.paid', where: "status = 'paid'" }]
      assert.equal((await run(db, 'sync', { tables })).status, 'succeeded')
      await db.source.sql(`UPDATE public.orders SET status = 'new' WHERE id IN (10, 20);
        UPDATE public.orders SET status = 'paid' WHERE id IN (11, 12, 13)`)
      const table = copied(await run(db, 'sync', { tables }), 'reporting.paid')
      assert.equal(table.syncCompared, 'all')
      assert.deepEqual(table.sync, { inserted: 3, updated: 0, deleted: 2, unchanged: 98 })
      await assertSame(db, 'reporting.paid', "status = 'paid'")
    }))

  test('into: another name in the same schema leaves the sequence to the copy of the source table there', () =>
    withPair('sync_into_same_schema', async (db) => {
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      const tables = [{ name: 'public.orders', into: 'public.orders_paid', where: "status = 'paid'" }]
      assert.equal((await run(db, 'sync', { tables })).status, 'succeeded')
      const owner = () =>
        db.target.sql<{ owner: string }>(
          `SELECT d.refobjid::regclass::text AS owner FROM pg_depend d
            WHERE d.objid = 'public.orders_id_seq'::regclass AND d.deptype = 'a'`,
        )
      assert.deepEqual(await owner(), [{ owner: 'orders' }])
      // Re-created, the table under the other name drops only what is its own: not the sequence that the
      // copy of the source table draws its ids from.
      const recreated = await run(db, 'recreate' as 'replace', { tables })
      assert.equal(recreated.status, 'succeeded', JSON.stringify(recreated.tables))
      assert.doesNotMatch(notes(copied(recreated, 'public.orders_paid')), /also dropped/)
      const [column] = await db.target.sql<{ default: string | null }>(
        `SELECT pg_get_expr(d.adbin, d.adrelid) AS default FROM pg_attrdef d
          WHERE d.adrelid = 'public.orders'::regclass AND d.adnum = 1`,
      )
      assert.match(column?.default ?? '', /nextval\('orders_id_seq'::regclass\)/)
      assert.deepEqual(await owner(), [{ owner: 'orders' }])
    }))

  test('into: another name in the same schema gets its own key and indexes, and syncs by that key', () =>
    withPair('sync_into_same_keys', async (db) => {
      // One named as PostgreSQL names them, one not: both names are taken in the schema by the target's copy
      // of orders.
      await db.source.sql(`CREATE INDEX orders_status_idx ON public.orders (status);
        CREATE INDEX by_status_and_id ON public.orders (status, id)`)
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      const tables = [{ name: 'public.orders', into: 'public.orders_paid', where: "status = 'paid'" }]
      const first = copied(await run(db, 'sync', { tables }), 'public.orders_paid')
      assert.doesNotMatch(notes(first), /could not be created/)
      const indexes = await db.target.sql<{ name: string; definition: string }>(
        `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition FROM pg_index
          WHERE indrelid = 'public.orders_paid'::regclass ORDER BY 1`,
      )
      assert.deepEqual(
        indexes.map((i) => i.name),
        ['orders_paid_by_status_and_id', 'orders_paid_pkey', 'orders_paid_status_idx'],
      )
      await db.source.sql(`UPDATE public.orders SET status = 'paid' WHERE id = 11`)
      const table = copied(await run(db, 'sync', { tables }), 'public.orders_paid')
      assert.equal(table.mode, 'sync', notes(table))
      assert.deepEqual(table.sync, { inserted: 1, updated: 0, deleted: 0, unchanged: 100 })
      await assertSame(db, 'public.orders_paid', "status = 'paid'")
    }))
})
