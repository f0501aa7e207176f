import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { Config } from '../../src/config/schema.js'
import { TablehaulError } from '../../src/errors.js'
import type { TableResult } from '../../src/report/run-report.js'
import { RunLifecycle } from '../../src/run/run-lifecycle.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { readRunLog } from '../helpers/logs.js'
import { outboxMessages } from '../helpers/outbox.js'

/**
 * A run whose work is a script: it announces tables and their outcomes the way TransferJob does, without
 * servers, so that what every run shares (outcome, counts, log, e-mail) is tested on its own.
 */
class ScriptedRun extends RunLifecycle {
  constructor(
    config: Config,
    private readonly script: (run: ScriptedRun, signal: AbortSignal) => Promise<void>,
  ) {
    super(config, 'run', {
      source: 'postgres://reader@db/sales',
      target: 'local',
      sourceName: 'sales@db',
      targetName: 'local',
    })
  }

  protected work(signal: AbortSignal): Promise<void> {
    return this.script(this, signal)
  }

  plan(...tables: string[]): void {
    this.announcePlan({
      warnings: [],
      tables: tables.map((table) => ({
        table,
        source: table,
        mode: 'replace',
        format: 'binary',
        targetState: 'exists',
        estimatedBytes: 1000,
        estimatedRows: 10,
      })),
    })
  }

  copied(table: string, rows: number): void {
    this.tableFinished(table, { ...result(table, rows), status: 'copied' })
  }

  alreadyCopied(table: string, rows: number): void {
    this.tableFinished(table, {
      ...result(table, rows),
      status: 'skipped',
      skipped: 'already-copied',
      durationMs: 0,
      reason: 'already copied by run 20261127-020000-k3f9 (resume)',
    })
  }
}

function result(table: string, rows: number): Omit<TableResult, 'status'> {
  return {
    table,
    source: table,
    rows,
    bytes: rows * 100,
    durationMs: 1500,
    mode: 'replace',
    format: 'binary',
    created: false,
    attempts: 1,
  }
}

function config(): Config {
  const dir = tempDir()
  return testConfig({ outbox: path.join(dir, 'outbox'), emailTo: ['dba@example.com'] }, { dir })
}

function lastHumanLine(config: Config): string {
  return readFileSync(path.join(config.log.dir, 'tablehaul.log'), 'utf8').trim().split('\n').at(-1)!
}

test('tables a failed run never started are "not started", apart from those a resumed run skipped; only done ones count', async () => {
  const settings = config()
  const report = await new ScriptedRun(settings, async (run) => {
    run.plan('sales.a', 'sales.b', 'sales.c', 'sales.d')
    run.alreadyCopied('sales.a', 1000)
    run.copied('sales.b', 500)
    throw new TablehaulError('SCHEMA_FAILED', 'creating the missing tables on the target failed: disk full')
  }).run()

  assert.equal(report.status, 'failed')
  assert.equal(report.error?.code, 'SCHEMA_FAILED')
  const notStarted = report.tables.filter((t) => t.skipped === 'not-started')
  assert.deepEqual(
    notStarted.map((t) => t.table),
    ['sales.c', 'sales.d'],
  )
  for (const table of notStarted) {
    assert.match(table.reason ?? '', /^not started: the run failed first \(SCHEMA_FAILED\)/)
  }
  assert.deepEqual(report.totals, {
    tables: 4,
    copied: 1,
    alreadyCopied: 1,
    failed: 0,
    notStarted: 2,
    skipped: 3,
    rows: 500,
    bytes: 50_000,
    unchangedRows: 0,
  })
  assert.match(
    lastHumanLine(settings),
    / run \S+ FAILED 2\/4 tables, 2 not started, 1 already copied, 500 rows, /,
  )

  const [message] = await outboxMessages(settings.email!.outbox!)
  assert.ok(message)
  assert.doesNotMatch(message.subject ?? '', /4\/4/)
  const text = message.text ?? ''
  assert.match(
    text,
    /The run failed: 2 of 4 tables were transferred; the others kept their previous contents\./,
  )
  assert.match(text, /Moved +500 rows, 48\.8 kB\n/, 'what this run moved, the resumed rows not included')
  assert.match(text, /Resumed +1 table, 1,000 rows already copied by the run this one resumed/)
  assert.match(text, /Tables +1 copied, 2 not started, 1 already copied of 4/)
})

test('a resumed run that copies the rest succeeds with every table done, counting only the rows it moved', async () => {
  const settings = config()
  const report = await new ScriptedRun(settings, async (run) => {
    run.plan('sales.a', 'sales.b')
    run.alreadyCopied('sales.a', 1000)
    run.copied('sales.b', 500)
  }).run()
  assert.equal(report.status, 'succeeded')
  assert.equal(report.totals.rows, 500)
  assert.match(lastHumanLine(settings), / run \S+ OK 2\/2 tables, 1 already copied, 500 rows, /)
  const [message] = await outboxMessages(settings.email!.outbox!)
  assert.match(message?.subject ?? '', /^\[tablehaul\] OK · 2\/2 tables · /)
  assert.match(
    message?.text ?? '',
    /All 2 tables are done: 1 transferred now, 1 already by the run this one resumed\./,
  )
})

test('a stop that leaves tables undone interrupts the run; one that comes after everything is done changes nothing', async () => {
  const early = new AbortController()
  const interrupted = await new ScriptedRun(config(), async (run) => {
    run.plan('sales.a', 'sales.b')
    run.copied('sales.a', 10)
    early.abort()
  }).run({ signal: early.signal })
  assert.equal(interrupted.status, 'interrupted')
  assert.equal(interrupted.error, undefined)
  const b = interrupted.tables.find((t) => t.table === 'sales.b')
  assert.equal(b?.skipped, 'not-started')
  assert.match(b?.reason ?? '', /^not started: the run was stopped/)

  const late = new AbortController()
  const done = await new ScriptedRun(config(), async (run) => {
    run.plan('sales.a')
    run.copied('sales.a', 10)
    late.abort()
  }).run({ signal: late.signal })
  assert.equal(done.status, 'succeeded')
})

test('a job runs once: a second run() throws, and the first run logged each event once, the report step last', async () => {
  const settings = config()
  const job = new ScriptedRun(settings, async (run) => {
    run.plan('sales.a')
    run.copied('sales.a', 10)
  })
  const report = await job.run()
  assert.equal(report.status, 'succeeded')
  await assert.rejects(job.run(), (error: unknown) => {
    assert.ok(error instanceof TablehaulError)
    assert.equal(error.code, 'USAGE_INVALID')
    assert.match(error.message, /has run already/)
    return true
  })
  const events = readRunLog(settings.log.dir).map((r) =>
    r.event === 'step.started' ? `step ${String(r.step)}` : r.event,
  )
  assert.deepEqual(events, [
    'run.started',
    'run.planned',
    'table.copied',
    'step report',
    'run.finished',
    'notify.sent',
  ])
})

test('a log folder that cannot be written fails the run with a report (and its e-mail), without doing the work', async () => {
  const settings = config()
  const file = path.join(tempDir(), 'not-a-folder')
  writeFileSync(file, '')
  let worked = false
  const report = await new ScriptedRun(
    { ...settings, log: { ...settings.log, dir: path.join(file, 'logs') } },
    async () => {
      worked = true
    },
  ).run()
  assert.equal(worked, false)
  assert.equal(report.status, 'failed')
  assert.equal(report.error?.code, 'FILE_FAILED')
  assert.match(report.error?.message ?? '', /the log cannot be written: .*ENOTDIR/)
  assert.equal(report.notification?.status, 'sent')
  const [message] = await outboxMessages(settings.email!.outbox!)
  assert.match(message?.text ?? '', /the log cannot be written/)
})
