import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { TestDatabase, testServers } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'
import { OlderServers, fidelitySource, transfer } from './fidelity-run.js'

// The fidelity suite across PostgreSQL majors, the newest into older targets: what the older server can
// hold arrives identical, and what it cannot is named with what it lacks. matrix-into-18.test.ts has the
// other direction.

let servers: Awaited<ReturnType<typeof testServers>>
const older = new OlderServers()

before(async () => {
  servers = await testServers()
})

after(async () => {
  await older.destroy()
  await servers?.stop()
})

/**
 * What PostgreSQL 15 and 16 cannot hold of the fidelity schema made on 18, by object: the reason each gets
 * (`needs` the version that brought it), and the differences the checker then finds, all of them about
 * those objects.
 */
function expectedShortfalls(target: number) {
  const needs = (feature: string, version: number) =>
    `${feature} needs PostgreSQL ${version} (the target runs ${target})`
  return {
    failed: {
      'fidelity.builtin_collated': `cannot create fidelity.builtin_collated on the target: it needs collation fidelity.builtin_utf8, which could not be created: ${needs('the builtin collation provider', 17)}`,
      'fidelity.gen_ident': `cannot create fidelity.gen_ident on the target: column "tripled" is a virtual generated column, which needs PostgreSQL 18 (the target runs ${target})`,
      ...(target < 16
        ? {
            'fidelity.ruled_text': `cannot create fidelity.ruled_text on the target: it needs collation fidelity.ruled, which could not be created: ${needs('an ICU collation with rules', 16)}`,
          }
        : {}),
    },
    warnings: {
      'fidelity.ident_parts_1': [
        `column id is not an identity column here: a partition shares its partitioned table's identity (fidelity.ident_parts) only from PostgreSQL 17 (the target runs ${target}); rows inserted into the partition directly get no value from it`,
      ],
      'fidelity.lax': [
        `constraint "lax_id_negative" of fidelity.lax could not be created: ${needs('a NOT ENFORCED constraint', 18)}`,
        `constraint "lax_v_not_null" of fidelity.lax could not be created: ${needs('a NOT NULL constraint that is NOT VALID', 18)}; column v stays nullable`,
      ],
      'fidelity.rooms': [
        `constraint "rooms_pkey" of fidelity.rooms could not be created: ${needs('a temporal primary key (WITHOUT OVERLAPS)', 18)}`,
      ],
      'fidelity.stays': [
        `foreign key stays_room_during_fkey was not created: ${needs('a temporal foreign key (PERIOD)', 18)}`,
      ],
    },
    differences: [
      'column fidelity.lax.v: not null is true on the source but false on the target',
      'constraint fidelity.lax.lax_id_negative: missing on the target',
      'constraint fidelity.rooms.rooms_pkey: missing on the target',
      'index fidelity.rooms_pkey: missing on the target',
      'constraint fidelity.stays.stays_room_during_fkey: missing on the target',
      'table fidelity.gen_ident: missing on the target',
      'table fidelity.builtin_collated: missing on the target',
      'collation fidelity.builtin_utf8: missing on the target',
      ...(target < 16
        ? [
            'table fidelity.ruled_text: missing on the target',
            'collation fidelity.ruled: missing on the target',
          ]
        : []),
    ],
    /** Every object of the two tables that could not be created (columns, index, trigger, sequence, …). */
    missingWithTable:
      /^[a-z ]+ fidelity\.(gen_ident|builtin_collated|ruled_text)[._ ].*: missing on the target$/,
  }
}

describe(
  'a run from PostgreSQL 18 into an older PostgreSQL copies what the older server can hold and names what it cannot',
  {
    concurrency: true,
  },
  () => {
    let source: TestDatabase
    before(async () => {
      source = await fidelitySource(servers.source, 'fidelity_18')
    })
    after(async () => {
      await source?.drop()
    })

    for (const major of [15, 16]) {
      test(
        `into PostgreSQL ${major}: every other table identical, each object it cannot create named with what it lacks`,
        { skip: OlderServers.skip },
        async () => {
          const target = await TestDatabase.create(await older.of(major), 'fidelity_into')
          try {
            const report = await transfer(source, target)
            const expected = expectedShortfalls(major)
            assert.equal(report.status, 'failed')
            assert.deepEqual(report.warnings, [])
            const failed = report.tables.filter((t) => t.status !== 'copied')
            assert.deepEqual(
              Object.fromEntries(failed.map((t) => [t.table, t.error?.message])),
              expected.failed,
            )
            assert.ok(failed.every((t) => t.error?.code === 'SCHEMA_FAILED'))
            assert.deepEqual(
              Object.fromEntries(
                report.tables
                  .filter((t) => t.warnings?.length)
                  .map((t) => [t.table, [...t.warnings!].sort()]),
              ),
              expected.warnings,
            )
            // The source is newer: text COPY, which every server reads whatever the version that wrote it.
            assert.deepEqual([...new Set(report.tables.map((t) => t.format))], ['text'])

            const comparison = await compareDatabases(source.url, target.url)
            const unexplained = comparison.differences.filter(
              (d) => !expected.differences.includes(d) && !expected.missingWithTable.test(d),
            )
            assert.deepEqual(unexplained, [], 'every difference is one the run named')
            for (const difference of expected.differences)
              assert.ok(comparison.differences.includes(difference), difference)
            assert.ok(comparison.tables >= 40, `${comparison.tables} tables compared`)
            assert.ok(comparison.rows > 16000, `${comparison.rows} rows compared`)
          } finally {
            await target.drop()
          }
        },
      )
    }
  },
)
