import { quoteIdent } from '../../db/table-ref.js'

/**
 * The SQL both servers run to fingerprint rows. A row's fingerprint is the md5 of its text form,
 * `ROW(c1, c2, …)::text`: the record output function writes each column with the column type's own output
 * function under the session settings tablehaul pins on both sides (DateStyle, TimeZone UTC,
 * extra_float_digits, bytea_output…), which is also what COPY writes. So two rows hash equal exactly when
 * COPY would render them equal: numeric 1.0 and 1.00, float 0 and -0, or a jsonb whose text changed are
 * differences even though `=` calls them equal. md5 is computed the same way by every PostgreSQL version;
 * a type's hash functions are not (and may follow `=` instead of the text).
 */

/** The columns a fingerprint covers, in the source's order, with the alias of the relation. */
export function rowText(alias: string, columns: readonly string[]): string {
  return `ROW(${columns.map((name) => `${alias}.${quoteIdent(name)}`).join(', ')})::text`
}

export function rowHash(alias: string, columns: readonly string[]): string {
  return `pg_catalog.md5(${rowText(alias, columns)})`
}

/**
 * The bucket of a row's key: the first 32 bits of the md5 of the key's text form, modulo the number of
 * buckets. Hashing the key's text (not comparing keys by range) puts a key into the same bucket on both
 * servers whatever their collations or sort orders.
 */
export function bucketOf(alias: string, key: readonly string[], buckets: number): string {
  return `((('x' || pg_catalog.substr(pg_catalog.md5(${rowText(alias, key)}), 1, 8))::bit(32)::int8 % ${Math.trunc(buckets)})::int4)`
}

/**
 * The two 64-bit halves of an md5 (a 32-digit hex text) as signed bigints. Their sums over a set of rows
 * (as numeric, which cannot overflow) are the set's fingerprint: independent of row order, and unlike an
 * XOR, two equal rows do not cancel each other out.
 */
export function hashHalves(hash: string): { first: string; second: string } {
  return {
    first: `('x' || pg_catalog.substr(${hash}, 1, 16))::bit(64)::int8`,
    second: `('x' || pg_catalog.substr(${hash}, 17, 16))::bit(64)::int8`,
  }
}

/** Row count and the two sums over `relation` (a table with ONLY, or a subquery), as one row of text. */
export function wholeFingerprintSql(relation: string, columns: readonly string[], where?: string): string {
  const halves = hashHalves('h')
  const filter = where ? ` WHERE (${where})` : ''
  return `SELECT count(*)::text AS rows, coalesce(sum(${halves.first}), 0)::text AS first, coalesce(sum(${halves.second}), 0)::text AS second
  FROM (SELECT ${rowHash('t', columns)} AS h FROM ${relation} AS t${filter}) AS hashed`
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
