import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { VerifyReport } from '../../src/steps/verify/verifier.js'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** The same rows on both sides, written in a different order and with the columns in another order. */
async function identical(name: string): Promise<DatabasePair> {
  const db = await databasePair(servers, name)
  const table = (order: string) => `
    CREATE SCHEMA sales;
    CREATE TABLE sales.orders (id int, note text, total numeric(12,2), at timestamptz, tags text[]);
    INSERT INTO sales.orders
      SELECT g, CASE WHEN g % 7 = 0 THEN NULL WHEN g % 11 = 0 THEN '' ELSE 'note "' || g || E'",\\n' END,
             g * 1.25, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', ARRAY['a', NULL, g::text]
        FROM generate_series(1, 5000) g ORDER BY ${order};
    INSERT INTO sales.orders SELECT * FROM sales.orders WHERE id <= 10;  -- duplicate rows count twice
    CREATE TABLE sales.stores (id int, name text);
    INSERT INTO sales.stores SELECT g, 'store ' || g FROM generate_series(1, 40) g;
  `
  await db.source.sql(table('g'))
  await db.target.sql(table('g DESC'))
  return db
}

function verify(db: DatabasePair, ...args: string[]) {
  return runCli(['verify', '--source', db.source.url, '--target', db.target.url, ...args], { cwd: tempDir() })
}

describe('tablehaul verify', () => {
  test('identical tables pass on row counts and on checksums, whatever the physical row order', async () => {
    const db = await identical('verify_same')
    try {
      const counts = await verify(db)
      assert.equal(counts.code, 0, counts.stdout + counts.stderr)
      assert.match(counts.stdout, /^SAME\s+sales\.orders\s+5,010\s+5,010\s*$/m)
      assert.match(counts.stdout, /^SAME\s+sales\.stores\s+40\s+40\s*$/m)
      assert.match(counts.stdout, /SAME {2}2 tables: row counts match/)

      const checksums = await verify(db, '--checksum')
      assert.equal(checksums.code, 0, checksums.stdout)
      assert.match(checksums.stdout, /^SAME\s+sales\.orders\s+5,010\s+5,010\s+[0-9a-f]{16}\s*$/m)
      assert.match(checksums.stdout, /row counts and checksums match/)
    } finally {
      await db.drop()
    }
  })

  test('one changed value fails the checksum comparison with exit 1 and names the table', async () => {
    const db = await identical('verify_value')
    try {
      await db.target.sql(`UPDATE sales.orders SET note = 'changed' WHERE id = 4321`)
      const counts = await verify(db)
      assert.equal(counts.code, 0, 'row counts alone cannot see a changed value')

      const result = await verify(db, '--checksum')
      assert.equal(result.code, 1)
      assert.match(
        result.stdout,
        /^DIFFERENT\s+sales\.orders\s+5,010\s+5,010\s+[0-9a-f]{16} ≠ [0-9a-f]{16}\s+same row count, but the rows differ/m,
      )
      assert.match(result.stdout, /^SAME\s+sales\.stores/m)
      assert.match(result.stdout, /DIFFERENT {2}1 different of 2 tables/)
      assert.match(
        result.stdout,
        /What to do: copy them again: `tablehaul run` with the same source, target and config, and --table 'sales\.orders' \(a target table written to since its last copy differs by design\)\./,
      )
    } finally {
      await db.drop()
    }
  })

  test('a NULL that became an empty string is a difference', async () => {
    const db = await identical('verify_null')
    try {
      await db.target.sql(`UPDATE sales.orders SET note = '' WHERE id = 14`)
      const result = await verify(db, '--checksum', '--table', 'sales.orders', '--json')
      assert.equal(result.code, 1)
      const report = JSON.parse(result.stdout) as VerifyReport
      assert.equal(report.status, 'different')
      assert.deepEqual(
        report.tables.map((t) => [t.table, t.status, t.sourceRows, t.targetRows]),
        [['sales.orders', 'different', 5010, 5010]],
      )
    } finally {
      await db.drop()
    }
  })

  test('one missing row and one missing table fail with exit 1, differences listed first', async () => {
    const db = await identical('verify_rows')
    try {
      await db.target.sql(`DELETE FROM sales.orders WHERE id = 77; DROP TABLE sales.stores`)
      const result = await verify(db, '--quiet')
      assert.equal(result.code, 1)
      const lines = result.stdout.split('\n')
      assert.match(lines[1]!, /^MISSING\s+sales\.stores\s+40\s+-\s+the target table does not exist$/)
      assert.match(lines[2]!, /^DIFFERENT\s+sales\.orders\s+5,010\s+5,009\s+the target has 1 fewer rows$/)
      assert.ok(!result.stdout.includes('SAME '), '--quiet lists only the differences')
    } finally {
      await db.drop()
    }
  })

  test('a where entry is compared on the rows it selects', async () => {
    const db = await identical('verify_where')
    try {
      await db.target.sql(`DELETE FROM sales.stores WHERE id > 10`)
      const dir = tempDir()
      const yaml = `tables:\n  - { name: sales.stores, where: "id <= 10" }\n`
      writeFileSync(path.join(dir, 'tablehaul.yaml'), yaml)
      const result = await runCli(
        ['verify', '--source', db.source.url, '--target', db.target.url, '--checksum'],
        {
          cwd: dir,
        },
      )
      assert.equal(result.code, 0, result.stdout)
      assert.match(result.stdout, /^SAME\s+sales\.stores\s+10\s+10\s/m)
    } finally {
      await db.drop()
    }
  })

  test('an unknown table exits 2 and names it', async () => {
    const db = await identical('verify_unknown')
    try {
      const result = await verify(db, '--table', 'sales.nope')
      assert.equal(result.code, 2)
      assert.match(result.stderr, /table sales\.nope does not exist on the source/)
    } finally {
      await db.drop()
    }
  })
})
