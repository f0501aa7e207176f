import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { TransferJob } from '../../src/run/transfer-job.js'
import { runCli } from '../helpers/cli.js'
import { tempDir, testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { testServers } from '../helpers/servers.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

/**
 * public.held has everything whose catalog text PostgreSQL writes under a lock on the table (a column
 * default, a CHECK constraint, an index, a rule, a policy, statistics, never analysed so pg_table_size
 * measures it); public.free is a plain table next to it. Both exist on the target with old rows.
 */
const TABLES = `
  CREATE TABLE public.held (id int PRIMARY KEY, note text DEFAULT 'none' CHECK (note <> ''), n int);
  CREATE INDEX held_note ON public.held (note);
  CREATE STATISTICS held_stats ON note, n FROM public.held;
  CREATE TABLE public.free (id int PRIMARY KEY, note text);
`
const SOURCE_ROWS = `
  INSERT INTO public.held SELECT g, 'new', g FROM generate_series(1, 500) g;
  INSERT INTO public.free SELECT g, 'new' FROM generate_series(1, 300) g;
  CREATE RULE held_rule AS ON UPDATE TO public.held DO ALSO NOTIFY held;
  ALTER TABLE public.held ENABLE ROW LEVEL SECURITY;
  CREATE POLICY held_policy ON public.held USING (n > 0);
`
const TARGET_ROWS = `
  INSERT INTO public.held SELECT g, 'old', g FROM generate_series(1, 10) g;
  INSERT INTO public.free SELECT g, 'old' FROM generate_series(1, 10) g;
`

/** A session that holds an ACCESS EXCLUSIVE lock on `table` until released. */
async function lockTable(url: string, table: string): Promise<{ pid: number; release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  return {
    pid: rows[0]!.pid,
    release: async () => {
      await client.query('ROLLBACK')
      await client.end()
    },
  }
}

async function scene(name: string): Promise<DatabasePair> {
  const db = await databasePair(servers, name)
  await db.source.sql(TABLES + SOURCE_ROWS)
  await db.target.sql(TABLES + TARGET_ROWS)
  return db
}

describe('a table another session locks', () => {
  for (const side of ['source', 'target'] as const) {
    test(`locked on the ${side}, it fails alone, named, with what to do; the other tables are copied`, async () => {
      const db = await scene(`locked_${side}`)
      const lock = await lockTable(db[side].url, 'public.held')
      try {
        const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
        config.timeouts.lock = 5000
        const report = await new TransferJob(config).run()

        assert.equal(report.error, undefined, `the run itself does not fail: ${JSON.stringify(report.error)}`)
        assert.equal(report.status, 'failed', 'one table failed')
        const free = report.tables.find((t) => t.table === 'public.free')
        assert.equal(free?.status, 'copied')
        const held = report.tables.find((t) => t.table === 'public.held')
        assert.equal(held?.status, 'failed')
        assert.equal(held?.error?.code, 'TABLE_LOCKED')
        assert.match(held?.error?.message ?? '', new RegExp(`${side} table public\\.held is locked`))
        assert.match(held?.error?.message ?? '', new RegExp(`server pid ${lock.pid}`))
        assert.match(held?.error?.hint ?? '', /pg_stat_activity WHERE pid = \d+/)
        await lock.release()
        const rows = await db.target.sql<{ note: string; n: string }>(
          'SELECT note, count(*) AS n FROM public.held GROUP BY note',
        )
        assert.deepEqual(rows, [{ note: 'old', n: '10' }], 'the locked table keeps its old rows')
        const freeRows = await db.target.sql<{ n: string }>('SELECT count(*) AS n FROM public.free')
        assert.equal(freeRows[0]?.n, '300')
      } finally {
        await lock.release().catch(() => {})
        await db.drop()
      }
    })
  }

  test('a long read of a table at one end of a foreign key fails the two tables the key joins, named; the others are copied', async () => {
    const db = await databasePair(servers, 'locked_key')
    const tables = `
      CREATE TABLE public.parent (id int PRIMARY KEY, note text);
      CREATE TABLE public.child (id int PRIMARY KEY, parent_id int REFERENCES public.parent, note text);
      CREATE TABLE public.free (id int PRIMARY KEY, note text);
    `
    await db.source.sql(`${tables}
      INSERT INTO public.parent SELECT g, 'new' FROM generate_series(1, 100) g;
      INSERT INTO public.child SELECT g, 1 + g % 100, 'new' FROM generate_series(1, 200) g;
      INSERT INTO public.free SELECT g, 'new' FROM generate_series(1, 300) g;`)
    await db.target.sql(`${tables}
      INSERT INTO public.parent SELECT g, 'old' FROM generate_series(1, 10) g;
      INSERT INTO public.child SELECT g, g, 'old' FROM generate_series(1, 10) g;
      INSERT INTO public.free SELECT g, 'old' FROM generate_series(1, 10) g;`)
    // A report reading public.child in a long transaction: it holds ACCESS SHARE until it ends, which is
    // enough to make dropping the key (ACCESS EXCLUSIVE on public.child) wait.
    const reader = new pg.Client({ connectionString: db.target.url })
    await reader.connect()
    try {
      await reader.query('BEGIN; SELECT count(*) FROM public.child')
      const { rows } = await reader.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
      config.timeouts.lock = 2000
      const report = await new TransferJob(config).run()

      assert.equal(report.error, undefined, `the run itself does not fail: ${JSON.stringify(report.error)}`)
      assert.equal(report.status, 'failed')
      const byName = new Map(report.tables.map((t) => [t.table, t]))
      assert.equal(byName.get('public.free')?.status, 'copied')
      const child = byName.get('public.child')
      assert.equal(child?.status, 'failed')
      assert.equal(child?.error?.code, 'TABLE_LOCKED')
      assert.match(child?.error?.message ?? '', /^target table public\.child is locked/)
      assert.match(child?.error?.message ?? '', new RegExp(`server pid ${rows[0]!.pid}`))
      assert.match(
        child?.error?.message ?? '',
        /foreign key child_parent_id_fkey between public\.child and public\.parent/,
      )
      assert.match(child?.error?.hint ?? '', new RegExp(`pg_stat_activity WHERE pid = ${rows[0]!.pid}`))
      const parent = byName.get('public.parent')
      assert.equal(parent?.status, 'failed')
      assert.equal(parent?.error?.code, 'TABLE_LOCKED')
      assert.match(parent?.error?.message ?? '', /^not written: target table public\.child is locked/)
      await reader.query('ROLLBACK')

      const kept = await db.target.sql<{ t: string; note: string; n: string }>(
        `SELECT 'parent' AS t, note, count(*) AS n FROM public.parent GROUP BY note
         UNION ALL SELECT 'child', note, count(*) FROM public.child GROUP BY note
         UNION ALL SELECT 'free', note, count(*) FROM public.free GROUP BY note ORDER BY 1`,
      )
      assert.deepEqual(kept, [
        { t: 'child', note: 'old', n: '10' },
        { t: 'free', note: 'new', n: '300' },
        { t: 'parent', note: 'old', n: '10' },
      ])
      const keys = await db.target.sql<{ conname: string; convalidated: boolean }>(
        "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' AND conrelid = 'public.child'::regclass",
      )
      assert.deepEqual(
        keys,
        [{ conname: 'child_parent_id_fkey', convalidated: true }],
        'the key is still there',
      )
    } finally {
      await reader.end().catch(() => {})
      await db.drop()
    }
  })

  test('a long read of one partition holds the key of its partitioned table: the tables it joins fail, naming the reader', async () => {
    const db = await databasePair(servers, 'locked_partition_key')
    const tables = `
      CREATE TABLE public.parent (id int PRIMARY KEY);
      CREATE TABLE public.events (id int, parent_id int REFERENCES public.parent, at int) PARTITION BY RANGE (at);
      CREATE TABLE public.events_1 PARTITION OF public.events FOR VALUES FROM (0) TO (100);
      CREATE TABLE public.events_2 PARTITION OF public.events FOR VALUES FROM (100) TO (200);
      CREATE TABLE public.free (id int PRIMARY KEY);
    `
    const rows = `
      INSERT INTO public.parent SELECT g FROM generate_series(1, 10) g;
      INSERT INTO public.events SELECT g, 1 + g % 10, g FROM generate_series(0, 199) g;
      INSERT INTO public.free SELECT g FROM generate_series(1, 5) g;
    `
    await db.source.sql(tables + rows)
    await db.target.sql(tables)
    const reader = new pg.Client({ connectionString: db.target.url })
    await reader.connect()
    try {
      await reader.query('BEGIN; SELECT count(*) FROM public.events_1')
      const { rows: me } = await reader.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      const config = testConfig({ source: db.source.url, target: db.target.url, tables: ['public.*'] })
      config.timeouts.lock = 2000
      const report = await new TransferJob(config).run()

      assert.equal(report.error, undefined, `the run itself does not fail: ${JSON.stringify(report.error)}`)
      const status = Object.fromEntries(report.tables.map((t) => [t.table, t.error?.code ?? t.status]))
      assert.deepEqual(
        status,
        {
          'public.events_1': 'TABLE_LOCKED',
          'public.events_2': 'TABLE_LOCKED',
          'public.free': 'copied',
          'public.parent': 'TABLE_LOCKED',
        },
        JSON.stringify(report.tables.map((t) => t.error?.message)),
      )
      for (const table of report.tables.filter((t) => t.status === 'failed'))
        assert.match(
          table.error?.message ?? '',
          new RegExp(`target table public\\.events is locked: another session \\(server pid ${me[0]!.pid}`),
        )
    } finally {
      await reader.end().catch(() => {})
      await db.drop()
    }
  })

  test('plan names the locked table instead of an unexpected error', async () => {
    const db = await scene('locked_plan')
    const lock = await lockTable(db.target.url, 'public.held')
    try {
      const dir = tempDir()
      writeFileSync(path.join(dir, 'tablehaul.yaml'), 'timeouts:\n  lock: 5s\n')
      const result = await runCli(
        ['plan', '--source', db.source.url, '--target', db.target.url, '--table', 'public.*'],
        { cwd: dir },
      )
      const output = result.stdout + result.stderr
      assert.doesNotMatch(output, /unexpected error/i)
      assert.match(output, /target table public\.held is locked/)
      assert.match(output, /public\.free/)
      assert.equal(
        result.code,
        1,
        'a table that cannot be copied makes the plan fail (exit 1, not 2 or INTERNAL)',
      )
    } finally {
      await lock.release()
      await db.drop()
    }
  })
})
