import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { spawnCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

const VALUE_BYTES = 4 * 1024 * 1024

function sizesIn(dir: string): Array<{ name: string; bytes: number }> {
  return readdirSync(dir).map((name) => ({ name, bytes: statSync(path.join(dir, name)).size }))
}

describe('an error that quotes a huge value', () => {
  test('a 4 MB invalid integer in a CSV gives a log, an e-mail and an error output of a few kilobytes', async () => {
    const db = await databasePair(servers, 'huge_value')
    try {
      await db.target.sql(`CREATE TABLE public.items (id int PRIMARY KEY, note text);
                           INSERT INTO public.items VALUES (1, 'old')`)
      const dir = tempDir()
      const file = path.join(dir, 'items.csv')
      writeFileSync(file, `id,note\n2,fine\n7${'x'.repeat(VALUE_BYTES)},bad\n`)
      writeFileSync(
        path.join(dir, 'tablehaul.yaml'),
        `log:\n  dir: ${path.join(dir, 'logs')}\nemail:\n  outbox: ${path.join(dir, 'outbox')}\n  to: [dba@example.com]\n  attachLog: always\n`,
      )
      const cli = spawnCli(['import', '--target', db.target.url, '--table', 'public.items', '--file', file], {
        cwd: dir,
      })
      const result = await cli.done

      assert.equal(result.code, 1, result.stderr.slice(0, 2000))
      assert.match(
        result.stderr,
        /items\.csv line 3, column id: invalid input syntax for type integer: "7x+… \(\d+ bytes cut\)/,
      )
      assert.ok(
        result.stderr.length + result.stdout.length < 8 * 1024,
        `the terminal got ${result.stderr.length + result.stdout.length} bytes`,
      )
      for (const { name, bytes } of sizesIn(path.join(dir, 'logs')))
        assert.ok(bytes < 32 * 1024, `log ${name} is ${bytes} bytes`)
      const mails = sizesIn(path.join(dir, 'outbox'))
      assert.equal(mails.length, 1)
      assert.ok(mails[0]!.bytes < 64 * 1024, `the e-mail is ${mails[0]!.bytes} bytes`)
      const mail = readFileSync(path.join(dir, 'outbox', mails[0]!.name), 'utf8')
      assert.match(mail, /bytes cut/)
      const rows = await db.target.sql<{ id: number; note: string }>('SELECT id, note FROM public.items')
      assert.deepEqual(rows, [{ id: 1, note: 'old' }], 'the table keeps its rows')
    } finally {
      await db.drop()
    }
  })
})
