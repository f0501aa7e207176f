import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { spawnCli, waitFor } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { type LogRecord, readRunLog, recordsSoFar } from '../helpers/logs.js'
import { TestDatabase, testServers } from '../helpers/servers.js'
import { MailServer } from '../helpers/smtp.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * A run of two tables, `public.fast` and `public.slow`, whose copy of public.slow lasts about a minute
 * (each of its rows waits 20 ms on the source), so that a signal reliably finds it in the middle of its COPY.
 */
async function slowRun(name: string, smtpUrl: string) {
  const [source, target] = await Promise.all([
    TestDatabase.create(servers.source, `${name}_src`),
    TestDatabase.create(servers.target, `${name}_tgt`),
  ])
  await source.sql(`
    CREATE TABLE public.fast (id int PRIMARY KEY, v text);
    INSERT INTO public.fast SELECT g, 'v' || g FROM generate_series(1, 500) g;
    CREATE TABLE public.slow (id int PRIMARY KEY, v text);
    INSERT INTO public.slow SELECT g, 'new ' || g FROM generate_series(1, 3000) g;
  `)
  await target.sql(`
    CREATE TABLE public.slow (id int PRIMARY KEY, v text);
    INSERT INTO public.slow VALUES (1, 'old 1'), (2, 'old 2'), (3, 'old 3');
  `)
  const dir = tempDir()
  writeFileSync(
    path.join(dir, 'tablehaul.yaml'),
    `tables:
  - public.fast
  - { name: public.slow, where: "pg_catalog.pg_sleep(0.02) IS NOT NULL" }
jobs: 2
email:
  smtp: ${smtpUrl}
  to: [dba@example.com]
`,
  )
  const logDir = path.join(dir, 'logs')
  const cli = spawnCli(
    [
      'run',
      '--config',
      'tablehaul.yaml',
      '--source',
      source.url,
      '--target',
      target.url,
      '--log-dir',
      logDir,
    ],
    { cwd: dir },
  )
  // The NDJSON record and the tablehaul.log line of a table are two writes, one after the other: a signal
  // between them is a moment no test can promise about, so the run counts as started once both are there.
  const humanLog = path.join(logDir, 'tablehaul.log')
  const started = async () => {
    await waitFor(
      () => {
        const records = recordsSoFar(logDir)
        return (
          records.some((r) => r.event === 'table.copied' && r.table === 'public.fast') &&
          records.some((r) => r.event === 'table.started' && r.table === 'public.slow') &&
          existsSync(humanLog) &&
          readFileSync(humanLog, 'utf8').includes(' public.fast OK ')
        )
      },
      60_000,
      'public.fast copied (in both logs) and public.slow started',
    )
  }
  return {
    source,
    target,
    logDir,
    cli,
    started,
    drop: async () => {
      cli.child.kill('SIGKILL')
      await Promise.all([source.drop(), target.drop()])
    },
  }
}

describe('an interrupted run', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} during a copy: the table rolls back, the run is mailed INTERRUPTED, both logs end with it, exit 130`, async () => {
      const mail = await MailServer.start()
      const run = await slowRun(`int_${signal.toLowerCase()}`, mail.url())
      try {
        await run.started()
        run.cli.child.kill(signal)
        const result = await run.cli.done
        assert.equal(result.code, 130, result.stderr)
        assert.match(result.stderr, new RegExp(`${signal} received: stopping`))

        const message = await mail.message()
        assert.match(message.parsed.subject ?? '', /^\[tablehaul\] INTERRUPTED · 1 of 2 tables copied · /)
        const text = message.parsed.text ?? ''
        assert.match(
          text,
          /The run was interrupted: 1 of 2 tables were copied; the others kept their previous contents\./,
        )
        assert.match(
          text,
          /\n {2}public\.slow\n {4}error: +interrupted during its copy; rolled back, previous contents kept/,
        )
        assert.match(text, /^ {2}OK {6}public\.fast +500 /m)
        assert.match(message.parsed.html as string, /INTERRUPTED/)
        assert.equal(message.parsed.attachments.length, 1, 'the log is attached')

        assert.deepEqual(
          await run.target.sql(`SELECT v FROM public.slow ORDER BY id`),
          [{ v: 'old 1' }, { v: 'old 2' }, { v: 'old 3' }],
          'the interrupted table kept its old rows',
        )

        const records = readRunLog(run.logDir)
        const events = records.map((r) => r.event)
        assert.deepEqual(
          events.slice(-2),
          ['run.finished', 'notify.sent'],
          'the log ends with the report and the e-mail',
        )
        assert.equal(records.at(-2)?.status, 'interrupted')
        const human = readFileSync(path.join(run.logDir, 'tablehaul.log'), 'utf8').trim().split('\n')
        assert.equal(human.length, 3, human.join('\n'))
        assert.match(human[0]!, / public\.fast OK 500 rows /)
        assert.match(
          human[1]!,
          / public\.slow FAILED interrupted during its copy; rolled back, previous contents kept/,
        )
        assert.match(human[2]!, / run \S+ INTERRUPTED 1\/2 tables, 1 failed, 500 rows/)
      } finally {
        await run.drop()
        await mail.stop()
      }
    })
  }

  test('kill -9 mid-run: every table that ended is already in both logs, whole lines only', async () => {
    const mail = await MailServer.start()
    const run = await slowRun('int_kill', mail.url())
    try {
      await run.started()
      run.cli.child.kill('SIGKILL')
      const result = await run.cli.done
      assert.equal(result.signal, 'SIGKILL')
      const raw = readFileSync(
        readdirSync(run.logDir)
          .filter((n) => n.endsWith('.ndjson'))
          .map((n) => path.join(run.logDir, n))[0]!,
        'utf8',
      )
      assert.ok(raw.endsWith('\n'), 'no half-written record')
      const records = raw
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as LogRecord)
      assert.ok(records.some((r) => r.event === 'table.copied' && r.table === 'public.fast'))
      const human = readFileSync(path.join(run.logDir, 'tablehaul.log'), 'utf8')
      assert.match(human, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d public\.fast OK 500 rows \S+ \S+ \S+\n$/)
      assert.equal(mail.messages.length, 0)
    } finally {
      await run.drop()
      await mail.stop()
    }
  })
})
