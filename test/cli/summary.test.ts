import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { readRunLog } from '../helpers/logs.js'
import { testServers } from '../helpers/servers.js'
import { databasePair } from '../helpers/database-pair.js'
import { EMAIL_QUIET_TABLES } from '../../src/report/wording.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const TABLES = 80

test('the summary of a run of many tables lists the failure and the largest tables, counts the rest, and points to the log, which has every table', async () => {
  const db = await databasePair(servers, 'many_summary')
  try {
    await db.source.sql(`
      CREATE SCHEMA many;
      DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
        EXECUTE format('CREATE TABLE many.t%s (id int PRIMARY KEY, v text)', i);
        EXECUTE format('INSERT INTO many.t%s SELECT g, g::text FROM generate_series(1, %s) g', i, i);
      END LOOP; END $$;`)
    // One table the run cannot load: its target column has another type.
    await db.target.sql('CREATE SCHEMA many; CREATE TABLE many.t1 (id int PRIMARY KEY, v int)')
    const dir = tempDir()
    // As cron runs it: quiet, so the summary is printed because a table failed.
    const result = await runCli(
      ['run', '--source', db.source.url, '--target', db.target.url, '--table', 'many.*', '--quiet'],
      { cwd: dir },
    )
    assert.equal(result.code, 1, result.stdout + result.stderr)
    // The summary goes to stderr, as cron mails it.
    const summary = result.stderr
    const rows = summary.split('\n').filter((line) => /^\s+(OK|FAILED|SKIPPED)\s+many\.t\d+\s/.test(line))
    assert.equal(rows.length, 1 + EMAIL_QUIET_TABLES, summary)
    assert.match(rows[0]!, /^\s+FAILED\s+many\.t1\s/)
    assert.match(summary, /many\.t1: target table many\.t1 does not match the source/)
    assert.match(rows[1]!, /many\.t80\s/, 'the largest first')
    const rest = TABLES - 1 - EMAIL_QUIET_TABLES
    assert.match(
      summary,
      new RegExp(`${rest} more tables copied with nothing to note \\(.*\\): every table is in the log\\.`),
    )
    assert.match(summary, /FAILED {2}79 copied, 1 failed of 80 tables/)
    const records = readRunLog(path.join(dir, 'logs'))
    const tables = records.filter((r) => r.event === 'table.copied' || r.event === 'table.failed')
    assert.equal(tables.length, TABLES, 'the log has every table')
  } finally {
    await db.drop()
  }
})

test('two names in tables: that the source lacks are shown one per line in the summary, and on one line in tablehaul.log', async () => {
  const db = await databasePair(servers, 'missing_names')
  try {
    await db.source.sql(`CREATE TABLE public.orders (id int); CREATE TABLE public.events (id int);`)
    const dir = tempDir()
    const result = await runCli(
      [
        'run',
        '--source',
        db.source.url,
        '--target',
        db.target.url,
        '--table',
        'public.orderz',
        '--table',
        'public.evnets',
      ],
      { cwd: dir },
    )
    assert.equal(result.code, 2, result.stdout + result.stderr)
    const summary = result.stderr
    assert.match(
      summary,
      /^FAILED {2}tables\.0: table public\.orderz does not exist on the source \(did you mean public\.orders\?\)\ntables\.1: table public\.evnets does not exist on the source \(did you mean public\.events\?\)\n/m,
    )
    const log = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
      .trim()
      .split('\n')
    assert.equal(log.length, 1, 'one line for the run')
    assert.match(log[0]!, /public\.orders\?\) tables\.1: table public\.evnets /)
  } finally {
    await db.drop()
  }
})
