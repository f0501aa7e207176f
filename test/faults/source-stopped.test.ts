import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog } from '../helpers/logs.js'
import { outboxMessages } from '../helpers/outbox.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let shared: Awaited<ReturnType<typeof testServers>>
let sourceServer: TestServer

before(async () => {
  // A source server of its own: this test stops it.
  ;[shared, sourceServer] = await Promise.all([testServers(), TestServer.start('stopped-source')])
})

after(async () => {
  await sourceServer?.destroy()
  await shared?.stop()
})

test('the source server stopped mid-run: the tables fail after their retries, old rows intact, within the bound', async () => {
  const source = await TestDatabase.create(sourceServer, 'stop_src')
  const target = await TestDatabase.create(shared.target, 'stop_tgt')
  const proxy = await TcpProxy.start(source.url)
  try {
    await source.sql(`
      CREATE TABLE public.big (id int PRIMARY KEY, pad text);
      INSERT INTO public.big SELECT g, repeat('x', 100) FROM generate_series(1, 40000) g;
      CREATE TABLE public.later (id int PRIMARY KEY);
      INSERT INTO public.later SELECT generate_series(1, 10);
      ANALYZE;
    `)
    await target.sql(
      `CREATE TABLE public.big (id int PRIMARY KEY, pad text); INSERT INTO public.big VALUES (1, 'old');`,
    )
    const before = await fingerprint(target.url, 'public.big')
    proxy.throttle(1024 * 1024)
    const dir = tempDir()
    const config = testConfig(
      {
        source: proxy.urlFor(source.url),
        target: target.url,
        outbox: path.join(dir, 'outbox'),
        emailTo: ['dba@example.com'],
      },
      { dir },
    )
    config.jobs = 1
    // The source's COPY made slow on the server (a short sleep every 2,000 rows), so its backend is still
    // producing rows when the server stops: loopback socket buffers swallow a 4 MB table whole, which would
    // leave an idle backend behind the throttled proxy and a table that arrives complete.
    config.tables = [
      { name: 'public.big', where: 'id % 2000 <> 0 OR pg_sleep(0.1) IS NOT NULL' },
      'public.later',
    ]
    config.retry = { attempts: 2, backoff: 500 }
    config.timeouts.connect = 2000
    const job = new TransferJob(config)
    let stopping: Promise<void> | undefined
    job.on('table.progress', (event) => {
      if (event.table === 'public.big' && event.bytes > 256 * 1024)
        stopping ??= sourceServer.stop('immediate')
    })
    const started = Date.now()
    const report = await job.run()
    const durationMs = Date.now() - started
    await stopping

    assert.ok(stopping, 'the source stopped during the COPY')
    assert.equal(report.status, 'failed')
    const big = report.tables.find((t) => t.table === 'public.big')!
    assert.equal(big.status, 'failed')
    assert.equal(big.attempts, 2, 'it was retried once')
    assert.match(big.error?.message ?? '', /source|connect|terminat/i)
    assert.equal(report.tables.find((t) => t.table === 'public.later')?.status, 'failed')
    assert.deepEqual(await fingerprint(target.url, 'public.big'), before, 'old rows intact')
    // Each attempt ends at the connect timeout (2 s) or sooner, with 0.5 s backoff between the two.
    assert.ok(durationMs < 2 * (2000 + 15_000) + 10_000, `bounded (${durationMs} ms)`)
    const log = readRunLog(path.join(dir, 'logs'))
    assert.ok(log.some((r) => r.event === 'table.retrying' && r.table === 'public.big'))
    assert.equal(log.find((r) => r.event === 'run.finished')?.status, 'failed')
    const [mail] = await outboxMessages(path.join(dir, 'outbox'))
    assert.match(mail?.subject ?? '', /^\[tablehaul\] FAILED · 2 of 2 tables failed/)
  } finally {
    await proxy.close()
    await sourceServer.restart().catch(() => {})
    await target.drop()
  }
})
