import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { ROOT } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { databasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { readRunLog } from '../helpers/logs.js'
import { testServers } from '../helpers/servers.js'
import { MailServer, everythingIn } from '../helpers/smtp.js'

let servers: Awaited<ReturnType<typeof testServers>>
let mail: MailServer

before(async () => {
  servers = await testServers()
  mail = await MailServer.start()
})

after(async () => {
  await mail?.stop()
  await servers?.stop()
})

/** public.first (copied first: bigger) and public.second, whose target copy holds old rows. */
async function stage(name: string) {
  const db = await databasePair(servers, name)
  await db.source.sql(`
    CREATE TABLE public.first (id int PRIMARY KEY, pad text);
    INSERT INTO public.first SELECT g, repeat('f', 100) FROM generate_series(1, 20000) g;
    CREATE TABLE public.second (id int PRIMARY KEY);
    INSERT INTO public.second SELECT generate_series(1, 100);
    ANALYZE;
  `)
  await db.target.sql(`
    CREATE TABLE public.second (id int PRIMARY KEY);
    INSERT INTO public.second SELECT generate_series(1, 7);
  `)
  return { db, before: await fingerprint(db.target.url, 'public.second') }
}

test('an unexpected internal error during a run fails it as INTERNAL: the table it hit keeps its rows, the log and the e-mail say so', async () => {
  const { db, before } = await stage('crash_internal')
  const dir = tempDir()
  try {
    const config = testConfig(
      {
        source: db.source.url,
        target: db.target.url,
        jobs: 1,
        smtpUrl: mail.url(),
        emailFrom: 'tablehaul@example.com',
        emailTo: ['dba@example.com'],
      },
      { dir },
    )
    const job = new TransferJob(config)
    // An error no code path expects (not a TablehaulError), thrown inside the run as public.second starts.
    job.on('table.started', (event) => {
      if (event.table === 'public.second') throw new Error('invariant broken: a bug in tablehaul (test)')
    })
    const report = await job.run()

    assert.equal(report.status, 'failed')
    assert.equal(report.error?.code, 'INTERNAL')
    assert.match(report.error?.message ?? '', /invariant broken/)
    assert.equal(report.tables.find((t) => t.table === 'public.first')?.status, 'copied')
    assert.deepEqual(
      await fingerprint(db.target.url, 'public.first'),
      await fingerprint(db.source.url, 'public.first'),
    )
    assert.deepEqual(
      await fingerprint(db.target.url, 'public.second'),
      before,
      'public.second kept its old rows',
    )

    const finished = readRunLog(path.join(dir, 'logs')).find((r) => r.event === 'run.finished')
    assert.equal((finished?.error as { code?: string } | undefined)?.code, 'INTERNAL')
    const human = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
      .trim()
      .split('\n')
    assert.match(human.at(-1)!, / run \S+ FAILED .*invariant broken/)
    assert.doesNotMatch(human.join('\n'), /ABANDONED/, 'the run ended as a run: it reported')

    const message = await mail.message(1)
    assert.match(message.parsed.subject ?? '', /^\[tablehaul\] FAILED/)
    assert.match(everythingIn(message), /invariant broken: a bug in tablehaul \(test\)/)
    assert.match(everythingIn(message), /public\.second/)
  } finally {
    mail.messages.length = 0
    await db.drop()
  }
})

test('a process that dies of an unexpected error mid-COPY leaves ABANDONED in tablehaul.log; the table in flight keeps its rows', async () => {
  const { db } = await stage('crash_process')
  await db.target.sql(`
    CREATE TABLE public.first (id int PRIMARY KEY, pad text);
    INSERT INTO public.first SELECT g, 'old' FROM generate_series(1, 33) g;
  `)
  const before = await fingerprint(db.target.url, 'public.first')
  const dir = tempDir()
  const script = path.join(dir, 'crash-mid-copy.mts')
  // The error escapes every handler of the run (thrown from a timer), as a bug in a stream callback would:
  // Node ends the process with code 1 in the middle of public.first's COPY.
  writeFileSync(
    script,
    `import { loadConfig } from ${JSON.stringify(path.join(ROOT, 'src/config/load.ts'))}
import { TransferJob } from ${JSON.stringify(path.join(ROOT, 'src/run/transfer-job.ts'))}
const { config } = loadConfig({ cwd: ${JSON.stringify(dir)}, env: {}, flags: ${JSON.stringify({
      source: db.source.url,
      target: db.target.url,
      jobs: 1,
      logDir: path.join(dir, 'logs'),
      smtpUrl: mail.url(),
      emailFrom: 'tablehaul@example.com',
      emailTo: ['dba@example.com'],
    })} })
const job = new TransferJob(config)
let thrown = false
job.on('table.progress', (event) => {
  if (event.table !== 'public.first' || thrown) return
  thrown = true
  setImmediate(() => { throw new Error('a bug outside every handler (test)') })
})
await job.run()
`,
  )
  try {
    const child = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), script], {
      cwd: dir,
      encoding: 'utf8',
    })
    assert.equal(child.status, 1, child.stderr)
    assert.match(child.stderr, /a bug outside every handler \(test\)/)
    const human = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
      .trim()
      .split('\n')
    assert.match(
      human.at(-1)!,
      / run \S+ ABANDONED the process exited \(code 1\) before the run finished; tables in flight were rolled back and kept their previous contents$/,
    )
    const log = readRunLog(path.join(dir, 'logs'))
    assert.equal(log.at(-1)?.event, 'run.abandoned')
    assert.equal(log.at(-1)?.exitCode, 1)
    assert.ok(!log.some((r) => r.event === 'table.copied' && r.table === 'public.first'))
    assert.deepEqual(
      await fingerprint(db.target.url, 'public.first'),
      before,
      'the COPY in flight rolled back',
    )
    // A process that died cannot send its report: the ABANDONED line is the run's only record of its end.
    assert.equal(mail.messages.length, 0)
  } finally {
    await db.drop()
  }
})
