import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { makeDirectory } from '../files.js'
import path from 'node:path'
import { redactUrl } from '../db/database.js'
import { TablehaulError } from '../errors.js'
import { PostgresCluster, freePort, reachableByServer } from './postgres-cluster.js'

/** Where the embedded local PostgreSQL lives. */
export interface LocalServerOptions {
  /** Where the server's files live. @default ./.tablehaul */
  readonly dir: string
  /** Port to use when the server is created; later starts reuse the recorded one. */
  readonly port?: number | undefined
}

interface LocalServerState {
  readonly port: number
  readonly password: string
  readonly dataDir: string
  readonly createdAt: string
}

/** Whether the embedded local PostgreSQL exists and runs, and where. */
export interface LocalServerStatus {
  readonly initialised: boolean
  readonly running: boolean
  readonly dataDir?: string
  readonly port?: number
  /** Without the password. */
  readonly url?: string
}

/**
 * Settings of tablehaul's own server, tuned for bulk loading while staying durable (fsync and synchronous
 * commit stay on): with wal_level=minimal, a COPY into a table created or truncated in the same
 * transaction writes no WAL for its rows, and index builds get a large maintenance_work_mem.
 */
export const LOCAL_SERVER_SETTINGS: Record<string, string | number> = {
  shared_buffers: "'256MB'",
  maintenance_work_mem: "'512MB'",
  work_mem: "'32MB'",
  wal_level: 'minimal',
  max_wal_senders: 0,
  wal_buffers: "'64MB'",
  max_wal_size: "'4GB'",
  min_wal_size: "'256MB'",
  checkpoint_timeout: "'30min'",
  max_connections: 100,
  max_parallel_maintenance_workers: 2,
  log_min_messages: 'warning',
}

/** Where the data of a local server lives when the server's OS user cannot enter its folder (as root). */
const ROOT_DATA_HOME = '/var/lib/tablehaul'

/** tablehaul's embedded local PostgreSQL: the default target when none is configured. */
export class LocalServer {
  readonly dir: string
  private readonly stateFile: string

  constructor(private readonly options: LocalServerOptions) {
    this.dir = path.resolve(options.dir)
    this.stateFile = path.join(this.dir, 'local.json')
  }

  /** Creates the server on first use and starts it if it is not running; returns its URL. */
  async start(): Promise<{ url: string; created: boolean; started: boolean }> {
    let state = this.readState()
    let created = false
    if (!state) {
      state = await this.create()
      created = true
    }
    const cluster = this.cluster(state)
    let started = false
    if (!(await cluster.isRunning())) {
      await cluster.start()
      started = true
    }
    return { url: this.urlOf(state), created, started }
  }

  /** Stops the server; returns whether it was running. */
  async stop(): Promise<boolean> {
    const state = this.readState()
    if (!state) return false
    const cluster = this.cluster(state)
    if (!(await cluster.isRunning())) return false
    await cluster.stop('fast')
    return true
  }

  /**
   * Stops the server and deletes its data and its record here; returns the data folder it deleted, or
   * undefined when there was none. Data kept in /var/lib/tablehaul for root goes with its folder there.
   */
  async remove(): Promise<string | undefined> {
    const state = this.readState()
    if (!state) return undefined
    await this.stop()
    const home = path.dirname(state.dataDir)
    if (path.basename(state.dataDir) === 'pgdata') {
      rmSync(state.dataDir, { recursive: true, force: true })
      rmSync(path.join(home, 'postgres.log'), { force: true })
      // Only a folder of tablehaul's own under /var/lib/tablehaul goes whole: the record names the data
      // folder, and whatever else it names is not ours to delete.
      if (home !== this.dir && path.dirname(home) === ROOT_DATA_HOME)
        rmSync(home, { recursive: true, force: true })
    }
    rmSync(this.stateFile, { force: true })
    return state.dataDir
  }

  async status(): Promise<LocalServerStatus> {
    const state = this.readState()
    if (!state) return { initialised: false, running: false }
    const running = await this.cluster(state).isRunning()
    return {
      initialised: true,
      running,
      dataDir: state.dataDir,
      port: state.port,
      url: redactUrl(this.urlOf(state)),
    }
  }

  /** The connection URL, with its password: for `tablehaul local url` and the run's own connections. */
  url(): string | undefined {
    const state = this.readState()
    return state ? this.urlOf(state) : undefined
  }

  private urlOf(state: LocalServerState): string {
    return `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/postgres`
  }

  private cluster(state: LocalServerState): PostgresCluster {
    // Beside the data, where the server's OS user can write (see create()).
    return new PostgresCluster({
      dataDir: state.dataDir,
      port: state.port,
      logFile: path.join(path.dirname(state.dataDir), 'postgres.log'),
    })
  }

  private async create(): Promise<LocalServerState> {
    makeDirectory(this.dir)
    let dataDir = path.join(this.dir, 'pgdata')
    if (!(await reachableByServer(this.dir))) {
      // As root, the server runs as the postgres OS user, which may not be able to enter a home folder
      // such as /root; its data then lives in /var/lib/tablehaul, recorded in local.json.
      const id = createHash('sha1').update(this.dir).digest('hex').slice(0, 12)
      dataDir = path.join(ROOT_DATA_HOME, id, 'pgdata')
    }
    const state: LocalServerState = {
      port: this.options.port ?? (await freePort()),
      password: randomBytes(18).toString('base64url'),
      dataDir,
      createdAt: new Date().toISOString(),
    }
    const cluster = this.cluster(state)
    if (!cluster.isInitialised)
      await cluster.initialise({ password: state.password, settings: LOCAL_SERVER_SETTINGS })
    else {
      throw new TablehaulError(
        'LOCAL_SERVER_FAILED',
        `${dataDir} holds a PostgreSQL cluster, but ${this.stateFile} is missing`,
        {
          hint: `restore ${this.stateFile}, or move ${dataDir} away to start afresh`,
        },
      )
    }
    this.writeState(state)
    return state
  }

  private readState(): LocalServerState | undefined {
    if (!existsSync(this.stateFile)) return undefined
    try {
      return JSON.parse(readFileSync(this.stateFile, 'utf8')) as LocalServerState
    } catch (error) {
      throw new TablehaulError('LOCAL_SERVER_FAILED', `${this.stateFile} is not readable`, {
        cause: error,
        hint: 'restore or delete it',
      })
    }
  }

  private writeState(state: LocalServerState): void {
    writeFileSync(`${this.stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
    renameSync(`${this.stateFile}.tmp`, this.stateFile)
  }
}
