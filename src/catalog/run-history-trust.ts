import type pg from 'pg'
import { sqlFolder } from '../db/sql-file.js'

const sqlFile = sqlFolder(new URL('./sql/', import.meta.url))

/**
 * Why tablehaul's records in schema "tablehaul" on a target are not to be trusted (see
 * untrusted_run_history.sql): one line per problem, none when every object there is a trusted role's and
 * nobody else can write through it. A run refuses to write there then; a plan reads nothing from there.
 */
export async function runHistoryTrustProblems(
  query: <R extends pg.QueryResultRow>(sql: string) => Promise<pg.QueryResult<R>>,
): Promise<string[]> {
  const { rows } = await query<{ problem: string }>(sqlFile('untrusted_run_history'))
  return rows.map((row) => row.problem)
}
