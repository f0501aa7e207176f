import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { TransferJob } from '../../src/run/transfer-job.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { databasePair, type DatabasePair } from '../helpers/database-pair.js'
import { fingerprint } from '../helpers/fingerprint.js'
import { TestDatabase, TestServer, testServers, withClient } from '../helpers/servers.js'
import { fill, isRoot, smallDisk, unmount } from '../helpers/small-disk.js'

/**
 * A full disk on the servers: the target's data and the source's temporary files on a tablespace on a small
 * tmpfs (root only, servers on this machine), and a source's temp_file_limit (anywhere).
 */

/** The runner's servers, when they run on this machine (a tablespace is a folder on the server's disk). */
async function localOwner(server: TestServer): Promise<{ uid: number; gid: number } | undefined> {
  const dataDir = await withClient(server.url, async (client) => {
    const { rows } = await client.query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`)
    return rows[0]!.dir
  })
  if (!existsSync(dataDir)) return undefined
  const { uid, gid } = statSync(dataDir)
  return { uid, gid }
}

describe("the servers' disks full", () => {
  let servers: Awaited<ReturnType<typeof testServers>>
  before(async () => {
    servers = await testServers()
  })
  after(async () => {
    await servers?.stop()
  })

  test("a sort past the source's temp_file_limit fails that table with what to do; the others copy", async () => {
    const db = await databasePair(servers, 'temp_limit')
    try {
      await db.source.sql(`
        CREATE TABLE public.ok (id int PRIMARY KEY);
        INSERT INTO public.ok SELECT generate_series(1, 100);
        CREATE TABLE public.wide AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g;
        ALTER DATABASE ${db.source.name} SET temp_file_limit = '256kB';
        ALTER DATABASE ${db.source.name} SET work_mem = '64kB';`)
      const settings = testConfig({ source: db.source.url, target: db.target.url })
      const report = await new TransferJob(
        {
          ...settings,
          tables: ['public.ok', { query: 'SELECT * FROM public.wide ORDER BY v', into: 'public.sorted' }],
        },
        { notifier: null },
      ).run()
      const sorted = report.tables.find((t) => t.table === 'public.sorted')
      assert.equal(report.tables.find((t) => t.table === 'public.ok')?.status, 'copied')
      assert.equal(sorted?.status, 'failed')
      assert.equal(sorted?.error?.sqlState, '53400')
      assert.match(
        sorted?.error?.hint ?? '',
        /on the source spilled more temporary files than its temp_file_limit/,
      )
    } finally {
      await db.drop()
    }
  })

  describe('on a tablespace on a small tmpfs', () => {
    let disk: string | undefined
    let skip: string | undefined
    let db: DatabasePair | undefined
    const space = `tablehaul_full_${process.pid}`

    before(async () => {
      if (!isRoot) return void (skip = 'needs root to mount a tmpfs')
      const owners = await Promise.all([localOwner(servers.source), localOwner(servers.target)])
      if (!owners[0] || !owners[1])
        return void (skip = "the servers' data directories are not on this machine")
      disk = smallDisk('8m')
      if (!disk) return void (skip = 'mount -t tmpfs failed')
      for (const [index, server] of [servers.source, servers.target].entries()) {
        const folder = path.join(disk, server.name)
        mkdirSync(folder)
        execFileSync('chown', [`${owners[index]!.uid}:${owners[index]!.gid}`, disk, folder])
        await withClient(server.url, (client) =>
          client.query(`CREATE TABLESPACE ${space} LOCATION '${folder}'`),
        )
      }
      db = await databasePair(servers, 'full_disk')
    })

    after(async () => {
      await db?.drop()
      for (const server of [servers.source, servers.target])
        await withClient(server.url, (client) => client.query(`DROP TABLESPACE IF EXISTS ${space}`)).catch(
          () => {},
        )
      unmount(disk)
    })

    test('a replace larger than the free space fails that table with disk full and what to do, keeps its rows exactly, and succeeds once space is freed', async (t) => {
      if (skip) return t.skip(skip)
      const { source, target } = db!
      await source.sql(`
          CREATE TABLE public.big (id int PRIMARY KEY, v text);
          INSERT INTO public.big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 60000) g;
          CREATE TABLE public.small (id int PRIMARY KEY);
          INSERT INTO public.small SELECT generate_series(1, 100);`)
      await target.sql(`
          CREATE TABLE public.big (id int PRIMARY KEY USING INDEX TABLESPACE ${space}, v text) TABLESPACE ${space};
          INSERT INTO public.big SELECT g, 'old ' || g FROM generate_series(1, 1000) g;
          CREATE TABLE public.small (id int PRIMARY KEY);`)
      const before = await fingerprint(target.url, 'public.big')
      const logs = tempDir()
      const settings = testConfig({ source: source.url, target: target.url }, { dir: logs })
      const first = await new TransferJob(settings, { notifier: null }).run()

      const big = first.tables.find((t) => t.table === 'public.big')
      assert.equal(big?.status, 'failed')
      assert.equal(big?.error?.sqlState, '53100')
      assert.match(
        big?.error?.message ?? '',
        /^target failed during COPY: could not extend file "pg_tblspc\/.*No space left on device/,
      )
      assert.match(
        big?.error?.hint ?? '',
        /^the target server ran out of disk space .*a replace needs room for the table's new rows beside its old ones/,
      )
      assert.equal(first.tables.find((t) => t.table === 'public.small')?.status, 'copied')
      assert.deepEqual(await fingerprint(target.url, 'public.big'), before, 'the previous rows, exactly')

      // Room for a second copy of the table: the same run succeeds.
      await target.sql(
        `ALTER TABLE public.big SET TABLESPACE pg_default; ALTER INDEX public.big_pkey SET TABLESPACE pg_default`,
      )
      const second = await new TransferJob(settings, { notifier: null }).run()
      assert.equal(second.status, 'succeeded', JSON.stringify(second.tables))
      assert.deepEqual(
        await fingerprint(target.url, 'public.big'),
        await fingerprint(source.url, 'public.big'),
      )
    })

    test('a sync whose changes do not fit fails that table with disk full, keeps its rows exactly, and syncs once space is freed', async (t) => {
      if (skip) return t.skip(skip)
      const { source, target } = db!
      await source.sql(`
        CREATE TABLE public.synced (id int PRIMARY KEY, v text);
        INSERT INTO public.synced SELECT g, md5(g::text) FROM generate_series(1, 20000) g;`)
      await target.sql(
        `CREATE TABLE public.synced (id int PRIMARY KEY USING INDEX TABLESPACE ${space}, v text) TABLESPACE ${space}`,
      )
      const settings = testConfig({ source: source.url, target: target.url }, { yaml: { mode: 'sync' } })
      const sync = () => new TransferJob({ ...settings, tables: ['public.synced'] }, { notifier: null }).run()
      assert.equal((await sync()).status, 'succeeded')
      await source.sql(`UPDATE public.synced SET v = v || 'x' WHERE id % 20 = 0`)
      const before = await fingerprint(target.url, 'public.synced')
      fill(disk!)
      try {
        const failed = (await sync()).tables[0]
        assert.equal(failed?.status, 'failed')
        assert.equal(failed?.error?.sqlState, '53100')
        assert.match(failed?.error?.message ?? '', /^target failed during sync: .*No space left on device/)
        assert.match(
          failed?.error?.hint ?? '',
          /^the target server ran out of disk space .*a sync for the changed rows/,
        )
        assert.deepEqual(await fingerprint(target.url, 'public.synced'), before, 'the previous rows, exactly')
      } finally {
        rmSync(path.join(disk!, 'filler'))
      }
      const synced = await sync()
      assert.equal(synced.status, 'succeeded', JSON.stringify(synced.tables))
      assert.equal(synced.tables[0]?.sync?.updated, 1000)
      assert.deepEqual(
        await fingerprint(target.url, 'public.synced'),
        await fingerprint(source.url, 'public.synced'),
      )
    })

    test("a sort that fills the source's temporary tablespace fails that table naming the source, not the target", async (t) => {
      if (skip) return t.skip(skip)
      const { source, target } = db!
      await source.sql(`
        CREATE TABLE public.wide AS SELECT g AS id, repeat(md5(g::text), 4) AS v FROM generate_series(1, 100000) g;
        ALTER DATABASE ${source.name} SET temp_tablespaces = ${space};
        ALTER DATABASE ${source.name} SET work_mem = '64kB';`)
      const settings = testConfig({ source: source.url, target: target.url })
      const report = await new TransferJob(
        { ...settings, tables: [{ query: 'SELECT * FROM public.wide ORDER BY v', into: 'public.sorted' }] },
        { notifier: null },
      ).run()
      const sorted = report.tables[0]
      assert.equal(sorted?.status, 'failed')
      assert.equal(sorted?.error?.sqlState, '53100')
      assert.match(
        sorted?.error?.message ?? '',
        /^source failed during COPY: could not write to file .*No space left on device/,
      )
      assert.match(
        sorted?.error?.hint ?? '',
        /^the source server ran out of disk space for the temporary files/,
      )
      await source.sql(`ALTER DATABASE ${source.name} RESET temp_tablespaces`)
    })
  })

  test('a target database whose tablespace is full refuses the login: the run says the disk is full, not to check the URL', async (t) => {
    if (!isRoot) return t.skip('needs root to mount a tmpfs')
    const owner = await localOwner(servers.target)
    if (!owner) return t.skip("the target's data directory is not on this machine")
    const disk = smallDisk('16m')
    if (!disk) return t.skip('mount -t tmpfs failed')
    const space = `tablehaul_login_${process.pid}`
    const name = `full_login_${process.pid}`
    try {
      const folder = path.join(disk, 'target')
      mkdirSync(folder)
      execFileSync('chown', [`${owner.uid}:${owner.gid}`, folder])
      await withClient(servers.target.url, async (client) => {
        await client.query(`CREATE TABLESPACE ${space} LOCATION '${folder}'`)
        await client.query(`CREATE DATABASE ${name} TEMPLATE template0 TABLESPACE ${space}`)
      })
      // No session has written the database's relation cache file (pg_internal.init) yet: the first one must.
      fill(disk)
      const source = await TestDatabase.create(servers.source, 'login_src')
      const report = await new TransferJob(
        testConfig({ source: source.url, target: servers.target.urlFor(name) }),
        { notifier: null },
      ).run()
      await source.drop()
      assert.equal(report.status, 'failed')
      assert.equal(report.error?.code, 'TARGET_UNREACHABLE')
      assert.equal(report.error?.sqlState, '53100')
      assert.match(report.error?.hint ?? '', /^the target server's disk is full where this database lives/)
    } finally {
      await withClient(servers.target.url, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await client.query(`DROP TABLESPACE IF EXISTS ${space}`)
      })
      unmount(disk)
    }
  })

  test(
    "the target's pg_wal full (a PANIC) fails the table saying the server stopped and why; after room is made and the server started, a run completes",
    { skip: isRoot ? false : 'needs root to mount a tmpfs' },
    async (t) => {
      const disk = smallDisk('64m')
      if (!disk) return t.skip('mount -t tmpfs failed')
      // A target of its own: this one is stopped by the test. Small WAL buffers and a WAL writer that wakes
      // rarely leave the write that finds pg_wal full, most often, to the COPY's own backend, whose client is
      // told why; another process's PANIC only ends the connection.
      const server = await TestServer.start('walfull', undefined, {
        wal_writer_delay: "'10s'",
        wal_buffers: "'64kB'",
        synchronous_commit: 'on',
      })
      try {
        const dataDir = await withClient(server.url, async (client) => {
          const { rows } = await client.query<{ dir: string }>(
            `SELECT current_setting('data_directory') AS dir`,
          )
          return rows[0]!.dir
        })
        const owner = statSync(dataDir)
        // pg_wal on the tmpfs, with room for less WAL than the append below writes.
        await server.stop()
        const wal = path.join(disk, 'wal')
        cpSync(path.join(dataDir, 'pg_wal'), wal, { recursive: true })
        execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, wal])
        rmSync(path.join(dataDir, 'pg_wal'), { recursive: true })
        symlinkSync(wal, path.join(dataDir, 'pg_wal'))
        await server.restart()
        const source = await TestDatabase.create(servers.source, 'wal_src')
        const target = await TestDatabase.create(server, 'wal_tgt')
        await source.sql(`
          CREATE TABLE public.items (id int PRIMARY KEY, v text);
          INSERT INTO public.items SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 100000) g;`)
        // An existing table: its COPY is WAL-logged (wal_level minimal skips WAL only for a new file).
        await target.sql(`CREATE TABLE public.items (id int PRIMARY KEY, v text)`)
        // Room for 8 MB more WAL: less than the ~20 MB the copy writes.
        const room = path.join(disk, 'room')
        writeFileSync(room, Buffer.alloc(8 * 1024 * 1024))
        fill(disk)
        rmSync(room)
        const settings = testConfig({ source: source.url, target: target.url }, { yaml: { mode: 'append' } })
        const first = await new TransferJob(settings, { notifier: null }).run()
        const failed = first.tables[0]
        assert.equal(failed?.status, 'failed')
        if (failed?.error?.sqlState === '53100') {
          assert.match(failed.error.message, /could not write to file "pg_wal\/.*No space left on device/)
          assert.match(
            failed.error.hint ?? '',
            /write-ahead log \(pg_wal\) ran out of disk space: PostgreSQL stopped \(PANIC\)/,
          )
        } else {
          // Another process of the server (a session flushing the WAL at its commit) met the full pg_wal
          // first: its PANIC ended this table's connection, and the retries found the server down.
          t.diagnostic(`the PANIC was another process's: ${failed?.error?.message}`)
          assert.equal(failed?.error?.code, 'TARGET_UNREACHABLE')
        }

        // Down, or still failing its crash recovery (then stopped here; it may exit meanwhile, and pg_ctl
        // then finds no PID file: a restart below that found it running would fail).
        await server.stop('immediate').catch(() => {})
        rmSync(path.join(disk, 'filler'))
        await server.restart()
        const second = await new TransferJob(settings, { notifier: null }).run()
        assert.equal(second.status, 'succeeded', JSON.stringify(second.tables))
        assert.deepEqual(
          await fingerprint(target.url, 'public.items'),
          await fingerprint(source.url, 'public.items'),
        )
        await source.drop()
      } finally {
        await server.destroy()
        unmount(disk)
      }
    },
  )
})
