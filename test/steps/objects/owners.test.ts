import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { TransferJob } from '../../../src/run/transfer-job.js'
import { planTransfer } from '../../../src/steps/plan/plan-transfer.js'
import { runCli } from '../../helpers/cli.js'
import { tempDir, testConfig } from '../../helpers/config.js'
import { type DatabasePair, databasePair } from '../../helpers/database-pair.js'
import { type TestDatabase, testServers } from '../../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** Roles belong to the server, not to a database: made once, whatever ran before. */
function createRoles(names: readonly string[]): string {
  return names
    .map(
      (name) => `DO $$ BEGIN CREATE ROLE ${name} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;`,
    )
    .join('\n')
}

const ROLES = ['th_alice', 'th_bob', 'th_carol']

/**
 * Objects of every kind owned by three roles, with privileges granted and revoked: to a role, to PUBLIC
 * (revoked from a function and a type, which PostgreSQL grants to PUBLIC by default), on columns, with
 * grant option, by a role that is not the owner, and an owner that revoked one of its own privileges.
 */
const SOURCE_SCHEMA = `
  CREATE SCHEMA shop AUTHORIZATION th_alice;
  GRANT USAGE ON SCHEMA shop TO th_bob, th_carol;
  CREATE TYPE shop.state AS ENUM ('open', 'paid');
  ALTER TYPE shop.state OWNER TO th_carol;
  REVOKE USAGE ON TYPE shop.state FROM PUBLIC;
  GRANT USAGE ON TYPE shop.state TO th_bob;
  CREATE TABLE shop.orders (id serial PRIMARY KEY, total numeric, note text, state shop.state);
  INSERT INTO shop.orders (total, note, state) SELECT i, 'n' || i, 'open' FROM generate_series(1, 50) AS i;
  ALTER TABLE shop.orders OWNER TO th_alice;
  GRANT SELECT ON shop.orders TO th_bob;
  GRANT SELECT (id, total), UPDATE (note) ON shop.orders TO th_carol;
  GRANT INSERT ON shop.orders TO th_carol WITH GRANT OPTION;
  REVOKE TRUNCATE ON shop.orders FROM th_alice;
  SET ROLE th_carol;
  GRANT INSERT ON shop.orders TO th_bob;
  RESET ROLE;
  CREATE TABLE shop.items (id int PRIMARY KEY);
  INSERT INTO shop.items SELECT generate_series(1, 5);
  ALTER TABLE shop.items OWNER TO th_bob;
  CREATE SEQUENCE shop.ticket;
  ALTER SEQUENCE shop.ticket OWNER TO th_bob;
  GRANT USAGE ON SEQUENCE shop.ticket TO th_carol;
  CREATE FUNCTION shop.price(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n * 2';
  ALTER FUNCTION shop.price(int) OWNER TO th_bob;
  REVOKE EXECUTE ON FUNCTION shop.price(int) FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION shop.price(int) TO th_carol;
  CREATE PROCEDURE shop.settle() LANGUAGE sql AS 'SELECT 1';
  ALTER PROCEDURE shop.settle() OWNER TO th_carol;
  CREATE AGGREGATE shop.total(int) (SFUNC = int4pl, STYPE = int, INITCOND = '0');
  ALTER AGGREGATE shop.total(int) OWNER TO th_alice;
  CREATE DOMAIN shop.positive AS int CHECK (VALUE > 0);
  ALTER DOMAIN shop.positive OWNER TO th_bob;
  CREATE FUNCTION shop.same(a shop.positive, b shop.positive) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT a = b';
  CREATE OPERATOR shop.=== (FUNCTION = shop.same, LEFTARG = shop.positive, RIGHTARG = shop.positive);
  ALTER OPERATOR shop.=== (shop.positive, shop.positive) OWNER TO th_carol;
  SELECT lo_from_bytea(555001, 'secret');
  ALTER LARGE OBJECT 555001 OWNER TO th_bob;
  GRANT SELECT ON LARGE OBJECT 555001 TO th_carol;
`

/**
 * Owner and privileges of everything in schema shop (and the large objects), by name: equal text means
 * equal owners and privileges. A NULL ACL is read as PostgreSQL's default for the kind, and each ACL's
 * items are sorted, so only what is allowed counts, not how the catalog stores it.
 */
const DESCRIBE = `
  WITH items AS (
    SELECT 'schema ' || n.nspname AS object, n.nspowner AS owner, COALESCE(n.nspacl, acldefault('n', n.nspowner)) AS acl
      FROM pg_namespace n WHERE n.nspname = 'shop'
    UNION ALL
    SELECT 'relation ' || c.relname, c.relowner, COALESCE(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))
      FROM pg_class c WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname, NULL, a.attacl
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'shop'::regnamespace AND a.attacl IS NOT NULL
    UNION ALL
    SELECT 'type ' || t.oid::regtype::text, t.typowner, COALESCE(t.typacl, acldefault('T', t.typowner))
      FROM pg_type t WHERE t.typnamespace = 'shop'::regnamespace AND t.typtype IN ('e', 'd')
    UNION ALL
    SELECT 'routine ' || p.oid::regprocedure::text, p.proowner, COALESCE(p.proacl, acldefault('f', p.proowner))
      FROM pg_proc p WHERE p.pronamespace = 'shop'::regnamespace
    UNION ALL
    SELECT 'operator ' || o.oid::regoperator::text, o.oprowner, NULL
      FROM pg_operator o WHERE o.oprnamespace = 'shop'::regnamespace
    UNION ALL
    SELECT 'large object ' || m.oid, m.lomowner, COALESCE(m.lomacl, acldefault('L', m.lomowner))
      FROM pg_largeobject_metadata m
  )
  SELECT object, pg_get_userbyid(owner) AS owner,
         (SELECT string_agg(x, ' ' ORDER BY x) FROM unnest(acl::text[]) AS x) AS acl
    FROM items ORDER BY object`

async function describeOwners(db: TestDatabase): Promise<string[]> {
  return (await db.sql(DESCRIBE)).map((row) => JSON.stringify(row))
}

describe('owners: keep and privileges: keep', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'owners_keep')
    await db.source.sql(`${createRoles(ROLES)} ${SOURCE_SCHEMA}`)
    await db.target.sql(createRoles(ROLES))
  })

  after(async () => {
    await db?.drop()
  })

  test('every copied object gets its source owner and exactly its source privileges; tablehaul keeps its own schema', async () => {
    const before = await describeOwners(db.source)
    assert.ok(
      before.some((line) => line.includes('th_carol=a*/th_alice')),
      before.join('\n'),
    )
    const report = await new TransferJob(
      testConfig({
        source: db.source.url,
        target: db.target.url,
        tables: ['shop.*'],
        objects: 'all',
        owners: 'keep',
        privileges: 'keep',
      }),
      { notifier: null },
    ).run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.deepEqual(report.warnings, [])
    assert.deepEqual(await describeOwners(db.target), before)
    const [own] = await db.target.sql<{ owner: string; me: string }>(
      `SELECT pg_get_userbyid(nspowner) AS owner, current_user AS me FROM pg_namespace WHERE nspname = 'tablehaul'`,
    )
    assert.equal(own?.owner, own?.me, "tablehaul's own schema stays the run's")
    const [rows] = await db.target.sql<{ n: number }>(`SELECT count(*)::int AS n FROM shop.orders`)
    assert.equal(rows?.n, 50)
  })

  test('a second run changes nothing and reports nothing', async () => {
    const before = await describeOwners(db.target)
    const report = await new TransferJob(
      testConfig({
        source: db.source.url,
        target: db.target.url,
        tables: ['shop.*'],
        objects: 'all',
        owners: 'keep',
        privileges: 'keep',
      }),
      { notifier: null },
    ).run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.deepEqual(report.warnings, [])
    assert.deepEqual(await describeOwners(db.target), before)
  })
})

describe('privileges: keep alone', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'privileges_only')
    await db.source.sql(`${createRoles(ROLES)} ${SOURCE_SCHEMA}`)
    await db.target.sql(createRoles(ROLES))
  })

  after(async () => {
    await db?.drop()
  })

  test("the tables stay the run's user's, with the source's grants to other roles and the owner's own as the source's owner has them", async () => {
    const report = await new TransferJob(
      testConfig({
        source: db.source.url,
        target: db.target.url,
        tables: ['shop.orders'],
        privileges: 'keep',
      }),
      { notifier: null },
    ).run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.deepEqual(report.warnings, [])
    const read = async (side: TestDatabase) =>
      (
        await side.sql<{ owner: string; me: string; acl: string; columns: string }>(
          `SELECT pg_get_userbyid(c.relowner) AS owner, current_user AS me,
                  (SELECT string_agg(x, ' ' ORDER BY x) FROM unnest(c.relacl::text[]) AS x) AS acl,
                  (SELECT string_agg(a.attname || ':' || a.attacl::text, ' ' ORDER BY a.attname)
                     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL) AS columns
             FROM pg_class c WHERE c.oid = 'shop.orders'::regclass`,
        )
      )[0]!
    const [source, target] = [await read(db.source), await read(db.target)]
    assert.equal(target.owner, target.me)
    // The source's owner th_alice is the target's owner here, in every grant it made or holds.
    const asTarget = (text: string) => text.replaceAll('th_alice', target.me).split(' ').sort().join(' ')
    assert.match(source.acl, /th_alice=arwdxt/, 'the source owner revoked its own TRUNCATE')
    assert.equal(target.acl, asTarget(source.acl))
    assert.equal(target.columns, source.columns.replaceAll('th_alice', target.me))
  })
})

describe('owners: keep with objects: tables', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'owners_tables')
    await db.source.sql(`${createRoles(ROLES)} ${SOURCE_SCHEMA}`)
    await db.target.sql(createRoles(ROLES))
  })

  after(async () => {
    await db?.drop()
  })

  test('plan says which objects get their owners and with which roles', async () => {
    const plan = await planTransfer(
      testConfig({ source: db.source.url, target: db.target.url, tables: ['shop.orders'], owners: 'keep' }),
    )
    assert.equal(plan.runnable, true)
    // The schema shop, the table, its sequence (which follows the table) and the type shop.state.
    assert.deepEqual(plan.ownership, {
      owners: true,
      privileges: false,
      objects: 4,
      roles: ['th_alice', 'th_carol'],
    })
  })

  test('the copied table, its schema and the type it uses get their source owners; a function no table uses is not brought', async () => {
    const report = await new TransferJob(
      testConfig({ source: db.source.url, target: db.target.url, tables: ['shop.orders'], owners: 'keep' }),
      { notifier: null },
    ).run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.deepEqual(report.warnings, [])
    const owners = await db.target.sql<{ object: string; owner: string }>(
      `SELECT 'schema' AS object, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'shop'
       UNION ALL SELECT 'orders', pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'shop.orders'::regclass
       UNION ALL SELECT 'orders_id_seq', pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'shop.orders_id_seq'::regclass
       UNION ALL SELECT 'state', pg_get_userbyid(typowner) FROM pg_type WHERE oid = 'shop.state'::regtype
       UNION ALL SELECT 'price', count(*)::text FROM pg_proc WHERE proname = 'price'`,
    )
    assert.deepEqual(owners, [
      { object: 'schema', owner: 'th_alice' },
      { object: 'orders', owner: 'th_alice' },
      { object: 'orders_id_seq', owner: 'th_alice' },
      { object: 'state', owner: 'th_carol' },
      { object: 'price', owner: '0' },
    ])
  })
})

describe('roles missing on the target', () => {
  let db: DatabasePair

  before(async () => {
    db = await databasePair(servers, 'owners_missing')
    await db.source.sql(`
      ${createRoles(['th_dave', 'th_erin', 'th_alice'])}
      CREATE SCHEMA depot;
      CREATE TABLE depot.stock (id int PRIMARY KEY);
      INSERT INTO depot.stock SELECT generate_series(1, 10);
      ALTER TABLE depot.stock OWNER TO th_dave;
      GRANT SELECT ON depot.stock TO th_erin, th_alice;
    `)
    // th_alice exists on the target; th_dave and th_erin do not.
    await db.target.sql(createRoles(['th_alice']))
  })

  after(async () => {
    await db?.drop()
  })

  const config = () =>
    testConfig({
      source: db.source.url,
      target: db.target.url,
      tables: ['depot.*'],
      owners: 'keep',
      privileges: 'keep',
    })

  test('the run stops at its plan with one error naming every missing role, before anything is written', async () => {
    const report = await new TransferJob(config(), { notifier: null }).run()
    assert.equal(report.status, 'failed')
    assert.equal(report.error?.code, 'ROLE_MISSING')
    assert.match(report.error!.message, /"th_dave" \(table depot\.stock\)/)
    assert.match(report.error!.message, /"th_erin" \(table depot\.stock\)/)
    assert.doesNotMatch(report.error!.message, /th_alice/)
    assert.match(report.error!.hint ?? '', /CREATE ROLE "th_dave" NOLOGIN; CREATE ROLE "th_erin" NOLOGIN/)
    assert.match(report.error!.hint ?? '', /owners: ignore/)
    const schemas = await db.target.sql(
      `SELECT nspname FROM pg_namespace WHERE nspname IN ('depot', 'tablehaul')`,
    )
    assert.deepEqual(schemas, [], 'nothing was written to the target')
  })

  test('plan shows the same error and exits 1; with the options off the plan is runnable', async () => {
    await assert.rejects(planTransfer(config()), /ROLE_MISSING|th_dave/)
    const dir = tempDir()
    const args = ['plan', '--source', db.source.url, '--target', db.target.url, '--table', 'depot.*']
    const refused = await runCli([...args, '--owners', 'keep', '--privileges', 'keep'], { cwd: dir })
    assert.equal(refused.code, 1, refused.stdout)
    assert.match(refused.stderr, /th_dave/)
    assert.match(refused.stderr, /th_erin/)
    const fine = await runCli(args, { cwd: dir, env: { TABLEHAUL_OWNERS: 'ignore' } })
    assert.equal(fine.code, 0, fine.stderr)
    const viaEnv = await runCli(args, { cwd: dir, env: { TABLEHAUL_OWNERS: 'keep' } })
    assert.equal(viaEnv.code, 1)
    assert.match(viaEnv.stderr, /owners: keep needs a role the target does not have: "th_dave"/)
  })
})
