import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { databasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { runBetween } from '../helpers/sync-report.js'
import { testServers } from '../helpers/servers.js'

// PostgreSQL hashes an enum value by its label's oid, which each database assigns on its own: a table
// hash-partitioned on an enum column puts a row in one partition on the source and another on the target.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

describe('a table hash-partitioned on an enum', () => {
  test('its partitions fail saying why and what to do, their target rows kept; the other tables copy', async () => {
    const db = await databasePair(servers, 'hash_enum')
    // Labels made in another order on the target: its oids differ from the source's for the same label.
    await db.source.sql(`
      CREATE TYPE color AS ENUM ('red', 'green', 'blue', 'cyan', 'pink', 'gray');
      CREATE TABLE items (color color, id int, PRIMARY KEY (color, id)) PARTITION BY HASH (color);
      CREATE TABLE items_0 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 0);
      CREATE TABLE items_1 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 1);
      INSERT INTO items SELECT c, g FROM unnest(enum_range(NULL::color)) c, generate_series(1, 5) g;
      CREATE TABLE plain (id int PRIMARY KEY);
      INSERT INTO plain SELECT generate_series(1, 10);
    `)
    await db.target.sql(`
      CREATE TYPE filler AS ENUM ('a', 'b', 'c');
      CREATE TYPE color AS ENUM ('red', 'green', 'blue', 'cyan', 'pink', 'gray');
      CREATE TABLE items (color color, id int, PRIMARY KEY (color, id)) PARTITION BY HASH (color);
      CREATE TABLE items_0 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 0);
      CREATE TABLE items_1 PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER 1);
      INSERT INTO items VALUES ('red', 100), ('blue', 100), ('gray', 100);
    `)
    const before = new Map<string, unknown>()
    for (const leaf of ['public.items_0', 'public.items_1'])
      before.set(leaf, await fingerprint(db.target.url, leaf))
    const report = await runBetween(db, 'replace')
    const failed = report.tables.filter((t) => t.status === 'failed')
    assert.ok(failed.length > 0, JSON.stringify(report.tables))
    for (const table of failed) {
      assert.match(table.table, /items_[01]/)
      assert.match(table.error?.hint ?? '', /hash/i, JSON.stringify(table.error))
      assert.match(table.error?.hint ?? '', /enum/i, JSON.stringify(table.error))
      assert.deepEqual(await fingerprint(db.target.url, table.table), before.get(table.table))
    }
    assert.equal(report.tables.find((t) => t.table === 'public.plain')?.status, 'copied')
  })
})
