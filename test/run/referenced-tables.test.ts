import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

test('a table referenced by a partitioned table whose partitions are all in the run is replaced with them, every night', async () => {
  const db = await databasePair(servers, 'partition_keys')
  try {
    await db.source.sql(`
      CREATE TABLE public.customers (id int PRIMARY KEY);
      CREATE TABLE public.events (id int, customer_id int REFERENCES public.customers, at int) PARTITION BY RANGE (at);
      CREATE TABLE public.events_1 PARTITION OF public.events FOR VALUES FROM (0) TO (100);
      CREATE TABLE public.events_2 PARTITION OF public.events FOR VALUES FROM (100) TO (200);
      INSERT INTO public.customers SELECT g FROM generate_series(1, 10) g;
      INSERT INTO public.events SELECT g, 1 + g % 10, g FROM generate_series(0, 199) g;`)
    const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
    for (const night of [1, 2]) {
      const report = await new TransferJob(config).run()
      const failed = report.tables.filter((t) => t.status !== 'copied')
      assert.deepEqual(
        failed.map((t) => `${t.table}: ${t.error?.message}`),
        [],
        `night ${night}: every table copied (the first creates them, the second replaces them)`,
      )
      await db.source.sql(
        `INSERT INTO public.customers VALUES (${10 + night}); INSERT INTO public.events VALUES (${500 + night}, ${10 + night}, 150)`,
      )
    }
    const keys = await db.target.sql<{ conname: string; convalidated: boolean }>(
      "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' AND conrelid = 'public.events'::regclass",
    )
    assert.deepEqual(keys, [{ conname: 'events_customer_id_fkey', convalidated: true }])
  } finally {
    await db.drop()
  }
})

test('a table whose referencing table is selected but refused says so, not that the run does not copy it', async () => {
  const db = await databasePair(servers, 'refused_referencing')
  try {
    const tables = `
      CREATE TABLE public.invoices (id int PRIMARY KEY);
      CREATE TABLE public.payments (id int PRIMARY KEY, invoice_id int REFERENCES public.invoices, amount numeric(14, 2));`
    await db.source.sql(`${tables}
      INSERT INTO public.invoices SELECT g FROM generate_series(1, 10) g;
      INSERT INTO public.payments SELECT g, g, 1 FROM generate_series(1, 10) g;`)
    // The target's payments predates a type change on the source: it is refused on its own.
    await db.target.sql(tables.replace('numeric(14, 2)', 'numeric(12, 2)'))
    const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
    const report = await new TransferJob(config).run()
    const invoices = report.tables.find((t) => t.table === 'public.invoices')
    assert.equal(invoices?.error?.code, 'TABLE_INCOMPATIBLE')
    assert.match(
      invoices?.error?.message ?? '',
      /referenced by foreign key payments_invoice_id_fkey of public\.payments, which this run selects but cannot copy \(see that table's error\)$/,
    )
    assert.match(invoices?.error?.hint ?? '', /^fix the referencing table/)
    const payments = report.tables.find((t) => t.table === 'public.payments')
    assert.match(payments?.error?.message ?? '', /column amount is numeric\(12,2\) on the target/)
  } finally {
    await db.drop()
  }
})
