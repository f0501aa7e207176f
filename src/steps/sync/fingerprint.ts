import type pg from 'pg'
import { quoteIdent } from '../../db/table-ref.js'

/**
 * The SQL both servers run to fingerprint rows. A row's fingerprint is a 64-bit hash of its text form,
 * `ROW(c1, c2, …)::text`: the record output function writes each column with the column type's own output
 * function under the session settings tablehaul pins on both sides (DateStyle, TimeZone UTC,
 * extra_float_digits, bytea_output…), which is also what COPY writes. So two rows hash equal exactly when
 * COPY would render them equal: numeric 1.0 and 1.00, float 0 and -0, or a jsonb whose text changed are
 * differences even though `=` calls them equal. A type's own hash function is never used: it follows `=`.
 *
 * The hash of the text is `hashtextextended` under the "C" collation, which hashes the bytes (PostgreSQL
 * 11 and later; the same Jenkins lookup3 function in every version since), several times cheaper than
 * md5 and its hex text. Its result depends on the machine's byte order, so a run first asks both servers
 * to hash the same probe text, and where they disagree hashes with md5 instead (see hashingOf).
 */
export type Hashing = 'jenkins' | 'md5'

const PROBE = `'tablehaul fingerprint probe: ü ∑ 😀'`

/** A server's Jenkins hash of the probe text; undefined where it has none (before PostgreSQL 11). */
export async function hashProbe(client: pg.ClientBase): Promise<string | undefined> {
  try {
    const { rows } = await client.query<{ h: string }>(
      `SELECT pg_catalog.hashtextextended(${PROBE} COLLATE pg_catalog."C", 0)::text AS h`,
    )
    return rows[0]?.h
  } catch {
    return undefined
  }
}

/** Jenkins where both servers hash the probe alike; md5 otherwise (it is the same everywhere). */
export function hashingFor(source: string | undefined, target: string | undefined): Hashing {
  return source !== undefined && source === target ? 'jenkins' : 'md5'
}

export async function hashingOf(source: pg.ClientBase, target: pg.ClientBase): Promise<Hashing> {
  const [a, b] = await Promise.all([hashProbe(source), hashProbe(target)])
  return hashingFor(a, b)
}

/** The columns a fingerprint covers, in the source's order, with the alias of the relation. */
export function rowText(alias: string, columns: readonly string[]): string {
  return `ROW(${columns.map((name) => `${alias}.${quoteIdent(name)}`).join(', ')})::text`
}

/** A 64-bit hash (int8) of `text`; `seed` keeps the row hash and the key's bucket hash independent. */
function hashOf(text: string, hashing: Hashing, seed: 0 | 1): string {
  if (hashing === 'jenkins') return `pg_catalog.hashtextextended((${text}) COLLATE pg_catalog."C", ${seed})`
  const digest = `pg_catalog.md5(${seed ? `'1:' || ` : ''}${text})`
  return `('x' || pg_catalog.substr(${digest}, 1, 16))::bit(64)::int8`
}

/** A row's fingerprint: an int8. */
export function rowHash(alias: string, columns: readonly string[], hashing: Hashing): string {
  return hashOf(rowText(alias, columns), hashing, 0)
}

/**
 * The bucket of a row's key, 0 … buckets-1: a hash of the key's text form, so that a key falls into the
 * same bucket on both servers whatever their collations or sort orders.
 */
export function bucketOf(alias: string, key: readonly string[], buckets: number, hashing: Hashing): string {
  return `((${hashOf(rowText(alias, key), hashing, 1)} & 9223372036854775807) % ${Math.trunc(buckets)})::int4`
}

/**
 * A set of rows' fingerprint is its row count and the sums of the two halves of its row hashes (the high
 * 32 bits, and the low 31): independent of row order, and unlike an XOR, two equal rows do not cancel
 * each other out. Summed as int4 the halves aggregate in an int8 (a bucket holds far fewer than 2^32
 * rows), much cheaper than int8 sums, which aggregate in numeric.
 */
export function hashHalves(hash: string): { high: string; low: string } {
  return { high: `(${hash} >> 32)::int4`, low: `(${hash} & 2147483647)::int4` }
}

/** Row count and the two sums over `relation` (a table with ONLY, or a subquery), as one row of text. */
export function wholeFingerprintSql(
  relation: string,
  columns: readonly string[],
  hashing: Hashing,
  where?: string,
): string {
  const halves = hashHalves('h')
  const filter = where ? ` WHERE (${where})` : ''
  // The sums over a whole table are taken as numeric: a table may hold more than 2^32 rows.
  return `SELECT count(*)::text AS rows, coalesce(sum(${halves.high}::int8), 0)::text AS first, coalesce(sum(${halves.low}::int8), 0)::text AS second
  FROM (SELECT ${rowHash('t', columns, hashing)} AS h FROM ${relation} AS t${filter}) AS hashed`
}

/** A table's fingerprint as both sides compare it. */
export interface Fingerprint {
  readonly rows: number
  readonly first: string
  readonly second: string
}

export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.rows === b.rows && a.first === b.first && a.second === b.second
}
