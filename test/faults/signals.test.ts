import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { spawnCli, waitFor } from '../helpers/cli.js'
import { tempDir } from '../helpers/config.js'
import { readRunLog } from '../helpers/logs.js'
import { MailServer } from '../helpers/smtp.js'

/**
 * A TCP server that accepts connections and never says a word: a PostgreSQL or mail server that hangs
 * after the handshake. It counts the connections it got.
 */
async function silentListener(): Promise<{ port: number; accepted: () => number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  let accepted = 0
  const server = net.createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  })
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  )
  return {
    port,
    accepted: () => accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Every CLI process of this file: one left waiting (a test that failed) must not keep the file alive. */
const children = new Set<ReturnType<typeof spawnCli>>()

after(() => {
  for (const cli of children) cli.child.kill('SIGKILL')
})

/**
 * `tablehaul run` from a source that accepts the connection and never answers, with waits far longer than
 * the test (an hour to connect, an hour for the mail server): whatever ends the run early, a signal did.
 */
function runAgainstSilentSource(sourcePort: number, smtpUrl: string) {
  const dir = tempDir()
  writeFileSync(
    path.join(dir, 'tablehaul.yaml'),
    `tables: [public.orders]
timeouts:
  connect: 1h
email:
  smtp: ${smtpUrl}
  to: [dba@example.com]
  timeout: 1h
`,
  )
  const logDir = path.join(dir, 'logs')
  const cli = spawnCli(
    [
      'run',
      '--config',
      'tablehaul.yaml',
      '--source',
      `postgres://reader@127.0.0.1:${sourcePort}/sales`,
      '--log-dir',
      logDir,
    ],
    { cwd: dir, env: { PGPASSWORD: 'unused' } },
  )
  children.add(cli)
  return { cli, logDir, dir }
}

describe('a signal ends every wait at once', () => {
  test(
    'SIGTERM while connecting ends the attempt at once (not after timeouts.connect): interrupted, logged, mailed, exit 130',
    // A guard against a hang, not a measure: the connect timeout is an hour.
    { timeout: 120_000 },
    async () => {
      const source = await silentListener()
      const mail = await MailServer.start()
      const { cli, logDir } = runAgainstSilentSource(source.port, mail.url())
      try {
        await waitFor(() => source.accepted() > 0, 60_000, 'the run to connect to the silent source')
        cli.child.kill('SIGTERM')
        const result = await cli.done
        assert.equal(result.code, 130, result.stderr)

        const records = readRunLog(logDir)
        const finished = records.find((r) => r.event === 'run.finished')
        assert.equal(finished?.status, 'interrupted')
        assert.ok(
          !records.some((r) => JSON.stringify(r).includes('SOURCE_UNREACHABLE')),
          'stopped by the signal, not by a connect timeout',
        )
        assert.equal(records.at(-1)?.event, 'notify.sent')
        const human = readFileSync(path.join(logDir, 'tablehaul.log'), 'utf8')
        assert.match(human, / run \S+ INTERRUPTED /)

        const message = await mail.message()
        assert.match(message.parsed.subject ?? '', /^\[tablehaul\] INTERRUPTED · /)
      } finally {
        cli.child.kill('SIGKILL')
        await Promise.all([source.stop(), mail.stop()])
      }
    },
  )

  test('a second SIGTERM while the e-mail is being sent exits 130, and both logs say the e-mail was not sent and why', async () => {
    const source = await silentListener()
    const smtp = await silentListener()
    const { cli, logDir } = runAgainstSilentSource(source.port, `smtp://127.0.0.1:${smtp.port}`)
    try {
      await waitFor(() => source.accepted() > 0, 60_000, 'the run to connect to the silent source')
      cli.child.kill('SIGTERM')
      // The run is over and its report is on its way to a mail server that never answers.
      await waitFor(() => smtp.accepted() > 0, 60_000, 'the interrupted run to try its e-mail')
      assert.equal(cli.child.exitCode, null, 'the first signal alone did not end the process')
      cli.child.kill('SIGTERM')
      const result = await cli.done
      assert.equal(result.code, 130, result.stderr)

      const records = readRunLog(logDir)
      assert.deepEqual(
        records.slice(-2).map((r) => r.event),
        ['run.finished', 'notify.failed'],
      )
      assert.equal(records.at(-2)?.status, 'interrupted')
      const error = records.at(-1)?.error as { code?: string; message?: string } | undefined
      assert.equal(error?.code, 'RUN_ABORTED')
      assert.match(error?.message ?? '', /^interrupted while it was being sent/)
      const human = readFileSync(path.join(logDir, 'tablehaul.log'), 'utf8').trim().split('\n')
      assert.match(human.at(-2) ?? '', / run \S+ INTERRUPTED /)
      assert.match(human.at(-1) ?? '', / run \S+ E-MAIL NOT SENT interrupted while it was being sent/)
    } finally {
      cli.child.kill('SIGKILL')
      await Promise.all([source.stop(), smtp.stop()])
    }
  })
})
