import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { RunReport, TableResult } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { assertAll, copied, notes } from '../helpers/sync-report.js'
import { PRIMARY_SETTINGS, TestDatabase, TestServer, testServers, withClient } from '../helpers/servers.js'

// mode: sync reading only the rows written since the last copy (src/steps/sync/since.ts) when the source is
// a streaming replica: promoted after a failover (its transaction ids then repeat ones the old primary had
// used, which the last copy's snapshot saw committed), or a hot standby read directly. Servers of this file's
// own: a primary and two standbys made from a copy of its data directory; the target is the shared one.

let servers: Awaited<ReturnType<typeof testServers>> | undefined
let primary: TestServer | undefined
let promotable: TestServer | undefined
let standby: TestServer | undefined
const databases: TestDatabase[] = []

before(async () => {
  servers = await testServers()
  primary = await TestServer.start('failover-primary', undefined, PRIMARY_SETTINGS)
  // The source databases exist before the copies, so both standbys have them from the start.
  databases.push(
    await TestDatabase.create(primary, 'failover_src'),
    await TestDatabase.create(primary, 'standby_src'),
  )
  promotable = await primary.startStandby('failover-promoted')
  standby = await primary.startStandby('failover-standby')
})

after(async () => {
  await Promise.allSettled(databases.filter((db) => db.server === servers?.target).map((db) => db.drop()))
  await Promise.allSettled([primary?.destroy(), promotable?.destroy(), standby?.destroy(), servers?.stop()])
})

/** A database to read or write, by its URL. */
interface Endpoint {
  readonly url: string
}

/** A sync from `source` into `target`, which must succeed. */
async function run(source: Endpoint, target: Endpoint): Promise<RunReport> {
  const job = new TransferJob(testConfig({ source: source.url, target: target.url, mode: 'sync' }), {
    notifier: null,
  })
  const report = await job.run()
  assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
  return report
}

/** The sync read only the rows written since the last copy (these servers run nothing but this file). */
function assertWritten(report: RunReport, name: string): TableResult {
  const table = copied(report, name)
  assert.equal(table.syncCompared, 'written', `${name}: ${JSON.stringify(table)}`)
  assert.doesNotMatch(notes(table), /compared every row/, name)
  return table
}

const TIMELINE_SWITCHED = /the source switched timelines since the last copy \(a restore or a promotion\)/
const STANDBY_BEHIND =
  /the source is a standby whose snapshot may not yet include all that the last copy's saw/

async function one<R>(url: string, sql: string): Promise<R> {
  return withClient(url, async (client) => (await client.query(sql)).rows[0] as R)
}

/** The standby has replayed all the WAL its primary had written when this was called. */
async function caughtUp(replica: TestServer, of: TestServer): Promise<void> {
  // The insert position, not the write position: the test servers commit asynchronously (servers.ts), so a
  // commit that has returned may not be written yet, and a standby replayed up to the write position would
  // not have it.
  const { lsn } = await one<{ lsn: string }>(of.url, `SELECT pg_current_wal_insert_lsn()::text AS lsn`)
  await waitFor(
    async () =>
      (
        await one<{ done: boolean }>(
          replica.url,
          `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`,
        )
      ).done,
    30_000,
    `${replica.name} to replay the WAL up to ${lsn}`,
  )
}

/**
 * Ends the standby's streaming: what the primary writes from now on never reaches it. (Pausing replay is
 * not enough: at a promotion the startup process replays the WAL already received before it ends recovery,
 * so a paused standby that had received the writes comes up with them.) An empty primary_conninfo, reloaded,
 * stops the WAL receiver and starts none.
 */
async function cutStream(replica: TestServer, from: TestServer): Promise<void> {
  await withClient(replica.url, async (client) => {
    await client.query(`ALTER SYSTEM SET primary_conninfo = ''`)
    await client.query(`SELECT pg_reload_conf()`)
  })
  await waitFor(
    async () => {
      const [receiving, sending] = await Promise.all([
        one<{ n: number }>(replica.url, `SELECT count(*)::int AS n FROM pg_stat_wal_receiver`),
        one<{ n: number }>(
          from.url,
          `SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name = '${replica.name}'`,
        ),
      ])
      return receiving.n === 0 && sending.n === 0
    },
    30_000,
    `${replica.name} to stop streaming from ${from.name}`,
  )
}

/** The WAL timeline a primary writes on now (what since.ts records for a primary). */
async function timeline(server: TestServer): Promise<number> {
  const { file } = await one<{ file: string }>(
    server.url,
    `SELECT pg_walfile_name(pg_current_wal_lsn()) AS file`,
  )
  return parseInt(file.slice(0, 8), 16)
}

/** The source position the last sync of `table` recorded on the target. */
async function recorded(target: TestDatabase, table: string): Promise<{ xmax: bigint; timeline: string }> {
  const [mark] = await target.sql<{ xmax: string; timeline: string }>(
    `SELECT since->'source'->>'xmax' AS xmax, since->'source'->>'timeline' AS timeline
       FROM tablehaul.sync_marks WHERE table_schema = 'public' AND table_name = $1`,
    [table],
  )
  assert.ok(mark?.xmax, `a position is recorded for ${table}`)
  return { xmax: BigInt(mark.xmax), timeline: mark.timeline }
}

/** 1,000 rows (id, v): a few changed stay far below the share that turns a sync into a reload. */
const TABLE = `CREATE TABLE public.t (id int PRIMARY KEY, v text);
  INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 1000) g; ANALYZE public.t;`

describe('a sync from a streaming replica', () => {
  test('after a failover to a replica that had not received the last copy’s writes, compares every row and brings the promoted server’s rows exactly', async () => {
    const source = databases[0]!
    const target = await TestDatabase.create(servers!.target, 'failover_tgt')
    databases.push(target)
    const promoted = { url: promotable!.urlFor(source.name) }
    await source.sql(TABLE)
    copied(await run(source, target), 'public.t')
    await caughtUp(promotable!, primary!)
    await cutStream(promotable!, primary!)

    // Writes the replica never gets, which the next sync from the primary sees.
    await source.sql(`UPDATE public.t SET v = 'primary' WHERE id BETWEEN 1 AND 5`)
    await source.sql(`INSERT INTO public.t VALUES (2001, 'primary')`)
    await source.sql(`DELETE FROM public.t WHERE id = 10`)
    assert.deepEqual(assertWritten(await run(source, target), 'public.t').sync, {
      inserted: 1,
      updated: 5,
      deleted: 1,
      unchanged: 994,
    })
    await assertSameRows({ source, target }, 'public.t')
    const mark = await recorded(target, 't')

    await withClient(promotable!.url, (client) => client.query(`SELECT pg_promote()`))
    await waitFor(
      async () =>
        !(await one<{ standby: boolean }>(promotable!.url, `SELECT pg_is_in_recovery() AS standby`)).standby,
      30_000,
      'the replica to leave recovery',
    )
    assert.equal(String(await timeline(primary!)), mark.timeline, 'the mark records the primary’s timeline')
    assert.notEqual(
      await timeline(promotable!),
      await timeline(primary!),
      'the promotion began a new timeline',
    )

    // The promoted server hands out again the ids the primary used for the writes above: its rows carry
    // xmins that the recorded snapshot saw committed.
    await withClient(promoted.url, async (client) => {
      const { rows } = await client.query<{ xid: string }>(`SELECT txid_current()::text AS xid`)
      assert.ok(
        BigInt(rows[0]!.xid) < mark.xmax,
        `the promoted server's next id ${rows[0]!.xid} is one the primary had used (its snapshot's xmax ${mark.xmax})`,
      )
      await client.query(`UPDATE public.t SET v = 'promoted' WHERE id BETWEEN 20 AND 24`)
      await client.query(`INSERT INTO public.t VALUES (3001, 'promoted')`)
      await client.query(`DELETE FROM public.t WHERE id = 30`)
      // Past the recorded xmax, so that the ids do not merely look as if they went back (a restore): only
      // the timeline now tells that the ids below it are not the ones the last copy saw.
      for (;;) {
        const { rows: next } = await client.query<{ xid: string }>(`SELECT txid_current()::text AS xid`)
        if (BigInt(next[0]!.xid) > mark.xmax) break
      }
    })
    const reused = await one<{ n: number }>(
      promoted.url,
      `SELECT count(*)::int AS n FROM public.t WHERE v = 'promoted' AND xmin::text::bigint < ${mark.xmax}`,
    )
    assert.equal(reused.n, 6, 'the promoted rows (5 updated, 1 inserted) carry ids below the recorded xmax')

    const report = await run(promoted, target)
    // Rows first: without the timeline check, the sync reads no row as written since (every xmin is one the
    // mark saw committed), counts as many keys on both sides, and leaves the primary's lost writes in place.
    await assertSameRows({ source: promoted, target }, 'public.t')
    // The primary's lost writes undone (5 updated back, id 10 back, 2001 gone), the promoted server's brought.
    assert.deepEqual(assertAll(report, 'public.t', TIMELINE_SWITCHED).sync, {
      inserted: 2,
      updated: 10,
      deleted: 2,
      unchanged: 988,
    })

    // The new mark is on the promoted server's timeline: the next sync reads only what was written since.
    await withClient(promoted.url, (client) => client.query(`UPDATE public.t SET v = 'later' WHERE id = 50`))
    assert.equal(assertWritten(await run(promoted, target), 'public.t').sync?.updated, 1)
    await assertSameRows({ source: promoted, target }, 'public.t')
  })

  test('from a hot standby, reads only the rows written since when its snapshot includes the last copy’s, and compares every row while it lags behind', async () => {
    const source = databases[1]!
    const target = await TestDatabase.create(servers!.target, 'standby_tgt')
    databases.push(target)
    const replica = { url: standby!.urlFor(source.name) }
    await source.sql(TABLE)
    copied(await run(source, target), 'public.t')
    await source.sql(`UPDATE public.t SET v = 'primary' WHERE id BETWEEN 1 AND 5`)
    assert.equal(assertWritten(await run(source, target), 'public.t').sync?.updated, 5)
    await assertSameRows({ source, target }, 'public.t')

    // Caught up, the standby's snapshot has every transaction the primary's had seen end: the mark holds.
    await caughtUp(standby!, primary!)
    await source.sql(`UPDATE public.t SET v = 'before the standby sync' WHERE id = 6`)
    await caughtUp(standby!, primary!)
    let report = await run(replica, target)
    await assertSameRows({ source: replica, target }, 'public.t')
    assert.equal(assertWritten(report, 'public.t').sync?.updated, 1)

    // Its replay paused, the standby is behind a later sync from the primary: its snapshot may lack rows
    // that sync brought, which no xmin would point at; every row is compared, the primary's newer rows undone.
    await withClient(standby!.url, (client) => client.query(`SELECT pg_wal_replay_pause()`))
    await waitFor(
      async () =>
        (await one<{ state: string }>(standby!.url, `SELECT pg_get_wal_replay_pause_state() AS state`))
          .state === 'paused',
      30_000,
      'the standby to pause its replay',
    )
    await source.sql(`UPDATE public.t SET v = 'primary, not replayed' WHERE id BETWEEN 40 AND 44`)
    await source.sql(`DELETE FROM public.t WHERE id = 45`)
    report = await run(source, target)
    assertWritten(report, 'public.t')
    await assertSameRows({ source, target }, 'public.t')
    report = await run(replica, target)
    await assertSameRows({ source: replica, target }, 'public.t')
    assert.deepEqual(assertAll(report, 'public.t', STANDBY_BEHIND).sync, {
      inserted: 1,
      updated: 5,
      deleted: 0,
      unchanged: 994,
    })

    // Replay resumed and caught up: the standby's snapshot includes its own last one, then the primary's
    // includes the standby's.
    await withClient(standby!.url, (client) => client.query(`SELECT pg_wal_replay_resume()`))
    await caughtUp(standby!, primary!)
    report = await run(replica, target)
    await assertSameRows({ source: replica, target }, 'public.t')
    assert.deepEqual(assertWritten(report, 'public.t').sync, {
      inserted: 0,
      updated: 5,
      deleted: 1,
      unchanged: 994,
    })
    await source.sql(`UPDATE public.t SET v = 'after the standby' WHERE id = 7`)
    report = await run(source, target)
    await assertSameRows({ source, target }, 'public.t')
    assert.equal(assertWritten(report, 'public.t').sync?.updated, 1)
  })
})
