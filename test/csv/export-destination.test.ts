import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import {
  chmodSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { exportCsv } from '../../src/csv/csv-files.js'
import { runCli, spawnCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { readRunLog } from '../helpers/logs.js'
import { TestDatabase, testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>
let source: TestDatabase

before(async () => {
  servers = await testServers()
  source = await TestDatabase.create(servers.source, 'export_destination')
})

after(async () => {
  await source?.drop()
  await servers?.stop()
})

/** 2,000 rows: more than a pipe holds, so a FIFO's reader really has to read while the export writes. */
const QUERY = `select g as id, repeat('x', 40) as filler from generate_series(1, 2000) g`
const EXPECTED = ['id,filler', ...Array.from({ length: 2000 }, (_, i) => `${i + 1},${'x'.repeat(40)}`)]
  .join('\n')
  .concat('\n')

const isRoot = process.platform === 'linux' && process.getuid?.() === 0
const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8)

function exportTo(file: string, dir: string) {
  return exportCsv(testConfig({ source: source.url }, { dir }), { query: QUERY, file, notifier: null })
}

describe('export writes where --file points, by what is there', () => {
  test(
    'a full device fails with ENOSPC naming it, exits 1, stays a character device, and nothing is left beside it',
    { skip: isRoot ? false : 'needs root on Linux (mknod)' },
    async () => {
      const dir = tempDir()
      // A device node of its own for /dev/full (char 1,7): a regression must not replace the machine's.
      const devices = path.join(dir, 'dev')
      mkdirSync(devices)
      const full = path.join(devices, 'full')
      execFileSync('mknod', ['-m', '666', full, 'c', '1', '7'])
      const result = await runCli(
        [
          'export',
          '--source',
          source.url,
          '--query',
          QUERY,
          '--file',
          full,
          '--log-dir',
          path.join(dir, 'logs'),
        ],
        { cwd: dir },
      )
      assert.equal(result.code, 1, result.stderr)
      assert.match(result.stderr, /writing .*dev\/full failed: ENOSPC: no space left on device/)
      assert.ok(statSync(full).isCharacterDevice(), 'still the device')
      assert.deepEqual(readdirSync(devices), ['full'], 'no temporary file left beside it')
      const failed = readRunLog(path.join(dir, 'logs')).find((r) => r.event === 'table.failed')
      assert.equal((failed?.error as { code?: string } | undefined)?.code, 'FILE_FAILED')
    },
  )

  test('a FIFO is written through to its reader and stays a FIFO', async () => {
    const dir = tempDir()
    const fifo = path.join(dir, 'rows.fifo')
    execFileSync('mkfifo', [fifo])
    // The reader is a process of its own, as it would be in a shell pipeline.
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] })
    let received = ''
    reader.stdout.on('data', (chunk: Buffer) => (received += chunk.toString()))
    const readerDone = new Promise((resolve) => reader.on('close', resolve))
    try {
      const report = await exportTo(fifo, dir)
      assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
      // Checked first: a FIFO replaced by a file would leave the reader waiting for a writer forever.
      assert.ok(statSync(fifo).isFIFO(), 'still a FIFO')
      await readerDone
      assert.equal(received, EXPECTED)
      assert.deepEqual(readdirSync(dir).sort(), ['logs', 'rows.fifo'])
    } finally {
      reader.kill()
    }
  })

  test('--file - writes the CSV to stdout, and the summary to stderr', async () => {
    const dir = tempDir()
    const cli = spawnCli(
      [
        'export',
        '--source',
        source.url,
        '--query',
        QUERY,
        '--file',
        '-',
        '--log-dir',
        path.join(dir, 'logs'),
      ],
      { cwd: dir },
    )
    const result = await cli.done
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, EXPECTED)
    assert.match(result.stderr, /OK {2}exported 2,000 rows .* into stdout/)
    assert.deepEqual(readdirSync(dir), ['logs'])
  })

  test('--file - with --json is refused: both would write to stdout', async () => {
    const result = await runCli(
      ['export', '--source', source.url, '--query', QUERY, '--file', '-', '--json'],
      {
        cwd: tempDir(),
      },
    )
    assert.equal(result.code, 2)
    assert.match(result.stderr, /--json and --file - both write to stdout/)
    assert.equal(result.stdout, '')
  })

  test('a symbolic link is followed: the file it leads to is replaced, keeping its mode, and the link stays a link', async () => {
    const dir = tempDir()
    mkdirSync(path.join(dir, 'exports'))
    const real = path.join(dir, 'exports', 'orders-today.csv')
    writeFileSync(real, 'old\n')
    chmodSync(real, 0o640)
    const link = path.join(dir, 'latest.csv')
    symlinkSync(path.join('exports', 'orders-today.csv'), link)
    const report = await exportTo(link, dir)
    assert.equal(report.status, 'succeeded', JSON.stringify(report.error))
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link stays a link')
    assert.equal(readlinkSync(link), path.join('exports', 'orders-today.csv'))
    assert.equal(readFileSync(real, 'utf8'), EXPECTED)
    assert.equal(modeOf(real), '640')
    assert.deepEqual(readdirSync(path.join(dir, 'exports')), ['orders-today.csv'])
  })

  test(
    'a symbolic link owned by another user is refused, and what it points to is left alone',
    { skip: isRoot ? false : 'needs root (lchown)' },
    async () => {
      const dir = tempDir()
      const precious = path.join(dir, 'precious.conf')
      writeFileSync(precious, 'keep me\n')
      const link = path.join(dir, 'report.csv')
      symlinkSync(precious, link)
      lchownSync(link, 65534, 65534)
      const report = await exportTo(link, dir)
      assert.equal(report.status, 'failed')
      assert.equal(report.error?.code, 'FILE_FAILED')
      assert.match(report.error?.message ?? '', /is a symbolic link owned by another user \(uid 65534\)/)
      assert.match(report.error?.hint ?? '', /give --file the path the link leads to/)
      assert.equal(readFileSync(precious, 'utf8'), 'keep me\n')
      assert.ok(lstatSync(link).isSymbolicLink())
    },
  )

  test('an existing 0600 file stays 0600 (and keeps its owner as root); a new file is created 0600', async () => {
    const dir = tempDir()
    const existing = path.join(dir, 'secret.csv')
    writeFileSync(existing, 'old\n', { mode: 0o600 })
    chmodSync(existing, 0o600)
    if (isRoot) execFileSync('chown', ['65534:65534', existing])
    const replaced = await exportTo(existing, dir)
    assert.equal(replaced.status, 'succeeded', JSON.stringify(replaced.error))
    assert.equal(readFileSync(existing, 'utf8'), EXPECTED)
    assert.equal(modeOf(existing), '600')
    if (isRoot) assert.deepEqual([statSync(existing).uid, statSync(existing).gid], [65534, 65534])

    const fresh = path.join(dir, 'fresh.csv')
    const created = await exportTo(fresh, dir)
    assert.equal(created.status, 'succeeded', JSON.stringify(created.error))
    assert.equal(modeOf(fresh), '600')
  })

  test('a folder or a socket is refused with what to do, before connecting', async () => {
    const dir = tempDir()
    const folder = path.join(dir, 'out')
    mkdirSync(folder)
    const asFolder = await exportTo(folder, dir)
    assert.equal(asFolder.status, 'failed')
    assert.match(asFolder.error?.message ?? '', /cannot write .*out: it is a folder/)
    assert.match(asFolder.error?.hint ?? '', /give --file the name of a file in it/)
    assert.ok(statSync(folder).isDirectory())

    const socketPath = path.join(dir, 'listening.sock')
    const server = net.createServer().listen(socketPath)
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const asSocket = await exportTo(socketPath, dir)
      assert.equal(asSocket.status, 'failed')
      assert.match(asSocket.error?.message ?? '', /it is a socket/)
      assert.ok(statSync(socketPath).isSocket())
    } finally {
      server.close()
    }
  })
})
