import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { planTransfer } from '../../src/steps/plan/plan-transfer.js'
import { runCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { TestDatabase, testServers } from '../helpers/servers.js'
import { MailServer } from '../helpers/smtp.js'
import { runBetween } from '../helpers/sync-report.js'

// A pattern selects what the source has now: a table the source dropped since an earlier run loaded it is
// copied by no one, and its target table keeps its old rows. Every run and plan says so.

let servers: Awaited<ReturnType<typeof testServers>>
let mail: MailServer

before(async () => {
  servers = await testServers()
  mail = await MailServer.start()
})

after(async () => {
  await Promise.all([servers?.stop(), mail?.stop()])
})

const TABLES = `
  CREATE TABLE public.kept (id int PRIMARY KEY, v text);
  INSERT INTO public.kept SELECT g, 'k' || g FROM generate_series(1, 100) g;
  CREATE TABLE public.gone (id int PRIMARY KEY, v text);
  INSERT INTO public.gone SELECT g, 'g' || g FROM generate_series(1, 50) g;
`

/** Whitespace made single spaces: the terminal wraps long lines. */
const flat = (text: string) => text.replace(/\s+/g, ' ')

const WARNING =
  /public\.gone on the target was loaded from this source by an earlier run, but the source no longer has it \(dropped, renamed or moved to another schema\): "public\.\*" selects no table of that name, no run copies it, and its rows on the target are those of its last copy; if the source dropped it, drop it on the target \(DROP TABLE "public"\."gone"\); if it was renamed or moved, name the new table in tables: with into: public\.gone/

describe('a table a pattern selected that the source no longer has', () => {
  test('is warned of by plan and run (summary, log, e-mail), left untouched, and only for marks of the same source database', async () => {
    const db = await databasePair(servers, 'gone_src')
    const other = await TestDatabase.create(servers.source, 'gone_other')
    try {
      await db.source.sql(TABLES)
      await other.sql(`CREATE TABLE public.kept (id int PRIMARY KEY, v text)`)
      const dir = tempDir()
      const endpoints = (source: TestDatabase) => ['--source', source.url, '--target', db.target.url]
      const run = (mode: string) =>
        runCli(
          [
            'run',
            ...endpoints(db.source),
            '--table',
            'public.*',
            '--mode',
            mode,
            '--log-dir',
            path.join(dir, 'logs'),
            '--smtp-url',
            mail.url(),
            '--email-from',
            'tablehaul@example.com',
            '--email-to',
            'dba@example.com',
          ],
          { cwd: dir },
        )
      const plan = (source: TestDatabase) =>
        runCli(['plan', ...endpoints(source), '--table', 'public.*'], { cwd: dir })

      const first = await run('replace')
      assert.equal(first.code, 0, first.stderr)
      assert.doesNotMatch(flat(first.stdout + first.stderr), /no longer has it/)
      const mailsBefore = mail.messages.length

      await db.source.sql(`DROP TABLE public.gone`)
      const rowsBefore = await fingerprint(db.target.url, 'public.gone')

      const planned = await plan(db.source)
      assert.equal(planned.code, 0, planned.stderr)
      assert.match(flat(planned.stdout), WARNING)

      for (const mode of ['sync', 'replace']) {
        const next = await run(mode)
        assert.equal(next.code, 0, next.stderr)
        assert.match(flat(next.stdout + next.stderr), WARNING, `${mode}: the terminal summary`)
        const log = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
        const noted = new RegExp(`^\\S+ \\S+ run \\S+ NOTE ${WARNING.source}$`)
        assert.equal(
          log.split('\n').filter((line) => noted.test(line)).length,
          mode === 'sync' ? 1 : 2,
          `${mode}: the log`,
        )
      }
      const message = await mail.message(mailsBefore + 2)
      assert.match(flat(message.parsed.text ?? ''), WARNING, 'the e-mail')

      assert.deepEqual(
        await fingerprint(db.target.url, 'public.gone'),
        rowsBefore,
        'the target table is untouched',
      )
      assert.deepEqual(await db.target.sql(`SELECT count(*)::int AS n FROM public.gone`), [{ n: 50 }])

      // Another database of the same server, with the same table names: its runs never loaded public.gone.
      const fromOther = await plan(other)
      assert.equal(fromOther.code, 0, fromOther.stderr)
      assert.doesNotMatch(flat(fromOther.stdout), /no longer has it/)
    } finally {
      await Promise.all([db.drop(), other.drop()])
    }
  })

  test("says so when the target's records of earlier runs cannot be read, instead of warning of nothing", async () => {
    const db = await databasePair(servers, 'gone_unread')
    const holder = new pg.Client({ connectionString: db.target.url })
    try {
      await db.source.sql(TABLES)
      const first = await runBetween(db, 'replace', { tables: ['public.*'] })
      assert.equal(first.status, 'succeeded', JSON.stringify(first.error))
      await db.source.sql(`DROP TABLE public.gone`)
      // A maintenance session (VACUUM FULL, an ALTER) holds the records' table past timeouts.lock.
      await holder.connect()
      await holder.query('BEGIN; LOCK TABLE tablehaul.sync_marks IN ACCESS EXCLUSIVE MODE')
      const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
      const planned = await planTransfer({ ...config, timeouts: { ...config.timeouts, lock: 300 } })
      const warnings = planned.warnings.join('\n')
      assert.doesNotMatch(warnings, /no longer has it/)
      assert.match(
        flat(warnings),
        /the target's records of earlier runs \(tablehaul\.sync_marks\) could not be read \(canceling statement due to lock timeout \(SQLSTATE 55P03\): another session holds a lock .*\): a table a pattern selects that the source dropped since an earlier run loaded it is not warned of this time/,
      )
    } finally {
      await holder.end().catch(() => {})
      await db.drop()
    }
  })
})
