import assert from 'node:assert/strict'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { exitCodeOf } from '../../src/cli/context.js'
import type { Config } from '../../src/config/schema.js'
import { TablehaulError } from '../../src/errors.js'
import { LocalServer } from '../../src/local/local-server.js'
import { OutboxNotifier } from '../../src/notify/outbox-notifier.js'
import { RunLifecycle } from '../../src/run/run-lifecycle.js'
import { runCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { outboxMessages } from '../helpers/outbox.js'
import { fill, isRoot, smallDisk, unmount } from '../helpers/small-disk.js'

/**
 * The most common bad night of a nightly job: a full disk under tablehaul's own files (its logs, its
 * outbox, the embedded server's local.dir, tablehaul init's config): /dev/full, which refuses every write
 * with ENOSPC, or a small tmpfs filled up (root only). The servers' disks: full-disk-servers.test.ts.
 */

const hasDevFull = existsSync('/dev/full')

/** A run whose work is a script: tables announced and finished as TransferJob does, without servers. */
class ScriptedRun extends RunLifecycle {
  worked = false

  constructor(
    config: Config,
    runId: string,
    private readonly script: (run: ScriptedRun) => void = () => {},
  ) {
    const names = { sourceName: 'sales@db', targetName: 'local' }
    super(config, 'run', { source: 'postgres://reader@db/sales', target: 'local', ...names }, { runId })
  }

  protected work(): Promise<void> {
    this.worked = true
    this.announcePlan({
      warnings: [],
      tables: ['sales.a', 'sales.b'].map((table) => ({
        table,
        source: table,
        mode: 'replace' as const,
        format: 'binary' as const,
        targetState: 'exists' as const,
        estimatedBytes: 1000,
        estimatedRows: 10,
      })),
    })
    this.copied('sales.a')
    this.script(this)
    this.copied('sales.b')
    return Promise.resolve()
  }

  /** A note for the run: a line in both logs. */
  note(text: string): void {
    this.warn(text)
  }

  private copied(table: string): void {
    this.tableFinished(table, {
      table,
      source: table,
      status: 'copied',
      rows: 10,
      bytes: 1000,
      durationMs: 5,
      mode: 'replace',
      format: 'binary',
      created: false,
      attempts: 1,
    })
  }
}

function config(): Config {
  const dir = tempDir()
  return testConfig({ outbox: path.join(dir, 'outbox'), emailTo: ['dba@example.com'] }, { dir })
}

const RUN_ID = '20261206-020000-full'

/** The files this process holds open under `dir` (its descriptors, from /proc). */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(path.join('/proc/self/fd', fd))
      return target.startsWith(`${dir}/`) ? [target] : []
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [] // closed meanwhile
      throw error
    }
  })
}

/** Waits until this process holds no file open under `dir` (a closing stream closes its file a tick later). */
async function closedUnder(dir: string): Promise<string[]> {
  for (let turn = 0; turn < 1000 && openFilesUnder(dir).length > 0; turn++)
    await new Promise((resolve) => setTimeout(resolve, 5))
  return openFilesUnder(dir)
}

describe("tablehaul's own files on a full disk", () => {
  test(
    'a run log the disk refuses from its first line fails the run before any work, and the e-mail says which file and that the disk is full',
    { skip: hasDevFull ? false : 'needs /dev/full' },
    async () => {
      const settings = config()
      mkdirSync(settings.log.dir, { recursive: true })
      const ndjson = path.join(settings.log.dir, `tablehaul-${RUN_ID}.ndjson`)
      symlinkSync('/dev/full', ndjson)
      const run = new ScriptedRun(settings, RUN_ID)
      const report = await run.run()

      assert.equal(run.worked, false, 'nothing is copied without a log')
      assert.equal(report.status, 'failed')
      assert.equal(report.error?.code, 'FILE_FAILED')
      assert.match(
        report.error?.message ?? '',
        /^the log cannot be written: .*full\.ndjson: the disk is full \(ENOSPC/,
      )
      assert.match(report.error?.hint ?? '', /free space on the disk of .*logs, or set log\.dir/)
      assert.equal(report.logFile, undefined, 'no log file to point at')
      assert.equal(report.notification?.status, 'sent')
      const [message] = await outboxMessages(settings.email!.outbox!)
      assert.match(message?.text ?? '', /the disk is full/)
      assert.equal(exitCodeOf(report), 1)
    },
  )

  test(
    'a human log the disk refuses mid-run: the copies stand, the report and e-mail name the file, exit code 3',
    { skip: hasDevFull ? false : 'needs /dev/full' },
    async () => {
      const settings = config()
      mkdirSync(settings.log.dir, { recursive: true })
      symlinkSync('/dev/full', path.join(settings.log.dir, 'tablehaul.log'))
      const report = await new ScriptedRun(settings, RUN_ID).run()

      assert.equal(report.status, 'succeeded')
      assert.equal(report.totals.copied, 2)
      assert.equal(report.logFailures?.length, 1)
      assert.match(report.logFailures![0]!.message, /tablehaul\.log is incomplete: the disk is full/)
      assert.ok(
        report.warnings.some((w) => /tablehaul\.log is incomplete: the disk is full/.test(w)),
        `a note names the log: ${report.warnings.join(' | ')}`,
      )
      assert.equal(exitCodeOf(report), 3, 'copied, but not fully reported')
      const [message] = await outboxMessages(settings.email!.outbox!)
      assert.match(message?.text ?? '', /tablehaul\.log is incomplete: the disk is full/)
    },
  )

  test(
    'a log folder whose disk fills up during the run: no unexpected error, the run ends reported, its file closed',
    { skip: isRoot ? false : 'needs root to mount a tmpfs' },
    async (t) => {
      const disk = smallDisk('256k')
      if (!disk) return t.skip('mount -t tmpfs failed')
      try {
        const settings = config()
        const logs = path.join(disk, 'logs')
        const report = await new ScriptedRun(
          { ...settings, log: { ...settings.log, dir: logs } },
          RUN_ID,
          (run) => {
            fill(disk)
            // More than the page each file already holds: both logs now meet ENOSPC.
            run.note(`a long note ${'x'.repeat(8192)}`)
          },
        ).run()

        assert.equal(report.status, 'succeeded')
        assert.equal(report.totals.copied, 2, 'every table is reported')
        const files = (report.logFailures ?? []).map((f) => f.message).join('\n')
        assert.match(files, /tablehaul-20261206-020000-full\.ndjson is incomplete: the disk is full/)
        assert.match(files, /tablehaul\.log is incomplete: the disk is full/)
        assert.equal(exitCodeOf(report), 3)
        const [message] = await outboxMessages(settings.email!.outbox!)
        assert.match(message?.subject ?? '', /OK/)
        assert.match(message?.text ?? '', /\.ndjson is incomplete: the disk is full/)
        assert.deepEqual(await closedUnder(disk), [], 'the log closes its file though records are pending')
      } finally {
        unmount(disk)
      }
    },
  )

  test(
    'an outbox on a full disk: the e-mail fails naming the folder and the full disk, and leaves no half message behind',
    { skip: isRoot ? false : 'needs root to mount a tmpfs' },
    async (t) => {
      const disk = smallDisk('64k')
      if (!disk) return t.skip('mount -t tmpfs failed')
      try {
        const outbox = path.join(disk, 'outbox')
        mkdirSync(outbox)
        fill(disk)
        const settings = config()
        const report = await new ScriptedRun(
          { ...settings, email: { ...settings.email!, outbox } },
          RUN_ID,
        ).run()

        assert.equal(report.status, 'succeeded')
        assert.equal(report.notification?.status, 'failed')
        const error = report.notification?.error
        assert.match(error?.message ?? '', /cannot write the e-mail into .*outbox: the disk is full/)
        assert.match(error?.hint ?? '', /free space on the disk of .*outbox/)
        assert.deepEqual(readdirSync(outbox), [], 'no .eml.tmp left to fill the disk further')
        assert.equal(exitCodeOf(report), 3)
        // A message larger than the space left is refused too, its partial file removed.
        rmSync(path.join(disk, 'filler'))
        writeFileSync(path.join(disk, 'filler'), Buffer.alloc(32 * 1024))
        await assert.rejects(
          new OutboxNotifier(outbox).send({
            from: 'th@example.com',
            to: ['dba@example.com'],
            cc: [],
            subject: 'big',
            text: 'x'.repeat(200 * 1024),
            html: '<p>x</p>',
            attachments: [],
          }),
          /the disk is full/,
        )
        assert.deepEqual(readdirSync(outbox), [])
      } finally {
        unmount(disk)
      }
    },
  )

  test(
    'local.dir on a full disk: the embedded server fails naming its lock file and the full disk, and leaves no empty lock behind',
    { skip: isRoot ? false : 'needs root to mount a tmpfs' },
    async (t) => {
      const disk = smallDisk('64k')
      if (!disk) return t.skip('mount -t tmpfs failed')
      try {
        const dir = path.join(disk, 'local')
        mkdirSync(dir)
        fill(disk)
        await assert.rejects(new LocalServer({ dir }).start(), (error: unknown) => {
          assert.ok(error instanceof TablehaulError, `a TablehaulError, not ${String(error)}`)
          assert.equal(error.code, 'LOCAL_SERVER_FAILED')
          assert.match(error.message, /^cannot write .*local\.lock: the disk is full \(ENOSPC/)
          assert.match(error.hint ?? '', /free space on the disk of .*local \(local\.dir\)/)
          return true
        })
        assert.deepEqual(readdirSync(dir), [], 'an empty local.lock would hold up every later run')
      } finally {
        unmount(disk)
      }
    },
  )

  test('a local.lock left empty long ago (its holder died, or the disk refused its id) does not hold up the next run', async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'local.json'), '{ not json')
    const lock = path.join(dir, 'local.lock')
    writeFileSync(lock, '')
    const minuteAgo = new Date(Date.now() - 60_000)
    utimesSync(lock, minuteAgo, minuteAgo)
    // Past the lock at once: the next thing it reads is the broken state file.
    await assert.rejects(new LocalServer({ dir }).start(), /local\.json is not readable/)
    assert.equal(existsSync(lock), false, 'released')
  })

  test(
    'tablehaul init on a full disk says so and leaves no empty tablehaul.yaml, so that init works once there is room',
    { skip: isRoot ? false : 'needs root to mount a tmpfs' },
    async (t) => {
      const disk = smallDisk('64k')
      if (!disk) return t.skip('mount -t tmpfs failed')
      try {
        fill(disk)
        const failed = await runCli(['init'], { cwd: disk })
        assert.equal(failed.code, 2)
        assert.match(failed.stderr, /cannot write tablehaul\.yaml: the disk is full \(ENOSPC/)
        assert.deepEqual(readdirSync(disk), ['filler'])
        rmSync(path.join(disk, 'filler'))
        const written = await runCli(['init'], { cwd: disk })
        assert.equal(written.code, 0, written.stderr)
        assert.deepEqual(readdirSync(disk), ['tablehaul.yaml'])
      } finally {
        unmount(disk)
      }
    },
  )
})
