import { createRequire } from 'node:module'
import net from 'node:net'
import pg from 'pg'
import { escapeControl } from '../text.js'
import {
  type ErrorCode,
  TablehaulError,
  markConnectionLost,
  markServerSide,
  messageOf,
  sqlStateOf,
  systemErrorCodeOf,
} from '../errors.js'
import { adviceFor, resourceCodeOf } from './sql-state-advice.js'

export type Side = 'source' | 'target'

export interface DatabaseOptions {
  readonly side: Side
  /** A libpq-style URL; PG* environment variables and ~/.pgpass fill what it leaves out, as with psql. */
  readonly url: string
  /** Overrides a password in the URL. */
  readonly password?: string | undefined
  /** @default 30000 */
  readonly connectTimeoutMs?: number
  /** Most connections the pool opens. @default 10 */
  readonly maxConnections?: number
  /** @default 'tablehaul' */
  readonly applicationName?: string
  /**
   * Longest a statement run through `query()` may take; enforced by the server (statement_timeout) and,
   * with some slack, by the client, so that a frozen connection cannot hang the run. 0: no limit.
   * @default 0
   */
  readonly statementTimeoutMs?: number
  /** Longest wait for a lock, for every statement on these connections (lock_timeout). @default 60000 */
  readonly lockTimeoutMs?: number
  /**
   * Longest a COMMIT waits for a synchronous standby to confirm it before that wait is cancelled (see
   * `commit`). 0: no limit. @default 300000
   */
  readonly commitWaitMs?: number
}

/**
 * Slack the client gives the server beyond a server-side timeout (statement_timeout, lock_timeout,
 * connect_timeout) before it gives up on the connection itself: the server reports its own timeout with an
 * error well within it, so only a frozen connection or server runs into this one.
 */
const CLIENT_GRACE_MS = 15_000

/** How often the connections' waits for a synchronous standby are looked at (see watchStandbyWaits). */
function standbyWatchMs(commitWaitMs: number): number {
  return Math.max(100, Math.round(commitWaitMs / 4))
}

/**
 * Longest a COMMIT on a connection of a pool with that commitWaitMs can go without a reply while it waits for a
 * synchronous standby, before its wait is cancelled and the server answers (with slack).
 */
export function commitLimitMs(commitWaitMs: number): number {
  return clientLimitMs(commitWaitMs + standbyWatchMs(commitWaitMs))
}

/** How long the client waits for a reply that the server bounds with `serverMs` (0: unbounded, so no limit). */
export function clientLimitMs(serverMs: number): number {
  return serverMs > 0 ? serverMs + CLIENT_GRACE_MS : 0
}

/** Options of `withClient`. */
export interface ClientOptions {
  /**
   * Aborting it closes the connection at once: the server rolls back what it was doing, and every call
   * pending on the connection fails at once instead of waiting for a reply that may never come.
   */
  readonly signal?: AbortSignal | undefined
}

/** How a transaction starts: `BEGIN <mode>`, then its `SET LOCAL` settings. */
export interface TransactionOptions extends ClientOptions {
  /** What follows BEGIN, e.g. `ISOLATION LEVEL REPEATABLE READ, READ ONLY`. */
  readonly mode?: string | undefined
  /**
   * statement_timeout for this transaction; without it, the connection's (timeouts.statement). 0 for work
   * that lasts as long as the data does (a COPY, a full-table read): a watchdog bounds that instead.
   */
  readonly statementTimeoutMs?: number | undefined
  /** More `SET LOCAL` settings, as `name = value` (values already quoted). */
  readonly settings?: readonly string[] | undefined
  /** Starts the transaction in place of `begin(client, options)` (a read in the run's snapshot). */
  readonly begin?: ((client: pg.ClientBase) => Promise<unknown>) | undefined
}

/** Isolation of every read-only transaction that must see one point in time. */
export const READ_ONLY_SNAPSHOT = 'ISOLATION LEVEL REPEATABLE READ, READ ONLY'

/**
 * Settings that change how values are written or read as text. They are pinned to the same values on both
 * sides, so a value's text form written by the source's COPY TO is read back identically by the target's
 * COPY FROM, whatever the servers' (or the roles' and databases') own defaults are.
 */
const SESSION_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['TimeZone', 'UTC'],
  // Abbreviations such as EST are read with the zone table this names.
  ['timezone_abbreviations', 'Default'],
  // 3 (and any value above 0 on 12+): the shortest text that reads back as the exact same float.
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  // money's text form carries the currency symbol and separators of lc_monetary.
  ['lc_monetary', 'C'],
  ['search_path', 'public'],
  // Also what binary COPY sends text-like values in.
  ['client_encoding', 'UTF8'],
  // DOCUMENT would reject xml values that are content fragments.
  ['xmloption', 'content'],
  ['xmlbinary', 'base64'],
  // off would read an unquoted NULL in an array as the string "NULL".
  ['array_nulls', 'on'],
  ['standard_conforming_strings', 'on'],
  // A role subject to row-level security must not copy a silently filtered table: with this off, reading
  // such a table fails instead (as pg_dump does).
  ['row_security', 'off'],
  // The run's snapshot is held by a transaction that stays idle while workers copy.
  ['idle_in_transaction_session_timeout', '0'],
  // The server's WARNING that a COMMIT's wait for a synchronous standby was cancelled (watchStandbyWaits) must
  // reach the run, whatever a role's client_min_messages (error would hide it; debug would flood the run).
  ['client_min_messages', 'warning'],
]

const SESSION_SQL = SESSION_SETTINGS.map(([name, value]) => `SET ${name} = ${pg.escapeLiteral(value)}`).join(
  '; ',
)

/**
 * A connection given up on (the stall watchdog fired, the run stopped) is closed, but its backend, busy in a
 * statement that sends nothing (a slow CHECK or trigger function, a hung extension), only notices at its next
 * read: it would work on, holding the ACCESS EXCLUSIVE lock of the copy's TRUNCATE, so the table's retry
 * waited on its own earlier attempt and failed with a lock timeout, and the backend outlived the run.
 * PostgreSQL 14+ checks the client's socket every client_connection_check_interval while a statement runs,
 * and ends the backend once the socket is closed. Older servers lack the setting (the SELECT sets nothing).
 */
const CONNECTION_CHECK_SQL = `SELECT pg_catalog.set_config(name, '1s', false) FROM pg_catalog.pg_settings WHERE name = 'client_connection_check_interval'`

/**
 * Timeouts a DBA may set for the run's role or database (ALTER ROLE … SET) that would end the run's own
 * sessions, turned off for them as pg_dump does; the run bounds its waits itself (timeouts.*). The run's
 * snapshot is one transaction that lasts the whole run, and a table's transaction as long as its rows, so
 * transaction_timeout (PostgreSQL 17+) ended the snapshot mid-run (the tables after it failed with "snapshot
 * does not exist") or a large table's copy. The run lock's session, and pooled connections between tables,
 * stay idle outside a transaction, which idle_session_timeout (14+) ends. Older servers lack the settings
 * (the SELECT sets nothing).
 */
const SESSION_TIMEOUTS_SQL = `SELECT pg_catalog.set_config(name, '0', false) FROM pg_catalog.pg_settings WHERE name IN ('transaction_timeout', 'idle_session_timeout')`

/** 22023: a server on a platform that cannot watch a socket for its close (Windows) refuses any value but 0. */
async function checkClientConnection(client: pg.ClientBase): Promise<void> {
  try {
    await client.query(CONNECTION_CHECK_SQL)
  } catch (error) {
    if (sqlStateOf(error) !== '22023') throw error
  }
}

/** One PostgreSQL endpoint (source or target): a pool of connections with the session settings pinned. */
export class Database {
  readonly side: Side
  readonly displayUrl: string
  private readonly pool: pg.Pool
  private readonly prepared = new WeakSet<pg.PoolClient>()
  /** This pool's connections until they end: whose backends watchStandbyWaits looks at. */
  private readonly open = new Set<pg.PoolClient>()
  private readonly statementTimeoutMs: number
  private readonly lockTimeoutMs: number
  private readonly connectTimeoutMs: number
  private readonly commitWaitMs: number
  private readonly connectionString: string
  private unconfirmed = 0
  private standbyWatch: NodeJS.Timeout | undefined
  /** Statements sent on this pool's connections that have not answered yet (see watchStandbyWaits). */
  private inFlight = 0
  /** Where the pool's socket factory puts the sockets it opens during one `pool.connect()` call. */
  private socketsOpening: net.Socket[] | undefined

  constructor(options: DatabaseOptions) {
    this.side = options.side
    this.displayUrl = redactUrl(options.url)
    const connectTimeoutMs = options.connectTimeoutMs ?? 30_000
    this.connectTimeoutMs = connectTimeoutMs
    this.statementTimeoutMs = options.statementTimeoutMs ?? 0
    this.lockTimeoutMs = options.lockTimeoutMs ?? 60_000
    this.commitWaitMs = options.commitWaitMs ?? 300_000
    this.connectionString = withPassword(options.url, options.password)
    this.pool = new pg.Pool({
      connectionString: this.connectionString,
      Client: PgpassClient,
      application_name: options.applicationName ?? 'tablehaul',
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      max: options.maxConnections ?? 10,
      idleTimeoutMillis: 10_000,
      stream: () => {
        const socket = postgresOnlySocket()
        this.socketsOpening?.push(socket)
        return socket
      },
    })
    // A connection that dies while idle in the pool must not crash the process; the pool drops it.
    this.pool.on('error', () => {})
  }

  /**
   * Runs `fn` on a pooled connection with the session settings applied. The connection goes back to the
   * pool when `fn` succeeds; when it throws (or `signal` aborts), the connection is closed instead, never
   * pooled: it may be broken, or still inside a transaction or a COPY, and closing it makes the server
   * roll back whatever it was doing.
   */
  async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>, options: ClientOptions = {}): Promise<T> {
    const { signal } = options
    signal?.throwIfAborted()
    const client = await this.connect(signal)
    const abandon = () => discardClient(client)
    signal?.addEventListener('abort', abandon, { once: true })
    try {
      signal?.throwIfAborted()
      const result = await fn(client)
      if (signal?.aborted) abandon()
      else client.release()
      return result
    } catch (error) {
      abandon()
      throw error
    } finally {
      signal?.removeEventListener('abort', abandon)
    }
  }

  /**
   * Runs `fn` in one transaction: COMMIT when it succeeds; on any error the connection is closed, which is
   * the rollback (a ROLLBACK sent over a frozen connection would wait for ever), and never pooled.
   */
  async withTransaction<T>(
    fn: (client: pg.PoolClient) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    return this.withClient(async (client) => {
      await (options.begin ? options.begin(client) : this.begin(client, options))
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    }, options)
  }

  /**
   * A COMMIT (or a statement that commits on its own, such as ANALYZE) waits, with synchronous_standby_names
   * set, until a standby confirms it, and PostgreSQL ends that wait only on a cancel request or the backend's
   * end: statement_timeout is off while a transaction commits, and a closed connection goes unnoticed. A
   * standby that went away mid-run made the run wait for ever, and its backends after it. So while a
   * statement of this pool is unanswered, every quarter of commitWaitMs each of its backends that waits for a
   * standby (wait_event SyncRep) in a statement older than commitWaitMs is cancelled, from a connection of
   * its own (the pool's may all be waiting): the server then answers with a WARNING and success, the
   * transaction having committed on this server, and `unconfirmedCommits` counts it for the report.
   */
  private watchStandbyWaits(): void {
    if (this.standbyWatch || this.side !== 'target' || this.commitWaitMs <= 0) return
    this.standbyWatch = setInterval(() => void this.cancelStandbyWaits(), standbyWatchMs(this.commitWaitMs))
    this.standbyWatch.unref()
  }

  private async cancelStandbyWaits(): Promise<void> {
    // The server tells which of this pool's backends wait, and since when; the client only knows whether any
    // statement is unanswered (a start time kept per connection is wrong for statements pg queued on it).
    if (this.inFlight === 0) return
    const pids = [...this.open]
      .map((client) => (client as unknown as { processID?: number }).processID)
      .filter((pid): pid is number => typeof pid === 'number')
    if (pids.length === 0) return
    const client = new PgpassClient({
      connectionString: this.connectionString,
      connectionTimeoutMillis: this.connectTimeoutMs,
      application_name: 'tablehaul',
    })
    client.on('error', () => {})
    try {
      await client.connect()
      // Every operator schema-qualified: this session keeps the role's search_path, and another role's
      // operator in public that matches better (int4 * interval has none in pg_catalog) would run as ours.
      await client.query(
        `SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity
          WHERE pid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int4[])
            AND wait_event OPERATOR(pg_catalog.=) 'SyncRep'::pg_catalog.text
            AND query_start OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $2::pg_catalog.interval)`,
        [pids, `${this.commitWaitMs} milliseconds`],
      )
    } catch {
      // The next round tries again.
    } finally {
      await client.end().catch(() => {})
    }
  }

  /** COMMITs that took effect on this server while the synchronous standby they waited for never confirmed. */
  get unconfirmedCommits(): number {
    return this.unconfirmed
  }

  /**
   * Starts a transaction on `client`. Its lock waits are bounded by lock_timeout (timeouts.lock): a
   * statement that waits for a table another session holds fails with 55P03 instead of hanging the run.
   */
  async begin(
    client: pg.ClientBase,
    options: Omit<TransactionOptions, 'begin' | 'signal'> = {},
  ): Promise<void> {
    const statements = [
      options.mode ? `BEGIN ${options.mode}` : 'BEGIN',
      `SET LOCAL lock_timeout = ${Math.round(this.lockTimeoutMs)}`,
      ...(options.statementTimeoutMs === undefined
        ? []
        : [`SET LOCAL statement_timeout = ${Math.round(options.statementTimeoutMs)}`]),
      ...(options.settings ?? []).map((setting) => `SET LOCAL ${setting}`),
    ]
    await client.query(statements.join('; '))
  }

  /** `withSavepoint(client, name, fn)`, for a step that may fail alone inside a transaction of this database. */
  withSavepoint<T>(client: pg.ClientBase, name: string, fn: () => Promise<T>): Promise<T> {
    return withSavepoint(client, name, fn)
  }

  /**
   * A connection kept across calls for as long as a run needs it (the snapshot's transaction, the run's
   * lock). Letting go of it closes it: the server ends its transaction or lock at once, where a COMMIT or
   * an unlock could wait on a frozen connection.
   */
  async hold(): Promise<HeldConnection> {
    return new HeldConnection(await this.connect())
  }

  /**
   * Runs `work` (calls on one connection) with the client's limit on top of statement_timeout: when no
   * reply comes in time, `giveUp` closes the connection and SERVER_NO_REPLY is thrown, so that a frozen
   * connection fails the run instead of hanging it.
   */
  async withinReplyLimit<T>(work: () => Promise<T>, giveUp: () => void): Promise<T> {
    const limitMs = clientLimitMs(this.statementTimeoutMs)
    let timedOut = false
    const timer =
      limitMs > 0
        ? setTimeout(() => {
            timedOut = true
            giveUp()
          }, limitMs)
        : undefined
    try {
      return await work()
    } catch (error) {
      if (!timedOut) throw error
      throw new TablehaulError(
        'SERVER_NO_REPLY',
        `the ${this.side} did not reply within ${Math.round(limitMs / 1000)}s`,
        {
          cause: error,
          hint: 'the connection may be frozen or the server overloaded; check it, or raise timeouts.statement',
        },
      )
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * A connection with the session settings applied. Aborting `signal` ends the attempt at once: its socket
   * is closed (a server that accepted the connection and never answers would otherwise hold the run for
   * timeouts.connect) and the signal's reason is thrown.
   */
  private async connect(signal?: AbortSignal): Promise<pg.PoolClient> {
    const opening: net.Socket[] = []
    this.socketsOpening = opening
    let connecting: Promise<pg.PoolClient>
    try {
      // pg-pool creates the client, and so the socket, within this call, or hands out an idle one.
      connecting = this.pool.connect()
    } finally {
      this.socketsOpening = undefined
    }
    let client: pg.PoolClient
    try {
      client = await untilAborted(connecting, signal, () => {
        for (const socket of opening) socket.destroy()
        // A client the pool hands out after all (an idle one, a queued request) is not wanted any more.
        connecting.then(discardClient, () => {})
      })
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      throw this.connectionError(error)
    }
    if (!this.prepared.has(client)) {
      const timer = setTimeout(() => discardClient(client), clientLimitMs(this.connectTimeoutMs))
      const abandon = () => discardClient(client)
      signal?.addEventListener('abort', abandon, { once: true })
      try {
        signal?.throwIfAborted()
        await client.query(
          `${SESSION_SQL}; SET statement_timeout = ${this.statementTimeoutMs}; SET lock_timeout = ${this.lockTimeoutMs}; ${SESSION_TIMEOUTS_SQL}`,
        )
        await checkClientConnection(client)
      } catch (error) {
        discardClient(client)
        if (signal?.aborted) throw signal.reason
        throw this.connectionError(error)
      } finally {
        clearTimeout(timer)
        signal?.removeEventListener('abort', abandon)
      }
      // A connection dropped while checked out emits 'error' on the client; the failing query reports it.
      client.on('error', () => {})
      // The server's answer to a COMMIT whose wait for a synchronous standby was cancelled (watchStandbyWaits).
      client.on('notice', (notice: { message?: string }) => {
        if (/synchronous replication/.test(notice.message ?? '')) this.unconfirmed++
      })
      this.markLostConnections(client)
      this.watchStandbyWaits()
      this.prepared.add(client)
      this.open.add(client)
      client.once('end', () => this.open.delete(client))
    }
    return client
  }

  /**
   * Marks each error of `client`'s statements that is the loss of its connection with this side: one that
   * escapes unclassified (a catalog read of the plan on a server that just restarted) then still reports
   * which server went away, instead of a bare `write ECONNRESET`. A COPY stream's errors are its own.
   */
  private markLostConnections(client: pg.PoolClient): void {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    const side = this.side
    client.query = ((...args: unknown[]) => {
      const result = query(...args)
      if (!(result instanceof Promise)) return result
      this.inFlight++
      return result
        .catch((error: unknown) => {
          if (isConnectionLost(error)) markConnectionLost(error, side)
          markServerSide(error, side)
          throw error
        })
        .finally(() => this.inFlight--)
    }) as typeof client.query
  }

  /**
   * Runs one statement on a pooled connection. The server bounds it (statement_timeout); the client gives
   * up on the connection itself a little later, so that a frozen connection cannot hang the run either.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.withClient((client) =>
      this.withinReplyLimit(
        () => client.query<R>(sql, params),
        () => discardClient(client),
      ),
    )
  }

  /** `query()` in a transaction of its own, with `settings` (as `SET LOCAL`, e.g. EMPTY_SEARCH_PATH). */
  async queryWith<R extends pg.QueryResultRow = pg.QueryResultRow>(
    settings: readonly string[],
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.withTransaction(
      (client) =>
        this.withinReplyLimit(
          () => client.query<R>(sql, params),
          () => discardClient(client),
        ),
      { settings },
    )
  }

  /**
   * Opens one connection to prove the endpoint is reachable and the login works; aborting `signal` ends the
   * attempt at once.
   */
  async check(options: ClientOptions = {}): Promise<void> {
    await this.withClient(async () => {}, options)
  }

  /** Closes every connection; bounded, because a connection to a frozen peer never acknowledges its close. */
  async close(): Promise<void> {
    clearInterval(this.standbyWatch)
    this.standbyWatch = undefined
    const ended = this.pool.end().catch(() => {})
    const timer = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())
    await Promise.race([ended, timer])
    const clients = (this.pool as unknown as { _clients?: pg.PoolClient[] })._clients ?? []
    for (const client of clients) socketOf(client)?.destroy()
  }

  /** Turns a failed connection attempt into an error that says what to check. */
  connectionError(error: unknown): TablehaulError {
    if (error instanceof TablehaulError) return error
    // A server that refuses the login for want of connection slots or disk cannot be reached; one that let
    // the session in and failed its first statements (a temp_file_limit, out of memory) can, but is short of
    // something.
    const state = sqlStateOf(error)
    const resource = state === '53300' || state === '53100' ? undefined : resourceCodeOf(error)
    const code: ErrorCode = resource ?? (this.side === 'source' ? 'SOURCE_UNREACHABLE' : 'TARGET_UNREACHABLE')
    const where = `${this.side} ${this.displayUrl}`
    const system = systemErrorCodeOf(error)
    const message = messageOf(error)
    // Where the URL is set: the configuration file more often than the command line (a nightly job).
    const flag = `${this.side}.url (or --${this.side})`
    const advice = adviceFor(error, 'connect', { side: this.side })
    let hint: string
    if (advice) {
      hint = advice
    } else if (/client password must be a string/.test(message)) {
      // node-postgres' words when the server asks for a password and none was found anywhere
      hint = `no password was given for the ${this.side}: set ${this.side}.password (best as \${ENV_VAR}), PGPASSWORD, or a line for this server in ~/.pgpass (readable by its owner only: mode 0600)`
    } else if (error instanceof NotPostgresError) {
      hint = `something else listens there: check the port in ${flag} (PostgreSQL's is usually 5432)`
    } else if (system === 'ECONNREFUSED') {
      hint = `nothing accepts connections there: check host and port in ${flag}, and that the server is running`
    } else if (system === 'ENOTFOUND' || system === 'EAI_AGAIN') {
      hint = `the host name cannot be resolved: check the host in ${flag}`
    } else if (/timeout|timed out/i.test(message) || system === 'ETIMEDOUT') {
      hint = 'the server did not answer in time: check the host, firewall or VPN, or raise timeouts.connect'
    } else if (/ssl|tls|certificate/i.test(message)) {
      hint = 'check sslmode in the URL and the server certificate'
    } else {
      hint = `check the ${this.side} URL and that the server accepts connections from this machine`
    }
    return new TablehaulError(code, `cannot connect to the ${where}: ${message}`, { cause: error, hint })
  }
}

/** Whether `table` (a quoted name, read without its partitions or children) holds any row. */
export async function hasRows(client: pg.ClientBase, table: string): Promise<boolean> {
  const { rows } = await client.query<{ filled: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ONLY ${table}) AS filled`,
  )
  return rows[0]?.filled === true
}

/**
 * The `SET LOCAL` setting (for `TransactionOptions.settings`) under which statements built from another
 * server's catalog run. The source's definitions (defaults, checks, indexes, views, function bodies) are
 * printed with an empty search_path, so they name pg_catalog's operators and functions bare; PostgreSQL
 * prefers pg_catalog only among equally good matches, so under the session's `public` a function or
 * operator in public that matches the operands better (`text || int4` where pg_catalog's takes
 * anynonarray, `<>` on an enum where pg_catalog's takes anyenum) would be bound instead, and run as
 * whoever uses the object, tablehaul's role first. Any role may create objects in public before
 * PostgreSQL 15.
 */
export const EMPTY_SEARCH_PATH = `search_path = ''`

/**
 * Runs `fn` (statements on `client`, inside its transaction) with search_path empty (see EMPTY_SEARCH_PATH),
 * and sets it back afterwards. When `fn` fails, rolling back the caller's savepoint or transaction restores
 * it.
 */
export async function withEmptySearchPath<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  // The CTE is read before the outer set_config runs: the path as it was.
  const { rows } = await client.query<{ path: string }>(
    `WITH saved AS MATERIALIZED (SELECT pg_catalog.current_setting('search_path') AS path)
     SELECT path, pg_catalog.set_config('search_path', '', true) FROM saved`,
  )
  const result = await fn()
  await client.query(`SELECT pg_catalog.set_config('search_path', $1, true)`, [rows[0]!.path])
  return result
}

/**
 * Runs `fn` under a savepoint of `client`'s transaction: when it fails, only its own work is rolled back
 * and its error thrown; the transaction goes on. A savepoint that cannot be rolled back (the connection is
 * gone) throws that failure instead, unless `fn`'s own error was the connection's loss: that one says why
 * (an administrator's pg_terminate_backend, 57P01; a shutdown), the rollback's only that it is gone.
 */
export async function withSavepoint<T>(
  client: pg.ClientBase,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid savepoint name ${name}`)
  await client.query(`SAVEPOINT ${name}`)
  let result: T
  try {
    result = await fn()
  } catch (error) {
    try {
      await client.query(`ROLLBACK TO SAVEPOINT ${name}`)
    } catch (rollbackError) {
      throw isConnectionLost(error) ? error : rollbackError
    }
    throw error
  }
  await client.query(`RELEASE SAVEPOINT ${name}`)
  return result
}

/**
 * The URL with `password` in it. node-postgres lets the fields parsed from a connection string win over
 * a separate `password` option (even an empty one), so a configured password has to travel in the URL.
 * A URL without a host (`postgres:///db`, `postgres://user@/db`) cannot carry one: that is an error, never
 * a password silently left out.
 */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
    parsed.password = encodeURIComponent(password)
  } catch {
    parsed = undefined
  }
  if (!parsed?.password) {
    throw new TablehaulError(
      'CONFIG_INVALID',
      `a password is configured, but the URL ${redactUrl(url)} names no host to give it to`,
      { hint: PASSWORD_WITHOUT_HOST_HINT },
    )
  }
  return parsed.toString()
}

export const PASSWORD_WITHOUT_HOST_HINT =
  'write the URL as postgres://user@host:5432/dbname, or give the password through PGPASSWORD or ~/.pgpass'

/** ~/.pgpass (or PGPASSFILE) read as libpq reads it: by host, port, database and user, only when mode 0600. */
const pgpass = createRequire(import.meta.url)('pgpass') as (
  connection: unknown,
  found: (password: string | undefined) => void,
) => void

/**
 * A client that, given no password (none in the URL, no PGPASSWORD), looks in ~/.pgpass itself. node-postgres
 * would too, but prints a deprecation warning each time it finds a password there, so a nightly `--quiet`
 * job that keeps its password in ~/.pgpass, as the docs advise, had cron mail that warning every night.
 * Given a function, node-postgres asks it instead (with the connection's parameters; undefined is no
 * password) and leaves its own lookup out.
 */
class PgpassClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config)
    const client = this as unknown as { password: unknown }
    if (client.password === null || client.password === undefined)
      client.password = (connection: unknown) =>
        new Promise<string | undefined>((resolve) => pgpass(connection, resolve))
  }
}

/** `postgres://user:secret@host/db` → `postgres://user@host/db`: never shows a password. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.password = ''
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|key/i.test(key) && !/^ssl(key|rootcert|cert|crl)$/i.test(key))
        parsed.searchParams.set(key, '***')
    }
    return parsed.toString()
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1@')
  }
}

/** A short `database@host` for subjects and summaries; never a user or password. */
export function shortEndpoint(url: string): string {
  try {
    const parsed = new URL(url)
    const port = parsed.port && parsed.port !== '5432' ? `:${parsed.port}` : ''
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres'
    return `${database}@${parsed.hostname || 'localhost'}${port}`
  } catch {
    return redactUrl(url)
  }
}

/** Whether an error means the connection itself is gone (so the client must not go back to the pool). */
export function isConnectionLost(error: unknown): boolean {
  const state = sqlStateOf(error)
  if (state && (state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03'))
    return true
  const system = systemErrorCodeOf(error)
  if (
    system &&
    ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH'].includes(system)
  )
    return true
  const message = error instanceof Error ? error.message : ''
  return /Connection terminated|connection.*(closed|ended)|Client has encountered a connection error|not queryable/i.test(
    message,
  )
}

/** `promise`, or the abort of `signal`: then `onAbort` runs and the signal's reason is thrown at once. */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => void,
): Promise<T> {
  if (!signal) return promise
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort()
      reject(signal.reason)
    }
    if (signal.aborted) return abort()
    signal.addEventListener('abort', abort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort))
  })
}

/** A connection a step keeps for the whole run; `close()` takes it out of use for good. */
export class HeldConnection {
  constructor(readonly client: pg.PoolClient) {}

  close(): void {
    discardClient(this.client)
  }
}

/**
 * Takes a connection out of use for good: the pool forgets it and its socket is closed at once, which makes
 * the server roll back whatever transaction or COPY it was in. Used for every connection abandoned mid-work.
 */
function discardClient(client: pg.PoolClient): void {
  try {
    client.release(new Error('connection discarded by tablehaul'))
  } catch {
    // already released
  }
  socketOf(client)?.destroy()
}

function socketOf(client: pg.ClientBase): { destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream
}

/** What a PostgreSQL server's first byte can be: S or N (answer to SSLRequest), R (authentication), E, v. */
const POSTGRES_FIRST_BYTES = new Set([...'SNREv'].map((c) => c.charCodeAt(0)))

/** The peer answered with bytes no PostgreSQL server sends (an HTTP or SSH server on that port). */
class NotPostgresError extends Error {}

/**
 * A socket that fails at the first byte no PostgreSQL server would send. node-postgres would read such bytes
 * as the length of a message (an HTTP reply's "TTP/" as 1.4 GB) and wait for it until the connect timeout.
 */
function postgresOnlySocket(): net.Socket {
  const socket = new net.Socket()
  socket.once('data', (chunk: Buffer) => {
    if (chunk.length === 0 || POSTGRES_FIRST_BYTES.has(chunk[0]!)) return
    const said = escapeControl(chunk.subarray(0, 60).toString('latin1').split(/\r?\n/)[0]!)
    socket.destroy(new NotPostgresError(`the server is not a PostgreSQL server: it answered "${said}"`))
  })
  return socket
}
