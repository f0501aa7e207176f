import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

describe('what runs leave behind stays bounded', () => {
  test('after more runs than log.keepRuns, the target keeps the newest runs and their tables, the outbox and the log folder as many', async () => {
    const db = await databasePair(servers, 'bounded')
    try {
      await db.source.sql(`
        CREATE TABLE public.a (id int PRIMARY KEY); INSERT INTO public.a SELECT generate_series(1, 10);
        CREATE TABLE public.b (id int PRIMARY KEY); INSERT INTO public.b SELECT generate_series(1, 10);
      `)
      const dir = tempDir()
      const outbox = path.join(dir, 'outbox')
      const keepRuns = 3
      const runIds: string[] = []
      for (let run = 0; run < keepRuns + 3; run++) {
        const config = testConfig(
          { source: db.source.url, target: db.target.url, outbox, emailTo: ['dba@example.com'] },
          { dir },
        )
        config.log.keepRuns = keepRuns
        const report = await new TransferJob(config).run()
        assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
        assert.equal(report.notification?.status, 'sent')
        runIds.push(report.runId)
      }
      const kept = runIds.slice(-keepRuns).sort()
      const runs = await db.target.sql<{ run_id: string }>(
        'SELECT run_id FROM tablehaul.runs ORDER BY run_id',
      )
      assert.deepEqual(
        runs.map((r) => r.run_id),
        kept,
        'the newest keepRuns runs are kept, the older ones deleted',
      )
      const copied = await db.target.sql<{ run_id: string; n: string }>(
        'SELECT run_id, count(*) AS n FROM tablehaul.copied_tables GROUP BY run_id ORDER BY run_id',
      )
      assert.deepEqual(
        copied,
        kept.map((run_id) => ({ run_id, n: '2' })),
        'only the kept runs keep their copied tables',
      )
      const messages = readdirSync(outbox).filter((name) => name.endsWith('.eml'))
      assert.equal(messages.length, keepRuns, `the outbox holds ${messages.join(', ')}`)
      const logs = readdirSync(path.join(dir, 'logs')).filter((name) => name.endsWith('.ndjson'))
      assert.deepEqual(
        logs.sort(),
        kept.map((id) => `tablehaul-${id}.ndjson`),
      )
    } finally {
      await db.drop()
    }
  })
})
