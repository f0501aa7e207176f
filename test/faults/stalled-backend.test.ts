import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * A target backend busy in a statement (here a CHECK function that sleeps ten minutes on the COPY's row 1, valid for the target's old rows)
 * sends nothing, so the watchdog fails the attempt after timeouts.stall and closes the connection. The
 * backend would only notice at its next read: it would sleep on, holding the ACCESS EXCLUSIVE lock of the
 * attempt's TRUNCATE, the retry would wait on it and fail with a lock timeout the report blames on someone
 * else, and it would outlive the run. Found by scripts/soak.ts (its stall fault with a long sleep).
 */
test('a stalled target backend ends with its abandoned attempt: the retry stalls again, none outlives the run', async () => {
  const db = await databasePair(servers, 'stalled_backend')
  try {
    const tables = `CREATE TABLE public.slow (id int PRIMARY KEY, note text);
                    CREATE TABLE public.quick (id int PRIMARY KEY, note text);`
    await db.source.sql(`${tables}
      INSERT INTO public.slow SELECT g, 'new' FROM generate_series(1, 100) g;
      INSERT INTO public.quick SELECT g, 'new' FROM generate_series(1, 100) g;`)
    await db.target.sql(`${tables}
      INSERT INTO public.slow SELECT g, 'old' FROM generate_series(1, 10) g;
      CREATE FUNCTION public.sleepy(id int, note text) RETURNS boolean LANGUAGE plpgsql AS
        'BEGIN IF id = 1 AND note = ''new'' THEN PERFORM pg_sleep(600); END IF; RETURN true; END';
      ALTER TABLE public.slow ADD CONSTRAINT stalls CHECK (public.sleepy(id, note));`)
    const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
    config.timeouts.stall = 1000
    config.timeouts.lock = 20_000
    config.retry = { ...config.retry, attempts: 2, backoff: 0 }
    const report = await new TransferJob(config).run()

    assert.equal(report.tables.find((t) => t.table === 'public.quick')?.status, 'copied')
    const slow = report.tables.find((t) => t.table === 'public.slow')
    assert.equal(slow?.status, 'failed')
    assert.equal(slow?.attempts, 2)
    assert.equal(
      slow?.error?.code,
      'COPY_STALLED',
      `the second attempt stalls in its COPY, not behind the first one's lock: ${slow?.error?.message}`,
    )
    // Bounded far below the ten minutes the function sleeps: the abandoned backends end, not sleep on.
    const sleeping = async () =>
      (
        await db.target.sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        )
      )[0]!.n
    await waitFor(async () => (await sleeping()) === 0, 60_000, 'the stalled backends to end')
    const kept = await db.target.sql<{ note: string; n: string }>(
      'SELECT note, count(*) AS n FROM public.slow GROUP BY note',
    )
    assert.deepEqual(kept, [{ note: 'old', n: '10' }], 'the stalled table keeps its old rows')
  } finally {
    await db.drop()
  }
})
