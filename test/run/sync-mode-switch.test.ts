import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type DatabasePair, withDatabasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { copied, notes, runBetween as run } from '../helpers/sync-report.js'
import { testServers } from '../helpers/servers.js'

// A table whose mode changes between nights (replace, recreate, append, sync): the sync that follows says
// truly why it reads only the written rows or compares every row.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const ORDERS = `
  CREATE TABLE public.orders (id int PRIMARY KEY, status text);
  INSERT INTO public.orders SELECT g, 'new' FROM generate_series(1, 2000) g;
`

/** A pair whose source holds the file's table (see withDatabasePair). */
function withPair(name: string, body: (db: DatabasePair) => Promise<void>): Promise<void> {
  return withDatabasePair(servers, name, ORDERS, body)
}

describe('a sync after a run in another mode', () => {
  test('after mode recreate, reads only the rows written since: the recreate recorded where it stopped', () =>
    withPair('sync_after_recreate', async (db) => {
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      await db.source.sql(`UPDATE public.orders SET status = 'paid' WHERE id <= 5`)
      assert.equal((await run(db, 'recreate' as 'replace')).status, 'succeeded')
      await db.source.sql(`UPDATE public.orders SET status = 'sent' WHERE id BETWEEN 10 AND 12`)
      const table = copied(await run(db, 'sync'), 'public.orders')
      assert.equal(table.syncCompared, 'written', notes(table))
      assert.deepEqual(table.sync, { inserted: 0, updated: 3, deleted: 0, unchanged: 1997 })
      await assertSameRows(db, 'public.orders')
    }))

  test('after mode append, says the rows may be the append run’s, not only someone else’s', () =>
    withPair('sync_after_append', async (db) => {
      assert.equal((await run(db, 'replace')).status, 'succeeded')
      await db.source.sql(`INSERT INTO public.orders SELECT g, 'new' FROM generate_series(2001, 2010) g`)
      const appended = await run(db, 'append' as 'replace', {
        tables: [{ name: 'public.orders', where: 'id > 2000' }],
      })
      assert.equal(copied(appended, 'public.orders').rows, 10)
      await db.source.sql(`UPDATE public.orders SET status = 'sent' WHERE id BETWEEN 10 AND 12`)
      const table = copied(await run(db, 'sync'), 'public.orders')
      assert.equal(table.syncCompared, 'all')
      assert.match(notes(table), /compared every row: 10 row\(s\) of the target table were written since/)
      assert.match(notes(table), /mode: append/)
      assert.deepEqual(table.sync, { inserted: 0, updated: 3, deleted: 0, unchanged: 2007 })
      await assertSameRows(db, 'public.orders')
    }))

  test('an append whose rows the target has already fails saying so, and points to mode: sync', () =>
    withPair('append_again', async (db) => {
      assert.equal((await run(db, 'sync')).status, 'succeeded')
      await db.source.sql(`INSERT INTO public.orders SELECT g, 'new' FROM generate_series(2001, 2010) g`)
      const appended = await run(db, 'append' as 'replace', {
        tables: [{ name: 'public.orders', where: 'id > 1990' }],
      })
      const table = appended.tables.find((t) => t.table === 'public.orders')
      assert.equal(table?.status, 'failed')
      assert.equal(table.error?.sqlState, '23505')
      assert.match(table.error?.hint ?? '', /already has rows .* where: .* mode: sync/)
      assert.doesNotMatch(table.error?.hint ?? '', /mode: recreate/)
    }))
})
