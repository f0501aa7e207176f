import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { emailText } from '../../src/notify/email.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * The target commits the table, its reply is lost, and the target cannot be reached to ask (its record)
 * nor for any retry: what a crash just after a COMMIT looks like while the server recovers. The table
 * then holds the new rows, so a failure that says "previous contents kept" (the retry's own error) would
 * be false. Found by scripts/soak.ts: a restart run reported a table failed with TARGET_UNREACHABLE whose
 * copy was committed (tablehaul.copied_tables held it).
 */
test('a COMMIT whose reply is lost while the target stays unreachable is reported as unknown, not as kept', async () => {
  const db = await databasePair(servers, 'commit_reply_lost')
  const proxy = await TcpProxy.start(db.target.url)
  try {
    const table = 'CREATE TABLE public.items (id int PRIMARY KEY, note text);'
    await db.source.sql(`${table} INSERT INTO public.items SELECT g, 'new' FROM generate_series(1, 1000) g;`)
    await db.target.sql(`${table} INSERT INTO public.items SELECT g, 'old' FROM generate_series(1, 10) g;`)
    const config = testConfig({
      source: db.source.url,
      target: proxy.urlFor(db.target.url),
      tables: ['public.items'],
    })
    config.timeouts.stall = 1000
    config.timeouts.connect = 2000
    config.retry = { ...config.retry, attempts: 2, backoff: 0 }
    const job = new TransferJob(config, { notifier: null })
    let trapped: Promise<void> | undefined
    job.on('table.progress', (event) => {
      if (event.finishing && !trapped) trapped = proxy.loseNextCommitReply()
    })
    const report = await job.run()

    assert.ok(trapped, 'the table reached its COMMIT')
    await trapped
    const rows = await db.target.sql<{ note: string; n: string }>(
      'SELECT note, count(*) AS n FROM public.items GROUP BY note',
    )
    assert.deepEqual(rows, [{ note: 'new', n: '1000' }], 'the COMMIT whose reply was lost took effect')
    const items = report.tables.find((t) => t.table === 'public.items')
    assert.equal(items?.status, 'failed')
    assert.equal(
      items?.error?.code,
      'COMMIT_OUTCOME_UNKNOWN',
      `the report does not claim the old rows were kept: ${JSON.stringify(items?.error)}`,
    )
    const text = emailText(report)
    assert.match(text, /1 of 1 tables failed \(1 failed table may hold this run's copy, as its error says;/)
    assert.doesNotMatch(text, /failed and kept their previous contents/)
  } finally {
    await proxy.close()
    await db.drop()
  }
})
