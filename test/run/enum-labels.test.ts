import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { planTransfer } from '../../src/steps/plan/plan-transfer.js'
import { testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { assertSameRows, fingerprint } from '../helpers/fingerprint.js'
import { copied, notes, runBetween } from '../helpers/sync-report.js'
import { type TestDatabase, testServers } from '../helpers/servers.js'

// An enum type the source gained labels in (ALTER TYPE … ADD VALUE) since the target's was made: COPY into
// the target refuses a row holding a label its type lacks (22P02), so a nightly refresh failed that table
// every night until someone altered the local type by hand.

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** The type's labels in their sort order, as an array's text. */
const labels = async (database: TestDatabase, type: string) =>
  (await database.sql<{ labels: string }>(`SELECT enum_range(NULL::${type})::text AS labels`))[0]!.labels

describe('enum labels the source added since the last run', () => {
  for (const mode of ['replace', 'sync'] as const) {
    test(`${mode}: the target's enum gains them in the source's order, and the rows holding them arrive`, async () => {
      const db = await databasePair(servers, `enum_labels_${mode}`)
      await db.source.sql(`
        CREATE SCHEMA app;
        CREATE TYPE app.mood AS ENUM ('sad', 'ok');
        CREATE DOMAIN app.mood_d AS app.mood;
        CREATE TABLE app.t (id int PRIMARY KEY, m app.mood, ms app.mood[], md app.mood_d);
        INSERT INTO app.t SELECT g, 'ok', '{sad,ok}', 'sad' FROM generate_series(1, 1000) g;
      `)
      copied(await runBetween(db, mode), 'app.t')
      // A label made inside a transaction block cannot be used before it commits: one statement each.
      await db.source.sql(`ALTER TYPE app.mood ADD VALUE 'happy' AFTER 'ok'`)
      await db.source.sql(`ALTER TYPE app.mood ADD VALUE 'meh' BEFORE 'ok'`)
      await db.source.sql(`ALTER TYPE app.mood ADD VALUE 'grim' BEFORE 'sad'`)
      await db.source.sql(`
        UPDATE app.t SET m = 'happy', ms = '{grim,meh,happy}', md = 'meh' WHERE id % 100 = 0;
        INSERT INTO app.t VALUES (1001, 'grim', NULL, 'happy');
      `)
      // plan says what the run will do to the target's type, and writes nothing.
      const plan = await planTransfer(testConfig({ source: db.source.url, target: db.target.url, mode }))
      assert.match(
        plan.warnings.join('\n'),
        /enum app\.mood on the target lacks the labels 'grim', 'meh', 'happy' the source added: a run adds them/,
      )
      assert.equal(await labels(db.target, 'app.mood'), '{sad,ok}')
      const report = await runBetween(db, mode)
      const table = copied(report, 'app.t')
      assert.equal(await labels(db.target, 'app.mood'), await labels(db.source, 'app.mood'))
      assert.equal(await labels(db.target, 'app.mood'), '{grim,sad,meh,ok,happy}')
      await assertSameRows(db, 'app.t')
      assert.match(notes(table), /app\.mood.*'grim', 'meh', 'happy'/, notes(table))
      // A label added changes no row's text: the sync still reads only the rows written since.
      if (mode === 'sync') assert.equal(table.syncCompared, 'written', notes(table))
      // Ordered as on the source: comparisons and sorts on the target agree with it.
      const order = `SELECT string_agg(id::text, ',' ORDER BY m, id) AS ids FROM app.t`
      assert.equal((await db.target.sql(order))[0]!.ids, (await db.source.sql(order))[0]!.ids)
    })
  }

  test('a target enum with a label of its own is left as it is; the table fails with the advice, its rows kept', async () => {
    const db = await databasePair(servers, 'enum_labels_own')
    await db.source.sql(`
      CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      CREATE TABLE t (id int PRIMARY KEY, m mood);
      INSERT INTO t VALUES (1, 'happy');
    `)
    await db.target.sql(`
      CREATE TYPE mood AS ENUM ('sad', 'ok', 'local');
      CREATE TABLE t (id int PRIMARY KEY, m mood);
      INSERT INTO t VALUES (7, 'local');
    `)
    const plan = await planTransfer(testConfig({ source: db.source.url, target: db.target.url }))
    assert.match(
      plan.warnings.join('\n'),
      /enum public\.mood on the target lacks the source's labels 'happy' but has others/,
    )
    const before = await fingerprint(db.target.url, 'public.t')
    const report = await runBetween(db, 'replace')
    const table = report.tables.find((t) => t.table === 'public.t')
    assert.equal(table?.status, 'failed', JSON.stringify(report.tables))
    assert.match(table?.error?.hint ?? '', /ADD VALUE/, JSON.stringify(table?.error))
    assert.equal(await labels(db.target, 'mood'), '{sad,ok,local}')
    assert.deepEqual(await fingerprint(db.target.url, 'public.t'), before)
  })
})
