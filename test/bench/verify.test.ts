import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { verifyCopy } from '../../bench/lib/verify.js'
import { tempDir } from '../helpers/config.js'
import { TestDatabase, testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const SCHEMA = `
  CREATE SCHEMA shop;
  CREATE TABLE shop.customers (id serial PRIMARY KEY, name text NOT NULL);
  CREATE TABLE shop.orders (
    id bigint PRIMARY KEY,
    customer_id int NOT NULL REFERENCES shop.customers (id),
    total numeric(12,2) CHECK (total >= 0),
    placed_at timestamptz NOT NULL
  );
  CREATE INDEX orders_placed_idx ON shop.orders (placed_at);
  INSERT INTO shop.customers (name) SELECT 'customer ' || g FROM generate_series(1, 50) g;
  INSERT INTO shop.orders
  SELECT g, 1 + g % 50, g * 1.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour'
    FROM generate_series(1, 5000) g;
`

test("the bench's check passes a faithful copy, and names every difference of an unfaithful one", async () => {
  const [source, target] = await Promise.all([
    TestDatabase.create(servers.source, 'benchverify_src'),
    TestDatabase.create(servers.target, 'benchverify_tgt'),
  ])
  const cache = path.join(tempDir(), 'fingerprints.json')
  const check = () => verifyCopy({ connectionString: source.url }, { connectionString: target.url }, cache)
  try {
    await source.sql(SCHEMA)
    // the same statements on the target, with rows inserted in the opposite order: the hash ignores order
    await target.sql(SCHEMA.replace('FROM generate_series(1, 5000) g', 'FROM generate_series(5000, 1, -1) g'))
    const faithful = await check()
    assert.deepEqual(faithful.problems, [])
    assert.equal(faithful.summary, 'OK')
    assert.equal(faithful.tables, 2)

    await target.sql(`
      UPDATE shop.orders SET total = total + 0.01 WHERE id = 4321;
      DROP INDEX shop.orders_placed_idx;
      ALTER TABLE shop.orders DROP CONSTRAINT orders_total_check;
      SELECT setval('shop.customers_id_seq', 7);
      CREATE TABLE public.stray (id int);
    `)
    const unfaithful = await check()
    assert.equal(unfaithful.ok, false)
    assert.match(unfaithful.summary, /^FAIL: /)
    const problems = unfaithful.problems.join('\n')
    assert.match(problems, /table shop\.orders: same row count, different contents/)
    assert.match(problems, /index shop\.orders orders_placed_idx missing/)
    assert.match(problems, /constraint shop\.orders orders_total_check missing/)
    assert.match(problems, /sequence shop\.customers_id_seq differs/)
    assert.match(problems, /table public\.stray extra on the target/)

    await target.sql('DELETE FROM shop.orders WHERE id > 4990')
    assert.match((await check()).problems.join('\n'), /table shop\.orders: 4990 rows instead of 5000/)
  } finally {
    await Promise.all([source.drop(), target.drop()])
  }
})
