import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { TransferJob } from '../../src/transfer/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { TestDatabase, testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>
let source: TestDatabase
let target: TestDatabase

before(async () => {
  servers = await testServers()
  source = await TestDatabase.create(servers.source, 'smoke_src')
  target = await TestDatabase.create(servers.target, 'smoke_tgt')
  await source.sql(`
    CREATE SCHEMA sales;
    CREATE TABLE sales.customers (id serial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now());
    CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES sales.customers(id), total numeric(12,2), note text, tags text[], data jsonb, blob bytea);
    INSERT INTO sales.customers (name) SELECT 'customer ' || g FROM generate_series(1, 1000) g;
    INSERT INTO sales.orders (customer_id, total, note, tags, data, blob)
      SELECT 1 + g % 1000, g * 1.25, E'tab\\there\\nnewline \\\\ "quote", comma', ARRAY['a', NULL, 'c'], jsonb_build_object('g', g), decode('00ff10', 'hex')
        FROM generate_series(1, 20000) g;
    CREATE INDEX ON sales.orders (customer_id);
    ANALYZE;
  `)
})

after(async () => {
  await source?.drop()
  await target?.drop()
  await servers?.stop()
})

test('a run copies every table exactly into an empty target', async () => {
  const job = new TransferJob(testConfig({ source: source.url, target: target.url }), { notifier: null })
  const report = await job.run()
  assert.equal(report.status, 'succeeded', JSON.stringify(report, null, 2))
  for (const table of ['sales.customers', 'sales.orders']) {
    assert.deepEqual(await fingerprint(target.url, table), await fingerprint(source.url, table), table)
  }
})

