import assert from 'node:assert/strict'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runCli, spawnCli, waitFor } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog } from '../helpers/logs.js'
import { outboxMessages } from '../helpers/outbox.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const suffix = Math.random().toString(36).slice(2, 7)

/** Runs the CLI with logs and an outbox in a fresh folder; returns what it printed, logged and mailed. */
async function run(args: string[], options: { yaml?: string } = {}) {
  const dir = tempDir()
  if (options.yaml) writeFileSync(path.join(dir, 'tablehaul.yaml'), options.yaml)
  const started = Date.now()
  const result = await runCli(
    [
      ...args,
      '--log-dir',
      path.join(dir, 'logs'),
      '--outbox',
      path.join(dir, 'outbox'),
      '--email-to',
      'dba@example.com',
    ],
    { cwd: dir },
  )
  const durationMs = Date.now() - started
  let log: ReturnType<typeof readRunLog> = []
  try {
    log = readRunLog(path.join(dir, 'logs'))
  } catch {
    // no log: the run never started (bad configuration)
  }
  return { ...result, durationMs, log, mail: await outboxMessages(path.join(dir, 'outbox')) }
}

async function pair(name: string) {
  const [source, target] = await Promise.all([
    TestDatabase.create(servers.source, `${name}_src`),
    TestDatabase.create(servers.target, `${name}_tgt`),
  ])
  await source.sql(`
    CREATE TABLE public.kept (id int PRIMARY KEY, v text); INSERT INTO public.kept SELECT g, 'new' FROM generate_series(1, 300) g;
    CREATE TABLE public.other (id int PRIMARY KEY); INSERT INTO public.other SELECT generate_series(1, 50);
  `)
  await target.sql(
    `CREATE TABLE public.kept (id int PRIMARY KEY, v text); INSERT INTO public.kept SELECT g, 'old' FROM generate_series(1, 9) g;`,
  )
  return {
    source,
    target,
    kept: await fingerprint(target.url, 'public.kept'),
    drop: () => Promise.all([source.drop(), target.drop()]),
  }
}

/**
 * A login role on the target server that owns nothing in `p`'s target database, where it may create tables
 * and has `grants` (SQL given its name); `url` connects as it, `drop()` removes it.
 */
async function targetRole(
  p: Awaited<ReturnType<typeof pair>>,
  name: string,
  grants: (role: string) => string,
) {
  const role = `${name}_${suffix}`
  const drop = () =>
    withClient(servers.target.url, (c) =>
      c.query(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`),
    ).catch(() => {})
  await withClient(servers.target.url, (c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'loader-pw'`))
  try {
    await p.target.sql(
      `GRANT CREATE, USAGE ON SCHEMA public TO ${role}; GRANT CREATE ON DATABASE ${p.target.name} TO ${role}; ${grants(role)}`,
    )
  } catch (error) {
    await drop()
    throw error
  }
  const url = new URL(p.target.url)
  url.username = role
  url.password = 'loader-pw'
  return { url: url.toString(), drop }
}

describe('failures before any copy: one clear error, nothing touched, still logged and mailed', () => {
  test('a wrong password fails the run with a message that says to check it', async () => {
    const p = await pair('badpw')
    try {
      const url = new URL(p.source.url)
      url.password = 'not-the-password'
      const r = await run(['run', '--source', url.toString(), '--target', p.target.url])
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /cannot connect to the source .*password authentication failed/)
      assert.match(r.stderr, /check the user and password/)
      assert.equal(r.log.find((e) => e.event === 'run.finished')?.status, 'failed')
      assert.match(r.mail[0]?.subject ?? '', /^\[tablehaul\] FAILED/)
      assert.deepEqual(await fingerprint(p.target.url, 'public.kept'), p.kept)
    } finally {
      await p.drop()
    }
  })

  test('a host that never answers fails within the connect timeout', async () => {
    const silent = net.createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const p = await pair('silent')
    try {
      const port = (silent.address() as net.AddressInfo).port
      const r = await run(['run', '--config', 'tablehaul.yaml', '--target', p.target.url], {
        yaml: `source: { url: "postgres://reader@127.0.0.1:${port}/sales" }\ntimeouts: { connect: 2s }\n`,
      })
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /cannot connect to the source/)
      assert.ok(r.durationMs < 2000 + 15_000, `ended within its bound (${r.durationMs} ms)`)
      assert.equal(r.log.find((e) => e.event === 'run.finished')?.status, 'failed')
      assert.equal(r.mail.length, 1)
    } finally {
      silent.close()
      await p.drop()
    }
  })

  test('a port where nothing listens fails at once and names host and port', async () => {
    const p = await pair('refused')
    try {
      const r = await run([
        'run',
        '--source',
        'postgres://reader@127.0.0.1:1/sales',
        '--target',
        p.target.url,
      ])
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /nothing accepts connections there: check host and port/)
    } finally {
      await p.drop()
    }
  })

  test('a malformed config exits 2 with every problem listed, and nothing is written', async () => {
    const p = await pair('badconfig')
    try {
      const r = await run(['run', '--config', 'tablehaul.yaml', '--target', p.target.url], {
        yaml: `source: { url: "${p.source.url}" }\njobs: many\nmode: mirror\n`,
      })
      assert.equal(r.code, 2)
      assert.match(r.stderr, /^ {2}jobs: must be a number$/m)
      assert.match(r.stderr, /^ {2}mode: must be one of replace, append, recreate, sync$/m)
      assert.deepEqual(await fingerprint(p.target.url, 'public.kept'), p.kept)
      const [{ n } = { n: '' }] = await p.target.sql<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = 'tablehaul'`,
      )
      assert.equal(n, '0', 'not even the bookkeeping schema was created')
      const finished = r.log.find((record) => record.event === 'run.finished')
      assert.equal(finished?.status, 'failed')
      assert.equal((finished?.error as { code?: string } | undefined)?.code, 'CONFIG_INVALID')
      assert.match(r.mail[0]?.subject ?? '', /FAILED · the configuration is invalid/)
    } finally {
      await p.drop()
    }
  })

  test('a ${VAR} not set under cron is logged into log.dir and mailed, exit 2, for run, export and import', async () => {
    const commands = [
      ['run'],
      ['export', '--table', 'sales.orders', '--file', 'orders.csv'],
      ['import', '--table', 'sales.orders', '--file', 'orders.csv'],
    ]
    for (const command of commands) {
      const dir = tempDir()
      writeFileSync(
        path.join(dir, 'nightly.yaml'),
        [
          'source: { url: "postgres://reader:${SALES_DB_PASSWORD}@db.example.com/sales" }',
          'log: { dir: ./nightly-logs }',
          'email: { outbox: ./outbox, to: [dba@example.com] }',
          '',
        ].join('\n'),
      )
      const r = await runCli([...command, '--config', 'nightly.yaml'], { cwd: dir })
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /source\.url: environment variable SALES_DB_PASSWORD is not set/)
      const finished = readRunLog(path.join(dir, 'nightly-logs')).find((x) => x.event === 'run.finished')
      assert.equal(finished?.kind, command[0])
      assert.equal((finished?.error as { code?: string } | undefined)?.code, 'CONFIG_INVALID')
      const [message, ...more] = await outboxMessages(path.join(dir, 'outbox'))
      assert.equal(more.length, 0)
      assert.match(message?.subject ?? '', /^\[tablehaul\] FAILED · the configuration is invalid/)
      assert.match(message?.text ?? '', /SALES_DB_PASSWORD is not set/)
    }
  })

  test('a config that does not load for want of the password variable still names its source and target in the e-mail', async () => {
    const dir = tempDir()
    writeFileSync(
      path.join(dir, 'nightly.yaml'),
      [
        'source: { url: "postgres://reader@db.example.com/sales", password: "${SALES_DB_PASSWORD}" }',
        'email: { outbox: ./outbox, to: [dba@example.com] }',
        '',
      ].join('\n'),
    )
    const r = await runCli(['run', '--config', 'nightly.yaml'], { cwd: dir })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /^source {4}postgres:\/\/reader@db\.example\.com\/sales$/m)
    assert.match(r.stderr, /^target {4}local$/m)
    const [message] = await outboxMessages(path.join(dir, 'outbox'))
    assert.match(
      message?.subject ?? '',
      /^\[tablehaul\] FAILED · the configuration is invalid · sales@db\.example\.com(:5432)? → local · /,
    )
  })

  test("a config error wins over a log.dir that cannot be written, and the file's passwords stay hidden", async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'not-a-folder'), 'a file where log.dir should be a folder\n')
    writeFileSync(
      path.join(dir, 'tablehaul.yaml'),
      [
        'source: { url: "postgres://reader:${SALES_DB_PASSWORD}@db.example.com/sales" }',
        'target: { url: "postgres://loader@localhost/copy", password: "File-Only-Secret-7" }',
        'log: { dir: ./not-a-folder }',
        'email: { outbox: ./outbox, to: [dba@example.com] }',
        '',
      ].join('\n'),
    )
    const r = await runCli(['run'], { cwd: dir })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /SALES_DB_PASSWORD is not set/)
    const [message] = await outboxMessages(path.join(dir, 'outbox'))
    assert.match(message?.subject ?? '', /FAILED · the configuration is invalid/)
    assert.match(message?.text ?? '', /SALES_DB_PASSWORD is not set/)
    assert.match(message?.text ?? '', /the log cannot be written/, 'the log problem is told as well')
    for (const text of [r.stderr, r.stdout, message?.text ?? '', String(message?.html ?? '')])
      assert.doesNotMatch(text, /File-Only-Secret-7/)
  })

  test('a config error is still mailed when its log: section is not valid, and no log is written then', async () => {
    const dir = tempDir()
    writeFileSync(
      path.join(dir, 'tablehaul.yaml'),
      'jobs: many\nlog: { dir: ./logs, keepRuns: 0 }\nemail: { outbox: ./outbox, to: [dba@example.com] }\n',
    )
    const r = await runCli(['run'], { cwd: dir })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /^ {2}log\.keepRuns: /m)
    assert.ok(!existsSync(path.join(dir, 'logs')), 'no log folder was created')
    const [message] = await outboxMessages(path.join(dir, 'outbox'))
    assert.match(message?.text ?? '', /jobs: must be a number/)
  })

  test('a config file that is not valid YAML is logged and mailed where the flags and the environment say', async () => {
    const dir = tempDir()
    const yaml = 'source:\n  url: "postgres://reader:Yaml-Secret-3@db.example.com/sales"\n  password: a: b\n'
    writeFileSync(path.join(dir, 'nightly.yaml'), yaml)
    const r = await runCli(
      ['run', '--config', 'nightly.yaml', '--outbox', 'outbox', '--email-to', 'dba@example.com'],
      { cwd: dir, env: { TABLEHAUL_LOG_DIR: path.join(dir, 'nightly-logs') } },
    )
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /nightly\.yaml is not valid YAML:\n\s+line 3, column \d+/)
    const finished = readRunLog(path.join(dir, 'nightly-logs')).find((x) => x.event === 'run.finished')
    assert.equal((finished?.error as { code?: string } | undefined)?.code, 'CONFIG_INVALID')
    const [message] = await outboxMessages(path.join(dir, 'outbox'))
    assert.match(message?.subject ?? '', /^\[tablehaul\] FAILED · the configuration is invalid/)
    assert.match(message?.text ?? '', /not valid YAML[\s\S]*line 3/)
    for (const text of [r.stderr, message?.text ?? '', String(message?.html ?? '')])
      assert.doesNotMatch(text, /Yaml-Secret-3/)

    // Nothing outside the file says where: printed only, no log folder made up in the working directory.
    const bare = tempDir()
    writeFileSync(path.join(bare, 'tablehaul.yaml'), yaml)
    const printed = await runCli(['run'], { cwd: bare })
    assert.equal(printed.code, 2, printed.stderr)
    assert.match(printed.stderr, /tablehaul\.yaml is not valid YAML/)
    assert.deepEqual(readdirSync(bare), ['tablehaul.yaml'])
  })
})

describe('privileges: the table without them fails untouched, the others copy', () => {
  test('no SELECT privilege on a source table', async () => {
    const p = await pair('noselect')
    const role = `th_reader_${suffix}`
    try {
      await withClient(servers.source.url, (c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'reader-pw'`))
      await p.source.sql(`GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT ON public.other TO ${role};`)
      const url = new URL(p.source.url)
      url.username = role
      url.password = 'reader-pw'
      const r = await run(['run', '--source', url.toString(), '--target', p.target.url])
      assert.equal(r.code, 1, r.stderr)
      const failed = r.log.find((e) => e.event === 'table.failed')
      assert.equal(failed?.table, 'public.kept')
      assert.equal((failed?.error as { code: string }).code, 'PRIVILEGE_MISSING')
      assert.match(String((failed?.error as { hint: string }).hint), /GRANT SELECT ON "public"\."kept"/)
      assert.deepEqual(await fingerprint(p.target.url, 'public.kept'), p.kept)
      assert.deepEqual(
        await fingerprint(p.target.url, 'public.other'),
        await fingerprint(p.source.url, 'public.other'),
      )
      assert.match(r.mail[0]?.text ?? '', /no SELECT privilege on source table public\.kept/)
    } finally {
      await p.drop()
      await withClient(servers.source.url, (c) => c.query(`DROP ROLE IF EXISTS ${role}`))
    }
  })

  test('no TRUNCATE privilege on a target table (mode: replace)', async () => {
    const p = await pair('notruncate')
    let loader: Awaited<ReturnType<typeof targetRole>> | undefined
    try {
      loader = await targetRole(p, 'th_loader', (role) => `GRANT SELECT, INSERT ON public.kept TO ${role}`)
      const r = await run(['run', '--source', p.source.url, '--target', loader.url])
      assert.equal(r.code, 1, r.stderr)
      const failed = r.log.find((e) => e.event === 'table.failed')
      assert.equal(failed?.table, 'public.kept')
      assert.match(
        String((failed?.error as { message: string }).message),
        /no TRUNCATE privilege on target table public\.kept/,
      )
      assert.deepEqual(await fingerprint(p.target.url, 'public.kept'), p.kept)
      assert.deepEqual(
        await fingerprint(p.target.url, 'public.other'),
        await fingerprint(p.source.url, 'public.other'),
      )
    } finally {
      await p.drop()
      await loader?.drop()
    }
  })

  test('no UPDATE, DELETE or TEMP privilege for a sync: the plan names each grant, the run fails the table before writing', async () => {
    const p = await pair('nosyncrights')
    let loader: Awaited<ReturnType<typeof targetRole>> | undefined
    try {
      loader = await targetRole(
        p,
        'th_syncer',
        (role) =>
          `GRANT SELECT, INSERT, TRUNCATE ON public.kept TO ${role}; REVOKE TEMP ON DATABASE ${p.target.name} FROM PUBLIC`,
      )
      const args = ['--source', p.source.url, '--target', loader.url, '--mode', 'sync']
      const plan = await runCli(['plan', ...args])
      assert.equal(plan.code, 1, plan.stdout + plan.stderr)
      assert.match(
        plan.stdout,
        /public\.kept: no UPDATE or DELETE privilege on target table public\.kept and no TEMP privilege on the target database, which mode: sync needs .*; GRANT UPDATE, DELETE ON "public"\."kept" TO <the target user>; GRANT TEMP ON DATABASE <the target database> TO <the target user>; or use mode: replace/,
      )

      const r = await run(['run', ...args])
      assert.equal(r.code, 1, r.stderr)
      const failed = r.log.find((e) => e.event === 'table.failed')
      assert.equal(failed?.table, 'public.kept')
      assert.equal((failed?.error as { code: string }).code, 'PRIVILEGE_MISSING')
      assert.deepEqual(await fingerprint(p.target.url, 'public.kept'), p.kept, 'nothing was written')

      await p.target.sql(
        `GRANT UPDATE, DELETE ON public.kept TO th_syncer_${suffix}; GRANT TEMP ON DATABASE ${p.target.name} TO th_syncer_${suffix}`,
      )
      const granted = await run(['run', ...args])
      assert.equal(granted.code, 0, granted.stderr)
      assert.deepEqual(
        await fingerprint(p.target.url, 'public.kept'),
        await fingerprint(p.source.url, 'public.kept'),
      )
    } finally {
      await p.drop()
      await loader?.drop()
    }
  })

  test('as a user that does not own the target table: its triggers are a warning, its row level security a refusal before anything is written', async () => {
    const p = await pair('notowner')
    let loader: Awaited<ReturnType<typeof targetRole>> | undefined
    try {
      await p.target.sql(`
        CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := 'stamped'; RETURN NEW; END $$;
        CREATE TRIGGER kept_stamp BEFORE INSERT ON public.kept FOR EACH ROW EXECUTE FUNCTION public.stamp();
        CREATE TRIGGER kept_audit AFTER UPDATE ON public.kept FOR EACH ROW EXECUTE FUNCTION public.stamp();
        CREATE TABLE public.other (id int PRIMARY KEY);
        INSERT INTO public.other VALUES (-1);
        ALTER TABLE public.other ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
        CREATE POLICY everything ON public.other USING (true) WITH CHECK (true);
      `)
      loader = await targetRole(
        p,
        'th_nonowner',
        (role) => `GRANT SELECT, INSERT, TRUNCATE ON public.kept, public.other TO ${role}`,
      )
      const args = ['--source', p.source.url, '--target', loader.url]

      const plan = await runCli(['plan', ...args])
      assert.equal(plan.code, 1, 'the plan cannot run as it is')
      assert.match(
        plan.stdout,
        /note: public\.kept: the target user does not own it, .*trigger kept_stamp, which fires/,
      )
      assert.doesNotMatch(plan.stdout, /kept_audit/, 'an UPDATE trigger does not fire on a load')
      assert.match(plan.stdout + plan.stderr, /public\.other has row level security.*refuses COPY/)

      const r = await run(['run', ...args])
      assert.equal(r.code, 1, r.stderr)
      const warnings = r.log.filter((e) => e.event === 'run.warning').map((e) => String(e.message))
      const kept = warnings.find((w) => w.startsWith('public.kept:')) ?? ''
      assert.match(kept, /trigger kept_stamp, which fires on the rows it writes/)
      assert.match(kept, /or have the owner run ALTER TABLE "public"\."kept" DISABLE TRIGGER "kept_stamp"/)
      assert.match(r.stderr, /note: public\.kept: the target user does not own it/)
      const [stamped] = await p.target.sql<{ n: string }>(
        `SELECT count(*)::text AS n FROM public.kept WHERE v = 'stamped'`,
      )
      assert.equal(stamped?.n, '300', 'the warning is about a real effect: the trigger rewrote every row')
      assert.match(r.mail[0]?.text ?? '', /public\.kept: the target user does not own it/)
      const other = r.log.find((e) => e.event === 'table.failed' && e.table === 'public.other')
      assert.equal((other?.error as { code?: string } | undefined)?.code, 'PRIVILEGE_MISSING')
      assert.match(String((other?.error as { hint?: string } | undefined)?.hint), /BYPASSRLS/)
      const [left] = await p.target.sql<{ ids: string }>(
        `SELECT string_agg(id::text, ',') AS ids FROM public.other`,
      )
      assert.equal(left?.ids, '-1', 'the refused table was not touched')
    } finally {
      await p.drop()
      await loader?.drop()
    }
  })
})

describe('contention on the target', () => {
  test('a second run into the same target refuses while the first runs; the first finishes', async () => {
    const p = await pair('twice')
    await p.source.sql(
      `CREATE TABLE public.slow (id int, pad text); INSERT INTO public.slow SELECT g, repeat('s', 200) FROM generate_series(1, 20000) g;`,
    )
    const proxy = await TcpProxy.start(p.source.url)
    proxy.throttle(512 * 1024)
    try {
      const dir = tempDir()
      const first = spawnCli(
        [
          'run',
          '--source',
          proxy.urlFor(p.source.url),
          '--target',
          p.target.url,
          '--log-dir',
          path.join(dir, 'logs'),
        ],
        { cwd: dir },
      )
      await waitFor(() => proxy.bytes > 100_000, 30_000, 'the first run to be copying')
      const second = await run(['run', '--source', p.source.url, '--target', p.target.url])
      assert.equal(second.code, 1, second.stderr)
      assert.match(second.stderr, /another tablehaul run is writing into this target \(server pid \d+/)
      assert.equal(
        ((second.log.find((e) => e.event === 'run.finished')?.error as { code: string }) ?? {}).code,
        'RUN_LOCKED',
      )
      proxy.throttle(0)
      const done = await first.done
      assert.equal(done.code, 0, done.stderr)
      assert.deepEqual(
        await fingerprint(p.target.url, 'public.slow'),
        await fingerprint(p.source.url, 'public.slow'),
      )
    } finally {
      await proxy.close()
      await p.drop()
    }
  })

  test('a local reader holding the table makes it fail after the lock timeout, with its old rows', async () => {
    const p = await pair('locked')
    const reader = await import('pg').then(
      ({ default: pg }) => new pg.Client({ connectionString: p.target.url }),
    )
    await reader.connect()
    try {
      await reader.query('BEGIN; SELECT count(*) FROM public.kept;')
      const r = await run(
        ['run', '--config', 'tablehaul.yaml', '--source', p.source.url, '--target', p.target.url],
        {
          yaml: 'timeouts: { lock: 2s }\nretry: { attempts: 1 }\n',
        },
      )
      assert.equal(r.code, 1, r.stderr)
      const failed = r.log.find((e) => e.event === 'table.failed')
      assert.equal(failed?.table, 'public.kept')
      assert.equal((failed?.error as { sqlState: string }).sqlState, '55P03')
      assert.match(String((failed?.error as { hint: string }).hint), /another session holds a lock/)
      assert.ok(r.durationMs < 20_000, `bounded by the lock timeout (${r.durationMs} ms)`)
      await reader.query('COMMIT')
      assert.deepEqual(await fingerprint(p.target.url, 'public.kept'), p.kept)
    } finally {
      await reader.end()
      await p.drop()
    }
  })
})
