import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { emailHtml, emailSubject, emailText } from '../../src/notify/email.js'
import { EMAIL_NOTEWORTHY_TABLES, EMAIL_QUIET_TABLES } from '../../src/report/wording.js'
import { type RunReport, type TableResult, totalsOf } from '../../src/report/run-report.js'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { readRunLog } from '../helpers/logs.js'
import { outboxMessages } from '../helpers/outbox.js'
import { TestDatabase, testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const TABLES = 60

/** The TABLES section's rows of a plain-text e-mail. */
function listedTables(text: string): string[] {
  return text.split('\n').filter((line) => /^ {2}(OK|FAILED|SKIPPED) {2,}\S/.test(line))
}

describe('the e-mail of a run of many tables', () => {
  test('lists the tables that changed or failed and the largest others, and counts the rest in one line', async () => {
    const [source, target] = await Promise.all([
      TestDatabase.create(servers.source, 'many_src'),
      TestDatabase.create(servers.target, 'many_tgt'),
    ])
    const dir = tempDir()
    try {
      await source.sql(`
        CREATE SCHEMA many;
        DO $$ BEGIN
          FOR i IN 1..${TABLES} LOOP
            EXECUTE format('CREATE TABLE many.%I (id int PRIMARY KEY, v text)', 't' || lpad(i::text, 3, '0'));
            EXECUTE format('INSERT INTO many.%I SELECT g, ''v'' || g FROM generate_series(1, 50) g', 't' || lpad(i::text, 3, '0'));
          END LOOP;
        END $$;
      `)
      const outbox = path.join(dir, 'outbox')
      const args = [
        'run',
        '--source',
        source.url,
        '--target',
        target.url,
        '--table',
        'many.*',
        '--mode',
        'sync',
        '--log-dir',
        path.join(dir, 'logs'),
        '--outbox',
        outbox,
        '--email-to',
        'dba@example.com',
      ]
      const first = await runCli(args, { cwd: dir })
      assert.equal(first.code, 0, first.stderr)

      await source.sql(`UPDATE many.t007 SET v = 'changed' WHERE id = 3; DELETE FROM many.t042 WHERE id = 9;`)
      const second = await runCli(args, { cwd: dir })
      assert.equal(second.code, 0, second.stderr)

      const [firstMail, secondMail] = await outboxMessages(outbox)
      // A first copy: nothing to note, so the largest EMAIL_QUIET_TABLES are listed and the rest counted.
      const firstText = String(firstMail!.text)
      assert.equal(listedTables(firstText).length, EMAIL_QUIET_TABLES)
      assert.match(
        firstText,
        new RegExp(`${TABLES - EMAIL_QUIET_TABLES} more tables copied with nothing to note \\(`),
      )

      // The two tables a sync wrote to are listed with what it wrote, whatever their size.
      const text = String(secondMail!.text)
      const html = String(secondMail!.html)
      assert.match(text, /many\.t007: synced: 0 inserted, 1 updated, 0 deleted, 49 unchanged/)
      assert.match(text, /many\.t042: synced: 0 inserted, 0 updated, 1 deleted, 49 unchanged/)
      assert.equal(listedTables(text).length, EMAIL_QUIET_TABLES + 2)
      const unlisted = TABLES - EMAIL_QUIET_TABLES - 2
      const rows = (unlisted * 50).toLocaleString('en-US')
      const line = new RegExp(
        `${unlisted} more tables copied with nothing to note \\(${rows} rows, [^)]+\\): every table is in the log`,
      )
      assert.match(text, line)
      assert.match(html, line)
      assert.equal((html.match(/<tr>\n<td class="th-rule"/g) ?? []).length, EMAIL_QUIET_TABLES + 2)
      assert.match(String(secondMail!.subject), new RegExp(`${TABLES}/${TABLES} tables`))

      // The log still has every table.
      const copied = readRunLog(path.join(dir, 'logs')).filter((r) => r.event === 'table.copied')
      assert.equal(copied.length, TABLES)
    } finally {
      await Promise.all([source.drop(), target.drop()])
    }
  })
})

/** A table of a synthetic report: `kind` decides whether it failed, has a note, or has nothing to say. */
function result(i: number, kind: 'failed' | 'noted' | 'quiet'): TableResult {
  return {
    table: `s.t${i}`,
    source: `s.t${i}`,
    status: kind === 'failed' ? 'failed' : 'copied',
    rows: 5,
    bytes: 100 + i,
    durationMs: 20,
    mode: 'sync',
    format: 'binary',
    created: false,
    attempts: 1,
    ...(kind === 'failed'
      ? {
          error: {
            code: 'TABLE_COPY_FAILED' as const,
            message: `no space left on device ${i}`,
            sqlState: '53100',
          },
        }
      : {}),
    ...(kind === 'noted' ? { warnings: [`compared every row: no position recorded ${i}`] } : {}),
  }
}

test('failed tables and tables with notes are listed up to a limit each, and the rest counted', () => {
  const tables = [
    ...Array.from({ length: 250 }, (_, i) => result(i, 'failed')),
    ...Array.from({ length: 150 }, (_, i) => result(1000 + i, 'noted')),
    ...Array.from({ length: 100 }, (_, i) => result(2000 + i, 'quiet')),
  ]
  const now = new Date().toISOString()
  const report: RunReport = {
    runId: 'many',
    status: 'failed',
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
  const text = emailText(report)
  const html = emailHtml(report)
  assert.equal(listedTables(text).length, 2 * EMAIL_NOTEWORTHY_TABLES + EMAIL_QUIET_TABLES)
  assert.equal((text.match(/no space left on device/g) ?? []).length, EMAIL_NOTEWORTHY_TABLES)
  assert.equal((text.match(/compared every row/g) ?? []).length, EMAIL_NOTEWORTHY_TABLES)
  for (const line of [
    /150 more tables failed: each is in the log, with its error\./,
    /50 more tables with a note or rows written by a sync: each is in the log, with its notes\./,
    /70 more tables copied with nothing to note \(350 rows, [^)]+\): every table is in the log\./,
  ]) {
    assert.match(text, line)
    assert.match(html, line)
  }
  assert.match(emailSubject(report), /250 of 500 tables failed/)
})
