import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Config } from '../../src/config/schema.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog } from '../helpers/logs.js'
import { outboxMessages } from '../helpers/outbox.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

interface Scene {
  source: TestDatabase
  target: TestDatabase
  proxy: TcpProxy
  dir: string
  config: Config
  /** The target's rows of public.orders before the run. */
  before: Awaited<ReturnType<typeof fingerprint>>
  cleanup(): Promise<void>
}

/**
 * A source with a 4 MB table (public.orders) and a small one (public.small), a target holding old rows of
 * orders, and a proxy in front of the source or the target that slows the COPY to ~2 MB/s so that a fault
 * lands in the middle of it.
 */
async function scene(
  name: string,
  side: 'source' | 'target',
  timeouts: Record<string, string | number> = {},
): Promise<Scene> {
  const source = await TestDatabase.create(servers.source, `${name}_src`)
  const target = await TestDatabase.create(servers.target, `${name}_tgt`)
  await source.sql(`
    CREATE TABLE public.orders (id int PRIMARY KEY, note text);
    INSERT INTO public.orders SELECT g, repeat('o', 100) FROM generate_series(1, 40000) g;
    CREATE TABLE public.small (id int PRIMARY KEY);
    INSERT INTO public.small SELECT g FROM generate_series(1, 100) g;
  `)
  await target.sql(`
    CREATE TABLE public.orders (id int PRIMARY KEY, note text);
    INSERT INTO public.orders SELECT g, 'old' FROM generate_series(1, 500) g;
  `)
  const proxy = await TcpProxy.start(side === 'source' ? source.url : target.url)
  proxy.throttle(2 * 1024 * 1024)
  const dir = tempDir()
  const config = testConfig(
    {
      source: side === 'source' ? proxy.urlFor(source.url) : source.url,
      target: side === 'target' ? proxy.urlFor(target.url) : target.url,
      outbox: path.join(dir, 'outbox'),
      emailTo: ['dba@example.com'],
    },
    { dir },
  )
  config.jobs = 1
  config.retry = { attempts: 3, backoff: 200 }
  Object.assign(config.timeouts, timeouts)
  return {
    source,
    target,
    proxy,
    dir,
    config,
    before: await fingerprint(target.url, 'public.orders'),
    cleanup: async () => {
      await proxy.close()
      await Promise.all([source.drop(), target.drop()])
    },
  }
}

/**
 * Runs the job and calls `fault` once the proxy has passed `afterBytes` bytes of the COPY of public.orders
 * (4 MB) to the far side: counted at the proxy, because the client's own progress says only what it handed
 * to its socket, and on loopback the kernel takes the whole table at once while the throttled proxy still
 * forwards it.
 */
async function runWithFault(
  s: Scene,
  fault: () => unknown,
  setup: (job: TransferJob) => void = () => {},
  afterBytes = 512 * 1024,
) {
  const job = new TransferJob(s.config)
  setup(job)
  let copied = false
  job.on('table.progress', (event) => {
    if (event.table === 'public.orders' && event.finishing) copied = true
  })
  let faulted: Promise<unknown> | undefined
  void s.proxy.whenOneLinkPasses(afterBytes).then(() => {
    if (!copied) faulted = Promise.resolve(fault())
  })
  const report = await job.run()
  assert.ok(faulted, 'the fault happened during the COPY')
  await faulted
  return {
    report,
    log: readRunLog(path.join(s.dir, 'logs')),
    mail: await outboxMessages(path.join(s.dir, 'outbox')),
  }
}

/**
 * Terminates the backend that is running the COPY, waiting until one is active: a backend that has already
 * written its whole output into the socket buffers is idle, and terminating it would test nothing.
 */
async function terminateCopy(url: string, copyDirection: 'TO STDOUT' | 'FROM STDIN'): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const { rowCount } = await withClient(url, (client) =>
      client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY %' || $1 || '%' AND pid <> pg_backend_pid()`,
        [copyDirection],
      ),
    )
    if (rowCount) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`no active COPY ${copyDirection} to terminate`)
}

/**
 * The source's COPY of public.orders made slow on the server itself (a short sleep every 2,000 rows), so
 * its backend is still producing rows when the fault lands: the table is small enough for loopback socket
 * buffers to swallow whole, which would leave an idle backend behind the throttled proxy.
 */
function slowSourceCopy(s: Scene): void {
  s.config.tables = [
    { name: 'public.orders', where: 'id % 2000 <> 0 OR pg_sleep(0.1) IS NOT NULL' },
    'public.small',
  ]
}

describe('a connection lost mid-COPY is retried, and the retry is atomic', () => {
  const cases: Array<{
    name: string
    side: 'source' | 'target'
    fault: (s: Scene) => unknown
    prepare?: (s: Scene) => void
  }> = [
    { name: 'the source connection is cut', side: 'source', fault: (s) => s.proxy.cut('busiest') },
    { name: 'the target connection is cut', side: 'target', fault: (s) => s.proxy.cut('busiest') },
    {
      name: "the source's backend is terminated",
      side: 'source',
      fault: (s) => terminateCopy(s.source.url, 'TO STDOUT'),
      prepare: slowSourceCopy,
    },
    {
      name: "the target's backend is terminated",
      side: 'target',
      fault: (s) => terminateCopy(s.target.url, 'FROM STDIN'),
    },
  ]
  for (const c of cases) {
    test(`${c.name}: the table is retried and ends complete; the log says why`, async () => {
      const s = await scene(`retry_${c.side}`, c.side)
      c.prepare?.(s)
      try {
        const { report, log, mail } = await runWithFault(s, () => c.fault(s))
        assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
        const orders = report.tables.find((t) => t.table === 'public.orders')!
        assert.equal(orders.attempts, 2)
        assert.deepEqual(
          await fingerprint(s.target.url, 'public.orders'),
          await fingerprint(s.source.url, 'public.orders'),
        )
        const retry = log.find((r) => r.event === 'table.retrying')
        assert.equal(retry?.table, 'public.orders')
        assert.ok((retry?.error as { message: string }).message.length > 0, 'the retry names its reason')
        assert.match(mail[0]!.subject ?? '', /^\[tablehaul\] OK/)
      } finally {
        await s.cleanup()
      }
    })
  }
})

describe('a frozen connection fails the table within the stall timeout, keeping its old rows', () => {
  for (const side of ['source', 'target'] as const) {
    test(`the ${side} connection freezes mid-COPY`, async () => {
      const s = await scene(`freeze_${side}`, side, { stall: 2000, connect: 3000 })
      s.config.retry = { attempts: 1, backoff: 100 }
      // Fast enough that the socket buffers' backlog (up to ~4 MB on loopback) drains well within the stall
      // timeout: without the freeze this run succeeds, so only the freeze can fail the table.
      s.proxy.throttle(8 * 1024 * 1024)
      try {
        // The link comes back once the table has failed, so the rest of the run goes on.
        let bytesWhenFrozen = -1
        let bytesWhenFailed = -2
        const { report, log, mail } = await runWithFault(
          s,
          () => {
            s.proxy.freeze()
            bytesWhenFrozen = s.proxy.bytes
          },
          (job) =>
            job.on('table.failed', () => {
              bytesWhenFailed = s.proxy.bytes
              s.proxy.thaw()
            }),
        )
        assert.equal(report.status, 'failed')
        const orders = report.tables.find((t) => t.table === 'public.orders')!
        assert.equal(orders.status, 'failed')
        assert.equal(orders.error?.code, 'COPY_STALLED')
        assert.match(orders.error?.message ?? '', /nothing moved for \ds/)
        assert.deepEqual(await fingerprint(s.target.url, 'public.orders'), s.before, 'old rows intact')
        // Not a byte moved between the freeze and the failure: the table failed while the link was still
        // frozen, so the stall watchdog ended the wait, not the link coming back (a wait without a bound
        // would hang here until the test runner's time limit names this test).
        assert.equal(bytesWhenFailed, bytesWhenFrozen, 'the table failed while its link was frozen')
        assert.equal(log.find((r) => r.event === 'table.failed')?.table, 'public.orders')
        assert.match(mail[0]!.subject ?? '', /^\[tablehaul\] FAILED · 1 of 2 tables failed/)
        assert.match(mail[0]!.text ?? '', /public\.orders[\s\S]*nothing moved/)
        assert.deepEqual(
          await fingerprint(s.target.url, 'public.small'),
          await fingerprint(s.source.url, 'public.small'),
        )
      } finally {
        s.proxy.thaw()
        await s.cleanup()
      }
    })
  }
})

test('a run past its deadline (timeouts.run) stops: the table in flight rolls back and the report says why', async () => {
  // The deadline counts from the start of the run; 5 s leaves planning room on a busy machine, and at
  // 256 kB/s the 4 MB COPY still has ~10 s to go when it lands.
  const s = await scene('deadline', 'source', { run: 5000 })
  try {
    s.proxy.throttle(256 * 1024)
    const [copy] = await s.source.sql<{ bytes: string }>(
      `SELECT sum(length(id::text) + length(note) + 2)::text AS bytes FROM public.orders`,
    )
    const report = await new TransferJob(s.config).run()
    // The run ended while the COPY was still on its way: the proxy forwarded less than the table's text.
    assert.ok(
      s.proxy.bytes < Number(copy!.bytes),
      `it stopped at the deadline, before the COPY could end (${s.proxy.bytes} of ${copy!.bytes} bytes moved)`,
    )
    assert.equal(report.status, 'failed')
    assert.equal(report.error?.code, 'RUN_DEADLINE')
    const orders = report.tables.find((t) => t.table === 'public.orders')!
    assert.equal(orders.status, 'failed')
    assert.equal(orders.error?.code, 'RUN_DEADLINE')
    assert.deepEqual(await fingerprint(s.target.url, 'public.orders'), s.before)
  } finally {
    await s.cleanup()
  }
})

test('a slow but steady source is not taken for a stalled one', async () => {
  const source = await TestDatabase.create(servers.source, 'slow_src')
  const target = await TestDatabase.create(servers.target, 'slow_tgt')
  try {
    await source.sql(
      `CREATE TABLE public.trickle (id int, pad text); INSERT INTO public.trickle SELECT g, repeat('t', 1000) FROM generate_series(1, 60) g;`,
    )
    const config = testConfig({ source: source.url, target: target.url })
    config.timeouts.stall = 3000
    // One row every 100 ms: 6 s in all, twice the stall timeout. The server sends its output 8 kB at a
    // time (every 8 rows here), so bytes arrive every 0.8 s: slow, never silent for 3 s.
    config.tables = [{ name: 'public.trickle', where: 'pg_catalog.pg_sleep(0.1) IS NOT NULL' }]
    const job = new TransferJob(config, { notifier: null })
    let progressEvents = 0
    job.on('table.progress', () => progressEvents++)
    const report = await job.run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.tables))
    assert.equal(report.tables[0]!.attempts, 1)
    assert.ok(progressEvents >= 5, `progress was reported while rows trickled in (${progressEvents} events)`)
  } finally {
    await Promise.all([source.drop(), target.drop()])
  }
})

test('a source URL that reaches an HTTP server fails at its first byte, saying it is not PostgreSQL', async () => {
  const http = createServer((_request, response) => response.end('hello'))
  const port = await new Promise<number>((resolve) =>
    http.listen(0, '127.0.0.1', () => resolve((http.address() as AddressInfo).port)),
  )
  try {
    const dir = tempDir()
    const config = testConfig(
      {
        source: `postgres://reader@127.0.0.1:${port}/sales`,
        target: `postgres://writer@127.0.0.1:${port}/copy`,
      },
      { dir },
    )
    const report = await new TransferJob(config, { notifier: null }).run()
    assert.equal(report.status, 'failed')
    assert.equal(report.error?.code, 'SOURCE_UNREACHABLE')
    assert.match(
      report.error?.message ?? '',
      /is not a PostgreSQL server: it answered "HTTP\/1\.1 400 Bad Request"/,
    )
    assert.match(
      report.error?.hint ?? '',
      /something else listens there: check the port in source\.url \(or --source\)/,
    )
  } finally {
    http.closeAllConnections()
    await new Promise((resolve) => http.close(resolve))
  }
})

test('the source going away while the run plans fails the run as SOURCE_UNREACHABLE, saying so, and writes nothing', async () => {
  const source = await TestDatabase.create(servers.source, 'lost_at_plan_src')
  const target = await TestDatabase.create(servers.target, 'lost_at_plan_tgt')
  const proxy = await TcpProxy.start(source.url)
  try {
    await source.sql(`CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2)`)
    await target.sql(`CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (7)`)
    const job = new TransferJob(testConfig({ source: proxy.urlFor(source.url), target: target.url }), {
      notifier: null,
    })
    // The connection that holds the snapshot (and reads the catalog) dies as the plan starts, and the
    // server takes no new one: a source that restarted.
    job.on('step.started', ({ step }) => {
      if (step !== 'plan') return
      proxy.refuseNew()
      proxy.cut('all')
    })
    const report = await job.run()
    assert.equal(report.status, 'failed')
    assert.equal(report.error?.code, 'SOURCE_UNREACHABLE', JSON.stringify(report.error))
    assert.match(report.error?.message ?? '', /^lost the connection to the source: /)
    assert.match(
      report.error?.hint ?? '',
      /check that it accepts connections, then run the same command again/,
    )
    assert.deepEqual(await target.sql('SELECT id FROM public.t'), [{ id: 7 }])
  } finally {
    await proxy.close()
    await Promise.all([source.drop(), target.drop()])
  }
})
