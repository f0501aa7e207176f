import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { TestDatabase, testServers } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'
import { assertClean, assertIdentical, fidelitySource, transfer } from './fidelity-run.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

describe('a run into an empty target makes every table, row and object identical', () => {
  let source: TestDatabase
  let target: TestDatabase

  before(async () => {
    source = await fidelitySource(servers.source, 'fidelity_src')
    target = await TestDatabase.create(servers.target, 'fidelity_tgt')
  })

  after(async () => {
    await Promise.all([source?.drop(), target?.drop()])
  })

  test('the checker finds no difference after a run (binary COPY wherever it is exact)', async () => {
    const report = await transfer(source, target)
    assertClean(report)
    assert.ok(
      report.tables.some((t) => t.format === 'binary') && report.tables.some((t) => t.format === 'text'),
    )
    await assertIdentical(source, target)
  })

  test('the checker names the table and the row when one value is corrupted', async () => {
    await target.sql(`UPDATE fidelity.all_types SET t = t || '!' WHERE id = 3`)
    try {
      const { differences } = await compareDatabases(source.url, target.url)
      assert.equal(differences.length, 1, differences.join('\n'))
      assert.match(
        differences[0]!,
        /^rows of fidelity\.all_types differ \(2007 on the source, 2007 on the target\): only on the source: \(3,.*; only on the target: \(3,.*; they part at character \d+: ".*العربية 🚀\\",.*" on the source, ".*العربية 🚀!\\",.*" on the target$/,
      )
    } finally {
      await target.sql(`UPDATE fidelity.all_types SET t = left(t, -1) WHERE id = 3`)
    }
  })

  test('the checker names the index when one index is dropped', async () => {
    await target.sql(`DROP INDEX fidelity.indexed_trgm`)
    try {
      const { differences } = await compareDatabases(source.url, target.url)
      assert.deepEqual(differences, ['index fidelity.indexed_trgm: missing on the target'])
    } finally {
      await target.sql(`CREATE INDEX indexed_trgm ON fidelity.indexed USING gin (t public.gin_trgm_ops)`)
    }
  })

  test('the checker names the sequence and both states when one sequence is reset', async () => {
    const [state] = await target.sql<{ last_value: string }>(
      `SELECT last_value::text AS last_value FROM fidelity.serial_ahead_id_seq`,
    )
    assert.equal(state!.last_value, '90000', 'the sequence arrived ahead of max(id), as on the source')
    await target.sql(`ALTER SEQUENCE fidelity.serial_ahead_id_seq RESTART`)
    try {
      const { differences } = await compareDatabases(source.url, target.url)
      assert.deepEqual(differences, [
        'sequence state fidelity.serial_ahead_id_seq: last_value is "90000" on the source but "1" on the target',
        'sequence state fidelity.serial_ahead_id_seq: is_called is true on the source but false on the target',
      ])
    } finally {
      await target.sql(`SELECT setval('fidelity.serial_ahead_id_seq', 90000)`)
    }
  })

  test('a second run, into the tables the first one created, leaves the database identical', async () => {
    // Their own triggers (a partition's clones included) must not fire on the reloaded rows, nor FORCE ROW
    // LEVEL SECURITY refuse them. Left out: fidelity.checked, whose rows violate a domain check that is NOT
    // VALID on both sides, and fidelity.lax, whose NULL violates a NOT NULL that is NOT VALID (18); such a
    // constraint checks every row COPY writes, so only a first run can load them.
    const report = await new TransferJob(
      testConfig(
        { source: source.url, target: target.url },
        { yaml: { exclude: ['fidelity.checked', 'fidelity.lax'] } },
      ),
      { notifier: null },
    ).run()
    assertClean(report)
    assert.ok(report.tables.every((t) => !t.created))
    await assertIdentical(source, target)
  })

  test('text COPY makes the same identical database', async () => {
    const textTarget = await TestDatabase.create(servers.target, 'fidelity_text')
    try {
      const report = await transfer(source, textTarget, 'text')
      assertClean(report)
      assert.ok(report.tables.every((t) => t.format === 'text'))
      await assertIdentical(source, textTarget)
    } finally {
      await textTarget.drop()
    }
  })
})
