import type pg from 'pg'
import { type Database, type HeldConnection, READ_ONLY_SNAPSHOT, isConnectionLost } from '../db/database.js'
import { quoteLiteral } from '../db/table-ref.js'
import { TablehaulError, messageOf, sqlStateOf } from '../errors.js'
import { readUnseen } from './sync/since.js'

/**
 * The run's single point in time on the source. One transaction exports its snapshot
 * (`pg_export_snapshot`) and stays open for the whole run, because PostgreSQL only lets other sessions
 * import a snapshot while the exporting transaction is alive; every source read then runs in a
 * REPEATABLE READ READ ONLY transaction that imports it, so all tables come from the same instant.
 */
/**
 * What a server answers when it cannot export a snapshot at all: not supported (a pooler, a
 * PostgreSQL-compatible server), not in this state (a standby), no such function. Anything else is a
 * real failure, not a reason to give up the run's single point in time.
 */
const CANNOT_EXPORT = new Set(['0A000', '55000', '25001', '42883'])

export class Snapshot {
  private holder: HeldConnection | undefined
  private snapshotId: string | undefined
  private takenAtIso: string | undefined
  private unavailableReason: string | undefined
  private unseenIds: string[] | undefined

  constructor(private readonly source: Database) {}

  /** Starts the holding transaction and exports its snapshot; where the source cannot, notes why and goes on. */
  async open(): Promise<void> {
    this.holder = await this.source.hold()
    await this.read(async (client) => {
      try {
        await this.source.begin(client, { mode: READ_ONLY_SNAPSHOT })
        const { rows } = await client.query<{ id: string; taken_at: Date }>(
          'SELECT pg_catalog.pg_export_snapshot() AS id, pg_catalog.statement_timestamp() AS taken_at',
        )
        this.snapshotId = rows[0]!.id
        this.takenAtIso = rows[0]!.taken_at.toISOString()
        // At once, while the transactions the snapshot saw in progress most likely still are.
        this.unseenIds = await readUnseen(client)
      } catch (error) {
        if (!CANNOT_EXPORT.has(sqlStateOf(error) ?? '')) {
          this.closeHolder()
          throw isConnectionLost(error) ? this.source.connectionError(error) : error
        }
        // Standbys before PostgreSQL 10, some poolers and some PostgreSQL-compatible servers cannot export.
        this.unavailableReason = `the source cannot export a snapshot (${messageOf(error)}); each table is read at its own point in time`
        await client.query('ROLLBACK')
        await this.source.begin(client, { mode: READ_ONLY_SNAPSHOT })
        const { rows } = await client.query<{ taken_at: Date }>(
          'SELECT pg_catalog.statement_timestamp() AS taken_at',
        )
        this.takenAtIso = rows[0]!.taken_at.toISOString()
      }
    })
  }

  /**
   * Runs `work` on the connection inside the holding transaction (catalog reads that must see the
   * snapshot too). A reply that does not come within the statement timeout (plus slack) closes the
   * connection, so that a frozen link fails the run instead of hanging it.
   */
  async read<T>(work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const holder = this.holder
    if (!holder) throw new Error('snapshot is not open')
    return this.source.withinReplyLimit(
      () => work(holder.client),
      () => this.closeHolder(),
    )
  }

  get id(): string | undefined {
    return this.snapshotId
  }

  get takenAt(): string | undefined {
    return this.takenAtIso
  }

  /** The ids the exported snapshot did not see committed, subtransactions included (see since.ts). */
  get unseen(): string[] | undefined {
    return this.snapshotId ? this.unseenIds : undefined
  }

  get unavailable(): string | undefined {
    return this.unavailableReason
  }

  /** Starts a read transaction on `client` that sees exactly the run's snapshot. */
  async begin(client: pg.ClientBase): Promise<void> {
    // A COPY reads as long as the table takes: the copier's watchdog bounds it, not statement_timeout.
    await this.source.begin(client, { mode: READ_ONLY_SNAPSHOT, statementTimeoutMs: 0 })
    if (!this.snapshotId) return
    try {
      await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(this.snapshotId)}`)
    } catch (error) {
      if (isConnectionLost(error)) throw error
      throw new TablehaulError(
        'SNAPSHOT_FAILED',
        `the run's source snapshot can no longer be used: ${messageOf(error)}`,
        {
          cause: error,
          // Its holder's session ended: the source restarted or failed over, an administrator ended it
          // (pg_terminate_backend), or a standby source cancelled it for a conflict with recovery.
          hint: 'the transaction holding it ended (the source restarted, or its session was ended); run again with --resume: it copies only the tables this run did not commit, from a new snapshot',
        },
      )
    }
  }

  /** Ends the holding transaction by closing its connection: it only read, and a COMMIT could wait on a frozen link. */
  async close(): Promise<void> {
    this.closeHolder()
  }

  private closeHolder(): void {
    this.holder?.close()
    this.holder = undefined
  }
}
