import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import type { RunReport, TableResult } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { testServers } from '../helpers/servers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * public.orders (40,000 rows) synced once, then 2,000 of its rows given a 2 kB note on the source: about 4 MB
 * of changed rows for the sync to fetch, in about half of its key buckets (below the switch to a reload).
 * public.small has one changed row. Both tables are synced by a job of their own, one table at a time.
 */
async function scene(name: string): Promise<DatabasePair> {
  const db = await databasePair(servers, name)
  await db.source.sql(`
    CREATE TABLE public.orders (id int PRIMARY KEY, note text);
    INSERT INTO public.orders SELECT g, 'o' || g FROM generate_series(1, 40000) g;
    CREATE TABLE public.small (id int PRIMARY KEY, v text);
    INSERT INTO public.small SELECT g, 'v' FROM generate_series(1, 100) g;
    ANALYZE;
  `)
  const first = await job(db, db.source.url).run()
  assert.equal(first.status, 'succeeded', JSON.stringify(first.tables))
  await db.source.sql(`
    UPDATE public.orders SET note = repeat(md5(id::text), 64) WHERE id % 20 = 0;
    UPDATE public.small SET v = 'w' WHERE id = 1;
  `)
  return db
}

function job(db: DatabasePair, sourceUrl: string, timeouts: Record<string, number> = {}): TransferJob {
  const config = testConfig({ source: sourceUrl, target: db.target.url, mode: 'sync' })
  config.jobs = 1
  config.retry = { attempts: 1, backoff: 0 }
  Object.assign(config.timeouts, timeouts)
  return new TransferJob(config, { notifier: null })
}

function result(report: RunReport, name: string): TableResult {
  const found = report.tables.find((t) => t.table === name)
  assert.ok(found, `${name} is in the report: ${JSON.stringify(report.tables)}`)
  return found
}

/** Whether a statement of the target's sessions that starts with `prefix` is running, and waiting on what. */
async function running(db: DatabasePair, prefix: string, waitingOn?: 'Lock'): Promise<boolean> {
  const [row] = await db.target.sql<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND state = 'active' AND starts_with(query, $1)
        AND ($2::text IS NULL OR wait_event_type = $2)`,
    [prefix, waitingOn ?? null],
  )
  return row!.n > 0
}

describe('a sync phase that hangs fails its table, keeping the old rows, and the run goes on', () => {
  test('the source link freezes while the changed rows come: the stall timeout, not the statement timeout, ends it', async () => {
    const db = await scene('sync_hang_fetch')
    const proxy = await TcpProxy.start(db.source.url)
    try {
      const before = await fingerprint(db.target.url, 'public.orders')
      // Slow enough that the 4 MB of changed rows take seconds; the hashing passes move a few hundred kB.
      proxy.throttle(1024 * 1024)
      const run = job(db, proxy.urlFor(db.source.url), { stall: 2000, statement: 3_600_000 })
      let frozenAt = -1
      let failedAt = -2
      run.on('table.failed', () => {
        failedAt = proxy.bytes
        proxy.thaw()
      })
      const finished = run.run()
      // The COPY of the changed rows into the sync's temporary table is under way on the target.
      await waitFor(
        () => running(db, 'COPY pg_temp.tablehaul_sync_rows'),
        60_000,
        'the changed rows to be fetched',
      )
      proxy.freeze()
      frozenAt = proxy.bytes
      const report = await finished
      const orders = result(report, 'public.orders')
      assert.equal(orders.status, 'failed', JSON.stringify(orders))
      assert.equal(orders.error?.code, 'COPY_STALLED')
      assert.match(orders.error?.message ?? '', /nothing moved for \ds while fetching the changed rows/)
      // Not a byte moved between the freeze and the failure: the watchdog ended the wait (under the
      // statement timeout of an hour it would have hung until the test runner's time limit).
      assert.equal(failedAt, frozenAt, 'the table failed while its link was frozen')
      assert.deepEqual(await fingerprint(db.target.url, 'public.orders'), before, 'the old rows, exactly')
      assert.equal(result(report, 'public.small').status, 'copied', 'the run went on with the next table')
      assert.deepEqual(
        await fingerprint(db.target.url, 'public.small'),
        await fingerprint(db.source.url, 'public.small'),
      )
    } finally {
      proxy.thaw()
      await proxy.close()
      await db.drop()
    }
  })

  test('the source link freezes during the bucket comparison: the statement timeout ends it', async () => {
    const db = await scene('sync_hang_buckets')
    const proxy = await TcpProxy.start(db.source.url)
    try {
      const before = await fingerprint(db.target.url, 'public.orders')
      // Without the position the last copy recorded (since.ts) the sync compares every row by its hash.
      await db.target.sql(`UPDATE tablehaul.sync_marks SET since = NULL`)
      // No byte moves until a server has hashed the whole table, so this pass is bounded as a statement is.
      const run = job(db, proxy.urlFor(db.source.url), { stall: 3_600_000, statement: 5000 })
      // Slow once the tables are copied, so that the bucket sums (~150 kB) take seconds to come.
      run.on('step.started', ({ step }) => {
        if (step === 'copy') proxy.throttle(32 * 1024)
      })
      let frozenAt = -1
      let failedAt = -2
      run.on('table.failed', () => {
        failedAt = proxy.bytes
        proxy.thaw()
      })
      // The first bytes of the table are its bucket sums (the target's come at once, the source's squeeze
      // through the throttled link): the servers may have written them all into socket buffers by then,
      // so no statement of theirs is seen running, but the client still waits for the source's.
      let bucketsFlowing = false
      run.on('table.progress', ({ table, bytes }) => {
        if (table === 'public.orders' && bytes > 0) bucketsFlowing = true
      })
      const finished = run.run()
      await waitFor(async () => bucketsFlowing, 60_000, 'the bucket sums to come')
      proxy.freeze()
      frozenAt = proxy.bytes
      proxy.throttle(0)
      const report = await finished
      const orders = result(report, 'public.orders')
      assert.equal(orders.status, 'failed', JSON.stringify(orders))
      assert.equal(orders.error?.code, 'COPY_STALLED')
      assert.match(orders.error?.message ?? '', /while finding the differences/)
      assert.equal(failedAt, frozenAt, 'the table failed while its link was frozen')
      assert.deepEqual(await fingerprint(db.target.url, 'public.orders'), before, 'the old rows, exactly')
      assert.equal(result(report, 'public.small').status, 'copied', 'the run went on with the next table')
    } finally {
      proxy.thaw()
      await proxy.close()
      await db.drop()
    }
  })

  test('the source link drops during the bucket comparison: the table fails at once, not when the statement timeout ends the wait on the target', async () => {
    const db = await scene('sync_drop_buckets')
    const proxy = await TcpProxy.start(db.source.url)
    try {
      const before = await fingerprint(db.target.url, 'public.orders')
      await db.target.sql(`UPDATE tablehaul.sync_marks SET since = NULL`)
      // A statement timeout the test outlives: the table must fail by the lost link, not by the watchdog.
      const run = job(db, proxy.urlFor(db.source.url), { stall: 3_600_000, statement: 3_600_000 })
      run.on('step.started', ({ step }) => {
        if (step === 'copy') proxy.throttle(32 * 1024)
      })
      let bucketsFlowing = false
      run.on('table.progress', ({ table, bytes }) => {
        if (table === 'public.orders' && bytes > 0) bucketsFlowing = true
      })
      const finished = run.run()
      await waitFor(async () => bucketsFlowing, 60_000, 'the bucket sums to come')
      // The source's sums stop with an error while the target's are still unread: the target's COPY must
      // be read to its end, or its connection never answers the ROLLBACK.
      proxy.cut('all')
      proxy.throttle(0)
      const report = await finished
      const orders = result(report, 'public.orders')
      assert.equal(orders.status, 'failed', JSON.stringify(orders))
      assert.notEqual(orders.error?.code, 'COPY_STALLED', JSON.stringify(orders.error))
      assert.deepEqual(await fingerprint(db.target.url, 'public.orders'), before, 'the old rows, exactly')
    } finally {
      await proxy.close()
      await db.drop()
    }
  })

  test('a changed row is locked by another session while the sync writes it: the lock timeout ends the wait', async () => {
    const db = await scene('sync_hang_lock')
    const holder = new pg.Client(db.target.url)
    await holder.connect()
    try {
      const before = await fingerprint(db.target.url, 'public.orders')
      // A row lock lets the sync lock the table against other writers and find the differences, but its
      // UPDATE of that row waits. No timeout but the lock's is short.
      await holder.query('BEGIN; SELECT id FROM public.orders WHERE id = 20 FOR UPDATE')
      const run = job(db, db.source.url, { lock: 2000, stall: 3_600_000, statement: 3_600_000 })
      let sawWait = false
      run.on('table.failed', () => {
        void holder.query('COMMIT')
      })
      const finished = run.run()
      await waitFor(
        async () => (sawWait = await running(db, 'UPDATE ONLY "public"."orders"', 'Lock')),
        60_000,
        "the sync's UPDATE to wait for the lock",
      ).catch(() => {})
      const report = await finished
      assert.ok(sawWait, 'the UPDATE waited for the lock')
      const orders = result(report, 'public.orders')
      assert.equal(orders.status, 'failed', JSON.stringify(orders))
      assert.match(orders.error?.message ?? '', /lock timeout/)
      assert.deepEqual(await fingerprint(db.target.url, 'public.orders'), before, 'the old rows, exactly')
      assert.equal(result(report, 'public.small').status, 'copied', 'the run went on with the next table')
    } finally {
      await holder.end().catch(() => {})
      await db.drop()
    }
  })
})
