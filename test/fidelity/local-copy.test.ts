import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { LocalServer } from '../../src/local/local-server.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { runCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'

// The embedded local server is the default target: a copy made there must compute what the source
// computes, so each source database gets a local database of its own name, encoding and locale.

let servers: Awaited<ReturnType<typeof testServers>>
const dir = tempDir()
const localDir = path.join(dir, '.tablehaul')

before(async () => {
  servers = await testServers()
})

after(async () => {
  await new LocalServer({ dir: localDir }).remove()
  await servers?.stop()
})

/** A source database created with `locale` (the rest of CREATE DATABASE), holding a generated column. */
async function localeSource(prefix: string, locale: string): Promise<TestDatabase> {
  const source = await TestDatabase.create(servers.source, prefix)
  await withClient(servers.source.url, async (client) => {
    await client.query(`DROP DATABASE ${pg.escapeIdentifier(source.name)}`)
    await client.query(
      `CREATE DATABASE ${pg.escapeIdentifier(source.name)} TEMPLATE template0 ENCODING 'UTF8' ${locale}`,
    )
  })
  await source.sql(`
    CREATE TABLE public.notes (id int PRIMARY KEY, note text, shout text GENERATED ALWAYS AS (upper(note) || '!') STORED);
    INSERT INTO public.notes (id, note) VALUES (1, 'ünï'), (2, 'straße'), (3, 'ǆ');`)
  return source
}

async function localeOf(url: string): Promise<Record<string, unknown>> {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT current_database() AS name, pg_encoding_to_char(encoding) AS encoding, datcollate AS collate,
              datctype AS ctype, datlocprovider AS provider, datlocale AS locale
         FROM pg_database WHERE datname = current_database()`,
    )
    return rows[0] as Record<string, unknown>
  })
}

test('a source database with a UTF-8 libc locale is copied into a local database of its name and locale', async () => {
  const source = await localeSource('loc_libc', `LOCALE_PROVIDER libc LOCALE 'C.UTF-8'`)
  try {
    const report = await new TransferJob(testConfig({ source: source.url, localDir }, { dir }), {
      notifier: null,
    }).run()
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error ?? report.tables))
    const localUrl = new LocalServer({ dir: localDir }).urlFor(source.name)!
    assert.deepEqual(await localeOf(localUrl), {
      name: source.name,
      encoding: 'UTF8',
      collate: 'C.UTF-8',
      ctype: 'C.UTF-8',
      provider: 'c',
      locale: null,
    })
    const [row] = await withClient(
      localUrl,
      async (client) => (await client.query(`SELECT shout FROM public.notes WHERE id = 1`)).rows,
    )
    assert.deepEqual(row, { shout: 'ÜNÏ!' })
    assert.deepEqual((await compareDatabases(source.url, localUrl)).differences, [])

    // tablehaul local url, given the same source, names that copy.
    const printed = await runCli(['local', 'url', '--source', source.url, '--dir', localDir], { cwd: dir })
    assert.equal(printed.code, 0, printed.stderr)
    assert.equal(printed.stdout.trim(), localUrl)
  } finally {
    await source.drop()
  }
})

test('a source database with an ICU locale gets a local database with that ICU locale, beside the others', async () => {
  const first = await localeSource('loc_other', `LOCALE 'C'`)
  const source = await localeSource('loc_icu', `LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LOCALE 'C'`)
  try {
    for (const db of [first, source]) {
      const report = await new TransferJob(testConfig({ source: db.url, localDir }, { dir }), {
        notifier: null,
      }).run()
      assert.equal(report.status, 'succeeded', JSON.stringify(report.error ?? report.tables))
    }
    const local = new LocalServer({ dir: localDir })
    assert.deepEqual(await localeOf(local.urlFor(source.name)!), {
      name: source.name,
      encoding: 'UTF8',
      collate: 'C',
      ctype: 'C',
      provider: 'i',
      locale: 'de-DE',
    })
    assert.deepEqual((await compareDatabases(source.url, local.urlFor(source.name)!)).differences, [])
    // The C-locale source's copy is its own database, computed in its own locale.
    assert.equal((await localeOf(local.urlFor(first.name)!)).provider, 'c')
    assert.deepEqual((await compareDatabases(first.url, local.urlFor(first.name)!)).differences, [])
  } finally {
    await Promise.all([first.drop(), source.drop()])
  }
})
