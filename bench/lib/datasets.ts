// The bench's datasets, generated inside PostgreSQL with generate_series (no client traffic) from the SQL
// files in bench/sql: one source database per case and scale, kept between bench runs.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import type { BenchServer } from './clusters.js'

export const CASE_NAMES = ['standard', 'many-tables', 'huge-values'] as const
export type CaseName = (typeof CASE_NAMES)[number]

/** Bumped whenever a case's SQL changes, so that older generated databases are made again. */
const DATASET_VERSION = 1

const SQL_DIR = path.join(import.meta.dirname, '..', 'sql')

/**
 * A file of bench/sql with its psql variables filled in: `:name` becomes the number, `:'name'` a quoted
 * string. The files stay runnable as they are with `psql -v name=value -f file`.
 */
export function sqlFile(name: string, variables: Record<string, number> = {}): string {
  const text = readFileSync(path.join(SQL_DIR, name), 'utf8')
  return text.replace(
    /(?<![:\w]):(?:'([a-z_]\w*)'|([a-z_]\w*)\b)/g,
    (match, quoted?: string, bare?: string) => {
      const key = (quoted ?? bare)!
      if (!(key in variables)) return match
      return quoted ? `'${variables[key]}'` : String(variables[key])
    },
  )
}

export interface BenchCase {
  readonly name: CaseName
  /** One line: what the case holds at scale 1. */
  readonly description: string
  /** Generates the case's tables into `database`, a new empty database on the source server. */
  generate(source: BenchServer, database: string, scale: number): Promise<void>
  /** About how many MB of tables and indexes it holds at this scale (for the disk-space check). */
  estimatedMb(scale: number): number
  /** The largest single value, in bytes (memory grows with it). */
  readonly largestValueSql: string
}

const standard: BenchCase = {
  name: 'standard',
  description:
    'the reference dataset: accounts (4M narrow rows), wide (1M rows, 20 mixed columns), documents (8,000 TOASTed bodies), 3 small tables; keys, FKs, a check, 5 indexes, a sequence; ~1 GB at scale 1',
  largestValueSql: 'select max(octet_length(body)) as bytes from documents',
  estimatedMb: (scale) => 1260 * scale,
  async generate(source, database, scale) {
    const n = (x: number) => Math.floor(x * scale + 0.5)
    const v = { n_acc: n(4_000_000), n_wide: n(1_000_000), n_docs: n(8000), n_br: Math.max(n(1000), 10) }
    await source.withClient(async (client) => {
      await client.query(sqlFile('standard-1-tables.sql'))
      await client.query(sqlFile('standard-2-small.sql', v))
    }, database)
    // the two big loads in two sessions at once, as the reference harness does
    await Promise.all([
      source.withClient((client) => client.query(sqlFile('standard-3-accounts.sql', v)), database),
      source.withClient((client) => client.query(sqlFile('standard-3-wide-documents.sql', v)), database),
    ])
    await source.withClient((client) => client.query(sqlFile('standard-4-constraints.sql')), database)
  },
}

const manyTables: BenchCase = {
  name: 'many-tables',
  description:
    '1,000 small tables (1,000 rows each at scale 1, at least 10), each with a serial key, a foreign key and an index',
  largestValueSql: 'select max(octet_length(code)) as bytes from many.t0001',
  estimatedMb: (scale) => 80 + 200 * scale,
  async generate(source, database, scale) {
    const rows = Math.max(10, Math.round(1000 * scale))
    await source.withClient(async (client) => {
      await client.query(sqlFile('many-tables.sql'))
      for (let first = 1; first <= 1000; first += 50) {
        await client.query('select pg_temp.make_tables($1, $2, $3)', [first, first + 49, rows])
      }
    }, database)
  },
}

const hugeValues: BenchCase = {
  name: 'huge-values',
  description:
    'a few rows of 100+ MB each: blobs (3 bytea values of 128 MiB at scale 1, at least 1) and big_texts (1 text value of 100 MiB)',
  largestValueSql: 'select max(octet_length(body)) as bytes from blobs',
  estimatedMb: (scale) => Math.max(1, Math.round(3 * scale)) * 128 + 100,
  async generate(source, database, scale) {
    const v = { n_blobs: Math.max(1, Math.round(3 * scale)), blob_mb: 128, text_mb: 100 }
    await source.withClient((client) => client.query(sqlFile('huge-values.sql', v)), database)
  },
}

export const CASES: Readonly<Record<CaseName, BenchCase>> = {
  standard,
  'many-tables': manyTables,
  'huge-values': hugeValues,
}

export interface Dataset {
  readonly case: CaseName
  readonly scale: number
  /** The source database holding it (the target database of a run has the same name). */
  readonly database: string
  /** Table data (heap + TOAST, pg_table_size) and index sizes, in MiB. */
  readonly tableMb: number
  readonly indexMb: number
  readonly tables: number
  readonly largestValueBytes: number
  /** Seconds it took to generate, when this bench run generated it. */
  readonly generatedInS?: number | undefined
}

export function databaseName(name: CaseName, scale: number): string {
  return `bench_${name.replace('-', '_')}_s${String(scale).replace('.', '_')}`
}

/** The dataset of this case and scale on the source server: reused when present, generated otherwise. */
export async function ensureDataset(
  source: BenchServer,
  name: CaseName,
  scale: number,
  say: (line: string) => void,
): Promise<Dataset> {
  const database = databaseName(name, scale)
  const stamp = `tablehaul bench dataset ${name} scale=${scale} version=${DATASET_VERSION}`
  const existing = await source.query<{ comment: string | null }>(
    'postgres',
    `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = ${pg.escapeLiteral(database)}`,
  )
  let generatedInS: number | undefined
  if (existing[0]?.comment !== stamp) {
    say(`generating dataset ${name} at scale ${scale} into ${database} on the source …`)
    const started = Date.now()
    await source.recreateDatabase(database)
    await CASES[name].generate(source, database, scale)
    await source.withClient(async (client) => {
      // frozen and analysed, then checkpointed: reading the source later writes nothing (no hint bits)
      await client.query('vacuum (freeze, analyze)')
      await client.query('checkpoint')
      await client.query(`comment on database ${pg.escapeIdentifier(database)} is ${pg.escapeLiteral(stamp)}`)
    }, database)
    generatedInS = (Date.now() - started) / 1000
  }
  const [sizes] = await source.query<{ table_mb: string; index_mb: string; tables: string }>(
    database,
    `select round(sum(pg_table_size(c.oid)) / 1048576.0, 1) as table_mb,
            round(sum(pg_indexes_size(c.oid)) / 1048576.0, 1) as index_mb, count(*) as tables
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname not in ('information_schema') and n.nspname !~ '^pg_'`,
  )
  const [largest] = await source.query<{ bytes: string }>(database, CASES[name].largestValueSql)
  return {
    case: name,
    scale,
    database,
    tableMb: Number(sizes?.table_mb),
    indexMb: Number(sizes?.index_mb),
    tables: Number(sizes?.tables),
    largestValueBytes: Number(largest?.bytes),
    generatedInS,
  }
}
