/**
 * Would splitting one big table into parts pay? Copies one source table into a fresh target database two
 * ways, alternating, and prints the wall time of each:
 *
 * - `one stream`: what tablehaul does: one target transaction, TRUNCATE and COPY … FREEZE (the rows are
 *   written frozen, and on a wal_level=minimal server without WAL).
 * - `N parts`: the table read as N ctid ranges (TID range scans, PostgreSQL ≥ 14) in parallel, each part
 *   COPYed in its own transaction into a shadow table, as a split copy that keeps a replace atomic would
 *   have to do (the swap at the end is not timed). FREEZE is impossible there: the shadow table was not
 *   created or truncated in the parts' transactions.
 *
 * Both use tablehaul's own COPY path and binary COPY; every pair's row counts are compared.
 *
 *   node --import tsx bench/experiments/split-parts.ts SOURCE_URL TARGET_ADMIN_URL TABLE [PARTS] [PAIRS]
 */
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { copyIn } from '../../src/steps/copy/copy-in.js'
import { copyOut } from '../../src/steps/copy/copy-out.js'

const args = process.argv.slice(2)
if (args.length < 3) {
  console.error('usage: split-parts.ts SOURCE_URL TARGET_ADMIN_URL TABLE [PARTS] [PAIRS]')
  process.exit(2)
}
const [sourceUrl, targetAdminUrl, table, partsArg = '2', pairsArg = '3'] = args as [
  string,
  string,
  string,
  ...string[],
]
const parts = Number(partsArg)
const database = 'tablehaul_split_experiment'
const targetUrl = Object.assign(new URL(targetAdminUrl), { pathname: `/${database}` }).toString()

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url)
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

const { pages, size, columns } = await withClient(sourceUrl, async (client) => {
  const { rows } = await client.query<{ pages: number; size: string; columns: string }>(
    `SELECT c.relpages AS pages, pg_size_pretty(pg_table_size(c.oid)) AS size,
            (SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
               FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) AS columns
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [table],
  )
  return rows[0]!
})
await withClient(targetAdminUrl, async (client) => {
  await client.query(`DROP DATABASE IF EXISTS ${database}`)
  await client.query(`CREATE DATABASE ${database}`)
})
const target = new pg.Client(targetUrl)
await target.connect()
const { rows: walRows } = await target.query<{ wal_level: string }>('SHOW wal_level')
console.log(`${table}: ${size}, ${pages} pages; target wal_level=${walRows[0]!.wal_level}`)
await target.query(`CREATE TABLE one_stream (${columns})`)

async function copy(where: string, into: string, truncateAndFreeze: boolean): Promise<void> {
  await withClient(sourceUrl, (source) =>
    withClient(targetUrl, async (client) => {
      await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      await client.query('BEGIN')
      if (truncateAndFreeze) await client.query(`TRUNCATE ${into}`)
      const load = client.query(
        copyIn(`COPY ${into} FROM STDIN WITH (FORMAT binary${truncateAndFreeze ? ', FREEZE' : ''})`),
      )
      const read = source.query(
        copyOut(`COPY (SELECT * FROM ${table} ${where}) TO STDOUT WITH (FORMAT binary)`),
      )
      await pipeline(read, load)
      await client.query('COMMIT')
      await source.query('COMMIT')
    }),
  )
}

async function timed(label: string, work: () => Promise<void>): Promise<void> {
  await target.query('CHECKPOINT')
  const started = performance.now()
  await work()
  console.log(`${label.padEnd(10)} ${((performance.now() - started) / 1000).toFixed(2)} s`)
}

for (let pair = 0; pair < Number(pairsArg); pair++) {
  await timed('one stream', () => copy('', 'one_stream', true))
  await target.query(`DROP TABLE IF EXISTS shadow; CREATE TABLE shadow (${columns})`)
  await timed(`${parts} parts`, async () => {
    await Promise.all(
      Array.from({ length: parts }, (_, part) => {
        const from = Math.floor((pages * part) / parts)
        const where =
          part === parts - 1 ? '' : ` AND ctid < '(${Math.floor((pages * (part + 1)) / parts)},0)'::tid`
        return copy(`WHERE ctid >= '(${from},0)'::tid${where}`, 'shadow', false)
      }),
    )
  })
  const { rows } = await target.query<{ one: string; split: string }>(
    'SELECT (SELECT count(*) FROM one_stream) AS one, (SELECT count(*) FROM shadow) AS split',
  )
  if (rows[0]!.one !== rows[0]!.split)
    throw new Error(`row counts differ: ${rows[0]!.one} vs ${rows[0]!.split}`)
}
await target.end()
await withClient(targetAdminUrl, (client) => client.query(`DROP DATABASE ${database}`))
