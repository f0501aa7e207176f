import type pg from 'pg'
import { requireSource } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { Catalog } from '../db/catalog.js'
import { Database, type Side } from '../db/database.js'
import { LocalServer } from '../local/local-server.js'
import { Planner, type RunPlan } from './planner.js'

/**
 * The connect and plan steps, shared by a run (`TransferJob`), a plan that writes nothing (`planTransfer`)
 * and a comparison (`Verifier`), so the three always agree on what "the tables of this config" are.
 */

/** A pooled connection to one side, sized for the config's jobs. Nothing is opened until it is used. */
export function openDatabase(config: Config, side: Side, url: string, password?: string): Database {
  return new Database({
    side,
    url,
    password,
    connectTimeoutMs: config.timeouts.connect,
    statementTimeoutMs: config.timeouts.statement,
    maxConnections: config.jobs + 3,
  })
}

/** The target's URL: the configured one, or the embedded local server's, created and started if needed. */
export async function resolveTargetUrl(config: Config): Promise<string> {
  if (config.target) return config.target.url
  return (await new LocalServer({ dir: config.local.dir, port: config.local.port }).start()).url
}

/** Connects to the source and the target and proves both logins work; on failure both pools are closed. */
export async function connectEndpoints(
  config: Config,
  targetUrl: string,
): Promise<{ source: Database; target: Database }> {
  const sourceEndpoint = requireSource(config)
  const source = openDatabase(config, 'source', sourceEndpoint.url, sourceEndpoint.password)
  const target = openDatabase(config, 'target', targetUrl, config.target?.password)
  try {
    await Promise.all([source.check(), target.check()])
  } catch (error) {
    await Promise.all([source.close(), target.close()])
    throw error
  }
  return { source, target }
}

/**
 * The target for a command that only reads it (plan, verify). The embedded local server is never created
 * for that: when it does not exist yet, `url` is undefined (every table is missing); when it exists but is
 * stopped, it is started and `release()` stops it again.
 */
export async function targetForReading(config: Config): Promise<{
  url: string | undefined
  display: string
  release(): Promise<void>
}> {
  if (config.target) {
    return { url: config.target.url, display: '', release: async () => {} }
  }
  const local = new LocalServer({ dir: config.local.dir, port: config.local.port })
  const status = await local.status()
  if (!status.initialised) {
    return {
      url: undefined,
      display: `local (${config.local.dir}, not created yet: the first run creates it)`,
      release: async () => {},
    }
  }
  const { url, started } = await local.start()
  return {
    url,
    display: '',
    release: async () => {
      if (started) await local.stop()
    },
  }
}

/**
 * Reads both catalogs and resolves the config into a plan. `sourceClient` should be in the run's snapshot
 * transaction; without a `target` (a local server not created yet) the target is taken to be empty.
 */
export async function readPlan(options: {
  readonly config: Config
  readonly sourceClient: pg.ClientBase
  readonly target: Database | undefined
}): Promise<{ plan: RunPlan; sourceCatalog: Catalog; targetCatalog: Catalog }> {
  const { config, sourceClient, target } = options
  const sourceCatalog = await Catalog.read(sourceClient)
  const targetCatalog = target ? await readCatalog(target) : new Catalog([], [], [], 0)
  const plan = await new Planner({
    config,
    source: sourceCatalog,
    target: targetCatalog,
    probeQuery: (query) => probeQueryColumns(sourceClient, query),
  }).plan()
  return { plan, sourceCatalog, targetCatalog }
}

/** Reads a catalog in one read-only transaction. */
export async function readCatalog(database: Database): Promise<Catalog> {
  const client = await database.connect()
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY')
    const catalog = await Catalog.read(client)
    await client.query('COMMIT')
    client.release()
    return catalog
  } catch (error) {
    client.release(error instanceof Error ? error : true)
    throw error
  }
}

/** The result columns of a query, found by planning it with LIMIT 0 (nothing is read). */
async function probeQueryColumns(
  client: pg.ClientBase,
  query: string,
): Promise<Array<{ name: string; type: string }>> {
  await client.query('SAVEPOINT tablehaul_probe')
  try {
    const result = await client.query(`SELECT * FROM (${query}) AS tablehaul_query LIMIT 0`)
    const types = await client.query<{ type: string }>(
      `SELECT pg_catalog.format_type(t.oid, t.typmod) AS type FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, typmod, n) ORDER BY n`,
      [result.fields.map((f) => f.dataTypeID), result.fields.map((f) => f.dataTypeModifier)],
    )
    await client.query('RELEASE SAVEPOINT tablehaul_probe')
    return result.fields.map((field, index) => ({ name: field.name, type: types.rows[index]!.type }))
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT tablehaul_probe').catch(() => {})
    throw error
  }
}
