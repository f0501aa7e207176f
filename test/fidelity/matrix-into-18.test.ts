import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { LocalServer } from '../../src/local/local-server.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { testServers, withClient } from '../helpers/servers.js'
import { OlderServers, assertClean, assertIdentical, fidelitySource, serverVersion } from './fidelity-run.js'

// The fidelity suite across PostgreSQL majors, older sources into the newest, by the default path (no
// target configured: tablehaul's embedded local PostgreSQL 18, a database per source in the source's
// locale). matrix-from-18.test.ts has the other direction; a file each, for each to have its own time.

let servers: Awaited<ReturnType<typeof testServers>>
const dir = tempDir()
const localDir = path.join(dir, '.tablehaul')
const older = new OlderServers()

before(async () => {
  servers = await testServers()
})

after(async () => {
  await new LocalServer({ dir: localDir }).remove()
  await older.destroy()
  await servers?.stop()
})

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

describe(
  'a run from an older PostgreSQL into the default local PostgreSQL 18 makes an identical database',
  {
    concurrency: true,
  },
  () => {
    for (const { major, locale, upper } of OLDER_SOURCES) {
      test(`from PostgreSQL ${major}, a database with ${locale}`, { skip: OlderServers.skip }, async () => {
        const server = await older.of(major)
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
