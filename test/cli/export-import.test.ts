import assert from 'node:assert/strict'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { RunReport } from '../../src/report/run-report.js'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const ORDERS = `
  CREATE SCHEMA sales;
  CREATE TABLE sales."Orders" (id int PRIMARY KEY, note text, total numeric(12,2));
`

describe('tablehaul export and import', () => {
  test('export --table then import --table round-trips a table, with --json reports', async () => {
    const db = await databasePair(servers, 'cli_csv')
    try {
      await db.source.sql(
        `${ORDERS} INSERT INTO sales."Orders" SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE E'n,"' || g || E'"\\n' END, g / 3.0 FROM generate_series(1, 3000) g;`,
      )
      await db.target.sql(`${ORDERS} INSERT INTO sales."Orders" VALUES (1, 'old', 1)`)
      const dir = tempDir()
      const exported = await runCli(
        [
          'export',
          '--source',
          db.source.url,
          '--table',
          'sales."Orders"',
          '--file',
          'orders.csv.gz',
          '--json',
        ],
        { cwd: dir },
      )
      assert.equal(exported.code, 0, exported.stderr)
      const exportReport = JSON.parse(exported.stdout) as RunReport
      assert.equal(exportReport.kind, 'export')
      assert.equal(exportReport.totals.rows, 3000)
      assert.match(exported.stderr, /OK {2}exported 3,000 rows \(.* of CSV\) into .*orders\.csv\.gz in /)
      assert.ok(existsSync(path.join(dir, 'orders.csv.gz')))

      const imported = await runCli(
        [
          'import',
          '--target',
          db.target.url,
          '--table',
          'sales."Orders"',
          '--file',
          'orders.csv.gz',
          '--quiet',
        ],
        { cwd: dir },
      )
      assert.equal(imported.code, 0, imported.stderr)
      assert.equal(imported.stderr, '', '--quiet prints nothing when all went well')
      assert.deepEqual(
        await fingerprint(db.target.url, 'sales."Orders"'),
        await fingerprint(db.source.url, 'sales."Orders"'),
      )
    } finally {
      await db.drop()
    }
  })

  test('a malformed file exits 1, names the file and line, and the table keeps its rows', async () => {
    const db = await databasePair(servers, 'cli_csv_bad')
    try {
      await db.target.sql(
        `${ORDERS} INSERT INTO sales."Orders" SELECT g, 'kept', g FROM generate_series(1, 20) g`,
      )
      const before = await fingerprint(db.target.url, 'sales."Orders"')
      const dir = tempDir()
      writeFileSync(path.join(dir, 'orders.csv'), 'id,note,total\n1,a,1\n2,b,2,extra\n')
      const result = await runCli(
        ['import', '--target', db.target.url, '--table', 'sales."Orders"', '--file', 'orders.csv'],
        { cwd: dir },
      )
      assert.equal(result.code, 1)
      assert.match(result.stderr, /FAILED {2}orders\.csv line 3: extra data after last expected column/)
      assert.match(
        result.stderr,
        /What to do: sales\."Orders" kept its previous rows; fix line 3 of orders\.csv and import again/,
      )
      assert.match(result.stderr, /log {7}.*tablehaul-.*\.ndjson/)
      assert.deepEqual(await fingerprint(db.target.url, 'sales."Orders"'), before)
    } finally {
      await db.drop()
    }
  })

  test('bad usage exits 2 with what to do', async () => {
    const dir = tempDir()
    const both = await runCli(['export', '--query', 'select 1', '--table', 'a.b', '--file', 'x.csv'], {
      cwd: dir,
    })
    assert.equal(both.code, 2)
    assert.match(both.stderr, /export needs either --query or --table \(one of them\)/)
    assert.match(both.stderr, /what to do: e\.g\. tablehaul export --query/)

    const noFile = await runCli(['import', '--table', 'sales.orders'], { cwd: dir })
    assert.equal(noFile.code, 2)
    assert.match(noFile.stderr, /required option '-f, --file <file>' not specified/)

    const badMode = await runCli(['import', '--table', 'a.b', '--file', 'x.csv', '--mode', 'recreate'], {
      cwd: dir,
    })
    assert.equal(badMode.code, 2)
    assert.match(badMode.stderr, /Allowed choices are replace, append/)

    const noSource = await runCli(['export', '--query', 'select 1', '--file', 'x.csv'], { cwd: dir })
    assert.equal(noSource.code, 2)
    assert.match(noSource.stderr, /source\.url: no source is configured/)
    assert.match(noSource.stderr, /What to do: give --source/)
  })
})
