import type pg from 'pg'
import { quoteIdent } from '../../db/table-ref.js'
import type { TablePlan } from '../plan/planner.js'

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
 * to hash the same probe text, and where they disagree hashes with md5 instead (see hashingOf). Both hash
 * the bytes of the text in the server's encoding: between a LATIN1 (or any other) database and a UTF8
 * one, the same text is other bytes, so there both hash the md5 of the text converted to UTF8.
 */
export type Hashing = 'jenkins' | 'md5' | 'md5-utf8'

/** ASCII, which every server encoding holds: a query text the server cannot convert fails. */
const PROBE = `'tablehaul fingerprint probe'`

/** What decides how both servers hash: the database's encoding, and its Jenkins hash of the probe text. */
export interface HashSide {
  readonly encoding: string
  /** Undefined where the server has no hashtextextended (before PostgreSQL 11). */
  readonly probe: string | undefined
}

/**
 * A server's encoding and Jenkins hash of the probe text. Without an error on any server: the source's
 * client is in the run's snapshot, which an error would abort.
 */
export async function hashProbe(client: pg.ClientBase): Promise<HashSide> {
  const { rows } = await client.query<{ encoding: string; jenkins: boolean }>(
    `SELECT pg_catalog.current_setting('server_encoding') AS encoding,
            pg_catalog.to_regprocedure('pg_catalog.hashtextextended(text, int8)') IS NOT NULL AS jenkins`,
  )
  const { encoding, jenkins } = rows[0]!
  if (!jenkins) return { encoding, probe: undefined }
  const probe = await client.query<{ h: string }>(
    `SELECT pg_catalog.hashtextextended(${PROBE} COLLATE pg_catalog."C", 0)::text AS h`,
  )
  return { encoding, probe: probe.rows[0]?.h }
}

/**
 * Jenkins where both servers hash the probe alike in the same encoding; md5 otherwise (it is the same
 * everywhere), of the text converted to UTF8 where the encodings differ.
 */
export function hashingFor(source: HashSide, target: HashSide): Hashing {
  if (source.encoding !== target.encoding) return 'md5-utf8'
  return source.probe !== undefined && source.probe === target.probe ? 'jenkins' : 'md5'
}

export async function hashingOf(source: pg.ClientBase, target: pg.ClientBase): Promise<Hashing> {
  const [a, b] = await Promise.all([hashProbe(source), hashProbe(target)])
  return hashingFor(a, b)
}

/** The columns a fingerprint covers, in the source's order, with the alias of the relation. */
export function rowText(alias: string, columns: readonly string[]): string {
  return `ROW(${columns.map((name) => `${alias}.${quoteIdent(name)}`).join(', ')})::text`
}

/** rowText over hashed columns, each as columnValue writes it. */
function rowTextOf(alias: string, columns: readonly HashedColumn[]): string {
  return `ROW(${columns.map((column) => columnValue(alias, column)).join(', ')})::text`
}

/**
 * A column's value as the fingerprint reads it: on the source, a column the target holds in another type
 * (an existing table of a wider one: timestamptz for timestamp, jsonb for json, text for anything) as the
 * target holds it after COPY, which writes the source type's output and reads it with the target type's
 * input. format('%s') is the output function itself (a cast to text is not: inet's adds the netmask,
 * boolean's spells true, char(n)'s drops the padding); num_nulls is 0 for a composite value whose
 * fields are all NULL, which IS NULL calls NULL.
 */
function columnValue(alias: string, column: HashedColumn): string {
  const value = `${alias}.${quoteIdent(column.name)}`
  if (!column.asType) return value
  return `(CASE WHEN pg_catalog.num_nulls(${value}) = 0 THEN pg_catalog.format('%s', ${value})::${column.asType} END)`
}

/** A 64-bit hash (int8) of `text`; `seed` keeps the row hash and the key's bucket hash independent. */
function hashOf(text: string, hashing: Hashing, seed: 0 | 1): string {
  if (hashing === 'jenkins') return `pg_catalog.hashtextextended((${text}) COLLATE pg_catalog."C", ${seed})`
  const salted = `${seed ? `'1:' || ` : ''}${text}`
  const digest = `pg_catalog.md5(${hashing === 'md5-utf8' ? `pg_catalog.convert_to(${salted}, 'UTF8')` : salted})`
  return `('x' || pg_catalog.substr(${digest}, 1, 16))::bit(64)::int8`
}

/** A column a fingerprint covers; `typeOid` when both sides have the same type (see hashedColumns). */
export interface HashedColumn {
  readonly name: string
  readonly typeOid?: number | undefined
  /** On the source, the target column's type where it differs: the value is hashed as the target holds it. */
  readonly asType?: string | undefined
}

/**
 * Built-in types whose text form is a one-to-one image of their value, hashed from the value without
 * writing it out as text (several times cheaper than the output functions): equal hashes still mean equal
 * text forms. timestamptz is hashed as its UTC wall-clock time, which is what its text under TimeZone UTC
 * shows. Not here: numeric (1.0 and 1.00), floats (0 and -0), char(n) (its hash ignores trailing blanks),
 * date and the rest, which go through their text.
 */
const VALUE_HASHES: ReadonlyMap<number, (value: string, seed: number) => string> = new Map([
  [16, (v, seed) => `pg_catalog.hashint4extended(${v}::int4, ${seed})`], // boolean
  [20, (v, seed) => `pg_catalog.hashint8extended(${v}, ${seed})`], // bigint
  [21, (v, seed) => `pg_catalog.hashint2extended(${v}, ${seed})`], // smallint
  [23, (v, seed) => `pg_catalog.hashint4extended(${v}, ${seed})`], // integer
  [25, (v, seed) => `pg_catalog.hashtextextended(${v} COLLATE pg_catalog."C", ${seed})`], // text
  [26, (v, seed) => `pg_catalog.hashoidextended(${v}, ${seed})`], // oid
  [1043, (v, seed) => `pg_catalog.hashtextextended(${v}::text COLLATE pg_catalog."C", ${seed})`], // varchar
  [1114, (v, seed) => `pg_catalog.timestamp_hash_extended(${v}, ${seed})`], // timestamp
  [1184, (v, seed) => `pg_catalog.timestamp_hash_extended(${v} AT TIME ZONE 'UTC', ${seed})`], // timestamptz
  [2950, (v, seed) => `pg_catalog.uuid_hash_extended(${v}, ${seed})`], // uuid
])

/**
 * The plan's columns, with their type where source and target agree on a built-in one. `asTarget` (the
 * source's side of a sync's comparison and of `verify: checksum`): with the target's type where the target
 * table has the column in another, so that a value the target holds as COPY wrote it is no difference. An
 * existing target table of wider types (timestamptz for timestamp, jsonb for json) holds each value in its
 * own text form, and a check of the raw texts would fail such a table on every run.
 */
export function hashedColumns(
  plan: TablePlan,
  options: { readonly asTarget?: boolean } = {},
): HashedColumn[] {
  const sourceColumns = plan.source.kind === 'table' ? plan.source.table.columns : []
  const targetColumns = plan.targetTable?.columns ?? []
  return plan.columns.map(({ name }) => {
    const source = sourceColumns.find((column) => column.name === name)
    const target = targetColumns.find((column) => column.name === name)
    return {
      name,
      typeOid: source !== undefined && source.typeOid === target?.typeOid ? source.typeOid : undefined,
      asType: options.asTarget && source && target && source.type !== target.type ? target.type : undefined,
    }
  })
}

/**
 * A row's fingerprint, an int8: with Jenkins hashing, the XOR of a hash of each column whose type hashes
 * by value (VALUE_HASHES; its position is its seed, so values swapped between columns differ, and a NULL
 * hashes as minus its position) and one hash of the text form of all the other columns together.
 */
export function rowHash(alias: string, columns: readonly HashedColumn[], hashing: Hashing): string {
  if (hashing !== 'jenkins') return hashOf(rowTextOf(alias, columns), hashing, 0)
  const parts: string[] = []
  const rest: HashedColumn[] = []
  columns.forEach((column, index) => {
    const byValue = column.typeOid === undefined ? undefined : VALUE_HASHES.get(column.typeOid)
    const value = `${alias}.${quoteIdent(column.name)}`
    if (byValue) parts.push(`coalesce(${byValue(value, index + 1)}, ${-(index + 1)})`)
    else rest.push(column)
  })
  if (rest.length > 0) parts.push(hashOf(rowTextOf(alias, rest), hashing, 0))
  return parts.length === 1 ? parts[0]! : `(${parts.join(' # ')})`
}

/**
 * An int8 constant. Each operator tablehaul applies must have an exact match in pg_catalog for its operand
 * types: PostgreSQL searches pg_catalog first only among equally good matches, so `int8 & 2147483647`
 * (int8 & int4, which pg_catalog has not) would run an `&(int8, int4)` that any role allowed to create in
 * public (every role before PostgreSQL 15) may define there, as tablehaul's role.
 */
export function int8(value: number | bigint): string {
  return `'${BigInt(value)}'::pg_catalog.int8`
}

/**
 * The bucket of a row's key, 0 … buckets-1: a hash of the key's text form, so that a key falls into the
 * same bucket on both servers whatever their collations or sort orders.
 */
export function bucketOf(
  alias: string,
  key: readonly HashedColumn[],
  buckets: number,
  hashing: Hashing,
): string {
  return bucketOfHash(hashOf(rowTextOf(alias, key), hashing, 1), buckets)
}

/** An int8 hash's bucket, 0 … buckets-1, as an int4. */
export function bucketOfHash(hash: string, buckets: number): string {
  return `((${hash} & ${int8(9223372036854775807n)}) % ${int8(Math.trunc(buckets))})::int4`
}

/**
 * A set of rows' fingerprint is its row count and the sums of the two halves of its row hashes (the high
 * 32 bits, and the low 31): independent of row order, and unlike an XOR, two equal rows do not cancel
 * each other out. Summed as int4 the halves aggregate in an int8 (a bucket holds far fewer than 2^32
 * rows), much cheaper than int8 sums, which aggregate in numeric.
 */
export function hashHalves(hash: string): { high: string; low: string } {
  return { high: `(${hash} >> 32)::int4`, low: `(${hash} & ${int8(2147483647)})::int4` }
}

/** Row count and the two sums over `relation` (a table with ONLY, or a subquery), as one row of text. */
export function wholeFingerprintSql(
  relation: string,
  columns: readonly HashedColumn[],
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
