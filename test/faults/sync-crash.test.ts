import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { TransferJob } from '../../src/run/transfer-job.js'
import { spawnCli, waitFor } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { assertSameRows, rowsOf } from '../helpers/fingerprint.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'

// A sync writes a table's differences in one target transaction. Cut in the middle of writing them, by the
// target's crash or by the tablehaul process killed, the table keeps exactly its old rows, and the next sync
// makes it the source's again, row by row.

let shared: Awaited<ReturnType<typeof testServers>>
let targetServer: TestServer

before(async () => {
  // A target of its own: it is stopped with -m immediate.
  ;[shared, targetServer] = await Promise.all([testServers(), TestServer.start('crashing-target')])
})

after(async () => {
  await targetServer?.destroy()
  await shared?.stop()
})

/**
 * A synced table, changed on the source since, and a target session that holds one changed row locked, so
 * that the next sync waits in the middle of writing the differences until `release()` or the end of the
 * session. Resolves once that sync waits there.
 */
async function syncHeldMidApply(name: string) {
  const source = await TestDatabase.create(shared.source, `${name}_src`)
  const target = await TestDatabase.create(targetServer, `${name}_tgt`)
  await source.sql(`CREATE TABLE public.t (id int PRIMARY KEY, v text);
    INSERT INTO public.t SELECT g, md5(g::text) FROM generate_series(1, 20000) g`)
  const config = testConfig({ source: source.url, target: target.url, mode: 'sync' })
  config.retry = { ...config.retry, attempts: 1 }
  assert.equal((await new TransferJob(config, { notifier: null }).run()).status, 'succeeded')
  await source.sql(`UPDATE public.t SET v = 'changed' WHERE id % 100 = 0;
    DELETE FROM public.t WHERE id % 97 = 0; INSERT INTO public.t SELECT g, 'new' FROM generate_series(20001, 20200) g;
    CHECKPOINT`)
  const old = await rowsOf(target, 'public.t')
  const holder = new pg.Client({ connectionString: target.url })
  holder.on('error', () => {})
  await holder.connect()
  await holder.query('BEGIN; SELECT * FROM public.t WHERE id = 5000 FOR UPDATE')
  const waitingMidApply = () =>
    waitFor(
      async () =>
        (
          await target.sql<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE application_name = 'tablehaul' AND wait_event_type = 'Lock' AND query ~ '^UPDATE ONLY "public"."t"'`,
          )
        )[0]!.n === 1,
      30_000,
      "the sync's UPDATE to wait for the locked row",
    )
  return { source, target, config, old, holder, waitingMidApply }
}

test("the target crashing while a sync writes a table's differences: the table keeps its old rows, and the next sync is exact", async () => {
  const scene = await syncHeldMidApply('sync_crash_target')
  try {
    const running = new TransferJob(scene.config, { notifier: null }).run()
    await scene.waitingMidApply()
    await targetServer.stop('immediate')
    const report = await running
    await targetServer.restart()
    assert.equal(report.tables[0]?.status, 'failed', JSON.stringify(report.tables[0]))
    assert.deepEqual(await rowsOf(scene.target, 'public.t'), scene.old, 'the old rows, exactly')

    const again = await new TransferJob(scene.config, { notifier: null }).run()
    assert.equal(again.status, 'succeeded', JSON.stringify(again.tables))
    await assertSameRows(scene, 'public.t')
  } finally {
    await scene.holder.end().catch(() => {})
    await Promise.all([scene.source.drop(), scene.target.drop()])
  }
})

test("tablehaul killed (SIGKILL) while a sync writes a table's differences: the table keeps its old rows, and the next sync is exact", async () => {
  const scene = await syncHeldMidApply('sync_crash_killed')
  try {
    const cli = spawnCli([
      'run',
      '--source',
      scene.source.url,
      '--target',
      scene.target.url,
      '--mode',
      'sync',
      '--log-dir',
      tempDir(),
    ])
    await scene.waitingMidApply()
    cli.child.kill('SIGKILL')
    assert.equal((await cli.done).signal, 'SIGKILL')
    // The killed run's backend ends once it is no longer held (it notices the closed connection).
    await scene.holder.query('ROLLBACK')
    await waitFor(
      async () =>
        (
          await scene.target.sql<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tablehaul'`,
          )
        )[0]!.n === 0,
      30_000,
      "the killed run's sessions to end",
    )
    assert.deepEqual(await rowsOf(scene.target, 'public.t'), scene.old, 'the old rows, exactly')

    const again = await new TransferJob(scene.config, { notifier: null }).run()
    assert.equal(again.status, 'succeeded', JSON.stringify(again.tables))
    await assertSameRows(scene, 'public.t')
  } finally {
    await scene.holder.end().catch(() => {})
    await Promise.all([scene.source.drop(), scene.target.drop()])
  }
})
