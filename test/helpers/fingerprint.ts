import assert from 'node:assert/strict'
import { withClient } from './servers.js'

/** Pinned like tablehaul's own sessions, so both servers render every value's text form the same way. */
const SETTINGS = `SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET bytea_output = 'hex'; SET lc_monetary = 'C'`

export interface Fingerprint {
  readonly rows: number
  /** An order-independent hash of every row's text form. */
  readonly hash: string
}

/**
 * Row count and an order-independent hash of all rows' text forms, as the fidelity checks compare them.
 * `ROW(alias.*)`, not `alias::text`: with a column named like the alias, that would be the column's text.
 */
export async function fingerprint(url: string, table: string): Promise<Fingerprint> {
  return withClient(url, async (client) => {
    await client.query(SETTINGS)
    const { rows } = await client.query<{ rows: string; hash: string | null }>(
      `SELECT count(*)::text AS rows,
              coalesce(sum(('x' || substr(md5(ROW(whole_row.*)::text), 1, 15))::bit(60)::bigint::numeric), 0)::text || ':' ||
              coalesce(sum(('x' || substr(md5(ROW(whole_row.*)::text), 16, 15))::bit(60)::bigint::numeric), 0)::text AS hash
         FROM ${table} AS whole_row`,
    )
    return { rows: Number(rows[0]!.rows), hash: rows[0]!.hash ?? '' }
  })
}

/**
 * Every row's text form, ordered by its own bytes, for a row-by-row comparison (a difference names the
 * row). A read that a lock would block fails after 10 s instead of waiting.
 */
export async function rowsOf(db: { readonly url: string }, table: string): Promise<string[]> {
  return withClient(db.url, async (client) => {
    await client.query(`${SETTINGS}; SET lock_timeout = '10s'`)
    const { rows } = await client.query<{ row: string }>(
      `SELECT row FROM (SELECT ROW(t.*)::text AS row FROM ${table} AS t) AS r ORDER BY row COLLATE "C"`,
    )
    return rows.map((r) => r.row)
  })
}

/** The target's table holds exactly the source's rows. */
export async function assertSameRows(
  db: { readonly source: { readonly url: string }; readonly target: { readonly url: string } },
  table: string,
): Promise<void> {
  const [expected, actual] = await Promise.all([rowsOf(db.source, table), rowsOf(db.target, table)])
  assert.deepEqual(actual, expected, `${table}: the target's rows differ from the source's`)
}
