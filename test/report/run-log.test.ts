import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { renderSummary } from '../../src/cli/summary.js'
import { emailText } from '../../src/notify/email.js'
import { RunLog, humanRunLine } from '../../src/report/run-log.js'
import { type RunReport, type TableResult, totalsOf } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { ROOT } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { readRunLog } from '../helpers/logs.js'
import { fill, isRoot, smallDisk, unmount } from '../helpers/small-disk.js'
import { TestDatabase, testServers } from '../helpers/servers.js'

const LINE_TIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`

function humanLines(dir: string, name = 'tablehaul.log'): string[] {
  return readFileSync(path.join(dir, name), 'utf8').split('\n').filter(Boolean)
}

describe('the human log across real runs', () => {
  let servers: Awaited<ReturnType<typeof testServers>>
  before(async () => {
    servers = await testServers()
  })
  after(async () => {
    await servers?.stop()
  })

  test('each run appends one line per table as it ends and one for the run', async () => {
    const [source, target] = await Promise.all([
      TestDatabase.create(servers.source, 'humanlog_src'),
      TestDatabase.create(servers.target, 'humanlog_tgt'),
    ])
    try {
      await source.sql(`
        CREATE SCHEMA sales;
        CREATE TABLE sales.orders (id int PRIMARY KEY, total numeric(12,2));
        INSERT INTO sales.orders SELECT g, g * 0.5 FROM generate_series(1, 1204) g;
        CREATE TABLE sales.stores (id int PRIMARY KEY, name text);
        INSERT INTO sales.stores SELECT g, 'store ' || g FROM generate_series(1, 12) g;
      `)
      const dir = tempDir()
      const config = testConfig({ source: source.url, target: target.url }, { dir })
      await new TransferJob(config, { notifier: null }).run()
      await target.sql(`ALTER TABLE sales.stores ADD CHECK (id < 10) NOT VALID`)
      await new TransferJob(config, { notifier: null }).run()
      const lines = humanLines(config.log.dir)
      assert.equal(lines.length, 6, lines.join('\n'))
      assert.match(
        lines[0]!,
        new RegExp(`^${LINE_TIME} sales\\.(orders|stores) OK [\\d,]+ rows [\\d.]+ k?B [\\d.]+m?s$`),
      )
      assert.ok(lines.slice(0, 2).some((l) => / sales\.orders OK 1,204 rows /.test(l)))
      assert.match(
        lines[2]!,
        new RegExp(
          `^${LINE_TIME} run \\S+ OK 2/2 tables, 1,216 rows, [\\d.]+ kB in \\S+ \\(\\S+ -> \\S+\\)$`,
        ),
      )
      assert.ok(
        lines
          .slice(3, 5)
          .some((l) =>
            new RegExp(
              `^${LINE_TIME} sales\\.stores FAILED .*violates check constraint .*\\(SQLSTATE 23514\\)`,
            ).test(l),
          ),
        lines.join('\n'),
      )
      assert.match(lines[5]!, / run \S+ FAILED 1\/2 tables, 1 failed, 1,204 rows/)
    } finally {
      await Promise.all([source.drop(), target.drop()])
    }
  })
})

/** A finished table as the job reports it. */
function table(name: string, rows: number, status: TableResult['status'] = 'copied'): TableResult {
  return {
    table: name,
    source: name,
    status,
    rows,
    bytes: rows * 40,
    durationMs: 1234,
    mode: 'replace',
    format: 'binary',
    created: false,
    attempts: 1,
    ...(status === 'failed'
      ? {
          error: {
            code: 'TABLE_COPY_FAILED',
            message: 'line one\nline two',
            sqlState: '22P02',
            hint: 'fix it',
          },
        }
      : {}),
  }
}

/** One run's events written through a RunLog, as TransferJob writes them. */
function logRun(log: RunLog, runId: string, tables: TableResult[]): void {
  log.open(runId)
  const now = new Date().toISOString()
  log.record('run.started', {
    runId,
    kind: 'run',
    source: 'postgres://u@h/db',
    target: 'local',
    startedAt: now,
  })
  for (const t of tables) log.record(t.status === 'failed' ? 'table.failed' : 'table.copied', t)
  log.record('run.finished', reportOf(runId, tables, now))
  log.close()
}

/** The report of a run that copied `tables`, as TransferJob ends one. */
function reportOf(runId: string, tables: TableResult[], now = new Date().toISOString()): RunReport {
  return {
    runId,
    status: tables.some((t) => t.status === 'failed') ? 'failed' : 'succeeded',
    kind: 'run',
    startedAt: now,
    finishedAt: now,
    durationMs: 5000,
    source: 'postgres://u@h/db',
    target: 'local',
    sourceName: 'db@h',
    targetName: 'local',
    snapshot: {},
    tables,
    totals: totalsOf(tables),
    warnings: [],
  }
}

test('a run with verify: checksum says how many tables matched, in the summary, the human log and the e-mail', () => {
  const report = reportOf('verified-run', [
    { ...table('sales.orders', 1204), mode: 'sync' as const, verified: true },
    { ...table('sales.stores', 12), verified: true },
    table('sales.events', 30),
  ])
  let printed = ''
  const summary = renderSummary(report, { write: (text: string) => (printed += text) })
  assert.match(summary + printed, /^OK {2}3 copied of 3 tables · 2 verified by checksum · 1,246 rows/m)
  assert.match(humanRunLine(report), / OK 3\/3 tables, 2 verified by checksum, 1,246 rows/)
  assert.match(emailText(report), /Tables +3 copied of 3, 2 verified by checksum/)
  const unverified = {
    ...report,
    tables: [table('sales.events', 30)],
    totals: totalsOf([table('sales.events', 30)]),
  }
  assert.doesNotMatch(humanRunLine(unverified), /verified by checksum/)
})

describe('rotation and retention', () => {
  test('tablehaul.log rotates past log.maxSize between runs, keeps five old files, and never splits a run', () => {
    const dir = tempDir()
    const log = new RunLog({ dir, maxSize: 300 })
    for (let run = 10; run <= 23; run++) {
      logRun(log, `20260101-0000${run}-abcd`, [table('sales.orders', 1000 * run), table('sales.stores', run)])
    }
    const files = readdirSync(dir)
      .filter((n) => n.startsWith('tablehaul.log'))
      .sort()
    assert.deepEqual(files, [
      'tablehaul.log',
      'tablehaul.log.1',
      'tablehaul.log.2',
      'tablehaul.log.3',
      'tablehaul.log.4',
      'tablehaul.log.5',
    ])
    for (const file of files) {
      const lines = humanLines(dir, file)
      assert.equal(lines.length % 3, 0, `${file} holds whole runs`)
      assert.match(lines.at(-1)!, / run \S+ OK 2\/2 tables/)
    }
    assert.match(
      humanLines(dir).at(-1)!,
      / run 20260101-000023-abcd OK /,
      'the newest run is in tablehaul.log',
    )
    assert.match(humanLines(dir, 'tablehaul.log.1').at(-1)!, / run 20260101-000021-abcd OK /)
  })

  test('a tablehaul.log started by rotation keeps the mode of the one it replaces', () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'tablehaul.log'), 'x'.repeat(400), { mode: 0o640 })
    chmodSync(path.join(dir, 'tablehaul.log'), 0o640)
    logRun(new RunLog({ dir, maxSize: 300 }), '20260101-000010-abcd', [table('sales.orders', 1)])
    assert.ok(existsSync(path.join(dir, 'tablehaul.log.1')), 'it rotated')
    assert.equal(statSync(path.join(dir, 'tablehaul.log')).mode & 0o777, 0o640)
  })

  test('log.maxSize 0 never rotates (for logrotate and the like)', () => {
    const dir = tempDir()
    const log = new RunLog({ dir, maxSize: 0 })
    for (let run = 1; run <= 4; run++) logRun(log, `20260101-00000${run}-abcd`, [table('t.a', run)])
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('tablehaul.log')),
      ['tablehaul.log'],
    )
    assert.equal(humanLines(dir).length, 8)
  })

  test('log.keepRuns keeps only the newest per-run NDJSON files', () => {
    const dir = tempDir()
    const log = new RunLog({ dir, keepRuns: 3 })
    for (let run = 1; run <= 6; run++) logRun(log, `20260101-00000${run}-abcd`, [table('t.a', run)])
    assert.deepEqual(
      readdirSync(dir)
        .filter((n) => n.endsWith('.ndjson'))
        .sort(),
      [
        'tablehaul-20260101-000004-abcd.ndjson',
        'tablehaul-20260101-000005-abcd.ndjson',
        'tablehaul-20260101-000006-abcd.ndjson',
      ],
    )
  })

  test('a failure that spans several lines is one line in the human log', () => {
    const dir = tempDir()
    logRun(new RunLog({ dir }), '20260101-000001-abcd', [table('t.bad', 0, 'failed')])
    const [line] = humanLines(dir)
    assert.match(
      line!,
      new RegExp(`^${LINE_TIME} t\\.bad FAILED line one line two \\(SQLSTATE 22P02\\); fix it$`),
    )
  })
})

test('a run of 10,000 tables logs its plan whole: a record over 1 MiB is written, not dropped', () => {
  const dir = tempDir()
  const log = new RunLog({ dir })
  const runId = '20260101-000001-abcd'
  log.open(runId)
  const tables = Array.from({ length: 10_000 }, (_, i) => ({
    table: `sales.orders_partition_${i}`,
    source: `sales.orders_partition_${i}`,
    mode: 'sync' as const,
    format: 'binary' as const,
    targetState: 'exists' as const,
    estimatedBytes: 16384,
    estimatedRows: null,
  }))
  log.record('run.planned', { tables, warnings: [] })
  log.record('table.copied', table('sales.orders_partition_0', 10))
  log.close()
  assert.ok(JSON.stringify(tables).length > 1024 * 1024, 'the record is larger than 1 MiB')
  assert.deepEqual(log.writeFailures, [])
  const records = readRunLog(dir)
  const planned = records.find((r) => r.event === 'run.planned') as { tables?: unknown[] } | undefined
  assert.equal(planned?.tables?.length, 10_000)
  assert.equal(records.at(-1)?.event, 'table.copied')
})

test(
  'on a full disk, the records held for the log stop at 1 MiB and the rest are dropped; room again, the held ones are written',
  { skip: isRoot ? false : 'needs root to mount a tmpfs' },
  (t) => {
    const disk = smallDisk('4m')
    if (!disk) return t.skip('mount -t tmpfs failed')
    try {
      const log = new RunLog({ dir: path.join(disk, 'logs') })
      log.open('20260101-000001-abcd')
      fill(disk)
      const note = (n: number) => log.record('run.warning', { message: `${n} ${'x'.repeat(600 * 1024)}` })
      note(1) // held
      note(2) // 1.2 MiB held: dropped
      note(3) // dropped
      rmSync(path.join(disk, 'filler'))
      log.record('table.copied', table('sales.orders', 10))
      log.close()
      assert.ok(
        log.writeFailures.some((f) => f.file.endsWith('.ndjson')),
        'the NDJSON file is incomplete',
      )
      const records = readRunLog(path.join(disk, 'logs'))
      const held = records.filter((r) => r.event === 'run.warning').map((r) => String(r.message).slice(0, 2))
      assert.deepEqual(held, ['1 '])
      assert.equal(records.at(-1)?.event, 'table.copied')
    } finally {
      unmount(disk)
    }
  },
)

test('a process that exits in the middle of a run leaves a last record and line saying so', () => {
  const dir = tempDir()
  const script = path.join(dir, 'exit-mid-run.ts')
  writeFileSync(
    script,
    `import { RunLog } from ${JSON.stringify(path.join(ROOT, 'src/report/run-log.ts'))}
const log = new RunLog({ dir: ${JSON.stringify(dir)} })
log.open('20260101-000001-abcd')
log.record('run.started', { runId: '20260101-000001-abcd', kind: 'run', source: 's', target: 't', startedAt: new Date().toISOString() })
log.record('table.copied', ${JSON.stringify(table('sales.orders', 10))})
process.exit(130)
`,
  )
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(child.status, 130, child.stderr)
  assert.ok(existsSync(path.join(dir, 'tablehaul.log')))
  const lines = humanLines(dir)
  assert.match(lines[0]!, / sales\.orders OK 10 rows /)
  assert.match(
    lines[1]!,
    / run 20260101-000001-abcd ABANDONED the process exited \(code 130\) before the run finished/,
  )
  const last = readRunLog(dir).at(-1)
  assert.equal(last?.event, 'run.abandoned')
  assert.equal(last?.exitCode, 130)
})
