import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { TransferJob } from '../../src/run/transfer-job.js'
import { runCli, waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { runBetween } from '../helpers/sync-report.js'
import { testServers } from '../helpers/servers.js'

// A server short of temporary file space, memory, connection slots or lock table space, or a lock another
// session holds, can stop any statement of a run, not only a table's copy: the report names the server and
// says what to change there, instead of an unexpected INTERNAL error.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** Tables with many columns: the plan's catalog reads sort a few megabytes of them. */
const WIDE_TABLES = `
  CREATE SCHEMA m;
  DO $$ BEGIN
    FOR i IN 1..300 LOOP
      EXECUTE format('CREATE TABLE m.t%s (id int, %s)', i,
        (SELECT string_agg('c' || g || ' text', ', ') FROM generate_series(1, 40) g));
    END LOOP;
  END $$;
`

describe('a server limit outside a table copy', () => {
  test('temp_file_limit reached by the plan on the source: SERVER_LIMIT naming the source and the settings, in run and plan', async () => {
    const db = await databasePair(servers, 'limit_temp')
    try {
      await db.source.sql(WIDE_TABLES)
      // work_mem big enough for the session's own setup (pg_settings), not for the catalog's sorts.
      await db.source.sql(
        `ALTER DATABASE ${db.source.name} SET work_mem = '1MB'; ALTER DATABASE ${db.source.name} SET temp_file_limit = 0`,
      )
      const report = await runBetween(db, 'replace', { tables: ['m.*'] })
      assert.equal(report.status, 'failed')
      assert.equal(report.error?.code, 'SERVER_LIMIT', JSON.stringify(report.error))
      assert.equal(report.error?.sqlState, '53400')
      assert.match(
        report.error?.message ?? '',
        /^the source server: temporary file size exceeds "temp_file_limit"/,
      )
      assert.match(
        report.error?.hint ?? '',
        /on the source, and its temporary files exceeded temp_file_limit: raise temp_file_limit or work_mem for the run's user there/,
      )

      const plan = await runCli([
        'plan',
        '--source',
        db.source.url,
        '--target',
        db.target.url,
        '--table',
        'm.*',
      ])
      assert.equal(plan.code, 1, plan.stderr)
      assert.doesNotMatch(plan.stderr, /unexpected error/)
      assert.match(plan.stderr, /error: the source server: temporary file size exceeds/)
      assert.match(
        plan.stderr,
        /what to do: a statement of the run sorted or hashed more than work_mem on the source/,
      )
    } finally {
      await db.drop()
    }
  })

  test('temp_file_limit reached while a session starts: the advice is the setting, not the URL', async () => {
    const db = await databasePair(servers, 'limit_session')
    try {
      await db.source.sql(
        `ALTER DATABASE ${db.source.name} SET work_mem = '64kB'; ALTER DATABASE ${db.source.name} SET temp_file_limit = 0`,
      )
      const report = await runBetween(db, 'replace', { tables: ['public.*'] })
      assert.equal(report.error?.code, 'SERVER_LIMIT', JSON.stringify(report.error))
      assert.match(report.error?.hint ?? '', /temp_file_limit or work_mem for the run's user there/)
      assert.doesNotMatch(report.error?.hint ?? '', /URL/)
    } finally {
      await db.drop()
    }
  })

  test("a role's connection limit on the target: the advice names the role's limit", async () => {
    const db = await databasePair(servers, 'limit_role')
    const role = `limit_role_${Math.random().toString(36).slice(2, 8)}`
    try {
      await db.source.sql(`CREATE TABLE public.t (id int); INSERT INTO public.t VALUES (1)`)
      await db.target.sql(
        `CREATE ROLE ${role} LOGIN PASSWORD 'limit-pw' CONNECTION LIMIT 1; GRANT ALL ON DATABASE ${db.target.name} TO ${role}; GRANT ALL ON SCHEMA public TO ${role}`,
      )
      const url = new URL(db.target.url)
      url.username = role
      url.password = 'limit-pw'
      const report = await runBetween({ source: db.source, target: { url: url.toString() } }, 'replace')
      assert.equal(report.status, 'failed')
      const error = report.error ?? report.tables.find((t) => t.error)?.error
      assert.equal(error?.sqlState, '53300', JSON.stringify(report))
      assert.match(
        error?.hint ?? '',
        /the role's connection limit on the target is reached \(ALTER ROLE … CONNECTION LIMIT\)/,
      )
    } finally {
      await db.drop()
      const admin = new pg.Client({ connectionString: servers.target.url })
      await admin.connect()
      await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end())
    }
  })

  test('a lock another session holds on a view the views step replaces: the view fails saying what to do', async () => {
    const db = await databasePair(servers, 'limit_lock')
    const holder = new pg.Client({ connectionString: db.target.url })
    try {
      await db.source.sql(`CREATE TABLE public.t (id int); CREATE VIEW public.v AS SELECT id FROM public.t`)
      await db.target.sql(
        `CREATE TABLE public.t (id int); CREATE VIEW public.v AS SELECT id + 1 AS id FROM public.t`,
      )
      await holder.connect()
      await holder.query('BEGIN; LOCK TABLE public.v IN ACCESS SHARE MODE')
      const config = testConfig({ source: db.source.url, target: db.target.url })
      const job = new TransferJob(
        { ...config, timeouts: { ...config.timeouts, lock: 500 } },
        { notifier: null },
      )
      const report = await job.run()
      assert.equal(report.status, 'failed')
      const warning = report.warnings.find((w) => w.includes('public.v'))
      assert.match(
        warning ?? JSON.stringify(report.warnings),
        /lock timeout.*: another session holds a lock this step needs on the target, and the wait ended at timeouts\.lock/,
      )
    } finally {
      await holder.end().catch(() => {})
      await db.drop()
    }
  })

  test('a session ended by pg_terminate_backend in the views step: TARGET_UNREACHABLE saying who ended it', async () => {
    const db = await databasePair(servers, 'limit_terminate')
    const holder = new pg.Client({ connectionString: db.target.url })
    try {
      await db.source.sql(`CREATE TABLE public.t (id int); CREATE VIEW public.v AS SELECT id FROM public.t`)
      await db.target.sql(
        `CREATE TABLE public.t (id int); CREATE VIEW public.v AS SELECT id + 1 AS id FROM public.t`,
      )
      // The views step waits for the view another session reads (and so its table: an append's COPY
      // does not mind); an administrator ends the waiting session.
      await holder.connect()
      await holder.query('BEGIN; LOCK TABLE public.v IN ACCESS SHARE MODE')
      const running = new TransferJob(
        testConfig({ source: db.source.url, target: db.target.url, mode: 'append' }),
        { notifier: null },
      ).run()
      let ended = false
      while (!ended) {
        const rows = await db.target.sql<{ ended: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks
            WHERE NOT granted AND relation = 'public.v'::regclass AND pid <> pg_backend_pid()`,
        )
        ended = rows.some((row) => row.ended)
      }
      const report = await running
      assert.equal(report.status, 'failed')
      assert.equal(report.error?.code, 'TARGET_UNREACHABLE', JSON.stringify(report.error))
      assert.equal(report.error?.sqlState, '57P01')
      assert.match(
        report.error?.hint ?? '',
        /^an administrator \(pg_terminate_backend\) or a shutdown of the target server ended the session/,
      )
    } finally {
      await holder.end().catch(() => {})
      await db.drop()
    }
  })

  test('a lock another session holds on a table whose foreign key the run puts back: the key says what to do', async () => {
    const db = await databasePair(servers, 'limit_fk')
    const first = new pg.Client({ connectionString: db.target.url })
    const second = new pg.Client({ connectionString: db.target.url })
    try {
      const tables = `
        CREATE TABLE public.big (id int PRIMARY KEY, v text);
        CREATE TABLE public.parent (id int PRIMARY KEY);
        CREATE TABLE public.child (id int PRIMARY KEY, p int REFERENCES public.parent);`
      await db.source.sql(`${tables}
        INSERT INTO public.big SELECT g, repeat('b', 100) FROM generate_series(1, 2000) g;
        INSERT INTO public.parent VALUES (1); INSERT INTO public.child VALUES (1, 1); ANALYZE;`)
      await db.target.sql(`${tables} INSERT INTO public.parent VALUES (1);`)
      // The largest table's copy waits for a reader (jobs: 1), after the key between parent and child was
      // lifted; then another session starts writing to child, which putting the key back must wait for.
      await Promise.all([first.connect(), second.connect()])
      await first.query('BEGIN; LOCK TABLE public.big IN SHARE MODE')
      const config = testConfig({ source: db.source.url, target: db.target.url })
      const running = new TransferJob(
        {
          ...config,
          jobs: 1,
          tables: ['public.big', 'public.parent', 'public.child'],
          timeouts: { ...config.timeouts, lock: 3000 },
        },
        { notifier: null },
      ).run()
      await waitFor(
        async () =>
          (
            await db.target.sql(
              `SELECT FROM pg_locks WHERE NOT granted AND relation = 'public.big'::regclass`,
            )
          ).length > 0,
        30_000,
        'the copy of public.big to wait',
      )
      await second.query('BEGIN; LOCK TABLE public.child IN ROW EXCLUSIVE MODE')
      await first.query('COMMIT')
      const report = await running
      const child = report.tables.find((t) => t.table === 'public.child')
      const note = child?.warnings?.find((w) => w.startsWith('foreign key child_p_fkey could not be created'))
      assert.match(
        note ?? JSON.stringify(child),
        /lock timeout \(SQLSTATE 55P03\): another session holds a lock this step needs on the target, and the wait ended at timeouts\.lock/,
      )
    } finally {
      await Promise.all([first.end().catch(() => {}), second.end().catch(() => {})])
      await db.drop()
    }
  })
})
