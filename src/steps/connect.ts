import pg from 'pg'
import { requireSource } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { Catalog } from '../catalog/catalog.js'
import { readViews } from '../catalog/views.js'
import { Database, READ_ONLY_SNAPSHOT, type Side, redactUrl } from '../db/database.js'
import { LocalServer, readDatabaseSettings } from '../local/local-server.js'
import { embeddedServerVersion } from '../local/postgres-cluster.js'
import { Planner, type RunPlan } from './plan/planner.js'
import { Snapshot } from './snapshot.js'
import { readSourceIdentity } from './sync/since.js'
import { readTablesLoadedFrom } from './sync/sync-mark.js'
import { type ViewPlan, readViewPlans } from './views/view-plan.js'
import { OwnersAndPrivileges } from './objects/owners-and-privileges.js'

/**
 * What the commands share: the connect and plan steps of a run (`TransferJob`), a plan that writes nothing
 * (`planTransfer`) and a comparison (`Verifier`), so the three always agree on what "the tables of this
 * config" are. How a run, an export and an import report is `RunLifecycle`'s.
 */

/** A pooled connection to one side, sized for the config's jobs. Nothing is opened until it is used. */
export function openDatabase(config: Config, side: Side, url: string, password?: string): Database {
  return new Database({
    side,
    url,
    password,
    connectTimeoutMs: config.timeouts.connect,
    statementTimeoutMs: config.timeouts.statement,
    lockTimeoutMs: config.timeouts.lock,
    commitWaitMs: config.timeouts.stall,
    maxConnections: config.jobs + 3,
  })
}

/** The target's URL: the configured one, or the embedded local server's, created and started if needed. */
export async function resolveTargetUrl(config: Config): Promise<string> {
  if (config.target) return config.target.url
  return (await new LocalServer({ dir: config.local.dir, port: config.local.port }).start()).url
}

/**
 * Connects to the source, then to the target: the configured one, or the embedded local server's copy of
 * the source database (a database named after it, with its encoding and locale, created on first use).
 * Proves both logins work; on failure both pools are closed. `note`: the local copy's locale differs.
 */
export async function connectRunEndpoints(
  config: Config,
  signal?: AbortSignal,
): Promise<{ source: Database; target: Database; note?: string | undefined }> {
  if (config.target) return connectEndpoints(config, config.target.url, signal)
  const sourceEndpoint = requireSource(config)
  const source = openDatabase(config, 'source', sourceEndpoint.url, sourceEndpoint.password)
  try {
    await source.check({ signal })
    const settings = await readDatabaseSettings((sql) => source.query(sql))
    const local = await new LocalServer({ dir: config.local.dir, port: config.local.port }).database(
      settings,
      signal,
    )
    const target = openDatabase(config, 'target', local.url)
    try {
      await target.check({ signal })
    } catch (error) {
      await target.close()
      throw error
    }
    return { source, target, note: local.note }
  } catch (error) {
    await source.close()
    throw error
  }
}

/**
 * Connects to the source and the target and proves both logins work; on failure both pools are closed.
 * Aborting `signal` ends both attempts at once.
 */
export async function connectEndpoints(
  config: Config,
  targetUrl: string,
  signal?: AbortSignal,
): Promise<{ source: Database; target: Database }> {
  const sourceEndpoint = requireSource(config)
  const source = openDatabase(config, 'source', sourceEndpoint.url, sourceEndpoint.password)
  const target = openDatabase(config, 'target', targetUrl, config.target?.password)
  try {
    await Promise.all([source.check({ signal }), target.check({ signal })])
  } catch (error) {
    await Promise.all([source.close(), target.close()])
    throw error
  }
  return { source, target }
}

/** The servers and the plan, for a command that only reads them (plan, verify). */
export interface ReadingSession {
  readonly source: Database
  /** Undefined when the target is the embedded local server and it does not exist yet. */
  readonly target: Database | undefined
  /** Open: every read of the source goes through `snapshot.begin(client)`. */
  readonly snapshot: Snapshot
  readonly plan: RunPlan
  /** The views and materialized views a run would bring, and what each waits for. */
  readonly views: readonly ViewPlan[]
  /** With `owners: keep` or `privileges: keep`: what they would apply (its roles already checked). */
  readonly owners: OwnersAndPrivileges | undefined
  /** Source URL without its password. */
  readonly sourceDisplay: string
  /** Target URL without its password, or why there is no target yet. */
  readonly targetDisplay: string
  close(): Promise<void>
}

/**
 * Connects, opens the source snapshot and plans, as a run would, without writing anything. The embedded
 * local server is never created for that: when it does not exist yet there is no target (every table is
 * missing); when it exists but is stopped, it is started and `close()` stops it again.
 */
export async function openForReading(config: Config): Promise<ReadingSession> {
  const sourceEndpoint = requireSource(config)
  let targetUrl = config.target?.url
  let targetDisplay = config.target ? redactUrl(config.target.url) : ''
  let stopLocal = async () => {}
  if (!config.target) {
    const local = new LocalServer({ dir: config.local.dir, port: config.local.port })
    if ((await local.status()).initialised) {
      const { url, started } = await local.start()
      targetUrl = url
      targetDisplay = `local ${redactUrl(url)}`
      if (started) stopLocal = async () => void (await local.stop())
    } else {
      targetDisplay = `local (${config.local.dir}, not created yet: the first run creates it)`
    }
  }
  const source = openDatabase(config, 'source', sourceEndpoint.url, sourceEndpoint.password)
  let target: Database | undefined
  const snapshot = new Snapshot(source)
  const close = async () => {
    await snapshot.close()
    await Promise.all([source.close(), target?.close()])
    await stopLocal()
  }
  try {
    await source.check()
    if (!config.target && targetUrl) {
      // The local copy of this source is the database named after it; until a run makes it, there is none.
      const { name } = await readDatabaseSettings((sql) => source.query(sql))
      const local = new LocalServer({ dir: config.local.dir, port: config.local.port })
      const exists = await localDatabaseExists(targetUrl, name)
      targetUrl = exists ? local.urlFor(name) : undefined
      if (targetUrl) targetDisplay = `local ${redactUrl(targetUrl)}`
      else
        targetDisplay = `local (${config.local.dir}, no copy of database ${name} yet: the first run makes it)`
    }
    target = targetUrl ? openDatabase(config, 'target', targetUrl, config.target?.password) : undefined
    await target?.check()
    await snapshot.open()
    const { plan, views, owners } = await snapshot.read((sourceClient) =>
      readPlan({ config, source, sourceClient, target }),
    )
    return {
      source,
      target,
      snapshot,
      plan,
      views,
      owners,
      sourceDisplay: source.displayUrl,
      targetDisplay,
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

/** Whether the local server at `serverUrl` has a database `name`. */
async function localDatabaseExists(serverUrl: string, name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    const { rowCount } = await client.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [name])
    return rowCount === 1
  } finally {
    await client.end()
  }
}

/**
 * Reads both catalogs and resolves the config into a plan. `sourceClient` should be in the run's snapshot
 * transaction; without a `target` (a local server not created yet) the target is taken to be empty, of the
 * embedded server's version (the one the first run creates).
 */
export async function readPlan(options: {
  readonly config: Config
  readonly source: Database
  readonly sourceClient: pg.ClientBase
  readonly target: Database | undefined
}): Promise<{
  plan: RunPlan
  views: ViewPlan[]
  sourceCatalog: Catalog
  targetCatalog: Catalog
  owners: OwnersAndPrivileges | undefined
}> {
  const { config, source, sourceClient, target } = options
  const sourceCatalog = await Catalog.read(sourceClient)
  const sourceViews = await readViews(sourceClient)
  const targetCatalog = target ? await readCatalog(target) : Catalog.empty(await embeddedServerVersion())
  const loadedBefore = target
    ? await readTablesLoadedFrom(target, await readSourceIdentity(sourceClient))
    : { tables: [] }
  let plan = await new Planner({
    config,
    source: sourceCatalog,
    target: targetCatalog,
    probeQuery: (query) => probeQueryColumns(source, sourceClient, query),
    views: sourceViews.map((view) => view.ref),
    loadedBefore: loadedBefore.tables,
  }).plan()
  if (loadedBefore.problem) plan = { ...plan, warnings: [...plan.warnings, loadedBefore.problem] }
  const views = await readViewPlans({
    config,
    plan,
    source: sourceCatalog,
    target: targetCatalog,
    views: sourceViews,
    targetDb: target,
  })
  const owners = await OwnersAndPrivileges.read(
    config,
    plan,
    sourceClient,
    sourceCatalog,
    views.filter((v) => v.waitsFor.length === 0).map((v) => v.view.ref),
  )
  if (owners && target) {
    await target.withTransaction((client) => owners.checkRoles(client), { mode: READ_ONLY_SNAPSHOT })
  } else if (owners) {
    plan = {
      ...plan,
      warnings: [
        ...plan.warnings,
        'owners: keep / privileges: keep: the local target does not exist yet; the roles they need are checked when a run creates it',
      ],
    }
  }
  return { plan, views, sourceCatalog, targetCatalog, owners }
}

/** Reads a catalog in one read-only transaction. */
export function readCatalog(database: Database): Promise<Catalog> {
  return database.withTransaction((client) => Catalog.read(client), { mode: READ_ONLY_SNAPSHOT })
}

/** The result columns of a query, found by planning it with LIMIT 0 (nothing is read). */
async function probeQueryColumns(
  source: Database,
  client: pg.ClientBase,
  query: string,
): Promise<Array<{ name: string; type: string }>> {
  return source.withSavepoint(client, 'tablehaul_probe', async () => {
    const result = await client.query(`SELECT * FROM (${query}) AS tablehaul_query LIMIT 0`)
    const types = await client.query<{ type: string }>(
      `SELECT pg_catalog.format_type(t.oid, t.typmod) AS type FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, typmod, n) ORDER BY n`,
      [result.fields.map((f) => f.dataTypeID), result.fields.map((f) => f.dataTypeModifier)],
    )
    return result.fields.map((field, index) => ({ name: field.name, type: types.rows[index]!.type }))
  })
}
