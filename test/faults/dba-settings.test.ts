import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { ROOT, runCli, waitFor } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { catalogState, databasePair } from '../helpers/database-pair.js'
import { PRIMARY_SETTINGS, TestDatabase, TestServer, testServers, withClient } from '../helpers/servers.js'

// What a production DBA sets on the run's role or database (ALTER ROLE … SET, ALTER DATABASE … SET) on
// either server: the run sets what it needs for its own sessions, as pg_dump does, or fails with one error
// that names the setting and what to do.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** ALTER DATABASE … SET, from the server's own database: the setting may forbid the statement in its own. */
async function setOn(database: TestDatabase, setting: string): Promise<void> {
  await withClient(database.server.url, (client) =>
    client.query(`ALTER DATABASE ${database.name} SET ${setting}`),
  )
}

describe("a DBA's settings on the run's databases", () => {
  test('transaction_timeout on both servers ends neither the snapshot nor a table whose copy outlasts it', async (t) => {
    const db = await databasePair(servers, 'dba_xact_timeout')
    try {
      const [version] = await db.target.sql<{ major: number }>(
        `SELECT current_setting('server_version_num')::int / 10000 AS major`,
      )
      if (version!.major < 17) return t.skip('transaction_timeout is PostgreSQL 17+')
      const tables = `CREATE TABLE public.slow (id int PRIMARY KEY, note text);
                      CREATE TABLE public.other (id int PRIMARY KEY, note text);`
      await db.source.sql(`${tables}
        INSERT INTO public.slow SELECT g, 'new' FROM generate_series(1, 3) g;
        INSERT INTO public.other SELECT g, 'new' FROM generate_series(1, 3) g;`)
      // The copy of slow takes 2 s on the target (its CHECK sleeps on a new row): longer than the timeout,
      // for its own transaction on the target, and for the snapshot's on the source.
      await db.target.sql(`${tables}
        CREATE FUNCTION public.sleepy(id int, note text) RETURNS boolean LANGUAGE plpgsql AS
          'BEGIN IF id = 1 AND note = ''new'' THEN PERFORM pg_sleep(2); END IF; RETURN true; END';
        ALTER TABLE public.slow ADD CONSTRAINT slows CHECK (public.sleepy(id, note));`)
      await setOn(db.source, `transaction_timeout = '1s'`)
      await setOn(db.target, `transaction_timeout = '1s'`)
      const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
      config.jobs = 1
      config.retry = { ...config.retry, attempts: 1 }
      const report = await new TransferJob(config, { notifier: null }).run()

      assert.equal(
        report.status,
        'succeeded',
        JSON.stringify([report.error, ...report.tables.map((r) => r.error)]),
      )
      await setOn(db.source, 'transaction_timeout = 0')
      await setOn(db.target, 'transaction_timeout = 0')
      await assertSameRows(db, 'public.slow')
      await assertSameRows(db, 'public.other')
    } finally {
      await db.drop()
    }
  })

  test("idle_session_timeout on the target does not end the run lock's idle session: a second run is still refused", async () => {
    const db = await databasePair(servers, 'dba_idle_session')
    try {
      const tables = `CREATE TABLE public.slow (id int PRIMARY KEY, note text);`
      await db.source.sql(`${tables} INSERT INTO public.slow SELECT g, 'new' FROM generate_series(1, 3) g;`)
      // The copy sleeps on the target (its CHECK, on a new row) until the second run has been tried.
      await db.target.sql(`${tables}
        CREATE FUNCTION public.sleepy(id int, note text) RETURNS boolean LANGUAGE plpgsql AS
          'BEGIN IF id = 1 AND note = ''new'' THEN PERFORM pg_sleep(30); END IF; RETURN true; END';
        ALTER TABLE public.slow ADD CONSTRAINT slows CHECK (public.sleepy(id, note));`)
      await setOn(db.target, `idle_session_timeout = '300ms'`)
      const config = testConfig({ source: db.source.url, target: db.target.url })
      config.retry = { ...config.retry, attempts: 1 }
      const first = new TransferJob(config, { notifier: null }).run()
      // Past the timeout: the copy has slept for longer, while the run lock's session stayed idle.
      await waitFor(
        async () =>
          (
            await db.target.sql<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE wait_event = 'PgSleep' AND query_start < now() - interval '1 second'`,
            )
          )[0]!.n === 1,
        20_000,
        'the copy to sleep for a second',
      )
      const second = await new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
        notifier: null,
      }).run()
      assert.equal(second.error?.code, 'RUN_LOCKED', JSON.stringify(second.error))
      await db.target.sql(
        `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()`,
      )
      await first
    } finally {
      await db.drop()
    }
  })

  test('default_transaction_read_only on the target database: the run fails before writing, naming the setting and how to let the run write', async () => {
    const db = await databasePair(servers, 'dba_read_only')
    try {
      await db.source.sql(`CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2)`)
      await db.target.sql(`CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (7)`)
      await setOn(db.target, 'default_transaction_read_only = on')
      const before = await catalogState(db.target)
      for (const mode of ['replace', 'sync'] as const) {
        const config = testConfig({ source: db.source.url, target: db.target.url, mode })
        const report = await new TransferJob(config, { notifier: null }).run()
        assert.equal(report.status, 'failed')
        assert.equal(report.error?.code, 'TARGET_READ_ONLY', JSON.stringify(report.error))
        assert.match(report.error?.message ?? '', /default_transaction_read_only is on/)
        assert.match(
          report.error?.hint ?? '',
          /ALTER ROLE "postgres" IN DATABASE "dba_read_only_tgt_\w+" SET default_transaction_read_only = off/,
        )
      }
      const plan = await runCli(['plan', '--source', db.source.url, '--target', db.target.url])
      assert.equal(plan.code, 1, plan.stderr)
      assert.match(plan.stderr, /error: the target database dba_read_only_tgt_\w+ is read-only/)
      assert.match(plan.stderr, /SET default_transaction_read_only = off/)
      const file = path.join(tempDir(), 't.csv')
      writeFileSync(file, 'id\n3\n')
      const imported = await runCli([
        'import',
        '--target',
        db.target.url,
        '--table',
        'public.t',
        '--file',
        file,
        '--log-dir',
        tempDir(),
      ])
      assert.equal(imported.code, 1, imported.stderr)
      assert.match(imported.stderr, /default_transaction_read_only is on/)
      assert.match(imported.stderr, /SET default_transaction_read_only = off/)
      assert.deepEqual(await catalogState(db.target), before, 'nothing was written on the target')
    } finally {
      await db.drop()
    }
  })

  test(
    'a synchronous standby named on the target that is not there: the run fails within timeouts.connect instead of waiting for ever, and runs once the role commits locally',
    { timeout: 60_000 },
    async () => {
      // Only a server that sends WAL to standbys (max_wal_senders > 0) makes a COMMIT wait for one.
      const primary = await TestServer.start('sync-standby-target', undefined, PRIMARY_SETTINGS)
      try {
        const source = await TestDatabase.create(servers.source, 'dba_sync_standby_src')
        // Made before the setting: from then on every COMMIT on this server waits for the standby.
        const target = await TestDatabase.create(primary, 'dba_sync_standby_tgt')
        await withClient(primary.url, async (client) => {
          await client.query(`ALTER SYSTEM SET synchronous_standby_names = 'nightly_standby'`)
          await client.query(`ALTER SYSTEM SET synchronous_commit = on`)
          await client.query('SELECT pg_reload_conf()')
        })
        try {
          await waitFor(
            async () =>
              (
                await target.sql<{ s: string }>(
                  `SELECT current_setting('synchronous_standby_names') || current_setting('synchronous_commit') AS s`,
                )
              )[0]!.s === 'nightly_standbyon',
            10_000,
            'the reloaded setting',
          )
          await source.sql(
            `CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 10)`,
          )
          const config = testConfig({ source: source.url, target: target.url })
          config.timeouts.connect = 2000
          const report = await new TransferJob(config, { notifier: null }).run()
          assert.equal(report.status, 'failed')
          assert.equal(report.error?.code, 'TARGET_READ_ONLY', JSON.stringify(report.error))
          assert.match(
            report.error?.message ?? '',
            /wait for a synchronous standby \(synchronous_standby_names = 'nightly_standby', synchronous_commit = on\)/,
          )
          assert.match(report.error?.hint ?? '', /SET synchronous_commit = local/)
          const waiting = async () =>
            (
              await withClient(primary.url, (client) =>
                client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'`),
              )
            ).rows[0].n
          await waitFor(
            async () => (await waiting()) === 0,
            10_000,
            'no backend left waiting for the standby',
          )

          await withClient(primary.url, (client) =>
            client.query(
              `SET synchronous_commit = local; ALTER ROLE postgres IN DATABASE ${target.name} SET synchronous_commit = local`,
            ),
          )
          const again = await new TransferJob(config, { notifier: null }).run()
          assert.equal(again.status, 'succeeded', JSON.stringify(again.error))
          await assertSameRows({ source, target }, 'public.t')
        } finally {
          await source.drop()
        }
      } finally {
        await primary.destroy()
      }
    },
  )

  test(
    'a synchronous standby that goes away mid-run: each COMMIT waiting for it is let go after timeouts.stall, and the run ends saying so',
    { timeout: 60_000 },
    async () => {
      const primary = await TestServer.start('sync-standby-gone', undefined, PRIMARY_SETTINGS)
      try {
        const source = await TestDatabase.create(servers.source, 'dba_standby_gone_src')
        const target = await TestDatabase.create(primary, 'dba_standby_gone_tgt')
        try {
          await source.sql(
            `CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 10)`,
          )
          // Hides the server's WARNING that a COMMIT was let go, unless the run sets its own.
          await setOn(target, `client_min_messages = 'error'`)
          // An operator in public that matches int4 * interval better than pg_catalog's float8 one (as any
          // role may plant before PostgreSQL 15): the cancel's statement must not call it.
          await target.sql(`
            CREATE SEQUENCE public.planted_calls;
            CREATE FUNCTION public.planted_times(int4, interval) RETURNS interval LANGUAGE sql
              AS $$ SELECT $2 * $1::float8 + 0 * nextval('public.planted_calls') * interval '1 second' $$;
            CREATE OPERATOR public.* (LEFTARG = int4, RIGHTARG = interval, FUNCTION = public.planted_times);`)
          const config = testConfig({ source: source.url, target: target.url })
          config.timeouts.stall = 1000
          const job = new TransferJob(config, { notifier: null })
          // The standby "goes away" once the run has connected: from the copy on, every COMMIT that wrote
          // waits for it. Set synchronously, inside the event, so the copy cannot start before.
          job.on('step.started', ({ step }) => {
            if (step === 'copy') requireStandbyOn(primary.url)
          })
          const report = await job.run()
          assert.equal(report.tables[0]?.status, 'copied', JSON.stringify(report))
          assert.ok(
            report.warnings.some((w) =>
              /waited longer than timeouts\.stall for a synchronous standby/.test(w),
            ),
            JSON.stringify(report.warnings),
          )
          await withClient(primary.url, async (client) => {
            await client.query(`ALTER SYSTEM RESET synchronous_standby_names`)
            await client.query('SELECT pg_reload_conf()')
          })
          await assertSameRows({ source, target }, 'public.t')
          const [calls] = await target.sql<{ called: boolean }>(
            `SELECT is_called AS called FROM public.planted_calls`,
          )
          assert.equal(calls?.called, false, 'the planted operator was called')
        } finally {
          await source.drop()
        }
      } finally {
        await primary.destroy()
      }
    },
  )
})

/**
 * Names a synchronous standby that does not exist on the server at `url`, and returns once a new session sees
 * it (the postmaster has then signalled every session to reload). Blocks: the caller is an event handler.
 */
function requireStandbyOn(url: string): void {
  const script = `
    const pg = require('pg')
    const client = new pg.Client({ connectionString: process.argv[1] })
    ;(async () => {
      await client.connect()
      await client.query("ALTER SYSTEM SET synchronous_standby_names = 'gone_standby'")
      await client.query('ALTER SYSTEM SET synchronous_commit = on')
      await client.query('SELECT pg_reload_conf()')
      await client.end()
      for (;;) {
        const probe = new pg.Client({ connectionString: process.argv[1] })
        await probe.connect()
        const { rows } = await probe.query("SELECT current_setting('synchronous_standby_names') AS s")
        await probe.end()
        if (rows[0].s === 'gone_standby') break
      }
    })().catch((error) => { console.error(error); process.exit(1) })`
  execFileSync(process.execPath, ['-e', script, url], { cwd: ROOT, stdio: 'inherit', timeout: 20_000 })
}
