import assert from 'node:assert/strict'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runCli, spawnCli, waitFor } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog, recordsSoFar } from '../helpers/logs.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * Three tables: public.big (6 MB, copied through a proxy slowed to 1 MB/s, so it lasts seconds) and two
 * small ones that finish first (jobs: 2), small_a referencing big. The target holds old rows of big.
 */
async function stage(name: string, extraArgs: string[] = []) {
  const [source, target] = await Promise.all([
    TestDatabase.create(servers.source, `${name}_src`),
    TestDatabase.create(servers.target, `${name}_tgt`),
  ])
  await source.sql(`
    CREATE TABLE public.big (id int PRIMARY KEY, pad text);
    INSERT INTO public.big SELECT g, repeat('b', 120) FROM generate_series(1, 50000) g;
    CREATE TABLE public.small_a (id int PRIMARY KEY, big_id int REFERENCES public.big (id));
    INSERT INTO public.small_a SELECT g, g FROM generate_series(1, 300) g;
    CREATE TABLE public.small_b (id int PRIMARY KEY);
    INSERT INTO public.small_b SELECT g FROM generate_series(1, 200) g;
    ANALYZE;
  `)
  // On the target, small_a's foreign key to big is lifted for the copy (TRUNCATE big needs that) and must
  // come back whatever happens to the run.
  await target.sql(`
    CREATE TABLE public.big (id int PRIMARY KEY, pad text);
    INSERT INTO public.big SELECT g, 'old' FROM generate_series(1, 77) g;
    CREATE TABLE public.small_a (id int PRIMARY KEY, big_id int CONSTRAINT small_a_big_fk REFERENCES public.big (id));
  `)
  const proxy = await TcpProxy.start(source.url)
  proxy.throttle(1024 * 1024)
  const dir = tempDir()
  const logDir = path.join(dir, 'logs')
  const args = ['--target', target.url, '--jobs', '2', '--log-dir', logDir, ...extraArgs]
  const before = await fingerprint(target.url, 'public.big')
  const first = spawnCli(['run', '--source', proxy.urlFor(source.url), ...args], { cwd: dir })
  // Both small tables committed, and public.big is in the middle of its COPY.
  await waitFor(
    () => {
      const records = recordsSoFar(logDir)
      return (
        records.filter((r) => r.event === 'table.copied').length === 2 &&
        records.some((r) => r.event === 'table.started' && r.table === 'public.big')
      )
    },
    60_000,
    'the small tables to commit while public.big copies',
  )
  await waitFor(() => proxy.bytes > 512 * 1024, 30_000, 'public.big to be under way')
  return {
    source,
    target,
    dir,
    logDir,
    first,
    before,
    resume: () => runCli(['run', '--source', source.url, ...args, '--resume'], { cwd: dir }),
    cleanup: async () => {
      first.child.kill('SIGKILL')
      await proxy.close()
      await Promise.all([source.drop(), target.drop()])
    },
  }
}

describe('an interrupted or killed run is resumed: only what did not commit is copied', () => {
  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    test(`after ${signal === 'SIGINT' ? 'Ctrl-C' : 'kill -9'} mid-run, run --resume copies only the unfinished table`, async () => {
      const s = await stage(`resume_${signal.toLowerCase()}`)
      try {
        s.first.child.kill(signal)
        const first = await s.first.done
        if (signal === 'SIGINT') assert.equal(first.code, 130, first.stderr)
        else assert.equal(first.signal, 'SIGKILL')
        assert.deepEqual(
          await fingerprint(s.target.url, 'public.big'),
          s.before,
          'the interrupted table kept its old rows',
        )
        const [killed] = await s.target.sql<{ status: string }>(
          `SELECT status FROM tablehaul.runs ORDER BY started_at DESC LIMIT 1`,
        )
        assert.equal(killed!.status, signal === 'SIGINT' ? 'interrupted' : 'running')
        const foreignKey = `SELECT count(*)::text AS n FROM pg_constraint WHERE conname = 'small_a_big_fk'`
        const pending = `SELECT count(*)::text AS n FROM tablehaul.pending_foreign_keys`
        if (signal === 'SIGINT') {
          assert.deepEqual(await s.target.sql(foreignKey), [{ n: '1' }], 'the stopped run put the key back')
        } else {
          assert.deepEqual(await s.target.sql(foreignKey), [{ n: '0' }], 'the killed run had lifted the key')
          assert.deepEqual(await s.target.sql(pending), [{ n: '1' }], '…and recorded it with the drop')
        }

        const resumed = await s.resume()
        assert.equal(resumed.code, 0, resumed.stderr)
        const log = readRunLog(s.logDir)
        const skipped = log
          .filter((r) => r.event === 'table.skipped')
          .map((r) => r.table)
          .sort()
        assert.deepEqual(
          skipped,
          ['public.small_a', 'public.small_b'],
          'the committed tables are not copied again',
        )
        for (const record of log.filter((r) => r.event === 'table.skipped')) {
          assert.match(String(record.reason), /already copied by run \d{8}-\d{6}-[0-9a-f]{4}/)
        }
        assert.deepEqual(
          log.filter((r) => r.event === 'table.copied').map((r) => r.table),
          ['public.big'],
        )
        assert.match(
          resumed.stderr,
          signal === 'SIGINT'
            ? /resuming run .*\(interrupted\)/
            : /resuming run .*\(it was killed before it finished\)/,
        )
        const [recorded] = await s.target.sql<{ status: string }>(
          `SELECT status FROM tablehaul.runs ORDER BY started_at LIMIT 1`,
        )
        assert.equal(
          recorded!.status,
          signal === 'SIGINT' ? 'interrupted' : 'killed',
          'the first run as it ended',
        )
        assert.deepEqual(await s.target.sql(foreignKey), [{ n: '1' }], 'the key is back after the resume')
        assert.deepEqual(await s.target.sql(pending), [{ n: '0' }], 'nothing is left to put back')
        for (const table of ['public.big', 'public.small_a', 'public.small_b']) {
          assert.deepEqual(
            await fingerprint(s.target.url, table),
            await fingerprint(s.source.url, table),
            table,
          )
        }
      } finally {
        await s.cleanup()
      }
    })
  }

  test('a second Ctrl-C quits at once, even while the first one is still winding the run down', async () => {
    // The e-mail goes to a server that accepts connections and never answers: after the first Ctrl-C the
    // run would wait for it (up to email.timeout, 30 s); the second one must not.
    let mailAttempts = 0
    const silent = net.createServer(() => mailAttempts++)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as net.AddressInfo).port
    const s = await stage('second_sigint', [
      '--smtp-url',
      `smtp://127.0.0.1:${port}`,
      '--email-to',
      'dba@example.com',
    ])
    try {
      s.first.child.kill('SIGINT')
      await waitFor(
        () => s.first.output().stderr.includes('SIGINT received'),
        10_000,
        'the first signal to be handled',
      )
      // The run is winding down: it has finished and now waits on the silent mail server.
      await waitFor(() => mailAttempts > 0, 30_000, 'the stopped run to try its e-mail')
      assert.equal(s.first.child.exitCode, null, 'the first signal alone did not end the process yet')
      s.first.child.kill('SIGINT')
      const first = await s.first.done
      assert.equal(first.code, 130)
      const log = readRunLog(s.logDir)
      assert.ok(
        log.some((r) => r.event === 'run.finished'),
        'the first signal let the run finish its report',
      )
      assert.ok(!log.some((r) => r.event === 'notify.sent'))
      const notSent = log.filter((r) => r.event === 'notify.failed')
      assert.equal(notSent.length, 1, 'the log says the e-mail was not sent')
      assert.match(
        (notSent[0]!.error as { message?: string }).message ?? '',
        /^interrupted while it was being sent/,
        'it exited at the second signal, while the e-mail was still being tried, not once the e-mail gave up',
      )
      assert.deepEqual(
        await fingerprint(s.target.url, 'public.big'),
        s.before,
        'the table in flight kept its old rows',
      )
    } finally {
      silent.close()
      await s.cleanup()
    }
  })

  test('in append mode, resume proves exactly-once by data: every table ends with its old rows plus the source rows once', async () => {
    // No keys on the target: a table appended twice would show every source row twice instead of failing.
    const [source, target] = await Promise.all([
      TestDatabase.create(servers.source, 'resume_append_src'),
      TestDatabase.create(servers.target, 'resume_append_tgt'),
    ])
    const proxy = await TcpProxy.start(source.url)
    const dir = tempDir()
    const logDir = path.join(dir, 'logs')
    const args = ['--target', target.url, '--jobs', '2', '--log-dir', logDir, '--mode', 'append']
    let first: ReturnType<typeof spawnCli> | undefined
    try {
      await source.sql(`
        CREATE TABLE public.big (id int, pad text);
        INSERT INTO public.big SELECT g, repeat('b', 120) FROM generate_series(1, 50000) g;
        CREATE TABLE public.small_a (id int);
        INSERT INTO public.small_a SELECT generate_series(1, 300);
        CREATE TABLE public.small_b (id int);
        INSERT INTO public.small_b SELECT generate_series(1, 200);
        ANALYZE;
      `)
      await target.sql(`
        CREATE TABLE public.big (id int, pad text);
        INSERT INTO public.big SELECT -g, 'old' FROM generate_series(1, 77) g;
        CREATE TABLE public.small_a (id int);
        INSERT INTO public.small_a SELECT -g FROM generate_series(1, 5) g;
        CREATE TABLE public.small_b (id int);
      `)
      proxy.throttle(1024 * 1024)
      first = spawnCli(['run', '--source', proxy.urlFor(source.url), ...args], { cwd: dir })
      await waitFor(
        () => {
          const records = recordsSoFar(logDir)
          return (
            records.filter((r) => r.event === 'table.copied').length === 2 &&
            records.some((r) => r.event === 'table.started' && r.table === 'public.big')
          )
        },
        60_000,
        'the small tables to commit while public.big copies',
      )
      await waitFor(() => proxy.bytes > 512 * 1024, 30_000, 'public.big to be under way')
      first.child.kill('SIGKILL')
      assert.equal((await first.done).signal, 'SIGKILL')

      const resumed = await runCli(['run', '--source', source.url, ...args, '--resume'], { cwd: dir })
      assert.equal(resumed.code, 0, resumed.stderr)
      assert.deepEqual(
        readRunLog(logDir)
          .filter((r) => r.event === 'table.skipped')
          .map((r) => r.table)
          .sort(),
        ['public.small_a', 'public.small_b'],
      )
      const counts = `SELECT count(*) FILTER (WHERE id > 0)::text AS new, count(*) FILTER (WHERE id < 0)::text AS old,
                             count(DISTINCT id) FILTER (WHERE id > 0)::text AS distinct_new`
      assert.deepEqual(await target.sql(`${counts} FROM public.big`), [
        { new: '50000', old: '77', distinct_new: '50000' },
      ])
      assert.deepEqual(await target.sql(`${counts} FROM public.small_a`), [
        { new: '300', old: '5', distinct_new: '300' },
      ])
      assert.deepEqual(await target.sql(`${counts} FROM public.small_b`), [
        { new: '200', old: '0', distinct_new: '200' },
      ])
    } finally {
      first?.child.kill('SIGKILL')
      await proxy.close()
      await Promise.all([source.drop(), target.drop()])
    }
  })

  test('--resume after a run that succeeded copies everything again, and says so', async () => {
    const source = await TestDatabase.create(servers.source, 'resume_ok_src')
    const target = await TestDatabase.create(servers.target, 'resume_ok_tgt')
    try {
      await source.sql(
        `CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 10);`,
      )
      const dir = tempDir()
      const args = [
        'run',
        '--source',
        source.url,
        '--target',
        target.url,
        '--log-dir',
        path.join(dir, 'logs'),
      ]
      assert.equal((await runCli(args, { cwd: dir })).code, 0)
      const again = await runCli([...args, '--resume'], { cwd: dir })
      assert.equal(again.code, 0, again.stderr)
      assert.match(
        again.stderr,
        /nothing to resume: the last run \(\S+\) succeeded, so every table is copied/,
      )
      assert.ok(
        readRunLog(path.join(dir, 'logs')).some((r) => r.event === 'table.copied' && r.table === 'public.t'),
      )
    } finally {
      await Promise.all([source.drop(), target.drop()])
    }
  })

  test('--resume continues only the same job: after a run of other tables it says so and copies everything', async () => {
    const [source, target] = await Promise.all([
      TestDatabase.create(servers.source, 'resume_job_src'),
      TestDatabase.create(servers.target, 'resume_job_tgt'),
    ])
    try {
      await source.sql(`
        CREATE TABLE public.good (id int PRIMARY KEY); INSERT INTO public.good SELECT generate_series(1, 10);
        CREATE TABLE public.bad (id int PRIMARY KEY, v text); INSERT INTO public.bad VALUES (1, 'x');
      `)
      // The target's public.bad does not fit the source's: the first run fails it and copies public.good.
      await target.sql(`CREATE TABLE public.bad (id int PRIMARY KEY, v int)`)
      const dir = tempDir()
      const logDir = path.join(dir, 'logs')
      const args = ['run', '--source', source.url, '--target', target.url, '--log-dir', logDir]
      assert.equal((await runCli(args, { cwd: dir })).code, 1)

      const other = await runCli([...args, '--table', 'public.good', '--resume'], { cwd: dir })
      assert.equal(other.code, 0, other.stderr)
      assert.match(
        other.stderr,
        /nothing to resume: the last run on this target \(\S+\) was a different job \(it selected other tables\), so every table is copied/,
      )
      assert.ok(
        readRunLog(logDir).some((r) => r.event === 'table.copied' && r.table === 'public.good'),
        'public.good was copied again, not skipped',
      )
    } finally {
      await Promise.all([source.drop(), target.drop()])
    }
  })

  test('without the privilege to keep run records, a failed run says --resume cannot help', async () => {
    const [source, target] = await Promise.all([
      TestDatabase.create(servers.source, 'resume_none_src'),
      TestDatabase.create(servers.target, 'resume_none_tgt'),
    ])
    const role = `resume_none_${Math.random().toString(36).slice(2, 8)}`
    try {
      await source.sql(`
        CREATE TABLE public.good (id int PRIMARY KEY); INSERT INTO public.good SELECT generate_series(1, 10);
        CREATE TABLE public.bad (id int PRIMARY KEY, v text); INSERT INTO public.bad VALUES (1, 'x');
      `)
      // A role that may load existing tables but not create the schema "tablehaul" (no CREATE on the database).
      await target.sql(`
        CREATE ROLE ${role} LOGIN PASSWORD 'resume-none';
        CREATE TABLE public.good (id int PRIMARY KEY);
        CREATE TABLE public.bad (id int PRIMARY KEY, v int);
        GRANT USAGE ON SCHEMA public TO ${role};
        GRANT SELECT, INSERT, TRUNCATE ON public.good, public.bad TO ${role};
      `)
      const targetUrl = new URL(target.url)
      targetUrl.username = role
      targetUrl.password = 'resume-none'
      const dir = tempDir()
      const result = await runCli(
        [
          'run',
          '--source',
          source.url,
          '--target',
          targetUrl.toString(),
          '--log-dir',
          path.join(dir, 'logs'),
        ],
        { cwd: dir },
      )
      assert.equal(result.code, 1, result.stderr)
      assert.match(
        result.stderr,
        /resume is unavailable for this run: .*\(SQLSTATE 42501\)\); grant CREATE on the database/,
      )
      assert.match(result.stderr, /What to do: .*run the same command again; every table is copied again/)
      assert.doesNotMatch(result.stderr, /--resume to copy only/)
    } finally {
      await Promise.all([source.drop(), target.drop()])
      await withClient(servers.target.url, (c) => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => {})
    }
  })

  test('run records that cannot be kept for another reason than a privilege do not ask for one', async () => {
    const [source, target] = await Promise.all([
      TestDatabase.create(servers.source, 'resume_broken_src'),
      TestDatabase.create(servers.target, 'resume_broken_tgt'),
    ])
    try {
      await source.sql(`CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1);`)
      // A tablehaul.runs of another shape (the run's own role owns it, so it is trusted): the records cannot
      // be written (42703, not 42501). A view there would be refused outright (test/run/run-history.test.ts).
      await target.sql(`CREATE SCHEMA tablehaul; CREATE TABLE tablehaul.runs (run_id int);`)
      const dir = tempDir()
      const result = await runCli(
        ['run', '--source', source.url, '--target', target.url, '--log-dir', path.join(dir, 'logs')],
        { cwd: dir },
      )
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stderr, /resume is unavailable for this run: .*; the next run tries again/)
      assert.doesNotMatch(result.stderr, /grant CREATE/)
    } finally {
      await Promise.all([source.drop(), target.drop()])
    }
  })
})
