import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { TEST_PASSWORD, testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

test('a new user goes init → edit → plan → run → verify against two real servers', async () => {
  const db = await databasePair(servers, 'workflow')
  try {
    await db.source.sql(`
      CREATE SCHEMA sales;
      CREATE TABLE sales.stores (id serial PRIMARY KEY, name text NOT NULL);
      INSERT INTO sales.stores (name) SELECT 'store ' || g FROM generate_series(1, 30) g;
      CREATE TABLE sales.stores_sales (id bigserial PRIMARY KEY, store_id int REFERENCES sales.stores, amount numeric(10,2), sold_at timestamptz);
      INSERT INTO sales.stores_sales (store_id, amount, sold_at)
        SELECT 1 + g % 30, g % 1000 / 10.0, '2024-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 50000) g;
      CREATE TABLE sales.tmp_import (x int);
      ANALYZE;
    `)
    const dir = tempDir()
    // The password comes from the environment, as the starter file suggests; the URL has none.
    const env = { SALES_DB_PASSWORD: TEST_PASSWORD }
    const sourceUrl = new URL(db.source.url)
    sourceUrl.password = ''

    const init = await runCli(['init'], { cwd: dir, env })
    assert.equal(init.code, 0, init.stderr)
    assert.match(init.stdout, /wrote tablehaul\.yaml: set source\.url, then check it with `tablehaul plan`/)

    // The starter file as written points at an example server: plan says what is wrong before anything runs.
    const untouched = await runCli(['plan'], { cwd: dir, env: {} })
    assert.equal(untouched.code, 2)
    assert.match(untouched.stderr, /source\.password: environment variable SALES_DB_PASSWORD is not set/)

    // What a user edits: the source URL, a target instead of the embedded server, one exclusion.
    const file = path.join(dir, 'tablehaul.yaml')
    const edited = readFileSync(file, 'utf8')
      .replace('postgres://reader@db.example.com:5432/sales?sslmode=require', sourceUrl.toString())
      .replace(
        "# target:                               # omit to use tablehaul's embedded local PostgreSQL\n#   url: postgres://localhost:5432/sales_copy",
        `target:\n  url: ${db.target.url}`,
      )
      .replace('exclude: []', 'exclude: [sales.tmp_*]')
    assert.notEqual(edited, readFileSync(file, 'utf8'), 'the starter file has the lines a user edits')
    writeFileSync(file, edited)

    const plan = await runCli(['plan'], { cwd: dir, env })
    assert.equal(plan.code, 0, plan.stdout + plan.stderr)
    assert.match(plan.stdout, /1 {2}sales\.stores_sales .* missing {2}create, load/)
    assert.match(plan.stdout, /2 {2}sales\.stores .* missing {2}create, load/)
    assert.ok(!plan.stdout.includes('tmp_import'))

    const run = await runCli(['run'], { cwd: dir, env })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, /^OK sales\.stores_sales 50,000 rows, .* \[\d\/2\]$/m)
    assert.match(run.stderr, /^OK {2}2 copied of 2 tables · 50,030 rows · /m)
    assert.match(run.stderr, /^log {7}.*logs\/tablehaul-\d{8}-\d{6}-[0-9a-f]{4}\.ndjson$/m)
    assert.ok(!run.stderr.includes('\u001b['), 'no terminal escapes in a pipe')

    const verify = await runCli(['verify', '--checksum'], { cwd: dir, env })
    assert.equal(verify.code, 0, verify.stdout + verify.stderr)
    assert.match(verify.stdout, /^SAME\s+sales\.stores_sales\s+50,000\s+50,000\s+[0-9a-f]{16}$/m)

    await db.target.sql(`UPDATE sales.stores_sales SET amount = amount + 0.01 WHERE id = 31337`)
    const drift = await runCli(['verify', '--checksum'], { cwd: dir, env })
    assert.equal(drift.code, 1)
    assert.match(drift.stdout, /^DIFFERENT\s+sales\.stores_sales/m)

    const again = await runCli(['plan'], { cwd: dir, env })
    assert.match(again.stdout, /sales\.stores_sales .* compatible {2}empty, load/)
  } finally {
    await db.drop()
  }
})
