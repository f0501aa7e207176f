import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { type TestDatabase, testServers } from '../helpers/servers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** A role of its own (roles are per server), with only CREATE on the target database. */
async function hostileRole(target: TestDatabase): Promise<string> {
  const role = `attacker_${Math.random().toString(36).slice(2, 8)}`
  await target.sql(`CREATE ROLE ${role} NOLOGIN; GRANT CREATE ON DATABASE ${target.name} TO ${role}`)
  return role
}

async function dropRole(target: TestDatabase, role: string): Promise<void> {
  await target.sql(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => {})
}

async function isSuperuser(target: TestDatabase, role: string): Promise<boolean> {
  const [row] = await target.sql<{ rolsuper: boolean }>(`SELECT rolsuper FROM pg_roles WHERE rolname = $1`, [
    role,
  ])
  return row?.rolsuper === true
}

function runInto(db: { source: TestDatabase; target: TestDatabase }): Promise<RunReport> {
  const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.t'] })
  return new TransferJob(config, { notifier: null }).run()
}

test("a role that created tablehaul's bookkeeping first with a trigger cannot become superuser: the superuser's run refuses before writing, naming the owner", async () => {
  const db = await databasePair(servers, 'hostile_history')
  const role = await hostileRole(db.target)
  try {
    await db.source.sql(`CREATE TABLE public.t (id int); INSERT INTO public.t VALUES (1)`)
    // The trigger needs no SECURITY DEFINER: it runs as whoever inserts, here the superuser tablehaul runs as.
    await db.target.sql(`
      SET ROLE ${role};
      CREATE SCHEMA tablehaul;
      CREATE TABLE tablehaul.runs (run_id text PRIMARY KEY, series_id text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz, status text NOT NULL DEFAULT 'running', source text, snapshot_taken_at timestamptz, job text);
      CREATE FUNCTION tablehaul.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN EXECUTE 'ALTER ROLE ${role} SUPERUSER'; RETURN NEW; END $$;
      CREATE TRIGGER escalate BEFORE INSERT OR UPDATE ON tablehaul.runs FOR EACH ROW EXECUTE FUNCTION tablehaul.escalate();
      RESET ROLE;`)

    const report = await runInto(db)

    assert.equal(report.status, 'failed')
    assert.equal(report.error?.code, 'TARGET_UNTRUSTED')
    assert.match(report.error?.message ?? '', new RegExp(`schema "tablehaul" is owned by role ${role}`))
    assert.match(report.error?.message ?? '', /tablehaul\.runs has trigger escalate/)
    assert.match(report.error?.hint ?? '', /DROP SCHEMA tablehaul CASCADE/)
    assert.equal(await isSuperuser(db.target, role), false, 'the hostile role stays a plain role')
    assert.deepEqual(await db.target.sql(`SELECT run_id FROM tablehaul.runs`), [], 'no run was recorded')
    assert.deepEqual(
      await db.target.sql(`SELECT 1 FROM pg_class WHERE relname IN ('t', 'copied_tables')`),
      [],
      'nothing was created on the target',
    )
  } finally {
    await db.drop()
    await dropRole(db.target, role)
  }
})

test("tablehaul's own bookkeeping where another role may create objects or has a trigger is refused; once put right, runs go on", async () => {
  const db = await databasePair(servers, 'shared_history')
  const role = await hostileRole(db.target)
  try {
    await db.source.sql(`CREATE TABLE public.t (id int); INSERT INTO public.t VALUES (1)`)
    const first = await runInto(db)
    assert.equal(first.status, 'succeeded', JSON.stringify(first.error))

    await db.target.sql(
      `GRANT CREATE ON SCHEMA tablehaul TO ${role}; GRANT INSERT ON tablehaul.pending_foreign_keys TO ${role}`,
    )
    const shared = await runInto(db)
    assert.equal(shared.error?.code, 'TARGET_UNTRUSTED')
    assert.match(
      shared.error?.message ?? '',
      new RegExp(`role ${role} may create objects in schema "tablehaul"`),
    )
    assert.match(
      shared.error?.message ?? '',
      new RegExp(`role ${role} has INSERT on tablehaul\\.pending_foreign_keys`),
    )

    await db.target
      .sql(`REVOKE ALL ON SCHEMA tablehaul FROM ${role}; REVOKE ALL ON tablehaul.pending_foreign_keys FROM ${role};
      ALTER TABLE tablehaul.copied_tables OWNER TO ${role}`)
    const foreign = await runInto(db)
    assert.match(
      foreign.error?.message ?? '',
      new RegExp(`tablehaul\\.copied_tables is owned by role ${role}`),
    )

    await db.target.sql(`ALTER TABLE tablehaul.copied_tables OWNER TO CURRENT_USER;
      CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER noop BEFORE INSERT ON tablehaul.copied_tables FOR EACH ROW EXECUTE FUNCTION public.noop();
      ALTER TABLE tablehaul.runs ENABLE ROW LEVEL SECURITY`)
    const triggered = await runInto(db)
    assert.match(
      triggered.error?.message ?? '',
      /tablehaul\.copied_tables has trigger noop \(function noop, owned by postgres\)/,
    )
    assert.match(triggered.error?.message ?? '', /tablehaul\.runs has row-level security enabled/)

    await db.target.sql(
      `DROP TRIGGER noop ON tablehaul.copied_tables; ALTER TABLE tablehaul.runs DISABLE ROW LEVEL SECURITY`,
    )
    const again = await runInto(db)
    assert.equal(again.status, 'succeeded', JSON.stringify(again.error))
    const runs = await db.target.sql<{ status: string }>(
      `SELECT status FROM tablehaul.runs ORDER BY started_at`,
    )
    assert.deepEqual(
      runs.map((r) => r.status),
      ['succeeded', 'succeeded'],
      'only the runs that were let through are recorded',
    )
  } finally {
    await db.drop()
    await dropRole(db.target, role)
  }
})

test('a run that lost its target before recording its end is marked as its own log says by the next run, not as killed', async () => {
  const db = await databasePair(servers, 'lost_end')
  const proxy = await TcpProxy.start(db.target.url)
  try {
    await db.source.sql(`CREATE TABLE public.t (id int); INSERT INTO public.t VALUES (1)`)
    const dir = tempDir()
    const through = testConfig(
      { source: db.source.url, target: proxy.urlFor(db.target.url), tables: ['public.t'] },
      { dir },
    )
    const first = new TransferJob(through, { notifier: null })
    // The target goes away once the work is done, when the run is about to record how it ended.
    first.on('step.started', ({ step }) => {
      if (step === 'report') void proxy.close()
    })
    const lost = await first.run()
    assert.equal(lost.status, 'succeeded', JSON.stringify(lost.error))
    const [stale] = await db.target.sql<{ status: string }>(
      `SELECT status FROM tablehaul.runs WHERE run_id = $1`,
      [lost.runId],
    )
    assert.equal(stale?.status, 'running', 'the end could not be recorded')

    const direct = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.t'] }, { dir })
    const next = await new TransferJob(direct, { notifier: null }).run()
    assert.equal(next.status, 'succeeded', JSON.stringify(next.error))
    const [marked] = await db.target.sql<{ status: string; finished_at: Date | null }>(
      `SELECT status, finished_at FROM tablehaul.runs WHERE run_id = $1`,
      [lost.runId],
    )
    assert.equal(marked?.status, 'succeeded')
    assert.equal(marked?.finished_at?.toISOString(), lost.finishedAt)
  } finally {
    await proxy.close().catch(() => {})
    await db.drop()
  }
})
