import assert from 'node:assert/strict'
import type { RunReport, TableResult } from '../../src/report/run-report.js'
import { TransferJob } from '../../src/run/transfer-job.js'
import { waitFor } from './cli.js'
import { testConfig } from './config.js'
import type { TestDatabase } from './servers.js'

/** The table's entry in the report, which must say it was copied. */
export function copied(report: RunReport, name: string): TableResult {
  const found = report.tables.find((t) => t.table === name)
  assert.ok(found, `${name} is in the report: ${JSON.stringify(report.tables)}`)
  assert.equal(found.status, 'copied', JSON.stringify(found))
  return found
}

/** The table's notes, one per line. */
export const notes = (table: TableResult): string => table.warnings?.join('\n') ?? ''

/** The sync compared every row, saying why the recorded position could not be used. */
export function assertAll(report: RunReport, name: string, reason: RegExp): TableResult {
  const table = copied(report, name)
  assert.equal(table.syncCompared, 'all', `${name}: ${JSON.stringify(table)}`)
  assert.match(notes(table), new RegExp(`compared every row: ${reason.source}`), name)
  return table
}

/** One run between a source and a target database, as the library runs it, without the e-mail. */
export function runBetween(
  db: { readonly source: { readonly url: string }; readonly target: { readonly url: string } },
  mode: 'sync' | 'replace' = 'sync',
  yaml: Record<string, unknown> = {},
  hooks: (job: TransferJob) => void = () => {},
): Promise<RunReport> {
  const job = new TransferJob(testConfig({ source: db.source.url, target: db.target.url, mode }, { yaml }), {
    notifier: null,
  })
  hooks(job)
  return job.run()
}

/**
 * Waits until the source's statistics count at least `n` deletes in each of `tables`: only then does a sync
 * count and sum the keys in its first pass, which is what finds deletes by their sums.
 */
export function deletesCounted(source: TestDatabase, tables: readonly string[], n: number): Promise<void> {
  const relations = tables.map((table) => `'${table}'::regclass`).join(', ')
  return waitFor(
    async () => {
      const [row] = await source.sql<{ n: number }>(
        `SELECT min(n_tup_del)::int AS n FROM pg_stat_all_tables WHERE relid IN (${relations})`,
      )
      return row!.n >= n
    },
    30_000,
    'the statistics to count the deletes',
  )
}
