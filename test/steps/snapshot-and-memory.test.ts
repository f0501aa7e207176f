import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { TransferJob } from '../../src/run/transfer-job.js'
import { spawnCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog } from '../helpers/logs.js'
import { TestDatabase, testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

test('all tables come from one snapshot: rows written to the source during the run never split across tables', async () => {
  const source = await TestDatabase.create(servers.source, 'snap_src')
  const target = await TestDatabase.create(servers.target, 'snap_tgt')
  const writer = new pg.Client({ connectionString: source.url })
  try {
    // Every write adds the same id to both ledgers in one transaction. ledger_a is big, so it is copied
    // first and takes a while; ledger_b is copied after it (jobs: 1). Read at different instants, the
    // two would hold different ids.
    await source.sql(`
      CREATE TABLE public.ledger_a (id bigint PRIMARY KEY, pad text);
      CREATE TABLE public.ledger_b (id bigint PRIMARY KEY);
      INSERT INTO public.ledger_a SELECT g, repeat('x', 400) FROM generate_series(1, 60000) g;
      INSERT INTO public.ledger_b SELECT g FROM generate_series(1, 60000) g;
      ANALYZE;
    `)
    await writer.connect()
    let writing = true
    let next = 60001
    const writes = (async () => {
      while (writing) {
        await writer.query(
          `BEGIN; INSERT INTO public.ledger_a VALUES (${next}, 'w'); INSERT INTO public.ledger_b VALUES (${next}); COMMIT;`,
        )
        next++
      }
    })()
    await new Promise((resolve) => setTimeout(resolve, 200))
    const report = await new TransferJob(testConfig({ source: source.url, target: target.url, jobs: 1 }), {
      notifier: null,
    }).run()
    writing = false
    await writes
    assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
    assert.ok(report.snapshot.takenAt, 'the report gives the snapshot time')
    assert.deepEqual(
      report.tables.map((t) => t.table),
      ['public.ledger_a', 'public.ledger_b'],
      'the big table was copied first',
    )
    const [a] = await target.sql<{ n: string; max: string }>(
      `SELECT count(*)::text AS n, max(id)::text AS max FROM public.ledger_a`,
    )
    const [b] = await target.sql<{ n: string; max: string }>(
      `SELECT count(*)::text AS n, max(id)::text AS max FROM public.ledger_b`,
    )
    assert.deepEqual(a, b, 'both ledgers end at the same write')
    const [missing] = await target.sql<{ n: string }>(
      `SELECT count(*)::text AS n FROM public.ledger_a a FULL JOIN public.ledger_b b USING (id) WHERE a.id IS NULL OR b.id IS NULL`,
    )
    assert.equal(missing!.n, '0')
    const [sourceMax] = await source.sql<{ max: string }>(`SELECT max(id)::text AS max FROM public.ledger_b`)
    assert.ok(
      Number(sourceMax!.max) > Number(a!.max),
      'the source kept changing during the run (the test would notice a split)',
    )
  } finally {
    await writer.end().catch(() => {})
    await source.drop()
    await target.drop()
  }
})

test('a table of several hundred MB streams through with the Node heap capped at 64 MB and flat memory', async () => {
  const source = await TestDatabase.create(servers.source, 'big_src')
  const target = await TestDatabase.create(servers.target, 'big_tgt')
  try {
    await source.sql(`
      CREATE TABLE public.big (id bigint, payload text, n numeric);
      INSERT INTO public.big SELECT g, repeat(md5(g::text), 8), g / 7.0 FROM generate_series(1, 1000000) g;
    `)
    const [size] = await source.sql<{ bytes: string }>(`SELECT pg_table_size('public.big')::text AS bytes`)
    const bytes = Number(size?.bytes)
    assert.ok(Number(bytes) > 300 * 1024 * 1024, `the table is big (${bytes} bytes)`)
    const dir = tempDir()
    const run = spawnCli(
      ['run', '--source', source.url, '--target', target.url, '--log-dir', path.join(dir, 'logs'), '--quiet'],
      {
        nodeArgs: ['--max-old-space-size=64'],
        cwd: dir,
      },
    )
    const result = await run.done
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(await fingerprint(target.url, 'public.big'), await fingerprint(source.url, 'public.big'))
    const finished = readRunLog(path.join(dir, 'logs')).find((r) => r.event === 'run.finished')
    const peak = (finished?.resources as { peakRssBytes: number }).peakRssBytes
    assert.ok(
      peak < 160 * 1024 * 1024,
      `peak RSS ${Math.round(peak / 1048576)} MB stays far below the table's ${Math.round(Number(bytes) / 1048576)} MB`,
    )
  } finally {
    await source.drop()
    await target.drop()
  }
})
