import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { assertSameRows, rowsOf } from '../helpers/fingerprint.js'
import { testServers } from '../helpers/servers.js'
import { runBetween } from '../helpers/sync-report.js'

// Divergences the sync fuzzer found (test/helpers/sync-fuzz.ts, bench/experiments/sync-fuzz), each made
// small and deterministic: the seed that found it is named in each test.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

describe('mode: sync, cases the fuzzer found', () => {
  test('fills an empty target table that a synced table references (seed 11: TRUNCATE refused it)', async () => {
    const db: DatabasePair = await databasePair(servers, 'fz_empty_parent')
    try {
      // Every parent deleted, the children kept with their key set to NULL: the parent's target table is
      // empty after the copy, and the child's key to it is kept by the sync of both.
      // A sync empties the parent's target table (every parent deleted on the source, the children kept with
      // their key set to NULL); the next sync finds it empty and loads it in full, while the child's key to
      // it stays on, kept by the sync of both tables.
      await db.source.sql(`
        CREATE TABLE public.parent (id int PRIMARY KEY, v text);
        CREATE TABLE public.child (id int PRIMARY KEY, parent_id int REFERENCES public.parent ON DELETE SET NULL);
        INSERT INTO public.parent SELECT g, 'p' || g FROM generate_series(1, 300) g;
        INSERT INTO public.child SELECT g, g FROM generate_series(1, 5) g;`)
      const first = await runBetween(db, 'replace')
      assert.equal(first.status, 'succeeded', JSON.stringify(first.tables))
      await db.source.sql(`DELETE FROM public.parent`)
      const emptied = await runBetween(db, 'sync')
      assert.equal(emptied.status, 'succeeded', JSON.stringify(emptied.tables))
      await db.source.sql(`INSERT INTO public.parent SELECT g, 'p' || g FROM generate_series(1, 3) g;
        UPDATE public.child SET parent_id = 2 WHERE id = 1;`)
      // Statistics reset: nothing predicts a reload of either table, which would lift the key for the run.
      await db.source.sql(`SELECT pg_stat_reset()`)
      const report = await runBetween(db, 'sync')
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      await assertSameRows(db, 'public.parent')
      await assertSameRows(db, 'public.child')
      // The key stayed on: it still checks the target's rows.
      const keys = await db.target.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'public.child'::regclass AND contype = 'f' AND convalidated`,
      )
      assert.equal(keys[0]!.n, 1)
    } finally {
      await db.drop()
    }
  })
  test('keeps the rows that reference a row whose key moved to a row with another identity value (seeds 6009, 7009)', async () => {
    const db: DatabasePair = await databasePair(servers, 'fz_identity_swap')
    try {
      // A GENERATED ALWAYS identity column outside the key: an UPDATE cannot set it, so a target row whose
      // value differs is deleted and inserted again. The child is larger, so with one table at a time it
      // syncs (and commits) first; few rows change on either side, so neither is reloaded.
      await db.source.sql(`
        CREATE TABLE public.parent (k int PRIMARY KEY, ident bigint GENERATED ALWAYS AS IDENTITY, v text);
        CREATE TABLE public.child (id int PRIMARY KEY, k int REFERENCES public.parent ON UPDATE CASCADE ON DELETE SET NULL, body text);
        INSERT INTO public.parent (k, v) SELECT g, 'p' || g FROM generate_series(1, 200) g;
        INSERT INTO public.child SELECT g, g, repeat('x', 400) FROM generate_series(1, 200) g;`)
      const first = await runBetween(db, 'replace')
      assert.equal(first.status, 'succeeded', JSON.stringify(first.tables))
      // Keys 1 and 2 swapped between their rows (each keeps its identity value); the children follow.
      await db.source.sql(`BEGIN;
        UPDATE public.parent SET k = 1000 WHERE k = 1;
        UPDATE public.parent SET k = 1 WHERE k = 2;
        UPDATE public.parent SET k = 2 WHERE k = 1000;
        COMMIT;`)
      const report = await runBetween(db, 'sync', { jobs: 1 })
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      await assertSameRows(db, 'public.parent')
      await assertSameRows(db, 'public.child')
      const keys = await db.target.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'public.child'::regclass AND contype = 'f' AND convalidated`,
      )
      assert.equal(keys[0]!.n, 1)
    } finally {
      await db.drop()
    }
  })
  test('fails, rows kept, rather than fire a local key ON DELETE CASCADE for a key that moved to a row with another identity value', async () => {
    const db: DatabasePair = await databasePair(servers, 'fz_identity_local')
    try {
      await db.source.sql(`
        CREATE TABLE public.parent (k int PRIMARY KEY, ident bigint GENERATED ALWAYS AS IDENTITY, v text);
        INSERT INTO public.parent (k, v) SELECT g, 'p' || g FROM generate_series(1, 200) g;`)
      const first = await runBetween(db, 'replace')
      assert.equal(first.status, 'succeeded', JSON.stringify(first.tables))
      // A table only the target has, whose rows reference two parents; the source deletes neither.
      await db.target.sql(`
        CREATE TABLE public.local_notes (id int PRIMARY KEY, k int REFERENCES public.parent ON DELETE CASCADE, note text);
        INSERT INTO public.local_notes VALUES (1, 1, 'mine'), (2, 2, 'mine too');`)
      await db.source.sql(`BEGIN;
        UPDATE public.parent SET k = 1000 WHERE k = 1;
        UPDATE public.parent SET k = 1 WHERE k = 2;
        UPDATE public.parent SET k = 2 WHERE k = 1000;
        COMMIT;`)
      const before = await rowsOf(db.target, 'public.parent')
      const refused = await runBetween(db, 'sync')
      const parent = refused.tables.find((t) => t.table === 'public.parent')
      assert.equal(parent?.status, 'failed', JSON.stringify(refused.tables))
      assert.match(parent?.error?.message ?? '', /GENERATED ALWAYS identity column ident .* local_notes/)
      assert.deepEqual(await rowsOf(db.target, 'public.parent'), before)
      const notes = () => db.target.sql<{ n: number }>(`SELECT count(*)::int AS n FROM public.local_notes`)
      assert.equal((await notes())[0]!.n, 2)
      // What the hint says: the column set by an UPDATE, the rows stay in place.
      await db.target.sql(`ALTER TABLE public.parent ALTER COLUMN ident SET GENERATED BY DEFAULT`)
      const report = await runBetween(db, 'sync')
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      await assertSameRows(db, 'public.parent')
      assert.equal((await notes())[0]!.n, 2)
    } finally {
      await db.drop()
    }
  })
})
