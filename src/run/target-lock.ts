import type { Database, HeldConnection } from '../db/database.js'
import { TablehaulError } from '../errors.js'

/** The advisory lock class that marks "a tablehaul run writes into this database" ('thal'). */
const LOCK_CLASS = 0x7468616c

/**
 * One run at a time per target: a session-level advisory lock, held on a connection of its own for the
 * whole run. A session lock ends with its session: when the target restarts (or that connection is cut),
 * the lock is gone while the run's other connections reconnect, and a second run could start. So before
 * each table writes, `ensure()` checks the lock's session and, when it is gone, takes the lock again on a
 * new connection; if another run took it meanwhile, every later `ensure()` fails with RUN_LOCKED.
 */
export class TargetLock {
  private held: HeldConnection | undefined
  private lost = false
  private checking: Promise<void> | undefined
  private takenByOther: TablehaulError | undefined

  constructor(private readonly target: Database) {}

  /** Takes the lock, or fails with RUN_LOCKED naming the run (server pid) that holds it. */
  async take(): Promise<void> {
    const held = await this.target.hold()
    const client = held.client
    let holder: { pid: number; since: Date | null } | undefined
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        `SELECT pg_catalog.pg_try_advisory_lock(${LOCK_CLASS}, pg_catalog.hashtext(pg_catalog.current_database())) AS locked`,
      )
      if (rows[0]?.locked) {
        this.held = held
        this.lost = false
        // The session's end (a restart, a cut connection) arrives as an error or end of this client.
        client.on('error', () => (this.lost = true))
        client.on('end', () => (this.lost = true))
        return
      }
      holder = await client
        .query<{ pid: number; since: Date | null }>(
          `SELECT a.pid, a.backend_start AS since
             FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.classid = ${LOCK_CLASS} AND l.granted
              AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
            LIMIT 1`,
        )
        .then((r) => r.rows[0])
        .catch(() => undefined)
    } catch (error) {
      held.close()
      throw error
    }
    held.close()
    const who = holder
      ? ` (server pid ${holder.pid}${holder.since ? `, since ${holder.since.toISOString()}` : ''})`
      : ''
    throw new TablehaulError('RUN_LOCKED', `another tablehaul run is writing into this target${who}`, {
      hint: "wait for it to finish; two runs into one target would truncate each other's tables",
    })
  }

  /**
   * Before a write: the lock is still held, or taken again. Fails with RUN_LOCKED when another run took it
   * while this one was without it (and from then on), or with the connection's error while the target is
   * still unreachable (a transient failure: the table's retry asks again).
   */
  async ensure(): Promise<void> {
    if (this.takenByOther) throw this.takenByOther
    // Workers ask at once; one check answers them all.
    this.checking ??= this.check().finally(() => (this.checking = undefined))
    await this.checking
  }

  /** Lets the lock go: closing its connection ends the session, which releases it and cannot hang. */
  release(): void {
    this.held?.close()
    this.held = undefined
  }

  private async check(): Promise<void> {
    if (this.held && !this.lost) {
      try {
        await this.held.client.query('SELECT 1')
        return
      } catch {
        this.lost = true
      }
    }
    this.release()
    try {
      await this.take()
    } catch (error) {
      if (!(error instanceof TablehaulError && error.code === 'RUN_LOCKED')) throw error
      this.takenByOther = new TablehaulError(
        'RUN_LOCKED',
        `the run lost its lock on the target (the lock's connection ended: the target restarted or the connection was cut), and ${error.message}; this table was not written`,
        {
          cause: error,
          hint: 'let the other run finish, then run again (--resume copies only what this run did not commit)',
        },
      )
      throw this.takenByOther
    }
  }
}
