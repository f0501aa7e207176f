import { createHash, randomBytes } from 'node:crypto'
import pg from 'pg'
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { isDiskFull, makeDirectory, writeFailureText } from '../files.js'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { redactUrl } from '../db/database.js'
import { sqlFolder } from '../db/sql-file.js'
import { quoteIdent, quoteLiteral } from '../db/table-ref.js'
import { TablehaulError, messageOf, sqlStateOf } from '../errors.js'
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

const sqlFile = sqlFolder(new URL('./sql/', import.meta.url))

/** A source database's name, encoding and locale, which its local copy is created with. */
export interface DatabaseSettings {
  readonly name: string
  readonly encoding: string
  readonly collate: string
  readonly ctype: string
  /** c libc, i ICU, b builtin (PostgreSQL 17+). */
  readonly provider: string
  /** The ICU or builtin locale. */
  readonly locale: string | null
  readonly icuRules: string | null
}

/** Reads the settings of the database that `query` runs in. */
export async function readDatabaseSettings(
  query: (sql: string) => Promise<{ rows: Array<Record<string, unknown>> }>,
): Promise<DatabaseSettings> {
  const { rows } = await query(sqlFile('database_settings'))
  const row = rows[0] as Record<string, string | null>
  return {
    name: String(row.name),
    encoding: String(row.encoding),
    collate: String(row.collate),
    ctype: String(row.ctype),
    provider: String(row.provider),
    locale: row.locale ?? null,
    icuRules: row.icu_rules ?? null,
  }
}

/** The database a source URL names, as libpq picks it: the path, else the user's name. */
export function databaseNamedBy(sourceUrl: string): string {
  const url = new URL(sourceUrl)
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''))
  return name || decodeURIComponent(url.username) || 'postgres'
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

/** Longest wait for another process that creates or starts the same local server (initdb, then pg_ctl -t 120). */
const LOCK_WAIT_MS = 300_000
/**
 * A lock file still empty after this long has no live holder: one writes its process id the instant after
 * it creates the file, so only a holder killed in between (or a disk that refused the id) leaves it empty.
 */
const EMPTY_LOCK_STALE_MS = 10_000

/** Whether a process with this id exists (signal 0 checks without sending anything). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
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

  /**
   * Creates the server on first use and starts it if it is not running; returns its URL. One process at a
   * time does so (a lock file in the folder): two runs starting together would both run initdb into the
   * same folder, and the second would fail instead of finding the server the first made.
   */
  async start(): Promise<{ url: string; created: boolean; started: boolean }> {
    makeDirectory(this.dir)
    const release = await this.lock()
    try {
      return await this.startLocked()
    } finally {
      release()
    }
  }

  private async startLocked(): Promise<{ url: string; created: boolean; started: boolean }> {
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

  /** The URL of one database of the server, password included; undefined before the server exists. */
  urlFor(database: string): string | undefined {
    const state = this.readState()
    return state ? this.urlOf(state, database) : undefined
  }

  /**
   * The local copy of a source database: a database named after it, with its encoding, collation, ctype
   * and locale provider, created (and the server started) if needed; returns its URL and, when an existing
   * database's locale differs from the source's, a note saying so. What a copy computes (generated columns,
   * upper(), sorting, LIKE) depends on that locale, so a copy in the server's C locale could differ.
   */
  async database(source: DatabaseSettings, signal?: AbortSignal): Promise<{ url: string; note?: string }> {
    // Under the same lock as start(): two first runs would both create (or drop and create) the database.
    makeDirectory(this.dir)
    const release = await this.lock(signal)
    try {
      await this.startLocked()
      return await this.createdLike(source)
    } finally {
      release()
    }
  }

  private async createdLike(source: DatabaseSettings): Promise<{ url: string; note?: string }> {
    const state = this.readState()!
    // Administration from template1: the postgres database may itself be the one to create again.
    const admin = new pg.Client({ connectionString: this.urlOf(state, 'template1') })
    await admin.connect()
    try {
      const existing = await admin.query<Record<string, string | null>>(
        `SELECT datname AS name, pg_catalog.pg_encoding_to_char(encoding) AS encoding, datcollate AS collate,
                datctype AS ctype, datlocprovider AS provider, datlocale AS locale, daticurules AS icu_rules
           FROM pg_catalog.pg_database WHERE datname = $1`,
        [source.name],
      )
      const url = this.urlOf(state, source.name)
      const row = existing.rows[0]
      if (row) {
        const differs = localeDifference(source, row)
        if (!differs) return { url }
        if (!(await holdsNothing(url))) {
          return {
            url,
            note: `the local database ${source.name} has ${differs}; values the copy computes (generated columns, upper(), sorting) may differ from the source's. Copy into a new local.dir, or drop the database ${source.name} on the local server, to get the source's locale`,
          }
        }
        await admin.query(`DROP DATABASE ${quoteIdent(source.name)} WITH (FORCE)`)
      }
      await createLike(admin, source)
      return { url }
    } finally {
      await admin.end()
    }
  }

  private urlOf(state: LocalServerState, database = 'postgres'): string {
    return `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${encodeURIComponent(database)}`
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

  /**
   * Takes `<dir>/local.lock`, waiting while a live process holds it; a dead holder's lock is taken over.
   * Aborting `signal` (the run's Ctrl-C or SIGTERM) ends the wait at once with the signal's reason.
   */
  private async lock(signal?: AbortSignal): Promise<() => void> {
    const file = path.join(this.dir, 'local.lock')
    const deadline = Date.now() + LOCK_WAIT_MS
    while (true) {
      if (this.takeLock(file)) return () => rmSync(file, { force: true })
      let text: string
      let age: number
      try {
        text = readFileSync(file, 'utf8').trim()
        age = Date.now() - statSync(file).mtimeMs
      } catch {
        continue // released meanwhile
      }
      const holder = Number(text)
      // An empty file is one being written this instant: its holder is alive, unless it stays empty.
      if (text === '' ? age > EMPTY_LOCK_STALE_MS : !isAlive(holder)) {
        rmSync(file, { force: true })
        continue
      }
      if (Date.now() > deadline) {
        throw new TablehaulError(
          'LOCAL_SERVER_FAILED',
          `process ${holder} has been starting the local PostgreSQL in ${this.dir} for more than ${LOCK_WAIT_MS / 1000}s`,
          { hint: `wait for it, or stop process ${holder}; if it is gone, delete ${file}` },
        )
      }
      // Waits on the file: its holder removes it once the server is made and running.
      signal?.throwIfAborted()
      await sleep(100, undefined, { signal }).catch((error: unknown) => {
        throw signal?.aborted ? signal.reason : error
      })
    }
  }

  /** Creates the lock file, holding this process's id; false when another process has it. */
  private takeLock(file: string): boolean {
    let fd: number
    try {
      fd = openSync(file, 'wx', 0o600)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw this.unwritable(file, error)
    }
    try {
      writeSync(fd, String(process.pid))
      return true
    } catch (error) {
      // Left empty, it would read as a lock being taken this instant: later runs would wait on it.
      rmSync(file, { force: true })
      throw this.unwritable(file, error)
    } finally {
      closeSync(fd)
    }
  }

  /** A file of local.dir that could not be written: a full disk says so, and what to free. */
  private unwritable(file: string, error: unknown): TablehaulError {
    return new TablehaulError('LOCAL_SERVER_FAILED', `cannot write ${file}: ${writeFailureText(error)}`, {
      cause: error,
      hint: isDiskFull(error)
        ? `free space on the disk of ${this.dir} (local.dir), then run again`
        : `check that ${this.dir} (local.dir) is a folder this user can write to`,
    })
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

/** How an existing local database's locale differs from the source's, or undefined when it does not. */
function localeDifference(
  source: DatabaseSettings,
  local: Record<string, string | null>,
): string | undefined {
  const describe = (d: Record<string, unknown>) =>
    `encoding ${String(d.encoding)}, provider ${String(d.provider)}, collate ${String(d.collate)}, ctype ${String(d.ctype)}${d.locale ? `, locale ${String(d.locale)}` : ''}`
  const same =
    local.encoding === source.encoding &&
    local.provider === source.provider &&
    (source.provider === 'c'
      ? local.collate === source.collate && local.ctype === source.ctype
      : (local.locale ?? null) === source.locale)
  return same ? undefined : `${describe(local)} where the source has ${describe({ ...source })}`
}

/** Whether a database holds no table, view, sequence or schema of anyone's (a database initdb made). */
async function holdsNothing(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`,
    )
    return rows[0]!.n === '0'
  } finally {
    await client.end()
  }
}

/** ICU's name for a libc locale: en_US.UTF-8 → en-US. */
function icuLocaleOf(libcLocale: string): string {
  return libcLocale.replace(/[.@].*$/, '').replace(/_/g, '-')
}

/**
 * CREATE DATABASE with the source's encoding and locale. A libc locale the operating system lacks
 * (PostgreSQL only uses locales the OS has) is given by ICU instead, which the embedded server always has;
 * a locale neither can give is an error that says so.
 */
async function createLike(admin: pg.Client, source: DatabaseSettings): Promise<void> {
  const name = quoteIdent(source.name)
  const head = `CREATE DATABASE ${name} TEMPLATE template0 ENCODING ${quoteLiteral(source.encoding)}`
  const libc = (collate: string, ctype: string) =>
    `LC_COLLATE ${quoteLiteral(collate)} LC_CTYPE ${quoteLiteral(ctype)}`
  const attempts: string[] = []
  if (source.provider === 'i') {
    const rules = source.icuRules ? ` ICU_RULES ${quoteLiteral(source.icuRules)}` : ''
    const icu = `LOCALE_PROVIDER icu ICU_LOCALE ${quoteLiteral(source.locale ?? '')}${rules}`
    attempts.push(`${head} ${icu} ${libc(source.collate, source.ctype)}`, `${head} ${icu} ${libc('C', 'C')}`)
  } else if (source.provider === 'b') {
    attempts.push(
      `${head} LOCALE_PROVIDER builtin BUILTIN_LOCALE ${quoteLiteral(source.locale ?? 'C')} ${libc(source.collate, source.ctype)}`,
      `${head} LOCALE_PROVIDER builtin BUILTIN_LOCALE ${quoteLiteral(source.locale ?? 'C')} ${libc('C', 'C')}`,
    )
  } else {
    attempts.push(`${head} LOCALE_PROVIDER libc ${libc(source.collate, source.ctype)}`)
    if (!/^(C|POSIX)$/i.test(source.collate))
      attempts.push(
        `${head} LOCALE_PROVIDER icu ICU_LOCALE ${quoteLiteral(icuLocaleOf(source.collate))} ${libc('C', 'C')}`,
      )
  }
  const errors: string[] = []
  for (const statement of attempts) {
    try {
      await admin.query(statement)
      return
    } catch (error) {
      // 22023 invalid locale (the OS lacks it), 42809 a setting this server refuses: try the next way
      if (!['22023', '42809', '0A000'].includes(sqlStateOf(error) ?? '')) throw error
      errors.push(messageOf(error))
    }
  }
  throw new TablehaulError(
    'LOCAL_SERVER_FAILED',
    `the local copy of database ${source.name} cannot get the source's locale (collate ${source.collate}, ctype ${source.ctype}${source.locale ? `, ${source.provider === 'i' ? 'ICU' : 'builtin'} locale ${source.locale}` : ''}): ${errors.join('; ')}`,
    {
      hint: `install the ${source.collate} locale on this machine (locale-gen), or give a target: whose database has the locale you want`,
    },
  )
}
