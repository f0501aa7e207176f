import assert from 'node:assert/strict'
import { test } from 'node:test'
import { redactUrl } from '../../src/db/database.js'
import { Redactor } from '../../src/report/secrets.js'

test('URLs lose their password and the run secrets are hidden wherever they appear', () => {
  assert.equal(
    redactUrl('postgres://reader:hunter2@db.example.com:5432/sales?sslmode=require'),
    'postgres://reader@db.example.com:5432/sales?sslmode=require',
  )
  const redactor = Redactor.fromValues(['postgres://u:p%40ss%2Fword@h/db', 'Zebra-42-Secret', undefined])
  assert.equal(redactor.text('failed for p@ss/word and Zebra-42-Secret'), 'failed for *** and ***')
  assert.equal(
    redactor.text('smtps://alerts:topsecret@smtp.example.com:465'),
    'smtps://alerts:***@smtp.example.com:465',
  )
  assert.deepEqual(redactor.value({ a: ['x Zebra-42-Secret y'], n: 1 }), { a: ['x *** y'], n: 1 })
})

test('password parameters of URLs and PGPASSWORD are secrets of a run too', () => {
  const redactor = Redactor.forConfig(
    { source: { url: 'postgres://reader@db/sales?sslmode=require&password=Param-Secret-7' } },
    { PGPASSWORD: 'Env-Secret-8' },
  )
  assert.equal(
    redactor.text('postgres://reader@db/sales?sslmode=require&password=Param-Secret-7 failed; Env-Secret-8'),
    'postgres://reader@db/sales?sslmode=require&password=*** failed; ***',
  )
  assert.equal(redactor.text('later: Param-Secret-7'), 'later: ***')
})

test('a password of one or two characters is hidden too, wherever it stands alone', () => {
  const redactor = Redactor.forConfig({
    source: { url: 'postgres://reader@db/sales', password: 'x9' },
    target: { url: 'postgres://writer:Q@db/copy' },
  })
  assert.equal(
    redactor.text('login x9 refused; password=Q; "Q" was sent'),
    'login *** refused; password=***; "***" was sent',
  )
  assert.equal(redactor.text('max9 rows of Quota'), 'max9 rows of Quota', 'not inside a word')
})
