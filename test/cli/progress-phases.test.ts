import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { ProgressDisplay } from '../../src/cli/progress.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'

// While no bytes move (a lock wait, a sync's comparison), a progress line that said "0% ~0 rows 0 B" every
// few seconds told a cron log nothing; it names what the copy waits for.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

class Pipe {
  readonly isTTY = false
  readonly writes: string[] = []
  write(text: string): boolean {
    this.writes.push(text)
    return true
  }
  get lines(): string[] {
    return this.writes.join('').split('\n')
  }
}

test('a table waiting for a lock on its target table says so in the progress lines, then copies', async () => {
  const db = await databasePair(servers, 'progress_phases')
  const reader = new pg.Client({ connectionString: db.target.url })
  try {
    await db.source.sql(`CREATE TABLE public.orders (id int PRIMARY KEY, note text);
      INSERT INTO public.orders SELECT g, 'new' FROM generate_series(1, 1000) g;`)
    await db.target.sql(`CREATE TABLE public.orders (id int PRIMARY KEY, note text);
      INSERT INTO public.orders VALUES (1, 'old');`)
    // A report reading the table in a long transaction: the replace's TRUNCATE waits for it.
    await reader.connect()
    await reader.query('BEGIN; SELECT count(*) FROM public.orders')
    const job = new TransferJob(testConfig({ source: db.source.url, target: db.target.url }), {
      notifier: null,
    })
    const pipe = new Pipe()
    const display = new ProgressDisplay(job, pipe, { intervalSeconds: 0.05 })
    const running = job.run()
    try {
      await waitFor(
        () =>
          pipe.lines.some((l) =>
            /^ {2}public\.orders {2}waiting for a lock on the target table {2}0 B {2}/.test(l),
          ),
        30_000,
        `a line naming the lock wait; seen:\n${pipe.lines.slice(-5).join('\n')}`,
      )
      await reader.query('COMMIT')
      const report = await running
      assert.equal(report.tables[0]?.status, 'copied', JSON.stringify(report.tables))
    } finally {
      display.stop()
    }
    assert.ok(
      pipe.lines.some((l) => l.startsWith('OK public.orders 1,000 rows')),
      pipe.lines.join('\n'),
    )
  } finally {
    await reader.end().catch(() => {})
    await db.drop()
  }
})
