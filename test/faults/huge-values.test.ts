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
  test('a 16 MB value a target check refuses, quoted by the server in the message, hint and context of a run', async () => {
    const db = await databasePair(servers, 'huge_check')
    try {
      const table = `CREATE TABLE public.notes (id int PRIMARY KEY, v text)`
      await db.source.sql(
        `${table}; INSERT INTO public.notes VALUES (1, 'short'), (2, repeat('x', ${VALUE_BYTES * 4}))`,
      )
      // The target's own rule for the rows it takes: a check whose function quotes the value in its error's
      // message, detail and hint, and runs it as dynamic SQL (the server's context then quotes that SQL).
      await db.target.sql(`${table};
        CREATE FUNCTION public.short(v text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
          BEGIN
            IF pg_catalog.length(v) < 100 THEN RETURN true; END IF;
            IF pg_catalog.length(v) > 1000 THEN EXECUTE pg_catalog.format('SELECT %L::int', v); END IF;
            RETURN false;
          END $$;
        ALTER TABLE public.notes ADD CONSTRAINT short CHECK (public.short(v));
        CREATE TABLE public.hints (id int PRIMARY KEY, v text);
        CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF pg_catalog.length(NEW.v) > 1000 THEN
              RAISE EXCEPTION 'refused: %', NEW.v USING DETAIL = NEW.v, HINT = NEW.v;
            END IF;
            RETURN NEW;
          END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON public.hints FOR EACH ROW EXECUTE FUNCTION public.refuse();
        ALTER TABLE public.hints ENABLE ALWAYS TRIGGER refuse`)
      await db.source.sql(
        `CREATE TABLE public.hints AS SELECT * FROM public.notes; ALTER TABLE public.hints ADD PRIMARY KEY (id)`,
      )
      const dir = tempDir()
      writeFileSync(
        path.join(dir, 'tablehaul.yaml'),
        `log:\n  dir: ${path.join(dir, 'logs')}\nemail:\n  outbox: ${path.join(dir, 'outbox')}\n  to: [dba@example.com]\n  attachLog: always\ntables: [public.notes, public.hints]\nmode: append\n`,
      )
      const cli = spawnCli(['run', '--source', db.source.url, '--target', db.target.url], { cwd: dir })
      const result = await cli.done

      assert.equal(result.code, 1, result.stderr.slice(0, 2000))
      const output = result.stderr + result.stdout
      assert.match(output, /public\.notes/)
      assert.match(output, /bytes cut/)
      assert.ok(output.length < 8 * 1024, `the terminal got ${output.length} bytes: ${output.slice(0, 3000)}`)
      for (const { name, bytes } of sizesIn(path.join(dir, 'logs')))
        assert.ok(bytes < 32 * 1024, `log ${name} is ${bytes} bytes`)
      const mails = sizesIn(path.join(dir, 'outbox'))
      assert.equal(mails.length, 1)
      assert.ok(mails[0]!.bytes < 64 * 1024, `the e-mail is ${mails[0]!.bytes} bytes`)

      // An export whose query fails on the value it reads.
      const exported = await spawnCli(
        [
          'export',
          '--source',
          db.source.url,
          '--query',
          'SELECT v::int FROM public.notes WHERE id = 2',
          '--file',
          path.join(dir, 'notes.csv'),
        ],
        { cwd: dir },
      ).done
      assert.equal(exported.code, 1, exported.stderr.slice(0, 2000))
      const said = exported.stderr + exported.stdout
      assert.match(said, /invalid input syntax for type integer: "x+… \(\d+ bytes cut\)/)
      assert.ok(said.length < 8 * 1024, `the terminal got ${said.length} bytes`)
      for (const { name, bytes } of sizesIn(path.join(dir, 'logs')))
        assert.ok(bytes < 64 * 1024, `log ${name} is ${bytes} bytes`)
      assert.equal(sizesIn(path.join(dir, 'outbox')).length, 2)
      for (const { name, bytes } of sizesIn(path.join(dir, 'outbox')))
        assert.ok(bytes < 64 * 1024, `the e-mail ${name} is ${bytes} bytes`)
    } finally {
      await db.drop()
    }
  })
})
