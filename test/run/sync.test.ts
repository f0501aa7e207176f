import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import type { RunReport, TableResult } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { runCli, spawnCli, waitFor } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { readRunLog, recordsSoFar } from '../helpers/logs.js'
import { outboxMessages } from '../helpers/outbox.js'
import { testServers, withClient } from '../helpers/servers.js'
import { assertSameRows, rowsOf } from '../helpers/fingerprint.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

async function sync(
  db: DatabasePair,
  yaml: Record<string, unknown> = {},
  hooks: (job: TransferJob) => void = () => {},
): Promise<RunReport> {
  const job = new TransferJob(
    testConfig({ source: db.source.url, target: db.target.url, mode: 'sync' }, { yaml }),
    { notifier: null },
  )
  hooks(job)
  return job.run()
}

/**
 * A login role of the target server, not a superuser, with CREATE and TEMP on the target database (`create`
 * runs `grants` too, as the target's superuser), and a sync (or a replace) into the target as that role.
 */
function targetRole(db: DatabasePair, name: string) {
  const role = `tablehaul_${name}_${process.pid}`
  const password = `${name}-role-secret`
  const target = new URL(db.target.url)
  target.username = role
  target.password = password
  const config = testConfig({ source: db.source.url, target: target.toString(), mode: 'sync' })
  return {
    role,
    create: (grants: string) =>
      db.target.sql(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' NOSUPERUSER;
        GRANT CREATE, TEMP ON DATABASE ${db.target.name} TO ${role};
        ${grants}`),
    sync: () => new TransferJob(config, { notifier: null }).run(),
    replace: () =>
      new TransferJob(testConfig({ source: db.source.url, target: target.toString(), mode: 'replace' }), {
        notifier: null,
      }).run(),
    drop: () =>
      withClient(db.target.server.url, (client) => client.query(`DROP ROLE IF EXISTS ${role}`)).then(
        () => {},
        () => {},
      ),
  }
}

/** The target table's rows as one digest: their count and an md5 of their text in key order. */
async function targetDigest(db: DatabasePair, table: string): Promise<string> {
  const [row] = await db.target.sql<{ h: string }>(
    `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t)), '') AS h FROM ${table} AS t`,
  )
  return row!.h
}

/** `tablehaul plan --mode sync` between the pair's databases, as a user runs it. */
function planSync(db: DatabasePair) {
  return runCli(['plan', '--source', db.source.url, '--target', db.target.url, '--mode', 'sync'])
}

function result(report: RunReport, name: string): TableResult {
  const found = report.tables.find((t) => t.table === name)
  assert.ok(found, `${name} is in the report: ${JSON.stringify(report.tables)}`)
  return found
}

const ORDERS = `
  CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(12, 2), note text);
  INSERT INTO public.orders SELECT g, 'c' || (g % 50), g * 1.25, repeat('n', g % 30) FROM generate_series(1, 3000) g;
`

describe('a sync', () => {
  test('is reported in the summary, the NDJSON log, tablehaul.log and the e-mail, with what it did not move', async () => {
    const db = await databasePair(servers, 'sync_report')
    const dir = tempDir()
    try {
      await db.source.sql(ORDERS)
      const args = ['run', '--source', db.source.url, '--target', db.target.url, '--mode', 'sync']
      const common = ['--log-dir', path.join(dir, 'logs'), '--outbox', path.join(dir, 'outbox')]
      assert.equal((await runCli([...args, ...common])).code, 0)
      await db.source.sql(`
        UPDATE public.orders SET note = 'changed' WHERE id = 7;
        DELETE FROM public.orders WHERE id = 8;
        INSERT INTO public.orders VALUES (9000, 'new', 1, NULL);
        UPDATE public.orders SET id = 9001 WHERE id = 9;                        -- a key update
      `)
      const run = await runCli([...args, ...common])
      assert.equal(run.code, 0, run.stderr)
      const second = { stdout: run.stdout + run.stderr }
      const counts = 'synced: 2 inserted, 1 updated, 2 deleted, 2,997 unchanged'
      assert.match(second.stdout, new RegExp(`public\\.orders: ${counts}`))
      assert.match(second.stdout, /3,000 rows · 2,997 rows unchanged \(not moved\)/)
      const copied = readRunLog(path.join(dir, 'logs')).find((r) => r.event === 'table.copied')
      assert.deepEqual(copied?.sync, { inserted: 2, updated: 1, deleted: 2, unchanged: 2997 })
      assert.equal(copied?.mode, 'sync')
      const humanLog = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
      assert.match(humanLog, new RegExp(`public\\.orders OK 3,000 rows .*\\(${counts}\\)`))
      assert.match(humanLog, /3,000 rows, 2,997 rows unchanged \(not moved\)/)
      const mail = (await outboxMessages(path.join(dir, 'outbox'))).at(-1)!
      assert.match(mail.text ?? '', new RegExp(`public\\.orders: ${counts}`))
      assert.match(mail.text ?? '', /Moved +3 rows, [^\n]*, 2,997 rows unchanged \(not moved\)\n/)
      assert.match(String(mail.html), new RegExp(counts))
      await assertSameRows(db, 'public.orders')
    } finally {
      await db.drop()
    }
  })

  test('puts back a row changed on the target, and empties a table emptied on the source', async () => {
    const db = await databasePair(servers, 'sync_local')
    try {
      await db.source.sql(`${ORDERS} CREATE TABLE public.gone (id int PRIMARY KEY, v text);
        INSERT INTO public.gone SELECT g, 'v' FROM generate_series(1, 500) g;`)
      assert.equal((await sync(db)).status, 'succeeded')
      await db.target.sql(`UPDATE public.orders SET note = 'edited locally' WHERE id = 42;
        INSERT INTO public.orders VALUES (-1, 'local only', 0, NULL)`)
      await db.source.sql(`DELETE FROM public.gone`)
      const report = await sync(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(result(report, 'public.orders').sync, {
        inserted: 0,
        updated: 1,
        deleted: 1,
        unchanged: 2999,
      })
      // Every row of gone went: the source's statistics may send it to a reload before any comparison.
      const gone = result(report, 'public.gone')
      if (gone.sync) assert.deepEqual(gone.sync, { inserted: 0, updated: 0, deleted: 500, unchanged: 0 })
      else assert.match(gone.warnings?.join('\n') ?? '', /sync → replace: the source's statistics count/)
      await assertSameRows(db, 'public.orders')
      await assertSameRows(db, 'public.gone')
    } finally {
      await db.drop()
    }
  })

  test('keeps readers on the old rows until its COMMIT, without blocking them', async () => {
    const db = await databasePair(servers, 'sync_readers')
    try {
      await db.source.sql(ORDERS)
      await sync(db)
      const before = await rowsOf(db.target, 'public.orders')
      await db.source.sql(
        `UPDATE public.orders SET note = 'new' WHERE id % 100 = 0; DELETE FROM public.orders WHERE id = 5`,
      )
      // The table's record (written just before COMMIT) waits for this lock, taken once the run has
      // opened its records: the sync's DELETE and INSERT are done but not committed while the reader looks.
      const holder = new pg.Client(db.target.url)
      await holder.connect()
      let locked: Promise<unknown> | undefined
      let seen: Promise<string[]> | undefined
      const report = await sync(db, {}, (job) => {
        job.on('step.started', ({ step }) => {
          if (step === 'copy')
            locked = holder.query('BEGIN; LOCK TABLE tablehaul.copied_tables IN SHARE MODE')
        })
        job.on('table.progress', (event) => {
          if (!event.finishing || seen) return
          seen = (async () => {
            await locked
            // A reader blocked by the sync would fail here (lock_timeout) instead of waiting.
            const rows = await rowsOf(db.target, 'public.orders')
            await holder.query('COMMIT')
            return rows
          })()
        })
      }).finally(() => holder.end())
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.ok(seen, 'the sync reached its commit')
      assert.deepEqual(await seen, before, 'the reader saw the old rows while the sync was uncommitted')
      assert.equal(result(report, 'public.orders').sync?.updated, 30)
      await assertSameRows(db, 'public.orders')
    } finally {
      await db.drop()
    }
  })

  test('interrupted by a dropped connection keeps the old rows, and its next attempt completes', async () => {
    const db = await databasePair(servers, 'sync_dropped')
    try {
      await db.source.sql(ORDERS)
      await sync(db)
      await db.source.sql(`UPDATE public.orders SET total = total + 1 WHERE id % 50 = 0`)
      const before = await rowsOf(db.target, 'public.orders')
      const holder = new pg.Client(db.target.url)
      await holder.connect()
      const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
      let locked: Promise<unknown> | undefined
      let dropped: Promise<string[]> | undefined
      const report = await sync(db, { retry: { attempts: 2, backoff: 0 } }, (job) => {
        job.on('step.started', ({ step }) => {
          if (step === 'copy')
            locked = holder.query('BEGIN; LOCK TABLE tablehaul.copied_tables IN SHARE MODE')
        })
        job.on('table.progress', (event) => {
          if (!event.finishing || dropped) return
          dropped = (async () => {
            await locked
            const waiting = `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`
            await waitFor(async () => {
              const [row] = await db.target.sql<{ n: number }>(
                `SELECT count(*)::int AS n FROM (${waiting.replace('pg_terminate_backend(pid)', '1')}) AS w`,
                [holderPid],
              )
              return row!.n > 0
            })
            // The connection of the table's transaction, waiting on the lock: dropped mid-transaction.
            const terminated = await db.target.sql<{ pid: number }>(waiting, [holderPid])
            assert.equal(terminated.length, 1, 'one transaction waited on the lock')
            await waitFor(async () => {
              const [row] = await db.target.sql<{ n: number }>(
                `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1`,
                [terminated[0]!.pid],
              )
              return row!.n === 0
            })
            const rows = await rowsOf(db.target, 'public.orders')
            await holder.query('COMMIT')
            return rows
          })()
        })
      }).finally(() => holder.end())
      assert.ok(dropped, 'the sync reached its commit')
      assert.deepEqual(await dropped, before, 'the dropped transaction left the old rows')
      const orders = result(report, 'public.orders')
      assert.equal(orders.status, 'copied', JSON.stringify(orders))
      assert.equal(orders.attempts, 2)
      assert.equal(orders.sync?.updated, 60)
      await assertSameRows(db, 'public.orders')
    } finally {
      await db.drop()
    }
  })

  test('interrupted by SIGINT keeps the old rows, is reported interrupted, and run --resume completes it', async () => {
    const db = await databasePair(servers, 'sync_sigint')
    const dir = tempDir()
    const logDir = path.join(dir, 'logs')
    const args = ['run', '--source', db.source.url, '--target', db.target.url, '--mode', 'sync']
    const common = ['--log-dir', logDir, '--outbox', path.join(dir, 'outbox')]
    const holder = new pg.Client(db.target.url)
    let first: ReturnType<typeof spawnCli> | undefined
    try {
      await db.source.sql(`${ORDERS} CREATE TABLE public.small (id int PRIMARY KEY, v text);
        INSERT INTO public.small SELECT g, 'v' FROM generate_series(1, 100) g;`)
      assert.equal((await runCli([...args, ...common], { cwd: dir })).code, 0)
      await db.source.sql(`UPDATE public.orders SET note = 'changed' WHERE id % 40 = 0;
        DELETE FROM public.orders WHERE id IN (1, 3000); INSERT INTO public.orders VALUES (0, 'new', 0, NULL);
        UPDATE public.small SET v = 'w' WHERE id = 5;`)
      const before = await rowsOf(db.target, 'public.orders')
      // Row locks on two rows the source deleted: the sync locks the table against other writers and finds
      // its changes, but its DELETE waits, mid-sync, for these rows.
      await holder.connect()
      await holder.query('BEGIN; SELECT id FROM public.orders WHERE id IN (1, 3000) FOR UPDATE')
      first = spawnCli([...args, ...common], { cwd: dir })
      const deleteWaiting = async () => {
        const [row] = await db.target.sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM ONLY "public"."orders"%'`,
        )
        return row!.n === 1
      }
      await waitFor(deleteWaiting, 60_000, "the sync's DELETE to wait for the lock")
      await waitFor(
        () => recordsSoFar(logDir).some((r) => r.event === 'table.copied' && r.table === 'public.small'),
        60_000,
        'public.small to commit',
      )
      first.child.kill('SIGINT')
      const stopped = await first.done
      assert.equal(stopped.code, 130, stopped.stderr)
      // The process ended with its connections closed; the server notices a closed connection only when its
      // backend next talks to it, so the abandoned DELETE goes on waiting until the lock is released, and
      // then rolls back.
      await holder.query('COMMIT')
      await waitFor(
        async () => {
          const [row] = await db.target.sql<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'DELETE FROM ONLY "public"."orders"%'`,
          )
          return row!.n === 0
        },
        60_000,
        "the interrupted sync's backend to end",
      )
      assert.deepEqual(await rowsOf(db.target, 'public.orders'), before, 'the old rows, exactly')
      const [run] = await db.target.sql<{ status: string }>(
        `SELECT status FROM tablehaul.runs ORDER BY started_at DESC LIMIT 1`,
      )
      assert.equal(run?.status, 'interrupted')
      const log = readRunLog(logDir)
      assert.equal(log.find((r) => r.event === 'run.finished')?.status, 'interrupted')
      assert.ok(!log.some((r) => r.event === 'table.copied' && r.table === 'public.orders'))
      assert.match(stopped.stdout + stopped.stderr, /interrupted/i)
      const mail = (await outboxMessages(path.join(dir, 'outbox'))).at(-1)!
      assert.match(mail.subject ?? '', /^\[tablehaul\] INTERRUPTED · 1 of 2 tables copied/)
      assert.match(mail.text ?? '', /the others kept their previous contents/)
      assert.deepEqual(
        await db.target.sql(`SELECT relname FROM pg_class WHERE relname LIKE 'tablehaul_sync%'`),
        [],
        'no temporary table left',
      )

      const resumed = await runCli([...args, ...common, '--resume'], { cwd: dir })
      assert.equal(resumed.code, 0, resumed.stderr)
      assert.match(resumed.stderr, /resuming run .*\(interrupted\)/)
      const again = readRunLog(logDir)
      assert.deepEqual(
        again.filter((r) => r.event === 'table.skipped').map((r) => r.table),
        ['public.small'],
      )
      const orders = again.find((r) => r.event === 'table.copied' && r.table === 'public.orders')
      assert.deepEqual(orders?.sync, { inserted: 1, updated: 74, deleted: 2, unchanged: 2924 })
      await assertSameRows(db, 'public.orders')
      await assertSameRows(db, 'public.small')
    } finally {
      first?.child.kill('SIGKILL')
      await holder.end().catch(() => {})
      await db.drop()
    }
  })

  test('reads the run snapshot: source writes made after it wait for the next sync', async () => {
    const db = await databasePair(servers, 'sync_snapshot')
    try {
      await db.source.sql(ORDERS)
      await sync(db)
      await db.source.sql(`UPDATE public.orders SET note = 'before the run' WHERE id < 10`)
      const expected = await rowsOf(db.source, 'public.orders')
      // Once the run's snapshot is taken, a writer locks the source table: the sync's first read waits for
      // it, and reads only after the writes committed.
      const writer = new pg.Client(db.source.url)
      await writer.connect()
      let wrote: Promise<void> | undefined
      const report = await sync(db, {}, (job) =>
        job.on('run.planned', () => {
          const locked = writer.query('BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE')
          wrote = (async () => {
            await locked
            await waitFor(async () => {
              const [row] = await db.source.sql<{ n: number }>(
                `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
              )
              return row!.n > 0
            })
            await writer.query(`UPDATE public.orders SET note = 'after the snapshot' WHERE id < 100;
              DELETE FROM public.orders WHERE id > 2900; INSERT INTO public.orders VALUES (5000, 'late', 1, NULL)`)
            await writer.query('COMMIT')
          })()
        }),
      ).finally(() => writer.end())
      await wrote
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(await rowsOf(db.target, 'public.orders'), expected)
      assert.equal(result(report, 'public.orders').sync?.updated, 9)
      await sync(db)
      await assertSameRows(db, 'public.orders')
    } finally {
      await db.drop()
    }
  })

  test('of partitioned tables works per leaf, a row moving between partitions included', async () => {
    const db = await databasePair(servers, 'sync_parts')
    try {
      await db.source.sql(`
        CREATE TABLE public.events (id int, region text, v text, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
        CREATE TABLE public.events_eu PARTITION OF public.events FOR VALUES IN ('eu');
        CREATE TABLE public.events_us PARTITION OF public.events FOR VALUES IN ('us');
        INSERT INTO public.events SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'v' || g FROM generate_series(1, 2000) g;
      `)
      assert.equal((await sync(db, { tables: ['public.events'] })).status, 'succeeded')
      await db.source.sql(`
        UPDATE public.events SET v = 'changed' WHERE id IN (2, 3);
        UPDATE public.events SET region = 'us' WHERE id = 4;
        DELETE FROM public.events WHERE id = 5;
      `)
      const report = await sync(db, { tables: ['public.events'] })
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(result(report, 'public.events_eu').sync, {
        inserted: 0,
        updated: 1,
        deleted: 1,
        unchanged: 998,
      })
      assert.deepEqual(result(report, 'public.events_us').sync, {
        inserted: 1,
        updated: 1,
        deleted: 1,
        unchanged: 998,
      })
      await assertSameRows(db, 'public.events')
    } finally {
      await db.drop()
    }
  })

  test('of tables referenced by foreign keys leaves every key valid', async () => {
    const db = await databasePair(servers, 'sync_fk')
    try {
      await db.source.sql(`
        CREATE TABLE public.customers (id int PRIMARY KEY, name text);
        CREATE TABLE public.invoices (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES public.customers ON DELETE CASCADE, amount int);
        INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 300) g;
        INSERT INTO public.invoices SELECT g, 1 + g % 300, g FROM generate_series(1, 1500) g;
      `)
      assert.equal((await sync(db)).status, 'succeeded')
      await db.source.sql(`
        UPDATE public.customers SET name = 'renamed' WHERE id = 1;               -- referenced row changes
        DELETE FROM public.invoices WHERE customer_id = 2; DELETE FROM public.customers WHERE id = 2;
        INSERT INTO public.customers VALUES (301, 'new'); INSERT INTO public.invoices VALUES (2000, 301, 1);
      `)
      const report = await sync(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.equal(result(report, 'public.customers').sync?.updated, 1)
      // The key stays on during a sync: customer 2's invoices go by the invoices' sync, or by its cascade
      // when the customers' sync deletes customer 2 first.
      assert.ok([0, 5].includes(result(report, 'public.invoices').sync?.deleted ?? -1))
      await assertSameRows(db, 'public.customers')
      await assertSameRows(db, 'public.invoices')
      const [key] = await db.target.sql<{ valid: boolean }>(
        `SELECT convalidated AS valid FROM pg_constraint WHERE contype = 'f' AND conrelid = 'public.invoices'::regclass`,
      )
      assert.equal(key?.valid, true, 'the foreign key is back, validated')
    } finally {
      await db.drop()
    }
  })

  test('keeps the foreign keys between synced tables on, and lifts one only when a change breaks it', async () => {
    const db = await databasePair(servers, 'sync_fk_kept')
    try {
      await db.source.sql(`
        CREATE TABLE public.parents (id int PRIMARY KEY, name text);
        CREATE TABLE public.children (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES public.parents, v text);
        INSERT INTO public.parents SELECT g, 'p' || g FROM generate_series(1, 200) g;
        INSERT INTO public.children SELECT g, 1 + g % 200, 'c' FROM generate_series(1, 1000) g;
      `)
      // The source's statistics count the loading rows before the first sync records them, or the next
      // sync would see 200 new rows beside its 3 updates and predict a reload.
      await waitFor(async () => {
        const [row] = await db.source.sql<{ n: number }>(
          `SELECT coalesce(sum(n_tup_ins), 0)::int AS n FROM pg_stat_all_tables WHERE relname IN ('parents', 'children')`,
        )
        return row!.n >= 1200
      })
      assert.equal((await sync(db)).status, 'succeeded')
      const keyOid = async () =>
        (
          await db.target.sql<{ oid: string; valid: boolean }>(
            `SELECT oid::text, convalidated AS valid FROM pg_constraint WHERE contype = 'f' AND conrelid = 'public.children'::regclass`,
          )
        )[0]
      const before = await keyOid()
      // Referenced rows change in place and new children reference existing parents: nothing breaks.
      await db.source.sql(`UPDATE public.parents SET name = 'renamed' WHERE id <= 3;
        INSERT INTO public.children VALUES (5000, 3, 'new')`)
      const kept = await sync(db)
      assert.equal(kept.status, 'succeeded', JSON.stringify(kept.tables))
      assert.equal(result(kept, 'public.parents').sync?.updated, 3)
      assert.deepEqual(await keyOid(), before, 'the same key, never dropped nor validated again')
      // A parent goes with its children, and a new child references a new parent: one order of the two
      // tables breaks the key on the way, so it is lifted and put back, validated.
      await db.source
        .sql(`DELETE FROM public.children WHERE parent_id = 7; DELETE FROM public.parents WHERE id = 7;
        INSERT INTO public.parents VALUES (900, 'new'); INSERT INTO public.children VALUES (6000, 900, 'new')`)
      const broken = await sync(db, { jobs: 1 })
      assert.equal(broken.status, 'succeeded', JSON.stringify(broken.tables))
      await assertSameRows(db, 'public.parents')
      await assertSameRows(db, 'public.children')
      const after = await keyOid()
      assert.equal(after?.valid, true, 'the key is there, validated')
      assert.notEqual(after?.oid, before?.oid, 'lifted during the sync and created again')
      const pending = await db.target.sql(`SELECT * FROM tablehaul.pending_foreign_keys`)
      assert.deepEqual(pending, [], 'nothing left to put back')
    } finally {
      await db.drop()
    }
  })

  test('lifts for the run a cascading foreign key that only the target has, so its cascade cannot take rows the source kept', async () => {
    const db = await databasePair(servers, 'sync_fk_target_only')
    try {
      // No key on the source: its invoices of a deleted customer stay.
      await db.source.sql(`
        CREATE TABLE public.customers (id int PRIMARY KEY, name text);
        CREATE TABLE public.invoices (id int PRIMARY KEY, customer_id int NOT NULL, amount int, note text);
        INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 100) g;
        INSERT INTO public.invoices SELECT g, 1 + g % 100, g, repeat('x', 200) FROM generate_series(1, 2000) g;`)
      assert.equal((await sync(db)).status, 'succeeded')
      await db.target.sql(`ALTER TABLE public.invoices ADD CONSTRAINT invoices_customer_fk
        FOREIGN KEY (customer_id) REFERENCES public.customers ON DELETE CASCADE`)
      await db.source.sql(`DELETE FROM public.customers WHERE id = 2`)
      // One table at a time, largest first: the invoices commit before the customers' DELETE would cascade.
      const report = await sync(db, { jobs: 1 })
      assert.equal(result(report, 'public.customers').sync?.deleted, 1, JSON.stringify(report.tables))
      await assertSameRows(db, 'public.customers')
      await assertSameRows(db, 'public.invoices')
      // Put back as the user declared it; the rows the source kept violate it, so NOT VALID, and said so.
      const [key] = await db.target.sql<{ valid: boolean; definition: string }>(
        `SELECT convalidated AS valid, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname = 'invoices_customer_fk'`,
      )
      assert.match(key?.definition ?? '', /ON DELETE CASCADE/)
      assert.equal(key?.valid, false)
      assert.match(
        result(report, 'public.invoices').warnings?.join('\n') ?? '',
        /foreign key invoices_customer_fk was created NOT VALID/,
      )
    } finally {
      await db.drop()
    }
  })

  test('without a usable key replaces the table, and plan says so; many changes switch it to a reload', async () => {
    const db = await databasePair(servers, 'sync_nokey')
    try {
      await db.source.sql(`${ORDERS}
        CREATE TABLE public.loose (id int, v text);
        INSERT INTO public.loose SELECT g, 'v' FROM generate_series(1, 100) g;
        CREATE TABLE public.nullable_unique (id int UNIQUE, v text);
        INSERT INTO public.nullable_unique SELECT g, 'v' FROM generate_series(1, 100) g;`)
      assert.equal((await sync(db)).status, 'succeeded')
      const plan = await planSync(db)
      assert.equal(plan.code, 0, plan.stderr)
      assert.match(plan.stdout, /public\.orders .* sync /)
      assert.match(plan.stdout, /public\.loose .* sync → replace: no key/)
      assert.match(plan.stdout, /public\.nullable_unique .* sync → replace: no key/)
      await db.source.sql(`UPDATE public.orders SET note = 'all changed'; UPDATE public.loose SET v = 'w'`)
      const report = await sync(db)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.equal(result(report, 'public.loose').mode, 'replace')
      const orders = result(report, 'public.orders')
      assert.equal(orders.mode, 'sync')
      assert.equal(orders.sync, undefined, 'reloaded, not synced')
      // The rows written since the last copy, the source's statistics or the buckets show it.
      assert.match(
        orders.warnings?.join('\n') ?? '',
        /sync → replace: (100 % of the key buckets differ|the source's statistics count changes to \d+ % of its rows|100 % of the source's rows were written since the last copy)/,
      )
      await assertSameRows(db, 'public.orders')
      await assertSameRows(db, 'public.loose')
    } finally {
      await db.drop()
    }
  })
})

describe('a sync after a copy whose snapshot saw a writer in progress', () => {
  test("re-reads only that writer's rows, its subtransaction's included, not every row written since its xmin", async () => {
    const db = await databasePair(servers, 'sync_unseen')
    const writer = new pg.Client(db.source.url)
    await writer.connect()
    try {
      await db.source.sql(`CREATE TABLE public.other (x int);
        CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(12, 2), note text)`)
      // A transaction with an id, and a subtransaction that wrote a row of orders, both open across the
      // loading of orders and the first sync: the snapshot's xmin stays below every row loaded after it.
      await writer.query(`BEGIN; INSERT INTO public.other VALUES (1); SAVEPOINT s;
        INSERT INTO public.orders VALUES (100000, 'open', 1, 'from the open writer')`)
      await db.source.sql(`INSERT INTO public.orders SELECT g, 'c' || (g % 50), g * 1.25, repeat('n', g % 30)
        FROM generate_series(1, 3000) g`)
      assert.equal((await sync(db)).status, 'succeeded')
      await writer.query('RELEASE SAVEPOINT s; COMMIT')
      await db.source.sql(`UPDATE public.orders SET note = 'one' WHERE id = 7`)
      const report = await sync(db)
      const orders = result(report, 'public.orders')
      assert.equal(orders.syncCompared, 'written', JSON.stringify(orders))
      assert.deepEqual(orders.sync, { inserted: 1, updated: 1, deleted: 0, unchanged: 2999 })
      // The two written rows moved, not the 3,000 loaded while the writer was open (~100 kB).
      assert.ok(orders.bytes < 20_000, `${orders.bytes} bytes moved`)
      await assertSameRows(db, 'public.orders')
    } finally {
      await writer.end().catch(() => {})
      await db.drop()
    }
  })
})

describe('a sync as a target role that does not own the table', () => {
  test("warns of the owner's DELETE trigger it cannot switch off, and fails the table with its rows kept when the trigger keeps a deleted row", async () => {
    const db = await databasePair(servers, 'sync_not_owner')
    const guest = targetRole(db, 'guest')
    try {
      // The table, and a trigger that keeps rows from being deleted, belong to the target's owner; the
      // target user may write the table but not switch the trigger off.
      await guest.create(`${ORDERS.replace(/INSERT INTO[^;]*;/, '')}
        GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.orders TO ${guest.role};
        CREATE FUNCTION public.keep_rows() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
        CREATE TRIGGER keep_rows BEFORE DELETE ON public.orders FOR EACH ROW EXECUTE FUNCTION public.keep_rows();`)
      await db.source.sql(ORDERS)
      const first = await guest.sync()
      assert.equal(first.status, 'succeeded', JSON.stringify(first.tables))
      assert.match(
        first.warnings.join('\n'),
        /public\.orders: the target user does not own it, so tablehaul cannot switch off its trigger keep_rows, which fires on the rows it writes/,
      )
      await assertSameRows(db, 'public.orders')
      const before = await targetDigest(db, 'public.orders')
      await db.source.sql(
        `UPDATE public.orders SET note = 'guest' WHERE id % 100 = 0; DELETE FROM public.orders WHERE id IN (7, 2900)`,
      )
      const report = await guest.sync()
      const orders = result(report, 'public.orders')
      assert.equal(orders.status, 'failed', JSON.stringify(orders))
      assert.equal(orders.error?.code, 'ROW_COUNT_MISMATCH', JSON.stringify(orders))
      assert.equal(await targetDigest(db, 'public.orders'), before, "the target's rows are kept")
    } finally {
      await db.drop()
      await guest.drop()
    }
  })
})

describe('a sync of a table that a table outside the run references on the target', () => {
  test('loads it empty without TRUNCATE, syncs it by its differences, many of them too, and fails it, rows kept, when a referenced row goes', async () => {
    const db = await databasePair(servers, 'sync_outside_fk')
    try {
      const customers = `CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL);`
      await db.source.sql(`${customers}
        INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 500) g;`)
      // The user's own table on the target, which the run does not copy (the source has none), already
      // referencing the empty table: its first load cannot TRUNCATE it.
      await db.target.sql(`${customers}
        CREATE TABLE public.local_notes (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES public.customers, note text);`)
      const first = result(await sync(db), 'public.customers')
      assert.equal(first.status, 'copied', JSON.stringify(first))
      await assertSameRows(db, 'public.customers')
      await db.target.sql(
        `INSERT INTO public.local_notes SELECT g, g, 'called' FROM generate_series(1, 10) g;`,
      )
      const plan = await planSync(db)
      assert.equal(plan.code, 0, plan.stderr)
      assert.match(plan.stdout, /public\.customers .* sync /)
      assert.match(
        `${plan.stdout}${plan.stderr}`,
        /public\.customers: foreign key local_notes_customer_id_fkey of public\.local_notes references it from a table this run does not copy, so it is synced by its differences only, never reloaded/,
      )
      await db.source.sql(`UPDATE public.customers SET name = 'renamed' WHERE id <= 3;
        DELETE FROM public.customers WHERE id = 400; INSERT INTO public.customers VALUES (501, 'new')`)
      const few = result(await sync(db), 'public.customers')
      assert.equal(few.status, 'copied', JSON.stringify(few))
      assert.deepEqual(
        { inserted: few.sync?.inserted, updated: few.sync?.updated, deleted: few.sync?.deleted },
        { inserted: 1, updated: 3, deleted: 1 },
      )
      await assertSameRows(db, 'public.customers')
      // Far past the share where a reload costs less: TRUNCATE would be refused, so the differences go.
      await db.source.sql(`UPDATE public.customers SET name = name || '!' WHERE id % 10 <> 0`)
      const many = result(await sync(db), 'public.customers')
      assert.equal(many.status, 'copied', JSON.stringify(many))
      assert.equal(many.sync?.updated, 451, JSON.stringify(many))
      await assertSameRows(db, 'public.customers')
      const notes = await targetDigest(db, 'public.local_notes')
      assert.match(notes, /^10:/, 'the local table keeps its rows')
      // A row the local table references goes on the source: the table fails, its rows kept.
      const before = await targetDigest(db, 'public.customers')
      await db.source.sql(
        `DELETE FROM public.customers WHERE id = 5; UPDATE public.customers SET name = 'x' WHERE id = 6`,
      )
      const gone = result(await sync(db), 'public.customers')
      assert.equal(gone.status, 'failed', JSON.stringify(gone))
      assert.match(
        gone.error?.message ?? '',
        /the source deleted \(or changed the key of\) a row that local_notes_customer_id_fkey of public\.local_notes still references on the target/,
      )
      assert.match(gone.error?.hint ?? '', /add the referencing table to the run \(tables:, or --table\)/)
      assert.equal(await targetDigest(db, 'public.customers'), before, "the target's rows are kept")
      assert.equal(await targetDigest(db, 'public.local_notes'), notes)
    } finally {
      await db.drop()
    }
  })
})

describe('a run that must lift a foreign key of a table the target user does not own', () => {
  test('fails before writing, naming the key and what to do, for a sync (a target-only cascading key) and for a replace', async () => {
    const db = await databasePair(servers, 'sync_fk_not_owned')
    const guest = targetRole(db, 'fkguest')
    const tables = `CREATE TABLE public.customers (id int PRIMARY KEY, name text);
      CREATE TABLE public.invoices (id int PRIMARY KEY, customer_id int NOT NULL, amount int);`
    try {
      await db.source.sql(`${tables}
        INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 100) g;
        INSERT INTO public.invoices SELECT g, 1 + g % 100, g FROM generate_series(1, 2000) g;`)
      // The tables belong to the target's owner; the target user may write them, not alter them.
      await guest.create(`${tables}
        GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.customers, public.invoices TO ${guest.role};`)
      assert.equal((await guest.sync()).status, 'succeeded')
      await db.target.sql(`ALTER TABLE public.invoices ADD CONSTRAINT invoices_customer_fk
        FOREIGN KEY (customer_id) REFERENCES public.customers ON DELETE CASCADE`)
      await db.source.sql(`DELETE FROM public.customers WHERE id = 2`)
      const before = await targetDigest(db, 'public.invoices')
      for (const run of [guest.sync, guest.replace]) {
        const report = await run()
        assert.equal(report.status, 'failed', JSON.stringify(report))
        assert.equal(report.error?.code, 'PRIVILEGE_MISSING', JSON.stringify(report.error))
        assert.match(report.error?.message ?? '', /foreign key invoices_customer_fk of public\.invoices/)
        assert.match(report.error?.hint ?? '', /connect to the target as the tables' owner/)
        assert.equal(await targetDigest(db, 'public.invoices'), before, "the target's rows are kept")
      }
    } finally {
      await db.drop()
      await guest.drop()
    }
  })
})

describe('a sync as a target role without TRUNCATE on the table', () => {
  test('loads the empty table without TRUNCATE, then fails it, rows kept, when a unique value moved between rows, saying what would let it reload', async () => {
    const db = await databasePair(servers, 'sync_no_truncate')
    const notrunc = targetRole(db, 'notrunc')
    const table = `CREATE TABLE public.people (id int PRIMARY KEY, email text NOT NULL UNIQUE);`
    try {
      await notrunc.create(
        `${table} GRANT SELECT, INSERT, UPDATE, DELETE ON public.people TO ${notrunc.role};`,
      )
      await db.source.sql(`${table}
        INSERT INTO public.people SELECT g, 'p' || g FROM generate_series(1, 2000) g;`)
      const first = await notrunc.sync()
      assert.equal(first.status, 'succeeded', JSON.stringify(first))
      await assertSameRows(db, 'public.people')
      const before = await targetDigest(db, 'public.people')
      await db.source.sql(`BEGIN; UPDATE public.people SET email = 'x' WHERE id = 1;
        UPDATE public.people SET email = 'p1' WHERE id = 2; UPDATE public.people SET email = 'p2' WHERE id = 1; COMMIT;`)
      const people = result(await notrunc.sync(), 'public.people')
      assert.equal(people.status, 'failed', JSON.stringify(people))
      assert.match(
        people.error?.message ?? '',
        /met a unique index or exclusion constraint: duplicate key value/,
      )
      assert.match(
        people.error?.hint ?? '',
        /GRANT TRUNCATE ON "public"\."people" TO the target user, or run this table once with --mode replace/,
      )
      assert.equal(await targetDigest(db, 'public.people'), before, "the target's rows are kept")
    } finally {
      await db.drop()
      await notrunc.drop()
    }
  })
})

describe('a sync as a target role that may not set wal_compression', () => {
  test('syncs exactly: only the page images stay uncompressed', async () => {
    const db = await databasePair(servers, 'sync_plain_role')
    const plain = targetRole(db, 'plain')
    try {
      await plain.create(`GRANT CREATE ON SCHEMA public TO ${plain.role}`)
      await db.source.sql(ORDERS)
      assert.equal((await plain.sync()).status, 'succeeded')
      await db.source.sql(
        `UPDATE public.orders SET note = 'plain' WHERE id % 50 = 0; DELETE FROM public.orders WHERE id = 1`,
      )
      const report = await plain.sync()
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
      assert.deepEqual(result(report, 'public.orders').sync, {
        inserted: 0,
        updated: 60,
        deleted: 1,
        unchanged: 2939,
      })
      await assertSameRows(db, 'public.orders')
    } finally {
      await db.drop()
      await plain.drop()
    }
  })
})

describe('verify: checksum', () => {
  test('fails a table whose fingerprint differs on the target, keeping its previous rows', async () => {
    const db = await databasePair(servers, 'verify_checksum')
    const role = `tablehaul_verify_${process.pid}`
    const target = new URL(db.target.url)
    target.username = role
    target.password = 'verify-role-secret'
    try {
      // The table and its trigger belong to the target's owner, so the target user cannot switch the
      // trigger off: every row the copy or the sync writes is changed on its way in, and only the
      // fingerprint sees it. numeric(12, 2) for (10, 1): the wider type alone is no difference.
      await db.target.sql(`CREATE ROLE ${role} LOGIN PASSWORD 'verify-role-secret' NOSUPERUSER;
        GRANT CREATE, TEMP ON DATABASE ${db.target.name} TO ${role};
        GRANT CREATE ON SCHEMA public TO ${role};
        CREATE TABLE public.prices (id int PRIMARY KEY, p numeric(12, 2));
        INSERT INTO public.prices VALUES (1, 7);
        GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.prices TO ${role};
        CREATE FUNCTION public.round_up() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.p := NEW.p + 0.01; RETURN NEW; END';
        CREATE TRIGGER round_up BEFORE INSERT OR UPDATE ON public.prices FOR EACH ROW EXECUTE FUNCTION public.round_up();`)
      await db.source.sql(`CREATE TABLE public.prices (id int PRIMARY KEY, p numeric(10, 1));
        INSERT INTO public.prices SELECT g, g / 2.0 FROM generate_series(1, 100) g;
        CREATE TABLE public.fine (id int PRIMARY KEY, v text); INSERT INTO public.fine VALUES (1, 'a');`)
      for (const mode of ['replace', 'sync'] as const) {
        const report = await new TransferJob(
          testConfig({ source: db.source.url, target: target.toString(), mode, verify: 'checksum' }),
          { notifier: null },
        ).run()
        const prices = result(report, 'public.prices')
        assert.equal(prices.status, 'failed', `${mode}: ${JSON.stringify(prices)}`)
        assert.equal(prices.error?.code, 'CHECKSUM_MISMATCH')
        assert.deepEqual(await rowsOf(db.target, 'public.prices'), ['(1,7.00)'], `${mode}: old rows kept`)
        assert.equal(result(report, 'public.fine').verified, true)
      }
      const verify = await runCli([
        'verify',
        '--checksum',
        '--source',
        db.source.url,
        '--target',
        db.target.url,
        '--table',
        'public.fine',
      ])
      assert.equal(verify.code, 0, verify.stdout)
      assert.match(verify.stdout, /SAME/)
    } finally {
      await db.drop()
      await withClient(servers.target.url, (c) => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => {})
    }
  })
})

describe('tablehaul verify --checksum after a sync', () => {
  test('says SAME for every table, and DIFFERENT for a value that = calls equal but whose text changed, as the sync does', async () => {
    const db = await databasePair(servers, 'sync_verify')
    try {
      await db.source.sql(`${ORDERS}
        CREATE TABLE public.prices (id int PRIMARY KEY, n numeric);
        INSERT INTO public.prices SELECT g, (g || '.0')::numeric FROM generate_series(1, 400) g;
        CREATE TABLE public.floats (id int PRIMARY KEY, f float8);
        INSERT INTO public.floats SELECT g, g % 3 FROM generate_series(1, 400) g;
        CREATE TABLE public.docs (id int PRIMARY KEY, j json, jb jsonb, at timestamptz, b bytea);
        INSERT INTO public.docs SELECT g, json_build_object('a', g), jsonb_build_object('a', g),
          '2024-03-01 12:00:00+02'::timestamptz + g * interval '1 second', decode(md5(g::text), 'hex')
          FROM generate_series(1, 400) g;`)
      const tables = ['public.docs', 'public.floats', 'public.orders', 'public.prices']
      const urls = ['--source', db.source.url, '--target', db.target.url]
      const run = (...args: string[]) =>
        runCli(['run', ...urls, '--mode', 'sync', ...args], { cwd: tempDir() })
      const verify = () => runCli(['verify', '--checksum', ...urls], { cwd: tempDir() })
      const verdicts = (stdout: string) =>
        Object.fromEntries(
          [...stdout.matchAll(/^(SAME|DIFFERENT)\s+(public\.\w+)\s/gm)].map((m) => [m[2]!, m[1]!]),
        )
      const allSame = Object.fromEntries(tables.map((t) => [t, 'SAME']))

      assert.equal((await run()).code, 0)
      await db.source.sql(`
        UPDATE public.orders SET note = 'changed' WHERE id % 97 = 0; DELETE FROM public.orders WHERE id = 3;
        INSERT INTO public.orders VALUES (0, 'new', 1.5, NULL);
        UPDATE public.prices SET n = 7.25 WHERE id = 7; UPDATE public.docs SET j = '{"a" :  2}' WHERE id = 2;
      `)
      const synced = await run()
      assert.equal(synced.code, 0, synced.stderr)
      assert.match(synced.stdout + synced.stderr, /public\.orders: synced: 1 inserted, 30 updated, 1 deleted/)
      const after = await verify()
      assert.equal(after.code, 0, after.stdout)
      assert.deepEqual(verdicts(after.stdout), allSame)

      // Each equal to the source's value by =, but written otherwise: 1.00 for 1.0, -0 for 0, other spacing.
      await db.target.sql(`
        UPDATE public.prices SET n = 1.00 WHERE id = 1;
        UPDATE public.floats SET f = '-0' WHERE id = 3;
        UPDATE public.docs SET j = '{"a":  4}' WHERE id = 4;
        UPDATE public.orders SET note = 'edited on the target' WHERE id = 10;
      `)
      const [equal] = await db.target.sql<{ n: boolean; f: boolean }>(
        `SELECT (SELECT n = 1.0 FROM public.prices WHERE id = 1) AS n, (SELECT f = 0 FROM public.floats WHERE id = 3) AS f`,
      )
      assert.deepEqual(equal, { n: true, f: true }, 'the changed values are equal by =')
      const changed = await verify()
      assert.equal(changed.code, 1, changed.stdout)
      assert.deepEqual(verdicts(changed.stdout), {
        'public.docs': 'DIFFERENT',
        'public.floats': 'DIFFERENT',
        'public.orders': 'DIFFERENT',
        'public.prices': 'DIFFERENT',
      })
      assert.match(changed.stdout, /same row count, but the rows differ/)

      // The sync's fingerprint finds the same four rows, and puts each back.
      const again = await run('--log-dir', path.join(tempDir(), 'logs'))
      assert.equal(again.code, 0, again.stderr)
      for (const table of tables) {
        assert.match(
          again.stdout + again.stderr,
          new RegExp(`${table.replace('.', '\\.')}: synced: 0 inserted, 1 updated, 0 deleted`),
          table,
        )
      }
      const back = await verify()
      assert.equal(back.code, 0, back.stdout)
      assert.deepEqual(verdicts(back.stdout), allSame)
      for (const table of tables) await assertSameRows(db, table)
    } finally {
      await db.drop()
    }
  })
})
