import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { LocalServer } from '../../src/local/local-server.js'
import { freePort } from '../../src/local/postgres-cluster.js'
import { spawnCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { TestDatabase, testServers, withClient } from '../helpers/servers.js'
import { MailServer, everythingIn, selfSignedCertificate } from '../helpers/smtp.js'

/** Every secret of this test contains MARKER; none may be found anywhere the program writes. */
const MARKER = 'Qz9Leak'
const SECRET = {
  /** In the source URL; wrong in the successful run, where source.password overrides it. */
  sourceUrl: `${MARKER}-src-url:/@#%`,
  /** source.password, from the environment through ${SOURCE_PW} in the config file. */
  sourceConfig: `${MARKER}-src-cfg&?=`,
  /** In the target URL (a wrong one, in the failing run). */
  targetUrl: `${MARKER}-tgt-url`,
  /** PGPASSWORD: the target's password when its URL has none. */
  pgpassword: `${MARKER}-pgpassword`,
  /** In the SMTP URL. */
  smtp: `${MARKER}-smtp`,
  smtpWrong: `${MARKER}-smtp-wrong`,
}

let servers: Awaited<ReturnType<typeof testServers>>
let source: TestDatabase
let target: TestDatabase
let mail: MailServer
const suffix = Math.random().toString(36).slice(2, 8)
const reader = `leak_reader_${suffix}`
const writer = `leak_writer_${suffix}`
const certificate = selfSignedCertificate('localhost')

before(async () => {
  servers = await testServers()
  ;[source, target] = await Promise.all([
    TestDatabase.create(servers.source, 'leak_src'),
    TestDatabase.create(servers.target, 'leak_tgt'),
  ])
  await withClient(servers.source.url, (c) =>
    c.query(`CREATE ROLE ${reader} LOGIN PASSWORD ${pg.escapeLiteral(SECRET.sourceConfig)}`),
  )
  await withClient(servers.target.url, (c) =>
    c.query(`CREATE ROLE ${writer} LOGIN PASSWORD ${pg.escapeLiteral(SECRET.pgpassword)}`),
  )
  await source.sql(`
    CREATE TABLE public.accounts (id int PRIMARY KEY, owner text);
    INSERT INTO public.accounts SELECT g, 'owner ' || g FROM generate_series(1, 200) g;
    GRANT SELECT ON public.accounts TO ${reader};
  `)
  await target.sql(`ALTER DATABASE ${target.name} OWNER TO ${writer}`)
  mail = await MailServer.start({ tls: 'implicit', certificate, auth: { user: 'alerts', pass: SECRET.smtp } })
})

after(async () => {
  await mail?.stop()
  await Promise.all([source?.drop(), target?.drop()])
  await withClient(servers.source.url, (c) => c.query(`DROP ROLE IF EXISTS ${reader}`)).catch(() => {})
  await withClient(servers.target.url, (c) => c.query(`DROP ROLE IF EXISTS ${writer}`)).catch(() => {})
  await servers?.stop()
})

function endpoint(server: { port: number }, database: string, user: string, password?: string): string {
  const login = password === undefined ? user : `${user}:${encodeURIComponent(password)}`
  return `postgres://${login}@127.0.0.1:${server.port}/${database}`
}

/** Every file under `dir`, as text. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile())
    .map((file) => readFileSync(file, 'utf8'))
}

test('no password from URLs, config, PGPASSWORD or the local server appears in any log line, e-mail or output of run, export, import, plan or verify, whatever the ending', async () => {
  const dir = tempDir()
  const smtpUrl = (password: string) =>
    `smtps://alerts:${encodeURIComponent(password)}@127.0.0.1:${mail.port}`
  const writeConfig = (name: string, lines: string) => {
    const file = path.join(dir, name)
    writeFileSync(file, lines)
    return file
  }
  const env = {
    PGPASSWORD: SECRET.pgpassword,
    SOURCE_PW: SECRET.sourceConfig,
    NODE_EXTRA_CA_CERTS: certificate.certFile,
  }
  const email = (password: string) =>
    `email:\n  smtp: ${smtpUrl(password)}\n  to: [dba@example.com]\n  attachLog: always\n`
  const sourceUrl = endpoint(servers.source, source.name, reader, SECRET.sourceUrl)
  const targetByPgpassword = endpoint(servers.target, target.name, writer)

  const success = writeConfig(
    'success.yaml',
    `source:\n  url: ${JSON.stringify(sourceUrl)}\n  password: \${SOURCE_PW}\ntarget:\n  url: ${targetByPgpassword}\n${email(SECRET.smtp)}`,
  )
  const wrongPassword = writeConfig(
    'wrong-password.yaml',
    `source:\n  url: ${JSON.stringify(sourceUrl)}\ntarget:\n  url: ${JSON.stringify(endpoint(servers.target, target.name, writer, SECRET.targetUrl))}\n${email(SECRET.smtp)}`,
  )
  const unreachable = writeConfig(
    'unreachable.yaml',
    `source:\n  url: ${JSON.stringify(endpoint({ port: await freePort() }, 'sales', reader, SECRET.sourceUrl))}\ntarget:\n  url: ${targetByPgpassword}\n${email(SECRET.smtp)}`,
  )
  const smtpRefused = writeConfig(
    'smtp-refused.yaml',
    `source:\n  url: ${JSON.stringify(sourceUrl)}\n  password: \${SOURCE_PW}\ntarget:\n  url: ${targetByPgpassword}\n${email(SECRET.smtpWrong)}`,
  )

  const outputs: string[] = []
  const run = async (args: string[], expectedCode: number) => {
    const result = await spawnCli(args, { cwd: dir, env }).done
    assert.equal(result.code, expectedCode, `${args.join(' ')}\n${result.stderr}`)
    outputs.push(result.stdout, result.stderr)
    return result
  }
  const logs = (name: string) => ['--log-dir', path.join(dir, 'logs', name)]
  const ok = await run(['run', '--config', success, '--json', ...logs('success')], 0)
  assert.match(
    ok.stdout,
    new RegExp(`"source": "postgres://${reader}@127\\.0\\.0\\.1`),
    'the URL is shown, without its password',
  )
  await run(['run', '--config', wrongPassword, '--json', ...logs('wrong-password')], 1)
  await run(['run', '--config', unreachable, '--json', ...logs('unreachable')], 1)
  await run(['run', '--config', smtpRefused, ...logs('smtp-refused')], 3)
  const shown = await run(['config', '--show', '--config', success], 0)
  assert.match(shown.stdout, /smtps:\/\/alerts(:\*\*\*)?@127\.0\.0\.1/)
  await run(['run', '--help'], 0)

  // Export, import, plan and verify, each succeeding and failing on a refused login.
  const csv = path.join(dir, 'accounts.csv')
  const exportArgs = ['--query', 'select * from public.accounts', '--file', csv, '--json']
  await run(['export', '--config', success, ...exportArgs, ...logs('export')], 0)
  await run(['export', '--config', wrongPassword, ...exportArgs, ...logs('export-wrong')], 1)
  const importArgs = ['--table', 'public.accounts', '--file', csv, '--json']
  await run(['import', '--config', success, ...importArgs, ...logs('import')], 0)
  await run(['import', '--config', wrongPassword, ...importArgs, ...logs('import-wrong')], 1)
  for (const command of ['plan', 'verify']) {
    await run([command, '--config', success, '--json'], 0)
    await run([command, '--config', success], 0)
    await run([command, '--config', wrongPassword, '--json'], 1)
  }

  // A run into the embedded local server, whose own password must not show either.
  const localDir = path.join(dir, 'local')
  const local = writeConfig(
    'local.yaml',
    `source:\n  url: ${JSON.stringify(sourceUrl)}\n  password: \${SOURCE_PW}\nlocal:\n  dir: ${JSON.stringify(localDir)}\n${email(SECRET.smtp)}`,
  )
  let localPassword: string
  try {
    await run(['run', '--config', local, '--json', ...logs('local')], 0)
    await run(['plan', '--config', local, '--json'], 0)
    await run(['local', 'status', '--config', local], 0)
    localPassword = (
      JSON.parse(readFileSync(path.join(localDir, 'local.json'), 'utf8')) as { password: string }
    ).password
  } finally {
    await new LocalServer({ dir: localDir }).remove()
  }

  assert.equal(mail.messages.length, 8, 'every run, export and import was mailed, failures too')
  assert.match(mail.messages[1]!.parsed.text ?? '', /SQLSTATE: +28P01/, 'the wrong password was the failure')
  assert.match(mail.messages[2]!.parsed.text ?? '', /ECONNREFUSED/)
  for (const index of [4, 6]) {
    assert.match(
      mail.messages[index]!.parsed.text ?? '',
      /SQLSTATE: +28P01/,
      'the export and import failures',
    )
  }
  const logFiles = filesUnder(path.join(dir, 'logs'))
  assert.ok(logFiles.length >= 2 * 9, 'both logs of each run, export and import were read')
  assert.ok(logFiles.every((text) => text.length > 0))

  const places = [
    ...outputs.map((text, i) => ({ what: `output ${i}`, text })),
    ...logFiles.map((text, i) => ({ what: `log file ${i}`, text })),
    ...mail.messages.map((m, i) => ({ what: `e-mail ${i}`, text: everythingIn(m) })),
  ]
  for (const { what, text } of places) {
    for (const secret of [MARKER, localPassword]) {
      const at = text.indexOf(secret)
      assert.equal(at, -1, `a password leaked into ${what}: …${text.slice(Math.max(0, at - 80), at + 40)}…`)
    }
  }
})
