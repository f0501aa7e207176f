import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../../src/local/postgres-cluster.js'
import { type CliResult, runCli, spawnCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { readRunLog } from '../helpers/logs.js'
import { TestDatabase, testServers } from '../helpers/servers.js'
import { MailServer, type TestCertificate, selfSignedCertificate, silentServer } from '../helpers/smtp.js'

let servers: Awaited<ReturnType<typeof testServers>>
let source: TestDatabase
let target: TestDatabase
let certificate: TestCertificate

before(async () => {
  servers = await testServers()
  ;[source, target] = await Promise.all([
    TestDatabase.create(servers.source, 'smtp_src'),
    TestDatabase.create(servers.target, 'smtp_tgt'),
  ])
  await source.sql(`
    CREATE TABLE public.items (id int PRIMARY KEY, name text);
    INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 1000) g;
  `)
  certificate = selfSignedCertificate('localhost')
})

after(async () => {
  await Promise.all([source?.drop(), target?.drop()])
  await servers?.stop()
})

const LOGIN = { user: 'alerts@example.com', pass: 'mail-Secret-1' }

/** A run whose e-mail settings are the YAML given; `spawn` runs the built CLI as its own process. */
async function run(
  email: Record<string, unknown>,
  options: { spawn?: boolean; env?: NodeJS.ProcessEnv; tables?: string[] } = {},
): Promise<CliResult & { dir: string }> {
  const dir = tempDir()
  const lines = Object.entries({ to: '[dba@example.com]', from: 'tablehaul@example.com', ...email }).map(
    ([key, value]) => `  ${key}: ${String(value)}`,
  )
  writeFileSync(path.join(dir, 'tablehaul.yaml'), `email:\n${lines.join('\n')}\n`)
  const args = [
    'run',
    '--source',
    source.url,
    '--target',
    target.url,
    '--log-dir',
    path.join(dir, 'logs'),
    ...(options.tables ?? []).flatMap((t) => ['--table', t]),
  ]
  const result = options.spawn
    ? await spawnCli(args, { cwd: dir, env: options.env }).done
    : await runCli(args, { cwd: dir, env: options.env })
  return { ...result, dir }
}

/** The run's NDJSON records about the e-mail, and the human log's last line. */
function logsOf(dir: string) {
  const records = readRunLog(path.join(dir, 'logs'))
  const human = readFileSync(path.join(dir, 'logs', 'tablehaul.log'), 'utf8')
    .trim()
    .split('\n')
  return {
    finished: records.find((r) => r.event === 'run.finished'),
    failed: records.find((r) => r.event === 'notify.failed') as
      { error: { code: string; message: string; hint: string }; level: string } | undefined,
    sent: records.find((r) => r.event === 'notify.sent'),
    lastLine: human.at(-1) ?? '',
  }
}

describe('SMTP delivery', () => {
  test('STARTTLS to a self-signed certificate is refused by default: the run completes, the log says why and the exit code is 3', async () => {
    const mail = await MailServer.start({ tls: 'starttls', certificate })
    try {
      const result = await run({ smtp: mail.url() })
      assert.equal(result.code, 3, result.stderr)
      assert.equal(mail.messages.length, 0)
      const logs = logsOf(result.dir)
      assert.equal(logs.finished?.status, 'succeeded', 'the transfer result is unchanged')
      assert.equal(logs.failed?.level, 'error')
      assert.equal(logs.failed?.error.code, 'NOTIFY_FAILED')
      assert.match(logs.failed?.error.message ?? '', /self-signed certificate/)
      assert.match(logs.failed?.error.hint ?? '', /NODE_EXTRA_CA_CERTS=\/path\/ca\.pem/)
      assert.match(
        logs.lastLine,
        / run \S+ E-MAIL NOT SENT the e-mail could not be sent through smtp smtp:\/\/127\.0\.0\.1:\d+.*self-signed/,
      )
      assert.match(result.stderr, /e-mail +NOT sent: .*self-signed certificate.*NODE_EXTRA_CA_CERTS/)
      assert.match(
        result.stderr,
        /^OK {2}1 copied of 1 table · /m,
        'the summary still tells the transfer result',
      )
    } finally {
      await mail.stop()
    }
  })

  test('a self-signed certificate trusted with NODE_EXTRA_CA_CERTS delivers over STARTTLS with a login', async () => {
    const mail = await MailServer.start({ tls: 'starttls', certificate, auth: LOGIN })
    try {
      const result = await run(
        { smtp: mail.url({ user: LOGIN.user, pass: LOGIN.pass }) },
        { spawn: true, env: { NODE_EXTRA_CA_CERTS: certificate.certFile } },
      )
      assert.equal(result.code, 0, result.stderr)
      const message = await mail.message()
      assert.equal(message.secure, true, 'upgraded with STARTTLS before the login')
      assert.equal(message.user, LOGIN.user)
      assert.match(message.parsed.subject ?? '', /^\[tablehaul\] OK · 1\/1 tables/)
      assert.ok(logsOf(result.dir).sent, 'the log records the e-mail as sent')
    } finally {
      await mail.stop()
    }
  })

  test('email.tlsRejectUnauthorized: false accepts the certificate of a server you know', async () => {
    const mail = await MailServer.start({ tls: 'starttls', certificate })
    try {
      const result = await run({ smtp: mail.url(), tlsRejectUnauthorized: false })
      assert.equal(result.code, 0, result.stderr)
      assert.equal((await mail.message()).secure, true)
    } finally {
      await mail.stop()
    }
  })

  test('smtps:// with a login delivers over TLS from the first byte', async () => {
    const mail = await MailServer.start({ tls: 'implicit', certificate, auth: LOGIN })
    try {
      const result = await run(
        { smtp: mail.url({ user: LOGIN.user, pass: LOGIN.pass }), cc: '[lead@example.com]' },
        { spawn: true, env: { NODE_EXTRA_CA_CERTS: certificate.certFile } },
      )
      assert.equal(result.code, 0, result.stderr)
      const message = await mail.message()
      assert.equal(message.secure, true)
      assert.equal(message.user, LOGIN.user)
      assert.deepEqual(message.envelope.to, ['dba@example.com', 'lead@example.com'])
      assert.match(JSON.stringify(message.parsed.cc), /lead@example\.com/)
    } finally {
      await mail.stop()
    }
  })

  test('a refused login: the run completes, the log and stderr say to check the password, the exit code is 3', async () => {
    const mail = await MailServer.start({ tls: 'implicit', certificate, auth: LOGIN })
    try {
      const result = await run({
        smtp: mail.url({ user: LOGIN.user, pass: 'wrong-pass-9' }),
        tlsRejectUnauthorized: false,
      })
      assert.equal(result.code, 3, result.stderr)
      assert.deepEqual(mail.refusedLogins, [LOGIN.user])
      const logs = logsOf(result.dir)
      assert.equal(logs.finished?.status, 'succeeded')
      assert.match(logs.failed?.error.message ?? '', /Invalid username or password/)
      assert.equal(logs.failed?.error.hint, 'check the user and password in email.smtp')
      assert.match(logs.lastLine, /E-MAIL NOT SENT .*check the user and password in email\.smtp$/)
      assert.match(result.stderr, /NOT sent: .*check the user and password in email\.smtp/)
      assert.doesNotMatch(
        `${result.stderr}${readFileSync(path.join(result.dir, 'logs', 'tablehaul.log'), 'utf8')}`,
        /wrong-pass-9/,
      )
    } finally {
      await mail.stop()
    }
  })

  for (const method of ['PLAIN', 'LOGIN']) {
    test(`a server that quotes the AUTH ${method} exchange back cannot put the login, encoded, into the log or output; the error is called SMTP`, async () => {
      const pass = 'p@ss word/Echo-7'
      const mail = await MailServer.start({
        tls: 'implicit',
        certificate,
        auth: LOGIN,
        authMethods: [method],
        echoAuth: true,
      })
      try {
        const result = await run({ smtp: mail.url({ user: LOGIN.user, pass }), tlsRejectUnauthorized: false })
        assert.equal(result.code, 3, result.stderr)
        assert.deepEqual(mail.refusedLogins, [LOGIN.user], 'the server saw the login and quoted it')
        const logs = logsOf(result.dir)
        const message = logs.failed?.error.message ?? ''
        assert.match(
          message,
          /Invalid login; got AUTH PLAIN \*\*\* \(or \*\*\*\); AUTH LOGIN \*\*\* \*\*\*; user=[^&]*&pass=\*\*\*/,
        )
        assert.match(message, /\(SMTP EAUTH 535\)/)
        const b64 = (text: string) => Buffer.from(text).toString('base64')
        const forms = [
          pass,
          encodeURIComponent(pass),
          b64(pass),
          b64(LOGIN.user),
          b64(`\0${LOGIN.user}\0${pass}`),
          b64(`${LOGIN.user}\0${LOGIN.user}\0${pass}`),
        ]
        const written = [
          result.stdout,
          result.stderr,
          readFileSync(path.join(result.dir, 'logs', 'tablehaul.log'), 'utf8'),
          JSON.stringify(readRunLog(path.join(result.dir, 'logs'))),
        ].join('\n')
        for (const form of forms) assert.ok(!written.includes(form), `${form} was written`)
        assert.doesNotMatch(written, /SQLSTATE/)
      } finally {
        await mail.stop()
      }
    })
  }

  test('a login is never sent to a server that does not offer STARTTLS', async () => {
    const mail = await MailServer.start({ tls: 'none', auth: LOGIN })
    try {
      const result = await run({ smtp: mail.url({ user: LOGIN.user, pass: LOGIN.pass }) })
      assert.equal(result.code, 3, result.stderr)
      assert.deepEqual(mail.refusedLogins, [], 'the server never saw a login')
      assert.equal(mail.messages.length, 0)
      assert.match(logsOf(result.dir).failed?.error.hint ?? '', /does not offer STARTTLS: use smtps:\/\//)
    } finally {
      await mail.stop()
    }
  })

  test('a mail server that is down: the run completes, the log records the failed e-mail, the exit code is 3', async () => {
    const port = await freePort()
    const result = await run({ smtp: `smtp://127.0.0.1:${port}` })
    assert.equal(result.code, 3, result.stderr)
    const logs = logsOf(result.dir)
    assert.equal(logs.finished?.status, 'succeeded')
    assert.match(logs.failed?.error.message ?? '', /ECONNREFUSED/)
    assert.match(logs.failed?.error.hint ?? '', /check the host and port in email\.smtp/)
    assert.match(result.stderr, /NOT sent: .*ECONNREFUSED/)
  })

  test('a failed run with the mail server down still exits 1 and reports its failure, not the e-mail', async () => {
    const port = await freePort()
    const result = await run(
      { smtp: `smtp://127.0.0.1:${port}` },
      { tables: ['public.items', 'public.nope'] },
    )
    assert.equal(result.code, 2, result.stderr)
    const logs = logsOf(result.dir)
    assert.equal((logs.finished?.error as { code: string }).code, 'TABLE_NOT_FOUND')
    assert.ok(logs.failed, 'the failed e-mail is logged as well')
    assert.match(result.stderr, /FAILED {2}.*public\.nope does not exist on the source/)
    assert.match(result.stderr, /e-mail +NOT sent/)
  })

  test('a mail server that never answers is given up after email.timeout', async () => {
    const silent = await silentServer()
    try {
      const result = await run({ smtp: `smtp://127.0.0.1:${silent.port}`, timeout: '1s' })
      assert.equal(result.code, 3, result.stderr)
      const logs = logsOf(result.dir)
      assert.equal(logs.finished?.status, 'succeeded')
      assert.match(logs.failed?.error.message ?? '', /Greeting never received|did not finish within/)
      assert.match(logs.failed?.error.hint ?? '', /did not answer in time/)
    } finally {
      await silent.stop()
    }
  })
})
