import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, test } from 'node:test'
import { simpleParser } from 'mailparser'
import { LocalServer } from '../../src/local/local-server.js'
import { spawnCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { withClient } from '../helpers/servers.js'

const dir = tempDir()
const localDir = path.join(dir, 'copy-db')

after(async () => {
  await new LocalServer({ dir: localDir }).remove()
})

test('the demo (README command one) copies the sample schema into the local PostgreSQL, writes the log and the e-mail', async () => {
  // A tablehaul.yaml in the folder says where the local server lives; the rest of it is not the demo's.
  writeFileSync(path.join(dir, 'tablehaul.yaml'), 'local: { dir: ./copy-db }\ntables: [nothing.matches]\n')
  const demo = spawnCli(['demo'], { cwd: dir })
  const result = await demo.done
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stderr, /OK {2}6 copied of 6 tables/)
  assert.match(result.stderr, /Where to look:/)

  const url = new LocalServer({ dir: localDir }).url()!
  const counts = await withClient(
    url,
    async (client) =>
      (
        await client.query<{ table: string; n: string }>(`
        SELECT 'stores_sales' AS table, count(*)::text AS n FROM sales.stores_sales
        UNION ALL SELECT 'order notes', count(*)::text FROM sales."order notes"
        UNION ALL SELECT 'DailyTotals', count(*)::text FROM sales."DailyTotals"`)
      ).rows,
  )
  assert.deepEqual(
    counts.map((c) => [c.table, Number(c.n) > 0]),
    [
      ['stores_sales', true],
      ['order notes', true],
      ['DailyTotals', true],
    ],
  )
  const fks = await withClient(
    url,
    async (client) =>
      (
        await client.query(
          `SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'sales'::regnamespace`,
        )
      ).rows,
  )
  assert.ok(fks.length >= 4, 'the foreign keys came along')

  assert.match(
    readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8'),
    /sales\.stores_sales OK 300,000 rows/,
  )
  const [eml] = readdirSync(path.join(dir, 'outbox')).filter((f) => f.endsWith('.eml'))
  const mail = await simpleParser(readFileSync(path.join(dir, 'outbox', eml!)))
  assert.match(mail.subject ?? '', /^\[tablehaul\] OK · 6\/6 tables/)
})

test('demo --sync then changes a few hundred rows on the source and syncs only those into the copy', async () => {
  writeFileSync(path.join(dir, 'tablehaul.yaml'), 'local: { dir: ./copy-db }\n')
  const result = await spawnCli(['demo', '--sync'], { cwd: dir }).done
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stderr, /4\/4 changing a few hundred rows on the source, then syncing/)
  assert.match(
    result.stderr,
    /sales\.stores_sales: synced: 200 inserted, 300 updated, 0 deleted, 299,700 unchanged/,
  )
  assert.match(
    result.stderr,
    /sales\."order notes": synced: 0 inserted, 0 updated, 10 deleted, 7,990 unchanged/,
  )
  assert.match(result.stderr, /sales\.customers: synced: 0 inserted, 50 updated, 0 deleted/)
  assert.match(
    result.stderr,
    /OK {2}6 copied of 6 tables · 377,193 rows · 376,623 rows unchanged \(not moved\)/,
  )
  const url = new LocalServer({ dir: localDir }).url()!
  const [row] = await withClient(
    url,
    async (client) =>
      (await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM sales.stores_sales`)).rows,
  )
  assert.equal(row!.n, '300200')
})
