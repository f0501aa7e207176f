import assert from 'node:assert/strict'
import type { RunReport, TableResult } from '../../src/report/run-report.js'

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
