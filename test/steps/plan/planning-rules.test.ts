import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TableRef, splitQualifiedName } from '../../../src/db/table-ref.js'
import { acceptsTextOf } from '../../../src/steps/plan/compatibility.js'
import { TablePattern } from '../../../src/steps/plan/table-pattern.js'

test('table names fold unquoted parts to lower case and keep quoted parts exactly, as PostgreSQL does', () => {
  assert.deepEqual(splitQualifiedName('Sales.Orders'), ['sales', 'orders'])
  assert.deepEqual(splitQualifiedName('sales."Orders"'), ['sales', 'Orders'])
  assert.deepEqual(splitQualifiedName('"My Schema"."a.b ""c"""'), ['My Schema', 'a.b "c"'])
  assert.throws(() => splitQualifiedName('sales."open'), /unterminated/)
  assert.equal(new TableRef('Sales Dept', 'Order "Items"').sql, '"Sales Dept"."Order ""Items"""')
  assert.equal(new TableRef('sales', 'Orders').display, 'sales."Orders"')
  assert.equal(new TableRef('sales', 'orders').display, 'sales.orders')
})

test('patterns match schema and table separately, with * and ?', () => {
  const orders = new TableRef('sales', 'orders')
  assert.ok(TablePattern.parse('sales.*', 't').matches(orders))
  assert.ok(TablePattern.parse('*.orders', 't').matches(orders))
  assert.ok(TablePattern.parse('sales.order?', 't').matches(orders))
  assert.ok(!TablePattern.parse('sales.order', 't').matches(orders))
  assert.ok(TablePattern.parse('orders', 't').matches(new TableRef('public', 'orders')))
  assert.ok(
    !TablePattern.parse('sales.Orders', 't').matches(new TableRef('sales', 'Orders')),
    'unquoted means lower case',
  )
  assert.ok(TablePattern.parse('sales."Orders"', 't').matches(new TableRef('sales', 'Orders')))
  assert.throws(
    () => TablePattern.parse('sales.a.b', 'tables.0'),
    /tables\.0: "sales\.a\.b" has more than two parts/,
  )
})

test('a target column type is compatible only if it reads the source text form with the same meaning', () => {
  assert.ok(acceptsTextOf('bigint', 'integer'))
  assert.ok(!acceptsTextOf('integer', 'bigint'))
  assert.ok(!acceptsTextOf('integer', 'numeric(12,2)'))
  assert.ok(acceptsTextOf('numeric', 'numeric(12,2)'))
  assert.ok(acceptsTextOf('numeric(14,2)', 'numeric(12,2)'))
  assert.ok(!acceptsTextOf('numeric(12,1)', 'numeric(12,2)'))
  assert.ok(acceptsTextOf('text', 'character varying(20)'))
  assert.ok(acceptsTextOf('character varying(30)', 'character varying(20)'))
  assert.ok(!acceptsTextOf('character varying(10)', 'character varying(20)'))
  assert.ok(!acceptsTextOf('character varying(10)', 'text'))
  assert.ok(acceptsTextOf('jsonb', 'json'))
  assert.ok(acceptsTextOf('json', 'jsonb'))
  assert.ok(!acceptsTextOf('uuid', 'text'))
  assert.ok(acceptsTextOf('timestamp(6) with time zone', 'timestamp(3) with time zone'))
  assert.ok(!acceptsTextOf('timestamp(0) without time zone', 'timestamp without time zone'))
  assert.ok(!acceptsTextOf('integer[]', 'integer'))
  assert.ok(acceptsTextOf('bigint[]', 'integer[]'))
})
