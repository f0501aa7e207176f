import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import type { Config } from '../../src/config/schema.js'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { waitFor } from '../helpers/cli.js'
import { testConfig } from '../helpers/config.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let shared: Awaited<ReturnType<typeof testServers>>
let targetServer: TestServer

before(async () => {
  ;[shared, targetServer] = await Promise.all([testServers(), TestServer.start('restarted-target')])
})

after(async () => {
  await targetServer?.destroy()
  await shared?.stop()
})

const TABLES = ['t1', 't2', 't3', 't4', 't5', 't6']
/** The run lock's key, as tablehaul takes it: class 'thal', the database name's hash. */
const RUN_LOCK = `pg_try_advisory_lock(${0x7468616c}, hashtext(current_database()))`

interface Scene {
  source: TestDatabase
  target: TestDatabase
  proxy: TcpProxy
  /** Between the run and the target: frozen, it holds the run's reconnections back. */
  targetProxy: TcpProxy
  config: Config
  cleanup(): Promise<void>
}

/** Six tables of ~600 kB read through a proxy at 1 MB/s, one at a time: the run lasts a few seconds. */
async function scene(name: string): Promise<Scene> {
  const source = await TestDatabase.create(shared.source, `${name}_src`)
  const target = await TestDatabase.create(targetServer, `${name}_tgt`)
  await source.sql(
    TABLES.map(
      (t) =>
        `CREATE TABLE public.${t} (id int PRIMARY KEY, pad text);
         INSERT INTO public.${t} SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g;`,
    ).join('\n'),
  )
  const proxy = await TcpProxy.start(source.url)
  proxy.throttle(1024 * 1024)
  const targetProxy = await TcpProxy.start(target.url)
  const config = testConfig({ source: proxy.urlFor(source.url), target: targetProxy.urlFor(target.url) })
  config.timeouts.connect = 20_000
  config.tables = TABLES.map((t) => `public.${t}`)
  config.jobs = 1
  config.retry = { attempts: 10, backoff: 300 }
  return {
    source,
    target,
    proxy,
    targetProxy,
    config,
    cleanup: async () => {
      await proxy.close()
      await targetProxy.close()
      await Promise.all([source.drop(), target.drop()])
    },
  }
}

/** Starts the run and, once its first table committed, restarts the target (immediate: a crash). */
async function runWithRestart(
  config: Config,
  afterRestart: () => Promise<void>,
  beforeRestart: () => void = () => {},
): Promise<RunReport> {
  const job = new TransferJob(config)
  let restarted: Promise<void> | undefined
  job.on('table.copied', () => {
    restarted ??= (async () => {
      beforeRestart()
      await targetServer.stop('immediate')
      await targetServer.restart()
      await afterRestart()
    })()
  })
  const report = await job.run()
  await restarted
  assert.ok(restarted, 'the target restarted during the run')
  return report
}

describe('the run lock across a target restart', () => {
  test('the run takes its lock again before writing more, so a second run is refused', async () => {
    const s = await scene('relock')
    let second: RunReport | undefined
    try {
      const report = await runWithRestart(s.config, async () => {
        // Once the first run holds the lock again, a second run into the same target must be refused.
        await waitFor(
          async () =>
            (
              await s.target.sql<{ n: string }>(
                `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted
                    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
              )
            )[0]?.n === '1',
          60_000,
          'the run to take its lock again',
        )
        second = await new TransferJob({ ...s.config, tables: ['public.t1'] }).run()
      })
      assert.equal(second?.error?.code, 'RUN_LOCKED', `the second run: ${JSON.stringify(second?.error)}`)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.tables.map((t) => t.error)))
    } finally {
      await s.cleanup()
    }
  })

  test('when another run took the lock meanwhile, the run writes no more tables and says why', async () => {
    const s = await scene('lostlock')
    let other: pg.Client | undefined
    try {
      const report = await runWithRestart(
        s.config,
        async () => {
          await waitFor(
            async () => {
              const client = new pg.Client({ connectionString: s.target.url })
              try {
                await client.connect()
                other = client
                return true
              } catch {
                return false
              }
            },
            60_000,
            'the target to accept connections',
          )
          const { rows } = await other!.query<{ locked: boolean }>(`SELECT ${RUN_LOCK} AS locked`)
          assert.equal(rows[0]?.locked, true, 'the other "run" got the lock the restart freed')
          s.targetProxy.thaw()
        },
        () => s.targetProxy.freeze(),
      )
      const copied = report.tables.filter((t) => t.status === 'copied').map((t) => t.table)
      const failed = report.tables.filter((t) => t.status === 'failed')
      assert.ok(copied.length >= 1 && failed.length >= 1, JSON.stringify(report.tables))
      for (const table of failed) {
        assert.equal(table.error?.code, 'RUN_LOCKED', JSON.stringify(table.error))
        assert.match(table.error?.message ?? '', /lost its lock on the target/)
      }
      // What the report calls not copied was not written: those tables are still empty or missing.
      for (const table of failed) {
        const name = table.table.replace('public.', '')
        const rows = await s.target
          .sql<{ n: string }>(`SELECT count(*) AS n FROM public.${name}`)
          .catch(() => [{ n: '0' }])
        assert.equal(rows[0]?.n, '0', `${table.table} was not written`)
      }
    } finally {
      await other?.end().catch(() => {})
      await s.cleanup()
    }
  })
})
