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
