import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { escapeControl } from '../src/text.js'
import { runCli } from './helpers/cli.js'
import { tempDir } from './helpers/config.js'
import { databasePair } from './helpers/database-pair.js'
import { outboxMessages } from './helpers/outbox.js'
import { testServers } from './helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

test('control characters are shown escaped: newline, CR, tab, ESC, other C0 and C1, bidi overrides', () => {
  assert.equal(escapeControl('plain ü 日本 "x"'), 'plain ü 日本 "x"')
  assert.equal(escapeControl('a\nb\rc\td\u001b[31m'), 'a\\nb\\rc\\td\\e[31m')
  assert.equal(escapeControl('\u0000\u0007\u007f\u009b'), '\\x00\\x07\\x7f\\x9b')
  assert.equal(escapeControl('abc\u202edcba\u2066\u2028'), 'abc\\u202edcba\\u2066\\u2028')
})

/** A name that, written raw, would start a line of tablehaul.log looking like a successful copy. */
const FORGED = '2026-01-01 00:00:00 public.payments OK 1 row'

test('a table name or a server message with a newline or ESC cannot forge a log line nor drive the terminal', async () => {
  const db = await databasePair(servers, 'control_chars')
  try {
    const newline = `orders\n${FORGED}`
    const escape = 'title\u001b]0;pwned\u0007\u001b[2J'
    await db.source.sql(`
      CREATE TABLE public.${quote(newline)} (id int);
      INSERT INTO public.${quote(newline)} VALUES (1);
      CREATE TABLE public.${quote(escape)} (id int);`)
    const dir = tempDir()
    const outbox = path.join(dir, 'outbox')
    writeFileSync(
      path.join(dir, 'tablehaul.yaml'),
      [
        `source: { url: ${JSON.stringify(db.source.url)} }`,
        `target: { url: ${JSON.stringify(db.target.url)} }`,
        'tables:',
        '  - public.*',
        // The source's error quotes the value: a server message carrying ESC and a newline.
        `  - { query: "select (E'x\\\\x1b[31m\\\\n${FORGED}' || g)::int AS id FROM generate_series(1, 1) g", into: public.bad }`,
        `email: { outbox: ${JSON.stringify(outbox)}, to: [dba@example.com] }`,
        `log: { dir: ${JSON.stringify(path.join(dir, 'logs'))} }`,
      ].join('\n'),
    )
    const result = await runCli(['run'], { cwd: dir })
    assert.equal(result.code, 1, result.stderr)

    const human = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
    const lines = human.trimEnd().split('\n')
    assert.equal(lines.length, 4, `one line per table and one for the run:\n${human}`)
    assert.ok(!lines.some((line) => line.startsWith(FORGED)), human)
    assert.ok(
      lines.some((line) => line.includes(`"orders\\n${FORGED}" OK`)),
      human,
    )
    assert.match(human, /"title\\e\]0;pwned\\x07\\e\[2J" OK/)
    assert.match(human, /public\.bad FAILED .*x\\e\[31m\\n2026/)

    const [mail] = await outboxMessages(outbox)
    const shown = [result.stdout, result.stderr, human, mail?.text ?? '', mail?.subject ?? '']
    for (const text of shown) {
      assert.ok(!text.includes('\u001b'), `ESC reached the output raw: ${JSON.stringify(text)}`)
      assert.ok(!text.includes('\u0007'), `BEL reached the output raw: ${JSON.stringify(text)}`)
      assert.ok(!text.split('\n').some((line) => line.trimStart().startsWith(FORGED)), text)
    }
  } finally {
    await db.drop()
  }
})

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}
