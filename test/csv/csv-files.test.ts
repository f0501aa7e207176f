import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import { simpleParser } from 'mailparser'
import { CsvImport, exportCsv, importCsv } from '../../src/csv/csv-files.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog } from '../helpers/logs.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** Values CSV must carry exactly: NULL versus '', quotes, commas, newlines, CR, tabs, backslashes, unicode. */
const TABLE = `
  CREATE SCHEMA sales;
  CREATE TABLE sales.stores_sales (
    id int PRIMARY KEY, note text, region varchar(10), amount numeric(12,2), ratio double precision,
    sold_at timestamptz, day date, paid boolean, raw bytea, attrs jsonb, tags text[]
  );
`
const ROWS = `
  INSERT INTO sales.stores_sales VALUES
    (1, NULL, '', 0, 'NaN', '-infinity', '0044-03-15 BC', NULL, '\\x', 'null', '{}'),
    (2, '', NULL, -0.01, '-0', 'infinity', '2024-02-29', true, '\\x00ff2c0a0d22', '{"a": "x,\\"y\\""}', '{"", NULL, "NULL"}'),
    (3, E'comma, "double" ''single''\\nsecond line\\r\\nthird\\ttab \\\\ backslash', 'ü', 99.99, 1e-300, '2024-06-01 12:00:00.123456+02', '2000-01-01', false, NULL, '[1, 2.5, null]', '{"a,b", "c\\"d"}'),
    (4, '"', ',', NULL, NULL, NULL, NULL, NULL, '\\x5c', NULL, NULL),
    (5, E'\\\\.', 'x', 1, 2, '2024-01-01', '2024-01-01', true, '\\x2e', '"\\u00e9 🚀"', '{}');
  INSERT INTO sales.stores_sales (id, note, region, amount)
    SELECT g, 'row ' || g || CASE WHEN g % 3 = 0 THEN E'\\n' ELSE '' END, (ARRAY['BR','PT','US'])[1 + g % 3], g * 1.5
      FROM generate_series(10, 20000) g;
`

async function salesPair(name: string): Promise<DatabasePair> {
  const db = await databasePair(servers, name)
  await db.source.sql(TABLE + ROWS)
  await db.target.sql(TABLE)
  return db
}

function configFor(db: DatabasePair, dir: string) {
  return testConfig({ source: db.source.url, target: db.target.url }, { dir })
}

describe('export and import round-trip a table exactly', () => {
  for (const name of ['stores_sales.csv', 'stores_sales.csv.gz']) {
    test(`through ${name}`, async () => {
      const db = await salesPair(name.endsWith('.gz') ? 'csv_gz' : 'csv_plain')
      try {
        const dir = tempDir()
        const config = configFor(db, dir)
        const file = path.join(dir, name)
        const exported = await exportCsv(config, {
          query: 'select * from sales.stores_sales;',
          file,
          notifier: null,
        })
        assert.equal(exported.status, 'succeeded', JSON.stringify(exported.error ?? exported.tables))
        assert.equal(exported.kind, 'export')
        assert.equal(exported.totals.rows, 20_000 - 10 + 1 + 5)

        const text = name.endsWith('.gz')
          ? gunzipSync(readFileSync(file)).toString()
          : readFileSync(file, 'utf8')
        const lines = text.split('\n')
        assert.equal(lines[0], 'id,note,region,amount,ratio,sold_at,day,paid,raw,attrs,tags', 'a header line')
        assert.ok(
          lines.includes('1,,"",0.00,NaN,-infinity,0044-03-15 BC,,\\x,null,{}'),
          'NULL is empty, "" is ""',
        )
        assert.deepEqual(
          readdirSync(dir).filter((f) => f.includes('partial')),
          [],
          'no temporary file is left',
        )

        const imported = await importCsv(config, { table: 'sales.stores_sales', file, notifier: null })
        assert.equal(imported.status, 'succeeded', JSON.stringify(imported.error ?? imported.tables))
        assert.equal(imported.kind, 'import')
        assert.equal(imported.totals.rows, exported.totals.rows)
        assert.deepEqual(
          await fingerprint(db.target.url, 'sales.stores_sales'),
          await fingerprint(db.source.url, 'sales.stores_sales'),
        )
      } finally {
        await db.drop()
      }
    })
  }
})

describe('import', () => {
  test('replace leaves exactly the file rows; append adds them', async () => {
    const db = await salesPair('csv_modes')
    try {
      const dir = tempDir()
      const config = configFor(db, dir)
      const file = path.join(dir, 'small.csv')
      writeFileSync(file, 'region,id,note\nBR,100001,first\nPT,100002,"second, with comma"\n')
      await db.target.sql(
        `INSERT INTO sales.stores_sales (id, note) SELECT g, 'old' FROM generate_series(1, 50) g`,
      )

      const replaced = await importCsv(config, { table: 'sales.stores_sales', file, notifier: null })
      assert.equal(replaced.status, 'succeeded', JSON.stringify(replaced.error ?? replaced.tables))
      assert.deepEqual(await db.target.sql(`SELECT id, note, region FROM sales.stores_sales ORDER BY id`), [
        { id: 100001, note: 'first', region: 'BR' },
        { id: 100002, note: 'second, with comma', region: 'PT' },
      ])

      await db.target.sql(`DELETE FROM sales.stores_sales; INSERT INTO sales.stores_sales (id) VALUES (1)`)
      const appended = await importCsv(config, {
        table: 'sales.stores_sales',
        file,
        mode: 'append',
        notifier: null,
      })
      assert.equal(appended.status, 'succeeded')
      const [count] = await db.target.sql<{ n: string }>(`SELECT count(*)::text AS n FROM sales.stores_sales`)
      assert.equal(count!.n, '3')
    } finally {
      await db.drop()
    }
  })

  for (const compressed of [false, true]) {
    test(`a malformed line is reported with its number and the table keeps its old rows${compressed ? ' (.gz)' : ''}`, async () => {
      const db = await salesPair(compressed ? 'csv_bad_gz' : 'csv_bad')
      try {
        await db.target.sql(
          `INSERT INTO sales.stores_sales (id, note) SELECT g, 'old ' || g FROM generate_series(1, 300) g`,
        )
        const before = await fingerprint(db.target.url, 'sales.stores_sales')
        const dir = tempDir()
        // Line 3 holds a value spread over two lines; the bad value is on line 5.
        const text = 'id,note,amount\n1,a,1.5\n2,"two\nlines",2\n3,c,three\n4,d,4\n'
        const name = compressed ? 'bad.csv.gz' : 'bad.csv'
        const file = path.join(dir, name)
        writeFileSync(file, compressed ? gzipSync(text) : text)

        const report = await importCsv(configFor(db, dir), {
          table: 'sales.stores_sales',
          file,
          notifier: null,
        })
        assert.equal(report.status, 'failed')
        assert.equal(report.error?.code, 'CSV_INVALID')
        assert.equal(
          report.error?.message,
          `${name} line 5, column amount: invalid input syntax for type numeric: "three"`,
        )
        assert.match(
          report.error?.hint ?? '',
          /sales\.stores_sales kept its previous rows; fix line 5 of bad\.csv/,
        )
        assert.deepEqual(await fingerprint(db.target.url, 'sales.stores_sales'), before)

        const failed = readRunLog(path.join(dir, 'logs')).find((r) => r.event === 'table.failed')
        assert.equal((failed?.error as { code: string }).code, 'CSV_INVALID')
      } finally {
        await db.drop()
      }
    })
  }

  test('a header that does not fit the table names the unknown and the missing columns, and nothing changes', async () => {
    const db = await salesPair('csv_header')
    try {
      await db.target.sql(`
        ALTER TABLE sales.stores_sales ADD COLUMN code text NOT NULL DEFAULT 'x', ADD COLUMN must text;
        UPDATE sales.stores_sales SET must = 'm'; ALTER TABLE sales.stores_sales ALTER COLUMN must SET NOT NULL;
        INSERT INTO sales.stores_sales (id, must) VALUES (1, 'kept')`)
      const before = await fingerprint(db.target.url, 'sales.stores_sales')
      const dir = tempDir()
      const file = path.join(dir, 'header.csv')
      writeFileSync(file, 'ID,nom,note\n1,a,b\n')
      const report = await importCsv(configFor(db, dir), {
        table: 'sales.stores_sales',
        file,
        notifier: null,
      })
      assert.equal(report.status, 'failed')
      assert.equal(report.error?.code, 'CSV_INVALID')
      assert.equal(
        report.error?.message,
        'the header of header.csv does not fit sales.stores_sales: column "nom" is not in sales.stores_sales; missing column must (NOT NULL without a default)',
      )
      assert.match(report.error?.hint ?? '', /the first line must name columns of the table, e\.g\. id,note,/)
      assert.deepEqual(await fingerprint(db.target.url, 'sales.stores_sales'), before)
    } finally {
      await db.drop()
    }
  })

  test('a missing file, an empty file and a missing table each say what to do', async () => {
    const db = await salesPair('csv_missing')
    try {
      const dir = tempDir()
      const config = configFor(db, dir)
      const missing = await importCsv(config, {
        table: 'sales.stores_sales',
        file: path.join(dir, 'nope.csv'),
        notifier: null,
      })
      assert.equal(missing.error?.code, 'FILE_FAILED')
      assert.match(missing.error?.hint ?? '', /check the path given to --file/)

      writeFileSync(path.join(dir, 'empty.csv'), '')
      const empty = await importCsv(config, {
        table: 'sales.stores_sales',
        file: path.join(dir, 'empty.csv'),
        notifier: null,
      })
      assert.equal(empty.error?.code, 'CSV_INVALID')
      assert.equal(empty.error?.message, 'empty.csv is empty')

      writeFileSync(path.join(dir, 'ok.csv'), 'id\n1\n')
      const table = await importCsv(config, {
        table: 'sales.nope',
        file: path.join(dir, 'ok.csv'),
        notifier: null,
      })
      assert.equal(table.error?.code, 'TABLE_NOT_FOUND')
      assert.match(table.error?.message ?? '', /table sales\.nope does not exist on the target/)

      assert.throws(
        () => new CsvImport(config, { table: 'a.b.c', file: 'x.csv' }),
        /--table: "a\.b\.c" is not a table name/,
      )
    } finally {
      await db.drop()
    }
  })
})

describe('export', () => {
  test('a failing query leaves an existing file untouched and says to try the query in psql', async () => {
    const db = await salesPair('csv_query')
    try {
      const dir = tempDir()
      const file = path.join(dir, 'out.csv')
      writeFileSync(file, 'previous contents\n')
      const report = await exportCsv(configFor(db, dir), {
        query: 'select * from sales.nope',
        file,
        notifier: null,
      })
      assert.equal(report.status, 'failed')
      assert.match(
        report.error?.message ?? '',
        /the export query failed on the source: relation "sales\.nope" does not exist/,
      )
      assert.equal(report.error?.sqlState, '42P01')
      assert.match(report.error?.hint ?? '', /run the query in psql/)
      assert.equal(readFileSync(file, 'utf8'), 'previous contents\n')
      assert.deepEqual(readdirSync(dir).sort(), ['logs', 'out.csv'])
    } finally {
      await db.drop()
    }
  })

  test('a file that cannot be created fails the export with a report, never a crash', async () => {
    const db = await salesPair('csv_unwritable')
    try {
      const dir = tempDir()
      // The export's temporary file cannot be opened where a folder of that name is (EEXIST; EACCES and
      // EROFS fail the same way).
      const runId = '20261127-020000-beef'
      mkdirSync(path.join(dir, `.out.csv.${runId}.partial`))
      const report = await exportCsv(configFor(db, dir), {
        query: 'select * from sales.stores_sales',
        file: path.join(dir, 'out.csv'),
        notifier: null,
        runId,
      })
      assert.equal(report.status, 'failed')
      assert.equal(report.error?.code, 'FILE_FAILED')
      assert.match(report.error?.message ?? '', /^writing .*out\.csv failed: EEXIST/)
      assert.ok(!existsSync(path.join(dir, 'out.csv')))
      assert.ok(existsSync(path.join(dir, `.out.csv.${runId}.partial`)), 'what was there is left alone')
    } finally {
      await db.drop()
    }
  })

  test('the query runs read-only: an export cannot change the source', async () => {
    const db = await salesPair('csv_readonly')
    try {
      const dir = tempDir()
      const report = await exportCsv(configFor(db, dir), {
        query: 'delete from sales.stores_sales returning id',
        file: path.join(dir, 'deleted.csv'),
        notifier: null,
      })
      assert.equal(report.status, 'failed')
      assert.equal(report.error?.sqlState, '25006')
      const [count] = await db.source.sql<{ n: string }>(`SELECT count(*)::text AS n FROM sales.stores_sales`)
      assert.equal(count!.n, '19996')
      assert.ok(!existsSync(path.join(dir, 'deleted.csv')))
    } finally {
      await db.drop()
    }
  })

  test('is logged and e-mailed like a run', async () => {
    const db = await salesPair('csv_report')
    try {
      const dir = tempDir()
      const outbox = path.join(dir, 'outbox')
      const config = testConfig(
        { source: db.source.url, target: db.target.url, outbox, emailTo: ['dba@example.com'] },
        { dir },
      )
      const report = await exportCsv(config, {
        query: 'select id from sales.stores_sales',
        file: path.join(dir, 'ids.csv'),
      })
      assert.equal(report.status, 'succeeded')
      assert.equal(report.notification?.status, 'sent')
      const records = readRunLog(path.join(dir, 'logs'))
      assert.equal(records.find((r) => r.event === 'run.started')?.kind, 'export')
      assert.equal(records.find((r) => r.event === 'table.copied')?.rows, 19996)
      const human = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
      assert.match(human, /ids\.csv OK 19,996 rows/)
      assert.match(human, /export \S+ OK/)
      const [mail] = readdirSync(outbox)
      const message = await simpleParser(readFileSync(path.join(outbox, mail!)))
      assert.match(message.subject ?? '', /^\[tablehaul\] OK · export ids\.csv, 19,996 rows · /)
    } finally {
      await db.drop()
    }
  })

  test("what may hold rows is its owner's only: the export, its logs and its e-mail (0600, folders 0700); a replaced file keeps its mode", async () => {
    const db = await salesPair('csv_modes')
    const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8)
    try {
      const dir = tempDir()
      const outbox = path.join(dir, 'outbox')
      const config = testConfig(
        { source: db.source.url, target: db.target.url, outbox, emailTo: ['dba@example.com'] },
        { dir },
      )
      const file = path.join(dir, 'extract.csv')
      const first = await exportCsv(config, { query: 'select note from sales.stores_sales', file })
      assert.equal(first.status, 'succeeded', JSON.stringify(first.error))
      const logs = path.join(dir, 'logs')
      const [ndjson] = readdirSync(logs).filter((name) => name.endsWith('.ndjson'))
      const [mail] = readdirSync(outbox)
      assert.deepEqual(
        {
          export: modeOf(file),
          logs: modeOf(logs),
          ndjson: modeOf(path.join(logs, ndjson!)),
          human: modeOf(path.join(logs, 'tablehaul.log')),
          outbox: modeOf(outbox),
          mail: modeOf(path.join(outbox, mail!)),
        },
        { export: '600', logs: '700', ndjson: '600', human: '600', outbox: '700', mail: '600' },
      )

      chmodSync(file, 0o640)
      const again = await exportCsv(config, {
        query: 'select id from sales.stores_sales',
        file,
        notifier: null,
      })
      assert.equal(again.status, 'succeeded', JSON.stringify(again.error))
      assert.match(readFileSync(file, 'utf8'), /^id\n/, 'the file was replaced')
      assert.equal(modeOf(file), '640', 'the mode its owner gave it is kept')
    } finally {
      await db.drop()
    }
  })
})
