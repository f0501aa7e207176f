import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../../src/local/postgres-cluster.js'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { readRunLog } from '../helpers/logs.js'
import { TestDatabase, testServers } from '../helpers/servers.js'
import { MailServer, type ReceivedMail } from '../helpers/smtp.js'

let servers: Awaited<ReturnType<typeof testServers>>
let mail: MailServer

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/** A source with two tables (one can be made to fail on the target), an empty target, a fresh mail server. */
async function setup(name: string): Promise<{
  source: TestDatabase
  target: TestDatabase
  dir: string
  drop(): Promise<void>
}> {
  const [source, target] = await Promise.all([
    TestDatabase.create(servers.source, `${name}_src`),
    TestDatabase.create(servers.target, `${name}_tgt`),
  ])
  await source.sql(`
    CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric(12,2), note text);
    INSERT INTO public.orders SELECT g, g * 1.25, 'order ' || g FROM generate_series(1, 5000) g;
    CREATE TABLE public.customers (id int PRIMARY KEY, name text);
    INSERT INTO public.customers SELECT g, 'customer ' || g FROM generate_series(1, 300) g;
  `)
  mail = await MailServer.start()
  return {
    source,
    target,
    dir: tempDir(),
    drop: async () => {
      await Promise.all([source.drop(), target.drop(), mail.stop()])
    },
  }
}

/** `run` with the e-mail going to the test's SMTP server. */
function run(
  db: { source: TestDatabase; target: TestDatabase; dir: string },
  extra: string[] = [],
  sourceUrl = db.source.url,
) {
  return runCli(
    [
      'run',
      '--source',
      sourceUrl,
      '--target',
      db.target.url,
      '--log-dir',
      path.join(db.dir, 'logs'),
      '--smtp-url',
      mail.url(),
      '--email-from',
      'tablehaul@example.com',
      '--email-to',
      'dba@example.com',
      '--email-to',
      'oncall@example.com',
      ...extra,
    ],
    { cwd: db.dir },
  )
}

function humanLog(dir: string): string[] {
  return readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
}

function html(message: ReceivedMail): string {
  assert.equal(typeof message.parsed.html, 'string', 'the message has an HTML part')
  return message.parsed.html as string
}

/** The table names in the HTML's table rows, in order. */
function htmlTableOrder(body: string): string[] {
  return [...body.matchAll(/<td[^>]*><span style="font-family:[^"]*">([^<]+)<\/span>/g)].map((m) => m[1]!)
}

const SUBJECT_TAIL = / · \S+@127\.0\.0\.1:\d+ → \S+@127\.0\.0\.1:\d+ · \d+(\.\d+)?(ms|s)$/

describe('every ending of a run is mailed', () => {
  test('a successful run mails OK with every table, to every recipient, without the log attached', async () => {
    const db = await setup('mail_ok')
    try {
      const result = await run(db)
      assert.equal(result.code, 0, result.stderr)
      const message = await mail.message()
      assert.match(message.parsed.subject ?? '', /^\[tablehaul\] OK · 2\/2 tables/)
      assert.match(message.parsed.subject ?? '', SUBJECT_TAIL)
      assert.deepEqual(message.envelope.to, ['dba@example.com', 'oncall@example.com'])
      assert.equal(message.envelope.from, 'tablehaul@example.com')
      assert.equal(message.parsed.headers.get('x-tablehaul-status'), 'succeeded')
      assert.equal(message.parsed.headers.get('auto-submitted'), 'auto-generated')

      const text = message.parsed.text ?? ''
      assert.match(text, /All 2 tables were transferred\./)
      assert.match(text, /^ {2}OK {6}public\.orders +5,000 +[\d.]+ kB +[\d.]+m?s +[\d.]+ [kM]?B\/s$/m)
      assert.match(text, /^ {2}OK {6}public\.customers +300 /m)
      assert.match(text, /Moved +5,300 rows/)
      assert.match(text, /Snapshot +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d/)
      assert.doesNotMatch(text, /FAILED/)

      const body = html(message)
      assert.deepEqual(htmlTableOrder(body), ['public.orders', 'public.customers'], 'largest first')
      assert.match(body, /prefers-color-scheme: dark/)
      assert.match(body, /<meta name="viewport"/)
      assert.equal(message.parsed.attachments.length, 0)

      const records = readRunLog(path.join(db.dir, 'logs'))
      const sent = records.find((r) => r.event === 'notify.sent')
      assert.deepEqual(sent?.to, ['dba@example.com', 'oncall@example.com'])
      const lines = humanLog(db.dir)
      assert.match(
        lines[0]!,
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d public\.\w+ OK [\d,]+ rows [\d.]+ kB [\d.]+m?s$/,
      )
      assert.equal(lines.length, 3, 'one line per table and one for the run')
      assert.match(lines[2]!, / run \S+ OK 2\/2 tables, 5,300 rows, [\d.]+ kB in \S+ \(\S+ -> \S+\)$/)
      assert.match(result.stderr, /e-mail +sent/)
    } finally {
      await db.drop()
    }
  })

  test('a run with a failed table mails FAILED, the failure first with its SQLSTATE and what to do, and the log attached', async () => {
    const db = await setup('mail_partial')
    try {
      // The target's check constraint rejects a row far into the stream: a failure of the COPY itself.
      await db.target.sql(`
        CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric(12,2), note text CHECK (note <> 'order 4000'));
        INSERT INTO public.orders VALUES (-1, 0, 'kept');
      `)
      const result = await run(db)
      assert.equal(result.code, 1, result.stderr)
      const message = await mail.message()
      assert.match(message.parsed.subject ?? '', /^\[tablehaul\] FAILED · 1 of 2 tables failed/)
      assert.match(message.parsed.subject ?? '', SUBJECT_TAIL)
      assert.equal(message.parsed.headers.get('x-tablehaul-status'), 'failed')
      assert.equal(message.parsed.headers.get('priority'), 'high')

      const text = message.parsed.text ?? ''
      assert.match(text, /1 of 2 tables failed and kept their previous contents; 1 was transferred\./)
      const failedSection = text.indexOf('FAILED TABLES')
      assert.ok(failedSection > 0 && failedSection < text.indexOf('\nTABLES\n'), 'failures come first')
      assert.match(text, /\n {2}public\.orders\n {4}error: +.*check constraint/)
      assert.match(text, /\n {4}SQLSTATE: +23514\n/)
      assert.match(text, /\n {4}what to do: +the target table has a constraint the source rows violate/)
      assert.match(text, /^ {2}FAILED {2}public\.orders /m)

      const body = html(message)
      assert.deepEqual(htmlTableOrder(body), ['public.orders', 'public.customers'], 'the failure first')
      assert.match(body, /SQLSTATE <code[^>]*>23514<\/code>/)
      assert.match(body, /<strong>What to do:<\/strong> the target table has a constraint/)

      assert.equal(message.parsed.attachments.length, 1)
      const attachment = message.parsed.attachments[0]!
      assert.match(attachment.filename ?? '', /^tablehaul-.+\.ndjson$/)
      const attached = attachment.content
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
      const failed = attached.find((r) => r.event === 'table.failed')
      assert.equal(failed?.table, 'public.orders')
      assert.equal((failed?.error as { sqlState?: string }).sqlState, '23514')
      assert.ok(
        attached.some((r) => r.event === 'run.finished'),
        'the attached log is complete to the end of the run',
      )

      const lines = humanLog(db.dir)
      assert.ok(
        lines.some((l) =>
          /public\.orders FAILED .*check constraint.*\(SQLSTATE 23514\).*; the target table has a constraint/.test(
            l,
          ),
        ),
        lines.join('\n'),
      )
      assert.match(lines.at(-1)!, / run \S+ FAILED 1\/2 tables, 1 failed, 300 rows/)
    } finally {
      await db.drop()
    }
  })

  test('a source that cannot be reached is mailed as a failure before any copy, with what to do', async () => {
    const db = await setup('mail_unreachable')
    try {
      const port = await freePort()
      const result = await run(db, [], `postgres://reader@127.0.0.1:${port}/sales`)
      assert.equal(result.code, 1, result.stderr)
      const message = await mail.message()
      assert.match(
        message.parsed.subject ?? '',
        new RegExp(
          `^\\[tablehaul\\] FAILED · cannot connect to the source · sales@127\\.0\\.0\\.1:${port} → `,
        ),
      )
      const text = message.parsed.text ?? ''
      assert.match(text, /The run failed before copying anything; no table was changed\./)
      assert.match(
        text,
        /error: +cannot connect to the source postgres:\/\/reader@127\.0\.0\.1:\d+\/sales: .*ECONNREFUSED/,
      )
      assert.match(
        text,
        /what to do: +nothing accepts connections there: check host and port in source\.url \(or --source\)/,
      )
      assert.doesNotMatch(text, /\nTABLES\n/)
      assert.match(html(message), /What to do:<\/strong> nothing accepts connections there/)
      assert.equal(message.parsed.attachments.length, 1, 'the log is attached to a failure')
      assert.match(
        humanLog(db.dir).at(-1)!,
        / run \S+ FAILED in \S+ \(sales@127\.0\.0\.1:\d+ -> \S+\): cannot connect to the source/,
      )
    } finally {
      await db.drop()
    }
  })

  test('a wrong password is mailed as a refused login with SQLSTATE 28P01', async () => {
    const db = await setup('mail_password')
    try {
      const url = new URL(db.source.url)
      url.password = 'not-the-password'
      const result = await run(db, [], url.toString())
      assert.equal(result.code, 1, result.stderr)
      const message = await mail.message()
      assert.match(message.parsed.subject ?? '', /^\[tablehaul\] FAILED · the source refused the login · /)
      const text = message.parsed.text ?? ''
      assert.match(
        text,
        /error: +cannot connect to the source .*password authentication failed for user "postgres"\n/,
      )
      assert.match(text, /SQLSTATE: +28P01/)
      assert.match(text, /what to do: +check the user and password/)
      assert.doesNotMatch(`${text}${html(message)}`, /not-the-password/)
    } finally {
      await db.drop()
    }
  })

  test('an unknown table is mailed as a failure that names it, and the exit code is 2', async () => {
    const db = await setup('mail_unknown')
    try {
      const result = await run(db, ['--table', 'public.orders', '--table', 'public.ordres'])
      assert.equal(result.code, 2, result.stderr)
      const message = await mail.message()
      assert.match(
        message.parsed.subject ?? '',
        /^\[tablehaul\] FAILED · a configured table does not exist · /,
      )
      assert.match(
        message.parsed.text ?? '',
        /public\.ordres does not exist on the source \(did you mean public\.orders\?\)/,
      )
      assert.match(html(message), /public\.ordres does not exist on the source/)
      const finished = readRunLog(path.join(db.dir, 'logs')).find((r) => r.event === 'run.finished')
      assert.equal((finished?.error as { code: string }).code, 'TABLE_NOT_FOUND')
    } finally {
      await db.drop()
    }
  })

  test('email.on: failure stays silent for a success and mails a failure; attachLog: always attaches to a success', async () => {
    const db = await setup('mail_on')
    try {
      const file = path.join(db.dir, 'tablehaul.yaml')
      const yaml = (on: string, attach: string) =>
        `email:\n  smtp: ${mail.url()}\n  to: [dba@example.com]\n  on: ${on}\n  attachLog: ${attach}\n`
      const cli = (extra: string[]) =>
        runCli(['run', '--config', file, '--source', db.source.url, '--target', db.target.url, ...extra], {
          cwd: db.dir,
        })
      writeFileSync(file, yaml('failure', 'failure'))
      const quiet = await cli([])
      assert.equal(quiet.code, 0, quiet.stderr)
      assert.match(quiet.stderr, /e-mail +not sent: email\.on is failure/)
      const failing = await cli(['--table', 'public.missing'])
      assert.equal(failing.code, 2)
      const failure = await mail.message(1)
      assert.match(failure.parsed.subject ?? '', /FAILED/)
      writeFileSync(file, yaml('always', 'always'))
      const always = await cli([])
      assert.equal(always.code, 0, always.stderr)
      const success = await mail.message(2)
      assert.match(success.parsed.subject ?? '', /^\[tablehaul\] OK/)
      assert.equal(success.parsed.attachments.length, 1)
      assert.equal(mail.messages.length, 2, 'the first success sent nothing')
    } finally {
      await db.drop()
    }
  })

  test('recipients without a way to send are a failed notification, not silence', async () => {
    const db = await setup('mail_nowhere')
    try {
      const result = await runCli(
        [
          'run',
          '--source',
          db.source.url,
          '--target',
          db.target.url,
          '--email-to',
          'dba@example.com',
          '--quiet',
        ],
        { cwd: db.dir },
      )
      assert.equal(result.code, 3, result.stderr)
      assert.match(result.stderr, /NOT sent: the e-mail settings say whom to tell but not how/)
    } finally {
      await db.drop()
    }
  })
})
