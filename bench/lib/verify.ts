// Does the target database hold exactly what the source holds? Row counts and an order-independent hash
// of every table's rows, and the columns, constraints, indexes and sequence values of both catalogs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import pg from 'pg'
import { sqlFile } from './datasets.js'

/** Pinned on both sides, so that both servers render every value's text form the same way. */
const SESSION_SETTINGS = `SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC';
  SET extra_float_digits = 3; SET bytea_output = 'hex'; SET lc_monetary = 'C'; SET statement_timeout = 0`

export type Endpoint = pg.ClientConfig

export interface Verdict {
  readonly ok: boolean
  /** "OK", or "FAIL: " and the first problems. */
  readonly summary: string
  readonly problems: readonly string[]
  readonly tables: number
}

type Listing = Map<string, string>

interface Catalog {
  readonly tables: Listing
  readonly columns: Listing
  readonly constraints: Listing
  readonly indexes: Listing
  readonly sequences: Listing
}

/** Per table "rows:hash": count(*) and a sum of md5 halves over every row's text form (order-independent). */
type Fingerprints = Record<string, string>

async function withClient<T>(endpoint: Endpoint, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(endpoint)
  await client.connect()
  try {
    await client.query(SESSION_SETTINGS)
    return await work(client)
  } finally {
    await client.end()
  }
}

async function listing(client: pg.Client, file: string): Promise<Listing> {
  const { rows } = await client.query<{ object: string; definition: string }>(sqlFile(file))
  return new Map(rows.map((r) => [r.object, r.definition]))
}

async function catalogOf(endpoint: Endpoint): Promise<Catalog> {
  return withClient(endpoint, async (client) => ({
    tables: await listing(client, 'list_tables.sql'),
    columns: await listing(client, 'list_columns.sql'),
    constraints: await listing(client, 'list_constraints.sql'),
    indexes: await listing(client, 'list_indexes.sql'),
    sequences: await listing(client, 'list_sequences.sql'),
  }))
}

async function fingerprintsOf(endpoint: Endpoint, tables: readonly string[]): Promise<Fingerprints> {
  return withClient(endpoint, async (client) => {
    const result: Fingerprints = {}
    for (const table of tables) {
      // `table` comes from the source catalog, already quoted with format('%I.%I')
      const { rows } = await client.query<{ fp: string }>(
        `SELECT count(*)::text || ':' ||
                coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint::numeric), 0)::text || ':' ||
                coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint::numeric), 0)::text AS fp
           FROM (SELECT md5(t::text) AS h FROM ONLY ${table} AS t) AS s`,
      )
      result[table] = rows[0]!.fp
    }
    return result
  })
}

function compare(kind: string, source: Listing, target: Listing, problems: string[]): void {
  for (const [object, definition] of source) {
    const other = target.get(object)
    if (other === undefined) problems.push(`${kind} ${object} missing`)
    else if (other !== definition)
      problems.push(`${kind} ${object} differs: "${other}" instead of "${definition}"`)
  }
  for (const object of target.keys())
    if (!source.has(object)) problems.push(`${kind} ${object} extra on the target`)
}

/**
 * Compares a target database with its source. The source's fingerprints are cached in `cacheFile` (they
 * only change when the dataset is generated again, which changes the file name).
 */
export async function verifyCopy(source: Endpoint, target: Endpoint, cacheFile: string): Promise<Verdict> {
  const [sourceCatalog, targetCatalog] = await Promise.all([catalogOf(source), catalogOf(target)])
  const tables = [...sourceCatalog.tables.keys()]
  const present = tables.filter((t) => targetCatalog.tables.has(t))
  const cached = existsSync(cacheFile)
    ? (JSON.parse(readFileSync(cacheFile, 'utf8')) as Fingerprints)
    : undefined
  const [sourcePrints, targetPrints] = await Promise.all([
    cached ?? fingerprintsOf(source, tables),
    fingerprintsOf(target, present),
  ])
  if (!cached) writeFileSync(cacheFile, JSON.stringify(sourcePrints))

  const problems: string[] = []
  for (const table of tables) {
    const want = sourcePrints[table]
    const got = targetPrints[table]
    if (got === undefined) problems.push(`table ${table} missing`)
    else if (got.split(':')[0] !== want?.split(':')[0])
      problems.push(`table ${table}: ${got.split(':')[0]} rows instead of ${want?.split(':')[0]}`)
    else if (got !== want) problems.push(`table ${table}: same row count, different contents`)
  }
  for (const table of targetCatalog.tables.keys())
    if (!sourceCatalog.tables.has(table)) problems.push(`table ${table} extra on the target`)
  compare('column', sourceCatalog.columns, targetCatalog.columns, problems)
  compare('constraint', sourceCatalog.constraints, targetCatalog.constraints, problems)
  compare('index', sourceCatalog.indexes, targetCatalog.indexes, problems)
  compare('sequence', sourceCatalog.sequences, targetCatalog.sequences, problems)

  const ok = problems.length === 0
  const summary = ok
    ? 'OK'
    : `FAIL: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (+${problems.length - 3} more)` : ''}`
  return { ok, summary, problems, tables: tables.length }
}
