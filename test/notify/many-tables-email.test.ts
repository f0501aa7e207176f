import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { EMAIL_QUIET_TABLES } from '../../src/notify/email.js'
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
