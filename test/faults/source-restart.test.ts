import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'

// The source restarts (a crash, a failover, a DBA's restart for a setting) after the run read its plan and
// took its snapshot, while tables are still to be copied: the snapshot is gone with the session that held it.

let servers: Awaited<ReturnType<typeof testServers>>
let source: TestServer

before(async () => {
  servers = await testServers()
  // A source of its own: the runner's is shared with other test files.
  source = await TestServer.start('restarting-source')
})

after(async () => {
  await source?.destroy()
  await servers?.stop()
})

test('a source restarted between the plan and a table: the later tables fail with their old rows, and --resume copies only them', async () => {
  const src = await TestDatabase.create(source, 'restart_src')
  const tgt = await TestDatabase.create(servers.target, 'restart_tgt')
  try {
    await src.sql(`DO $$ BEGIN FOR i IN 1..4 LOOP
      EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY, v text); INSERT INTO public.t%s SELECT g, ''old'' FROM generate_series(1, %s) g', i, i, 1000 * i);
    END LOOP; END $$; ANALYZE`)
    const config = testConfig({ source: src.url, target: tgt.url, mode: 'sync' })
    config.jobs = 1
    // Retries of the table in flight wait longer than the restart takes: then its snapshot is gone, not the server.
    config.retry = { ...config.retry, attempts: 2, backoff: 2000 }
    config.timeouts.connect = 5000
    assert.equal((await new TransferJob(config, { notifier: null }).run()).status, 'succeeded')
    await src.sql(
      `UPDATE public.t1 SET v = 'new'; UPDATE public.t2 SET v = 'new'; UPDATE public.t3 SET v = 'new'; UPDATE public.t4 SET v = 'new'`,
    )
    // The test servers commit asynchronously (synchronous_commit = off): without a checkpoint, the immediate
    // stop could lose these rows on the source itself.
    await src.sql('CHECKPOINT')

    // t4 is copied first (largest first, one at a time); t3 then waits for this lock on the target, having
    // begun its read in the snapshot, until the source has restarted.
    const blocker = new pg.Client({ connectionString: tgt.url })
    await blocker.connect()
    await blocker.query('BEGIN; LOCK TABLE public.t3 IN SHARE MODE')
    const job = new TransferJob(config, { notifier: null })
    let restarted: Promise<void> | undefined
    job.on('table.copied', () => {
      restarted ??= (async () => {
        await source.stop('immediate')
        await source.restart()
        await blocker.end()
      })()
    })
    const report = await job.run()
    await restarted
    assert.equal(report.status, 'failed')
    const copied = report.tables.filter((t) => t.status === 'copied')
    const failed = report.tables.filter((t) => t.status === 'failed')
    assert.deepEqual(
      copied.map((t) => t.table),
      ['public.t4'],
      JSON.stringify(report.tables),
    )
    assert.equal(failed.length, 3, JSON.stringify(report.tables))
    for (const table of failed) {
      // t3, in flight, may have used its retries while the source was down; t2 and t1 start after it.
      const codes =
        table.table === 'public.t3' ? ['SNAPSHOT_FAILED', 'SOURCE_UNREACHABLE'] : ['SNAPSHOT_FAILED']
      assert.ok(codes.includes(table.error?.code ?? ''), JSON.stringify(table))
      if (table.error?.code === 'SNAPSHOT_FAILED')
        assert.match(table.error.hint ?? '', /the source restarted.*run again with --resume/)
      const [row] = await tgt.sql<{ v: string }>(`SELECT DISTINCT v FROM ${table.table}`)
      assert.equal(row?.v, 'old', `${table.table} keeps its previous rows`)
    }

    const resumed = await new TransferJob(config, { notifier: null }).run({ resume: true })
    assert.equal(resumed.status, 'succeeded', JSON.stringify(resumed.error))
    const skipped = resumed.tables.filter((t) => t.skipped === 'already-copied').map((t) => t.table)
    assert.deepEqual(skipped, [copied[0]!.table])
    for (const i of [1, 2, 3, 4]) await assertSameRows({ source: src, target: tgt }, `public.t${i}`)
  } finally {
    await tgt.drop()
  }
})
