import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { sqlFolder } from '../../src/db/sql-file.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

test('losing the source after its data is in (while the target builds indexes) neither fails nor repeats the table', async () => {
  const source = await TestDatabase.create(servers.source, 'window_src')
  const target = await TestDatabase.create(servers.target, 'window_tgt')
  try {
    // A table the run creates, in append mode: its index builds take a moment after the COPY, and a
    // second attempt would add every row again.
    await source.sql(`
      CREATE TABLE public.events (id int, v text);
      INSERT INTO public.events SELECT g, md5(g::text) FROM generate_series(1, 150000) g;
      CREATE INDEX events_v ON public.events (v);
      CREATE INDEX events_v_md5 ON public.events (md5(v || id));
    `)
    const config = testConfig({ source: source.url, target: target.url, mode: 'append' })
    // The table's transaction is held open after its data is in: its record of the copy (an INSERT into
    // tablehaul.copied_tables, made just before COMMIT) waits for this lock, so the source is lost inside
    // the window however fast the index builds are.
    await target.sql(sqlFolder(new URL('../../src/run/sql/', import.meta.url))('create_run_history'))
    const holder = new pg.Client(target.url)
    await holder.connect()
    await holder.query('BEGIN; LOCK TABLE tablehaul.copied_tables IN SHARE MODE')
    const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
    const job = new TransferJob(config, { notifier: null })
    let killed: Promise<boolean> | undefined
    job.on('table.progress', (event) => {
      if (event.finishing && !killed) {
        killed = (async () => {
          await withClient(servers.source.url, (client) =>
            client.query(
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
              [source.name],
            ),
          )
          // The table's transaction holds its lock on public.events until it ends, whether it is building
          // an index, waiting for the held lock, or between two statements at that moment.
          const [open] = await target.sql<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks
              WHERE relation = 'public.events'::regclass AND granted AND pid NOT IN (pg_backend_pid(), $1)`,
            [holderPid],
          )
          await holder.query('COMMIT')
          return open!.n > 0
        })()
      }
    })
    const report = await job.run().finally(() => holder.end())
    assert.ok(killed, 'the table reached its finishing step')
    assert.ok(await killed, "the source sessions were killed while the table's transaction was open")
    const events = report.tables.find((t) => t.table === 'public.events')!
    assert.equal(events.status, 'copied', JSON.stringify(events))
    assert.equal(events.attempts, 1)
    const [count] = await target.sql<{ n: string }>(`SELECT count(*)::text AS n FROM public.events`)
    assert.equal(count!.n, '150000', 'every row arrived exactly once')
  } finally {
    await Promise.all([source.drop(), target.drop()])
  }
})
