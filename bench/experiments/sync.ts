/**
 * What does `mode: sync` cost against `replace`? On the standard dataset (a working copy of it on the
 * source), after a full copy into the target: rounds of changes on the source (a share of the rows of
 * accounts, wide and documents updated, spread over the key range; 0.1 % of accounts and wide deleted; 0.5 %
 * inserted), then, on the same data, `sync`, `sync` again with nothing changed, and `replace`. Each is
 * measured for wall time, both servers' CPU, the COPY bytes tablehaul moved and the WAL the target wrote
 * (pg_current_wal_lsn before and after), and shown as a ratio to replace.
 *
 *   node --import tsx bench/experiments/sync.ts [--scale 0.05] [--rounds 2] [--shares 0.01,0.1,0.5] [--dir /tmp/tablehaul-bench]
 */
import { parseArgs } from 'node:util'
import { loadConfig } from '../../src/config/load.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { BENCH_PASSWORD, BenchServer, findPostgres } from '../lib/clusters.js'
import { ensureDataset } from '../lib/datasets.js'

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '0.05' },
    rounds: { type: 'string', default: '2' },
    shares: { type: 'string', default: '0.01,0.1,0.5' },
    dir: { type: 'string', default: '/tmp/tablehaul-bench' },
  },
})
const scale = Number(values.scale)
const say = (line: string) => console.log(line)
const install = await findPostgres()
const source = new BenchServer({ name: 'source', dir: values.dir, install, walLevel: 'replica' })
const target = new BenchServer({ name: 'target', dir: values.dir, install, walLevel: 'replica' })
await Promise.all([source.start(), target.start()])
const WORK = 'bench_sync_work'

try {
  const dataset = await ensureDataset(source, 'standard', scale, say)
  say(
    `PostgreSQL ${install.major} (${install.origin}); standard dataset at scale ${scale}: ${dataset.tableMb} MB of tables, ${dataset.indexMb} MB of indexes`,
  )
  await source.withClient(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${WORK} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${WORK} TEMPLATE ${dataset.database}`)
  })
  await target.recreateDatabase(WORK)
  const run = async (mode: 'replace' | 'sync') => {
    const { config } = loadConfig({
      cwd: values.dir,
      env: { TABLEHAUL_SOURCE_PASSWORD: BENCH_PASSWORD, TABLEHAUL_TARGET_PASSWORD: BENCH_PASSWORD },
      flags: {
        source: source.url(WORK),
        target: target.url(WORK),
        mode,
        logDir: `${values.dir}/sync-logs`,
        jobs: 2,
      },
    })
    const report = await new TransferJob(config, { notifier: null }).run()
    if (report.status !== 'succeeded') throw new Error(JSON.stringify(report.tables, null, 2))
    return report
  }
  const wal = async () =>
    BigInt(
      (
        await target.query<{ bytes: string }>(
          WORK,
          `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS bytes`,
        )
      )[0]!.bytes,
    )
  const measure = async (label: string, mode: 'replace' | 'sync') => {
    await Promise.all([source.checkpoint(), target.checkpoint()])
    const [walBefore, sourceCpu, targetCpu] = [await wal(), source.cpuSeconds(), target.cpuSeconds()]
    const started = performance.now()
    const report = await run(mode)
    const wallS = (performance.now() - started) / 1000
    return {
      label,
      wallS,
      sourceCpuS: source.cpuSeconds() - sourceCpu,
      targetCpuS: target.cpuSeconds() - targetCpu,
      bytes: report.totals.bytes,
      walBytes: Number((await wal()) - walBefore),
      unchanged: report.totals.unchangedRows,
      notes: report.tables.flatMap((t) => t.warnings ?? []).filter((w) => w.startsWith('sync → replace')),
    }
  }
  await run('replace')
  let round = 0
  const mutate = async (share: number) => {
    round++
    const every = Math.max(1, Math.round(1 / share))
    const modulo = (column: string) => (every === 1 ? 'true' : `${column} % ${every} = ${round % every}`)
    await source.withClient(async (client) => {
      await client.query(`UPDATE accounts SET abalance = abalance + 1 WHERE ${modulo('aid')}`)
      await client.query(`UPDATE wide SET note = 'round ${round}', amount = amount + 1 WHERE ${modulo('id')}`)
      await client.query(`UPDATE documents SET title = title || '.' WHERE ${modulo('doc_id')}`)
      await client.query(`DELETE FROM accounts WHERE aid % 1000 = ${round % 1000}`)
      await client.query(
        `DELETE FROM wide WHERE id % 1000 = ${(round + 500) % 1000} AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.wide_id = wide.id)`,
      )
      await client.query(
        `INSERT INTO accounts SELECT m.top + row_number() OVER (), a.bid, 0, a.filler FROM accounts a, (SELECT max(aid) AS top FROM accounts) m WHERE a.aid % 200 = ${round % 200}`,
      )
      await client.query(
        `INSERT INTO wide (customer_id, category_id, ext_id, name, email, status, amount, ratio, qty, score, created_at, updated_at, birth_date, is_active, flags, tags, attrs, payload, note)
         SELECT customer_id, category_id, gen_random_uuid(), name, email, status, amount, ratio, qty, score, created_at, updated_at, birth_date, is_active, flags, tags, attrs, payload, 'inserted'
           FROM wide WHERE id % 200 = ${(round + 100) % 200}`,
      )
      await client.query('ANALYZE')
    }, WORK)
  }
  const rows: Array<Awaited<ReturnType<typeof measure>> & { share: number }> = []
  for (const share of values.shares.split(',').map(Number)) {
    const rounds = share <= 0.01 ? Number(values.rounds) : 1
    for (let i = 0; i < rounds; i++) {
      await mutate(share)
      for (const [label, mode] of [
        ['sync', 'sync'],
        ['sync, nothing changed', 'sync'],
        ['replace', 'replace'],
      ] as const) {
        const row = { share, ...(await measure(label, mode)) }
        rows.push(row)
        say(JSON.stringify(row))
      }
    }
  }
  say('')
  say(
    '| changed | run | wall s | × replace | src CPU s | tgt CPU s | COPY MB | target WAL MB | × replace WAL | note |',
  )
  say('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for (let i = 0; i < rows.length; i += 3) {
    const replace = rows[i + 2]!
    for (const row of rows.slice(i, i + 3)) {
      say(
        `| ${row.share * 100} % | ${row.label} | ${row.wallS.toFixed(2)} | ${(row.wallS / replace.wallS).toFixed(2)} | ${row.sourceCpuS.toFixed(2)} | ${row.targetCpuS.toFixed(2)} | ${(row.bytes / 1048576).toFixed(1)} | ${(row.walBytes / 1048576).toFixed(1)} | ${(row.walBytes / replace.walBytes).toFixed(3)} | ${row.notes.length ? `${row.notes.length} table(s) reloaded` : ''} |`,
      )
    }
  }
} finally {
  await source
    .withClient((client) => client.query(`DROP DATABASE IF EXISTS ${WORK} WITH (FORCE)`))
    .catch(() => {})
  await Promise.all([source.stop(), target.stop()])
}
