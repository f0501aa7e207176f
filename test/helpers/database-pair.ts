import { TestDatabase, type TestServer } from './servers.js'

/** A source database and an empty target database of their own, on the two test servers. */
export interface DatabasePair {
  readonly source: TestDatabase
  readonly target: TestDatabase
  drop(): Promise<void>
}

export async function databasePair(
  servers: { source: TestServer; target: TestServer },
  name: string,
): Promise<DatabasePair> {
  const [source, target] = await Promise.all([
    TestDatabase.create(servers.source, `${name}_src`),
    TestDatabase.create(servers.target, `${name}_tgt`),
  ])
  return { source, target, drop: async () => void (await Promise.all([source.drop(), target.drop()])) }
}

/**
 * Runs `body` on a new pair whose source first runs `sourceSql` (its tables and rows), and drops the pair
 * afterwards, whether `body` passed or not.
 */
export async function withDatabasePair(
  servers: { source: TestServer; target: TestServer },
  name: string,
  sourceSql: string,
  body: (db: DatabasePair) => Promise<void>,
): Promise<void> {
  const db = await databasePair(servers, name)
  try {
    await db.source.sql(sourceSql)
    await body(db)
  } finally {
    await db.drop()
  }
}

/**
 * What a database holds that any write would change: every relation with its storage file (TRUNCATE and
 * rewrites give a new one), schemas, types, sequence states, and locks held by other sessions.
 */
export async function catalogState(database: TestDatabase): Promise<unknown> {
  return database.sql(`
    SELECT json_build_object(
      'relations', (SELECT json_agg(json_build_array(n.nspname, c.relname, c.relkind, c.relfilenode) ORDER BY n.nspname, c.relname)
                      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'),
      'schemas', (SELECT json_agg(nspname ORDER BY nspname) FROM pg_namespace),
      'types', (SELECT count(*) FROM pg_type),
      'sequences', (SELECT json_agg(json_build_array(schemaname, sequencename, last_value) ORDER BY 1) FROM pg_sequences),
      'locks', (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
    ) AS state`)
}
