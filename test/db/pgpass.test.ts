import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { spawnCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { TEST_PASSWORD, testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** The URL without its password, as a config that leaves the password to ~/.pgpass has it. */
function withoutPassword(url: string): string {
  const parsed = new URL(url)
  parsed.password = ''
  return parsed.toString()
}

test('a password in ~/.pgpass logs in, and a quiet command prints nothing (no deprecation warning for cron to mail)', async () => {
  const db = await databasePair(servers, 'pgpass_login')
  try {
    await db.source.sql('CREATE TABLE public.orders (id int PRIMARY KEY)')
    const home = tempDir()
    const source = new URL(db.source.url)
    writeFileSync(
      path.join(home, '.pgpass'),
      `${source.hostname}:${source.port}:*:${source.username}:${TEST_PASSWORD}\n`,
      { mode: 0o600 },
    )
    const args = [
      '--source',
      withoutPassword(db.source.url),
      '--target',
      db.target.url,
      '--table',
      'public.*',
    ]
    const result = await spawnCli(['plan', ...args, '--quiet'], { cwd: home, env: { HOME: home } }).done
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, '')
    assert.equal(result.stderr, '', 'nothing on stderr either')
    // Without it, the error says where a password goes, not 'check the source URL'.
    const none = await spawnCli(['plan', ...args, '--quiet'], { cwd: tempDir(), env: { HOME: tempDir() } })
      .done
    assert.notEqual(none.code, 0, none.stderr)
    assert.match(none.stderr, /no password was given for the source/)
    assert.match(none.stderr, /source\.password .*PGPASSWORD.*~\/\.pgpass/)
  } finally {
    await db.drop()
  }
})
