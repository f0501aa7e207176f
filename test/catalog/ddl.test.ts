import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Catalog, type TableInfo } from '../../src/catalog/catalog.js'
import { creationOrder } from '../../src/catalog/creation-order.js'
import { Ddl } from '../../src/catalog/ddl.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>
let database: TestDatabase
let catalog: Catalog
let ddl: Ddl

function table(name: string): TableInfo {
  const found = catalog.tables.find((t) => t.ref.schema === 'shop' && t.ref.name === name)
  assert.ok(found, `table shop.${name} is in the catalog`)
  return found
}

before(async () => {
  servers = await testServers()
  database = await TestDatabase.create(servers.source, 'ddl')
  await database.sql(`
    CREATE SCHEMA shop;
    CREATE TYPE shop.status AS ENUM ('new', 'paid', 'shipped');
    CREATE DOMAIN shop.price AS numeric(10,2) NOT NULL CONSTRAINT price_positive CHECK (VALUE > 0);
    CREATE TABLE shop.orders (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      code text NOT NULL CONSTRAINT orders_code_key UNIQUE,
      status shop.status NOT NULL DEFAULT 'new',
      amount shop.price,
      quantity int CONSTRAINT orders_quantity_check CHECK (quantity > 0),
      total numeric GENERATED ALWAYS AS (amount * quantity) STORED
    );
    CREATE INDEX orders_unshipped ON shop.orders (code) WHERE status <> 'shipped';
    CREATE TABLE shop.events (at date NOT NULL, note text) PARTITION BY RANGE (at);
    CREATE TABLE shop.events_2026 PARTITION OF shop.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
  `)
  catalog = await withClient(database.url, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    try {
      return await Catalog.read(client)
    } finally {
      await client.query('ROLLBACK')
    }
  })
  ddl = new Ddl(catalog, { targetVersion: catalog.serverVersion })
})

after(async () => {
  await database?.drop()
  await servers?.stop()
})

test('a table is created with its identity, NOT NULLs, domain and enum columns, default and generated column', () => {
  assert.deepEqual(ddl.createTable(table('orders')), [
    'CREATE TABLE "shop"."orders" (\n' +
      '  "id" bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME "shop"."orders_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1 NO CYCLE) CONSTRAINT "orders_id_not_null" NOT NULL,\n' +
      '  "code" text CONSTRAINT "orders_code_not_null" NOT NULL,\n' +
      `  "status" shop.status DEFAULT 'new'::shop.status CONSTRAINT "orders_status_not_null" NOT NULL,\n` +
      '  "amount" shop.price,\n' +
      '  "quantity" integer,\n' +
      '  "total" numeric GENERATED ALWAYS AS (((amount)::numeric * (quantity)::numeric)) STORED\n' +
      ')',
  ])
})

test('after the data a table gets its primary key and unique constraint from their indexes, its check and its partial index', () => {
  assert.deepEqual(ddl.afterData(table('orders')), [
    {
      sql: 'CREATE UNIQUE INDEX orders_pkey ON shop.orders USING btree (id)',
      what: 'constraint "orders_pkey" of shop.orders',
    },
    {
      sql: 'ALTER TABLE ONLY "shop"."orders" ADD CONSTRAINT "orders_pkey" PRIMARY KEY USING INDEX "orders_pkey"',
      what: 'constraint "orders_pkey" of shop.orders',
    },
    {
      sql: 'CREATE UNIQUE INDEX orders_code_key ON shop.orders USING btree (code)',
      what: 'constraint "orders_code_key" of shop.orders',
    },
    {
      sql: 'ALTER TABLE ONLY "shop"."orders" ADD CONSTRAINT "orders_code_key" UNIQUE USING INDEX "orders_code_key"',
      what: 'constraint "orders_code_key" of shop.orders',
    },
    {
      sql: 'ALTER TABLE "shop"."orders" ADD CONSTRAINT "orders_quantity_check" CHECK ((quantity > 0))',
      what: 'check constraints of shop.orders',
    },
    {
      sql: `CREATE INDEX orders_unshipped ON shop.orders USING btree (code) WHERE (status <> 'shipped'::shop.status)`,
      what: 'index "shop"."orders_unshipped"',
    },
  ])
})

test('a partitioned table keeps its partition key and its partition is created as a plain table', () => {
  assert.deepEqual(ddl.createTable(table('events')), [
    'CREATE TABLE "shop"."events" (\n  "at" date CONSTRAINT "events_at_not_null" NOT NULL,\n  "note" text\n) PARTITION BY RANGE (at)',
  ])
  assert.deepEqual(ddl.createTable(table('events_2026')), [
    'CREATE TABLE "shop"."events_2026" (\n  "at" date CONSTRAINT "events_at_not_null" NOT NULL,\n  "note" text\n)',
  ])
})

test('an enum keeps its labels in order and a domain its base type, NOT NULL and named check', () => {
  const byName = (name: string) => {
    const type = catalog.types.find((t) => t.ref.schema === 'shop' && t.ref.name === name)
    assert.ok(type, `type shop.${name} is in the catalog`)
    return type
  }
  assert.deepEqual(ddl.createType(byName('status')), [
    `CREATE TYPE "shop"."status" AS ENUM ('new', 'paid', 'shipped')`,
  ])
  assert.deepEqual(ddl.createType(byName('price')), [
    'CREATE DOMAIN "shop"."price" AS numeric(10,2) CONSTRAINT "price_not_null" NOT NULL CONSTRAINT "price_positive" CHECK ((VALUE > (0)::numeric))',
  ])
})

test('the creation order puts the enum and domain before the table using them and a partitioned table before its partition', () => {
  const order = creationOrder(catalog, [table('events_2026'), table('orders'), table('events')])
  const names = order.objects.map((o) => `${o.kind} ${'ref' in o.info ? o.info.ref.name : o.info.name}`)
  const position = (name: string) => {
    const at = names.indexOf(name)
    assert.ok(at >= 0, `${name} is in the creation order ${names.join(', ')}`)
    return at
  }
  assert.ok(position('type status') < position('table orders'), names.join(', '))
  assert.ok(position('type price') < position('table orders'), names.join(', '))
  assert.ok(position('table events') < position('table events_2026'), names.join(', '))
  assert.equal(names.length, 5, names.join(', '))
})
